//! Real LMDB and tantivy in temporary folders.

use codexos_store::tokens::terms;
use codexos_store::{
    ChunkMeta, DocKind, FieldWeights, FileInfo, FileWrite, LexicalFile, LexicalKey, NewChunk,
    OpenOptions, SpaceChange, Store, StoreError, WriteBatch,
};

fn meta(path: &str, symbol: &str, line: u32) -> ChunkMeta {
    ChunkMeta {
        path: path.into(),
        language: "rust".into(),
        kind: "function".into(),
        symbol: symbol.into(),
        start_line: line,
        end_line: line + 2,
        byte_start: 0,
        byte_end: 10,
        commit: Some("abc".into()),
        symbols: Vec::new(),
    }
}

fn unit(index: usize) -> Vec<f32> {
    let mut vector = vec![0.0; 4];
    vector[index] = 1.0;
    vector
}

fn file(path: &str, chunks: &[(&str, &str, usize)]) -> FileWrite {
    FileWrite {
        path: path.into(),
        info: FileInfo {
            hash: format!("hash-of-{path}"),
            size: 10,
            modified_ns: 0,
            language: "rust".into(),
            commit: None,
        },
        chunks: chunks
            .iter()
            .enumerate()
            .map(|(line, (symbol, text, axis))| NewChunk {
                meta: meta(path, symbol, line as u32 + 1),
                text: (*text).into(),
                vector: unit(*axis),
            })
            .collect(),
    }
}

/// Writes `files` (nothing removed).
fn save(store: &Store, files: Vec<FileWrite>) {
    store
        .write(&WriteBatch {
            files,
            removed: vec![],
        })
        .unwrap();
}

fn open(root: &std::path::Path) -> Store {
    let store = Store::open(root, &OpenOptions::default()).unwrap();
    store.use_space("test-space", 4).unwrap();
    store
}

#[test]
fn opening_an_index_creates_its_folders_private_to_the_user() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let _store = open(root.path());
    let modes = [".codexos", ".codexos/index"].map(|dir| {
        std::fs::metadata(root.path().join(dir))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    });
    assert_eq!(modes, [0o700, 0o700]);
}

#[test]
fn chunks_vectors_and_bm25_round_trip_through_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        store
            .write(&WriteBatch {
                files: vec![
                    file(
                        "src/parse.rs",
                        &[("parse::parse_header", "fn parse_header(line: &str) {}", 0)],
                    ),
                    file(
                        "src/print.rs",
                        &[("print::print_match", "fn print_match(m: Match) {}", 1)],
                    ),
                ],
                removed: vec![],
            })
            .unwrap();
        store.sync_full_text().unwrap();
    }
    let store = Store::open(dir.path(), &OpenOptions::default()).unwrap();
    assert_eq!(
        store.use_space("test-space", 4).unwrap(),
        SpaceChange::Unchanged
    );
    let hits = store
        .bm25(
            DocKind::Chunk,
            &terms("header parsing"),
            FieldWeights::default(),
            None,
            10,
        )
        .unwrap();
    let snapshot = store.snapshot().unwrap();
    let LexicalKey::Chunk(id) = hits[0].0.clone() else {
        panic!("chunk key expected, got {hits:?}")
    };
    assert_eq!(
        snapshot.chunk(id).unwrap().unwrap().symbol,
        "parse::parse_header"
    );
    assert_eq!(
        snapshot.chunk_text(id).unwrap(),
        Some("fn parse_header(line: &str) {}".to_owned())
    );
    let nearest = snapshot.nearest(&unit(1), 1).unwrap();
    assert_eq!(
        snapshot.chunk(nearest[0].0).unwrap().unwrap().path,
        "src/print.rs"
    );
    assert!(
        (nearest[0].1 - 1.0).abs() < 1e-4,
        "cosine of identical vectors is 1, got {}",
        nearest[0].1
    );
    let files = store
        .bm25(
            DocKind::File,
            &terms("print"),
            FieldWeights::default(),
            None,
            10,
        )
        .unwrap();
    assert_eq!(files[0].0, LexicalKey::File("src/print.rs".into()));
    assert!(store.check_consistency().unwrap().is_consistent());
    assert!(dir.path().join(".codexos/.gitignore").exists());
}

