use std::path::Path;

use codexos_chunk::{ChunkConfig, ChunkError, Chunker, SetupError};

use crate::support::*;

const FIFTY_MB: usize = 50 << 20;

const MINIFIED_JS: &str = "var a=function(b,c){return b+c*2};";
const MINIFIED_CSS: &str = ".a>b{margin:0;color:#333}";

/// One line of minified-looking code repeating `unit`, `bytes` long.
fn minified_line(unit: &str, bytes: usize) -> String {
    let mut text = unit.repeat(bytes / unit.len() + 1);
    text.truncate(bytes);
    text
}

#[test]
fn a_file_over_the_size_limit_is_refused_naming_the_file_and_its_size() {
    let text = minified_line(MINIFIED_JS, FIFTY_MB);
    let error = chunker()
        .chunk(Path::new("dist/app.min.js"), &text)
        .expect_err("over the default 8 MiB");
    assert!(matches!(error, ChunkError::FileTooLarge { bytes, .. } if bytes == FIFTY_MB));
    assert_eq!(
        error.to_string(),
        "dist/app.min.js: 52428800 bytes is over the chunker's limit of 8388608 bytes \
         (ChunkConfig::max_file_bytes); the file is not chunked"
    );
}

#[test]
fn a_50_mb_minified_line_is_chunked_into_bounded_windows_when_allowed() {
    let config = ChunkConfig {
        max_file_bytes: 64 << 20,
        ..ChunkConfig::default()
    };
    let chunker = Chunker::new(config).expect("valid config");
    let text = minified_line(MINIFIED_CSS, FIFTY_MB);
    let chunks = chunk(&chunker, "dist/app.min.css", &text);
    assert!(
        chunks
            .iter()
            .all(|chunk| chunk.tokens <= 300 && chunk.start_line == 1 && chunk.end_line == 1)
    );
    let covered: usize = chunks.iter().map(|chunk| chunk.byte_range.len()).sum();
    assert_eq!(
        covered,
        text.len(),
        "a single line without overlap is covered exactly once"
    );
    assert_eq!(
        chunks.last().map(|chunk| chunk.byte_range.end),
        Some(text.len())
    );
}

#[test]
fn a_long_minified_rust_line_is_split_between_nodes_into_bounded_chunks() {
    let text = "fn f(a: u32) -> u32 { let b = a * 2; b + 1 }".repeat(20_000);
    let chunks = chunk(&chunker(), "src/generated.rs", &text);
    assert_well_formed(&text, &chunks);
    assert!(chunks.len() > 100);
    assert!(chunks.iter().all(|chunk| chunk.tokens <= 400));
}

#[test]
fn a_minified_javascript_bundle_is_split_between_nodes_into_bounded_chunks() {
    let text = minified_line(MINIFIED_JS, 1 << 20);
    let chunks = chunk(&chunker(), "dist/app.min.js", &text);
    assert_well_formed(&text, &chunks);
    assert!(chunks.len() > 100);
    assert!(chunks.iter().all(|chunk| chunk.tokens <= 400));
}

#[test]
fn deeply_nested_brackets_chunk_without_exhausting_the_stack() {
    for (path, open, close) in [
        ("src/deep.rs", "(", ")"),
        ("deep.py", "[", "]"),
        ("deep.js", "[", "]"),
        ("deep.cpp", "{", "}"),
        ("deep.json", "[", "]"),
    ] {
        let text = format!("{}{}{}", open.repeat(20_000), "1", close.repeat(20_000));
        let chunks = chunk(&chunker(), path, &text);
        assert_well_formed(&text, &chunks);
    }
}

#[test]
fn invalid_configs_are_rejected_naming_the_field() {
    let bad = ChunkConfig {
        overlap_tokens: 300,
        ..ChunkConfig::default()
    };
    let error = Chunker::new(bad)
        .err()
        .expect("overlap equal to the window");
    assert!(matches!(
        error,
        SetupError::InvalidConfig {
            field: "overlap_tokens",
            ..
        }
    ));
    assert_eq!(
        error.to_string(),
        "chunk config: `overlap_tokens` 300 must be less than window_tokens 300, or windows would never advance"
    );
    let bad = ChunkConfig {
        min_tokens: 500,
        ..ChunkConfig::default()
    };
    assert!(matches!(
        Chunker::new(bad),
        Err(SetupError::InvalidConfig {
            field: "min_tokens",
            ..
        })
    ));
}
