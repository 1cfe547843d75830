//! The admin's view of the trust policy: what the workspace asks for and what the user allowed
//! (`GET /v1/trust`), and allowing or taking back one thing (`POST /v1/trust`), through the
//! same service calls as `codexos trust`, on the trust store of the user `codexos serve` runs as.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use codexos_policy::TrustFile;
use codexos_service::trust::{TrustChange, TrustChangeError, TrustTarget};
use serde::Deserialize;
use serde_json::{Value, json};

use super::blocking;
use crate::AppState;
use crate::error::{ApiError, JsonBody};

pub(crate) async fn show(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let workspace = state.workspace.clone();
    blocking(move || {
        let trust = user_trust()?;
        workspace.trust_report(&trust).map(Json).map_err(refusal)
    })
    .await
}

/// `POST /v1/trust` ⇐ `{change: "allow" | "revoke", what: {kind, …}}` ⇒ `{outcomes: [{line,
/// changed}]}`; `kind` is `command`, `host` (with `method`), `write`, `plugin`, `mcp`,
/// `protect` or `all`, named as for `codexos trust`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Change {
    change: TrustChange,
    what: TrustTarget,
}

pub(crate) async fn change(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<Change>,
) -> Result<Json<Value>, ApiError> {
    let workspace = state.workspace.clone();
    blocking(move || {
        let trust = user_trust()?;
        let outcomes = workspace
            .change_trust(&trust, request.change, request.what)
            .map_err(refusal)?;
        let outcomes: Vec<Value> = outcomes
            .iter()
            .map(|outcome| json!({ "line": outcome.line, "changed": outcome.changed }))
            .collect();
        Ok(Json(json!({ "outcomes": outcomes })))
    })
    .await
}

fn user_trust() -> Result<TrustFile, ApiError> {
    TrustFile::user().map_err(|error| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the trust store cannot be found: {error}"),
        )
    })
}

fn refusal(error: TrustChangeError) -> ApiError {
    let status = match &error {
        TrustChangeError::Invalid(_) => StatusCode::BAD_REQUEST,
        TrustChangeError::NotFound(_) => StatusCode::NOT_FOUND,
        TrustChangeError::Items(_) | TrustChangeError::Store(_) => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    ApiError::new(status, error.to_string())
}