#[test]
fn rewriting_and_removing_files_leaves_no_stale_chunk_vector_or_term() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store
        .write(&WriteBatch {
            files: vec![file("a.rs", &[("a::retired", "fn retired() {}", 0)])],
            removed: vec![],
        })
        .unwrap();
    store
        .write(&WriteBatch {
            files: vec![file("a.rs", &[("a::fresh", "fn fresh() {}", 2)])],
            removed: vec![],
        })
        .unwrap();
    store
        .write(&WriteBatch {
            files: vec![file("b.rs", &[("b::other", "fn other() {}", 3)])],
            removed: vec![],
        })
        .unwrap();
    store
        .write(&WriteBatch {
            files: vec![],
            removed: vec!["b.rs".into()],
        })
        .unwrap();
    store.sync_full_text().unwrap();
    assert!(
        store
            .bm25(
                DocKind::Chunk,
                &terms("retired"),
                FieldWeights::default(),
                None,
                10
            )
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .bm25(
                DocKind::File,
                &terms("other"),
                FieldWeights::default(),
                None,
                10
            )
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .bm25(
                DocKind::Chunk,
                &terms("fresh"),
                FieldWeights::default(),
                None,
                10
            )
            .unwrap()
            .len(),
        1
    );
    let stats = store.stats().unwrap();
    assert_eq!(
        (
            stats.files,
            stats.chunks,
            stats.vectors,
            stats.pending_full_text
        ),
        (1, 1, 1, 0)
    );
    assert!(store.check_consistency().unwrap().is_consistent());
}

#[test]
fn a_full_text_index_lost_or_behind_is_rebuilt_from_lmdb_on_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        store
            .write(&WriteBatch {
                files: vec![file("a.rs", &[("a::alpha", "fn alpha() {}", 0)])],
                removed: vec![],
            })
            .unwrap();
        // No sync: the process "dies" with the change only in LMDB's queue.
    }
    {
        let store = Store::open(dir.path(), &OpenOptions::default()).unwrap();
        assert_eq!(
            store
                .bm25(
                    DocKind::Chunk,
                    &terms("alpha"),
                    FieldWeights::default(),
                    None,
                    10
                )
                .unwrap()
                .len(),
            1
        );
    }
    std::fs::remove_dir_all(dir.path().join(".codexos/index/tantivy")).unwrap();
    let store = Store::open(dir.path(), &OpenOptions::default()).unwrap();
    assert_eq!(
        store
            .bm25(
                DocKind::File,
                &terms("alpha"),
                FieldWeights::default(),
                None,
                10
            )
            .unwrap()
            .len(),
        1
    );
}

fn hits(store: &Store, kind: DocKind, word: &str) -> usize {
    store
        .bm25(kind, &terms(word), FieldWeights::default(), None, 10)
        .unwrap()
        .len()
}

#[test]
fn a_saved_edit_leaves_its_full_text_queue_to_the_next_write_and_a_clean_close_empties_it() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        let alpha = file("a.rs", &[("a::alpha", "fn alpha() {}", 0)]);
        save(&store, vec![alpha]);
        store.sync_full_text().unwrap();
        assert_eq!(store.stats().unwrap().pending_full_text, 0);

        let fresh = file("a.rs", &[("a::fresh", "fn fresh() {}", 1)]);
        save(&store, vec![fresh]);
        store.sync_full_text_after_edit().unwrap();
        assert_eq!(
            (
                hits(&store, DocKind::Chunk, "fresh"),
                hits(&store, DocKind::Chunk, "alpha")
            ),
            (1, 0)
        );
        assert_eq!(
            store.stats().unwrap().pending_full_text,
            3,
            "alpha's removal, fresh's chunk and a.rs stay queued until the next write"
        );

        let other = file("b.rs", &[("b::other", "fn other() {}", 2)]);
        save(&store, vec![other]);
        assert_eq!(
            store.stats().unwrap().pending_full_text,
            2,
            "that write cleared a.rs's entries and queued b.rs's chunk and file"
        );
        store.sync_full_text_after_edit().unwrap();
        assert_eq!(hits(&store, DocKind::File, "other"), 1);
    }
    let store = Store::open(dir.path(), &OpenOptions::default()).unwrap();
    assert_eq!(store.stats().unwrap().pending_full_text, 0);
    assert_eq!(
        (
            hits(&store, DocKind::Chunk, "fresh"),
            hits(&store, DocKind::Chunk, "alpha"),
            hits(&store, DocKind::Chunk, "other")
        ),
        (1, 0, 1)
    );
}

