//! Go to definition and find references for node ids.

use std::sync::Arc;

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{
    GotoDefinitionParams, GotoDefinitionResponse, Location, ReferenceParams,
};

use crate::session::Session;

pub async fn definition(
    session: &Arc<Session>,
    params: GotoDefinitionParams,
) -> Result<Option<GotoDefinitionResponse>> {
    let at = params.text_document_position_params;
    session
        .read(&at.text_document.uri, move |snapshot, _| {
            let positions = snapshot.positions();
            let target = snapshot.flow.definition(positions.offset(at.position))?;
            let location = Location::new(snapshot.uri.clone(), positions.range(target));
            Some(GotoDefinitionResponse::Scalar(location))
        })
        .await
}

pub async fn references(
    session: &Arc<Session>,
    params: ReferenceParams,
) -> Result<Option<Vec<Location>>> {
    let at = params.text_document_position;
    let include_declaration = params.context.include_declaration;
    session
        .read(&at.text_document.uri, move |snapshot, _| {
            let positions = snapshot.positions();
            let ranges = snapshot
                .flow
                .references(positions.offset(at.position), include_declaration);
            let locations: Vec<Location> = ranges
                .into_iter()
                .map(|range| Location::new(snapshot.uri.clone(), positions.range(range)))
                .collect();
            (!locations.is_empty()).then_some(locations)
        })
        .await
}
