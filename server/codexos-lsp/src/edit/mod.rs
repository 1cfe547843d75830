//! Positions: LSP line/column (UTF-16 or UTF-8, as negotiated) ⇄ byte offsets and rope indices.
//!
//! Every conversion clamps instead of failing: a column past the end of a line lands at the
//! line's end, a line past the end of the document at the document's end (as the LSP
//! specification asks), so a confused client can never make the server panic.

use codexos_flow::{Encoding, LineCol, LineIndex, TextRange};
use ropey::Rope;
use tower_lsp_server::ls_types::{ClientCapabilities, Position, PositionEncodingKind, Range};

/// The encoding to use with a client: UTF-8 when it offers it (no conversion needed), else
/// UTF-16, the protocol's default that every client supports.
pub fn negotiate_encoding(capabilities: &ClientCapabilities) -> Encoding {
    let offered = capabilities
        .general
        .as_ref()
        .and_then(|general| general.position_encodings.as_ref());
    match offered {
        Some(kinds) if kinds.contains(&PositionEncodingKind::UTF8) => Encoding::Utf8,
        _ => Encoding::Utf16,
    }
}

pub fn encoding_kind(encoding: Encoding) -> PositionEncodingKind {
    match encoding {
        Encoding::Utf8 => PositionEncodingKind::UTF8,
        Encoding::Utf16 => PositionEncodingKind::UTF16,
    }
}

/// A document's text with its line index, seen in the client's encoding.
#[derive(Clone, Copy)]
pub struct Positions<'a> {
    pub text: &'a str,
    pub index: &'a LineIndex,
    pub encoding: Encoding,
}

impl Positions<'_> {
    pub fn position(&self, offset: u32) -> Position {
        let LineCol { line, col } = self.index.line_col(self.text, offset, self.encoding);
        Position::new(line, col)
    }

    pub fn range(&self, range: TextRange) -> Range {
        Range::new(self.position(range.start), self.position(range.end))
    }

    pub fn offset(&self, position: Position) -> u32 {
        let line_col = LineCol {
            line: position.line,
            col: position.character,
        };
        self.index.offset(self.text, line_col, self.encoding)
    }

    /// A byte range for an LSP range; a reversed range is put in order.
    pub fn text_range(&self, range: Range) -> TextRange {
        let (a, b) = (self.offset(range.start), self.offset(range.end));
        TextRange::new(a.min(b), a.max(b))
    }

    /// The range that covers the whole document.
    pub fn whole(&self) -> Range {
        self.range(TextRange::new(0, self.text.len() as u32))
    }
}