#[test]
fn a_full_text_index_ahead_of_an_lmdb_that_lost_its_last_commit_is_rebuilt_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join(".codexos/index/lmdb/data.mdb");
    let before_the_lost_commit = dir.path().join("data.mdb.before");
    {
        let store = open(dir.path());
        let alpha = file("a.rs", &[("a::alpha", "fn alpha() {}", 0)]);
        save(&store, vec![alpha]);
        store.sync_full_text().unwrap();
    }
    std::fs::copy(&data, &before_the_lost_commit).unwrap();
    {
        let store = Store::open(dir.path(), &OpenOptions::default()).unwrap();
        let fresh = file("a.rs", &[("a::fresh", "fn fresh() {}", 1)]);
        save(&store, vec![fresh]);
        store.sync_full_text().unwrap();
    }
    // A power cut undid LMDB's last commit (what `NO_META_SYNC` allows); the full-text index,
    // flushed by the system meanwhile, kept it.
    std::fs::copy(&before_the_lost_commit, &data).unwrap();
    let store = Store::open(dir.path(), &OpenOptions::default()).unwrap();
    assert_eq!(
        (
            hits(&store, DocKind::Chunk, "alpha"),
            hits(&store, DocKind::Chunk, "fresh")
        ),
        (1, 0),
        "the full-text index matches LMDB again"
    );
    assert!(store.check_consistency().unwrap().is_consistent());
}

#[test]
fn changing_the_vector_space_drops_every_chunk_instead_of_mixing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store
        .write(&WriteBatch {
            files: vec![file("a.rs", &[("a::alpha", "fn alpha() {}", 0)])],
            removed: vec![],
        })
        .unwrap();
    assert_eq!(
        store.use_space("other-model", 8).unwrap(),
        SpaceChange::Replaced {
            previous: "test-space".into()
        }
    );
    let stats = store.stats().unwrap();
    assert_eq!((stats.files, stats.chunks, stats.vectors), (0, 0, 0));
    let error = store
        .write(&WriteBatch {
            files: vec![file("a.rs", &[("a::alpha", "x", 0)])],
            removed: vec![],
        })
        .unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::WrongDimension {
                expected: 8,
                got: 4,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn a_second_writer_is_told_which_pid_holds_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let _first = open(dir.path());
    let error = match Store::open(dir.path(), &OpenOptions::default()) {
        Ok(_) => panic!("a second writer must not open the index"),
        Err(error) => error.to_string(),
    };
    assert_eq!(
        error,
        format!(
            "index at {} is in use by pid {}",
            dir.path().join(".codexos/index").display(),
            std::process::id()
        )
    );
}

#[test]
fn chunks_written_before_their_vectors_are_searchable_by_bm25_and_embedded_later() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &OpenOptions::default()).unwrap();
    store.use_space("test-space", 3).unwrap();
    let chunk = |line: u32, text: &str| NewChunk {
        meta: meta("lazy.rs", "", line),
        text: text.to_owned(),
        vector: Vec::new(),
    };
    store
        .write(&WriteBatch {
            files: vec![FileWrite {
                path: "lazy.rs".into(),
                info: FileInfo {
                    hash: "h1".into(),
                    size: 40,
                    modified_ns: 0,
                    language: "rust".into(),
                    commit: None,
                },
                chunks: vec![
                    chunk(1, "fn parse_config() {}"),
                    chunk(2, "fn render_page() {}"),
                ],
            }],
            removed: Vec::new(),
        })
        .unwrap();
    store.sync_full_text().unwrap();
    let stats = store.stats().unwrap();
    assert_eq!((stats.chunks, stats.vectors), (2, 0));
    assert_eq!(store.unembedded_count().unwrap(), 2);
    assert!(store.check_consistency().unwrap().is_consistent());
    let found = store
        .bm25(
            DocKind::Chunk,
            &terms("parse_config"),
            FieldWeights::default(),
            None,
            10,
        )
        .unwrap();
    assert_eq!(found.len(), 1, "BM25 finds a chunk that has no vector yet");

    let waiting = store.unembedded(10).unwrap();
    assert_eq!(waiting.len(), 2);
    assert_eq!(waiting[0].2, "fn parse_config() {}");
    // The second chunk's file is replaced before its vector arrives: that vector is dropped.
    let (first, second) = (waiting[0].0, waiting[1].0);
    assert_eq!(
        store
            .write_vectors(&[(first, vec![1.0, 0.0, 0.0])])
            .unwrap(),
        1
    );
    store
        .write(&WriteBatch {
            files: Vec::new(),
            removed: vec!["lazy.rs".into()],
        })
        .unwrap();
    assert_eq!(
        store
            .write_vectors(&[(second, vec![0.0, 1.0, 0.0])])
            .unwrap(),
        0
    );
    assert_eq!(store.unembedded_count().unwrap(), 0);
    assert_eq!(store.stats().unwrap().vectors, 0);
    assert!(store.check_consistency().unwrap().is_consistent());
}

