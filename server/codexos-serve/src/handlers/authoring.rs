//! The creator's routes: flows and plug-in tool files written through the service's checks
//! ([`codexos_service::authoring`]): a flow with errors, a tool file the registry would not load
//! or a path the policy keeps closed is refused with nothing written.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use codexos_service::authoring::AuthoringError;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{blocking, checked_json};
use crate::AppState;
use crate::error::{ApiError, JsonBody};

/// `PUT /v1/flows` ⇐ `{path, text}`: the flow checked as `codexos check` checks it, written when
/// it has no error ⇒ the findings (warnings stay); 422 with the findings when it has errors.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FlowWrite {
    path: String,
    text: String,
}

pub(crate) async fn put_flow(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<FlowWrite>,
) -> Result<Response, ApiError> {
    let workspace = state.workspace.clone();
    blocking(
        move || match workspace.save_flow(&request.path, request.text) {
            Ok(checked) => {
                let mut answer = checked_json(&request.path, &checked);
                answer["written"] = Value::Bool(true);
                Ok(Json(answer).into_response())
            }
            Err(AuthoringError::FlowErrors {
                path,
                errors,
                checked,
            }) => {
                let mut answer = checked_json(&path, &checked);
                answer["written"] = Value::Bool(false);
                answer["error"] = json!(format!(
                    "`{path}` has {errors} error(s); nothing was written"
                ));
                Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(answer)).into_response())
            }
            Err(error) => Err(refusal(error)),
        },
    )
    .await
}

/// `PUT /v1/tools` ⇐ `{name, definition}`: `tools/NAME.tool.json`, checked as the registry loads
/// it. It runs only once approved (`POST /v1/trust` by an admin, or `codexos trust allow plugin`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ToolWrite {
    name: String,
    definition: Value,
}

pub(crate) async fn put_tool(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<ToolWrite>,
) -> Result<Json<Value>, ApiError> {
    let workspace = state.workspace.clone();
    blocking(move || {
        let text = serde_json::to_string_pretty(&request.definition).map_err(ApiError::internal)?;
        let path = workspace
            .save_tool(&request.name, &format!("{text}\n"))
            .map_err(refusal)?;
        let shown = path
            .strip_prefix(workspace.root())
            .unwrap_or(&path)
            .display()
            .to_string();
        Ok(Json(json!({
            "name": request.name,
            "path": shown,
            "approved": false,
            "note": format!(
                "the plug-in runs once approved as it is now: an admin's POST /v1/trust {{\"change\": \"allow\", \"what\": {{\"kind\": \"plugin\", \"name\": \"{}\"}}}}",
                request.name
            ),
        })))
    })
    .await
}

fn refusal(error: AuthoringError) -> ApiError {
    let status = match &error {
        AuthoringError::Invalid(_) | AuthoringError::FlowErrors { .. } => StatusCode::BAD_REQUEST,
        AuthoringError::Refused(_) => StatusCode::FORBIDDEN,
        AuthoringError::Io { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    };
    ApiError::new(status, error.to_string())
}
