//! The workspace index's storage, under `<workspace>/.codexos/index/`:
//!
//! - `lmdb/`: the source of truth, one LMDB environment (heed) holding chunk metadata and
//!   text by chunk id (the path, language and commit its chunks share once per file: see
//!   `chunk_record.rs`), file records by path (content hash, commit, chunk ids), the vectors
//!   (8-bit quantized with a 1-bit code each, per vector space: model id and dimension
//!   recorded; see `vectors.rs`), the chunks still waiting for their vector, counters,
//!   and the queue of changes the full-text index has not seen yet;
//! - `tantivy/`: BM25 over chunks and whole files, derived from LMDB. Its commit payload is
//!   the LMDB generation it reflects; it catches up from the queue, or is rebuilt from LMDB;
//! - `lock`: one writer at a time (an advisory lock holding the writer's pid).
//!
//! One transaction story: a [`WriteBatch`] (files replaced, files removed) lands in one LMDB
//! transaction with its chunks, their vectors and the queue entries, so `kill -9` at any point
//! leaves either all of a batch or none of it: no chunk without its vector, no vector without
//! its chunk. The full-text index may lag behind and is caught up on the next open or
//! [`Store::sync_full_text`].

mod chunk_record;
mod compressed;
mod error;
mod lexical;
mod lock;
mod records;
mod spaces;
pub mod tokens;
mod unsynced;
mod vector_blocks;
mod vectors;

use std::collections::{BTreeSet, HashSet};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use heed::byteorder::BigEndian;
use heed::types::{Bytes, SerdeBincode, SerdeJson, Str, U8, U32, U64};
use heed::{CommitOrAbort, Database, Env, EnvOpenOptions, PutFlags, RoTxn, RwTxn, WithoutTls};

pub use error::{Result, StoreError};
pub use lexical::{DocKind, FieldWeights, LexicalKey};
pub use records::{
    ChunkMeta, FileInfo, FileRecord, FileWrite, LexicalFile, NewChunk, SpaceRecord, SymbolRecord,
    WriteBatch,
};
pub use spaces::UpgradeCoverage;

use chunk_record::FileHead;
use error::Context;
use lexical::{FullText, FullTextDoc};
use vectors::{Search, SpaceVectors, VectorDbs, VectorWriter};

/// A chunk's id in the store: also its vectors' key and its tantivy key.
pub type ChunkId = u32;

const MAP_SIZE: usize = 64 << 30;
const FULL_TEXT_BATCH: usize = 4096;

/// Chunk records (see `chunk_record.rs`), joined with their [`FileHead`] when read.
type ChunkMetas = Database<'static, U32<BigEndian>, Bytes>;
/// What every chunk of a file write shares, keyed by the file's first chunk id.
type FileHeads = Database<'static, U32<BigEndian>, SerdeBincode<FileHead>>;
/// Chunk texts in groups of consecutive chunks of one file, under the first's id (see
/// `compressed.rs`).
type ChunkTexts = Database<'static, U32<BigEndian>, Bytes>;
type Files = Database<'static, Str, SerdeBincode<FileRecord>>;
type Counters = Database<'static, Str, U64<BigEndian>>;
type Info = Database<'static, Str, SerdeJson<SpaceRecord>>;
type PendingChunks = Database<'static, U32<BigEndian>, U8>;
type PendingFiles = Database<'static, Str, U8>;
type Unembedded = Database<'static, U32<BigEndian>, U8>;
type Unchunked = Database<'static, Str, SerdeBincode<FileInfo>>;

const GENERATION: &str = "generation";
const NEXT_CHUNK_ID: &str = "next_chunk_id";
const FULL_TEXT_GENERATION: &str = "full_text_generation";
const FULL_TEXT_RESET: &str = "full_text_reset";
const ACTIVE_SPACE: &str = "active_space";
/// The second, better vector space filled in the background (see `spaces.rs`).
const UPGRADE_SPACE: &str = "upgrade_space";
const FULL_TEXT_FORMAT_KEY: &str = "full_text_format";
/// Bumped whenever what the full-text index holds per document changes, so an index written
/// by an older build is rebuilt from LMDB instead of being searched with mismatched terms.
const FULL_TEXT_FORMAT: u64 = 3;
const LAYOUT_KEY: &str = "layout";
/// Bumped whenever LMDB's databases change shape; an index of another layout is emptied on
/// open for writing (the next run indexes everything again) and refused read-only.
/// 2: quantized vectors and codes instead of arroy's trees; the queue of chunks to embed;
/// vectors of removed chunks kept for reuse. 3: chunk texts LZ4-compressed. 4: chunk records
/// compact, their path, language and commit once per file (`file_heads`); vectors in blocks;
/// texts compressed in groups.
const LAYOUT: u64 = 4;

#[derive(Clone, Copy)]
struct Databases {
    chunk_metas: ChunkMetas,
    file_heads: FileHeads,
    chunk_texts: ChunkTexts,
    files: Files,
    counters: Counters,
    info: Info,
    pending_chunks: PendingChunks,
    pending_files: PendingFiles,
    vectors: VectorDbs,
    /// Chunks written before their vector ([`NewChunk::vector`] empty): a bulk run makes
    /// every file searchable by BM25 first, then embeds these.
    unembedded: Unembedded,
    /// Files written by [`Store::write_lexical`] (a whole-file BM25 document, no chunks yet),
    /// by path; they have no [`FileRecord`] until their chunks are written. `None` in an
    /// index opened read-only that an older codexos wrote: it has none.
    unchunked: Option<Unchunked>,
}

/// How to open an index for writing.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    /// How long to wait for another process's writer lock before failing with
    /// [`StoreError::InUse`]. Zero fails at once.
    pub wait_for_lock: Duration,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            wait_for_lock: Duration::ZERO,
        }
    }
}

/// What [`Store::use_space`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpaceChange {
    /// The index already held vectors of this space.
    Unchanged,
    /// The index was empty of vectors; this space is now the active one.
    Created,
    /// The index held another space, which was dropped with every chunk (they are re-embedded
    /// by re-indexing; spaces never mix).
    Replaced { previous: String },
}

/// Counts that describe an index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stats {
    pub files: u64,
    pub chunks: u64,
    pub vectors: u64,
    pub generation: u64,
    pub full_text_generation: Option<u64>,
    pub pending_full_text: u64,
    pub space: Option<SpaceRecord>,
    pub disk_bytes: u64,
}

/// Where an index's bytes on disk go: what `codexos bench` reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskUsage {
    /// Each LMDB database: its name, entries and the bytes of its pages.
    pub databases: Vec<(&'static str, u64, u64)>,
    /// LMDB's file.
    pub lmdb_bytes: u64,
    /// Pages of LMDB's file that none of `databases` holds: mostly free pages left by earlier
    /// transactions (LMDB reuses them before it grows the file), the rest its bookkeeping.
    pub lmdb_other_bytes: u64,
    pub full_text_bytes: u64,
}

/// The result of [`Store::check_consistency`]: every list empty means consistent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Consistency {
    pub chunks_without_vector: Vec<ChunkId>,
    pub vectors_without_chunk: Vec<ChunkId>,
    /// Vectors of the upgrade space whose chunk is gone.
    pub upgrade_vectors_without_chunk: Vec<ChunkId>,
    pub chunks_without_text: Vec<ChunkId>,
    /// Chunk ids a file record lists that do not exist.
    pub dangling_file_chunks: Vec<ChunkId>,
    /// Chunks that no file record lists.
    pub orphan_chunks: Vec<ChunkId>,
}

impl Consistency {
    pub fn is_consistent(&self) -> bool {
        self.chunks_without_vector.is_empty()
            && self.vectors_without_chunk.is_empty()
            && self.upgrade_vectors_without_chunk.is_empty()
            && self.chunks_without_text.is_empty()
            && self.dangling_file_chunks.is_empty()
            && self.orphan_chunks.is_empty()
    }
}

