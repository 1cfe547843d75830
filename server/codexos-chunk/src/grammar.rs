//! Tree-sitter grammars: a linked parser plus chunking rules read from `grammars/<name>/`.
//!
//! Rules (file extensions, which parser, which nodes are items and how they are named) live
//! in a folder per language: `grammar.toml` and `chunks.scm`. The folders of the built-in
//! languages are compiled into the binary; a grammar folder given at run time adds
//! languages or replaces built-in rules without rebuilding — as long as the parser it names
//! is one linked into this build (see [`LINKED_PARSERS`]).

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use tree_sitter::{Language, Query};

use crate::chunk::ChunkKind;
use crate::error::SetupError;
use crate::module_path::ModulePathStyle;

/// Tree-sitter parsers compiled into this build; a `grammar.toml` names one as `parser`.
pub const LINKED_PARSERS: &[&str] = &["rust", "python"];

fn linked_parser(name: &str) -> Option<Language> {
    match name {
        "rust" => Some(tree_sitter_rust::LANGUAGE.into()),
        "python" => Some(tree_sitter_python::LANGUAGE.into()),
        _ => None,
    }
}

/// The built-in grammar folders, embedded so the binary needs no files beside it.
const BUILTIN: &[(&str, &str, &str)] = &[
    (
        "grammars/rust",
        include_str!("../../../grammars/rust/grammar.toml"),
        include_str!("../../../grammars/rust/chunks.scm"),
    ),
    (
        "grammars/python",
        include_str!("../../../grammars/python/grammar.toml"),
        include_str!("../../../grammars/python/chunks.scm"),
    ),
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
    pub(crate) query: Query,
    /// Indexed by capture index.
    pub(crate) roles: Vec<CaptureRole>,
    pub(crate) separator: String,
    pub(crate) module_path: ModulePathStyle,
}

impl Grammar {
    fn compile(folder: &Path, manifest_text: &str, query_text: &str) -> Result<Self, SetupError> {
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
        let query_path = folder.join(QUERY_FILE);
        let query = Query::new(&language, query_text).map_err(|error| SetupError::Query {
            path: query_path.clone(),
            line: error.row + 1,
            column: error.column + 1,
            message: error.message.clone(),
        })?;
        let roles = query
            .capture_names()
            .iter()
            .map(|name| {
                capture_role(name).ok_or_else(|| unknown_capture(&query_path, query_text, name))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if !roles
            .iter()
            .any(|role| matches!(role, CaptureRole::Item(_)))
        {
            return Err(SetupError::Query {
                path: query_path,
                line: 1,
                column: 1,
                message: "captures no `@item.KIND`, so nothing would be chunked by it".into(),
            });
        }
        Ok(Self {
            name: manifest.name,
            extensions: manifest
                .extensions
                .iter()
                .map(|extension| extension.to_ascii_lowercase())
                .collect(),
            file_names: manifest.file_names,
            language,
            query,
            roles,
            separator: manifest.symbol_separator,
            module_path: manifest.module_path,
        })
    }
}

fn capture_role(name: &str) -> Option<CaptureRole> {
    match name {
        "name" => Some(CaptureRole::Name),
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
            "unknown capture `{needle}`; use @item.KIND, @name, @attach, or a name starting with `_`"
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
            grammars.add(Grammar::compile(Path::new(folder), manifest, query)?);
        }
        Ok(grammars)
    }

    /// Adds every `<dir>/<name>/` folder holding a `grammar.toml` (folders without one are
    /// left alone). A grammar named like a known one replaces it; its extensions win.
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
            self.add(Grammar::compile(&folder, &manifest, &query)?);
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
