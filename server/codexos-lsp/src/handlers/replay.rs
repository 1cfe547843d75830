//! `codexos.agent.replay` ⇐ `{run_id, from, set}` (docs/protocol.md): a recorded run run again
//! from one of its top-level nodes, with the outputs recorded before it, and with `set`'s edits
//! (`{"input": …, "NODE.prompt": …, "NODE.system": …, "NODE.model": …,
//! "nodes.NODE.output": …}`) for a fork.
//!
//! How it runs: as `codexos.agent.retry` does ([`crate::runs::run`]): a task on the runs'
//! runtime streaming `$/progress` and `codexos/runEvent`, answered with the run's result. A
//! wrong run, node or key fails the command (naming it) and nothing runs.

use std::sync::Arc;

use codexos_service::agents::ReplayRequest;
use serde_json::Value;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::ProgressToken;

use crate::handlers::agent::answer;
use crate::runs::{self, Start};
use crate::session::Session;

pub const REPLAY: &str = "codexos.agent.replay";

pub async fn replay(
    session: &Arc<Session>,
    args: ReplayRequest,
    work_done_token: Option<ProgressToken>,
) -> Result<Value> {
    let outcome = runs::run(session, Start::Replay(args), work_done_token).await;
    answer(REPLAY, outcome)
}
