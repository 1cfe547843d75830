//! `codexos.action.explain|refactor|tests|fix` ⇐ `{uri, range, instruction?, diagnostic?}` →
//! `{answer}` (docs/protocol.md); the edits of refactor, tests and fix arrive through
//! `workspace/applyEdit`.
//!
//! How they run: the selection is read from the open document (or the disk) and framed by the
//! service; the action's built-in flow (the workspace's `flows/builtin/<action>.flow.json` or
//! the shipped one) runs like any run, streaming `$/progress` and `codexos/runEvent`; its answer
//! becomes file changes sent as one `workspace/applyEdit`, versioned so that a document edited
//! meanwhile refuses it. The server never writes the files. An answer without usable code is an
//! error that carries the answer, and nothing is changed.

use std::path::Path;
use std::sync::Arc;

use codexos_flow::LineIndex;
use codexos_service::actions::{Action, ActionRequest, FileTexts};
use codexos_service::builtin::run_output;
use serde::Deserialize;
use serde_json::{Value, json};
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{ProgressToken, Range, Uri};

use crate::edit::Positions;
use crate::file_changes::{EditorTexts, apply};
use crate::handlers::agent::{failed, invalid, start_error};
use crate::runs::{self, Start};
use crate::session::Session;

/// An action's argument.
#[derive(Debug, Deserialize)]
pub struct ActionArgs {
    pub uri: Uri,
    pub range: Range,
    /// What "Refactor…" should do; "Write tests" and "Fix" pass it on too.
    #[serde(default)]
    pub instruction: Option<String>,
    /// The diagnostic to fix: an LSP `Diagnostic`, or just its message.
    #[serde(default)]
    pub diagnostic: Option<DiagnosticArg>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum DiagnosticArg {
    Message(String),
    Diagnostic { message: String },
}

impl DiagnosticArg {
    fn message(self) -> String {
        match self {
            DiagnosticArg::Message(message) | DiagnosticArg::Diagnostic { message } => message,
        }
    }
}

pub async fn run(
    session: &Arc<Session>,
    action: Action,
    args: ActionArgs,
    work_done_token: Option<ProgressToken>,
) -> Result<Value> {
    let command = action.command();
    let command = command.as_str();
    let texts = Arc::new(EditorTexts::new(session.clone()));
    let request = selection(session, action, args, &texts).await?;
    let workspace = session.workspace();
    let editor = session.clone();
    let framed = request.clone();
    let run_request = runs::prepare(move || {
        workspace.action_run_request(&framed, &|path: &Path| {
            editor.text(&Uri::from_file_path(path)?)
        })
    })
    .await
    .map_err(|error| failed(command, error, None))?
    .map_err(|error| invalid(command, error))?;
    let result = runs::run(session, Start::Flow(run_request), work_done_token)
        .await
        .map_err(|error| start_error(command, error))?;
    let answer = run_output(&result).map_err(|error| failed(command, error, None))?;
    let root = session.workspace().root().to_owned();
    let changes = {
        let (texts, request, output) = (texts.clone(), request.clone(), answer.clone());
        runs::prepare(move || request.changes(&root, &output, texts.as_ref()))
            .await
            .map_err(|error| failed(command, error, None))?
            .map_err(|error| failed(command, error, Some(json!({ "answer": answer }))))?
    };
    if changes.is_empty() {
        if !action.edits() {
            return Ok(json!({ "answer": answer, "run_id": result.run_id }));
        }
        return Ok(json!({
            "answer": answer,
            "run_id": result.run_id,
            "applied": false,
            "note": "the model's code is the same as the selection: nothing to change",
        }));
    }
    let label = format!("CodexOS: {}", action.title());
    apply(session, &texts, &label, &changes)
        .await
        .map_err(|reason| failed(command, reason, Some(json!({ "answer": answer }))))?;
    let files: Vec<String> = changes
        .iter()
        .map(|change| change.path().display().to_string())
        .collect();
    Ok(json!({ "answer": answer, "run_id": result.run_id, "applied": true, "files": files }))
}

/// The selection the action works on, read from the open document (or the disk) and remembered
/// in `texts` with its version, so the edit is computed and versioned on that text.
async fn selection(
    session: &Arc<Session>,
    action: Action,
    args: ActionArgs,
    texts: &Arc<EditorTexts>,
) -> Result<ActionRequest> {
    let command = action.command();
    let command = command.as_str();
    let path = args
        .uri
        .to_file_path()
        .map(|path| path.into_owned())
        .ok_or_else(|| invalid(command, format!("{} is not a file", args.uri.as_str())))?;
    let (text, version) = match (session.text(&args.uri), session.version(&args.uri)) {
        (Some(text), version) => (text, version),
        _ => {
            let read = texts.clone();
            let on_disk = path.clone();
            let text = tokio::task::spawn_blocking(move || read.text(&on_disk))
                .await
                .map_err(|error| failed(command, error, None))?
                .ok_or_else(|| invalid(command, format!("cannot read {}", path.display())))?;
            (text, None)
        }
    };
    texts.remember(&path, text.clone(), version);
    let encoding = session.settings().encoding;
    let selection = {
        let index = LineIndex::new(&text);
        let positions = Positions {
            text: &text,
            index: &index,
            encoding,
        };
        let range = positions.text_range(args.range);
        range.start as usize..range.end as usize
    };
    ActionRequest::new(
        action,
        path,
        text,
        selection,
        args.instruction,
        args.diagnostic.map(DiagnosticArg::message),
    )
    .map_err(|error| invalid(command, error))
}
