//! The agent-flow language (`*.flow.json`): a tolerant JSON parser that keeps every byte range,
//! a typed view of the flow graph, the checks behind `codexos check` and the editor's
//! diagnostics, and the editor intelligence (completion, hover, navigation, rename, symbols,
//! formatting).
//!
//! Pure and synchronous: no I/O, no LSP types. Offsets are bytes ([`TextRange`]); the edges
//! convert them with [`LineIndex`].

pub mod catalog;
mod checks;
mod cursor;
pub mod expr;
mod fixes;
mod format;
mod graph;
mod ide;
pub mod model;
mod suggest;
pub mod syntax;
pub mod template;
pub mod text;

pub use catalog::{Catalog, Entry, FlowFileStatus, FlowSource, ProviderEntry, StaticCatalog};
pub use text::{Encoding, LineCol, LineIndex, TextRange};

/// How deep sub-flows may nest (a sub-flow of a sub-flow is two levels): the checks report a
/// chain deeper than this, and the runner's default bound is the same.
pub const MAX_SUB_FLOW_DEPTH: usize = 8;

/// The file name suffix that makes a JSON file a flow.
pub const FLOW_SUFFIX: &str = ".flow.json";

/// Stable codes of flow findings, shown as `error[code]` and used in code action kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    InvalidJson,
    Schema,
    DuplicateId,
    UnknownNode,
    MissingEntry,
    MultipleEntry,
    MissingExit,
    UnreachableNode,
    DeadEnd,
    CycleWithoutExit,
    UnknownTool,
    UnknownModel,
    MissingSecret,
    UnknownTemplateRef,
    UnknownFlow,
    FlowOutsideWorkspace,
    InvalidExpression,
    InvalidToolArgs,
    SubFlowCycle,
    SubFlowTooDeep,
    ProviderUnavailable,
}

impl Code {
    pub const ALL: &[Code] = &[
        Code::InvalidJson,
        Code::Schema,
        Code::DuplicateId,
        Code::UnknownNode,
        Code::MissingEntry,
        Code::MultipleEntry,
        Code::MissingExit,
        Code::UnreachableNode,
        Code::DeadEnd,
        Code::CycleWithoutExit,
        Code::UnknownTool,
        Code::UnknownModel,
        Code::MissingSecret,
        Code::UnknownTemplateRef,
        Code::UnknownFlow,
        Code::FlowOutsideWorkspace,
        Code::InvalidExpression,
        Code::InvalidToolArgs,
        Code::SubFlowCycle,
        Code::SubFlowTooDeep,
        Code::ProviderUnavailable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidJson => "invalid-json",
            Code::Schema => "schema",
            Code::DuplicateId => "duplicate-id",
            Code::UnknownNode => "unknown-node",
            Code::MissingEntry => "missing-entry",
            Code::MultipleEntry => "multiple-entry",
            Code::MissingExit => "missing-exit",
            Code::UnreachableNode => "unreachable-node",
            Code::DeadEnd => "dead-end",
            Code::CycleWithoutExit => "cycle-without-exit",
            Code::UnknownTool => "unknown-tool",
            Code::UnknownModel => "unknown-model",
            Code::MissingSecret => "missing-secret",
            Code::UnknownTemplateRef => "unknown-template-ref",
            Code::UnknownFlow => "unknown-flow",
            Code::FlowOutsideWorkspace => "flow-outside-workspace",
            Code::InvalidExpression => "invalid-expression",
            Code::InvalidToolArgs => "invalid-tool-args",
            Code::SubFlowCycle => "sub-flow-cycle",
            Code::SubFlowTooDeep => "sub-flow-too-deep",
            Code::ProviderUnavailable => "provider-unavailable",
        }
    }

    pub fn parse(code: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.as_str() == code)
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
    Info,
    Hint,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
            Severity::Hint => "hint",
        }
    }
}

/// A replacement of `range` by `new_text`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextEdit {
    pub range: TextRange,
    pub new_text: String,
}

/// A command the editor runs to fix a finding that needs more than a text edit
/// (e.g. adding a secret to the vault).
#[derive(Clone, Debug, PartialEq)]
pub struct FixCommand {
    pub title: String,
    pub command: String,
    pub arguments: Vec<serde_json::Value>,
}

/// One way to fix a finding: text edits to this document, or a command.
#[derive(Clone, Debug, PartialEq)]
pub struct Fix {
    pub title: String,
    pub edits: Vec<TextEdit>,
    pub command: Option<FixCommand>,
    /// The fix the editor should offer first (and apply in "fix all").
    pub preferred: bool,
}

