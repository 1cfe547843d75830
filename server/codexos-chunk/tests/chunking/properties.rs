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

/// A language with its own parser: a file it is read from, the parser, and fragments to
/// compose files of, broken ones included.
#[derive(Debug)]
struct Language {
    path: &'static str,
    parser: fn() -> tree_sitter::Language,
    fragments: &'static [&'static str],
}

const TYPESCRIPT_FRAGMENTS: &[&str] = &[
    "export function f(a: number): number {\n  return a + 1;\n}\n",
    "/** Docs. */\n@Dec()\nexport class A<T> extends B {\n  x = 1;\n  @Input() m(): void { this.x++; }\n  h = () => 'é ü 中文';\n}\n",
    "interface I { m(): void; n: string }\n",
    "export const g = async (x) => { await x; };\n",
    "type U = A | B;\n",
    "enum E { A, B }\n",
    "namespace N { export function h() {} }\n",
    "let y = <T>(z: T) => z;\n",
    "const C = () => <div className=\"x\">{items.map((i) => <I key={i} />)}</div>;\n",
    "// comment\n",
    "\n\n",
    "class { broken( {\n",
];

const JAVASCRIPT_FRAGMENTS: &[&str] = &[
    "function f(a) { return a + 1; }\n",
    "/** Docs. */\nexport default class A {\n  #p = 1;\n  m() { return this.#p; }\n  h = () => 'é ü 中文';\n}\n",
    "const C = ({ a }) => <p>{a}</p>;\n",
    "module.exports = { f };\n",
    "function* g() { yield 1; }\n",
    "// comment\n",
    "\n\n",
    "if (x) {\n",
    "`unterminated ${\n",
];

const GO_FRAGMENTS: &[&str] = &[
    "package p\n",
    "// Docs.\nfunc F(a int) int {\n\treturn a + 1\n}\n",
    "type S struct {\n\tA int\n}\n",
    "func (s *S) M() {}\n",
    "type (\n\tA int\n\tB interface{ M() }\n)\n",
    "var s = \"é ü 中文\"\n",
    "\n\n",
    "func broken( {\n",
    "}\n",
];

const JAVA_FRAGMENTS: &[&str] = &[
    "package a.b;\n",
    "/** Docs. */\n@Ann\npublic class A {\n  void m() {}\n  class B {}\n}\n",
    "interface I { void m(); }\n",
    "enum E { A; void m() {} }\n",
    "record R(int x) {}\n",
    "String s = \"é ü 中文\";\n",
    "// comment\n",
    "\n\n",
    "class {\n",
];

const C_FRAGMENTS: &[&str] = &[
    "#include <stdio.h>\n",
    "/* Docs. */\nint f(int a) {\n  return a + 1;\n}\n",
    "struct s { int a; };\n",
    "typedef struct { int b; } T;\n",
    "#define M(x) ((x) + 1)\n",
    "char *p(void);\n",
    "const char *s = \"é ü 中文\";\n",
    "\n\n",
    "int broken( {\n",
];

const CPP_FRAGMENTS: &[&str] = &[
    "namespace n {\n",
    "}\n",
    "/// Docs.\ntemplate <typename T>\nclass A : public B {\npublic:\n  A();\n  void m() { x++; }\nprivate:\n  int x;\n};\n",
    "void A::m2() const {}\n",
    "A::~A() {}\n",
    "bool operator==(const A&, const A&);\n",
    "struct S { int a; };\n",
    "auto s = u8\"é ü 中文\";\n",
    "\n\n",
    "class {\n",
];

const CSHARP_FRAGMENTS: &[&str] = &[
    "namespace N;\n",
    "namespace M { class C {} }\n",
    "/// Docs.\n[Attr]\npublic class A {\n  public void M() {}\n  public int P { get; set; }\n}\n",
    "interface I { void M(); }\n",
    "record R(int X);\n",
    "var s = \"é ü 中文\";\n",
    "\n\n",
    "class {\n",
];

