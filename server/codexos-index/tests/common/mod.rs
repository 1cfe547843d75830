//! Fixture helpers shared by the index's integration tests.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use codexos_embed::HashingEmbedder;
use codexos_index::{IndexSettings, Indexer, OpenOptions};

/// Writes `text` to `path` under `root`, creating its folders.
pub fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The index of `root` with the built-in embedder and default settings, fully built.
#[allow(dead_code, reason = "not every test binary opens an index this way")]
pub fn indexed_with_builtin_vectors(root: &Path) -> Indexer {
    let indexer = Indexer::open(
        root,
        Arc::new(HashingEmbedder::new()),
        IndexSettings::default(),
        &OpenOptions::default(),
    )
    .unwrap();
    indexer
        .index_all(&mut |_| {}, &AtomicBool::new(false))
        .unwrap();
    indexer
}
