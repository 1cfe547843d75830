//! Properties over generated sources: no panic, every non-blank line covered, chunks
//! ordered and disjoint, and code chunks cut only at syntax node or line boundaries.

use std::collections::HashSet;
use std::path::Path;

use codexos_chunk::{Chunk, ChunkConfig, Chunker};
use proptest::prelude::*;
use proptest::test_runner::Config;

use crate::support::assert_well_formed;

const RUST_FRAGMENTS: &[&str] = &[
    "fn small() {}\n",
    "/// Docs.\n#[inline]\npub fn documented(a: u32, b: u32) -> u32 {\n    let c = a + b;\n    c * 2\n}\n",
    "impl<T> Wrapper<T> {\n    fn get(&self) -> &T {\n        &self.0\n    }\n    fn set(&mut self, value: T) {\n        self.0 = value;\n    }\n}\n",
    "struct Point { x: f64, y: f64 }\n",
    "use std::collections::{HashMap, HashSet};\n",
    "const LIMIT: usize = 1 << 20;\n",
    "mod inner {\n    pub fn f() -> &'static str { \"é ü 中文\" }\n}\n",
    "trait Speak {\n    fn speak(&self) -> String;\n}\n",
    "// a comment\n",
    "\n\n",
    "    \t\n",
    "fn long() {\n    let v = vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20];\n    for x in v { if x % 2 == 0 { println!(\"{x}\"); } else { println!(\"odd {x}\"); } }\n}\n",
    "}}} ((( fn broken( -> {\n",
    "\"unterminated string\n",
    "macro_rules! m { ($x:expr) => { $x + 1 }; }\n",
    "let x = ;",
    "#[derive(Debug)]",
    "/* block\n comment */",
];

const PYTHON_FRAGMENTS: &[&str] = &[
    "import os\n",
    "from typing import List\n",
    "def f(x):\n    return x + 1\n",
    "@decorator\ndef g(*args, **kwargs):\n    \"\"\"Doc.\"\"\"\n    return args\n",
    "class A(Base):\n    x = 1\n\n    def m(self):\n        return self.x\n\n    @property\n    def p(self):\n        return 2\n",
    "# comment\n",
    "\n\n",
    "if __name__ == '__main__':\n    main()\n",
    "def long():\n    values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]\n    for v in values:\n        if v % 2:\n            print(v, 'odd')\n        else:\n            print(v, 'even')\n",
    "def broken(:\n",
    "    indented_garbage = ((\n",
    "s = 'é ü 中文'\n",
    "class\n",
    "x = [1,\n",
];

fn compose(fragments: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(fragments), 0..24).prop_map(|parts| parts.concat())
}

fn any_config() -> impl Strategy<Value = ChunkConfig> {
    (4usize..160, 0usize..60, 8usize..120).prop_map(|(max_tokens, min_tokens, window_tokens)| {
        ChunkConfig {
            max_tokens,
            min_tokens: min_tokens.min(max_tokens),
            window_tokens,
            overlap_tokens: window_tokens / 4,
            ..ChunkConfig::default()
        }
    })
}

/// Every byte offset where some syntax node starts or ends.
fn node_boundaries(language: tree_sitter::Language, text: &str) -> HashSet<usize> {
    let mut parser = tree_sitter::Parser::new();
    parser.set_language(&language).expect("linked grammar");
    let tree = parser.parse(text, None).expect("a tree");
    let mut boundaries = HashSet::new();
    let mut cursor = tree.walk();
    loop {
        boundaries.insert(cursor.node().start_byte());
        boundaries.insert(cursor.node().end_byte());
        if cursor.goto_first_child() || cursor.goto_next_sibling() {
            continue;
        }
        loop {
            if !cursor.goto_parent() {
                return boundaries;
            }
            if cursor.goto_next_sibling() {
                break;
            }
        }
    }
}

fn assert_cut_at_nodes_or_lines(language: tree_sitter::Language, text: &str, chunks: &[Chunk]) {
    let boundaries = node_boundaries(language, text);
    let bytes = text.as_bytes();
    for chunk in chunks {
        let (start, end) = (chunk.byte_range.start, chunk.byte_range.end);
        let at_line_start = start == 0 || bytes[start - 1] == b'\n';
        assert!(
            at_line_start || boundaries.contains(&start),
            "chunk {start}..{end} starts inside a node"
        );
        let at_line_end = end == bytes.len() || bytes[end - 1] == b'\n';
        assert!(
            at_line_end || boundaries.contains(&end),
            "chunk {start}..{end} ends inside a node"
        );
    }
}

fn chunk_with(config: ChunkConfig, path: &str, text: &str) -> Vec<Chunk> {
    let chunker = Chunker::new(config).expect("generated configs are valid");
    chunker
        .chunk(Path::new(path), text)
        .expect("generated files are small")
}

proptest! {
    #![proptest_config(Config { cases: 96, failure_persistence: None, ..Config::default() })]

    #[test]
    fn rust_chunks_cover_every_line_and_cut_only_between_nodes(text in compose(RUST_FRAGMENTS), config in any_config()) {
        let chunks = chunk_with(config, "src/generated.rs", &text);
        assert_well_formed(&text, &chunks);
        assert_cut_at_nodes_or_lines(tree_sitter_rust::LANGUAGE.into(), &text, &chunks);
    }

    #[test]
    fn python_chunks_cover_every_line_and_cut_only_between_nodes(text in compose(PYTHON_FRAGMENTS), config in any_config()) {
        let chunks = chunk_with(config, "pkg/generated.py", &text);
        assert_well_formed(&text, &chunks);
        assert_cut_at_nodes_or_lines(tree_sitter_python::LANGUAGE.into(), &text, &chunks);
    }

    #[test]
    fn any_text_in_any_format_chunks_without_panic_and_covers_every_line(
        text in prop_oneof![
            any::<String>(),
            "[ -~\n\t{}()\\[\\]#:=\"',-]{0,600}",
            compose(RUST_FRAGMENTS),
            compose(PYTHON_FRAGMENTS),
        ],
        extension in prop::sample::select(&["rs", "py", "md", "json", "toml", "yaml", "txt"][..]),
        config in any_config(),
    ) {
        let chunks = chunk_with(config, &format!("dir/file.{extension}"), &text);
        assert_well_formed(&text, &chunks);
    }
}

/// Found by the property above: an unterminated string turns the rest of the file into one
/// string token, whose first line piece starts with a space after other code.
#[test]
fn a_string_token_cut_at_its_lines_is_never_cut_inside_its_first_line() {
    let text = "\"unterminated string\nmod inner {\n    pub fn f() -> &'static str { \"é ü 中文\" }\n}\nfn long() {\n    let v = vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20];\n    for x in v { if x % 2 == 0 { println!(\"{x}\"); } else { println!(\"odd {x}\"); } }\n}\n";
    let config = ChunkConfig {
        max_tokens: 19,
        min_tokens: 0,
        window_tokens: 8,
        overlap_tokens: 2,
        ..ChunkConfig::default()
    };
    let chunks = chunk_with(config, "src/generated.rs", text);
    assert_well_formed(text, &chunks);
    assert_cut_at_nodes_or_lines(tree_sitter_rust::LANGUAGE.into(), text, &chunks);
}
