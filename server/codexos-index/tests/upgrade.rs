//! Upgrading an index's vectors to a better model in the background, on real workspaces in
//! temporary folders with the real store.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use codexos_embed::{
    EmbedError, Embedder, MINILM_DIR_NAME, MiniLmEmbedder, SpaceId, default_models_dir,
};
use codexos_index::{IndexError, Indexer, SearchMode, SearchRequest, UPGRADE_BATCH};
use common::write;

/// A stand-in for a neural model that knows one thing the fast embedder cannot: "first letter"
/// means alpha. Counts what it embeds.
struct ConceptEmbedder {
    space: SpaceId,
    texts: AtomicUsize,
}

impl ConceptEmbedder {
    fn new(version: &str) -> Arc<Self> {
        Arc::new(Self {
            space: SpaceId::new("concepts", 3, version),
            texts: AtomicUsize::new(0),
        })
    }

    fn embedded(&self) -> usize {
        self.texts.load(Ordering::SeqCst)
    }
}

impl Embedder for ConceptEmbedder {
    fn space(&self) -> &SpaceId {
        &self.space
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.texts.fetch_add(texts.len(), Ordering::SeqCst);
        Ok(texts
            .iter()
            .map(|text| {
                if text.contains("beta") {
                    vec![0.0, 1.0, 0.0]
                } else if text.contains("alpha") || text.contains("first letter") {
                    vec![1.0, 0.0, 0.0]
                } else {
                    vec![0.0, 0.0, 1.0]
                }
            })
            .collect())
    }
}

/// `alpha.rs` answers "first letter" by meaning; `beta.rs` only repeats its words.
fn letters_fixture(root: &Path) {
    write(
        root,
        "src/alpha.rs",
        "pub fn alpha() -> char {\n    'a'\n}\n",
    );
    write(
        root,
        "src/beta.rs",
        "/// Not the first letter.\npub fn beta() -> char {\n    'b'\n}\n",
    );
    for number in 0..40 {
        write(
            root,
            &format!("src/filler_{number}.rs"),
            &format!("pub fn filler_{number}() -> u32 {{\n    {number}\n}}\n"),
        );
    }
}

fn upgrade(indexer: &Indexer) -> codexos_index::UpgradeSummary {
    indexer
        .upgrade_vectors(&mut |_| {}, &|| false, &AtomicBool::new(false))
        .unwrap()
}

fn top_by_vectors(indexer: &Indexer, query: &str) -> String {
    let request = SearchRequest {
        mode: SearchMode::Vector,
        collapse_files: true,
        ..SearchRequest::new(query)
    };
    indexer.searcher().search(&request).unwrap()[0].path.clone()
}

fn chunk_count(indexer: &Indexer) -> usize {
    indexer.store().stats().unwrap().chunks as usize
}

fn vector_space(indexer: &Indexer) -> String {
    indexer.searcher().vector_space().unwrap().unwrap()
}

#[test]
fn searches_use_the_upgraded_vectors_once_every_chunk_has_one() {
    let dir = tempfile::tempdir().unwrap();
    letters_fixture(dir.path());
    let concepts = ConceptEmbedder::new("v1");
    let indexer = common::indexed_with_builtin_vectors(dir.path())
        .with_upgrade(concepts.clone())
        .unwrap();
    assert_eq!(top_by_vectors(&indexer, "first letter"), "src/beta.rs");
    assert_eq!(vector_space(&indexer), "builtin-hashing-d512-v1");

    let summary = upgrade(&indexer);
    assert!(summary.complete);
    assert_eq!(summary.chunks_embedded, chunk_count(&indexer));
    assert_eq!(vector_space(&indexer), "concepts-d3-v1");
    assert_eq!(top_by_vectors(&indexer, "first letter"), "src/alpha.rs");

    // A save leaves the new chunks without upgraded vectors: searches fall back to the fast
    // space until the upgrade has embedded just those.
    write(
        dir.path(),
        "src/alpha.rs",
        "pub fn alpha() -> char {\n    'A'\n}\n",
    );
    indexer
        .reindex_file(&dir.path().join("src/alpha.rs"))
        .unwrap();
    assert_eq!(vector_space(&indexer), "builtin-hashing-d512-v1");
    let before = concepts.embedded();
    let summary = upgrade(&indexer);
    assert_eq!(
        (summary.chunks_embedded, concepts.embedded() - before),
        (1, 1)
    );
    assert_eq!(top_by_vectors(&indexer, "first letter"), "src/alpha.rs");
    assert!(indexer.store().check_consistency().unwrap().is_consistent());
}

