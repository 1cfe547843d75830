//! Code-aware words: identifiers and the parts they are made of.
//!
//! `parseHttpRequest`, `parse_http_request` and `ParseHTTPRequest` all yield the parts
//! `parse`, `http`, `request`, so a query in plain words meets code written in any case style,
//! while the whole identifier is still there for exact matches.

/// The identifier-like runs of `text`: letters, digits and `_`, in order. Anything else
/// (punctuation, operators, whitespace) separates them. Runs made only of `_` are skipped.
pub fn identifiers(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|run| run.chars().any(|c| c != '_'))
}

/// The parts of one identifier, split at `_`, at lower→upper case changes (`parseHttp`), before the
/// last capital of a capital run followed by lower case (`HTTPServer` → `HTTP`, `Server`), and
/// between letters and digits (`utf8` → `utf`, `8`). Parts keep their original case.
pub fn identifier_parts(identifier: &str) -> IdentifierParts<'_> {
    IdentifierParts { rest: identifier }
}

/// Iterator returned by [`identifier_parts`].
pub struct IdentifierParts<'a> {
    rest: &'a str,
}

impl<'a> Iterator for IdentifierParts<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let trimmed = self.rest.trim_start_matches('_');
        if trimmed.is_empty() {
            self.rest = trimmed;
            return None;
        }
        let mut chars = trimmed.char_indices().peekable();
        let mut end = trimmed.len();
        let mut previous: Option<char> = None;
        while let Some((index, c)) = chars.next() {
            if c == '_' {
                end = index;
                break;
            }
            if let Some(before) = previous {
                let next = chars.peek().map(|&(_, next)| next);
                let boundary = (before.is_lowercase() && c.is_uppercase())
                    || (before.is_uppercase()
                        && c.is_uppercase()
                        && next.is_some_and(char::is_lowercase))
                    || (before.is_ascii_digit() != c.is_ascii_digit());
                if boundary {
                    end = index;
                    break;
                }
            }
            previous = Some(c);
        }
        let (part, rest) = trimmed.split_at(end);
        self.rest = rest;
        Some(part)
    }
}

/// Words so common in code and prose that they say little about what a chunk is about.
const COMMON_WORDS: &[&str] = &[
    "a", "an", "and", "as", "at", "be", "by", "def", "else", "fn", "for", "from", "if", "impl",
    "import", "in", "is", "it", "let", "mut", "none", "not", "of", "on", "or", "pub", "return",
    "self", "the", "this", "to", "use", "with",
];

/// How much a lowercase word counts towards what a text is about: keywords and the commonest
/// English words count a fifth of any other word.
pub fn word_weight(lowercase_word: &str) -> f32 {
    if COMMON_WORDS.contains(&lowercase_word) {
        0.2
    } else {
        1.0
    }
}

/// Lowercases `word` into `buffer` (cleared first), without allocating for ASCII words.
pub fn lowercase_into(word: &str, buffer: &mut String) {
    buffer.clear();
    if word.is_ascii() {
        buffer.push_str(word);
        buffer.make_ascii_lowercase();
    } else {
        buffer.extend(word.chars().flat_map(char::to_lowercase));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(identifier: &str) -> Vec<&str> {
        identifier_parts(identifier).collect()
    }

    #[test]
    fn identifiers_are_split_in_every_case_style() {
        assert_eq!(parts("parse_http_request"), ["parse", "http", "request"]);
        assert_eq!(parts("parseHttpRequest"), ["parse", "Http", "Request"]);
        assert_eq!(parts("ParseHTTPRequest"), ["Parse", "HTTP", "Request"]);
        assert_eq!(parts("__init__"), ["init"]);
        assert_eq!(parts("utf8_decode"), ["utf", "8", "decode"]);
        assert_eq!(parts("MAX_SIZE"), ["MAX", "SIZE"]);
        assert_eq!(parts("x"), ["x"]);
        assert_eq!(parts("ÉtéÀPlage"), ["Été", "À", "Plage"]);
    }

    #[test]
    fn identifiers_are_runs_between_punctuation() {
        let found: Vec<&str> =
            identifiers("fn main() { let x_1 = self.foo::<Bar>(__); }").collect();
        assert_eq!(found, ["fn", "main", "let", "x_1", "self", "foo", "Bar"]);
    }
}
