//! The vectors' ANN index on real LMDB and arroy: trees built once per bulk write, edits in
//! between absorbed by a small delta, every vector readable at every moment.

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
fn a_bulk_write_is_searchable_before_its_trees_are_built_and_builds_once() {
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
    assert!(store.vectors_need_build().unwrap());
    assert_eq!(nearest(&store, &axis(2), 1), chunk_ids(&store, "b.rs"));
    assert_consistent(&store);

    assert!(store.build_vectors().unwrap());
    assert!(!store.vectors_need_build().unwrap());
    assert!(!store.build_vectors().unwrap(), "nothing left to build");
    assert_eq!(nearest(&store, &axis(2), 1), chunk_ids(&store, "b.rs"));
    assert_consistent(&store);
}

#[test]
fn rewriting_one_file_after_a_build_keeps_the_trees_and_search_sees_only_the_new_vectors() {
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
            "a one-file change keeps the trees"
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
        "the delta survives a reopen"
    );
    assert_eq!(nearest(&store, &axis(2), 1), chunk_ids(&store, "a.rs"));
    assert!(!nearest(&store, &axis(0), 3).contains(&old_a[0]));
    assert_consistent(&store);
}

#[test]
fn a_batch_too_large_for_the_delta_goes_to_the_main_index_and_its_build_folds_the_delta_in() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    write(&store, vec![file("a.rs", "1", vec![axis(0)])], &[]);
    store.build_vectors().unwrap();
    write(&store, vec![file("a.rs", "2", vec![axis(1)])], &[]);
    assert!(!store.vectors_need_build().unwrap());

    let many = (0..4100).map(|number| axis(2 + number % 3)).collect();
    write(&store, vec![file("big.rs", "1", many)], &[]);
    assert!(store.vectors_need_build().unwrap());
    assert_consistent(&store);

    assert!(store.build_vectors().unwrap());
    assert!(!store.vectors_need_build().unwrap());
    let new_a = chunk_ids(&store, "a.rs");
    let snapshot = store.snapshot().unwrap();
    assert_eq!(snapshot.vector(new_a[0]).unwrap(), Some(axis(1)));
    let exact: Vec<ChunkId> = snapshot
        .nearest_exact(&axis(1), 1)
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(exact, new_a);
    drop(snapshot);
    assert_consistent(&store);
}

#[test]
fn similarities_of_chosen_chunks_read_the_delta_and_skip_removed_chunks() {
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
fn a_search_of_an_index_smaller_than_the_comparison_floor_finds_the_exact_neighbours() {
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