/// An open index. `Send + Sync`: searches run from any thread; writes are serialised.
pub struct Store {
    dir: PathBuf,
    env: Env<WithoutTls>,
    dbs: Databases,
    full_text: FullText,
    writable: bool,
    write_guard: Mutex<()>,
    /// What the last [`Store::sync_full_text_after_edit`] applied, left in the queue until the
    /// next write's transaction removes it.
    applied_full_text: Mutex<Option<AppliedFullText>>,
    _lock: Option<lock::WriterLock>,
}

/// Queue entries the full-text index has applied, and the LMDB generation it then reflected.
#[derive(Default)]
struct AppliedFullText {
    chunks: Vec<(ChunkId, u8)>,
    files: Vec<(String, u8)>,
    generation: u64,
}

/// When [`Store::sync_full_text`]'s LMDB bookkeeping (queue entries applied, generation
/// reached) is committed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Bookkeeping {
    /// In a transaction of its own.
    Now,
    /// In the next [`Store::write`]'s transaction (or when the store closes).
    WithNextWrite,
}

/// `<workspace>/.codexos/index`.
pub fn index_dir(workspace_root: &Path) -> PathBuf {
    workspace_root.join(".codexos").join("index")
}

impl Store {
    /// Opens the index of `workspace_root` for writing, creating `.codexos/` (with a
    /// `.gitignore` of `*`) and the index when missing. Takes the writer lock (see
    /// [`OpenOptions::wait_for_lock`]), then brings the full-text index up to LMDB.
    pub fn open(workspace_root: &Path, options: &OpenOptions) -> Result<Self> {
        let codexos_dir = workspace_root.join(".codexos");
        let dir = index_dir(workspace_root);
        let io = |action, path: &Path, source| StoreError::Io {
            action,
            path: path.to_path_buf(),
            source,
        };
        // The index holds the workspace's text: folders it creates (`.codexos/` included) are
        // private to the user; folders that exist keep their modes.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|error| io("create", &dir, error))?;
        let gitignore = codexos_dir.join(".gitignore");
        if !gitignore.exists() {
            std::fs::write(&gitignore, "*\n").map_err(|error| io("write", &gitignore, error))?;
        }
        let lock = lock::WriterLock::acquire(&dir, options.wait_for_lock)?;
        let lmdb_dir = dir.join("lmdb");
        std::fs::create_dir_all(&lmdb_dir).map_err(|error| io("create", &lmdb_dir, error))?;
        let env = open_env(&lmdb_dir)?;
        let wtxn = env.write_txn().at(&dir)?;
        let dbs = env
            .create_databases_and_commit(wtxn, |opener, wtxn| -> heed::Result<_> {
                Ok(CommitOrAbort::<_, ()>::Commit((
                    (
                        opener.create_database(wtxn, Some("chunk_metas"))?,
                        opener.create_database(wtxn, Some("chunk_texts"))?,
                        opener.create_database(wtxn, Some("files"))?,
                        opener.create_database(wtxn, Some("counters"))?,
                        opener.create_database(wtxn, Some("info"))?,
                        opener.create_database(wtxn, Some("pending_chunks"))?,
                        opener.create_database(wtxn, Some("pending_files"))?,
                        opener.create_database(wtxn, Some("vector_values"))?,
                        opener.create_database(wtxn, Some("vector_codes"))?,
                        opener.create_database(wtxn, Some("vector_means"))?,
                        opener.create_database(wtxn, Some("unembedded"))?,
                        opener.create_database(wtxn, Some("vector_cache"))?,
                    ),
                    opener.create_database(wtxn, Some("file_heads"))?,
                    // Layout 1's arroy vectors, emptied when that layout is found.
                    opener.create_database(wtxn, Some("vectors"))?,
                    opener.create_database(wtxn, Some("unchunked"))?,
                )))
            })
            .at(&dir)?
            .unwrap_commit();
        let (dbs, file_heads, legacy_vectors, unchunked): (
            _,
            _,
            Database<'static, Bytes, Bytes>,
            _,
        ) = dbs;
        let dbs = Databases::from_tuple(dbs, file_heads, Some(unchunked));
        upgrade_layout(&env, &dbs, legacy_vectors).at(&dir)?;
        let full_text = FullText::open(&dir.join("tantivy"), true)?;
        let store = Self {
            dir,
            env,
            dbs,
            full_text,
            writable: true,
            write_guard: Mutex::new(()),
            applied_full_text: Mutex::default(),
            _lock: Some(lock),
        };
        store.catch_up_full_text()?;
        Ok(store)
    }

    /// Opens an existing index to search it, without the writer lock: a writer in another
    /// process may be running (LMDB readers see its last commit).
    pub fn open_read_only(workspace_root: &Path) -> Result<Self> {
        let dir = index_dir(workspace_root);
        let lmdb_dir = dir.join("lmdb");
        if !lmdb_dir.join("data.mdb").exists() {
            return Err(StoreError::Damaged {
                path: dir,
                message: "there is no index here yet; run `codexos index` first".into(),
            });
        }
        let env = open_env(&lmdb_dir)?;
        let rtxn = env.read_txn().at(&dir)?;
        let dbs = env
            .open_databases_and_commit(rtxn, |opener, rtxn| -> heed::Result<_> {
                let opened = (
                    opener.open_database(rtxn, Some("chunk_metas"))?,
                    opener.open_database(rtxn, Some("chunk_texts"))?,
                    opener.open_database(rtxn, Some("files"))?,
                    opener.open_database(rtxn, Some("counters"))?,
                    opener.open_database(rtxn, Some("info"))?,
                    opener.open_database(rtxn, Some("pending_chunks"))?,
                    opener.open_database(rtxn, Some("pending_files"))?,
                    opener.open_database(rtxn, Some("vector_values"))?,
                    opener.open_database(rtxn, Some("vector_codes"))?,
                    opener.open_database(rtxn, Some("vector_means"))?,
                    opener.open_database(rtxn, Some("unembedded"))?,
                    opener.open_database(rtxn, Some("vector_cache"))?,
                );
                let file_heads = opener.open_database(rtxn, Some("file_heads"))?;
                let unchunked = opener.open_database(rtxn, Some("unchunked"))?;
                Ok(CommitOrAbort::<_, ()>::Commit((
                    opened, file_heads, unchunked,
                )))
            })
            .at(&dir)?
            .unwrap_commit();
        let (
            (
                Some(a),
                Some(b),
                Some(c),
                Some(d),
                Some(e),
                Some(f),
                Some(g),
                Some(h),
                Some(i),
                Some(j),
                Some(k),
                Some(l),
            ),
            Some(file_heads),
            unchunked,
        ) = dbs
        else {
            return Err(StoreError::Damaged {
                path: dir,
                message: "this index was written by an older codexos (or is damaged); run \
                          `codexos index` to bring it up to date"
                    .into(),
            });
        };
        let dbs =
            Databases::from_tuple((a, b, c, d, e, f, g, h, i, j, k, l), file_heads, unchunked);
        let layout = {
            let rtxn = env.read_txn().at(&dir)?;
            dbs.counters.get(&rtxn, LAYOUT_KEY).at(&dir)?
        };
        if layout != Some(LAYOUT) {
            return Err(StoreError::Damaged {
                path: dir,
                message: "this index was written by an older codexos; run `codexos index` to \
                          bring it up to date"
                    .into(),
            });
        }
        let full_text = FullText::open(&dir.join("tantivy"), false)?;
        Ok(Self {
            dir,
            env,
            dbs,
            full_text,
            writable: false,
            write_guard: Mutex::new(()),
            applied_full_text: Mutex::default(),
            _lock: None,
        })
    }

    /// `<workspace>/.codexos/index`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The workspace the index is of: the paths it holds are relative to it.
    pub fn workspace_root(&self) -> &Path {
        self.dir
            .parent()
            .and_then(Path::parent)
            .unwrap_or(&self.dir)
    }

