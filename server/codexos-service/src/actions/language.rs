//! What the actions need to know about a source file's language: the name models understand
//! and write on fences, and where its tests go by convention.

use std::path::Path;

/// A language the actions name on fences and know test conventions for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Language {
    /// The fence tag models write most often (`rust`, `python`).
    pub name: &'static str,
    /// Other tags that mean the same language (`rs`, `py`).
    pub aliases: &'static [&'static str],
}

impl Language {
    /// Whether a fence tag names this language.
    pub fn is_tagged(&self, tag: &str) -> bool {
        tag.eq_ignore_ascii_case(self.name)
            || self
                .aliases
                .iter()
                .any(|alias| tag.eq_ignore_ascii_case(alias))
    }
}

const LANGUAGES: &[(&[&str], Language)] = &[
    (&["rs"], lang("rust", &["rs"])),
    (&["py", "pyi"], lang("python", &["py", "python3"])),
    (
        &["js", "mjs", "cjs", "jsx"],
        lang("javascript", &["js", "jsx"]),
    ),
    (
        &["ts", "mts", "cts", "tsx"],
        lang("typescript", &["ts", "tsx"]),
    ),
    (&["go"], lang("go", &["golang"])),
    (&["java"], lang("java", &[])),
    (&["kt", "kts"], lang("kotlin", &["kt"])),
    (&["c", "h"], lang("c", &[])),
    (&["cc", "cpp", "cxx", "hpp", "hh"], lang("cpp", &["c++"])),
    (&["cs"], lang("csharp", &["cs", "c#"])),
    (&["rb"], lang("ruby", &["rb"])),
    (&["php"], lang("php", &[])),
    (&["swift"], lang("swift", &[])),
    (&["sh", "bash"], lang("bash", &["sh", "shell"])),
    (&["lua"], lang("lua", &[])),
    (&["json"], lang("json", &[])),
    (&["toml"], lang("toml", &[])),
    (&["yaml", "yml"], lang("yaml", &["yml"])),
    (&["md", "markdown"], lang("markdown", &["md"])),
];

const fn lang(name: &'static str, aliases: &'static [&'static str]) -> Language {
    Language { name, aliases }
}

/// The language of `path` by its extension, if it is one the actions know.
pub fn language_of(path: &Path) -> Option<Language> {
    let extension = path.extension()?.to_str()?;
    LANGUAGES
        .iter()
        .find(|(extensions, _)| {
            extensions
                .iter()
                .any(|known| known.eq_ignore_ascii_case(extension))
        })
        .map(|(_, language)| *language)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_known_by_its_extension_and_a_fence_by_name_or_alias() {
        let rust = language_of(Path::new("src/lib.rs")).expect("rust");
        assert_eq!(rust.name, "rust");
        assert!(rust.is_tagged("Rust") && rust.is_tagged("rs") && !rust.is_tagged("python"));
        assert_eq!(
            language_of(Path::new("app/View.TSX")).map(|l| l.name),
            Some("typescript")
        );
        assert_eq!(language_of(Path::new("Makefile")), None);
    }
}
