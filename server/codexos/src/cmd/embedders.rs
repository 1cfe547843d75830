//! Which embedder the index commands use: `--embedder`, else `[index] embedder` of
//! `codexos.toml` (default: the static model distilled from MiniLM, falling back to the
//! built-in one with a notice); for searching, the one an existing index was built with,
//! so queries and chunks share one vector space.

use std::sync::Arc;

use anyhow::{anyhow, bail};
use codexos_embed::{Embedder, EmbedderConfig, EmbedderKind, select_embedder};

/// Names `--embedder` accepts.
pub const NAMES: &[&str] = &["static", "minilm", "builtin"];

fn kind(name: &str) -> anyhow::Result<EmbedderKind> {
    Ok(match name {
        "static" => EmbedderKind::Static,
        "minilm" => EmbedderKind::Minilm,
        "builtin" => EmbedderKind::Builtin,
        other => bail!("unknown embedder `{other}`; known: {}", NAMES.join(", ")),
    })
}

/// The embedder called `name`, or the one `config` selects. A fallback is announced on stderr.
pub fn choose(name: Option<&str>, config: &EmbedderConfig) -> anyhow::Result<Arc<dyn Embedder>> {
    let config = match name {
        Some(name) => EmbedderConfig {
            embedder: kind(name)?,
            http: config.http.clone(),
        },
        None => config.clone(),
    };
    let selected = select_embedder(None, &config).map_err(|error| anyhow!("embedder: {error}"))?;
    if let Some(notice) = selected.notice {
        eprintln!("notice: {notice}");
    }
    Ok(selected.embedder)
}

/// The embedder whose space key is `key` (what an index records), if it can be loaded here.
pub fn for_space(key: &str, config: &EmbedderConfig) -> anyhow::Result<Arc<dyn Embedder>> {
    codexos_service::search::embedder_for_space(key, config).map_err(|error| anyhow!(error))
}
