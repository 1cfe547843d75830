//! The vectors on real LMDB: 8-bit quantized with a 1-bit code each, written with their chunk,
//! searchable at every moment, their codes re-centred once a space has doubled.

use codexos_store::{
    ChunkId, ChunkMeta, FileInfo, FileWrite, NewChunk, OpenOptions, Store, WriteBatch,
};

const DIM: usize = 64;

fn axis(axis: usize) -> Vec<f32> {
    let mut vector = vec![0.0; DIM];
    vector[axis % DIM] = 1.0;
    vector
}

/// A file with one chunk per vector.
fn file(path: &str, version: &str, vectors: Vec<Vec<f32>>) -> FileWrite {
    FileWrite {
        path: path.into(),
        info: FileInfo {
            hash: format!("{path}@{version}"),
            size: 10,
            modified_ns: 0,
            language: "rust".into(),
            commit: None,
        },
        chunks: vectors
            .into_iter()
            .enumerate()
            .map(|(number, vector)| NewChunk {
                meta: ChunkMeta {
                    path: path.into(),
                    language: "rust".into(),
                    kind: "function".into(),
                    symbol: format!("{path}::f{number}"),
                    start_line: number as u32 + 1,
                    end_line: number as u32 + 1,
                    byte_start: 0,
                    byte_end: 10,
                    commit: None,
                    symbols: Vec::new(),
                },
                text: format!("fn f{number}() {{}}"),
                vector,
            })
            .collect(),
    }
}

fn open(root: &std::path::Path) -> Store {
    let store = Store::open(root, &OpenOptions::default()).unwrap();
    store.use_space("test-space", DIM).unwrap();
    store
}

fn write(store: &Store, files: Vec<FileWrite>, removed: &[&str]) {
    store
        .write(&WriteBatch {
            files,
            removed: removed.iter().map(|path| (*path).to_owned()).collect(),
        })
        .unwrap();
}

fn chunk_ids(store: &Store, path: &str) -> Vec<ChunkId> {
    store.file(path).unwrap().unwrap().chunk_ids
}

/// The nearest chunk ids to `query`, each checked to still have its chunk.
fn nearest(store: &Store, query: &[f32], limit: usize) -> Vec<ChunkId> {
    let snapshot = store.snapshot().unwrap();
    snapshot
        .nearest(query, limit)
        .unwrap()
        .into_iter()
        .map(|(id, _)| {
            assert!(
                snapshot.chunk(id).unwrap().is_some(),
                "hit {id} has no chunk"
            );
            id
        })
        .collect()
}

fn assert_consistent(store: &Store) {
    let consistency = store.check_consistency().unwrap();
    assert!(consistency.is_consistent(), "{consistency:?}");
    let stats = store.stats().unwrap();
    assert_eq!(stats.vectors, stats.chunks, "{stats:?}");
}

#[test]
fn a_write_is_searchable_at_once_and_a_space_that_doubled_is_recentred_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    write(
        &store,
        vec![
            file("a.rs", "1", vec![axis(0), axis(1)]),
            file("b.rs", "1", vec![axis(2)]),
        ],
        &[],
    );
    assert!(
        !store.vectors_need_build().unwrap(),
        "the first vectors give the space its mean"
    );
    assert_eq!(nearest(&store, &axis(2), 1), chunk_ids(&store, "b.rs"));
    assert_consistent(&store);

    write(&store, vec![file("c.rs", "1", scattered(6, 3))], &[]);
    assert!(store.vectors_need_build().unwrap(), "3 vectors became 9");
    assert_eq!(nearest(&store, &axis(2), 1), chunk_ids(&store, "b.rs"));
    assert!(store.build_vectors().unwrap());
    assert!(!store.vectors_need_build().unwrap());
    assert!(!store.build_vectors().unwrap(), "nothing left to build");
    assert_eq!(nearest(&store, &axis(2), 1), chunk_ids(&store, "b.rs"));
    assert_consistent(&store);
}