    /// The store's writer lock, taken for `action` (one writer at a time in this process), or
    /// an error naming `action` when the store was opened read-only.
    fn lock_for_writing(&self, action: &'static str) -> Result<std::sync::MutexGuard<'_, ()>> {
        if !self.writable {
            return Err(StoreError::ReadOnly {
                path: self.dir.clone(),
                action,
            });
        }
        Ok(self
            .write_guard
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// The vector space the index holds, if any.
    pub fn space(&self) -> Result<Option<SpaceRecord>> {
        let rtxn = self.env.read_txn().at(&self.dir)?;
        self.dbs.info.get(&rtxn, ACTIVE_SPACE).at(&self.dir)
    }

    /// Makes `space` (an embedder's space id, with its dimension) the index's vector space.
    /// A different space already there is dropped together with every chunk and file record,
    /// in one transaction, so that re-indexing embeds everything in the new space.
    pub fn use_space(&self, space: &str, dim: usize) -> Result<SpaceChange> {
        let _guard = self.lock_for_writing("changing the vector space")?;
        let mut wtxn = self.env.write_txn().at(&self.dir)?;
        let current = self.dbs.info.get(&wtxn, ACTIVE_SPACE).at(&self.dir)?;
        let change = match &current {
            Some(record) if record.id == space && record.dim == dim => {
                return Ok(SpaceChange::Unchanged);
            }
            Some(record) => {
                SpaceVectors::new(self, record)
                    .clear(&mut wtxn)
                    .at(&self.dir)?;
                self.drop_upgrade_in(&mut wtxn)?;
                self.dbs.unembedded.clear(&mut wtxn).at(&self.dir)?;
                self.dbs.chunk_metas.clear(&mut wtxn).at(&self.dir)?;
                self.dbs.file_heads.clear(&mut wtxn).at(&self.dir)?;
                self.dbs.chunk_texts.clear(&mut wtxn).at(&self.dir)?;
                self.dbs.files.clear(&mut wtxn).at(&self.dir)?;
                if let Some(unchunked) = self.dbs.unchunked {
                    unchunked.clear(&mut wtxn).at(&self.dir)?;
                }
                self.dbs.pending_chunks.clear(&mut wtxn).at(&self.dir)?;
                self.dbs.pending_files.clear(&mut wtxn).at(&self.dir)?;
                self.take_applied_full_text();
                self.dbs
                    .counters
                    .put(&mut wtxn, FULL_TEXT_RESET, &1)
                    .at(&self.dir)?;
                SpaceChange::Replaced {
                    previous: record.id.clone(),
                }
            }
            None => SpaceChange::Created,
        };
        let index = current.map_or(0, |record| record.index.wrapping_add(1));
        let record = SpaceRecord {
            id: space.to_owned(),
            dim,
            index,
        };
        // The slot may hold leftovers of a space dropped earlier.
        SpaceVectors::new(self, &record)
            .clear(&mut wtxn)
            .at(&self.dir)?;
        self.dbs
            .info
            .put(&mut wtxn, ACTIVE_SPACE, &record)
            .at(&self.dir)?;
        self.bump_generation(&mut wtxn)?;
        wtxn.commit().at(&self.dir)?;
        if change != SpaceChange::Created {
            tracing::info!(index = %self.dir.display(), space, ?change, "vector space changed; chunks dropped");
        }
        Ok(change)
    }

    /// The record of one file, by its workspace-relative path.
    pub fn file(&self, path: &str) -> Result<Option<FileRecord>> {
        let rtxn = self.env.read_txn().at(&self.dir)?;
        self.dbs.files.get(&rtxn, path).at(&self.dir)
    }

    /// Every indexed file's path and record, in path order.
    pub fn files(&self) -> Result<Vec<(String, FileRecord)>> {
        let rtxn = self.env.read_txn().at(&self.dir)?;
        let mut out = Vec::new();
        for entry in self.dbs.files.iter(&rtxn).at(&self.dir)? {
            let (path, record) = entry.at(&self.dir)?;
            out.push((path.to_owned(), record));
        }
        Ok(out)
    }

    /// Every indexed file's path, in path order, those waiting for their chunks included
    /// (what a run compares with its walk; the records are not decoded).
    pub fn file_paths(&self) -> Result<Vec<String>> {
        let rtxn = self.env.read_txn().at(&self.dir)?;
        let mut out = Vec::new();
        use heed::types::DecodeIgnore;
        let tables = std::iter::once(self.dbs.files.remap_data_type::<DecodeIgnore>()).chain(
            self.dbs
                .unchunked
                .map(|db| db.remap_data_type::<DecodeIgnore>()),
        );
        for table in tables {
            for entry in table.iter(&rtxn).at(&self.dir)? {
                out.push(entry.at(&self.dir)?.0.to_owned());
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    /// Makes each of `files` searchable by BM25 as a whole-file document (its text and path)
    /// before it is chunked: the first stage of a bulk run, which skips parsing. Each is then
    /// listed as waiting for its chunks ([`Snapshot::unchunked`]), without a [`FileRecord`], so
    /// that a run still chunks it; [`Store::write`] replaces the document with the one built
    /// from its chunks. A file that has chunks by now is left alone (it was saved meanwhile).
    /// Returns how many were written.
    ///
    /// The documents are not derived from LMDB as the rest of the full-text index is: a
    /// rebuild of that index forgets which files wait (their next run writes them again), and
    /// a crash between the two commits below leaves some listed without a document until
    /// their chunks are written. Neither leaves a document without its file.
    pub fn write_lexical(&self, files: &[LexicalFile]) -> Result<usize> {
        let _write = tracing::debug_span!("store.write_lexical").entered();
        if files.is_empty() {
            return Ok(0);
        }
        let _guard = self.lock_for_writing("writing files before their chunks")?;
        let unchunked = self.unchunked_for_writing()?;
        let mut wtxn = self.env.write_txn().at(&self.dir)?;
        if let Some(applied) = self.take_applied_full_text() {
            self.forget_applied_full_text(&mut wtxn, &applied)?;
        }
        let mut written = Vec::with_capacity(files.len());
        for file in files {
            if self
                .dbs
                .files
                .get(&wtxn, &file.path)
                .at(&self.dir)?
                .is_some()
            {
                continue;
            }
            // The document written below replaces whatever the queue still says of this path
            // (a removal not applied yet would delete it).
            let queued = self
                .dbs
                .pending_files
                .delete(&mut wtxn, &file.path)
                .at(&self.dir)?;
            let replaced = unchunked.get(&wtxn, &file.path).at(&self.dir)?.is_some();
            unchunked
                .put(&mut wtxn, &file.path, &file.info)
                .at(&self.dir)?;
            written.push((file, queued || replaced));
        }
        if written.is_empty() {
            // Still commits the queue's bookkeeping taken above.
            wtxn.commit().at(&self.dir)?;
            return Ok(0);
        }
        // The full-text commit carries this generation: should a power cut undo this LMDB
        // commit (see `open_env`), the index is ahead of LMDB and rebuilt, documents included.
        let generation = self.bump_generation(&mut wtxn)?;
        wtxn.commit().at(&self.dir)?;
        let mut writer = self.full_text.writer()?;
        for (file, replaced) in &written {
            let key = LexicalKey::File(file.path.clone());
            if *replaced {
                writer.delete(&key);
            }
            writer.add(&FullTextDoc {
                key,
                path: &file.path,
                language: &file.info.language,
                symbol: "",
                body: &file.text,
            })?;
        }
        writer.commit(generation)?;
        Ok(written.len())
    }

    /// The table of files waiting for their chunks; an index opened for writing has it.
    fn unchunked_for_writing(&self) -> Result<Unchunked> {
        self.dbs.unchunked.ok_or_else(|| StoreError::ReadOnly {
            path: self.dir.clone(),
            action: "writing files before their chunks",
        })
    }

    /// The info of a file written by [`Store::write_lexical`] that waits for its chunks.
    pub fn unchunked(&self, path: &str) -> Result<Option<FileInfo>> {
        self.snapshot()?.unchunked(path)
    }

    /// Applies `batch` in one LMDB transaction: each file's old chunks and vectors are
    /// replaced by the new ones, removed files lose theirs, and the full-text queue records
    /// the change. Returns the new generation. A chunk written with an empty vector waits in
    /// the queue of [`Store::unembedded`] for [`Store::write_vectors`]. Needs a space
    /// ([`Store::use_space`]); every other vector must have its dimension.
    pub fn write(&self, batch: &WriteBatch) -> Result<u64> {
        let _write = tracing::debug_span!("store.write").entered();
        let _guard = self.lock_for_writing("writing")?;
        let mut wtxn = self.env.write_txn().at(&self.dir)?;
        // Before this batch queues its own changes, which must stay queued.
        if let Some(applied) = self.take_applied_full_text() {
            self.forget_applied_full_text(&mut wtxn, &applied)?;
        }
        let space = self.active_space_in(&wtxn, "writing")?;
        let mut vectors = VectorWriter::open(self, &wtxn, &space)?;
        // A replaced or removed chunk loses its upgrade vector in the same transaction.
        let mut upgrade = match self.dbs.info.get(&wtxn, UPGRADE_SPACE).at(&self.dir)? {
            Some(record) => Some(VectorWriter::open(self, &wtxn, &record)?),
            None => None,
        };
        let mut next_id = self
            .dbs
            .counters
            .get(&wtxn, NEXT_CHUNK_ID)
            .at(&self.dir)?
            .unwrap_or(0);
        for path in &batch.removed {
            self.remove_file(&mut wtxn, &mut vectors, upgrade.as_mut(), path)?;
        }
        // New ids come after every stored one (ids are never reused), so they are appended:
        // LMDB then leaves each full page as it is instead of moving its last entry to the new
        // page, which left chunk texts' pages 82% full. Checked, so a store that somehow holds
        // a later id still takes the write.
        let after_last = |last: Option<ChunkId>| match last.and_then(|last| last.checked_add(1)) {
            Some(first_free) => u64::from(first_free) <= next_id,
            None => last.is_none(),
        };
        let append = [
            last_id(&wtxn, self.dbs.chunk_metas),
            last_id(&wtxn, self.dbs.chunk_texts),
            last_id(&wtxn, self.dbs.file_heads),
        ]
        .into_iter()
        .map(|last| last.at(&self.dir))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .all(after_last);
        let put_flags = if append {
            PutFlags::APPEND
        } else {
            PutFlags::empty()
        };
        for file in &batch.files {
            self.remove_file(&mut wtxn, &mut vectors, upgrade.as_mut(), &file.path)?;
            let head = FileHead {
                path: file.path.clone(),
                language: file.info.language.clone(),
                commit: file.info.commit.clone(),
            };
            let mut chunk_ids = Vec::with_capacity(file.chunks.len());
            for chunk in &file.chunks {
                if !chunk.vector.is_empty() && chunk.vector.len() != space.dim {
                    return Err(StoreError::WrongDimension {
                        path: file.path.clone(),
                        space: space.id.clone(),
                        expected: space.dim,
                        got: chunk.vector.len(),
                    });
                }
                let id = ChunkId::try_from(next_id).map_err(|_| StoreError::Damaged {
                    path: self.dir.clone(),
                    message:
                        "chunk ids exhausted (over 4 billion chunks written); delete .codexos/index"
                            .into(),
                })?;
                next_id += 1;
                // Ids of one file are consecutive: the first is its head's key.
                let distance = id - chunk_ids.first().copied().unwrap_or(id);
                self.dbs
                    .chunk_metas
                    .put_with_flags(
                        &mut wtxn,
                        put_flags,
                        &id,
                        &chunk_record::encode(&chunk.meta, distance, &head),
                    )
                    .at(&self.dir)?;
                if chunk.vector.is_empty() {
                    self.dbs.unembedded.put(&mut wtxn, &id, &1).at(&self.dir)?;
                } else {
                    vectors
                        .add_item(&mut wtxn, id, &chunk.vector)
                        .at(&self.dir)?;
                }
                self.dbs
                    .pending_chunks
                    .put(&mut wtxn, &id, &1)
                    .at(&self.dir)?;
                chunk_ids.push(id);
            }
            if let Some(first) = chunk_ids.first() {
                self.dbs
                    .file_heads
                    .put_with_flags(&mut wtxn, put_flags, first, &head)
                    .at(&self.dir)?;
                let texts: Vec<&str> = file
                    .chunks
                    .iter()
                    .map(|chunk| chunk.text.as_str())
                    .collect();
                for (group, value) in compressed::groups(*first, &texts) {
                    self.dbs
                        .chunk_texts
                        .put_with_flags(&mut wtxn, put_flags, &group, &value)
                        .at(&self.dir)?;
                }
            }
            let record = FileRecord {
                info: file.info.clone(),
                chunk_ids,
            };
            self.dbs
                .files
                .put(&mut wtxn, &file.path, &record)
                .at(&self.dir)?;
            self.dbs
                .pending_files
                .put(&mut wtxn, &file.path, &1)
                .at(&self.dir)?;
        }
        self.dbs
            .counters
            .put(&mut wtxn, NEXT_CHUNK_ID, &next_id)
            .at(&self.dir)?;
        vectors.finish(&mut wtxn).at(&self.dir)?;
        if let Some(upgrade) = upgrade {
            upgrade.finish(&mut wtxn).at(&self.dir)?;
        }
        let generation = self.bump_generation(&mut wtxn)?;
        let _commit = tracing::debug_span!("store.write.commit").entered();
        wtxn.commit().at(&self.dir)?;
        Ok(generation)
    }

    /// Replaces the recorded info of files whose content did not change (a new modification
    /// time), in one transaction; paths no longer indexed are skipped.
    pub fn update_file_infos(&self, infos: &[(String, FileInfo)]) -> Result<()> {
        if infos.is_empty() {
            return Ok(());
        }
        let _guard = self.lock_for_writing("updating file records")?;
        let mut wtxn = self.env.write_txn().at(&self.dir)?;
        for (path, info) in infos {
            if let Some(mut record) = self.dbs.files.get(&wtxn, path).at(&self.dir)? {
                record.info = info.clone();
                self.dbs.files.put(&mut wtxn, path, &record).at(&self.dir)?;
            }
        }
        wtxn.commit().at(&self.dir)
    }

    /// Up to `limit` chunks written without their vector (lowest ids first), with their text
    /// as the embedder should see it: what a bulk run embeds once BM25 can search everything.
    pub fn unembedded(&self, limit: usize) -> Result<Vec<(ChunkId, ChunkMeta, String)>> {
        let rtxn = self.env.read_txn().at(&self.dir)?;
        let mut out = Vec::new();
        let mut heads = Heads::default();
        let mut texts = Texts::default();
        for entry in self.dbs.unembedded.iter(&rtxn).at(&self.dir)? {
            if out.len() >= limit {
                break;
            }
            let id = entry.at(&self.dir)?.0;
            let meta = self.chunk_meta(&rtxn, id, &mut heads)?;
            let text = self.chunk_text(&rtxn, id, &mut texts)?;
            if let (Some(meta), Some(text)) = (meta, text) {
                out.push((id, meta, text));
            }
        }
        Ok(out)
    }

    /// Gives chunks waiting for their vector the one a removed chunk of the same content had
    /// (path, symbol and text: what the embedder sees), in one transaction: a branch switch or a
    /// revert re-embeds only what is new. Returns how many were reused.
    pub fn reuse_vectors(&self) -> Result<usize> {
        let _write = tracing::debug_span!("store.reuse_vectors").entered();
        let _guard = self.lock_for_writing("reusing vectors")?;
        let mut wtxn = self.env.write_txn().at(&self.dir)?;
        let space = self.active_space_in(&wtxn, "reusing vectors")?;
        if self.dbs.vectors.cache.is_empty(&wtxn).at(&self.dir)? {
            return Ok(0);
        }
        let waiting: Vec<ChunkId> = self
            .dbs
            .unembedded
            .iter(&wtxn)
            .at(&self.dir)?
            .map(|entry| entry.map(|(id, _)| id))
            .collect::<heed::Result<_>>()
            .at(&self.dir)?;
        let mut writer = VectorWriter::open(self, &wtxn, &space)?;
        let mut reused = 0;
        let mut heads = Heads::default();
        let mut texts = Texts::default();
        for id in waiting {
            let content = match (
                self.chunk_meta(&wtxn, id, &mut heads)?,
                self.chunk_text(&wtxn, id, &mut texts)?,
            ) {
                (Some(meta), Some(text)) => content_key(&meta, &text),
                _ => continue,
            };
            if writer.take_kept(&mut wtxn, id, &content).at(&self.dir)? {
                self.dbs.unembedded.delete(&mut wtxn, &id).at(&self.dir)?;
                reused += 1;
            }
        }
        writer.finish(&mut wtxn).at(&self.dir)?;
        wtxn.commit().at(&self.dir)?;
        Ok(reused)
    }

    /// How many chunks wait for their vector.
    pub fn unembedded_count(&self) -> Result<u64> {
        let rtxn = self.env.read_txn().at(&self.dir)?;
        self.dbs.unembedded.len(&rtxn).at(&self.dir)
    }

    /// Stores the active space's vectors of chunks written without one, in one transaction;
    /// chunks replaced or removed meanwhile are skipped. Returns how many were kept.
    pub fn write_vectors(&self, vectors: &[(ChunkId, Vec<f32>)]) -> Result<usize> {
        let _write = tracing::debug_span!("store.write_vectors").entered();
        let _guard = self.lock_for_writing("writing vectors")?;
        let mut wtxn = self.env.write_txn().at(&self.dir)?;
        let space = self.active_space_in(&wtxn, "writing vectors")?;
        // A chunk that no longer waits was replaced or removed meanwhile.
        let kept = self.put_vectors(&mut wtxn, &space, vectors, |store, wtxn, id| {
            store.dbs.unembedded.delete(wtxn, &id).at(&store.dir)
        })?;
        wtxn.commit().at(&self.dir)?;
        Ok(kept)
    }

    fn remove_file(
        &self,
        wtxn: &mut RwTxn<'_>,
        vectors: &mut VectorWriter,
        mut upgrade: Option<&mut VectorWriter>,
        path: &str,
    ) -> Result<()> {
        if let Some(unchunked) = self.dbs.unchunked
            && unchunked.delete(wtxn, path).at(&self.dir)?
        {
            // Its whole-file document goes (or is replaced by the one of its chunks).
            self.dbs.pending_files.put(wtxn, path, &0).at(&self.dir)?;
        }
        let Some(old) = self.dbs.files.get(wtxn, path).at(&self.dir)? else {
            return Ok(());
        };
        let mut heads = Heads::default();
        let mut texts = Texts::default();
        let generation = self
            .dbs
            .counters
            .get(wtxn, GENERATION)
            .at(&self.dir)?
            .unwrap_or(0);
        for id in &old.chunk_ids {
            // Its vector is kept by content, for a branch that brings the same chunk back.
            let content = match (
                self.chunk_meta(wtxn, *id, &mut heads)?,
                self.chunk_text(wtxn, *id, &mut texts)?,
            ) {
                (Some(meta), Some(text)) => Some(content_key(&meta, &text)),
                _ => None,
            };
            self.dbs.chunk_metas.delete(wtxn, id).at(&self.dir)?;
            self.dbs.chunk_texts.delete(wtxn, id).at(&self.dir)?;
            self.dbs.unembedded.delete(wtxn, id).at(&self.dir)?;
            match content {
                Some(content) => vectors.del_item_keeping(wtxn, *id, &content, generation),
                None => vectors.del_item(wtxn, *id).map(drop),
            }
            .at(&self.dir)?;
            if let Some(upgrade) = upgrade.as_deref_mut() {
                upgrade.del_item(wtxn, *id).at(&self.dir)?;
            }
            self.dbs.pending_chunks.put(wtxn, id, &0).at(&self.dir)?;
        }
        if let Some(first) = old.chunk_ids.first() {
            self.dbs.file_heads.delete(wtxn, first).at(&self.dir)?;
        }
        self.dbs.files.delete(wtxn, path).at(&self.dir)?;
        self.dbs.pending_files.put(wtxn, path, &0).at(&self.dir)?;
        Ok(())
    }

    /// A chunk's metadata: its record joined with its file's head (`heads` keeps the last
    /// one read, which the next chunks of that file share). A record that does not decode, or
    /// whose head is missing, is an error.
    fn chunk_meta(
        &self,
        txn: &RoTxn<'_, WithoutTls>,
        id: ChunkId,
        heads: &mut Heads,
    ) -> Result<Option<ChunkMeta>> {
        let Some(bytes) = self.dbs.chunk_metas.get(txn, &id).at(&self.dir)? else {
            return Ok(None);
        };
        let damaged = |message: String| StoreError::Damaged {
            path: self.dir.clone(),
            message: format!("the record of chunk {id}: {message}"),
        };
        let record = chunk_record::decode(bytes).map_err(damaged)?;
        let head_id = record
            .head_id(id)
            .ok_or_else(|| damaged("it refers to a file before the first chunk".into()))?;
        let head = match heads.0.take() {
            Some((key, head)) if key == head_id => head,
            _ => self
                .dbs
                .file_heads
                .get(txn, &head_id)
                .at(&self.dir)?
                .ok_or_else(|| damaged(format!("its file's record {head_id} is missing")))?,
        };
        let meta = record.into_meta(&head);
        heads.0 = Some((head_id, head));
        Ok(Some(meta))
    }

    /// A chunk's text, from the group that holds it (`texts` keeps the last one decompressed,
    /// which the next chunks of that file share). A group that does not decode is an error.
    fn chunk_text(
        &self,
        txn: &RoTxn<'_, WithoutTls>,
        id: ChunkId,
        texts: &mut Texts,
    ) -> Result<Option<String>> {
        if let Some(text) = texts.0.as_ref().and_then(|group| group.get(id)) {
            return Ok(Some(text.to_owned()));
        }
        let Some((first, value)) = self
            .dbs
            .chunk_texts
            .get_lower_than_or_equal_to(txn, &id)
            .at(&self.dir)?
        else {
            return Ok(None);
        };
        let group =
            compressed::Group::decode(first, value).map_err(|message| StoreError::Damaged {
                path: self.dir.clone(),
                message: format!("the texts of chunk {first} on: {message}"),
            })?;
        let text = group.get(id).map(str::to_owned);
        texts.0 = Some(group);
        Ok(text)
    }

    fn bump_generation(&self, wtxn: &mut RwTxn<'_>) -> Result<u64> {
        let generation = self
            .dbs
            .counters
            .get(wtxn, GENERATION)
            .at(&self.dir)?
            .unwrap_or(0)
            + 1;
        self.dbs
            .counters
            .put(wtxn, GENERATION, &generation)
            .at(&self.dir)?;
        Ok(generation)
    }

    /// On open: the full-text index reflects LMDB's generation `S` (recorded when it last
    /// caught up), or a later one if the process died between its commit and LMDB's
    /// acknowledgement; replaying the queue is idempotent then. Older, missing or unreadable:
    /// rebuilt from LMDB.
    fn catch_up_full_text(&self) -> Result<()> {
        let (synced, format, generation) = {
            let rtxn = self.env.read_txn().at(&self.dir)?;
            let counters = self.dbs.counters;
            (
                counters.get(&rtxn, FULL_TEXT_GENERATION).at(&self.dir)?,
                counters.get(&rtxn, FULL_TEXT_FORMAT_KEY).at(&self.dir)?,
                counters.get(&rtxn, GENERATION).at(&self.dir)?.unwrap_or(0),
            )
        };
        let full_text = self.full_text.generation();
        let lagging = match (full_text, synced) {
            (Some(full_text), Some(synced)) => full_text < synced,
            (None, Some(_)) => true,
            (_, None) => false,
        };
        // LMDB lost its last commit to a power cut (see `open_env`) after the full-text index
        // had applied it: the files that commit replaced have lost their terms.
        let ahead = full_text.is_some_and(|full_text| full_text > generation);
        let outdated = format != Some(FULL_TEXT_FORMAT);
        if lagging || ahead || outdated {
            // A new index has nothing to rebuild: only an existing one is worth a notice.
            if generation == 0 {
                tracing::debug!(index = %self.dir.display(), "creating the full-text index");
            } else {
                tracing::info!(index = %self.dir.display(), lagging, ahead, outdated, "rebuilding the full-text index from LMDB");
            }
            let mut wtxn = self.env.write_txn().at(&self.dir)?;
            let counters = self.dbs.counters;
            counters.put(&mut wtxn, FULL_TEXT_RESET, &1).at(&self.dir)?;
            counters
                .put(&mut wtxn, FULL_TEXT_FORMAT_KEY, &FULL_TEXT_FORMAT)
                .at(&self.dir)?;
            wtxn.commit().at(&self.dir)?;
        }
        self.sync_full_text()
    }

    /// Brings the full-text index up to LMDB: replays the queue of changed chunks and files
    /// (or rebuilds everything after a space change or a lost index), commits it with the
    /// generation as payload, then clears the queue. Safe to interrupt at any point.
    pub fn sync_full_text(&self) -> Result<()> {
        self.sync_full_text_then(Bookkeeping::Now)
    }

    /// [`Store::sync_full_text`] after a small edit (one file saved): the queue entries it
    /// applied are removed by the next [`Store::write`]'s transaction instead of one of their
    /// own, which saves an LMDB commit and its fsyncs per save. Until then they stay queued, so
    /// a process killed meanwhile replays them on the next open: applying an entry twice
    /// gives the same full-text index.
    pub fn sync_full_text_after_edit(&self) -> Result<()> {
        self.sync_full_text_then(Bookkeeping::WithNextWrite)
    }

    fn sync_full_text_then(&self, bookkeeping: Bookkeeping) -> Result<()> {
        let _sync = tracing::debug_span!("store.sync_full_text").entered();
        let _guard = self.lock_for_writing("updating the full-text index")?;
        let rtxn = self.env.read_txn().at(&self.dir)?;
        let generation = self
            .dbs
            .counters
            .get(&rtxn, GENERATION)
            .at(&self.dir)?
            .unwrap_or(0);
        let reset = self
            .dbs
            .counters
            .get(&rtxn, FULL_TEXT_RESET)
            .at(&self.dir)?
            .unwrap_or(0)
            == 1;
        // Entries applied by the last sync and still queued are in the full-text index already.
        let mut applied = self.take_applied_full_text().unwrap_or_default();
        let applied_chunks: HashSet<(ChunkId, u8)> = applied.chunks.iter().copied().collect();
        let applied_files: HashSet<(&str, u8)> = applied
            .files
            .iter()
            .map(|(path, op)| (path.as_str(), *op))
            .collect();
        let mut chunk_keys = Vec::new();
        let mut file_keys = Vec::new();
        if reset {
            for entry in self.dbs.chunk_metas.iter(&rtxn).at(&self.dir)? {
                chunk_keys.push((entry.at(&self.dir)?.0, 1));
            }
            for entry in self.dbs.files.iter(&rtxn).at(&self.dir)? {
                file_keys.push((entry.at(&self.dir)?.0.to_owned(), 1));
            }
        } else {
            for entry in self.dbs.pending_chunks.iter(&rtxn).at(&self.dir)? {
                let key = entry.at(&self.dir)?;
                if !applied_chunks.contains(&key) {
                    chunk_keys.push(key);
                }
            }
            for entry in self.dbs.pending_files.iter(&rtxn).at(&self.dir)? {
                let (path, op) = entry.at(&self.dir)?;
                if !applied_files.contains(&(path, op)) {
                    file_keys.push((path.to_owned(), op));
                }
            }
        }
        let synced = self
            .dbs
            .counters
            .get(&rtxn, FULL_TEXT_GENERATION)
            .at(&self.dir)?
            .max(Some(applied.generation).filter(|&generation| generation > 0));
        let up_to_date =
            !reset && chunk_keys.is_empty() && file_keys.is_empty() && synced == Some(generation);
        if up_to_date && applied.chunks.is_empty() && applied.files.is_empty() {
            return Ok(());
        }
        if !up_to_date {
            self.apply_to_full_text(&rtxn, reset, &chunk_keys, &file_keys, generation)?;
        }
        drop(rtxn);
        if reset {
            let _clear = tracing::debug_span!("store.clear_full_text_queue").entered();
            let mut wtxn = self.env.write_txn().at(&self.dir)?;
            self.dbs.pending_chunks.clear(&mut wtxn).at(&self.dir)?;
            self.dbs.pending_files.clear(&mut wtxn).at(&self.dir)?;
            // The rebuild dropped their documents, which LMDB cannot give back: the next run
            // finds them new and writes them again.
            if let Some(unchunked) = self.dbs.unchunked {
                unchunked.clear(&mut wtxn).at(&self.dir)?;
            }
            self.dbs
                .counters
                .delete(&mut wtxn, FULL_TEXT_RESET)
                .at(&self.dir)?;
            self.dbs
                .counters
                .put(&mut wtxn, FULL_TEXT_GENERATION, &generation)
                .at(&self.dir)?;
            return wtxn.commit().at(&self.dir);
        }
        applied.chunks.extend(chunk_keys);
        applied.files.extend(file_keys);
        applied.generation = generation;
        match bookkeeping {
            Bookkeeping::Now => {
                let _clear = tracing::debug_span!("store.clear_full_text_queue").entered();
                let mut wtxn = self.env.write_txn().at(&self.dir)?;
                self.forget_applied_full_text(&mut wtxn, &applied)?;
                wtxn.commit().at(&self.dir)
            }
            Bookkeeping::WithNextWrite => {
                *self
                    .applied_full_text
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(applied);
                Ok(())
            }
        }
    }

    /// Writes the queued chunks and files (every one of them when `reset`) to the full-text
    /// index and commits it as reflecting `generation`.
    fn apply_to_full_text(
        &self,
        rtxn: &RoTxn<'_, WithoutTls>,
        reset: bool,
        chunk_keys: &[(ChunkId, u8)],
        file_keys: &[(String, u8)],
        generation: u64,
    ) -> Result<()> {
        let documents = tracing::debug_span!("full_text.documents").entered();
        let mut writer = self.full_text.writer()?;
        let mut heads = Heads::default();
        let mut texts = Texts::default();
        if reset {
            writer.delete_all()?;
        }
        for chunk_keys in chunk_keys.chunks(FULL_TEXT_BATCH) {
            for &(id, op) in chunk_keys {
                if op == 0 {
                    writer.delete(&LexicalKey::Chunk(id));
                    continue;
                }
                let (Some(meta), Some(text)) = (
                    self.chunk_meta(rtxn, id, &mut heads)?,
                    self.chunk_text(rtxn, id, &mut texts)?,
                ) else {
                    continue;
                };
                writer.put_chunk(
                    id,
                    &FullTextDoc {
                        key: LexicalKey::Chunk(id),
                        path: &meta.path,
                        language: &meta.language,
                        symbol: &meta.symbol,
                        body: &text,
                    },
                )?;
            }
        }
        for (path, op) in file_keys {
            let key = LexicalKey::File(path.clone());
            writer.delete(&key);
            if *op == 0 {
                continue;
            }
            let Some(record) = self.dbs.files.get(rtxn, path).at(&self.dir)? else {
                continue;
            };
            let mut body = String::new();
            let mut symbols = String::new();
            for id in &record.chunk_ids {
                if let Some(text) = self.chunk_text(rtxn, *id, &mut texts)? {
                    body.push_str(&text);
                    body.push('\n');
                }
                if let Some(meta) = self.chunk_meta(rtxn, *id, &mut heads)? {
                    symbols.push_str(&meta.symbol);
                    symbols.push('\n');
                }
            }
            writer.add(&FullTextDoc {
                key,
                path,
                language: &record.info.language,
                symbol: &symbols,
                body: &body,
            })?;
        }
        drop(documents);
        writer.commit(generation)
    }

    fn take_applied_full_text(&self) -> Option<AppliedFullText> {
        self.applied_full_text
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }

    /// Removes from the queue the entries the full-text index applied and records the
    /// generation it reached. An entry rewritten since carries a later op and stays.
    fn forget_applied_full_text(
        &self,
        wtxn: &mut RwTxn<'_>,
        applied: &AppliedFullText,
    ) -> Result<()> {
        for &(id, op) in &applied.chunks {
            if self.dbs.pending_chunks.get(wtxn, &id).at(&self.dir)? == Some(op) {
                self.dbs.pending_chunks.delete(wtxn, &id).at(&self.dir)?;
            }
        }
        for (path, op) in &applied.files {
            if self.dbs.pending_files.get(wtxn, path).at(&self.dir)? == Some(*op) {
                self.dbs.pending_files.delete(wtxn, path).at(&self.dir)?;
            }
        }
        self.dbs
            .counters
            .put(wtxn, FULL_TEXT_GENERATION, &applied.generation)
            .at(&self.dir)
    }

    /// Sees what another process committed since this store was opened (read-only stores).
    pub fn refresh(&self) -> Result<()> {
        self.full_text.refresh()
    }

    /// Waits until the full-text index has merged the segments a bulk run wrote, so that the
    /// merges neither compete with the next edits for the CPU nor slow searches down.
    pub fn wait_for_full_text_merges(&self) -> Result<()> {
        let _guard = self.lock_for_writing("merging the full-text index")?;
        self.full_text.wait_for_merges()
    }

    /// A read transaction: a consistent snapshot for one query.
    pub fn snapshot(&self) -> Result<Snapshot<'_>> {
        Ok(Snapshot {
            store: self,
            rtxn: self.env.read_txn().at(&self.dir)?,
        })
    }

    /// BM25: the best `limit` chunks or files for `terms` (see [`tokens::terms`]).
    pub fn bm25(
        &self,
        kind: DocKind,
        terms: &[String],
        weights: FieldWeights,
        language: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(LexicalKey, f32)>> {
        self.full_text.search(kind, terms, weights, language, limit)
    }

    pub fn stats(&self) -> Result<Stats> {
        let rtxn = self.env.read_txn().at(&self.dir)?;
        let space = self.dbs.info.get(&rtxn, ACTIVE_SPACE).at(&self.dir)?;
        let vectors = match &space {
            Some(space) => SpaceVectors::new(self, space).len(&rtxn).at(&self.dir)?,
            None => 0,
        };
        Ok(Stats {
            files: self.dbs.files.len(&rtxn).at(&self.dir)?,
            chunks: self.dbs.chunk_metas.len(&rtxn).at(&self.dir)?,
            vectors,
            generation: self
                .dbs
                .counters
                .get(&rtxn, GENERATION)
                .at(&self.dir)?
                .unwrap_or(0),
            full_text_generation: self.full_text.generation(),
            pending_full_text: self.dbs.pending_chunks.len(&rtxn).at(&self.dir)?
                + self.dbs.pending_files.len(&rtxn).at(&self.dir)?,
            space,
            disk_bytes: folder_size(&self.dir),
        })
    }

    /// Bytes on disk by LMDB database (pages × page size, as `mdb_stat` counts them), free
    /// pages, and the full-text index.
    pub fn disk_usage(&self) -> Result<DiskUsage> {
        let rtxn = self.env.read_txn().at(&self.dir)?;
        let dbs = &self.dbs;
        let stats = [
            ("chunk_metas", dbs.chunk_metas.stat(&rtxn)),
            ("file_heads", dbs.file_heads.stat(&rtxn)),
            ("chunk_texts", dbs.chunk_texts.stat(&rtxn)),
            ("files", dbs.files.stat(&rtxn)),
            ("vector_values", dbs.vectors.values.stat(&rtxn)),
            ("vector_codes", dbs.vectors.codes.stat(&rtxn)),
            ("vector_cache", dbs.vectors.cache.stat(&rtxn)),
            ("pending_chunks", dbs.pending_chunks.stat(&rtxn)),
            ("pending_files", dbs.pending_files.stat(&rtxn)),
            ("unembedded", dbs.unembedded.stat(&rtxn)),
        ];
        let unchunked = dbs.unchunked.map(|db| ("unchunked", db.stat(&rtxn)));
        let mut databases = Vec::new();
        for (name, stat) in stats.into_iter().chain(unchunked) {
            let stat = stat.at(&self.dir)?;
            databases.push((name, stat.entries as u64, stat.non_free_page_size() as u64));
        }
        let info = self.env.info();
        let page_size = u64::from(self.env.unnamed_database_stat().page_size);
        let used_pages = info.last_page_number as u64 + 1;
        let held: u64 = databases.iter().map(|(_, _, bytes)| bytes).sum();
        let lmdb = self.dir.join("lmdb");
        Ok(DiskUsage {
            lmdb_bytes: folder_size(&lmdb),
            lmdb_other_bytes: (used_pages * page_size).saturating_sub(held),
            full_text_bytes: folder_size(&self.dir.join("tantivy")),
            databases,
        })
    }

    /// Checks both directions between chunks, vectors, texts and file records.
    pub fn check_consistency(&self) -> Result<Consistency> {
        let rtxn = self.env.read_txn().at(&self.dir)?;
        let mut chunks = BTreeSet::new();
        for entry in self.dbs.chunk_metas.iter(&rtxn).at(&self.dir)? {
            chunks.insert(entry.at(&self.dir)?.0);
        }
        let mut texts = BTreeSet::new();
        for entry in self.dbs.chunk_texts.iter(&rtxn).at(&self.dir)? {
            let (first, value) = entry.at(&self.dir)?;
            let count = compressed::count(value).map_err(|message| StoreError::Damaged {
                path: self.dir.clone(),
                message: format!("the texts of chunk {first} on: {message}"),
            })?;
            texts.extend(
                (0..count as u64).filter_map(|n| ChunkId::try_from(u64::from(first) + n).ok()),
            );
        }
        let mut vectors = self.vector_ids(&rtxn, ACTIVE_SPACE)?;
        // A chunk waiting for its vector is accounted for.
        for entry in self.dbs.unembedded.iter(&rtxn).at(&self.dir)? {
            vectors.insert(entry.at(&self.dir)?.0);
        }
        let upgrade_vectors = self.vector_ids(&rtxn, UPGRADE_SPACE)?;
        let mut listed = BTreeSet::new();
        for entry in self.dbs.files.iter(&rtxn).at(&self.dir)? {
            listed.extend(entry.at(&self.dir)?.1.chunk_ids);
        }
        Ok(Consistency {
            chunks_without_vector: chunks.difference(&vectors).copied().collect(),
            vectors_without_chunk: vectors.difference(&chunks).copied().collect(),
            upgrade_vectors_without_chunk: upgrade_vectors.difference(&chunks).copied().collect(),
            chunks_without_text: chunks.difference(&texts).copied().collect(),
            dangling_file_chunks: listed.difference(&chunks).copied().collect(),
            orphan_chunks: chunks.difference(&listed).copied().collect(),
        })
    }
}

impl Drop for Store {
    /// Commits the bookkeeping [`Store::sync_full_text_after_edit`] left for the next write, so
    /// that a clean exit leaves an empty queue (a failure only means replaying it on open).
    fn drop(&mut self) {
        let Some(applied) = self.take_applied_full_text() else {
            return;
        };
        let committed = self.env.write_txn().at(&self.dir).and_then(|mut wtxn| {
            self.forget_applied_full_text(&mut wtxn, &applied)?;
            wtxn.commit().at(&self.dir)
        });
        if let Err(error) = committed {
            tracing::warn!(%error, "the full-text queue is replayed on the next open");
        }
    }
}

/// The text group last decompressed: chunks read in id order share it.
#[derive(Default)]
struct Texts(Option<compressed::Group>);

/// The file head last read, by its key: chunks read in id order share it.
#[derive(Default)]
struct Heads(Option<(ChunkId, FileHead)>);

/// One consistent read of the store (an LMDB read transaction).
pub struct Snapshot<'s> {
    store: &'s Store,
    rtxn: RoTxn<'s, WithoutTls>,
}

impl Snapshot<'_> {
    pub fn chunk(&self, id: ChunkId) -> Result<Option<ChunkMeta>> {
        self.store.chunk_meta(&self.rtxn, id, &mut Heads::default())
    }

    pub fn chunk_text(&self, id: ChunkId) -> Result<Option<String>> {
        self.store.chunk_text(&self.rtxn, id, &mut Texts::default())
    }

    pub fn file(&self, path: &str) -> Result<Option<FileRecord>> {
        self.store
            .dbs
            .files
            .get(&self.rtxn, path)
            .at(&self.store.dir)
    }

    /// The info of a file written by [`Store::write_lexical`] that waits for its chunks.
    pub fn unchunked(&self, path: &str) -> Result<Option<FileInfo>> {
        match self.store.dbs.unchunked {
            Some(db) => db.get(&self.rtxn, path).at(&self.store.dir),
            None => Ok(None),
        }
    }

    /// How many files wait for their chunks: BM25 finds them by their whole-file document only.
    pub fn unchunked_count(&self) -> Result<u64> {
        match self.store.dbs.unchunked {
            Some(db) => db.len(&self.rtxn).at(&self.store.dir),
            None => Ok(0),
        }
    }

    /// A chunk's vector in the active space (as stored: 8-bit components).
    pub fn vector(&self, id: ChunkId) -> Result<Option<Vec<f32>>> {
        let Some(space) = self.active_space()? else {
            return Ok(None);
        };
        self.vector_in(&space, id)
    }

    /// The `limit` chunks nearest to `query` with their cosine similarity (see `vectors.rs`
    /// for how near to exact). `query` must have the active space's dimension.
    pub fn nearest(&self, query: &[f32], limit: usize) -> Result<Vec<(ChunkId, f32)>> {
        let Some(space) = self.active_space()? else {
            return Ok(Vec::new());
        };
        self.nearest_in_by(&space, query, limit, Search::DEFAULT)
    }
}

impl Databases {
    #[allow(clippy::type_complexity)]
    fn from_tuple(
        (
            chunk_metas,
            chunk_texts,
            files,
            counters,
            info,
            pending_chunks,
            pending_files,
            values,
            codes,
            means,
            unembedded,
            cache,
        ): (
            ChunkMetas,
            ChunkTexts,
            Files,
            Counters,
            Info,
            PendingChunks,
            PendingFiles,
            Database<'static, Bytes, Bytes>,
            Database<'static, Bytes, Bytes>,
            Database<'static, Bytes, Bytes>,
            Unembedded,
            Database<'static, Bytes, Bytes>,
        ),
        file_heads: FileHeads,
        unchunked: Option<Unchunked>,
    ) -> Self {
        Self {
            chunk_metas,
            file_heads,
            chunk_texts,
            files,
            counters,
            info,
            pending_chunks,
            pending_files,
            vectors: VectorDbs {
                values,
                codes,
                means,
                cache,
            },
            unembedded,
            unchunked,
        }
    }
}

/// Brings an index of another layout to this one by emptying it (chunks, files, vectors,
/// spaces): the next run indexes the workspace again, and the full-text index is rebuilt.
/// A new environment just records the layout.
fn upgrade_layout(
    env: &Env<WithoutTls>,
    dbs: &Databases,
    legacy_vectors: Database<'static, Bytes, Bytes>,
) -> heed::Result<()> {
    // Every writable open asks; only an index of another layout needs the writer's transaction.
    let layout = {
        let rtxn = env.read_txn()?;
        dbs.counters.get(&rtxn, LAYOUT_KEY)?
    };
    if layout == Some(LAYOUT) {
        return Ok(());
    }
    let mut wtxn = env.write_txn()?;
    if dbs.files.len(&wtxn)? > 0 || !legacy_vectors.is_empty(&wtxn)? {
        tracing::info!(from = ?layout, to = LAYOUT, "the index was written by another version of codexos; it is rebuilt");
        legacy_vectors.clear(&mut wtxn)?;
        for db in [
            dbs.vectors.values,
            dbs.vectors.codes,
            dbs.vectors.means,
            dbs.vectors.cache,
        ] {
            db.clear(&mut wtxn)?;
        }
        dbs.chunk_metas.clear(&mut wtxn)?;
        dbs.file_heads.clear(&mut wtxn)?;
        dbs.chunk_texts.clear(&mut wtxn)?;
        dbs.files.clear(&mut wtxn)?;
        if let Some(unchunked) = dbs.unchunked {
            unchunked.clear(&mut wtxn)?;
        }
        dbs.pending_chunks.clear(&mut wtxn)?;
        dbs.pending_files.clear(&mut wtxn)?;
        dbs.unembedded.clear(&mut wtxn)?;
        dbs.info.clear(&mut wtxn)?;
        // Layout 1's tombstones of deleted vectors; the id and generation counters stay, so
        // chunk ids are never reused.
        let mut counters = dbs
            .counters
            .prefix_iter_mut(&mut wtxn, "vector_tombstone/")?;
        while counters.next().transpose()?.is_some() {
            // SAFETY: the entry is not held across the deletion (heed's requirement).
            unsafe { counters.del_current()? };
        }
        drop(counters);
        // The full-text index is rebuilt from the (now empty) chunks.
        dbs.counters.put(&mut wtxn, FULL_TEXT_RESET, &1)?;
    }
    dbs.counters.put(&mut wtxn, LAYOUT_KEY, &LAYOUT)?;
    wtxn.commit()
}

/// The highest chunk id `db` holds.
fn last_id<DC>(
    txn: &RoTxn<'_, WithoutTls>,
    db: Database<'static, U32<BigEndian>, DC>,
) -> heed::Result<Option<ChunkId>> {
    Ok(db
        .remap_data_type::<heed::types::DecodeIgnore>()
        .last(txn)?
        .map(|(id, ())| id))
}

/// What identifies a chunk's content for its vector: what the embedder sees of it.
fn content_key(meta: &ChunkMeta, text: &str) -> [u8; 16] {
    let mut hasher = blake3::Hasher::new();
    for part in [meta.path.as_str(), meta.symbol.as_str(), text] {
        hasher.update(&(part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    let mut key = [0; 16];
    key.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
    key
}

fn open_env(lmdb_dir: &Path) -> Result<Env<WithoutTls>> {
    let mut options = EnvOpenOptions::new().read_txn_without_tls();
    options.map_size(MAP_SIZE).max_dbs(16);
    // SAFETY (`NO_META_SYNC`): a commit still syncs its data pages, but not the meta page that
    // points at them; the next commit syncs it. What this changes, and why it is safe here:
    // - `kill -9` loses nothing: the meta page is in the page cache, which survives the process;
    // - a power cut may undo the last commit only (LMDB keeps two meta pages and never writes
    //   over the pages the synced one points to), so the index stays consistent — each batch is
    //   whole or absent, as without the flag — and the next `codexos index` sees that file's
    //   old hash and indexes it again;
    // - the full-text index may then reflect that lost commit; its generation, ahead of
    //   LMDB's, makes `Store::catch_up_full_text` rebuild it from LMDB.
    // One fsync fewer per commit: a save's LMDB commit took 4.4 ms instead of 6.0 ms at p50 in
    // `codexos bench` (medians of 10 interleaved runs on a shared 2-core machine, whose disk
    // contention moves it by as much).
    //
    // SAFETY (`open`): heed requires that the environment is not opened twice in one process
    // and that the files are not modified by other means; the writer lock and `.codexos/` being
    // ours uphold that for writers, and LMDB itself supports readers in other processes.
    unsafe {
        options.flags(heed::EnvFlags::NO_META_SYNC);
        options.open(lmdb_dir)
    }
    .at(lmdb_dir)
}

fn folder_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(metadata) if metadata.is_dir() => folder_size(&entry.path()),
            Ok(metadata) => {
                use std::os::unix::fs::MetadataExt;
                metadata.blocks() * 512
            }
            Err(_) => 0,
        })
        .sum()
}