#[test]
fn an_interrupted_upgrade_resumes_after_a_restart_without_embedding_anything_twice() {
    let dir = tempfile::tempdir().unwrap();
    letters_fixture(dir.path());
    let concepts = ConceptEmbedder::new("v1");
    let chunks;
    {
        let indexer = common::indexed_with_builtin_vectors(dir.path())
            .with_upgrade(concepts.clone())
            .unwrap();
        chunks = chunk_count(&indexer);
        assert!(chunks > UPGRADE_BATCH * 2, "{chunks} chunks");
        let cancel = AtomicBool::new(false);
        let stopped = indexer.upgrade_vectors(
            &mut |progress| {
                if progress.embedded >= UPGRADE_BATCH {
                    cancel.store(true, Ordering::SeqCst);
                }
            },
            &|| false,
            &cancel,
        );
        assert!(matches!(stopped, Err(IndexError::Cancelled { .. })));
        assert_eq!(concepts.embedded(), UPGRADE_BATCH);
        assert_eq!(vector_space(&indexer), "builtin-hashing-d512-v1");
    }
    let indexer = common::indexed_with_builtin_vectors(dir.path())
        .with_upgrade(concepts.clone())
        .unwrap();
    let summary = upgrade(&indexer);
    assert_eq!(summary.chunks_embedded, chunks - UPGRADE_BATCH);
    assert_eq!(concepts.embedded(), chunks);
    assert!(summary.complete);
    assert_eq!(vector_space(&indexer), "concepts-d3-v1");
}

#[test]
fn another_upgrade_model_starts_over_and_never_searches_the_old_models_vectors() {
    let dir = tempfile::tempdir().unwrap();
    letters_fixture(dir.path());
    {
        let indexer = common::indexed_with_builtin_vectors(dir.path())
            .with_upgrade(ConceptEmbedder::new("v1"))
            .unwrap();
        assert!(upgrade(&indexer).complete);
    }
    let second = ConceptEmbedder::new("v2");
    let indexer = common::indexed_with_builtin_vectors(dir.path())
        .with_upgrade(second.clone())
        .unwrap();
    assert_eq!(
        vector_space(&indexer),
        "builtin-hashing-d512-v1",
        "v1's vectors are gone and v2 has none yet"
    );
    let summary = upgrade(&indexer);
    assert_eq!(second.embedded(), chunk_count(&indexer));
    assert!(summary.complete);
    assert_eq!(vector_space(&indexer), "concepts-d3-v2");
    let coverage = indexer.store().upgrade_coverage().unwrap().unwrap();
    assert_eq!(coverage.upgraded as usize, chunk_count(&indexer));
}

#[test]
fn the_upgrade_waits_while_its_caller_is_busy() {
    let dir = tempfile::tempdir().unwrap();
    letters_fixture(dir.path());
    let concepts = ConceptEmbedder::new("v1");
    let indexer = common::indexed_with_builtin_vectors(dir.path())
        .with_upgrade(concepts.clone())
        .unwrap();
    let asked = AtomicUsize::new(0);
    let embedded_while_busy = AtomicUsize::new(usize::MAX);
    let busy = || {
        let asked = asked.fetch_add(1, Ordering::SeqCst);
        if asked == 5 {
            embedded_while_busy.store(concepts.embedded(), Ordering::SeqCst);
        }
        asked < 5
    };
    let summary = indexer
        .upgrade_vectors(&mut |_| {}, &busy, &AtomicBool::new(false))
        .unwrap();
    assert!(summary.complete);
    assert_eq!(embedded_while_busy.load(Ordering::SeqCst), 0);
}

/// The real MiniLM, found the way the embedder's own tests find it: CI installs it with
/// scripts/fetch-models, and a missing model fails there.
fn minilm_dir() -> Option<PathBuf> {
    let dir = default_models_dir().map(|models| models.join(MINILM_DIR_NAME));
    if let Some(dir) = dir
        .as_ref()
        .filter(|dir| dir.join("model.safetensors").is_file())
    {
        return Some(dir.clone());
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI needs the MiniLM weights at {dir:?}: run scripts/fetch-models"
    );
    eprintln!(
        "no MiniLM weights at {dir:?} (run scripts/fetch-models); this test checks nothing here"
    );
    None
}

#[test]
fn minilm_vectors_find_by_meaning_what_the_builtin_vectors_miss() {
    let Some(minilm) = minilm_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "src/pets.rs",
        "/// The cat sleeps on the sofa all afternoon.\npub fn nap() {}\n",
    );
    write(
        dir.path(),
        "src/kitchen.rs",
        "/// Sets the timer of the kitchen oven.\npub fn set_kitchen_timer(minutes: u32) {}\n",
    );
    let minilm = Arc::new(MiniLmEmbedder::load(&minilm).unwrap());
    let indexer = common::indexed_with_builtin_vectors(dir.path())
        .with_upgrade(minilm)
        .unwrap();
    let query = "a kitten resting";
    assert_eq!(top_by_vectors(&indexer, query), "src/kitchen.rs");
    assert!(upgrade(&indexer).complete);
    assert!(vector_space(&indexer).starts_with("all-MiniLM-L6-v2-d384-"));
    assert_eq!(top_by_vectors(&indexer, query), "src/pets.rs");
}
