use std::sync::Arc;

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{FoldingRange, FoldingRangeParams};

use crate::convert;
use crate::session::Session;

pub async fn folding_range(
    session: &Arc<Session>,
    params: FoldingRangeParams,
) -> Result<Option<Vec<FoldingRange>>> {
    session
        .read(&params.text_document.uri, |snapshot, _| {
            Some(convert::folding_ranges(
                &snapshot.flow.folding_ranges(),
                snapshot.positions(),
            ))
        })
        .await
}
