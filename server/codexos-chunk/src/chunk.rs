//! What the chunker hands to the index.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

/// One piece of a file, sized for embedding and search.
///
/// Chunks of one file come in file order. Except for [`ChunkKind::Window`] chunks, they never
/// overlap; all chunks of a file together cover every line that is not blank. The git commit
/// a chunk was indexed at is not here: the index layer records it beside the chunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// The path the chunker was given (normally workspace-relative).
    pub path: PathBuf,
    /// `rust`, `python`, `typescript`, `tsx`, `javascript`, `go`, `java`, `c`, `cpp`, `csharp`,
    /// `ruby`, `php` or a user grammar's name, `markdown`, `json`, `toml`, `yaml`, or `text`.
    pub language: String,
    pub kind: ChunkKind,
    /// Where the chunk lives: `module::Type::method` (Rust, the separator comes from the
    /// grammar), `package.module.Class.method` (Python), `pkg.Type.Method` (Go, the package
    /// from the file's `package` clause), `Title > Sub` (Markdown), the
    /// top-level key or table (JSON/TOML/YAML). Empty for windows and for top-level code of
    /// a file with no module name (`src/lib.rs`).
    pub symbol: String,
    /// Byte range in the file; `text == file[byte_range]`, and both ends are char boundaries.
    pub byte_range: Range<usize>,
    /// First line, 1-based.
    pub start_line: usize,
    /// Last line, 1-based and inclusive.
    pub end_line: usize,
    /// Size by the chunker's token estimate (see [`crate::estimate_tokens`]).
    pub tokens: usize,
    /// Every item (function, class, section, key …) whose first line is in this chunk, in
    /// file order, each with its own full extent: what `workspace/symbol` lists.
    pub symbols: Vec<SymbolSpan>,
    pub text: String,
}

/// An item found in a file: its symbol path, kind and full extent (docs and decorators
/// included), which may run past the chunk that lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SymbolSpan {
    pub symbol: String,
    pub kind: ChunkKind,
    /// 1-based, inclusive.
    pub start_line: usize,
    pub end_line: usize,
}

/// What a chunk is. For code, the kind comes from the grammar's query (`@item.function` →
/// [`ChunkKind::Function`]; a word this enum does not know becomes [`ChunkKind::Other`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ChunkKind {
    Function,
    Method,
    Class,
    Struct,
    Enum,
    Trait,
    /// A Java, C#, TypeScript, PHP or Go interface.
    Interface,
    Impl,
    /// A `mod` item, or top-level code of a source file (imports, statements).
    Module,
    Macro,
    Const,
    Type,
    /// A Markdown heading with its body.
    Section,
    /// A top-level key (JSON, YAML), table or key (TOML), or array element.
    Key,
    /// Text of a Markdown or config file outside any section or key, or several sections
    /// merged with none dominating.
    Document,
    /// A sliding-window chunk of a file without structure (or whose structure failed to parse).
    Window,
    /// A kind a user grammar named that this enum does not know.
    Other(String),
}

impl ChunkKind {
    /// The kind named by a query capture suffix (`@item.function` → `function`).
    pub fn from_capture(word: &str) -> Self {
        match word {
            "function" => Self::Function,
            "method" => Self::Method,
            "class" => Self::Class,
            "struct" => Self::Struct,
            "enum" => Self::Enum,
            "trait" => Self::Trait,
            "interface" => Self::Interface,
            "impl" => Self::Impl,
            "module" => Self::Module,
            "macro" => Self::Macro,
            "const" => Self::Const,
            "type" => Self::Type,
            "section" => Self::Section,
            "key" => Self::Key,
            "document" => Self::Document,
            "window" => Self::Window,
            other => Self::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Function => "function",
            Self::Method => "method",
            Self::Class => "class",
            Self::Struct => "struct",
            Self::Enum => "enum",
            Self::Trait => "trait",
            Self::Interface => "interface",
            Self::Impl => "impl",
            Self::Module => "module",
            Self::Macro => "macro",
            Self::Const => "const",
            Self::Type => "type",
            Self::Section => "section",
            Self::Key => "key",
            Self::Document => "document",
            Self::Window => "window",
            Self::Other(word) => word,
        }
    }
}

impl fmt::Display for ChunkKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}
