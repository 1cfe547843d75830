use std::fmt::Write;
use std::path::Path;

use codexos_chunk::{Chunk, ChunkConfig, Chunker};
use expect_test::Expect;

pub fn chunker() -> Chunker {
    Chunker::new(ChunkConfig::default())
        .expect("the default config and built-in grammars are valid")
}

/// A chunker with small limits, so small fixtures show splitting and merging.
pub fn small_chunker(max_tokens: usize, min_tokens: usize) -> Chunker {
    let config = ChunkConfig {
        max_tokens,
        min_tokens,
        ..ChunkConfig::default()
    };
    Chunker::new(config).expect("a valid config")
}

pub fn chunk(chunker: &Chunker, path: &str, text: &str) -> Vec<Chunk> {
    chunker
        .chunk(Path::new(path), text)
        .expect("fixtures are under the size limit")
}

/// One line per chunk: `lines kind symbol (tokens) | first line of text`, then the symbols
/// the chunk lists, indented.
pub fn render(chunks: &[Chunk]) -> String {
    let mut out = String::new();
    for chunk in chunks {
        let first_line = chunk.text.lines().next().unwrap_or_default();
        writeln!(
            out,
            "{}-{} {} `{}` ({}) | {}",
            chunk.start_line, chunk.end_line, chunk.kind, chunk.symbol, chunk.tokens, first_line
        )
        .unwrap();
        for symbol in &chunk.symbols {
            writeln!(
                out,
                "    {} {} {}-{}",
                symbol.kind, symbol.symbol, symbol.start_line, symbol.end_line
            )
            .unwrap();
        }
    }
    out
}

pub fn check(chunker: &Chunker, path: &str, text: &str, expect: Expect) {
    let chunks = chunk(chunker, path, text);
    assert_well_formed(text, &chunks);
    expect.assert_eq(&render(&chunks));
}

/// The invariants every chunking must keep (see the crate docs).
pub fn assert_well_formed(text: &str, chunks: &[Chunk]) {
    let windows = chunks
        .iter()
        .any(|chunk| chunk.kind == codexos_chunk::ChunkKind::Window);
    let newlines: Vec<usize> = text
        .bytes()
        .enumerate()
        .filter(|&(_, byte)| byte == b'\n')
        .map(|(at, _)| at)
        .collect();
    let line_of = |byte: usize| newlines.partition_point(|&newline| newline < byte) + 1;
    let mut previous: Option<&Chunk> = None;
    for chunk in chunks {
        let range = chunk.byte_range.clone();
        assert!(
            range.start < range.end && range.end <= text.len(),
            "empty or out-of-bounds chunk {range:?}"
        );
        assert!(
            text.is_char_boundary(range.start) && text.is_char_boundary(range.end),
            "{range:?} cuts a char"
        );
        assert_eq!(chunk.text, text[range.clone()]);
        if let Some(previous) = previous {
            let before = previous.byte_range.clone();
            if windows {
                assert!(
                    range.start > before.start && range.end > before.end,
                    "windows {before:?} then {range:?}"
                );
            } else {
                assert!(
                    range.start >= before.end,
                    "chunk {range:?} overlaps the one before, {before:?}"
                );
            }
        }
        assert_eq!(
            (chunk.start_line, chunk.end_line),
            (line_of(range.start), line_of(range.end - 1))
        );
        previous = Some(chunk);
    }
    let mut offset = 0;
    for (number, line) in text.split_inclusive('\n').enumerate() {
        let visible = line
            .bytes()
            .position(|byte| !matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c));
        if let Some(at) = visible {
            let byte = offset + at;
            let last_starting_before =
                chunks.partition_point(|chunk| chunk.byte_range.start <= byte);
            let covered = last_starting_before > 0
                && chunks[last_starting_before - 1].byte_range.contains(&byte);
            assert!(covered, "line {} is in no chunk: {line:?}", number + 1);
        }
        offset += line.len();
    }
}
