//! Tree-sitter grammars: a linked parser plus chunking rules read from `grammars/<name>/`.
//!
//! Rules (file extensions, which parser, which nodes are items and how they are named) live
//! in a folder per language: `grammar.toml` and `chunks.scm`. The folders of the built-in
//! languages are compiled into the binary; a grammar folder given at run time adds
//! languages or replaces built-in rules without rebuilding — as long as the parser it names
//! is one linked into this build (see [`LINKED_PARSERS`]).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Deserialize;
use tree_sitter::{Language, Query};

use crate::chunk::ChunkKind;
use crate::error::SetupError;
use crate::module_path::ModulePathStyle;

/// Tree-sitter parsers compiled into this build; a `grammar.toml` names one as `parser`.
pub const LINKED_PARSERS: &[&str] = &[
    "rust",
    "python",
    "typescript",
    "tsx",
    "javascript",
    "go",
    "java",
    "c",
    "cpp",
    "csharp",
    "ruby",
    "php",
];

fn linked_parser(name: &str) -> Option<Language> {
    match name {
        "rust" => Some(tree_sitter_rust::LANGUAGE.into()),
        "python" => Some(tree_sitter_python::LANGUAGE.into()),
        "typescript" => Some(tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into()),
        "tsx" => Some(tree_sitter_typescript::LANGUAGE_TSX.into()),
        // JSX included: the JavaScript grammar parses it.
        "javascript" => Some(tree_sitter_javascript::LANGUAGE.into()),
        "go" => Some(tree_sitter_go::LANGUAGE.into()),
        "java" => Some(tree_sitter_java::LANGUAGE.into()),
        "c" => Some(tree_sitter_c::LANGUAGE.into()),
        "cpp" => Some(tree_sitter_cpp::LANGUAGE.into()),
        "csharp" => Some(tree_sitter_c_sharp::LANGUAGE.into()),
        "ruby" => Some(tree_sitter_ruby::LANGUAGE.into()),
        // PHP files with HTML around `<?php` blocks, as found in the wild.
        "php" => Some(tree_sitter_php::LANGUAGE_PHP.into()),
        _ => None,
    }
}

/// `(folder, grammar.toml, chunks.scm)` of `grammars/<name>/`.
macro_rules! builtin {
    ($name:literal) => {
        (
            concat!("grammars/", $name),
            include_str!(concat!("../../../grammars/", $name, "/grammar.toml")),
            include_str!(concat!("../../../grammars/", $name, "/chunks.scm")),
        )
    };
}

/// The built-in grammar folders, embedded so the binary needs no files beside it.
const BUILTIN: &[(&str, &str, &str)] = &[
    builtin!("rust"),
    builtin!("python"),
    builtin!("typescript"),
    builtin!("tsx"),
    builtin!("javascript"),
    builtin!("go"),
    builtin!("java"),
    builtin!("c"),
    builtin!("cpp"),
    builtin!("csharp"),
    builtin!("ruby"),
    builtin!("php"),
];

const MANIFEST_FILE: &str = "grammar.toml";
const QUERY_FILE: &str = "chunks.scm";

/// `grammar.toml`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    name: String,
    #[serde(default)]
    extensions: Vec<String>,
    #[serde(default)]
    file_names: Vec<String>,
    parser: String,
    #[serde(default = "default_separator")]
    symbol_separator: String,
    #[serde(default)]
    module_path: ModulePathStyle,
}

fn default_separator() -> String {
    "::".to_owned()
}

/// What one capture name of `chunks.scm` means.
#[derive(Clone, Debug)]
pub(crate) enum CaptureRole {
    Item(ChunkKind),
    Name,
    /// Segments put before the item's name: a Go method's receiver type.
    Scope,
    /// The module or package the file declares (Java's `package`, Go's `package`): the
    /// module part of every symbol in the file, instead of one derived from its path.
    Module,
    Attach,
    /// `@_helper` captures serve predicates only.
    Ignored,
}

