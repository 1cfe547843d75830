//! `codexos.agent.run`, `codexos.agent.retry` and `codexos.agent.cancel` (docs/protocol.md);
//! `codexos.agent.replay` is in [`super::replay`] and answers the same way.
//!
//! How they run: the arguments are resolved by the service (flow and context files inside the
//! workspace, an open flow's unsaved text) on a blocking thread of the runs' runtime
//! ([`crate::runs::prepare`]); the run itself is a tokio task
//! streaming `$/progress` and `codexos/runEvent` ([`crate::runs`]); the command answers with
//! the structured result once the run is over. A flow with errors never starts: the command
//! fails with the first findings. Cancelling the request cancels the run.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use codexos_service::agents::{
    AgentRequest, FlowSource, ForkedFrom, NodeStatus, RunError, RunResult, TokenUsage,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Result};
use tower_lsp_server::ls_types::{ProgressToken, Uri};

use crate::runs::{self, Start, StartError};
use crate::session::Session;

pub const RUN: &str = "codexos.agent.run";
pub const RETRY: &str = "codexos.agent.retry";
pub const CANCEL: &str = "codexos.agent.cancel";

/// How many of a flow's findings the error of a run that did not start lists.
const FINDINGS_SHOWN: usize = 3;

/// `codexos.agent.run` ⇐ `{agent_id, flow, context, input}` (the seed's `/agent/run`).
#[derive(Debug, Deserialize)]
pub struct RunArgs {
    /// The caller's name for the agent, recorded with the run and returned in its answer.
    #[serde(default)]
    pub agent_id: Option<String>,
    /// A workspace-relative path (or a `file://` URI), or an inline flow object.
    pub flow: Value,
    #[serde(default)]
    pub context: Vec<String>,
    #[serde(default)]
    pub input: String,
}

/// `codexos.agent.retry` / `codexos.agent.cancel` ⇐ `{run_id}`.
#[derive(Debug, Deserialize)]
pub struct RunIdArgs {
    pub run_id: String,
}

/// The command's answer: the run's result, shaped for editors.
#[derive(Debug, Serialize)]
pub struct RunAnswer {
    pub run_id: String,
    pub flow_id: String,
    pub status: &'static str,
    pub output: Option<String>,
    pub nodes: BTreeMap<String, NodeAnswer>,
    pub usage: TokenUsage,
    pub warnings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub sources: Vec<codexos_service::agents::Source>,
    pub elapsed_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_of: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forked_from: Option<ForkedFrom>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct NodeAnswer {
    #[serde(rename = "type")]
    pub node_type: String,
    pub status: NodeStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

impl From<RunResult> for RunAnswer {
    fn from(result: RunResult) -> RunAnswer {
        let error = result.error_text();
        RunAnswer {
            run_id: result.run_id,
            flow_id: result.flow_id,
            status: result.status.as_str(),
            output: result.output,
            nodes: result
                .nodes
                .into_iter()
                .map(|node| {
                    let answer = NodeAnswer {
                        node_type: node.node_type,
                        status: node.status,
                        output: node.output,
                        error: node.error,
                        ms: node.elapsed_ms,
                        model: node.model,
                    };
                    (node.id, answer)
                })
                .collect(),
            usage: result.usage,
            warnings: result.warnings.iter().map(ToString::to_string).collect(),
            error,
            sources: result.sources,
            elapsed_ms: result.elapsed_ms,
            retry_of: result.retry_of,
            forked_from: result.forked_from,
            agent_id: result.agent_id,
        }
    }
}

pub(crate) fn invalid(command: &str, message: impl std::fmt::Display) -> Error {
    Error {
        code: ErrorCode::InvalidParams,
        message: format!("{command}: {message}").into(),
        data: None,
    }
}

pub(crate) fn failed(command: &str, message: impl std::fmt::Display, data: Option<Value>) -> Error {
    Error {
        code: ErrorCode::ServerError(-32003),
        message: format!("{command}: {message}").into(),
        data,
    }
}

/// A run that did not start, or stopped without a result, as an error response.
pub(crate) fn start_error(command: &str, error: StartError) -> Error {
    match error {
        StartError::Run(RunError::FlowHasErrors { flow, problems }) => {
            let shown: Vec<String> = problems
                .iter()
                .take(FINDINGS_SHOWN)
                .map(ToString::to_string)
                .collect();
            let more = match problems.len().saturating_sub(FINDINGS_SHOWN) {
                0 => String::new(),
                more => format!(" (and {more} more)"),
            };
            let data = problems
                .iter()
                .map(ToString::to_string)
                .map(Value::String)
                .collect();
            failed(
                command,
                format!(
                    "{flow} has errors, so nothing ran: {}{more}",
                    shown.join("; ")
                ),
                Some(Value::Array(data)),
            )
        }
        other => failed(command, other, None),
    }
}

pub async fn run(
    session: &Arc<Session>,
    args: RunArgs,
    work_done_token: Option<ProgressToken>,
) -> Result<Value> {
    let flow = match args.flow {
        Value::String(path) => FlowSource::Path(workspace_path(&path)),
        Value::Object(flow) => FlowSource::Inline(
            serde_json::to_string_pretty(&flow).map_err(|error| invalid(RUN, error))?,
        ),
        other => {
            return Err(invalid(
                RUN,
                format!("`flow` must be a path or a flow object, not {other}"),
            ));
        }
    };
    let request = AgentRequest {
        flow,
        input: args.input,
        context: args.context,
        agent_id: args.agent_id,
    };
    let workspace = session.workspace();
    let editor = session.clone();
    let resolved = runs::prepare(move || {
        workspace.run_request(request, &|path: &Path| {
            editor.text(&Uri::from_file_path(path)?)
        })
    })
    .await
    .map_err(|error| failed(RUN, error, None))?
    .map_err(|error| invalid(RUN, error))?;
    answer(
        RUN,
        runs::run(session, Start::Flow(resolved), work_done_token).await,
    )
}

pub async fn retry(
    session: &Arc<Session>,
    args: RunIdArgs,
    work_done_token: Option<ProgressToken>,
) -> Result<Value> {
    let outcome = runs::run(session, Start::Retry(args.run_id), work_done_token).await;
    answer(RETRY, outcome)
}

pub fn cancel(session: &Session, args: RunIdArgs) -> Result<Value> {
    if session.runs.cancel_run(&args.run_id) {
        Ok(Value::Null)
    } else {
        Err(failed(
            CANCEL,
            format!("no run `{}` is going", args.run_id),
            None,
        ))
    }
}

pub(crate) fn answer(
    command: &str,
    outcome: std::result::Result<RunResult, StartError>,
) -> Result<Value> {
    let result = outcome.map_err(|error| start_error(command, error))?;
    serde_json::to_value(RunAnswer::from(result)).map_err(|error| failed(command, error, None))
}

/// A `file://` URI as its path; anything else as given.
fn workspace_path(flow: &str) -> String {
    if flow.starts_with("file:")
        && let Ok(uri) = flow.parse::<Uri>()
        && let Some(path) = uri.to_file_path()
    {
        return path.display().to_string();
    }
    flow.to_owned()
}
