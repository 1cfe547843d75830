//! `workspace/executeCommand`: one route per command (docs/protocol.md). Each command takes one
//! argument object whose shape is the seed's API contract; a missing or malformed argument is an
//! `InvalidParams` error that names the command and the field.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Result};
use tower_lsp_server::ls_types::ExecuteCommandParams;

use crate::handlers::search;
use crate::session::Session;

pub const RAG_QUERY: &str = "codexos.rag.query";
pub const REINDEX: &str = "codexos.reindex";

/// Every command this server executes, for the `executeCommandProvider` capability.
pub fn all() -> Vec<String> {
    [RAG_QUERY, REINDEX].map(str::to_owned).to_vec()
}

fn argument<T: DeserializeOwned>(command: &str, params: &ExecuteCommandParams) -> Result<T> {
    let value = params
        .arguments
        .first()
        .cloned()
        .unwrap_or(Value::Object(Default::default()));
    serde_json::from_value(value).map_err(|error| Error {
        code: ErrorCode::InvalidParams,
        message: format!("{command}: invalid argument: {error}").into(),
        data: None,
    })
}

pub async fn execute(
    session: &Arc<Session>,
    params: ExecuteCommandParams,
) -> Result<Option<Value>> {
    match params.command.as_str() {
        RAG_QUERY => {
            let query = argument(RAG_QUERY, &params)?;
            search::rag_query(session, query).await.map(Some)
        }
        REINDEX => {
            let index = session.index().ok_or_else(|| Error {
                code: ErrorCode::ServerError(-32001),
                message:
                    "the workspace has no index yet (no workspace folder, or it is still opening)"
                        .into(),
                data: None,
            })?;
            let session = session.clone();
            tokio::spawn(async move { crate::indexing::index_all(&session, &index).await });
            Ok(None)
        }
        other => Err(Error {
            code: ErrorCode::InvalidParams,
            message: format!("unknown command `{other}`; known: {}", all().join(", ")).into(),
            data: None,
        }),
    }
}
