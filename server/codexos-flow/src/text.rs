//! Byte ranges and line/column conversion.
//!
//! Everything inside this crate speaks byte offsets; the edges (LSP, CLI) convert them with
//! [`LineIndex`] into the encoding their client negotiated.

use std::fmt;
use std::ops::Range;

/// A half-open byte range `[start, end)` into a document's text.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct TextRange {
    pub start: u32,
    pub end: u32,
}

impl TextRange {
    pub fn new(start: u32, end: u32) -> TextRange {
        debug_assert!(start <= end);
        TextRange { start, end }
    }

    pub fn empty(at: u32) -> TextRange {
        TextRange { start: at, end: at }
    }

    pub fn len(self) -> u32 {
        self.end - self.start
    }

    pub fn is_empty(self) -> bool {
        self.start == self.end
    }

    /// Whether `offset` lies inside the range, counting the end (a cursor right after a token
    /// is still "on" it).
    pub fn touches(self, offset: u32) -> bool {
        self.start <= offset && offset <= self.end
    }

    pub fn contains_range(self, other: TextRange) -> bool {
        self.start <= other.start && other.end <= self.end
    }

    pub fn as_usize(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

impl fmt::Debug for TextRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// How a client counts columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Utf16,
}

/// A zero-based line and column, the column counted in the given [`Encoding`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LineCol {
    pub line: u32,
    pub col: u32,
}

/// Line starts of one text, for offset ⇄ line/column conversion in O(log lines).
#[derive(Clone, Debug)]
pub struct LineIndex {
    line_starts: Vec<u32>,
    len: u32,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut line_starts = vec![0];
        line_starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i as u32 + 1),
        );
        LineIndex {
            line_starts,
            len: text.len() as u32,
        }
    }

    pub fn line_count(&self) -> u32 {
        self.line_starts.len() as u32
    }

    /// The line and column of a byte offset. An offset past the end is clamped to the end; an
    /// offset inside a multi-byte character is moved back to the character's start.
    pub fn line_col(&self, text: &str, offset: u32, encoding: Encoding) -> LineCol {
        let offset = floor_char_boundary(text, offset.min(self.len));
        let line = self.line_starts.partition_point(|&start| start <= offset) - 1;
        let line_start = self.line_starts[line];
        let prefix = &text[line_start as usize..offset as usize];
        let col = match encoding {
            Encoding::Utf8 => prefix.len() as u32,
            Encoding::Utf16 => prefix.encode_utf16().count() as u32,
        };
        LineCol {
            line: line as u32,
            col,
        }
    }

    /// The byte offset of a line and column. Positions past the end of a line are clamped to the
    /// line's end (before its newline) and lines past the end of the text to the text's end, as
    /// the LSP specification asks; a column inside a UTF-16 surrogate pair lands before the pair.
    pub fn offset(&self, text: &str, pos: LineCol, encoding: Encoding) -> u32 {
        let Some(&line_start) = self.line_starts.get(pos.line as usize) else {
            return self.len;
        };
        let line_end = self
            .line_starts
            .get(pos.line as usize + 1)
            .map_or(self.len, |&next| next - 1);
        let line = &text[line_start as usize..line_end as usize];
        let line = line.strip_suffix('\r').unwrap_or(line);
        let mut remaining = pos.col as usize;
        for (byte, ch) in line.char_indices() {
            let width = match encoding {
                Encoding::Utf8 => ch.len_utf8(),
                Encoding::Utf16 => ch.len_utf16(),
            };
            if remaining < width {
                return line_start + byte as u32;
            }
            remaining -= width;
        }
        line_start + line.len() as u32
    }
}

fn floor_char_boundary(text: &str, mut offset: u32) -> u32 {
    while !text.is_char_boundary(offset as usize) {
        offset -= 1;
    }
    offset
}
