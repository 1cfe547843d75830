//! Code-aware chunking of workspace files: given a path and its text, the chunks to embed
//! and search. Pure and synchronous; no I/O except reading a user grammar folder once.
//!
//! | Files | Chunked by |
//! |---|---|
//! | Rust, Python, TypeScript/TSX, JavaScript/JSX, Go, Java, C, C++, C#, Ruby, PHP, and any grammar folder's extensions | tree-sitter items from `grammars/<lang>/chunks.scm` |
//! | Markdown (`md`, `markdown`, `mdx`) | headings: a section is a heading, its body and its subsections |
//! | JSON, TOML, YAML | top-level keys (TOML: tables), array elements |
//! | everything else, and JSON/TOML/YAML that does not parse | the sliding window (300 tokens, 50 overlap) |
//!
//! Guarantees for every input `&str` (tested by property tests):
//! - no panic, and time and memory linear in the file (files over
//!   [`ChunkConfig::max_file_bytes`] are refused with [`ChunkError::FileTooLarge`]);
//! - chunks come in file order, their byte ranges start and end on char boundaries, and
//!   `chunk.text == text[chunk.byte_range]`;
//! - every non-blank line is in some chunk; chunks never overlap, except sliding-window
//!   chunks, which repeat up to `overlap_tokens` of the window before;
//! - code chunks are cut only between syntax nodes or between lines: a large function is
//!   split between its statements, a large `impl`/class between its methods. The only cuts
//!   inside a token are between the lines of a token bigger than `max_tokens` (a long
//!   docstring or string literal); a one-line token stays whole, so a code chunk can exceed
//!   `max_tokens` only by holding such a line;
//! - docs, comments and attributes directly above an item, Python and TypeScript decorators,
//!   and a `;` ending an item (C's `struct s { … };`), are in the item's chunk;
//! - an item under `min_tokens` merges with its neighbours; an item over `max_tokens` is split.
//!
//! Sizes are in estimated tokens: see [`estimate_tokens`]. Line numbers are 1-based and
//! inclusive. The git commit a chunk belongs to is recorded by the index, not here.

mod assemble;
mod chunk;
mod code;
mod config;
mod error;
mod grammar;
mod lines;
mod markdown;
mod module_path;
mod structured;
mod tokens;
mod window;

use std::path::Path;

pub use chunk::{Chunk, ChunkKind, SymbolSpan};
pub use config::ChunkConfig;
pub use error::{ChunkError, SetupError};
pub use grammar::LINKED_PARSERS;
pub use module_path::ModulePathStyle;
pub use tokens::estimate_tokens;

use assemble::FileContext;
use grammar::{Grammar, Grammars};

/// Chunks files. Cheap to share: `Send + Sync`, one per index, used from any thread.
pub struct Chunker {
    config: ChunkConfig,
    grammars: Grammars,
}

/// How one file is chunked.
enum Format<'a> {
    Code(&'a Grammar),
    Markdown,
    Json,
    Toml,
    Yaml,
    Text,
}

impl Chunker {
    /// A chunker with the built-in grammars (see [`LINKED_PARSERS`]), compiled into the
    /// binary. Cheap: a language's query is compiled when a file of it is first chunked.
    pub fn new(config: ChunkConfig) -> Result<Self, SetupError> {
        config.validate()?;
        Ok(Self {
            config,
            grammars: Grammars::builtin()?,
        })
    }

    /// A chunker with the built-in grammars plus every `<folder>/<name>/` holding a
    /// `grammar.toml` and a `chunks.scm` (the layout of the repository's `grammars/`). A
    /// grammar named like a built-in one replaces its rules. Its `parser` must be one of
    /// [`LINKED_PARSERS`]: rules and file extensions need no rebuild, a new parser does.
    pub fn with_grammar_folder(config: ChunkConfig, folder: &Path) -> Result<Self, SetupError> {
        let mut chunker = Self::new(config)?;
        chunker.grammars.load_folder(folder)?;
        Ok(chunker)
    }

    pub fn config(&self) -> &ChunkConfig {
        &self.config
    }

    /// Names of the tree-sitter languages this chunker knows.
    pub fn grammar_names(&self) -> Vec<&str> {
        self.grammars.names().collect()
    }

    /// The language `path` is chunked as (by extension or file name): a grammar's name,
    /// `markdown`, `json`, `toml`, `yaml`, or `text`. This is [`Chunk::language`].
    pub fn language_of(&self, path: &Path) -> &str {
        match self.format_of(path) {
            Format::Code(grammar) => &grammar.name,
            Format::Markdown => "markdown",
            Format::Json => "json",
            Format::Toml => "toml",
            Format::Yaml => "yaml",
            Format::Text => "text",
        }
    }

    fn format_of(&self, path: &Path) -> Format<'_> {
        if let Some(grammar) = self.grammars.for_path(path) {
            return Format::Code(grammar);
        }
        let file_name = path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or_default();
        if matches!(
            file_name,
            "Cargo.lock" | "Pipfile" | "poetry.lock" | "uv.lock"
        ) {
            return Format::Toml;
        }
        let extension = path
            .extension()
            .and_then(|extension| extension.to_str())
            .unwrap_or_default();
        match extension.to_ascii_lowercase().as_str() {
            "md" | "markdown" | "mdx" => Format::Markdown,
            "json" | "jsonc" | "json5" | "ipynb" => Format::Json,
            "toml" => Format::Toml,
            "yaml" | "yml" => Format::Yaml,
            _ => Format::Text,
        }
    }

    /// The chunks of one file, in file order. `path` names the file in chunks and gives
    /// the language and the module part of symbols; it is not read. Only a file over
    /// [`ChunkConfig::max_file_bytes`] is refused; any other text yields chunks (none if it
    /// is blank), through the sliding window when its structure cannot be read.
    pub fn chunk(&self, path: &Path, text: &str) -> Result<Vec<Chunk>, ChunkError> {
        if text.len() > self.config.max_file_bytes {
            return Err(ChunkError::FileTooLarge {
                path: path.to_path_buf(),
                bytes: text.len(),
                limit: self.config.max_file_bytes,
            });
        }
        let format = self.format_of(path);
        let ctx = FileContext::new(path, self.language_of(path), text, &self.config);
        let structured = match format {
            Format::Code(grammar) => code::chunk_code(&ctx, grammar),
            Format::Markdown => Some(markdown::chunk_markdown(&ctx)),
            Format::Json => structured::chunk_json(&ctx),
            Format::Toml => structured::chunk_toml(&ctx),
            Format::Yaml => structured::chunk_yaml(&ctx),
            Format::Text => None,
        };
        Ok(structured.unwrap_or_else(|| window::chunk_windows(&ctx)))
    }
}