/// A language the chunker parses with tree-sitter.
pub(crate) struct Grammar {
    pub(crate) name: String,
    extensions: Vec<String>,
    file_names: Vec<String>,
    pub(crate) language: Language,
    query_path: PathBuf,
    query_text: Cow<'static, str>,
    /// Compiled on first use: compiling a query costs milliseconds per language (a tenth of
    /// a second for C++), which a workspace without that language should not pay. `None` if
    /// it does not compile, which only a built-in grammar could, and a test shows they do.
    rules: OnceLock<Option<Rules>>,
    pub(crate) separator: String,
    pub(crate) module_path: ModulePathStyle,
}

/// A grammar's compiled `chunks.scm`.
pub(crate) struct Rules {
    pub(crate) query: Query,
    /// Indexed by capture index.
    pub(crate) roles: Vec<CaptureRole>,
}

impl Grammar {
    /// Reads the manifest; the query is compiled by [`Grammar::rules`] or
    /// [`Grammar::compile_now`].
    fn read(
        folder: &Path,
        manifest_text: &str,
        query_text: Cow<'static, str>,
    ) -> Result<Self, SetupError> {
        let manifest_path = folder.join(MANIFEST_FILE);
        let manifest: Manifest =
            toml::from_str(manifest_text).map_err(|error| SetupError::Manifest {
                path: manifest_path.clone(),
                message: error.to_string(),
            })?;
        if manifest.extensions.is_empty() && manifest.file_names.is_empty() {
            return Err(SetupError::Manifest {
                path: manifest_path,
                message: "lists no `extensions` and no `file_names`, so no file would use it"
                    .into(),
            });
        }
        let language =
            linked_parser(&manifest.parser).ok_or_else(|| SetupError::UnknownParser {
                path: manifest_path.clone(),
                parser: manifest.parser.clone(),
                linked: LINKED_PARSERS.join(", "),
            })?;
        Ok(Self {
            name: manifest.name,
            extensions: manifest
                .extensions
                .iter()
                .map(|extension| extension.to_ascii_lowercase())
                .collect(),
            file_names: manifest.file_names,
            language,
            query_path: folder.join(QUERY_FILE),
            query_text,
            rules: OnceLock::new(),
            separator: manifest.symbol_separator,
            module_path: manifest.module_path,
        })
    }

    /// The compiled rules, compiling them on first use.
    pub(crate) fn rules(&self) -> Option<&Rules> {
        self.rules.get_or_init(|| self.compile().ok()).as_ref()
    }

    /// Compiles the rules now, so a user's grammar folder reports its errors at setup.
    fn compile_now(&self) -> Result<(), SetupError> {
        if self.rules.get().is_none() {
            let rules = self.compile()?;
            // Nothing else holds this grammar yet, so the cell is still empty.
            let _ = self.rules.set(Some(rules));
        }
        Ok(())
    }

