//! Reading a model's answer: the fenced code block an edit is made from. Models answer in
//! Markdown, often with words around the code; only a closed fence counts, so an answer cut
//! short by `max_tokens` is refused instead of half-applied.

use super::language::Language;

/// Why an answer holds no code to apply.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    #[error("the model's answer has no fenced code block (```), so there is nothing to apply")]
    NoCodeBlock,
    #[error(
        "the model's code block is not closed (the answer may have been cut short), so nothing was applied"
    )]
    Unclosed,
    #[error("the model's code block is empty, so there is nothing to apply")]
    Empty,
    #[error("the model's code holds no test (no {marker}), so no test was added")]
    NoTests { marker: &'static str },
}

/// One fenced block: its info string's first word and its lines.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Block<'a> {
    tag: &'a str,
    body: String,
}

/// The code of the block an edit is made from: the first whose tag is `language`, else the
/// first untagged one, else the first. Its text ends with a newline.
pub fn code_block(answer: &str, language: Option<Language>) -> Result<String, AnswerError> {
    let blocks = code_blocks(answer, language)?;
    blocks.into_iter().next().ok_or(AnswerError::Empty)
}

/// Every non-empty block, best first: those tagged `language`, then untagged ones, then the
/// rest, each group in the answer's order. `Err` when there is none to choose from.
pub fn code_blocks(answer: &str, language: Option<Language>) -> Result<Vec<String>, AnswerError> {
    let blocks = blocks(answer)?;
    if blocks.is_empty() {
        return Err(AnswerError::NoCodeBlock);
    }
    let rank = |block: &Block<'_>| {
        if language.is_some_and(|language| language.is_tagged(block.tag)) {
            0
        } else if block.tag.is_empty() {
            1
        } else {
            2
        }
    };
    let mut ranked: Vec<&Block<'_>> = blocks
        .iter()
        .filter(|block| !block.body.trim().is_empty())
        .collect();
    if ranked.is_empty() {
        return Err(AnswerError::Empty);
    }
    ranked.sort_by_key(|block| rank(block));
    Ok(ranked.into_iter().map(|block| block.body.clone()).collect())
}

/// Every closed block of the answer, in order; an unclosed last block is an error only when no
/// closed block came before it.
fn blocks(answer: &str) -> Result<Vec<Block<'_>>, AnswerError> {
    let mut blocks = Vec::new();
    let mut open: Option<(&str, usize, char, Block<'_>)> = None;
    for line in answer.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        match &mut open {
            None => {
                if let Some((fence, count)) = fence(trimmed) {
                    let tag = trimmed[count..].split_whitespace().next().unwrap_or("");
                    let block = Block {
                        tag: tag.trim_start_matches('{').trim_end_matches('}'),
                        body: String::new(),
                    };
                    open = Some((&line[..indent], count, fence, block));
                }
            }
            Some((prefix, count, fence_char, block)) => {
                let closes = fence(trimmed).is_some_and(|(c, n)| {
                    c == *fence_char && n >= *count && trimmed[n..].trim().is_empty()
                });
                if closes {
                    let (_, _, _, block) = open.take().expect("a block is open");
                    blocks.push(block);
                } else {
                    // A fence indented inside a list item: its lines carry that indentation.
                    block
                        .body
                        .push_str(line.strip_prefix(*prefix).unwrap_or(line));
                    block.body.push('\n');
                }
            }
        }
    }
    if open.is_some() && blocks.is_empty() {
        return Err(AnswerError::Unclosed);
    }
    Ok(blocks)
}

/// A line that opens or closes a fence: its character and how many of them.
fn fence(line: &str) -> Option<(char, usize)> {
    let first = line.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let count = line.chars().take_while(|c| *c == first).count();
    (count >= 3).then_some((first, count))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::actions::language::language_of;

    fn rust() -> Option<Language> {
        language_of(Path::new("a.rs"))
    }

    #[test]
    fn the_block_in_the_selections_language_is_chosen_over_others() {
        let answer = "Here you go:\n```text\nnot this\n```\n\n```rust\nfn a() {}\n```\nDone.";
        assert_eq!(code_block(answer, rust()), Ok("fn a() {}\n".to_owned()));
    }

    #[test]
    fn without_a_block_in_the_language_the_untagged_one_is_taken() {
        let answer = "```python\nx = 1\n```\n```\nfn a() {}\n```";
        assert_eq!(code_block(answer, rust()), Ok("fn a() {}\n".to_owned()));
        assert_eq!(code_block(answer, None), Ok("fn a() {}\n".to_owned()));
    }

    #[test]
    fn a_block_indented_in_a_list_loses_the_list_indentation_and_keeps_its_own() {
        let answer = "1. Change it:\n   ```rust\n   fn a() {\n       b();\n   }\n   ```\n";
        assert_eq!(
            code_block(answer, rust()),
            Ok("fn a() {\n    b();\n}\n".to_owned())
        );
    }

    #[test]
    fn a_longer_fence_holds_a_shorter_one_inside() {
        let answer = "````md\nUse:\n```\ncode\n```\n````";
        assert_eq!(
            code_block(answer, language_of(Path::new("a.md"))),
            Ok("Use:\n```\ncode\n```\n".to_owned())
        );
    }

    #[test]
    fn prose_without_code_is_refused() {
        assert_eq!(
            code_block("I think the code is fine as it is.", rust()),
            Err(AnswerError::NoCodeBlock)
        );
    }

    #[test]
    fn an_answer_cut_off_inside_its_block_is_refused() {
        assert_eq!(
            code_block("```rust\nfn a() {\n    let x =", rust()),
            Err(AnswerError::Unclosed)
        );
    }

    #[test]
    fn an_empty_block_is_refused() {
        assert_eq!(
            code_block("```rust\n\n```", rust()),
            Err(AnswerError::Empty)
        );
    }

    #[test]
    fn tildes_fence_too_and_a_brace_tag_is_read() {
        assert_eq!(
            code_block("~~~{rust}\nfn a() {}\n~~~", rust()),
            Ok("fn a() {}\n".to_owned())
        );
    }
}
