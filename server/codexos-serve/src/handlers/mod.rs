//! One handler per route: each reads its request, calls the service and shapes the answer;
//! what it does is the service's (the same calls as the editor's and the CLI's). Blocking work
//! (the index, the vault, the checks, trace files) runs on blocking threads.

pub(crate) mod authoring;
pub(crate) mod runs;
pub(crate) mod trust;

use std::path::Path;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use codexos_service::index::{SearchMode, SearchQuery, WorkspaceIndexError};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::{Role, TokenError};
use crate::error::{ApiError, JsonBody};

/// The OpenAPI 3 document of every route (a test holds it to the route table).
pub(crate) const OPENAPI: &str = include_str!("../../openapi.json");

pub(crate) async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| ApiError::internal(format!("the request stopped: {error}")))?
}

/// `POST /v1/rag/query` ⇐ `{query, project_id?, k?}`, as the editor's `codexos.rag.query` (the
/// seed's `/rag/query`): the hits `rag` nodes get, paths relative to the workspace.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RagQuery {
    query: String,
    #[serde(default)]
    project_id: Option<String>,
    #[serde(default)]
    k: Option<usize>,
}

pub(crate) async fn rag_query(
    State(state): State<AppState>,
    JsonBody(query): JsonBody<RagQuery>,
) -> Result<Json<Value>, ApiError> {
    let search = SearchQuery {
        k: query.k.unwrap_or(8).clamp(1, 100),
        mode: SearchMode::default(),
        ..SearchQuery::new(query.query)
    };
    let index = state.index.clone();
    let results = blocking(move || {
        let index = index.get().map_err(index_error)?;
        index.search(&search).map_err(index_error)
    })
    .await?;
    Ok(Json(
        json!({ "project_id": query.project_id, "results": results }),
    ))
}

fn index_error(error: WorkspaceIndexError) -> ApiError {
    let status = match error {
        WorkspaceIndexError::NotBuilt { .. } => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    ApiError::new(status, error.to_string())
}

/// `POST /v1/flows/check` ⇐ `{path?, text?}`: `codexos check`'s findings for a saved flow
/// (`path`, relative to the workspace) or a draft (`text`, checked as if it lived at `path`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CheckRequest {
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    text: Option<String>,
}

pub(crate) async fn check_flow(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<CheckRequest>,
) -> Result<Json<Value>, ApiError> {
    let workspace = state.workspace.clone();
    blocking(move || {
        let shown = request
            .path
            .clone()
            .unwrap_or_else(|| "draft.flow.json".to_owned());
        let path = inside(workspace.root(), &shown)?;
        let text = match (request.text, request.path) {
            (Some(text), _) => text,
            (None, Some(relative)) => std::fs::read_to_string(&path)
                .map_err(|error| ApiError::not_found(format!("`{relative}`: {error}")))?,
            (None, None) => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid body: give `path` (a flow of the workspace) or `text` (a draft)",
                ));
            }
        };
        let file = workspace.check_text(&path, text);
        Ok(Json(checked_json(&shown, &file)))
    })
    .await
}

/// A checked flow as the API answers it: counts and each finding with its place.
fn checked_json(shown: &str, file: &codexos_service::CheckedFile) -> Value {
    let findings: Vec<Value> = file
        .findings
        .iter()
        .map(|finding| {
            let (line, column) = file.position(finding.range.start);
            json!({
                "line": line,
                "column": column,
                "severity": finding.severity.as_str(),
                "code": finding.code.as_str(),
                "message": finding.message,
                "fixes": finding.fixes.iter().map(|fix| fix.title.as_str()).collect::<Vec<_>>(),
            })
        })
        .collect();
    let count = |severity: &str| {
        findings
            .iter()
            .filter(|finding| finding["severity"] == severity)
            .count()
    };
    json!({
        "path": shown,
        "errors": count("error"),
        "warnings": count("warning"),
        "findings": findings,
    })
}

/// A path of the workspace: inside it (links followed), else a 400.
fn inside(root: &Path, relative: &str) -> Result<std::path::PathBuf, ApiError> {
    codexos_tools::resolve_in_workspace(root, relative).map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("invalid body: `path` {relative}: {error}"),
        )
    })
}

/// `POST /v1/vault/put` ⇐ `{key, value, tags?}` (the seed's `/vault/put`) ⇒ `{key, created}`:
/// the name only, never the value.
pub(crate) async fn vault_put(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<codexos_vault::PutRequest>,
) -> Result<Json<Value>, ApiError> {
    let key = request.key.clone();
    let workspace = state.workspace.clone();
    let outcome = blocking(move || {
        workspace
            .open_vault()
            .and_then(|vault| vault.put_request(request))
            .map_err(|error| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, error.to_string()))
    })
    .await?;
    // The next run reads the vault again (its secrets and what it redacts).
    state.runs.reload().await;
    let created = matches!(outcome, codexos_vault::PutOutcome::Created);
    Ok(Json(json!({ "key": key, "created": created })))
}

/// `GET /v1/tokens`: every token's name, role and creation time (never a token).
pub(crate) async fn list_tokens(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let tokens = state.tokens.clone();
    let tokens = blocking(move || tokens.list().map_err(ApiError::internal)).await?;
    let tokens: Vec<Value> = tokens
        .iter()
        .map(|token| json!({ "name": token.name, "role": token.role, "created_at": token.created_at }))
        .collect();
    Ok(Json(json!({ "tokens": tokens })))
}

/// `POST /v1/tokens` ⇐ `{role, name?}` ⇒ 201 `{name, role, token}`: the token, this once.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewToken {
    role: Role,
    #[serde(default)]
    name: Option<String>,
}

pub(crate) async fn create_token(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<NewToken>,
) -> Result<Response, ApiError> {
    let tokens = state.tokens.clone();
    let (secret, info) = blocking(move || {
        tokens
            .create(request.role, request.name.as_deref())
            .map_err(|error| match error {
                TokenError::Exists(_) => ApiError::new(StatusCode::CONFLICT, error.to_string()),
                TokenError::BadName(_) => ApiError::new(StatusCode::BAD_REQUEST, error.to_string()),
                error => ApiError::internal(error),
            })
    })
    .await?;
    let answer = json!({ "name": info.name, "role": info.role, "token": secret });
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// `DELETE /v1/tokens/{name}`: the token is refused from its next request on.
pub(crate) async fn revoke_token(
    State(state): State<AppState>,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Result<StatusCode, ApiError> {
    let tokens = state.tokens.clone();
    let shown = name.clone();
    match blocking(move || tokens.revoke(&name).map_err(ApiError::internal)).await? {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(ApiError::not_found(format!("no token named `{shown}`"))),
    }
}
