//! `textDocument/codeLens` on flow files: "▶ Run" (`codexos.agent.run` with `{flow}`: the
//! editor asks the user for the input) and, when the newest run of the flow failed or was
//! cancelled, "↻ Retry last failed" (`codexos.agent.retry` with `{run_id}`). Reads the run
//! traces on a blocking thread; after every run the server asks the client to refresh lenses.

use std::sync::Arc;

use serde_json::json;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{CodeLens, CodeLensParams, Command, Position, Range};

use crate::handlers::agent;
use crate::session::{Session, is_flow_uri};

pub async fn code_lens(
    session: &Arc<Session>,
    params: CodeLensParams,
) -> Result<Option<Vec<CodeLens>>> {
    let uri = params.text_document.uri;
    if !is_flow_uri(&uri) {
        return Ok(None);
    }
    let Some(path) = uri.to_file_path().map(|path| path.into_owned()) else {
        return Ok(None);
    };
    let workspace = session.workspace();
    let found = tokio::task::spawn_blocking(move || {
        let root = workspace.root().canonicalize().ok();
        let canonical = path.canonicalize().unwrap_or_else(|_| path.clone());
        let relative = root
            .and_then(|root| canonical.strip_prefix(root).ok().map(|p| p.to_owned()))
            .map_or_else(|| path.display().to_string(), |p| p.display().to_string());
        (relative, workspace.last_failed_run(&path))
    })
    .await;
    let (flow, failed_run) = match found {
        Ok(found) => found,
        Err(error) => {
            tracing::error!("code lenses for {}: {error}", uri.as_str());
            return Ok(None);
        }
    };
    let top = Range::new(Position::new(0, 0), Position::new(0, 0));
    let mut lenses = vec![CodeLens {
        range: top,
        command: Some(Command {
            title: "▶ Run".to_owned(),
            command: agent::RUN.to_owned(),
            arguments: Some(vec![json!({ "flow": flow })]),
        }),
        data: None,
    }];
    if let Some(run_id) = failed_run {
        lenses.push(CodeLens {
            range: top,
            command: Some(Command {
                title: "↻ Retry last failed".to_owned(),
                command: agent::RETRY.to_owned(),
                arguments: Some(vec![json!({ "run_id": run_id })]),
            }),
            data: None,
        });
    }
    Ok(Some(lenses))
}
