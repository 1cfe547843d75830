//! Lines of a text: byte → line lookups and line-sized units for packing and windows.

use crate::tokens::{ByteClass, TokenIndex, WORD_BYTES_PER_TOKEN, class_of};

/// Start byte of every line, for byte → line lookups.
pub(crate) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub(crate) fn new(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(
                text.bytes()
                    .enumerate()
                    .filter(|&(_, byte)| byte == b'\n')
                    .map(|(at, _)| at + 1),
            )
            .collect();
        Self { starts }
    }

    /// 1-based number of the line holding `byte`.
    pub(crate) fn line_of(&self, byte: usize) -> usize {
        self.starts.partition_point(|&start| start <= byte)
    }

    /// Start of the line holding `byte`, and the end of that line (after its `\n`, or the
    /// end of the text `len`).
    pub(crate) fn line_bounds(&self, byte: usize, len: usize) -> (usize, usize) {
        let line = self.line_of(byte);
        (
            self.starts[line - 1],
            self.starts.get(line).copied().unwrap_or(len),
        )
    }

    /// 1-based inclusive line numbers of a non-empty byte range.
    pub(crate) fn lines_of(&self, start: usize, end: usize) -> (usize, usize) {
        (self.line_of(start), self.line_of(end.max(start + 1) - 1))
    }
}

/// A contiguous byte range with its token count: a line, or a slice of an overlong line.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Unit {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) tokens: usize,
}

/// Cuts `text[start..end]` into its lines (each keeping its `\n`), slicing any line of more
/// than `limit` tokens into pieces of at most `limit` tokens. Slices fall between tokens,
/// except inside a single word run longer than `limit` tokens (base64, minified names),
/// which is cut at a character boundary: the one place a unit may split a token, so that a
/// 50 MB single-line file still yields bounded units.
pub(crate) fn line_units(
    text: &str,
    tokens: &TokenIndex,
    start: usize,
    end: usize,
    limit: usize,
) -> Vec<Unit> {
    let limit = limit.max(1);
    let bytes = text.as_bytes();
    let mut units = Vec::new();
    let mut line_start = start;
    while line_start < end {
        let line_end =
            memchr_newline(&bytes[line_start..end]).map_or(end, |at| line_start + at + 1);
        let line_tokens = tokens.count(line_start, line_end);
        if line_tokens <= limit {
            units.push(Unit {
                start: line_start,
                end: line_end,
                tokens: line_tokens,
            });
        } else {
            slice_long_line(text, line_start, line_end, limit, &mut units);
        }
        line_start = line_end;
    }
    units
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&byte| byte == b'\n')
}

/// Slices one overlong line into units of at most `limit` tokens, each starting where a
/// token starts; a word run is moved whole into the next unit unless it alone is too long.
fn slice_long_line(text: &str, start: usize, end: usize, limit: usize, units: &mut Vec<Unit>) {
    let bytes = text.as_bytes();
    let mut unit_start = start;
    let mut unit_tokens = 0;
    let mut run_length = 0;
    let mut run_start = start;
    let mut tokens_before_run = 0;
    for (at, &byte) in bytes.iter().enumerate().take(end).skip(start) {
        let class = class_of(byte);
        if class == ByteClass::Word && run_length == 0 {
            run_start = at;
            tokens_before_run = unit_tokens;
        }
        let adds = match class {
            ByteClass::Space => 0,
            ByteClass::Punct => 1,
            ByteClass::Word => usize::from(run_length % WORD_BYTES_PER_TOKEN == 0),
        };
        if adds == 1 && unit_tokens + adds > limit && at > unit_start {
            let inside_run = class == ByteClass::Word && run_length > 0;
            let (cut, cut_tokens) = if !inside_run {
                (at, unit_tokens)
            } else if run_start > unit_start {
                (run_start, tokens_before_run)
            } else {
                (floor_char_boundary(text, at), unit_tokens)
            };
            units.push(Unit {
                start: unit_start,
                end: cut,
                tokens: cut_tokens,
            });
            unit_start = cut;
            unit_tokens -= cut_tokens;
            tokens_before_run = 0;
        }
        unit_tokens += adds;
        run_length = if class == ByteClass::Word {
            run_length + 1
        } else {
            0
        };
    }
    if end > unit_start {
        units.push(Unit {
            start: unit_start,
            end,
            tokens: unit_tokens,
        });
    }
}

pub(crate) fn floor_char_boundary(text: &str, mut at: usize) -> usize {
    while at > 0 && !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_numbers_are_one_based_and_inclusive() {
        let lines = LineIndex::new("a\nbb\n\nc");
        assert_eq!(lines.lines_of(0, 2), (1, 1));
        assert_eq!(lines.lines_of(2, 5), (2, 2));
        assert_eq!(lines.lines_of(0, 7), (1, 4));
        assert_eq!(lines.line_of(6), 4);
    }

    #[test]
    fn an_overlong_line_is_sliced_between_tokens_into_bounded_units() {
        let text = "alpha(beta, gamma); ".repeat(100);
        let tokens = TokenIndex::new(&text);
        let units = line_units(&text, &tokens, 0, text.len(), 30);
        assert!(units.len() > 1);
        assert!(units.iter().all(|unit| unit.tokens <= 30));
        assert_eq!(
            units
                .iter()
                .map(|unit| unit.end - unit.start)
                .sum::<usize>(),
            text.len()
        );
        for unit in &units {
            assert!(matches!(
                text.as_bytes()[unit.start],
                b'a' | b'b' | b'g' | b'(' | b',' | b' ' | b')' | b';'
            ));
            assert_eq!(unit.tokens, tokens.count(unit.start, unit.end));
        }
    }

    #[test]
    fn a_huge_word_is_cut_at_character_boundaries() {
        let text = "é".repeat(1000);
        let tokens = TokenIndex::new(&text);
        let units = line_units(&text, &tokens, 0, text.len(), 10);
        assert!(units.len() > 1);
        assert!(
            units
                .iter()
                .all(|unit| text.is_char_boundary(unit.start) && unit.tokens <= 10)
        );
    }
}
