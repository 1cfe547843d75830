//! Document sync: quick mutations on the main loop, analysis scheduled in the background.

use std::sync::Arc;
use std::time::Duration;

use tower_lsp_server::ls_types::{
    DidChangeTextDocumentParams, DidCloseTextDocumentParams, DidOpenTextDocumentParams,
    DidSaveTextDocumentParams,
};

use crate::diagnostics::{self, DEBOUNCE};
use crate::session::Session;

pub fn did_open(session: &Arc<Session>, params: DidOpenTextDocumentParams) {
    let document = params.text_document;
    session.open(document.uri.clone(), &document.text, document.version);
    diagnostics::schedule(session, document.uri, Duration::ZERO);
}

pub fn did_change(session: &Arc<Session>, params: DidChangeTextDocumentParams) {
    let document = params.text_document;
    if !session.change(&document.uri, params.content_changes, document.version) {
        tracing::warn!(
            "didChange for {}, which is not open: ignored",
            document.uri.as_str()
        );
        return;
    }
    crate::indexing::schedule_unsaved(session, document.uri.clone(), document.version);
    diagnostics::schedule(session, document.uri, DEBOUNCE);
}

pub fn did_close(session: &Arc<Session>, params: DidCloseTextDocumentParams) {
    let uri = params.text_document.uri;
    if session.close(&uri) {
        diagnostics::clear(session, uri);
    } else {
        tracing::warn!("didClose for {}, which is not open: ignored", uri.as_str());
    }
}

/// A saved file is re-indexed from disk (flows too: agents search them).
pub fn did_save(session: &Arc<Session>, params: DidSaveTextDocumentParams) {
    if let Some(path) = params.text_document.uri.to_file_path() {
        crate::indexing::refresh(session, path.into_owned(), params.text);
    }
}
