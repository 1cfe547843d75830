use codexos_chunk::{ChunkConfig, ChunkKind, Chunker};
use expect_test::expect;

use crate::support::*;

#[test]
fn plain_text_is_chunked_by_overlapping_windows() {
    let config = ChunkConfig {
        window_tokens: 20,
        overlap_tokens: 6,
        ..ChunkConfig::default()
    };
    let chunker = Chunker::new(config).expect("valid config");
    let source: String = (1..=12)
        .map(|line| format!("line {line} has four words\n"))
        .collect();
    let chunks = chunk(&chunker, "notes.txt", &source);
    assert_well_formed(&source, &chunks);
    assert!(
        chunks
            .iter()
            .all(|chunk| chunk.kind == ChunkKind::Window && chunk.tokens <= 20)
    );
    for pair in chunks.windows(2) {
        assert!(
            pair[1].start_line <= pair[0].end_line,
            "consecutive windows share lines"
        );
    }
    expect![[r#"
        1-3 window `` (18) | line 1 has four words
        3-5 window `` (18) | line 3 has four words
        5-7 window `` (18) | line 5 has four words
        7-9 window `` (18) | line 7 has four words
        9-11 window `` (18) | line 9 has four words
        11-12 window `` (12) | line 11 has four words
    "#]]
    .assert_eq(&render(&chunks));
}

#[test]
fn an_empty_or_blank_file_has_no_chunks() {
    let chunker = chunker();
    for path in [
        "empty.rs",
        "empty.py",
        "empty.ts",
        "empty.go",
        "empty.c",
        "empty.md",
        "empty.json",
        "empty.toml",
        "empty.yaml",
        "empty.txt",
    ] {
        assert_eq!(chunk(&chunker, path, ""), Vec::new(), "{path}");
        assert_eq!(chunk(&chunker, path, "\n  \n\t\n"), Vec::new(), "{path}");
    }
}

#[test]
fn languages_are_detected_by_extension_and_file_name() {
    let chunker = chunker();
    let detected: Vec<&str> = [
        "src/lib.rs",
        "a/B.PY",
        "types.pyi",
        "README.md",
        "docs/x.markdown",
        "package.json",
        "Cargo.toml",
        "Cargo.lock",
        "ci.yml",
        "k8s.yaml",
        "notes.txt",
        "Makefile",
        "flows/x.flow.json",
        "src/app.ts",
        "types/api.d.ts",
        "src/App.tsx",
        "lib/index.js",
        "components/Button.jsx",
        "esm/util.mjs",
        "cjs/util.cjs",
        "cmd/server/main.go",
        "src/main/java/com/acme/Cart.java",
        "src/cart.c",
        "include/cart.h",
        "src/cart.cpp",
        "src/cart.hpp",
        "Shop/Cart.cs",
        "lib/shop/cart.rb",
        "Rakefile",
        "app/Models/Cart.php",
    ]
    .iter()
    .map(|path| chunker.language_of(std::path::Path::new(path)))
    .collect();
    assert_eq!(
        detected,
        [
            "rust",
            "python",
            "python",
            "markdown",
            "markdown",
            "json",
            "toml",
            "toml",
            "yaml",
            "yaml",
            "text",
            "text",
            "json",
            "typescript",
            "typescript",
            "tsx",
            "javascript",
            "javascript",
            "javascript",
            "javascript",
            "go",
            "java",
            "c",
            "cpp",
            "cpp",
            "cpp",
            "csharp",
            "ruby",
            "ruby",
            "php"
        ]
    );
}

#[test]
fn a_chunker_can_be_shared_between_threads() {
    fn shared<T: Send + Sync>(_: &T) {}
    shared(&chunker());
}
