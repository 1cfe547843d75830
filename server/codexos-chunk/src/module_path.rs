//! The module part of a symbol path, derived from the file's path.

use std::path::{Component, Path};

use serde::Deserialize;

/// How a grammar turns a file path into a module path (`module_path` in `grammar.toml`).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ModulePathStyle {
    /// Cargo's layout: the path after the last `src/` (or `tests/`, `benches/`, `examples/`),
    /// without `.rs`, `mod.rs` naming its folder, `lib.rs`/`main.rs` at the root naming
    /// nothing: `src/foo/bar.rs` → `foo::bar`.
    Rust,
    /// Python's: the path after the last `src/`, without the extension, `__init__` naming its
    /// package: `pkg/sub/__init__.py` → `pkg.sub`.
    Python,
    /// JavaScript's and TypeScript's, where a module is a file: the path after the last
    /// `src/`, without the extension (and a declaration file's `.d`), `index` naming its
    /// folder: `src/components/Button/index.tsx` → `components.Button`.
    #[serde(rename = "javascript")]
    JavaScript,
    /// No module part; symbols start at the file's top-level items.
    #[default]
    None,
}

impl ModulePathStyle {
    pub(crate) fn module_path(self, path: &Path, separator: &str) -> String {
        let names: Vec<&str> = path
            .components()
            .filter_map(|component| match component {
                Component::Normal(name) => name.to_str(),
                _ => None,
            })
            .collect();
        let segments = match self {
            Self::None => return String::new(),
            Self::Rust => rust_segments(&names),
            Self::Python => python_segments(&names),
            Self::JavaScript => javascript_segments(&names),
        };
        segments.join(separator)
    }
}

/// The folder names, then the file name without its extension (`python3.11/json/decoder.py`
/// → `python3.11`, `json`, `decoder`).
fn with_file_stem<'a>(names: &[&'a str]) -> Vec<&'a str> {
    let mut segments = names.to_vec();
    if let Some(file) = segments.last_mut() {
        *file = file.rsplit_once('.').map_or(*file, |(stem, _)| stem);
    }
    segments.retain(|segment| !segment.is_empty());
    segments
}

fn after_last<'a, 'b>(names: &'a [&'b str], roots: &[&str]) -> Option<&'a [&'b str]> {
    names
        .iter()
        .rposition(|name| roots.contains(name))
        .map(|at| &names[at + 1..])
}

fn rust_segments<'a>(names: &[&'a str]) -> Vec<&'a str> {
    let relative = after_last(names, &["src"])
        .or_else(|| after_last(names, &["tests", "benches", "examples"]))
        .unwrap_or_else(|| &names[names.len().saturating_sub(1)..]);
    let mut segments = with_file_stem(relative);
    if segments.last() == Some(&"mod")
        || (segments.len() == 1 && matches!(segments[0], "lib" | "main"))
    {
        segments.pop();
    }
    segments
}

fn python_segments<'a>(names: &[&'a str]) -> Vec<&'a str> {
    let relative = after_last(names, &["src"]).unwrap_or(names);
    let mut segments = with_file_stem(relative);
    if segments.last() == Some(&"__init__") {
        segments.pop();
    }
    segments
}

fn javascript_segments<'a>(names: &[&'a str]) -> Vec<&'a str> {
    let relative = after_last(names, &["src"]).unwrap_or(names);
    let mut segments = with_file_stem(relative);
    if let Some(file) = segments.last_mut() {
        *file = file.strip_suffix(".d").unwrap_or(file);
    }
    if segments.last() == Some(&"index") {
        segments.pop();
    }
    segments
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rust(path: &str) -> String {
        ModulePathStyle::Rust.module_path(Path::new(path), "::")
    }

    fn python(path: &str) -> String {
        ModulePathStyle::Python.module_path(Path::new(path), ".")
    }

    #[test]
    fn rust_module_paths_follow_cargo_file_layout() {
        assert_eq!(rust("src/foo/bar.rs"), "foo::bar");
        assert_eq!(rust("server/codexos-chunk/src/foo/bar/mod.rs"), "foo::bar");
        assert_eq!(rust("server/codexos-chunk/src/lib.rs"), "");
        assert_eq!(rust("src/main.rs"), "");
        assert_eq!(rust("src/bin/tool.rs"), "bin::tool");
        assert_eq!(rust("crate/tests/chunking.rs"), "chunking");
        assert_eq!(rust("build.rs"), "build");
    }

    fn javascript(path: &str) -> String {
        ModulePathStyle::JavaScript.module_path(Path::new(path), ".")
    }

    #[test]
    fn javascript_module_paths_follow_files_with_index_naming_its_folder() {
        assert_eq!(javascript("src/components/Button.tsx"), "components.Button");
        assert_eq!(
            javascript("app/src/components/Button/index.tsx"),
            "components.Button"
        );
        assert_eq!(javascript("lib/util.mjs"), "lib.util");
        assert_eq!(javascript("types/api.d.ts"), "types.api");
        assert_eq!(javascript("index.js"), "");
        assert_eq!(javascript("Button.test.jsx"), "Button.test");
    }

    #[test]
    fn python_module_paths_follow_packages() {
        assert_eq!(python("pkg/sub/mod.py"), "pkg.sub.mod");
        assert_eq!(python("pkg/__init__.py"), "pkg");
        assert_eq!(python("project/src/pkg/api.py"), "pkg.api");
        assert_eq!(python("setup.py"), "setup");
        assert_eq!(
            python("lib/python3.11/json/decoder.py"),
            "lib.python3.11.json.decoder"
        );
    }
}
