//! Which embedder an index uses, decided here for every front end: for writing, `--embedder`
//! or `[index] embedder` (the static model by default, falling back with a notice); for
//! searching, the embedder of the space the index holds, so queries and chunks share one
//! vector space; and the neural model of `[index] upgrade`.

use std::sync::Arc;

use codexos_embed::{Embedder, EmbedderConfig, EmbedderKind, SelectedEmbedder, select_embedder};
use codexos_index::IndexSettings;

/// Names `--embedder` accepts: the local kinds (`http` is configured by `[index.http]`).
pub const EMBEDDER_NAMES: &[&str] = &["static", "minilm", "builtin"];

/// The embedder kind `--embedder NAME` names.
pub fn embedder_kind(name: &str) -> Result<EmbedderKind, String> {
    match name.parse::<EmbedderKind>() {
        Ok(kind) if EMBEDDER_NAMES.contains(&name) => Ok(kind),
        _ => Err(format!(
            "unknown embedder `{name}`; known: {}",
            EMBEDDER_NAMES.join(", ")
        )),
    }
}

/// The embedder of `kind` (default: the one `config` names), or the next best with a notice
/// saying what is missing. `config`'s `[index.http]` table comes along.
pub fn select(
    kind: Option<EmbedderKind>,
    config: &EmbedderConfig,
) -> Result<SelectedEmbedder, String> {
    let config = EmbedderConfig {
        embedder: kind.unwrap_or(config.embedder),
        http: config.http.clone(),
    };
    select_embedder(None, &config).map_err(|error| error.to_string())
}

/// The model vectors are upgraded to (`[index] upgrade`), or why there is none: not
/// configured, or its files are missing (a fallback is no upgrade: it would be no better).
pub(crate) fn upgrade(settings: &IndexSettings) -> Result<Arc<dyn Embedder>, String> {
    let kind = settings
        .upgrade
        .ok_or("codexos.toml says [index] upgrade = \"none\"")?;
    let selected = select(Some(kind), &settings.embedder)?;
    match selected.notice {
        None => Ok(selected.embedder),
        Some(notice) => Err(notice),
    }
}

/// The embedder whose space key is `key` (what an index records), if it can be loaded here:
/// the one `config` selects, else any local kind whose space matches.
pub(crate) fn for_space(key: &str, config: &EmbedderConfig) -> Result<Arc<dyn Embedder>, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedder_names_are_the_local_kinds_and_an_unknown_one_lists_them() {
        assert_eq!(embedder_kind("builtin"), Ok(EmbedderKind::Builtin));
        assert_eq!(
            embedder_kind("http"),
            Err("unknown embedder `http`; known: static, minilm, builtin".to_owned())
        );
    }

    #[test]
    fn a_space_is_searched_with_the_embedder_that_wrote_it_whatever_the_configuration() {
        let builtin = select(Some(EmbedderKind::Builtin), &EmbedderConfig::default())
            .expect("the built-in embedder needs no files")
            .embedder;
        let key = builtin.space().key();
        let found = for_space(&key, &EmbedderConfig::default()).expect("found by its key");
        assert_eq!(found.space().key(), key);
        let missing = for_space("nobody/nothing", &EmbedderConfig::default())
            .err()
            .expect("an unknown space");
        assert!(missing.contains("`nobody/nothing`"), "{missing}");
    }
}
