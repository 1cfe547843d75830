use std::sync::Arc;

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{DocumentSymbolParams, DocumentSymbolResponse};

use crate::convert;
use crate::session::Session;

/// The flow as an outline: the flow, its nodes, their fields (flattened for clients that do not
/// show a hierarchy).
pub async fn document_symbol(
    session: &Arc<Session>,
    params: DocumentSymbolParams,
) -> Result<Option<DocumentSymbolResponse>> {
    let hierarchical = session.settings().hierarchical_symbols;
    session
        .read(&params.text_document.uri, move |snapshot, _| {
            let positions = snapshot.positions();
            let symbols = snapshot.flow.symbols();
            if hierarchical {
                let nested = symbols
                    .iter()
                    .map(|symbol| convert::document_symbol(symbol, positions))
                    .collect();
                Some(DocumentSymbolResponse::Nested(nested))
            } else {
                let mut flat = Vec::new();
                convert::symbol_information(&symbols, &snapshot.uri, positions, None, &mut flat);
                Some(DocumentSymbolResponse::Flat(flat))
            }
        })
        .await
}
