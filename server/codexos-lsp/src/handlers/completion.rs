use std::sync::Arc;

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{CompletionList, CompletionParams, CompletionResponse};

use crate::convert;
use crate::session::Session;

pub async fn completion(
    session: &Arc<Session>,
    params: CompletionParams,
) -> Result<Option<CompletionResponse>> {
    let at = params.text_document_position;
    let snippets = session.settings().snippets;
    session
        .read(&at.text_document.uri, move |snapshot, workspace| {
            let positions = snapshot.positions();
            let offset = positions.offset(at.position);
            let catalog = workspace.catalog_for(snapshot.path.as_deref());
            let items = snapshot
                .flow
                .completions(offset, &catalog)
                .iter()
                .map(|completion| convert::completion_item(completion, positions, snippets))
                .collect();
            Some(CompletionResponse::List(CompletionList {
                is_incomplete: false,
                items,
            }))
        })
        .await
}
