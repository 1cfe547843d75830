//! The upgrade vector space on real LMDB: recorded per model, never mixed, kept to
//! the chunks that exist, chosen for search only when complete.

use codexos_store::{
    ChunkMeta, FileInfo, FileWrite, NewChunk, OpenOptions, SpaceChange, Store, WriteBatch,
};

fn file(path: &str, symbols: &[&str]) -> FileWrite {
    FileWrite {
        path: path.into(),
        info: FileInfo {
            hash: format!("hash-of-{path}-{}", symbols.join(",")),
            size: 10,
            modified_ns: 0,
            language: "rust".into(),
            commit: None,
        },
        chunks: symbols
            .iter()
            .enumerate()
            .map(|(line, symbol)| NewChunk {
                meta: ChunkMeta {
                    path: path.into(),
                    language: "rust".into(),
                    kind: "function".into(),
                    symbol: (*symbol).into(),
                    start_line: line as u32 + 1,
                    end_line: line as u32 + 1,
                    byte_start: 0,
                    byte_end: 10,
                    commit: None,
                    symbols: Vec::new(),
                },
                text: format!("fn {symbol}() {{}}"),
                vector: vec![1.0, 0.0],
            })
            .collect(),
    }
}

fn store_with_chunks(root: &std::path::Path) -> Store {
    let store = Store::open(root, &OpenOptions::default()).unwrap();
    store.use_space("fast", 2).unwrap();
    store
        .write(&WriteBatch {
            files: vec![file("a.rs", &["a1", "a2"]), file("b.rs", &["b1"])],
            removed: vec![],
        })
        .unwrap();
    store
}

/// A 3-d vector pointing along `axis` (the upgrade space has another dimension than the fast one).
fn axis(axis: usize) -> Vec<f32> {
    let mut vector = vec![0.0; 3];
    vector[axis] = 1.0;
    vector
}

fn fill(store: &Store, space: &str) -> usize {
    let (missing, _) = store.chunks_missing_upgrade(space, usize::MAX).unwrap();
    let vectors: Vec<_> = missing
        .iter()
        .enumerate()
        .map(|(n, &id)| (id, axis(n % 3)))
        .collect();
    let kept = store.write_upgrade_vectors(space, &vectors).unwrap();
    store.build_upgrade_vectors().unwrap();
    kept
}

#[test]
fn search_reads_the_upgrade_space_only_once_every_chunk_has_its_vector() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_chunks(dir.path());
    assert_eq!(
        store.use_upgrade_space("neural", 3).unwrap(),
        SpaceChange::Created
    );
    let (missing, total) = store.chunks_missing_upgrade("neural", 2).unwrap();
    assert_eq!((missing.len(), total), (2, 3));
    store
        .write_upgrade_vectors("neural", &[(missing[0], axis(0))])
        .unwrap();
    store.build_upgrade_vectors().unwrap();
    let best = |store: &Store| {
        store
            .snapshot()
            .unwrap()
            .best_space(Some("neural"))
            .unwrap()
            .unwrap()
            .id
    };
    assert_eq!(best(&store), "fast", "two chunks still lack neural vectors");
    assert_eq!(fill(&store, "neural"), 2);
    assert_eq!(best(&store), "neural");
    assert_eq!(
        store
            .snapshot()
            .unwrap()
            .best_space(Some("other"))
            .unwrap()
            .unwrap()
            .id,
        "fast",
        "a caller that cannot embed queries in the upgrade space gets the fast one"
    );

    // A save replaces a file's chunks: their upgrade vectors go with them, the space is
    // incomplete again until the new chunks are upgraded.
    store
        .write(&WriteBatch {
            files: vec![file("a.rs", &["a1", "a3"])],
            removed: vec!["b.rs".into()],
        })
        .unwrap();
    let coverage = store.upgrade_coverage().unwrap().unwrap();
    assert_eq!((coverage.upgraded, coverage.chunks), (0, 2));
    assert_eq!(best(&store), "fast");
    // Every chunk upgraded again: codes are written with their vectors, so no build is needed.
    let (missing, _) = store.chunks_missing_upgrade("neural", 10).unwrap();
    let vectors: Vec<_> = missing.iter().map(|&id| (id, axis(2))).collect();
    assert_eq!(store.write_upgrade_vectors("neural", &vectors).unwrap(), 2);
    assert!(store.check_consistency().unwrap().is_consistent());
    assert_eq!(best(&store), "neural");
}

#[test]
fn another_upgrade_model_starts_its_space_over_and_never_mixes_vectors() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_chunks(dir.path());
    store.use_upgrade_space("neural-v1", 3).unwrap();
    assert_eq!(fill(&store, "neural-v1"), 3);

    assert_eq!(
        store.use_upgrade_space("neural-v2", 3).unwrap(),
        SpaceChange::Replaced {
            previous: "neural-v1".into()
        }
    );
    let coverage = store.upgrade_coverage().unwrap().unwrap();
    assert_eq!(
        (coverage.space.id.as_str(), coverage.upgraded),
        ("neural-v2", 0)
    );
    // Vectors computed for the old model while it changed are refused, not stored.
    let (missing, _) = store.chunks_missing_upgrade("neural-v2", 10).unwrap();
    assert_eq!(
        store
            .write_upgrade_vectors("neural-v1", &[(missing[0], axis(0))])
            .unwrap(),
        0
    );
    assert_eq!(store.upgrade_coverage().unwrap().unwrap().upgraded, 0);

    // A change of the fast model drops every chunk, and the upgrade space with them.
    store.use_space("fast-v2", 2).unwrap();
    assert_eq!(store.upgrade_space().unwrap(), None);
    assert!(store.check_consistency().unwrap().is_consistent());
}

#[test]
fn upgrade_vectors_survive_a_reopen_and_vectors_for_vanished_chunks_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let vanished;
    {
        let store = store_with_chunks(dir.path());
        store.use_upgrade_space("neural", 3).unwrap();
        let (missing, _) = store.chunks_missing_upgrade("neural", 10).unwrap();
        store
            .write_upgrade_vectors("neural", &[(missing[0], axis(0))])
            .unwrap();
        vanished = missing[1];
        store
            .write(&WriteBatch {
                files: vec![],
                removed: vec!["a.rs".into()],
            })
            .unwrap();
    }
    let store = Store::open(dir.path(), &OpenOptions::default()).unwrap();
    assert_eq!(
        store
            .write_upgrade_vectors("neural", &[(vanished, axis(1))])
            .unwrap(),
        0
    );
    let (missing, total) = store.chunks_missing_upgrade("neural", 10).unwrap();
    assert_eq!((missing.len(), total), (1, 1), "only b.rs's chunk is left");
    assert_eq!(fill(&store, "neural"), 1);
    let snapshot = store.snapshot().unwrap();
    let space = snapshot.best_space(Some("neural")).unwrap().unwrap();
    let nearest = snapshot.nearest_in(&space, &axis(0), 5).unwrap();
    assert_eq!(nearest.len(), 1);
    assert!(store.check_consistency().unwrap().is_consistent());
}
