use std::sync::Arc;

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{DocumentFormattingParams, TextEdit};

use crate::session::Session;

/// One edit replacing the whole document, or none when it is already formatted or is not JSON.
pub async fn formatting(
    session: &Arc<Session>,
    params: DocumentFormattingParams,
) -> Result<Option<Vec<TextEdit>>> {
    session
        .read(&params.text_document.uri, |snapshot, _| {
            let formatted = match snapshot.flow.format() {
                Ok(formatted) => formatted,
                Err(error) => {
                    tracing::info!("{}: {error}", snapshot.uri.as_str());
                    return None;
                }
            };
            (formatted != snapshot.text())
                .then(|| vec![TextEdit::new(snapshot.positions().whole(), formatted)])
        })
        .await
}
