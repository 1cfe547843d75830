//! The on-disk layout: what a store reads back is what it was given, an index of an older
//! layout is never read as this one, and a damaged value is an error.

use codexos_store::{
    ChunkMeta, FileInfo, FileWrite, NewChunk, OpenOptions, Store, StoreError, SymbolRecord,
    WriteBatch,
};
use heed::byteorder::BigEndian;
use heed::types::{Bytes, SerdeBincode, Str, U32, U64};
use heed::{CommitOrAbort, Database, EnvOpenOptions};

const DIM: usize = 8;

fn vector(seed: usize) -> Vec<f32> {
    (0..DIM)
        .map(|i| ((seed * 7 + i * 3) % 11) as f32 - 5.0)
        .collect()
}

fn meta(path: &str, number: usize) -> ChunkMeta {
    ChunkMeta {
        path: path.into(),
        language: "python".into(),
        kind: if number == 0 { "module" } else { "method" }.into(),
        symbol: format!("pkg.mod.Class.m{number}"),
        start_line: 10 * number as u32 + 1,
        end_line: 10 * number as u32 + 9,
        byte_start: 300 * number as u32,
        byte_end: 300 * number as u32 + 280,
        commit: Some("4f2a".into()),
        symbols: vec![SymbolRecord {
            symbol: format!("pkg.mod.Class.m{number}.inner"),
            kind: "function".into(),
            start_line: 10 * number as u32 + 2,
            end_line: 10 * number as u32 + 4,
        }],
    }
}

fn file(path: &str, chunks: usize) -> FileWrite {
    FileWrite {
        path: path.into(),
        info: FileInfo {
            hash: format!("hash-of-{path}"),
            size: 1000,
            modified_ns: 0,
            language: "python".into(),
            commit: Some("4f2a".into()),
        },
        chunks: (0..chunks)
            .map(|number| NewChunk {
                meta: meta(path, number),
                text: format!("def m{number}(self):\n    return {number}\n"),
                vector: vector(number),
            })
            .collect(),
    }
}

fn open(root: &std::path::Path) -> Store {
    let store = Store::open(root, &OpenOptions::default()).unwrap();
    store.use_space("test-space", DIM).unwrap();
    store
}

fn write(store: &Store, files: Vec<FileWrite>) {
    store
        .write(&WriteBatch {
            files,
            removed: vec![],
        })
        .unwrap();
}

/// Runs `change` on the index's LMDB environment, as another program (or an older codexos)
/// would, with the store closed.
fn with_lmdb(root: &std::path::Path, change: impl FnOnce(&heed::Env<heed::WithoutTls>)) {
    let dir = codexos_store::index_dir(root).join("lmdb");
    let mut options = EnvOpenOptions::new().read_txn_without_tls();
    options.map_size(64 << 30).max_dbs(16);
    // SAFETY: the store that had it open is dropped; nothing else opens it meanwhile.
    let env = unsafe { options.open(&dir) }.unwrap();
    change(&env);
    env.prepare_for_closing().wait();
}

fn database<K: 'static, V: 'static>(
    env: &heed::Env<heed::WithoutTls>,
    name: &str,
) -> Database<'static, K, V> {
    let rtxn = env.read_txn().unwrap();
    env.open_databases_and_commit(rtxn, |opener, rtxn| -> heed::Result<_> {
        Ok(CommitOrAbort::<_, ()>::Commit(
            opener.open_database(rtxn, Some(name))?,
        ))
    })
    .unwrap()
    .unwrap_commit()
    .unwrap()
}

#[test]
fn chunks_differing_from_their_file_come_back_as_they_were_written() {
    let root = tempfile::tempdir().unwrap();
    let mut odd = file("pkg/odd.py", 3);
    odd.chunks[1].meta.commit = None;
    odd.chunks[2].meta.language = "markdown".into();
    odd.chunks[2].meta.path = "pkg/elsewhere.md".into();
    let expected: Vec<ChunkMeta> = odd.chunks.iter().map(|chunk| chunk.meta.clone()).collect();
    {
        let store = open(root.path());
        write(&store, vec![file("pkg/a.py", 2), odd]);
    }
    let store = Store::open_read_only(root.path()).unwrap();
    let snapshot = store.snapshot().unwrap();
    let ids = store.file("pkg/odd.py").unwrap().unwrap().chunk_ids;
    let read: Vec<ChunkMeta> = ids
        .iter()
        .map(|id| snapshot.chunk(*id).unwrap().unwrap())
        .collect();
    assert_eq!(read, expected);
    assert_eq!(
        snapshot.chunk_text(ids[2]).unwrap().as_deref(),
        Some("def m2(self):\n    return 2\n")
    );
    let stored = snapshot.vector(ids[1]).unwrap().unwrap();
    let cosine = stored
        .iter()
        .zip(vector(1))
        .map(|(a, b)| a * b)
        .sum::<f32>()
        / (stored.iter().map(|x| x * x).sum::<f32>().sqrt()
            * vector(1).iter().map(|x| x * x).sum::<f32>().sqrt());
    assert!(cosine > 0.999, "{cosine}");
}

