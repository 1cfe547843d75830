//! Where "Write tests" puts the tests it wrote, by each language's convention:
//! - Rust: a `#[cfg(test)]` module at the end of the same file (unit tests see private items);
//! - Python: `test_<stem>.py` in the workspace's `tests/` folder when it has one, else beside
//!   the file (pytest's discovery), importing the module when the model did not;
//! - JavaScript/TypeScript: `<stem>.test.<ext>` beside the file (Jest, Vitest);
//! - Go: `<stem>_test.go` beside the file, in the file's package;
//! - anything else: `<stem>_test.<ext>` beside the file.
//!
//! An existing test file gets the new tests appended; a missing one is created.

use std::path::{Path, PathBuf};

use super::language::Language;
use super::{FileChange, FileTexts};

/// What the model is told about the tests to write, so it writes them in the right style.
pub fn hint(language: Option<Language>) -> &'static str {
    match language.map(|language| language.name) {
        Some("rust") => {
            "#[test] fn test_name() { assert_eq!(...) } (they go in a `mod tests` with `use super::*;`)"
        }
        Some("python") => "pytest: def test_name(): assert ...",
        Some("javascript" | "typescript") => "Jest: test('name', () => { expect(...).toBe(...) })",
        Some("go") => "func TestName(t *testing.T) { ... } using the testing package",
        _ => "unit tests in the file's language",
    }
}

/// What marks a test in the language, as the error names it: a small model asked for tests
/// sometimes answers with the code itself, which must not land in a test file.
pub fn test_marker(language: Option<Language>) -> &'static str {
    match language.map(|language| language.name) {
        Some("rust") => "`#[test]`",
        Some("python") => "`def test_`",
        Some("javascript" | "typescript") => "`test(` or `it(`",
        Some("go") => "`func Test`",
        _ => "`test` or `assert`",
    }
}

/// Whether `code` holds at least one test by the language's convention ([`test_marker`]).
pub fn holds_tests(language: Option<Language>, code: &str) -> bool {
    match language.map(|language| language.name) {
        Some("rust") => code.contains("#[test]"),
        Some("python") => code.contains("def test_") || code.contains("class Test"),
        Some("javascript" | "typescript") => code.contains("test(") || code.contains("it("),
        Some("go") => code.contains("func Test"),
        _ => {
            let lower = code.to_lowercase();
            lower.contains("test") || lower.contains("assert")
        }
    }
}

/// The change that adds `code` (the tests the model wrote) where the convention puts them.
pub fn change(
    root: &Path,
    source: &Path,
    source_text: &str,
    language: Option<Language>,
    code: &str,
    files: &dyn FileTexts,
) -> FileChange {
    let stem = source
        .file_stem()
        .and_then(|stem| stem.to_str())
        .unwrap_or("module");
    let extension = source.extension().and_then(|e| e.to_str()).unwrap_or("");
    let beside = |name: String| source.with_file_name(name);
    match language.map(|language| language.name) {
        Some("rust") => append(source, source_text, &rust_module(source_text, code)),
        Some("python") => {
            let tests_dir = root.join("tests");
            let target = if files.is_dir(&tests_dir) {
                tests_dir.join(format!("test_{stem}.py"))
            } else {
                beside(format!("test_{stem}.py"))
            };
            let module = python_module(root, source, stem);
            let new_file = || {
                if code.contains("import") && code.contains(stem) {
                    code.to_owned()
                } else {
                    format!("from {module} import *\n\n\n{code}")
                }
            };
            append_or_create(target, code, new_file, files)
        }
        Some("javascript" | "typescript") => append_or_create(
            beside(format!("{stem}.test.{extension}")),
            code,
            || code.to_owned(),
            files,
        ),
        Some("go") => {
            let package = source_text
                .lines()
                .find(|line| line.starts_with("package "))
                .unwrap_or("package main");
            let new_file = || {
                if code.lines().any(|line| line.starts_with("package ")) {
                    code.to_owned()
                } else {
                    format!("{package}\n\n{code}")
                }
            };
            append_or_create(beside(format!("{stem}_test.go")), code, new_file, files)
        }
        _ => {
            let name = if extension.is_empty() {
                format!("{stem}_test")
            } else {
                format!("{stem}_test.{extension}")
            };
            append_or_create(beside(name), code, || code.to_owned(), files)
        }
    }
}

/// Appends `code` to `target` when it exists, else creates it with `new_file()`.
fn append_or_create(
    target: PathBuf,
    code: &str,
    new_file: impl FnOnce() -> String,
    files: &dyn FileTexts,
) -> FileChange {
    match files.text(&target) {
        Some(existing) => append(&target, &existing, code),
        None => FileChange::Create {
            path: target,
            text: new_file(),
        },
    }
}

/// Inserts `code` at the end of `text`, one blank line after what is there.
fn append(path: &Path, text: &str, code: &str) -> FileChange {
    let separator = if text.is_empty() || text.ends_with("\n\n") {
        ""
    } else if text.ends_with('\n') {
        "\n"
    } else {
        "\n\n"
    };
    FileChange::Edit {
        path: path.to_owned(),
        range: text.len()..text.len(),
        new_text: format!("{separator}{code}"),
    }
}

/// The tests as a module for the end of a Rust file: the model's own module when it wrote one
/// (renamed if the file already has one of that name), else its functions wrapped in one.
fn rust_module(source_text: &str, code: &str) -> String {
    let name = free_module_name(source_text);
    let declares_module = code
        .lines()
        .any(|line| line.starts_with("mod ") || line.starts_with("pub mod "));
    if declares_module {
        return if name == "tests" {
            code.to_owned()
        } else {
            code.replacen("mod tests", &format!("mod {name}"), 1)
        };
    }
    let body: String = code
        .lines()
        .map(|line| {
            if line.trim().is_empty() {
                "\n".to_owned()
            } else {
                format!("    {line}\n")
            }
        })
        .collect();
    format!("#[cfg(test)]\nmod {name} {{\n    use super::*;\n\n{body}}}\n")
}