const RUBY_FRAGMENTS: &[&str] = &[
    "module M\n",
    "end\n",
    "# Docs.\nclass A < B\n  def m(x)\n    x + 1\n  end\n  def self.n = 2\nend\n",
    "def f?; end\n",
    "s = 'é ü 中文'\n",
    "\n\n",
    "def broken(\n",
    "class << self\n",
];

const PHP_FRAGMENTS: &[&str] = &[
    "<?php\n",
    "namespace App\\Models;\n",
    "/** Docs. */\n#[A]\nclass C extends D {\n  public function m(): void {}\n}\n",
    "function f($x) { return $x; }\n",
    "interface I { function m(); }\n",
    "?>\n<p>html é ü 中文</p>\n<?php\n",
    "\n\n",
    "class {\n",
];

const LANGUAGES: &[Language] = &[
    Language {
        path: "src/generated.ts",
        parser: || tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
        fragments: TYPESCRIPT_FRAGMENTS,
    },
    Language {
        path: "src/generated.tsx",
        parser: || tree_sitter_typescript::LANGUAGE_TSX.into(),
        fragments: TYPESCRIPT_FRAGMENTS,
    },
    Language {
        path: "src/generated.jsx",
        parser: || tree_sitter_javascript::LANGUAGE.into(),
        fragments: JAVASCRIPT_FRAGMENTS,
    },
    Language {
        path: "pkg/generated.go",
        parser: || tree_sitter_go::LANGUAGE.into(),
        fragments: GO_FRAGMENTS,
    },
    Language {
        path: "Generated.java",
        parser: || tree_sitter_java::LANGUAGE.into(),
        fragments: JAVA_FRAGMENTS,
    },
    Language {
        path: "generated.c",
        parser: || tree_sitter_c::LANGUAGE.into(),
        fragments: C_FRAGMENTS,
    },
    Language {
        path: "generated.hpp",
        parser: || tree_sitter_cpp::LANGUAGE.into(),
        fragments: CPP_FRAGMENTS,
    },
    Language {
        path: "Generated.cs",
        parser: || tree_sitter_c_sharp::LANGUAGE.into(),
        fragments: CSHARP_FRAGMENTS,
    },
    Language {
        path: "lib/generated.rb",
        parser: || tree_sitter_ruby::LANGUAGE.into(),
        fragments: RUBY_FRAGMENTS,
    },
    Language {
        path: "generated.php",
        parser: || tree_sitter_php::LANGUAGE_PHP.into(),
        fragments: PHP_FRAGMENTS,
    },
];

/// One of [`LANGUAGES`] and a file composed of its fragments.
fn any_language_file() -> impl Strategy<Value = (&'static Language, String)> {
    (0..LANGUAGES.len()).prop_flat_map(|index| {
        let language = &LANGUAGES[index];
        (Just(language), compose(language.fragments))
    })
}

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
    fn code_in_every_other_language_covers_every_line_and_cuts_only_between_nodes(
        (language, text) in any_language_file(),
        config in any_config(),
    ) {
        let chunks = chunk_with(config, language.path, &text);
        assert_well_formed(&text, &chunks);
        assert_cut_at_nodes_or_lines((language.parser)(), &text, &chunks);
    }

    #[test]
    fn any_text_in_any_format_chunks_without_panic_and_covers_every_line(
        text in prop_oneof![
            any::<String>(),
            "[ -~\n\t{}()\\[\\]#:=\"',-]{0,600}",
            compose(RUST_FRAGMENTS),
            compose(PYTHON_FRAGMENTS),
            compose(TYPESCRIPT_FRAGMENTS),
            compose(CPP_FRAGMENTS),
        ],
        extension in prop::sample::select(&[
            "rs", "py", "ts", "tsx", "js", "go", "java", "c", "hpp", "cs", "rb", "php", "md",
            "json", "toml", "yaml", "txt",
        ][..]),
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