fn words_only(path: &str, text: &str) -> LexicalFile {
    LexicalFile {
        path: path.into(),
        info: file(path, &[]).info,
        text: text.into(),
    }
}

fn file_hits(store: &Store, word: &str) -> Vec<LexicalKey> {
    store
        .bm25(
            DocKind::File,
            &terms(word),
            FieldWeights::default(),
            None,
            10,
        )
        .unwrap()
        .into_iter()
        .map(|(key, _)| key)
        .collect()
}

#[test]
fn a_file_written_before_its_chunks_is_found_by_its_words_until_its_chunks_replace_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    save(
        &store,
        vec![file("b.rs", &[("b::beta", "fn beta() {}", 0)])],
    );
    let written = store
        .write_lexical(&[
            words_only("a.rs", "fn alpha() {}\nfn gamma() {}\n"),
            words_only("b.rs", "saved meanwhile, it keeps its chunks"),
        ])
        .unwrap();
    assert_eq!(written, 1, "a file with chunks is left alone");
    assert_eq!(
        file_hits(&store, "gamma"),
        [LexicalKey::File("a.rs".into())]
    );
    assert!(file_hits(&store, "meanwhile").is_empty());
    assert_eq!(
        store.file("a.rs").unwrap(),
        None,
        "no record: it is chunked next"
    );
    assert!(store.unchunked("a.rs").unwrap().is_some());
    assert_eq!(store.file_paths().unwrap(), ["a.rs", "b.rs"]);

    // Written again (a stopped run), then chunked: one document, the chunks'.
    store
        .write_lexical(&[words_only("a.rs", "fn alpha() {}\nfn gamma() {}\n")])
        .unwrap();
    save(
        &store,
        vec![file("a.rs", &[("a::alpha", "fn alpha() {}", 1)])],
    );
    store.sync_full_text().unwrap();
    assert_eq!(
        file_hits(&store, "alpha"),
        [LexicalKey::File("a.rs".into())]
    );
    assert!(file_hits(&store, "gamma").is_empty());
    assert_eq!(store.unchunked("a.rs").unwrap(), None);

    // Removed before its chunks: its document goes too.
    store
        .write_lexical(&[words_only("c.rs", "fn delta() {}")])
        .unwrap();
    store
        .write(&WriteBatch {
            files: vec![],
            removed: vec!["c.rs".into()],
        })
        .unwrap();
    store.sync_full_text().unwrap();
    assert!(file_hits(&store, "delta").is_empty());
    assert_eq!(store.file_paths().unwrap(), ["a.rs", "b.rs"]);
    assert!(store.check_consistency().unwrap().is_consistent());
}

#[test]
fn a_rebuilt_full_text_index_forgets_the_files_waiting_for_their_chunks() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        store
            .write_lexical(&[words_only("a.rs", "fn alpha() {}")])
            .unwrap();
    }
    std::fs::remove_dir_all(dir.path().join(".codexos/index/tantivy")).unwrap();
    let store = Store::open(dir.path(), &OpenOptions::default()).unwrap();
    assert!(file_hits(&store, "alpha").is_empty());
    assert_eq!(
        store.file_paths().unwrap(),
        Vec::<String>::new(),
        "the next run finds it new and writes it again"
    );
}
