//! The chunker's cheap token estimate.
//!
//! A "token" here approximates what a BPE tokenizer makes of source code without running
//! one: every run of word bytes (ASCII letters, digits, `_`, and any non-ASCII byte) counts
//! one token per started 4 bytes (`fn` = 1, `chunk_config` = 3), every other visible byte
//! (punctuation, operators, quotes) counts 1, and whitespace counts 0. It is within a few
//! tens of percent of real tokenizers on code and prose, costs one pass over the bytes, and
//! is additive, so the count of any byte range comes from a small prefix table.

/// How often the prefix table stores a running total; a count scans at most this many bytes.
const BLOCK: usize = 64;
/// Bytes of a word run that make up one token.
pub(crate) const WORD_BYTES_PER_TOKEN: usize = 4;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ByteClass {
    Space,
    Word,
    Punct,
}

pub(crate) fn class_of(byte: u8) -> ByteClass {
    match byte {
        b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => ByteClass::Space,
        b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | b'_' | 0x80..=0xff => ByteClass::Word,
        _ => ByteClass::Punct,
    }
}

/// Whitespace, for the estimate and for trimming chunks alike.
pub(crate) fn is_blank(byte: u8) -> bool {
    class_of(byte) == ByteClass::Space
}

/// Token count of a standalone string (a new word run starts at its first byte).
pub fn estimate_tokens(text: &str) -> usize {
    let mut scanner = Scanner::default();
    text.bytes().map(|byte| scanner.step(byte)).sum()
}

/// Walks bytes left to right, knowing where in a word run it is.
#[derive(Clone, Copy, Default)]
struct Scanner {
    /// Position inside the current word run modulo [`WORD_BYTES_PER_TOKEN`]; 0 outside a run.
    run_offset: u8,
    in_word: bool,
}

impl Scanner {
    /// The tokens this byte adds.
    fn step(&mut self, byte: u8) -> usize {
        match class_of(byte) {
            ByteClass::Space => {
                self.in_word = false;
                0
            }
            ByteClass::Punct => {
                self.in_word = false;
                1
            }
            ByteClass::Word => {
                let offset = if self.in_word { self.run_offset } else { 0 };
                self.in_word = true;
                self.run_offset = (offset + 1) % WORD_BYTES_PER_TOKEN as u8;
                usize::from(offset == 0)
            }
        }
    }
}

/// Token counts of arbitrary byte ranges of one text in O([`BLOCK`]) each.
pub(crate) struct TokenIndex<'a> {
    bytes: &'a [u8],
    /// Tokens before the start of each block, and the scanner state there.
    checkpoints: Vec<(usize, Scanner)>,
}

impl<'a> TokenIndex<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let bytes = text.as_bytes();
        let mut checkpoints = Vec::with_capacity(bytes.len() / BLOCK + 1);
        let mut scanner = Scanner::default();
        let mut total = 0;
        for block in bytes.chunks(BLOCK) {
            checkpoints.push((total, scanner));
            total += block.iter().map(|&byte| scanner.step(byte)).sum::<usize>();
        }
        checkpoints.push((total, scanner));
        Self { bytes, checkpoints }
    }

    /// Tokens in `bytes[..position]`.
    fn before(&self, position: usize) -> usize {
        let position = position.min(self.bytes.len());
        let block = position / BLOCK;
        let (total, mut scanner) = self.checkpoints[block];
        total
            + self.bytes[block * BLOCK..position]
                .iter()
                .map(|&byte| scanner.step(byte))
                .sum::<usize>()
    }

    /// Tokens in `bytes[start..end]` (a word run cut by `start` keeps its count from its real start).
    pub(crate) fn count(&self, start: usize, end: usize) -> usize {
        if end <= start {
            return 0;
        }
        self.before(end) - self.before(start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_count_one_token_per_four_bytes_and_punctuation_one_each() {
        assert_eq!(estimate_tokens("fn main() {}"), 1 + 1 + 4);
        assert_eq!(estimate_tokens("chunk_config"), 3);
        assert_eq!(estimate_tokens("   \n\t "), 0);
        assert_eq!(estimate_tokens("a.b"), 3);
    }

    #[test]
    fn range_counts_agree_with_counting_each_range_alone() {
        let text = "fn long_function_name(argument: &str) -> usize { argument.len() }\n".repeat(20);
        let index = TokenIndex::new(&text);
        let line = text.len() / 20;
        for start in (0..text.len()).step_by(line) {
            for end in (start..=text.len()).step_by(line) {
                assert_eq!(index.count(start, end), estimate_tokens(&text[start..end]));
            }
        }
        assert_eq!(index.count(0, text.len()), estimate_tokens(&text));
    }
}