#[test]
fn an_index_of_an_older_layout_is_refused_read_only_and_emptied_for_writing() {
    let root = tempfile::tempdir().unwrap();
    {
        let store = open(root.path());
        write(&store, vec![file("pkg/a.py", 3)]);
    }
    // What layout 3 wrote: chunk records in bincode, path and commit in each.
    with_lmdb(root.path(), |env| {
        let counters: Database<Str, U64<BigEndian>> = database(env, "counters");
        let metas: Database<U32<BigEndian>, SerdeBincode<ChunkMeta>> = database(env, "chunk_metas");
        let mut wtxn = env.write_txn().unwrap();
        counters.put(&mut wtxn, "layout", &3).unwrap();
        metas.put(&mut wtxn, &0, &meta("pkg/a.py", 0)).unwrap();
        wtxn.commit().unwrap();
    });
    let refused = Store::open_read_only(root.path()).err().unwrap();
    assert!(
        matches!(&refused, StoreError::Damaged { message, .. } if message.contains("older codexos")),
        "{refused}"
    );
    let store = open(root.path());
    assert_eq!(store.stats().unwrap().chunks, 0);
    assert!(store.files().unwrap().is_empty());
    assert!(store.check_consistency().unwrap().is_consistent());
    write(&store, vec![file("pkg/a.py", 3)]);
    let ids = store.file("pkg/a.py").unwrap().unwrap().chunk_ids;
    let snapshot = store.snapshot().unwrap();
    assert_eq!(
        snapshot.chunk(ids[0]).unwrap().unwrap(),
        meta("pkg/a.py", 0)
    );
}

#[test]
fn a_damaged_chunk_record_text_group_or_vector_block_is_an_error() {
    let root = tempfile::tempdir().unwrap();
    let ids = {
        let store = open(root.path());
        write(&store, vec![file("pkg/a.py", 3)]);
        store.file("pkg/a.py").unwrap().unwrap().chunk_ids
    };
    with_lmdb(root.path(), |env| {
        let metas: Database<U32<BigEndian>, Bytes> = database(env, "chunk_metas");
        let heads: Database<U32<BigEndian>, Bytes> = database(env, "file_heads");
        let values: Database<Bytes, Bytes> = database(env, "vector_values");
        let texts: Database<U32<BigEndian>, Bytes> = database(env, "chunk_texts");
        let mut wtxn = env.write_txn().unwrap();
        // Three texts whose compressed bytes are gone.
        texts.put(&mut wtxn, &ids[0], &[3, 1, 1, 1]).unwrap();
        metas.put(&mut wtxn, &ids[1], &[0, 0x80]).unwrap();
        // A chunk record whose file head is gone.
        heads.delete(&mut wtxn, &ids[0]).unwrap();
        let (key, block) = {
            let (key, block) = values.first(&wtxn).unwrap().unwrap();
            (key.to_vec(), block.to_vec())
        };
        values
            .put(&mut wtxn, &key, &block[..block.len() - 1])
            .unwrap();
        wtxn.commit().unwrap();
    });
    let store = Store::open_read_only(root.path()).unwrap();
    let snapshot = store.snapshot().unwrap();
    for id in &ids[..2] {
        let error = snapshot.chunk(*id).err().unwrap();
        assert!(matches!(error, StoreError::Damaged { .. }), "{error}");
    }
    assert!(snapshot.vector(ids[2]).is_err());
    let error = snapshot.chunk_text(ids[2]).err().unwrap();
    assert!(matches!(error, StoreError::Damaged { .. }), "{error}");
    assert!(store.check_consistency().is_err());
    assert!(snapshot.nearest(&vector(0), 2).is_err());
}