/// A place elsewhere in the document that explains a finding ("first defined here").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Related {
    pub range: TextRange,
    pub message: String,
}

/// A problem in a flow file, with its exact range and, where one exists, its fixes.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub range: TextRange,
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    pub related: Vec<Related>,
    pub fixes: Vec<Fix>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompletionKind {
    NodeType,
    Field,
    NodeId,
    Tool,
    Model,
    Provider,
    VaultKey,
    TemplateRef,
    Value,
}

/// One completion proposal. `edit` replaces the token being typed (so editors filter on it);
/// `snippet` says whether `edit.new_text` uses `$1`-style tab stops.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    pub label: String,
    pub kind: CompletionKind,
    pub detail: Option<String>,
    pub documentation: Option<String>,
    pub edit: TextEdit,
    pub snippet: bool,
    /// What the editor filters on when it differs from the label (e.g. a key with its quotes).
    pub filter_text: Option<String>,
}

/// Markdown shown on hover over `range`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hover {
    pub range: TextRange,
    pub markdown: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymbolKind {
    Flow,
    Node,
    Field,
}

/// The outline of a flow: the flow, then its nodes, each with its fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Symbol {
    pub name: String,
    pub detail: Option<String>,
    pub kind: SymbolKind,
    pub range: TextRange,
    pub selection_range: TextRange,
    pub children: Vec<Symbol>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RenameError {
    NotANodeId,
    InvalidName(String),
    AlreadyExists(String),
}

impl std::fmt::Display for RenameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RenameError::NotANodeId => f.write_str("only node ids can be renamed here"),
            RenameError::InvalidName(name) => write!(
                f,
                "`{name}` is not a valid node id: use letters, digits, `_` and `-`, starting with a letter or `_`"
            ),
            RenameError::AlreadyExists(name) => write!(f, "a node with id `{name}` already exists"),
        }
    }
}

impl std::error::Error for RenameError {}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatError {
    pub message: String,
}

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot format: {}", self.message)
    }
}

impl std::error::Error for FormatError {}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoldingRange {
    pub range: TextRange,
}

/// A parsed flow file: parse once per document version, then ask it anything.
#[derive(Clone, Debug)]
pub struct FlowFile {
    text: String,
    json: syntax::Json,
    flow: model::Flow,
}

impl FlowFile {
    pub fn parse(text: &str) -> FlowFile {
        let json = syntax::parse(text);
        let flow = model::Flow::build(&json);
        FlowFile {
            text: text.to_owned(),
            json,
            flow,
        }
    }

    pub fn json(&self) -> &syntax::Json {
        &self.json
    }

    pub fn flow(&self) -> &model::Flow {
        &self.flow
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Every finding, sorted by position.
    pub fn findings(&self, catalog: &dyn Catalog) -> Vec<Finding> {
        checks::run(&self.text, &self.json, &self.flow, catalog)
    }

    fn ide(&self) -> ide::Ide<'_> {
        ide::Ide {
            text: &self.text,
            json: &self.json,
            flow: &self.flow,
        }
    }

    pub fn completions(&self, offset: u32, catalog: &dyn Catalog) -> Vec<Completion> {
        self.ide().completions(offset, catalog)
    }

    pub fn hover(&self, offset: u32, catalog: &dyn Catalog) -> Option<Hover> {
        self.ide().hover(offset, catalog)
    }

    /// The declaration of the node id under the cursor (an `id` value, or a reference to it).
    pub fn definition(&self, offset: u32) -> Option<TextRange> {
        self.ide().definition(offset)
    }

    /// Every reference to the node id under the cursor, its declaration first when asked.
    pub fn references(&self, offset: u32, include_declaration: bool) -> Vec<TextRange> {
        self.ide().references(offset, include_declaration)
    }

    /// The range of the node id that a rename at `offset` would change.
    pub fn prepare_rename(&self, offset: u32) -> Option<TextRange> {
        self.ide().prepare_rename(offset)
    }

    /// Edits that rename the node id under the cursor everywhere it is used, templates included.
    pub fn rename(&self, offset: u32, new_name: &str) -> Result<Vec<TextEdit>, RenameError> {
        self.ide().rename(offset, new_name)
    }

    pub fn symbols(&self) -> Vec<Symbol> {
        self.ide().symbols()
    }

    pub fn folding_ranges(&self) -> Vec<FoldingRange> {
        self.ide().folding_ranges()
    }

    /// The whole document formatted: stable key order, two-space indentation. Fails on a
    /// document that is not valid JSON (nothing is rewritten then).
    pub fn format(&self) -> Result<String, FormatError> {
        format::format(&self.text, &self.json)
    }
}

#[cfg(test)]
mod tests;
