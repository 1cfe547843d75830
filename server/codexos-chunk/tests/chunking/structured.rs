use expect_test::expect;

use crate::support::*;

#[test]
fn json_is_chunked_by_top_level_keys() {
    let source = r#"{
  "name": "codexos",
  "version": "0.1.0",
  "scripts": {
    "build": "cargo build --workspace --all-targets",
    "test": "cargo test --workspace",
    "lint": "cargo clippy --workspace --all-targets -- -D warnings"
  },
  "tags": ["a", "b", "c"]
}
"#;
    check(
        &small_chunker(30, 8),
        "package.json",
        source,
        expect![[r#"
        1-2 key `name` (10) | {
            key name 2-2
        3-3 key `version` (13) |   "version": "0.1.0",
            key version 3-3
        4-5 key `scripts` (29) |   "scripts": {
            key scripts 4-8
        6-6 key `scripts` (15) |     "test": "cargo test --workspace",
        7-8 key `scripts` (29) |     "lint": "cargo clippy --workspace --all-targets -- -D warnings"
        9-10 key `tags` (18) |   "tags": ["a", "b", "c"]
            key tags 9-10
    "#]],
    );
}

#[test]
fn top_level_json_array_elements_are_named_by_index() {
    let source = r#"[
  {"id": 1, "title": "first entry with a title that is long enough"},
  {"id": 2, "title": "second entry with a title that is long enough"}
]
"#;
    check(
        &small_chunker(30, 5),
        "entries.json",
        source,
        expect![[r#"
        1-2 key `[0]` (30) | [
            key [0] 2-2
        3-4 key `[1]` (29) |   {"id": 2, "title": "second entry with a title that is long enough"}
            key [1] 3-4
    "#]],
    );
}

#[test]
fn invalid_json_falls_back_to_the_sliding_window() {
    let source = "{\n  \"name\": \"unterminated,\n  \"other\": [1, 2\n";
    check(
        &chunker(),
        "broken.json",
        source,
        expect![[r#"
        1-3 window `` (19) | {
    "#]],
    );
}

#[test]
fn toml_is_chunked_by_tables_and_top_level_keys() {
    let source = r#"name = "demo"
description = """
A description that spans
several lines, with [brackets] inside.
"""

# The package table.
[package]
version = "0.1.0"
edition = "2024"

[dependencies]
serde = { version = "1", features = ["derive"] }
list = [
  "one",
  "two",
]

[[bin]]
name = "demo"
"#;
    check(
        &small_chunker(30, 6),
        "Cargo.toml",
        source,
        expect![[r#"
        1-1 key `name` (5) | name = "demo"
            key name 1-1
        2-5 key `description` (30) | description = """
            key description 2-5
        7-10 key `package` (27) | # The package table.
            key package 7-10
        12-14 key `dependencies` (29) | [dependencies]
            key dependencies 12-17
        15-17 key `dependencies` (9) |   "one",
        19-20 key `bin` (10) | [[bin]]
            key bin 19-20
    "#]],
    );
}

#[test]
fn yaml_is_chunked_by_top_level_keys() {
    let source = r#"# CI configuration
name: ci
on:
  push:
    branches: [main]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: cargo test --workspace --all-targets
"#;
    check(
        &small_chunker(30, 6),
        ".github/workflows/ci.yml",
        source,
        expect![[r#"
        1-2 key `name` (9) | # CI configuration
            key name 1-2
        3-5 key `on` (10) | on:
            key on 3-5
        6-10 key `jobs` (26) | jobs:
            key jobs 6-11
        11-11 key `jobs` (17) |       - run: cargo test --workspace --all-targets
    "#]],
    );
}
