use std::sync::Arc;

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{Hover, HoverContents, HoverParams, MarkupContent, MarkupKind};

use crate::session::Session;

pub async fn hover(session: &Arc<Session>, params: HoverParams) -> Result<Option<Hover>> {
    let at = params.text_document_position_params;
    session
        .read(&at.text_document.uri, move |snapshot, workspace| {
            let positions = snapshot.positions();
            let catalog = workspace.catalog_for(snapshot.path.as_deref());
            let hover = snapshot
                .flow
                .hover(positions.offset(at.position), &catalog)?;
            Some(Hover {
                contents: HoverContents::Markup(MarkupContent {
                    kind: MarkupKind::Markdown,
                    value: hover.markdown,
                }),
                range: Some(positions.range(hover.range)),
            })
        })
        .await
}