    fn compile(&self) -> Result<Rules, SetupError> {
        let query_path = &self.query_path;
        let query_text = self.query_text.as_ref();
        let query = Query::new(&self.language, query_text).map_err(|error| SetupError::Query {
            path: query_path.clone(),
            line: error.row + 1,
            column: error.column + 1,
            message: error.message.clone(),
        })?;
        let roles = query
            .capture_names()
            .iter()
            .map(|name| {
                capture_role(name).ok_or_else(|| unknown_capture(query_path, query_text, name))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if !roles
            .iter()
            .any(|role| matches!(role, CaptureRole::Item(_)))
        {
            return Err(SetupError::Query {
                path: query_path.clone(),
                line: 1,
                column: 1,
                message: "captures no `@item.KIND`, so nothing would be chunked by it".into(),
            });
        }
        Ok(Rules { query, roles })
    }
}

fn capture_role(name: &str) -> Option<CaptureRole> {
    match name {
        "name" => Some(CaptureRole::Name),
        "scope" => Some(CaptureRole::Scope),
        "module" => Some(CaptureRole::Module),
        "attach" => Some(CaptureRole::Attach),
        "item" => Some(CaptureRole::Item(ChunkKind::Other("item".into()))),
        _ if name.starts_with('_') => Some(CaptureRole::Ignored),
        _ => name
            .strip_prefix("item.")
            .map(|kind| CaptureRole::Item(ChunkKind::from_capture(kind))),
    }
}

fn unknown_capture(path: &Path, query_text: &str, name: &str) -> SetupError {
    let needle = format!("@{name}");
    let (line, column) = query_text
        .lines()
        .enumerate()
        .find_map(|(line, text)| text.find(&needle).map(|column| (line + 1, column + 1)))
        .unwrap_or((1, 1));
    SetupError::Query {
        path: path.to_path_buf(),
        line,
        column,
        message: format!(
            "unknown capture `{needle}`; use @item.KIND, @name, @scope, @module, @attach, or a name starting with `_`"
        ),
    }
}

/// The grammars a chunker knows, found by file extension or file name.
pub(crate) struct Grammars {
    grammars: Vec<Grammar>,
    by_file_name: HashMap<String, usize>,
    by_extension: HashMap<String, usize>,
}

impl Grammars {
    pub(crate) fn builtin() -> Result<Self, SetupError> {
        let mut grammars = Self {
            grammars: Vec::new(),
            by_file_name: HashMap::new(),
            by_extension: HashMap::new(),
        };
        for (folder, manifest, query) in BUILTIN {
            grammars.add(Grammar::read(
                Path::new(folder),
                manifest,
                Cow::Borrowed(query),
            )?);
        }
        Ok(grammars)
    }

    /// Adds every `<dir>/<name>/` folder holding a `grammar.toml` (folders without one are
    /// left alone). A grammar named like a known one replaces it; its extensions win. Their
    /// queries are compiled now, so a mistake in one is an error here, not a silent fallback
    /// to the sliding window later.
    pub(crate) fn load_folder(&mut self, dir: &Path) -> Result<(), SetupError> {
        let read_error = |path: &Path| {
            let path = path.to_path_buf();
            move |source| SetupError::Read { path, source }
        };
        let mut folders: Vec<PathBuf> = fs::read_dir(dir)
            .map_err(read_error(dir))?
            .map(|entry| entry.map(|entry| entry.path()).map_err(read_error(dir)))
            .collect::<Result<_, _>>()?;
        folders.sort();
        for folder in folders {
            let manifest_path = folder.join(MANIFEST_FILE);
            if !manifest_path.is_file() {
                continue;
            }
            let manifest =
                fs::read_to_string(&manifest_path).map_err(read_error(&manifest_path))?;
            let query_path = folder.join(QUERY_FILE);
            let query = fs::read_to_string(&query_path).map_err(read_error(&query_path))?;
            // A copy of a built-in folder (the repository's own `grammars/`) is the built-in,
            // already known and compiled only when used.
            let builtin = BUILTIN.iter().any(|&(_, known_manifest, known_query)| {
                known_manifest == manifest && known_query == query
            });
            if builtin {
                continue;
            }
            let grammar = Grammar::read(&folder, &manifest, Cow::Owned(query))?;
            grammar.compile_now()?;
            self.add(grammar);
        }
        Ok(())
    }

    fn add(&mut self, grammar: Grammar) {
        let index = match self
            .grammars
            .iter()
            .position(|known| known.name == grammar.name)
        {
            Some(index) => {
                self.by_extension.retain(|_, known| *known != index);
                self.by_file_name.retain(|_, known| *known != index);
                self.grammars[index] = grammar;
                index
            }
            None => {
                self.grammars.push(grammar);
                self.grammars.len() - 1
            }
        };
        let grammar = &self.grammars[index];
        for extension in &grammar.extensions {
            self.by_extension.insert(extension.clone(), index);
        }
        for file_name in &grammar.file_names {
            self.by_file_name.insert(file_name.clone(), index);
        }
    }

    pub(crate) fn for_path(&self, path: &Path) -> Option<&Grammar> {
        let file_name = path.file_name().and_then(|name| name.to_str());
        let by_name = file_name.and_then(|name| self.by_file_name.get(name));
        let by_extension = || {
            let extension = path.extension()?.to_str()?.to_ascii_lowercase();
            self.by_extension.get(&extension)
        };
        by_name
            .or_else(by_extension)
            .map(|&index| &self.grammars[index])
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.grammars.iter().map(|grammar| grammar.name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_grammar_compiles() {
        let grammars = Grammars::builtin().expect("the built-in manifests are valid");
        for grammar in &grammars.grammars {
            if let Err(error) = grammar.compile() {
                panic!("{}: {error}", grammar.name);
            }
        }
        assert_eq!(grammars.grammars.len(), LINKED_PARSERS.len());
    }
}
