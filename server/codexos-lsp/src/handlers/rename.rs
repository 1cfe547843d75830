//! Renaming a node id: every reference, templates included, in one WorkspaceEdit.

use std::sync::Arc;

use codexos_flow::RenameError;
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Result};
use tower_lsp_server::ls_types::{
    PrepareRenameResponse, RenameParams, TextDocumentPositionParams, WorkspaceEdit,
};

use crate::convert;
use crate::session::Session;

pub async fn prepare_rename(
    session: &Arc<Session>,
    params: TextDocumentPositionParams,
) -> Result<Option<PrepareRenameResponse>> {
    session
        .read(&params.text_document.uri, move |snapshot, _| {
            let positions = snapshot.positions();
            let range = snapshot
                .flow
                .prepare_rename(positions.offset(params.position))?;
            let placeholder = snapshot.text().get(range.as_usize())?.to_owned();
            Some(PrepareRenameResponse::RangeWithPlaceholder {
                range: positions.range(range),
                placeholder,
            })
        })
        .await
}

pub async fn rename(session: &Arc<Session>, params: RenameParams) -> Result<Option<WorkspaceEdit>> {
    let at = params.text_document_position;
    let new_name = params.new_name;
    let document_changes = session.settings().document_changes;
    let renamed = session
        .read(&at.text_document.uri, move |snapshot, _| {
            let offset = snapshot.positions().offset(at.position);
            let edits = snapshot.flow.rename(offset, &new_name);
            Some(edits.map(|edits| convert::workspace_edit(snapshot, &edits, document_changes)))
        })
        .await?;
    match renamed {
        None | Some(Err(RenameError::NotANodeId)) => Ok(None),
        Some(Ok(edit)) => Ok(Some(edit)),
        // The user must pick another name: say why, in the editor's rename box.
        Some(Err(error)) => Err(Error {
            code: ErrorCode::InvalidParams,
            message: error.to_string().into(),
            data: None,
        }),
    }
}