/// `tests`, or `more_tests`, `more_tests_2`, … when the file already has that module.
fn free_module_name(source_text: &str) -> String {
    let taken = |name: &str| {
        source_text
            .lines()
            .any(|line| line.trim_start().starts_with(&format!("mod {name} ")))
    };
    std::iter::once("tests".to_owned())
        .chain(std::iter::once("more_tests".to_owned()))
        .chain((2..).map(|n| format!("more_tests_{n}")))
        .find(|name| !taken(name))
        .unwrap_or_else(|| "tests".to_owned())
}

/// The dotted module path pytest imports `source` by: relative to the workspace root, without a
/// leading `src/`.
fn python_module(root: &Path, source: &Path, stem: &str) -> String {
    let Ok(relative) = source
        .with_extension("")
        .strip_prefix(root)
        .map(Path::to_owned)
    else {
        return stem.to_owned();
    };
    let relative = relative.strip_prefix("src").unwrap_or(&relative);
    let parts: Vec<&str> = relative.iter().filter_map(|part| part.to_str()).collect();
    if parts.is_empty() {
        stem.to_owned()
    } else {
        parts.join(".")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use expect_test::{Expect, expect};

    use super::*;
    use crate::actions::language::language_of;

    /// Files as a map, folders as the parents of its files.
    struct Files(BTreeMap<PathBuf, String>);

    impl FileTexts for Files {
        fn text(&self, path: &Path) -> Option<String> {
            self.0.get(path).cloned()
        }

        fn is_dir(&self, path: &Path) -> bool {
            self.0
                .keys()
                .any(|file| file.starts_with(path) && file != path)
        }
    }

    fn check(files: &[(&str, &str)], source: &str, code: &str, expected: Expect) {
        let root = Path::new("/ws");
        let files = Files(
            files
                .iter()
                .map(|(path, text)| (root.join(path), (*text).to_owned()))
                .collect(),
        );
        let source = root.join(source);
        let source_text = files.text(&source).unwrap_or_default();
        let language = language_of(&source);
        let shown = match change(root, &source, &source_text, language, code, &files) {
            FileChange::Create { path, text } => format!("create {}\n{text}", path.display()),
            FileChange::Edit {
                path,
                range,
                new_text,
            } => format!("edit {} at {range:?}\n{new_text}", path.display()),
        };
        expected.assert_eq(&shown);
    }

    #[test]
    fn rust_tests_go_into_a_test_module_at_the_end_of_the_same_file() {
        check(
            &[(
                "src/lib.rs",
                "pub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n",
            )],
            "src/lib.rs",
            "#[test]\nfn adds() {\n    assert_eq!(add(1, 2), 3);\n}\n",
            expect![[r#"
                edit /ws/src/lib.rs at 48..48

                #[cfg(test)]
                mod tests {
                    use super::*;

                    #[test]
                    fn adds() {
                        assert_eq!(add(1, 2), 3);
                    }
                }
            "#]],
        );
    }

    #[test]
    fn a_rust_file_with_a_tests_module_gets_a_second_one_under_another_name() {
        check(
            &[("src/lib.rs", "fn a() {}\n\n#[cfg(test)]\nmod tests {\n}\n")],
            "src/lib.rs",
            "#[cfg(test)]\nmod tests {\n    #[test]\n    fn t() {}\n}\n",
            expect![[r#"
                edit /ws/src/lib.rs at 38..38

                #[cfg(test)]
                mod more_tests {
                    #[test]
                    fn t() {}
                }
            "#]],
        );
    }

    #[test]
    fn python_tests_go_into_the_tests_folder_and_import_the_module() {
        check(
            &[
                (
                    "src/shop/invoice.py",
                    "def total(lines):\n    return sum(lines)\n",
                ),
                ("tests/conftest.py", ""),
            ],
            "src/shop/invoice.py",
            "def test_total():\n    assert total([1, 2]) == 3\n",
            expect![[r#"
                create /ws/tests/test_invoice.py
                from shop.invoice import *


                def test_total():
                    assert total([1, 2]) == 3
            "#]],
        );
    }

    #[test]
    fn an_existing_python_test_file_beside_the_module_gets_the_tests_appended() {
        check(
            &[
                ("invoice.py", "def total(lines):\n    return sum(lines)\n"),
                ("test_invoice.py", "from invoice import total\n"),
            ],
            "invoice.py",
            "def test_empty():\n    assert total([]) == 0\n",
            expect![[r#"
                edit /ws/test_invoice.py at 26..26

                def test_empty():
                    assert total([]) == 0
            "#]],
        );
    }

    #[test]
    fn go_tests_are_created_in_the_package_of_the_file() {
        check(
            &[(
                "pkg/sum.go",
                "package mathx\n\nfunc Sum(a, b int) int { return a + b }\n",
            )],
            "pkg/sum.go",
            "func TestSum(t *testing.T) {}\n",
            expect![[r#"
                create /ws/pkg/sum_test.go
                package mathx

                func TestSum(t *testing.T) {}
            "#]],
        );
    }

    #[test]
    fn typescript_tests_sit_beside_the_file() {
        check(
            &[("web/cart.ts", "export const total = (xs: number[]) => 0;\n")],
            "web/cart.ts",
            "test('total', () => {});\n",
            expect![[r#"
                create /ws/web/cart.test.ts
                test('total', () => {});
            "#]],
        );
    }
}
