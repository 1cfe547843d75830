//! Search of the workspace index: `codexos/search` (locations, snippets, scores) and
//! `workspace/symbol` (symbols from the index) over every workspace folder, and the
//! `codexos.rag.query` command over the workspace root's. Each runs the search on a blocking
//! thread, on what the indexes hold so far.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use codexos_service::index::{
    SearchHit, SearchMode, SearchQuery, WorkspaceIndex, WorkspaceIndexError, search_folders,
};
use serde::{Deserialize, Serialize};
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Result};
use tower_lsp_server::ls_types::{
    Location, OneOf, Position, Range, SymbolKind, Uri, WorkspaceSymbol, WorkspaceSymbolParams,
};

use crate::session::Session;

/// `codexos/search` parameters (docs/protocol.md).
#[derive(Debug, Deserialize)]
pub struct SearchParams {
    pub query: String,
    #[serde(default)]
    pub k: Option<usize>,
    /// One result per file.
    #[serde(default)]
    pub files: bool,
    /// A path glob, e.g. `src/**/*.rs`.
    #[serde(default)]
    pub paths: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    /// Only what changed since this commit (`codexos search --commit`).
    #[serde(default)]
    pub commit: Option<String>,
}

/// A `codexos/search` result: the service's [`SearchHit`] with its location as the protocol
/// gives locations (a URI and a range) and its text as `snippet`.
#[derive(Debug, Serialize)]
pub struct SearchResult {
    pub uri: Uri,
    pub range: Range,
    pub symbol: String,
    pub score: f32,
    pub snippet: String,
}

fn no_index() -> Error {
    Error {
        code: ErrorCode::ServerError(-32001),
        message: "the workspace has no index yet (no workspace folder, or it is still opening)"
            .into(),
        data: None,
    }
}

fn index_error(error: WorkspaceIndexError) -> Error {
    Error {
        code: ErrorCode::ServerError(-32002),
        message: error.to_string().into(),
        data: None,
    }
}

fn stopped(error: tokio::task::JoinError) -> Error {
    Error {
        code: ErrorCode::InternalError,
        message: format!("search failed: {error}").into(),
        data: None,
    }
}

/// Searches every folder's index off the request loop: hits with the root of their folder.
async fn find(session: &Arc<Session>, query: SearchQuery) -> Result<Vec<(PathBuf, SearchHit)>> {
    let indexes = session.indexes();
    if indexes.is_empty() {
        return Err(no_index());
    }
    tokio::task::spawn_blocking(move || search_folders(&indexes, &query))
        .await
        .map_err(stopped)?
        .map_err(index_error)
}

fn location(root: &Path, hit: &SearchHit) -> Option<(Uri, Range)> {
    let uri = Uri::from_file_path(root.join(&hit.path))?;
    let range = Range::new(
        Position::new(hit.start_line.saturating_sub(1), 0),
        Position::new(hit.end_line, 0),
    );
    Some((uri, range))
}

pub async fn search(session: &Arc<Session>, params: SearchParams) -> Result<Vec<SearchResult>> {
    let query = SearchQuery {
        k: params.k.unwrap_or(20).clamp(1, 200),
        files: params.files,
        paths: params.paths,
        language: params.language,
        commit: params.commit,
        ..SearchQuery::new(params.query)
    };
    let found = find(session, query).await?;
    Ok(found
        .into_iter()
        .filter_map(|(root, hit)| {
            let (uri, range) = location(&root, &hit)?;
            Some(SearchResult {
                uri,
                range,
                symbol: hit.symbol,
                score: hit.score,
                snippet: hit.text,
            })
        })
        .collect())
}

pub async fn workspace_symbol(
    session: &Arc<Session>,
    params: WorkspaceSymbolParams,
) -> Result<Option<Vec<WorkspaceSymbol>>> {
    if params.query.trim().is_empty() || session.indexes().is_empty() {
        return Ok(None);
    }
    let query = SearchQuery {
        k: 50,
        ..SearchQuery::new(params.query)
    };
    let found = match find(session, query).await {
        Ok(found) => found,
        Err(error) => {
            tracing::info!("workspace/symbol: {}", error.message);
            return Ok(None);
        }
    };
    Ok(Some(
        found
            .into_iter()
            .filter(|(_, hit)| !hit.symbol.is_empty())
            .filter_map(|(root, hit)| {
                let (uri, range) = location(&root, &hit)?;
                let name = hit.symbol.rsplit([':', '.']).next().unwrap_or(&hit.symbol);
                Some(WorkspaceSymbol {
                    name: name.to_owned(),
                    kind: SymbolKind::FUNCTION,
                    tags: None,
                    container_name: Some(hit.path.clone()),
                    location: OneOf::Left(Location { uri, range }),
                    data: None,
                })
            })
            .collect(),
    ))
}

/// `codexos.rag.query` ⇐ `{query, project_id, k?}` (the seed's `/rag/query`).
#[derive(Debug, Deserialize)]
pub struct RagQuery {
    pub query: String,
    #[serde(default)]
    pub project_id: Option<String>,
    #[serde(default)]
    pub k: Option<usize>,
}

/// The hits of the workspace root's index, as `rag` nodes get them (paths relative to it).
pub async fn rag_query(session: &Arc<Session>, query: RagQuery) -> Result<serde_json::Value> {
    let index: Arc<WorkspaceIndex> = session.index().ok_or_else(no_index)?;
    let search = SearchQuery {
        k: query.k.unwrap_or(8).clamp(1, 100),
        mode: SearchMode::default(),
        ..SearchQuery::new(query.query)
    };
    let results = tokio::task::spawn_blocking(move || index.search(&search))
        .await
        .map_err(stopped)?
        .map_err(index_error)?;
    Ok(serde_json::json!({ "project_id": query.project_id, "results": results }))
}
