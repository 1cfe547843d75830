use std::sync::Arc;

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{
    CodeActionKind, CodeActionOptions, CodeActionProviderCapability, CodeLensOptions,
    CompletionOptions, DidChangeWatchedFilesRegistrationOptions, ExecuteCommandOptions,
    FileSystemWatcher, FoldingRangeProviderCapability, GlobPattern, HoverProviderCapability,
    InitializeParams, InitializeResult, OneOf, Registration, RenameOptions, ServerCapabilities,
    ServerInfo, TextDocumentSyncCapability, TextDocumentSyncKind, TextDocumentSyncOptions,
    TextDocumentSyncSaveOptions, WorkDoneProgressOptions, WorkspaceFolder,
    WorkspaceFoldersServerCapabilities, WorkspaceServerCapabilities,
};

use crate::edit::encoding_kind;
use crate::handlers::workspace::reload_and_recheck;
use crate::logging::LogSinks;
use crate::session::{ClientSettings, Session};

pub fn initialize(
    session: &Session,
    logs: &LogSinks,
    params: InitializeParams,
) -> Result<InitializeResult> {
    let settings = ClientSettings::from_capabilities(&params.capabilities);
    let encoding = settings.encoding;
    session.set_settings(settings);
    #[allow(deprecated)] // `rootUri` is still what some clients send instead of folders
    let folders = params.workspace_folders.unwrap_or_else(|| {
        params
            .root_uri
            .map(|uri| {
                vec![WorkspaceFolder {
                    name: uri
                        .path()
                        .as_str()
                        .rsplit('/')
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                    uri,
                }]
            })
            .unwrap_or_default()
    });
    session.set_folders(folders);
    let log_file = logs.open_file(session.root().as_deref());
    tracing::info!(
        "codexos {} starting; positions in {encoding:?}; log file {}",
        env!("CARGO_PKG_VERSION"),
        log_file.map_or_else(|| "none".to_owned(), |path| path.display().to_string())
    );
    Ok(InitializeResult {
        capabilities: capabilities(encoding),
        server_info: Some(ServerInfo {
            name: "codexos".to_owned(),
            version: Some(env!("CARGO_PKG_VERSION").to_owned()),
        }),
        ..InitializeResult::default()
    })
}

fn capabilities(encoding: codexos_flow::Encoding) -> ServerCapabilities {
    ServerCapabilities {
        position_encoding: Some(encoding_kind(encoding)),
        text_document_sync: Some(TextDocumentSyncCapability::Options(
            TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(TextDocumentSyncKind::INCREMENTAL),
                save: Some(TextDocumentSyncSaveOptions::Supported(true)),
                ..TextDocumentSyncOptions::default()
            },
        )),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec!["\"".into(), "{".into(), ".".into()]),
            ..CompletionOptions::default()
        }),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        rename_provider: Some(OneOf::Right(RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: WorkDoneProgressOptions::default(),
        })),
        document_symbol_provider: Some(OneOf::Left(true)),
        workspace_symbol_provider: Some(OneOf::Left(true)),
        execute_command_provider: Some(ExecuteCommandOptions {
            commands: crate::handlers::commands::all(),
            work_done_progress_options: WorkDoneProgressOptions::default(),
        }),
        code_lens_provider: Some(CodeLensOptions {
            resolve_provider: Some(false),
        }),
        document_formatting_provider: Some(OneOf::Left(true)),
        folding_range_provider: Some(FoldingRangeProviderCapability::Simple(true)),
        code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
            code_action_kinds: Some(vec![
                CodeActionKind::QUICKFIX,
                CodeActionKind::from(crate::handlers::code_action::FIX_ALL),
            ]),
            ..CodeActionOptions::default()
        })),
        workspace: Some(WorkspaceServerCapabilities {
            workspace_folders: Some(WorkspaceFoldersServerCapabilities {
                supported: Some(true),
                change_notifications: Some(OneOf::Left(true)),
            }),
            file_operations: None,
        }),
        ..ServerCapabilities::default()
    }
}

/// Loads the workspace's configuration, then (off the loop) watches `codexos.toml`.
pub fn initialized(session: &Arc<Session>) {
    reload_and_recheck(session);
    crate::indexing::start(session);
    if !session.settings().watch_files_dynamically {
        return;
    }
    let session = session.clone();
    tokio::spawn(async move {
        let options = DidChangeWatchedFilesRegistrationOptions {
            watchers: vec![FileSystemWatcher {
                // Every file: `codexos.toml` reloads the configuration, the rest refresh the index.
                glob_pattern: GlobPattern::String("**/*".to_owned()),
                kind: None,
            }],
        };
        let registration = Registration {
            id: "codexos-config-watcher".to_owned(),
            method: "workspace/didChangeWatchedFiles".to_owned(),
            register_options: serde_json::to_value(options).ok(),
        };
        if let Err(error) = session.client.register_capability(vec![registration]).await {
            tracing::warn!("cannot watch codexos.toml: {error}");
        }
    });
}

pub async fn shutdown(session: &Session) -> Result<()> {
    tracing::info!("shutdown requested");
    crate::indexing::stop(session).await;
    session.runs.cancel_all();
    session.request_shutdown();
    // The `end` of the index progress goes out before the answer, so the editor closes it.
    crate::progress::notifications_first().await;
    Ok(())
}
