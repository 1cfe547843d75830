//! Workspace folders and configuration: `codexos.toml` is re-read when it changes on disk or the
//! client says the settings changed, and every open flow is checked again; a folder added to the
//! workspace is indexed, a folder removed stops being.

use std::path::Path;
use std::sync::Arc;

use codexos_service::{CONFIG_FILE, Workspace};
use tower_lsp_server::ls_types::{
    DidChangeConfigurationParams, DidChangeWatchedFilesParams, DidChangeWorkspaceFoldersParams,
    MessageType,
};

use crate::diagnostics;
use crate::progress::{ProgressStep, create_progress, report_progress};
use crate::session::Session;

pub fn did_change_configuration(session: &Arc<Session>, _: DidChangeConfigurationParams) {
    reload_and_recheck(session);
}

pub fn did_change_watched_files(session: &Arc<Session>, params: DidChangeWatchedFilesParams) {
    // A plug-in tool file changes the names flows may use, as the configuration does.
    let config_changed = params.changes.iter().any(|change| {
        let path = change.uri.path().as_str();
        path.ends_with(&format!("/{CONFIG_FILE}")) || path.ends_with(".tool.json")
    });
    if config_changed {
        reload_and_recheck(session);
    }
    for change in &params.changes {
        if let Some(path) = change.uri.to_file_path()
            && !is_tool_state(&path)
        {
            crate::indexing::refresh(session, path.into_owned(), None);
        }
    }
}

/// Files under `.codexos/` (the index, run traces, logs) and `.git/` are tools' state, which the
/// workspace walk skips by the same test: the index would refuse them too, but each log line
/// written there would still cost a re-index attempt.
fn is_tool_state(path: &Path) -> bool {
    path.components()
        .any(|part| codexos_service::index::is_tool_state(part.as_os_str()))
}

pub fn did_change_workspace_folders(
    session: &Arc<Session>,
    params: DidChangeWorkspaceFoldersParams,
) {
    let root_before = session.root();
    let mut folders = session.folders();
    folders.retain(|folder| {
        !params
            .event
            .removed
            .iter()
            .any(|gone| gone.uri == folder.uri)
    });
    folders.extend(params.event.added);
    session.set_folders(folders);
    if session.root() != root_before {
        reload_and_recheck(session);
    }
    crate::indexing::folders_changed(session);
}

/// Re-reads the configuration now; a bad file keeps the last good one and tells the user once.
/// Then re-checks the open flows, reporting progress when the client shows it.
pub fn reload_and_recheck(session: &Arc<Session>) {
    let root = session
        .root()
        .unwrap_or_else(|| session.workspace().root().to_owned());
    let problem = match Workspace::load(&root) {
        Ok(workspace) => {
            let warnings = &workspace.config().warnings;
            for warning in warnings {
                tracing::warn!("{warning}");
            }
            let problem = (!warnings.is_empty()).then(|| {
                let lines: Vec<String> = warnings.iter().map(ToString::to_string).collect();
                (MessageType::WARNING, lines.join("\n"))
            });
            session.set_workspace(workspace);
            problem
        }
        Err(error) => {
            tracing::error!("{error}; keeping the previous configuration");
            Some((MessageType::ERROR, error.to_string()))
        }
    };
    let session = session.clone();
    tokio::spawn(async move {
        if let Some((kind, message)) = problem {
            session.client.show_message(kind, message).await;
        }
        learn_approved_mcp_tools(&session).await;
        if session.open_flows().is_empty() {
            return;
        }
        let token = create_progress(&session).await;
        if let Some(token) = &token {
            let begin = ProgressStep::Begin {
                title: "Checking flows".to_owned(),
                cancellable: false,
            };
            report_progress(&session, token, begin, None, None).await;
        }
        let count = diagnostics::recheck_all(&session);
        if let Some(token) = &token {
            let message = format!("{count} open flow(s) re-checked with the new configuration");
            report_progress(&session, token, ProgressStep::End, Some(message), None).await;
        }
    });
}

/// The tools the workspace's approved MCP servers list, with their schemas, join the catalog (a
/// tool node's `args` are then checked against them as the user types); servers the user did not
/// approve are never started. Called after each reload, before open flows are re-checked.
async fn learn_approved_mcp_tools(session: &Arc<Session>) {
    let workspace = session.workspace();
    let Ok(config) = workspace.tool_config() else {
        return;
    };
    let (tools, left_out) = workspace.approved_mcp_tools(config.timeout).await;
    for note in left_out {
        tracing::info!("{note}");
    }
    if tools.is_empty() {
        return;
    }
    // The workspace just loaded, with the tools added: nothing is read from disk again.
    session.set_workspace((*workspace).clone().with_tools(tools));
}

#[cfg(test)]
mod tests {
    use super::is_tool_state;
    use std::path::Path;

    #[test]
    fn traces_logs_and_git_objects_are_not_re_indexed_on_change() {
        for state in [
            "/w/.codexos/runs/20261126T1-a.jsonl",
            "/w/.codexos/logs/lsp.log",
            "/w/.git/index",
        ] {
            assert!(is_tool_state(Path::new(state)), "{state}");
        }
        for source in ["/w/src/retry.rs", "/w/flows/a.flow.json", "/w/codexos.toml"] {
            assert!(!is_tool_state(Path::new(source)), "{source}");
        }
    }
}
