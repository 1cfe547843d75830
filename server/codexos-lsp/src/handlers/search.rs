//! Search of the workspace index: `codexos/search` (locations, snippets, scores),
//! `workspace/symbol` (symbols from the index) and the `codexos.rag.query` command. Each runs the
//! search on a blocking thread, on what the index holds so far.

use std::sync::Arc;

use codexos_index::{SearchMode, SearchRequest};
use codexos_service::index::{Found, WorkspaceIndexError};
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
}

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

/// Runs a search off the request loop.
pub async fn find(session: &Arc<Session>, request: SearchRequest) -> Result<Vec<Found>> {
    let index = session.index().ok_or_else(no_index)?;
    tokio::task::spawn_blocking(move || index.search(&request))
        .await
        .map_err(|error| Error {
            code: ErrorCode::InternalError,
            message: format!("search failed: {error}").into(),
            data: None,
        })?
        .map_err(index_error)
}

fn location(session: &Session, found: &Found) -> Option<(Uri, Range)> {
    let root = session.root()?;
    let uri = Uri::from_file_path(root.join(&found.hit.path))?;
    let range = Range::new(
        Position::new(found.hit.start_line.saturating_sub(1), 0),
        Position::new(found.hit.end_line, 0),
    );
    Some((uri, range))
}

pub async fn search(session: &Arc<Session>, params: SearchParams) -> Result<Vec<SearchResult>> {
    let request = SearchRequest {
        query: params.query,
        k: params.k.unwrap_or(20).clamp(1, 200),
        mode: SearchMode::default(),
        collapse_files: params.files,
        path_glob: params.paths,
        language: params.language,
    };
    let found = find(session, request).await?;
    Ok(found
        .iter()
        .filter_map(|found| {
            let (uri, range) = location(session, found)?;
            Some(SearchResult {
                uri,
                range,
                symbol: found.hit.symbol.clone(),
                score: found.hit.score,
                snippet: found.text.clone(),
            })
        })
        .collect())
}

pub async fn workspace_symbol(
    session: &Arc<Session>,
    params: WorkspaceSymbolParams,
) -> Result<Option<Vec<WorkspaceSymbol>>> {
    if params.query.trim().is_empty() || session.index().is_none() {
        return Ok(None);
    }
    let mut request = SearchRequest::new(params.query);
    request.k = 50;
    let found = match find(session, request).await {
        Ok(found) => found,
        Err(error) => {
            tracing::info!("workspace/symbol: {}", error.message);
            return Ok(None);
        }
    };
    Ok(Some(
        found
            .iter()
            .filter(|found| !found.hit.symbol.is_empty())
            .filter_map(|found| {
                let (uri, range) = location(session, found)?;
                let name = found
                    .hit
                    .symbol
                    .rsplit([':', '.'])
                    .next()
                    .unwrap_or(&found.hit.symbol);
                Some(WorkspaceSymbol {
                    name: name.to_owned(),
                    kind: SymbolKind::FUNCTION,
                    tags: None,
                    container_name: Some(found.hit.path.clone()),
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

#[derive(Debug, Serialize)]
pub struct RagChunk {
    pub path: String,
    pub start_line: u32,
    pub end_line: u32,
    pub score: f32,
    pub symbol: String,
    pub text: String,
}

pub async fn rag_query(session: &Arc<Session>, query: RagQuery) -> Result<serde_json::Value> {
    let mut request = SearchRequest::new(query.query);
    request.k = query.k.unwrap_or(8).clamp(1, 100);
    let found = find(session, request).await?;
    let results: Vec<RagChunk> = found
        .into_iter()
        .map(|found| RagChunk {
            path: found.hit.path,
            start_line: found.hit.start_line,
            end_line: found.hit.end_line,
            score: found.hit.score,
            symbol: found.hit.symbol,
            text: found.text,
        })
        .collect();
    Ok(serde_json::json!({ "project_id": query.project_id, "results": results }))
}
