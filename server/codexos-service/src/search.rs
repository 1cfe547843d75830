//! Searching an index that another process may be writing: the embedder must be the one the
//! index was built with, so queries and chunks share one vector space.

use std::sync::Arc;

use codexos_embed::{Embedder, EmbedderConfig, EmbedderKind, select_embedder};

/// The embedder whose space key is `key` (what an index records), if it can be loaded here:
/// the one `config` selects, else any local kind whose space matches.
pub fn embedder_for_space(key: &str, config: &EmbedderConfig) -> Result<Arc<dyn Embedder>, String> {
    let local_kinds = EmbedderKind::ALL
        .iter()
        .filter(|(_, kind)| *kind != EmbedderKind::Http)
        .map(|(_, kind)| EmbedderConfig {
            embedder: *kind,
            http: None,
        });
    for candidate in std::iter::once(config.clone()).chain(local_kinds) {
        if let Ok(selected) = select_embedder(None, &candidate)
            && selected.embedder.space().key() == key
        {
            return Ok(selected.embedder);
        }
    }
    Err(format!(
        "the index was built with embedder space `{key}`, which cannot be loaded here; re-index with `codexos index`"
    ))
}
