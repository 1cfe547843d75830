//! The code-aware tokenizer shared by indexing and querying, so both sides agree on terms.
//!
//! Words are runs of letters, digits and `_`. An identifier is split at `_` and at
//! camelCase humps (`parseHTTPHeader` → `parse`, `http`, `header`); the whole identifier,
//! lowercased without its `_`-edges, is kept as a term too when it had several parts, so an
//! exact identifier in a query scores above its scattered parts. Parts are lowercased, short
//! (one letter) parts and English stop words dropped, and plurals lightly stemmed.

/// Calls `emit(term, byte_start, byte_end)` for every term of `text`, in order.
///
/// Code is mostly ASCII: an ASCII word is split and lowercased byte by byte, and only a word
/// with another character in it takes the Unicode path (the same terms either way: for ASCII,
/// Unicode's letters, digits, case and lowercase are ASCII's). Indexing spends a tenth of its
/// time here.
pub fn for_each_term(text: &str, mut emit: impl FnMut(&str, usize, usize)) {
    let mut scratch = String::new();
    let mut parts: Vec<(usize, usize)> = Vec::new();
    let bytes = text.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        let (is_word, width) = word_char_at(text, index);
        if !is_word {
            index += width;
            continue;
        }
        let start = index;
        let mut ascii = true;
        while index < bytes.len() {
            let (is_word, width) = word_char_at(text, index);
            if !is_word {
                break;
            }
            ascii &= width == 1;
            index += width;
        }
        let word = &text[start..index];
        parts.clear();
        if ascii {
            split_ascii_parts(word.as_bytes(), &mut parts);
        } else {
            split_parts(word, &mut parts);
        }
        let lowercase_into = |scratch: &mut String, text: &str| {
            scratch.clear();
            if ascii {
                scratch.push_str(text);
                scratch.make_ascii_lowercase();
            } else {
                scratch.extend(text.chars().flat_map(char::to_lowercase));
            }
        };
        let trimmed = word.trim_matches('_');
        if parts.len() > 1 && trimmed.len() > 2 {
            lowercase_into(&mut scratch, trimmed);
            emit(&scratch, start, index);
        }
        for &(part_start, part_end) in &parts {
            let part = &word[part_start..part_end];
            let short = match ascii {
                true => part.len() < 2,
                false => part.chars().count() < 2,
            };
            if short {
                continue;
            }
            lowercase_into(&mut scratch, part);
            if is_stop_word(&scratch) {
                continue;
            }
            stem_in_place(&mut scratch);
            emit(&scratch, start + part_start, start + part_end);
        }
    }
}

/// Whether the character at byte `index` of `text` is part of a word, and its width in bytes.
#[inline]
fn word_char_at(text: &str, index: usize) -> (bool, usize) {
    let byte = text.as_bytes()[index];
    if byte.is_ascii() {
        return (byte == b'_' || byte.is_ascii_alphanumeric(), 1);
    }
    match text[index..].chars().next() {
        Some(character) => (is_word_char(character), character.len_utf8()),
        None => (false, 1),
    }
}

/// [`split_parts`] for an ASCII word, without decoding characters.
fn split_ascii_parts(word: &[u8], parts: &mut Vec<(usize, usize)>) {
    let class = |byte: u8| {
        if byte.is_ascii_digit() {
            Class::Digit
        } else if byte.is_ascii_uppercase() {
            Class::Upper
        } else {
            Class::Lower
        }
    };
    let run = |from: usize, wanted: Class| {
        let mut end = from;
        while end < word.len() && word[end] != b'_' && class(word[end]) == wanted {
            end += 1;
        }
        end
    };
    let mut position = 0;
    while position < word.len() {
        let byte = word[position];
        if byte == b'_' {
            position += 1;
            continue;
        }
        let mut end = run(position + 1, class(byte));
        if class(byte) == Class::Upper
            && end < word.len()
            && word[end] != b'_'
            && class(word[end]) == Class::Lower
        {
            if end - position > 1 {
                // `HTTPHeader`: `HTTP`, then `Header` starts at the last capital.
                end -= 1;
            } else {
                end = run(end, Class::Lower);
            }
        }
        parts.push((position, end));
        position = end;
    }
}

/// The terms of `text` (see [`for_each_term`]).
pub fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for_each_term(text, |term, _, _| out.push(term.to_owned()));
    out
}

fn is_word_char(character: char) -> bool {
    character == '_' || character.is_alphanumeric()
}

#[derive(Clone, Copy, PartialEq)]
enum Class {
    Upper,
    Lower,
    Digit,
}

fn class_of(character: char) -> Class {
    if character.is_ascii_digit() {
        Class::Digit
    } else if character.is_uppercase() {
        Class::Upper
    } else {
        Class::Lower
    }
}

