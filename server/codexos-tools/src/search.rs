//! The workspace index as `search_workspace` sees it; the index crate implements [`Search`].

use std::path::PathBuf;

/// One chunk the index found.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SearchHit {
    /// Relative to the workspace root.
    pub path: PathBuf,
    /// One-based, inclusive.
    pub start_line: u32,
    pub end_line: u32,
    pub score: f32,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SearchError(pub String);

/// Hybrid search over the workspace index. Synchronous: the tool calls it off the async runtime.
pub trait Search: Send + Sync {
    fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>, SearchError>;
}
