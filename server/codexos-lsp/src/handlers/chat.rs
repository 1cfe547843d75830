//! `codexos.chat` ⇐ `{messages: [{role, content}], model?}` → `{answer, model, sources}`
//! (docs/protocol.md).
//!
//! How it runs: the service builds the run of the `chat` flow (the workspace's own
//! `flows/builtin/chat.flow.json` or the shipped one) on a blocking thread of the runs' runtime
//! ([`crate::runs::prepare`]); the run streams its
//! tokens like any run ([`crate::runs`]: `$/progress` reports and `codexos/runEvent` `token`
//! events); the command answers once the run is over. Cancelling the request cancels the run.

use std::path::Path;
use std::sync::Arc;

use codexos_service::chat::{ChatMessage, chat_answer};
use serde::Deserialize;
use serde_json::Value;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{ProgressToken, Uri};

use crate::handlers::agent::{failed, invalid, start_error};
use crate::runs::{self, Start};
use crate::session::Session;

pub const CHAT: &str = "codexos.chat";

/// `codexos.chat`'s argument.
#[derive(Debug, Deserialize)]
pub struct ChatArgs {
    pub messages: Vec<ChatMessage>,
    /// A model for this question instead of the flow's (`gpt-4o`, `ollama/llama3.2`, `local`).
    #[serde(default)]
    pub model: Option<String>,
}

pub async fn chat(
    session: &Arc<Session>,
    args: ChatArgs,
    work_done_token: Option<ProgressToken>,
) -> Result<Value> {
    let workspace = session.workspace();
    let editor = session.clone();
    let request = runs::prepare(move || {
        workspace.chat_request(&args.messages, args.model.as_deref(), &|path: &Path| {
            editor.text(&Uri::from_file_path(path)?)
        })
    })
    .await
    .map_err(|error| failed(CHAT, error, None))?
    .map_err(|error| invalid(CHAT, error))?;
    let result = runs::run(session, Start::Flow(request), work_done_token)
        .await
        .map_err(|error| start_error(CHAT, error))?;
    let answer = chat_answer(&result).map_err(|error| failed(CHAT, error, None))?;
    serde_json::to_value(answer).map_err(|error| failed(CHAT, error, None))
}
