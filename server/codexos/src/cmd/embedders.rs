//! The embedder `codexos eval` and `codexos bench` index with: `--embedder NAME`, else the
//! configuration's, chosen by the service's one rule (`codexos_service::index::embedders`);
//! a fallback is announced on stderr.

use std::sync::Arc;

use anyhow::anyhow;
use codexos_embed::{Embedder, EmbedderConfig};
use codexos_service::index::embedders;

pub fn choose(name: Option<&str>, config: &EmbedderConfig) -> anyhow::Result<Arc<dyn Embedder>> {
    let kind = name
        .map(embedders::embedder_kind)
        .transpose()
        .map_err(|error| anyhow!(error))?;
    let selected = embedders::select(kind, config).map_err(|error| anyhow!("embedder: {error}"))?;
    if let Some(notice) = selected.notice {
        eprintln!("notice: {notice}");
    }
    Ok(selected.embedder)
}
