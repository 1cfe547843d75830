//! The `LanguageServer` impl: one line per method, delegating to `handlers/`, each wrapped so a
//! panic becomes an error response (requests) or a log line (notifications), never a dead server.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Result};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer};

use crate::handlers::{
    code_action, code_lens, completion, folding, formatting, hover, lifecycle, navigation, rename,
    symbols, text_document, workspace,
};
use crate::logging::LogSinks;
use crate::session::Session;

pub struct Server {
    session: Arc<Session>,
    logs: LogSinks,
}

impl Server {
    pub fn new(client: Client, logs: LogSinks) -> Server {
        logs.attach_client(client.clone());
        Server {
            session: Arc::new(Session::new(client)),
            logs,
        }
    }

    pub fn session(&self) -> &Arc<Session> {
        &self.session
    }

    /// `window/workDoneProgress/cancel`: remembered, so long work can stop at its next step;
    /// a run stops, and index work pauses (`codexos.index.resume` goes on).
    pub async fn cancel_progress(&self, params: WorkDoneProgressCancelParams) {
        let token = crate::progress::token_key(&params.token);
        self.session.runs.cancel_progress(&token);
        if self.session.is_index_token(&token) {
            crate::indexing::pause(&self.session).await;
        }
        self.session.cancel_progress(token);
    }

    /// `codexos/search`: hybrid search of the workspace index.
    pub async fn search(
        &self,
        params: crate::handlers::search::SearchParams,
    ) -> Result<Vec<crate::handlers::search::SearchResult>> {
        request(
            "codexos/search",
            crate::handlers::search::search(&self.session, params),
        )
        .await
    }
}

async fn request<T>(method: &'static str, handler: impl Future<Output = Result<T>>) -> Result<T> {
    match AssertUnwindSafe(handler).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => {
            let message = panic_message(panic.as_ref());
            tracing::error!("{method} panicked: {message}");
            Err(Error {
                code: ErrorCode::InternalError,
                message: format!("codexos failed on {method}: {message}").into(),
                data: None,
            })
        }
    }
}

fn notification(method: &'static str, handler: impl FnOnce()) {
    if let Err(panic) = std::panic::catch_unwind(AssertUnwindSafe(handler)) {
        tracing::error!("{method} panicked: {}", panic_message(panic.as_ref()));
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|message| (*message).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

impl LanguageServer for Server {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        request("initialize", async {
            lifecycle::initialize(&self.session, &self.logs, params)
        })
        .await
    }

    async fn initialized(&self, _: InitializedParams) {
        notification("initialized", || lifecycle::initialized(&self.session));
    }

    async fn shutdown(&self) -> Result<()> {
        lifecycle::shutdown(&self.session).await
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        notification("textDocument/didOpen", || {
            text_document::did_open(&self.session, params)
        });
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        notification("textDocument/didChange", || {
            text_document::did_change(&self.session, params)
        });
    }

    async fn did_save(&self, params: DidSaveTextDocumentParams) {
        notification("textDocument/didSave", || {
            text_document::did_save(&self.session, params)
        });
    }

    async fn symbol(
        &self,
        params: WorkspaceSymbolParams,
    ) -> Result<Option<WorkspaceSymbolResponse>> {
        request("workspace/symbol", async {
            crate::handlers::search::workspace_symbol(&self.session, params)
                .await
                .map(|symbols| symbols.map(WorkspaceSymbolResponse::Nested))
        })
        .await
    }

    async fn execute_command(&self, params: ExecuteCommandParams) -> Result<Option<LSPAny>> {
        request(
            "workspace/executeCommand",
            crate::handlers::commands::execute(&self.session, params),
        )
        .await
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        notification("textDocument/didClose", || {
            text_document::did_close(&self.session, params)
        });
    }

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        notification("workspace/didChangeConfiguration", || {
            workspace::did_change_configuration(&self.session, params)
        });
    }

    async fn did_change_watched_files(&self, params: DidChangeWatchedFilesParams) {
        notification("workspace/didChangeWatchedFiles", || {
            workspace::did_change_watched_files(&self.session, params)
        });
    }

    async fn did_change_workspace_folders(&self, params: DidChangeWorkspaceFoldersParams) {
        notification("workspace/didChangeWorkspaceFolders", || {
            workspace::did_change_workspace_folders(&self.session, params)
        });
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        request(
            "textDocument/completion",
            completion::completion(&self.session, params),
        )
        .await
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        request("textDocument/hover", hover::hover(&self.session, params)).await
    }

    async fn goto_definition(
        &self,
        params: GotoDefinitionParams,
    ) -> Result<Option<GotoDefinitionResponse>> {
        request(
            "textDocument/definition",
            navigation::definition(&self.session, params),
        )
        .await
    }

    async fn references(&self, params: ReferenceParams) -> Result<Option<Vec<Location>>> {
        request(
            "textDocument/references",
            navigation::references(&self.session, params),
        )
        .await
    }

    async fn prepare_rename(
        &self,
        params: TextDocumentPositionParams,
    ) -> Result<Option<PrepareRenameResponse>> {
        request(
            "textDocument/prepareRename",
            rename::prepare_rename(&self.session, params),
        )
        .await
    }

    async fn rename(&self, params: RenameParams) -> Result<Option<WorkspaceEdit>> {
        request("textDocument/rename", rename::rename(&self.session, params)).await
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        request(
            "textDocument/codeAction",
            code_action::code_action(&self.session, params),
        )
        .await
    }

    async fn code_lens(&self, params: CodeLensParams) -> Result<Option<Vec<CodeLens>>> {
        request(
            "textDocument/codeLens",
            code_lens::code_lens(&self.session, params),
        )
        .await
    }

    async fn formatting(&self, params: DocumentFormattingParams) -> Result<Option<Vec<TextEdit>>> {
        request(
            "textDocument/formatting",
            formatting::formatting(&self.session, params),
        )
        .await
    }

    async fn document_symbol(
        &self,
        params: DocumentSymbolParams,
    ) -> Result<Option<DocumentSymbolResponse>> {
        request(
            "textDocument/documentSymbol",
            symbols::document_symbol(&self.session, params),
        )
        .await
    }

    async fn folding_range(&self, params: FoldingRangeParams) -> Result<Option<Vec<FoldingRange>>> {
        request(
            "textDocument/foldingRange",
            folding::folding_range(&self.session, params),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_request_becomes_an_internal_error_response() {
        let answer: Result<()> = request("textDocument/hover", async {
            panic!("the hover table is empty");
        })
        .await;
        let error = answer.expect_err("a panic is an error response");
        assert_eq!(error.code, ErrorCode::InternalError);
        assert_eq!(
            error.message,
            "codexos failed on textDocument/hover: the hover table is empty"
        );
    }

    #[test]
    fn a_panicking_notification_is_logged_and_survived() {
        let mut ran_after = false;
        notification("textDocument/didOpen", || panic!("bad document"));
        notification("textDocument/didOpen", || ran_after = true);
        assert!(ran_after);
    }
}
