//! The workspace index as `search_workspace` sees it; the service implements [`Search`].

/// One chunk the workspace index found: the one search hit every front end shows — the
/// command line (`codexos search --json`), the language server (`codexos.rag.query`; its
/// `codexos/search` turns the location into a URI and a range), `rag` nodes and this tool.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SearchHit {
    /// Relative to the workspace root, `/`-separated.
    pub path: String,
    /// One-based, inclusive.
    pub start_line: u32,
    pub end_line: u32,
    pub score: f32,
    /// The symbol the chunk holds (`retry_payment`, `Invoice.total`, a heading), if any.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub symbol: String,
    /// The chunk's text as the index holds it.
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SearchError(pub String);

/// Hybrid search over the workspace index. Synchronous: the tool calls it off the async runtime.
pub trait Search: Send + Sync {
    fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>, SearchError>;
}