#[test]
fn rewriting_one_file_needs_no_build_and_search_sees_only_the_new_vectors() {
    let dir = tempfile::tempdir().unwrap();
    let old_a = {
        let store = open(dir.path());
        write(
            &store,
            vec![
                file("a.rs", "1", vec![axis(0)]),
                file("b.rs", "1", vec![axis(1)]),
                file("c.rs", "1", vec![axis(3)]),
            ],
            &[],
        );
        store.build_vectors().unwrap();
        let old_a = chunk_ids(&store, "a.rs");

        write(&store, vec![file("a.rs", "2", vec![axis(2)])], &["c.rs"]);
        assert!(
            !store.vectors_need_build().unwrap(),
            "a one-file change keeps the codes' mean"
        );
        let new_a = chunk_ids(&store, "a.rs");
        assert_eq!(nearest(&store, &axis(2), 1), new_a);
        assert!(!nearest(&store, &axis(0), 3).contains(&old_a[0]));
        let snapshot = store.snapshot().unwrap();
        assert_eq!(snapshot.vector(old_a[0]).unwrap(), None);
        assert_eq!(snapshot.vector(new_a[0]).unwrap(), Some(axis(2)));
        drop(snapshot);
        assert_consistent(&store);
        old_a
    };

    let store = open(dir.path());
    assert_eq!(
        store.stats().unwrap().vectors,
        2,
        "the vectors survive a reopen"
    );
    assert_eq!(nearest(&store, &axis(2), 1), chunk_ids(&store, "a.rs"));
    assert!(!nearest(&store, &axis(0), 3).contains(&old_a[0]));
    assert_consistent(&store);
}

#[test]
fn a_search_of_a_large_space_ranks_by_codes_and_rescores_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    write(&store, vec![file("a.rs", "1", vec![axis(0)])], &[]);
    let many = scattered(5000, 5);
    write(&store, vec![file("big.rs", "1", many.clone())], &[]);
    store.build_vectors().unwrap();
    write(&store, vec![file("a.rs", "2", vec![axis(1)])], &[]);
    assert_consistent(&store);

    let snapshot = store.snapshot().unwrap();
    let new_a = chunk_ids(&store, "a.rs");
    assert_eq!(snapshot.vector(new_a[0]).unwrap(), Some(axis(1)));
    let big = chunk_ids(&store, "big.rs");
    // A stored vector is its own nearest neighbour, found through the codes.
    for number in [0, 1234, 4999] {
        let hits = snapshot.nearest(&many[number], 1).unwrap();
        assert_eq!(hits[0].0, big[number]);
        assert!((hits[0].1 - 1.0).abs() < 1e-3, "{hits:?}");
    }
    let ids = |hits: Vec<(ChunkId, f32)>| hits.into_iter().map(|(id, _)| id).collect::<Vec<_>>();
    let mut found = 0;
    let queries = scattered(20, 11);
    for query in &queries {
        let exact = ids(snapshot.nearest_exact(query, 10).unwrap());
        let approximate = ids(snapshot.nearest(query, 10).unwrap());
        found += approximate.iter().filter(|id| exact.contains(id)).count();
    }
    let recall = found as f64 / (10 * queries.len()) as f64;
    assert!(
        recall >= 0.8,
        "recall@10 of uniform random vectors: {recall}"
    );
}

#[test]
fn similarities_of_chosen_chunks_read_the_new_vectors_and_skip_removed_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    write(
        &store,
        vec![
            file("a.rs", "1", vec![axis(0)]),
            file("b.rs", "1", vec![axis(1)]),
        ],
        &[],
    );
    store.build_vectors().unwrap();
    let old_a = chunk_ids(&store, "a.rs")[0];
    write(&store, vec![file("a.rs", "2", vec![axis(2)])], &[]);
    let new_a = chunk_ids(&store, "a.rs")[0];
    let b = chunk_ids(&store, "b.rs")[0];

    let space = store.space().unwrap().unwrap();
    let mut query = axis(2);
    query[1] = 1.0;
    let similarities = store
        .snapshot()
        .unwrap()
        .similarities_in(&space, &query, &[old_a, new_a, b])
        .unwrap();
    let half = 1.0 / 2.0_f32.sqrt();
    assert_eq!(similarities.len(), 2, "{similarities:?}");
    assert_eq!((similarities[0].0, similarities[1].0), (new_a, b));
    for (_, similarity) in similarities {
        assert!((similarity - half).abs() < 1e-6, "{similarity}");
    }
}

/// Deterministic vectors spread over every dimension (a linear congruential generator).
fn scattered(count: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut state = seed;
    (0..count)
        .map(|_| {
            (0..DIM)
                .map(|_| {
                    state = state
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
                })
                .collect()
        })
        .collect()
}

#[test]
fn a_search_of_a_small_space_finds_the_exact_neighbours() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    write(&store, vec![file("many.rs", "1", scattered(2000, 7))], &[]);
    store.build_vectors().unwrap();
    let snapshot = store.snapshot().unwrap();
    let ids = |hits: Vec<(ChunkId, f32)>| hits.into_iter().map(|(id, _)| id).collect::<Vec<_>>();
    for query in scattered(20, 11) {
        assert_eq!(
            ids(snapshot.nearest(&query, 10).unwrap()),
            ids(snapshot.nearest_exact(&query, 10).unwrap())
        );
    }
}