/// The char index in `rope` of an LSP position, clamped like [`LineIndex::offset`]: the same
/// text gives the same place whether it is held as a rope or as a string.
pub fn rope_char_index(rope: &Rope, position: Position, encoding: Encoding) -> usize {
    let line_number = position.line as usize;
    if line_number >= rope.len_lines() {
        return rope.len_chars();
    }
    let line_start = rope.line_to_char(line_number);
    let line = rope.line(line_number);
    let mut content = line.len_chars();
    if content > 0 && line.char(content - 1) == '\n' {
        content -= 1;
    }
    if content > 0 && line.char(content - 1) == '\r' {
        content -= 1;
    }
    let mut remaining = position.character as usize;
    for (index, ch) in line.chars().take(content).enumerate() {
        let width = match encoding {
            Encoding::Utf8 => ch.len_utf8(),
            Encoding::Utf16 => ch.len_utf16(),
        };
        if remaining < width {
            return line_start + index;
        }
        remaining -= width;
    }
    line_start + content
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn positions(text: &str, index: &LineIndex, encoding: Encoding) -> Vec<(u32, Position)> {
        let view = Positions {
            text,
            index,
            encoding,
        };
        text.char_indices()
            .map(|(offset, _)| offset as u32)
            .chain([text.len() as u32])
            .map(|offset| (offset, view.position(offset)))
            .collect()
    }

    #[test]
    fn multi_byte_characters_count_as_the_encoding_says() {
        let text = "é😀中x\nab";
        let index = LineIndex::new(text);
        let x = text.find('x').map_or(0, |i| i as u32);
        let utf16 = Positions {
            text,
            index: &index,
            encoding: Encoding::Utf16,
        };
        let utf8 = Positions {
            encoding: Encoding::Utf8,
            ..utf16
        };
        assert_eq!(utf16.position(x), Position::new(0, 4));
        assert_eq!(utf8.position(x), Position::new(0, 9));
        assert_eq!(utf16.offset(Position::new(0, 4)), x);
        assert_eq!(utf8.offset(Position::new(0, 9)), x);
    }

    #[test]
    fn positions_past_the_end_are_clamped() {
        let text = "ab\r\ncd";
        let index = LineIndex::new(text);
        let view = Positions {
            text,
            index: &index,
            encoding: Encoding::Utf16,
        };
        assert_eq!(view.offset(Position::new(0, 99)), 2);
        assert_eq!(view.offset(Position::new(7, 3)), 6);
        assert_eq!(view.position(999), Position::new(1, 2));
        let rope = Rope::from_str(text);
        assert_eq!(
            rope_char_index(&rope, Position::new(0, 99), Encoding::Utf16),
            2
        );
        assert_eq!(
            rope_char_index(&rope, Position::new(u32::MAX, 0), Encoding::Utf16),
            6
        );
    }

    #[test]
    fn a_column_inside_a_surrogate_pair_lands_before_the_pair() {
        let text = "😀x";
        let rope = Rope::from_str(text);
        assert_eq!(
            rope_char_index(&rope, Position::new(0, 1), Encoding::Utf16),
            0
        );
        assert_eq!(
            rope_char_index(&rope, Position::new(0, 2), Encoding::Utf16),
            1
        );
    }

    fn text_strategy() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just('a'),
                Just('é'),
                Just('😀'),
                Just('中'),
                Just('\n'),
                Just('\r'),
                Just(' '),
            ],
            0..60,
        )
        .prop_map(|chars| chars.into_iter().collect())
    }

    fn encoding_strategy() -> impl Strategy<Value = Encoding> {
        prop_oneof![Just(Encoding::Utf8), Just(Encoding::Utf16)]
    }

    proptest! {
        #[test]
        fn offsets_round_trip_through_positions(text in text_strategy(), encoding in encoding_strategy()) {
            let index = LineIndex::new(&text);
            let view = Positions { text: &text, index: &index, encoding };
            for (offset, position) in positions(&text, &index, encoding) {
                // Right after a `\r` that ends a line (before `\n` or at the very end) is no
                // LSP position: the line's content ends before the `\r`.
                let after_line_ending_cr = offset > 0
                    && text.as_bytes()[offset as usize - 1] == b'\r'
                    && matches!(text.as_bytes().get(offset as usize), Some(b'\n') | None);
                if !after_line_ending_cr {
                    prop_assert_eq!(view.offset(position), offset, "position {:?}", position);
                }
            }
        }

        #[test]
        fn the_rope_and_the_line_index_agree_on_every_position(
            text in text_strategy(),
            encoding in encoding_strategy(),
            line in 0u32..12,
            character in 0u32..30,
        ) {
            let index = LineIndex::new(&text);
            let view = Positions { text: &text, index: &index, encoding };
            let rope = Rope::from_str(&text);
            let position = Position::new(line, character);
            let from_rope = rope.char_to_byte(rope_char_index(&rope, position, encoding));
            prop_assert_eq!(from_rope as u32, view.offset(position));
        }

        #[test]
        fn any_position_maps_to_a_char_boundary_inside_the_text(
            text in text_strategy(),
            encoding in encoding_strategy(),
            line in 0u32..u32::MAX,
            character in 0u32..u32::MAX,
        ) {
            let index = LineIndex::new(&text);
            let view = Positions { text: &text, index: &index, encoding };
            let offset = view.offset(Position::new(line % 16, character % 64)) as usize;
            prop_assert!(text.is_char_boundary(offset));
            let offset = view.offset(Position::new(line, character)) as usize;
            prop_assert!(text.is_char_boundary(offset));
        }
    }
}