/// Splits one identifier into byte ranges: at `_`, between letters and digits, and at
/// camel humps (`[A-Z]+(?![a-z]) | [A-Z]?[a-z]+ | [0-9]+`).
fn split_parts(word: &str, parts: &mut Vec<(usize, usize)>) {
    let chars: Vec<(usize, char)> = word.char_indices().collect();
    let mut position = 0;
    while position < chars.len() {
        let (start, character) = chars[position];
        if character == '_' {
            position += 1;
            continue;
        }
        let class = class_of(character);
        let mut end = position + 1;
        match class {
            Class::Digit => {
                while end < chars.len()
                    && class_of(chars[end].1) == Class::Digit
                    && chars[end].1 != '_'
                {
                    end += 1;
                }
            }
            Class::Lower => {
                while end < chars.len()
                    && chars[end].1 != '_'
                    && class_of(chars[end].1) == Class::Lower
                {
                    end += 1;
                }
            }
            Class::Upper => {
                while end < chars.len()
                    && chars[end].1 != '_'
                    && class_of(chars[end].1) == Class::Upper
                {
                    end += 1;
                }
                let followed_by_lower = end < chars.len()
                    && chars[end].1 != '_'
                    && class_of(chars[end].1) == Class::Lower;
                if followed_by_lower {
                    if end - position > 1 {
                        // `HTTPHeader`: `HTTP`, then `Header` starts at the last capital.
                        end -= 1;
                    } else {
                        while end < chars.len()
                            && chars[end].1 != '_'
                            && class_of(chars[end].1) == Class::Lower
                        {
                            end += 1;
                        }
                    }
                }
            }
        }
        let byte_end = chars.get(end).map_or(word.len(), |&(offset, _)| offset);
        parts.push((start, byte_end));
        position = end;
    }
}

fn is_stop_word(word: &str) -> bool {
    const STOP: &[&str] = &[
        "a", "also", "an", "and", "are", "as", "at", "be", "been", "but", "by", "can", "could",
        "did", "do", "does", "for", "from", "had", "has", "have", "how", "if", "in", "into", "is",
        "it", "its", "may", "more", "must", "no", "not", "of", "on", "or", "should", "so", "such",
        "that", "the", "their", "then", "there", "these", "this", "those", "to", "too", "use",
        "used", "uses", "using", "via", "was", "we", "were", "when", "where", "which", "while",
        "will", "with", "would", "you", "your",
    ];
    STOP.binary_search(&word).is_ok()
}

/// Light plural stemming: `queries` → `query`, `matches` → `match`, `files` → `file`.
fn stem_in_place(word: &mut String) {
    if word.len() <= 3 || !word.is_ascii() {
        return;
    }
    if word.ends_with("ies") && word.len() > 4 {
        word.truncate(word.len() - 3);
        word.push('y');
    } else if word.ends_with("sses")
        || word.ends_with("ches")
        || word.ends_with("shes")
        || word.ends_with("xes")
    {
        word.truncate(word.len() - 2);
    } else if word.ends_with('s')
        && !(word.ends_with("ss") || word.ends_with("us") || word.ends_with("is"))
    {
        word.truncate(word.len() - 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_split_at_underscores_and_camel_humps_and_keep_the_whole() {
        expect_test::expect![[r#"["parse_http_headers", "parse", "http", "header", "parsehttpheader", "parse", "http", "header", "file"]"#]]
            .assert_eq(&format!("{:?}", terms("parse_http_headers(parseHTTPHeader) v2 the files")));
    }

    #[test]
    fn stop_words_are_sorted_for_binary_search() {
        assert!(
            is_stop_word("the")
                && is_stop_word("your")
                && is_stop_word("a")
                && !is_stop_word("file")
        );
    }

    /// The Unicode path, word by word: what the ASCII path must equal.
    fn terms_by_unicode(text: &str) -> Vec<(String, usize, usize)> {
        let mut out = Vec::new();
        let mut index = 0;
        while index < text.len() {
            let Some(character) = text[index..].chars().next() else {
                break;
            };
            if !is_word_char(character) {
                index += character.len_utf8();
                continue;
            }
            let start = index;
            while let Some(next) = text[index..].chars().next()
                && is_word_char(next)
            {
                index += next.len_utf8();
            }
            let word = &text[start..index];
            let mut parts = Vec::new();
            split_parts(word, &mut parts);
            let trimmed = word.trim_matches('_');
            if parts.len() > 1 && trimmed.len() > 2 {
                out.push((trimmed.to_lowercase(), start, index));
            }
            for (part_start, part_end) in parts {
                let part = &word[part_start..part_end];
                let mut lower = part.to_lowercase();
                if part.chars().count() < 2 || is_stop_word(&lower) {
                    continue;
                }
                stem_in_place(&mut lower);
                out.push((lower, start + part_start, start + part_end));
            }
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn the_ascii_path_gives_the_terms_the_unicode_path_gives(
            text in "([A-Za-z0-9_ .(){}:é]|HTTP|Header|ies|the|_x){0,40}"
        ) {
            let mut fast = Vec::new();
            for_each_term(&text, |term, start, end| fast.push((term.to_owned(), start, end)));
            proptest::prop_assert_eq!(fast, terms_by_unicode(&text));
        }
    }

    #[test]
    fn non_ascii_words_are_kept_whole() {
        assert_eq!(terms("größe ÜBER"), vec!["größe", "über"]);
    }
}
