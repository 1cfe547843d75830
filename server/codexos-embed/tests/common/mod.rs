//! Shared by the tests that need the real all-MiniLM-L6-v2 files.
#![allow(dead_code, reason = "each test binary uses part of this module")]

use std::path::{Path, PathBuf};

use codexos_embed::words::{identifier_parts, identifiers};
use codexos_embed::{DistillOptions, MINILM_DIR_NAME, MiniLmEmbedder, default_models_dir, distill};

/// The MiniLM folder from `CODEXOS_MODELS_DIR` or the default models directory. Missing files
/// fail the test under CI (`.ci/run` installs them with scripts/fetch-models); on a developer
/// machine without them the test says so and passes.
pub fn minilm_dir() -> Option<PathBuf> {
    let dir = default_models_dir().map(|models| models.join(MINILM_DIR_NAME));
    if let Some(dir) = dir
        .as_ref()
        .filter(|dir| dir.join("model.safetensors").is_file())
    {
        return Some(dir.clone());
    }
    let wanted = dir.map_or_else(
        || "CODEXOS_MODELS_DIR".to_string(),
        |dir| dir.display().to_string(),
    );
    assert!(
        std::env::var_os("CI").is_none(),
        "CI needs the MiniLM weights at {wanted}: run scripts/fetch-models"
    );
    eprintln!(
        "no MiniLM weights at {wanted} (run scripts/fetch-models); this test checks nothing here"
    );
    None
}

/// Distils a small static model into `out`: only the vocabulary pieces of `texts` (split the way
/// the static embedder splits identifiers) plus the first thousand ordinary tokens, so it takes
/// seconds instead of the full vocabulary's minutes.
pub fn distill_small(minilm: &Path, out: &Path, texts: &[&str]) {
    let model = MiniLmEmbedder::load(minilm).unwrap();
    let spaced: Vec<String> = texts
        .iter()
        .map(|text| {
            identifiers(text)
                .flat_map(identifier_parts)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let mut tokens: Vec<String> = Vec::new();
    for text in &spaced {
        let encoding = model.tokenizer().encode(text.as_str(), false).unwrap();
        tokens.extend(encoding.get_tokens().iter().cloned());
    }
    let mut vocabulary: Vec<(String, u32)> =
        model.tokenizer().get_vocab(false).into_iter().collect();
    vocabulary.sort_by_key(|&(_, id)| id);
    tokens.extend(
        vocabulary
            .into_iter()
            .filter(|(token, _)| !token.starts_with('['))
            .take(1000)
            .map(|(token, _)| token),
    );
    let options = DistillOptions {
        dim: 64,
        only_tokens: Some(tokens),
        ..DistillOptions::default()
    };
    distill(minilm, out, &options).unwrap_or_else(|error| panic!("{error}"));
}
