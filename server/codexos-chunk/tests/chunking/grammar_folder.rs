use std::fs;
use std::path::{Path, PathBuf};

use codexos_chunk::{ChunkConfig, Chunker, SetupError};
use expect_test::expect;

use crate::support::*;

fn repository_grammars() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../grammars")
}

fn grammar_folder(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, text) in files {
        let path = dir.path().join(path);
        fs::create_dir_all(path.parent().expect("a folder")).expect("create folder");
        fs::write(path, text).expect("write grammar file");
    }
    dir
}

const RUST_SOURCE: &str = r#"/// Docs.
pub fn one() -> u32 {
    1
}

impl Thing {
    fn two(&self) -> u32 {
        2
    }
}
"#;

#[test]
fn the_repository_grammar_folder_gives_the_same_chunks_as_the_built_ins() {
    let from_folder = Chunker::with_grammar_folder(ChunkConfig::default(), &repository_grammars())
        .expect("the shipped grammars load");
    let mut names = from_folder.grammar_names();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "c",
            "cpp",
            "csharp",
            "go",
            "java",
            "javascript",
            "php",
            "python",
            "ruby",
            "rust",
            "tsx",
            "typescript"
        ]
    );
    let python = "class A:\n    def b(self):\n        return 1\n";
    let typescript = "/** Docs. */\nexport class A {\n  b(): number {\n    return 1;\n  }\n}\n";
    for (path, text) in [
        ("src/x.rs", RUST_SOURCE),
        ("x.py", python),
        ("src/x.ts", typescript),
    ] {
        assert_eq!(
            chunk(&from_folder, path, text),
            chunk(&chunker(), path, text),
            "{path}"
        );
    }
}

#[test]
fn the_tsx_rules_are_the_typescript_rules() {
    let rules = |language: &str| {
        fs::read_to_string(repository_grammars().join(language).join("chunks.scm"))
            .expect("a shipped grammar")
    };
    assert_eq!(
        rules("tsx"),
        rules("typescript"),
        "grammars/tsx/chunks.scm and grammars/typescript/chunks.scm must stay the same file"
    );
}

#[test]
fn a_user_grammar_adds_a_language_on_a_linked_parser_with_its_own_kinds() {
    let folder = grammar_folder(&[
        (
            "starlark/grammar.toml",
            r#"name = "starlark"
extensions = ["bzl", "star"]
file_names = ["BUILD"]
parser = "python"
symbol_separator = ":"
"#,
        ),
        (
            "starlark/chunks.scm",
            r#"(function_definition name: (identifier) @name) @item.function
(expression_statement
  (call function: (identifier) @_rule
        arguments: (argument_list (keyword_argument name: (identifier) @_key value: (string (string_content) @name))))
  (#eq? @_key "name")) @item.rule
"#,
        ),
    ]);
    let chunker = Chunker::with_grammar_folder(
        ChunkConfig {
            min_tokens: 5,
            ..ChunkConfig::default()
        },
        folder.path(),
    )
    .expect("the user grammar loads");
    assert_eq!(chunker.language_of(Path::new("pkg/BUILD")), "starlark");
    assert_eq!(chunker.language_of(Path::new("defs.bzl")), "starlark");
    let source = r#"def helper(ctx):
    return ctx.attr.deps

rust_library(
    name = "chunker",
    srcs = glob(["src/**/*.rs"]),
)
"#;
    check(
        &chunker,
        "pkg/BUILD",
        source,
        expect![[r#"
        1-2 function `helper` (14) | def helper(ctx):
            function helper 1-2
        4-7 rule `chunker` (30) | rust_library(
            rule chunker 4-7
    "#]],
    );
}

#[test]
fn a_user_grammar_can_replace_the_rules_of_a_built_in_language() {
    let folder = grammar_folder(&[
        (
            "rust/grammar.toml",
            "name = \"rust\"\nextensions = [\"rs\"]\nparser = \"rust\"\n",
        ),
        (
            "rust/chunks.scm",
            "(function_item name: (identifier) @name) @item.function\n",
        ),
    ]);
    let chunker = Chunker::with_grammar_folder(
        ChunkConfig {
            min_tokens: 0,
            ..ChunkConfig::default()
        },
        folder.path(),
    )
    .expect("the replacement loads");
    check(
        &chunker,
        "src/x.rs",
        RUST_SOURCE,
        expect![[r#"
        1-1 module `` (5) | /// Docs.
        2-4 function `one` (11) | pub fn one() -> u32 {
            function one 2-4
        6-6 module `` (4) | impl Thing {
        7-9 function `two` (12) |     fn two(&self) -> u32 {
            function two 7-9
        10-10 module `` (1) | }
    "#]],
    );
}

#[test]
fn a_grammar_naming_a_parser_that_is_not_linked_is_rejected() {
    let folder = grammar_folder(&[
        (
            "haskell/grammar.toml",
            "name = \"haskell\"\nextensions = [\"hs\"]\nparser = \"haskell\"\n",
        ),
        ("haskell/chunks.scm", "(function) @item.function\n"),
    ]);
    let error = Chunker::with_grammar_folder(ChunkConfig::default(), folder.path())
        .err()
        .expect("no haskell parser");
    assert!(matches!(&error, SetupError::UnknownParser { parser, .. } if parser == "haskell"));
    let message = error.to_string();
    assert!(
        message.contains(
            "haskell/grammar.toml: parser `haskell` is not linked into this build \
             (linked: rust, python, typescript, tsx, javascript, go, java, c, cpp, csharp, ruby, php)"
        ),
        "{message}"
    );
}

#[test]
fn a_query_error_names_the_file_line_and_column() {
    let folder = grammar_folder(&[
        (
            "rust/grammar.toml",
            "name = \"rust\"\nextensions = [\"rs\"]\nparser = \"rust\"\n",
        ),
        (
            "rust/chunks.scm",
            "; rules\n(function_item name: (identifier) @name) @item.function\n(no_such_node) @item.thing\n",
        ),
    ]);
    let error = Chunker::with_grammar_folder(ChunkConfig::default(), folder.path())
        .err()
        .expect("a bad node");
    assert!(
        matches!(&error, SetupError::Query { line: 3, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("rust/chunks.scm:3:"), "{error}");

    let folder = grammar_folder(&[
        (
            "rust/grammar.toml",
            "name = \"rust\"\nextensions = [\"rs\"]\nparser = \"rust\"\n",
        ),
        (
            "rust/chunks.scm",
            "(function_item name: (identifier) @nmae) @item.function\n",
        ),
    ]);
    let error = Chunker::with_grammar_folder(ChunkConfig::default(), folder.path())
        .err()
        .expect("a typo");
    assert!(
        error
            .to_string()
            .contains("rust/chunks.scm:1:35: unknown capture `@nmae`"),
        "{error}"
    );
}

#[test]
fn a_manifest_with_an_unknown_key_is_rejected() {
    let folder = grammar_folder(&[
        (
            "rust/grammar.toml",
            "name = \"rust\"\nextension = [\"rs\"]\nparser = \"rust\"\n",
        ),
        ("rust/chunks.scm", "(function_item) @item.function\n"),
    ]);
    let error = Chunker::with_grammar_folder(ChunkConfig::default(), folder.path())
        .err()
        .expect("a typo");
    assert!(matches!(&error, SetupError::Manifest { .. }), "{error}");
    assert!(
        error.to_string().contains("unknown field `extension`"),
        "{error}"
    );
}
