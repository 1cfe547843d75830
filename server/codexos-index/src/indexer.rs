//! Walk → read → whole-file BM25 → chunk → embed → store, in batches, resumable and
//! cancellable.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use codexos_chunk::Chunker;
use codexos_embed::Embedder;
use codexos_store::{
    ChunkMeta, FileInfo, FileWrite, LexicalFile, NewChunk, OpenOptions, Snapshot, SpaceChange,
    Store, WriteBatch,
};

use crate::error::{IndexError, Result};
use crate::file_chunks::{file_chunks, workspace_chunker};
use crate::settings::IndexSettings;
use crate::walk::{FoundFile, LinkEscape, check_link, relative_path, walk, walk_lists};

/// Bytes looked at to decide whether a file is binary (as git does: a NUL byte).
const BINARY_SNIFF_BYTES: usize = 8000;
/// Threads that read and chunk files at once: more only contend for the disk and the store.
const MAX_PREPARE_THREADS: usize = 8;
/// Files a worker prepares before it hands them on.
const FILES_PER_TASK: usize = 16;
/// Files a worker looks up in one read transaction of the index.
const LOOKUPS_PER_SNAPSHOT: usize = 256;
/// How often a long indexing run makes its progress searchable by BM25.
const FULL_TEXT_SYNC_INTERVAL: Duration = Duration::from_secs(5);
/// Text the first stage of a run hands the store at once: each hand-over is a commit of LMDB
/// and of the full-text index, so few and large, while memory stays bounded.
const LEXICAL_BATCH_BYTES: usize = 32 << 20;
/// Test hook: sleep this many milliseconds after each committed batch, so a test can kill
/// the process mid-way.
pub const BATCH_DELAY_ENV: &str = "CODEXOS_INDEX_BATCH_DELAY_MS";

/// Where a run is, for progress bars and `$/progress`. A run first reads every file that has
/// no chunks yet and makes it searchable by BM25 as a whole (`files_done`; then BM25 searches
/// the whole tree: `searchable`), then chunks every changed file (`files_chunked`), then embeds
/// the chunks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Files the first stage has looked at.
    pub files_done: usize,
    pub files_total: usize,
    /// Files the chunk stage has looked at.
    pub files_chunked: usize,
    pub chunks_written: usize,
    /// Every file is searchable by BM25; chunks and vectors follow.
    pub searchable: bool,
    pub chunks_embedded: usize,
    /// Chunks waiting for their vector when embedding began.
    pub chunks_to_embed: usize,
}

/// Which stage of a run a [`Progress`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Files are read for their whole-file BM25 documents (`files_done` of `files_total`).
    Reading,
    /// Every file is searchable by BM25; changed files are chunked (`files_chunked`).
    Chunking,
    /// Chunks are embedded (`chunks_embedded` of `chunks_to_embed`).
    Embedding,
}

impl Progress {
    pub fn stage(&self) -> Stage {
        if self.chunks_to_embed > 0 {
            Stage::Embedding
        } else if self.searchable {
            Stage::Chunking
        } else {
            Stage::Reading
        }
    }

    /// What the stage has done, and of how many.
    pub fn done_of_total(&self) -> (usize, usize) {
        match self.stage() {
            Stage::Reading => (self.files_done, self.files_total),
            Stage::Chunking => (self.files_chunked, self.files_total),
            Stage::Embedding => (self.chunks_embedded, self.chunks_to_embed),
        }
    }
}

/// What a full run did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IndexSummary {
    pub files_seen: usize,
    pub files_indexed: usize,
    pub files_unchanged: usize,
    pub files_skipped: usize,
    /// `files_skipped` by [`SkipReason::label`]: what a run reports once, instead of a line a file.
    pub skipped_by_reason: std::collections::BTreeMap<&'static str, usize>,
    pub files_removed: usize,
    pub chunks_written: usize,
    /// Chunks embedded in this run (those written now, and any a stopped run left without).
    pub chunks_embedded: usize,
    /// Chunks that got the vector a removed chunk of the same content had, without the
    /// embedder (a branch switch, a revert).
    pub chunks_reused: usize,
    /// Bytes of the files chunked in this run.
    pub bytes_indexed: u64,
    /// From the start until BM25 could search every file.
    pub searchable_after: Duration,
    /// From the start until every changed file was chunked (BM25 then finds its chunks).
    pub chunked_after: Duration,
    pub elapsed: Duration,
}

/// Why a file is not indexed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// The workspace walk leaves it out: `.gitignore`/`.ignore`, `codexos.toml` excludes or
    /// extensions, a hidden path, `.codexos/` or `.git/`.
    Excluded,
    TooLarge {
        bytes: u64,
        limit: u64,
    },
    Binary,
    InvalidUtf8,
    /// A symbolic link whose real target lies outside the workspace or in tools' state: the
    /// walk skips such links, and a file replaced by one after the walk listed it is not read.
    LinkLeavesWorkspace {
        target: PathBuf,
    },
    Vanished,
    Unreadable(String),
}

impl SkipReason {
    /// The reason in a few words, the same for every file skipped for it ("binary", "too large").
    pub fn label(&self) -> &'static str {
        match self {
            SkipReason::Excluded => "excluded",
            SkipReason::TooLarge { .. } => "too large",
            SkipReason::Binary => "binary",
            SkipReason::InvalidUtf8 => "not UTF-8",
            SkipReason::LinkLeavesWorkspace { .. } => "link out of the workspace",
            SkipReason::Vanished => "vanished",
            SkipReason::Unreadable(_) => "unreadable",
        }
    }
}

/// What happened to one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileOutcome {
    Indexed { chunks: usize },
    Unchanged,
    Skipped(SkipReason),
    Removed,
}

/// A file read, hashed and chunked, waiting for its vectors.
struct PreparedFile {
    path: String,
    info: FileInfo,
    chunks: Vec<(ChunkMeta, String)>,
}

enum Prepared {
    Chunked(PreparedFile),
    Unchanged,
    /// Same bytes, new modification time: only the file's record changes.
    Touched(FileInfo),
    Skipped(SkipReason),
}

/// Whether [`Indexer::flush`] embeds the batch before writing it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Vectors {
    /// In the same transaction as the chunks (a save: searchable by meaning at once).
    Now,
    /// Later, by [`Indexer::embed_waiting`] (a bulk run: searchable by BM25 first).
    Later,
}

/// Keeps one workspace's index up to date. Holds the index's writer lock while alive.
pub struct Indexer {
    root: PathBuf,
    store: Store,
    chunker: Chunker,
    embedder: Arc<dyn Embedder>,
    /// The neural embedder whose vectors replace the fast ones once complete (`upgrade.rs`).
    pub(crate) upgrade: std::sync::RwLock<Option<Arc<dyn Embedder>>>,
    settings: IndexSettings,
    /// The commit chunks are tagged with: `HEAD` when the last full run started.
    commit: std::sync::RwLock<Option<String>>,
    batch_delay: Option<Duration>,
}

impl Indexer {
    /// Opens (or creates) the index of `root` for `embedder`'s vector space. An index built
    /// with another embedder is emptied first (spaces never mix); the next [`Indexer::index_all`]
    /// re-embeds everything.
    pub fn open(
        root: &Path,
        embedder: Arc<dyn Embedder>,
        settings: IndexSettings,
        options: &OpenOptions,
    ) -> Result<Self> {
        let root = root.canonicalize().map_err(|source| IndexError::Read {
            path: root.to_path_buf(),
            source,
        })?;
        let store = Store::open(&root, options)?;
        let space = embedder.space();
        if let SpaceChange::Replaced { previous } = store.use_space(&space.key(), embedder.dim())? {
            tracing::info!(root = %root.display(), %previous, now = %space, "embedder changed; re-indexing every file");
        }
        let chunker = workspace_chunker(&root, &settings)?;
        let batch_delay = std::env::var(BATCH_DELAY_ENV)
            .ok()
            .and_then(|ms| ms.parse().ok())
            .map(Duration::from_millis);
        let commit = crate::git::head_commit(&root);
        Ok(Self {
            root,
            store,
            chunker,
            embedder,
            upgrade: std::sync::RwLock::default(),
            settings,
            commit: std::sync::RwLock::new(commit),
            batch_delay,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    /// The chunker this index chunks files with ([`crate::workspace_chunker`]).
    pub fn chunker(&self) -> &Chunker {
        &self.chunker
    }

    /// A searcher over this index with its embedder (and its upgrade embedder, whose vectors
    /// it reads once they cover every chunk). The indexer is `Sync`: a language
    /// server shares it (`Arc<Indexer>`) between a background `index_all`, re-indexes on
    /// save, and searches, which read LMDB snapshots and never wait for a write.
    pub fn searcher(&self) -> crate::Searcher<'_> {
        crate::Searcher::new(&self.store, self.embedder.as_ref())
            .with_upgrade(self.upgrade_embedder())
    }

    /// Brings the index up to the workspace: new and changed files are chunked and embedded,
    /// unchanged files (same size and modification time, else same blake3) are left alone,
    /// files gone from the workspace are removed.
    ///
    /// Three stages. First every file without chunks (a new one, or one a stopped run left
    /// unchunked) is read on all cores and written as a whole-file BM25 document, without
    /// parsing it, when there is enough new text for it to pay
    /// ([`IndexSettings::lexical_first_bytes`]), and files gone from the workspace are removed: BM25 then finds every file
    /// by its words (`searchable_after`), a hit in such a file being the lines around its best
    /// match. Then every changed file is read, hashed and chunked and written without vectors,
    /// in batches (replacing the first stage's document); then the chunks waiting for a vector
    /// are embedded, in batches. Every batch is committed, so a crash or a cancel keeps what was
    /// committed and the next run goes on from there: a file the first stage wrote has no
    /// chunks, so it is chunked; files already chunked are unchanged, their chunks still wait
    /// for vectors. `cancel` is checked between files and between batches.
    pub fn index_all(
        &self,
        progress: &mut dyn FnMut(Progress),
        cancel: &AtomicBool,
    ) -> Result<IndexSummary> {
        let started = Instant::now();
        *self
            .commit
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = crate::git::head_commit(&self.root);
        let files = walk(&self.root, &self.settings)?;
        let mut summary = IndexSummary {
            files_seen: files.len(),
            ..IndexSummary::default()
        };
        let mut state = Progress {
            files_total: files.len(),
            ..Progress::default()
        };
        progress(state);
        self.write_lexical_all(&files, &mut state, progress, cancel)?;
        let seen: HashSet<&str> = files.iter().map(|file| file.relative.as_str()).collect();
        summary.files_removed += self.remove_unless(|path| seen.contains(path))?;
        self.store.sync_full_text()?;
        summary.searchable_after = started.elapsed();
        state.searchable = true;
        progress(state);

        let mut batch: Vec<PreparedFile> = Vec::new();
        let mut batch_chunks = 0;
        let mut skipped = HashSet::new();
        let mut touched = Vec::new();
        let mut last_sync = Instant::now();
        let prepare = |file: &FoundFile, snapshot: Option<&Snapshot<'_>>| {
            let stored = match snapshot {
                Some(snapshot) => snapshot.file(&file.relative),
                None => self.store.file(&file.relative),
            };
            self.prepare(file, None, stored)
        };
        self.prepare_all(&files, cancel, &prepare, |file, prepared| {
            match prepared {
                Prepared::Chunked(prepared) => {
                    summary.bytes_indexed += prepared.info.size;
                    batch_chunks += prepared.chunks.len();
                    batch.push(prepared);
                }
                Prepared::Unchanged => summary.files_unchanged += 1,
                Prepared::Touched(info) => {
                    summary.files_unchanged += 1;
                    touched.push((file.relative.clone(), info));
                }
                Prepared::Skipped(reason) => {
                    summary.files_skipped += 1;
                    *summary.skipped_by_reason.entry(reason.label()).or_default() += 1;
                    skipped.insert(file.relative.as_str());
                }
            }
            state.files_chunked += 1;
            if batch_chunks >= self.settings.commit_chunks {
                self.flush(&mut batch, &mut summary, Vectors::Later)?;
                batch_chunks = 0;
                state.chunks_written = summary.chunks_written;
                progress(state);
                if last_sync.elapsed() >= FULL_TEXT_SYNC_INTERVAL {
                    self.store.sync_full_text()?;
                    last_sync = Instant::now();
                }
            } else if batch.is_empty() && state.files_chunked.is_multiple_of(256) {
                progress(state);
            }
            Ok(())
        })
        .inspect_err(|_| {
            let _ = self.flush(&mut batch, &mut summary, Vectors::Later);
            let _ = self.store.sync_full_text();
        })?;
        self.flush(&mut batch, &mut summary, Vectors::Later)?;
        self.store.update_file_infos(&touched)?;
        // A file skipped this time (now too large, binary, a link out) leaves the index, as it
        // does when re-indexed alone.
        summary.files_removed += self.remove_unless(|path| !skipped.contains(path))?;
        self.store.sync_full_text()?;
        summary.chunked_after = started.elapsed();
        state.chunks_written = summary.chunks_written;
        progress(state);
        self.embed_waiting(&mut state, progress, cancel, &mut summary)?;
        // Once per run, not per batch: also finishes what a killed run left undone.
        self.store.build_vectors()?;
        if summary.files_indexed + summary.files_removed > 0 {
            self.store.wait_for_full_text_merges()?;
        }
        progress(state);
        summary.elapsed = started.elapsed();
        Ok(summary)
    }

    /// The first stage of [`Indexer::index_all`]: every file of `files` without chunks is read
    /// on all cores and written as a whole-file BM25 document, in batches, when there are at
    /// least [`IndexSettings::lexical_first_bytes`] of them. Nothing is parsed: it costs
    /// reading the files and the full-text index's share, so BM25 finds every file by its
    /// words long before the chunks are written.
    fn write_lexical_all(
        &self,
        files: &[FoundFile],
        state: &mut Progress,
        progress: &mut dyn FnMut(Progress),
        cancel: &AtomicBool,
    ) -> Result<()> {
        let _stage = tracing::debug_span!("index.lexical").entered();
        let mut batch: Vec<LexicalFile> = Vec::new();
        let mut batch_bytes = 0;
        let mut written_bytes = 0;
        let read =
            |file: &FoundFile, snapshot: Option<&Snapshot<'_>>| self.read_lexical(file, snapshot);
        self.prepare_all(files, cancel, &read, |_, read| {
            if let Some(file) = read {
                batch_bytes += file.text.len();
                batch.push(file);
            }
            state.files_done += 1;
            if batch_bytes >= LEXICAL_BATCH_BYTES {
                self.store.write_lexical(&batch)?;
                batch.clear();
                written_bytes += batch_bytes;
                batch_bytes = 0;
                progress(*state);
            } else if state.files_done.is_multiple_of(256) {
                progress(*state);
            }
            Ok(())
        })
        .inspect_err(|_| {
            let _ = self.store.write_lexical(&batch);
        })?;
        // A little new text (a save, a pull) is left to the chunk stage, which makes it
        // searchable about as soon.
        if (written_bytes + batch_bytes) as u64 >= self.settings.lexical_first_bytes {
            self.store.write_lexical(&batch)?;
        }
        Ok(())
    }

    /// `file`'s text for its whole-file document, unless it has chunks (the chunk stage
    /// decides whether it changed), a document of the same size and modification time waits
    /// for its chunks, or the chunk stage will skip it (it counts why).
    fn read_lexical(
        &self,
        file: &FoundFile,
        snapshot: Option<&Snapshot<'_>>,
    ) -> Option<LexicalFile> {
        let looked_up = match snapshot {
            Some(snapshot) => snapshot
                .file(&file.relative)
                .and_then(|record| Ok((record, snapshot.unchunked(&file.relative)?))),
            None => self
                .store
                .file(&file.relative)
                .and_then(|record| Ok((record, self.store.unchunked(&file.relative)?))),
        };
        let (None, waiting) = looked_up.ok()? else {
            return None;
        };
        let Ok(Ok(Read::Bytes { bytes, modified })) = read_capped(
            &self.root,
            &file.absolute,
            self.settings.max_file_bytes,
            waiting.as_ref(),
        ) else {
            return None;
        };
        let hash = blake3::hash(&bytes).to_hex().to_string();
        let text = String::from_utf8(bytes).ok()?;
        Some(LexicalFile {
            path: file.relative.clone(),
            info: FileInfo {
                hash,
                size: text.len() as u64,
                modified_ns: modified,
                language: self
                    .chunker
                    .language_of(Path::new(&file.relative))
                    .to_owned(),
                commit: self
                    .commit
                    .read()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .clone(),
            },
            text,
        })
    }

    /// Removes from the index every file (chunked or not) whose path `keep` rejects; returns
    /// how many.
    fn remove_unless(&self, keep: impl Fn(&str) -> bool) -> Result<usize> {
        let removed: Vec<String> = self
            .store
            .file_paths()?
            .into_iter()
            .filter(|path| !keep(path))
            .collect();
        if !removed.is_empty() {
            self.store.write(&WriteBatch {
                files: Vec::new(),
                removed: removed.clone(),
            })?;
        }
        Ok(removed.len())
    }

    /// Embeds every chunk written without its vector, a batch per transaction.
    fn embed_waiting(
        &self,
        state: &mut Progress,
        progress: &mut dyn FnMut(Progress),
        cancel: &AtomicBool,
        summary: &mut IndexSummary,
    ) -> Result<()> {
        summary.chunks_reused += self.store.reuse_vectors()?;
        state.chunks_to_embed =
            usize::try_from(self.store.unembedded_count()?).unwrap_or(usize::MAX);
        if state.chunks_to_embed == 0 {
            return Ok(());
        }
        progress(*state);
        let batch_size = self.settings.commit_chunks.max(1);
        loop {
            if cancel.load(Ordering::Relaxed) {
                return Err(IndexError::Cancelled {
                    root: self.root.clone(),
                });
            }
            let waiting = self.store.unembedded(batch_size)?;
            if waiting.is_empty() {
                return Ok(());
            }
            let texts: Vec<String> = waiting
                .iter()
                .map(|(_, meta, text)| embedding_text(meta, text))
                .collect();
            let vectors = self.embed(&texts, &waiting[0].1.path)?;
            let vectors: Vec<_> = waiting.iter().map(|(id, _, _)| *id).zip(vectors).collect();
            let kept = self.store.write_vectors(&vectors)?;
            if kept == 0 {
                // Nothing could be stored (the chunks vanished meanwhile and the queue did
                // not move): never loop on the same batch.
                return Ok(());
            }
            summary.chunks_embedded += kept;
            state.chunks_embedded += kept;
            progress(*state);
            if let Some(delay) = self.batch_delay {
                std::thread::sleep(delay);
            }
        }
    }

    /// Runs `prepare` on `files` on every core, with a read snapshot of the index (`None` when
    /// it cannot be taken: `prepare` then asks the store), and hands each result to `sink` in
    /// the order of `files`. Stops early when `cancel` is set (with [`IndexError::Cancelled`])
    /// or `sink` fails. Workers run at most a few files ahead of `sink`, so memory stays
    /// bounded whatever the tree's size.
    fn prepare_all<'f, P: Send>(
        &self,
        files: &'f [FoundFile],
        cancel: &AtomicBool,
        prepare: &(dyn Fn(&FoundFile, Option<&Snapshot<'_>>) -> P + Sync),
        mut sink: impl FnMut(&'f FoundFile, P) -> Result<()>,
    ) -> Result<()> {
        let workers = std::thread::available_parallelism()
            .map_or(1, std::num::NonZeroUsize::get)
            .clamp(1, MAX_PREPARE_THREADS);
        let next = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        // Workers log where the caller logs (a test's or a server's subscriber).
        let dispatch = tracing::dispatcher::get_default(Clone::clone);
        std::thread::scope(|scope| {
            let (sender, receiver) = std::sync::mpsc::sync_channel::<(usize, Vec<P>)>(workers * 2);
            for _ in 0..workers {
                let sender = sender.clone();
                let (next, stop, dispatch) = (&next, &stop, &dispatch);
                scope.spawn(move || {
                    let _logging = tracing::dispatcher::set_default(dispatch);
                    // One read transaction for many files: beginning one per file took a lock
                    // each time. Renewed now and then, so that it does not keep the pages the
                    // writer frees from being reused.
                    let mut snapshot = None;
                    let mut looked_up = 0;
                    loop {
                        if stop.load(Ordering::Relaxed) || cancel.load(Ordering::Relaxed) {
                            return;
                        }
                        // A few files a task: a hand-over per file cost a wake-up each.
                        let start = next.fetch_add(FILES_PER_TASK, Ordering::Relaxed);
                        let Some(task) = files.get(start..files.len().min(start + FILES_PER_TASK))
                        else {
                            return;
                        };
                        let mut prepared = Vec::with_capacity(task.len());
                        for file in task {
                            if looked_up % LOOKUPS_PER_SNAPSHOT == 0 {
                                snapshot = self.store.snapshot().ok();
                            }
                            looked_up += 1;
                            prepared.push(prepare(file, snapshot.as_ref()));
                        }
                        if sender.send((start, prepared)).is_err() {
                            return;
                        }
                    }
                });
            }
            drop(sender);
            // Results arrive out of order; they are handed on in order (stable chunk ids).
            let mut waiting: std::collections::BTreeMap<usize, Vec<P>> = Default::default();
            let mut expected = 0;
            let outcome = (|| {
                for (start, prepared) in &receiver {
                    waiting.insert(start, prepared);
                    while let Some(task) = waiting.remove(&expected) {
                        for prepared in task {
                            if cancel.load(Ordering::Relaxed) {
                                return Err(IndexError::Cancelled {
                                    root: self.root.clone(),
                                });
                            }
                            sink(&files[expected], prepared)?;
                            expected += 1;
                        }
                    }
                }
                if expected < files.len() {
                    return Err(IndexError::Cancelled {
                        root: self.root.clone(),
                    });
                }
                Ok(())
            })();
            stop.store(true, Ordering::Relaxed);
            drop(receiver);
            outcome
        })
    }

    /// Re-indexes one file from disk (after a save): < 50 ms for a typical source file.
    /// The walk's rules decide whether it belongs to the index ([`crate::walk_lists`]); a file
    /// that no longer exists, or is now excluded by those rules, its size or its content, is
    /// removed.
    pub fn reindex_file(&self, path: &Path) -> Result<FileOutcome> {
        let found = self.found_file(path)?;
        self.reindex(&found, None)
    }

    /// Re-indexes one file from an editor buffer that may not be saved, by the same rules as
    /// [`Indexer::reindex_file`]: the file must be one the walk lists, so a buffer whose file
    /// is not on disk yet is indexed once saved.
    pub fn reindex_text(&self, path: &Path, text: &str) -> Result<FileOutcome> {
        let found = self.found_file(path)?;
        self.reindex(&found, Some(text))
    }

    fn found_file(&self, path: &Path) -> Result<FoundFile> {
        let absolute = if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.root.join(path)
        };
        let relative = relative_path(&self.root, &absolute)
            .or_else(|| {
                let parent = absolute.parent()?.canonicalize().ok()?;
                relative_path(&self.root, &parent.join(absolute.file_name()?))
            })
            .ok_or_else(|| IndexError::OutsideWorkspace {
                path: path.to_path_buf(),
                root: self.root.clone(),
            })?;
        Ok(FoundFile { absolute, relative })
    }

    fn reindex(&self, file: &FoundFile, text: Option<&str>) -> Result<FileOutcome> {
        // Spans time each step of a re-index (`codexos bench` prints them).
        let _reindex = tracing::debug_span!("reindex").entered();
        // A save after a commit is tagged with that commit, not the one of the last full run
        // (`codexos search --commit` reads the tags); two small file reads.
        *self
            .commit
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = crate::git::head_commit(&self.root);
        let on_disk = file.absolute.exists();
        let listed = on_disk && {
            let _step = tracing::debug_span!("reindex.rules").entered();
            walk_lists(&self.root, &self.settings, file)?
        };
        let prepared = if !on_disk {
            self.skip(file, SkipReason::Vanished)
        } else if !listed {
            self.skip(file, SkipReason::Excluded)
        } else {
            let _step = tracing::debug_span!("reindex.prepare").entered();
            self.prepare(file, text, self.store.file(&file.relative))
        };
        match prepared {
            Prepared::Unchanged => Ok(FileOutcome::Unchanged),
            Prepared::Touched(info) => {
                self.store
                    .update_file_infos(&[(file.relative.clone(), info)])?;
                Ok(FileOutcome::Unchanged)
            }
            Prepared::Skipped(reason) => {
                if self.holds(&file.relative)? {
                    self.store.write(&WriteBatch {
                        files: Vec::new(),
                        removed: vec![file.relative.clone()],
                    })?;
                    self.store.build_vectors()?;
                    self.store.sync_full_text_after_edit()?;
                    if reason == SkipReason::Vanished {
                        return Ok(FileOutcome::Removed);
                    }
                }
                Ok(FileOutcome::Skipped(reason))
            }
            Prepared::Chunked(prepared) => {
                let chunks = prepared.chunks.len();
                let mut summary = IndexSummary::default();
                self.flush(&mut vec![prepared], &mut summary, Vectors::Now)?;
                self.store.build_vectors()?;
                self.store.sync_full_text_after_edit()?;
                Ok(FileOutcome::Indexed { chunks })
            }
        }
    }

    /// Removes a deleted file from the index.
    pub fn remove_file(&self, path: &Path) -> Result<FileOutcome> {
        let found = self.found_file(path)?;
        if !self.holds(&found.relative)? {
            return Ok(FileOutcome::Unchanged);
        }
        self.store.write(&WriteBatch {
            files: Vec::new(),
            removed: vec![found.relative],
        })?;
        self.store.build_vectors()?;
        self.store.sync_full_text_after_edit()?;
        Ok(FileOutcome::Removed)
    }

    /// Whether the index holds `path`, chunked or waiting for its chunks.
    fn holds(&self, path: &str) -> Result<bool> {
        Ok(self.store.file(path)?.is_some() || self.store.unchunked(path)?.is_some())
    }

    /// Reads (or takes `text`), hashes and chunks `file`, whose record in the index is `stored`.
    fn prepare(
        &self,
        file: &FoundFile,
        text: Option<&str>,
        stored: codexos_store::Result<Option<codexos_store::FileRecord>>,
    ) -> Prepared {
        let stored = match stored {
            Ok(stored) => stored,
            Err(error) => return self.skip(file, SkipReason::Unreadable(error.to_string())),
        };
        let mut modified_ns = 0;
        let bytes = match text {
            Some(text) => text.as_bytes().to_vec(),
            None => match read_capped(
                &self.root,
                &file.absolute,
                self.settings.max_file_bytes,
                stored.as_ref().map(|record| &record.info),
            ) {
                Ok(Ok(Read::Same)) => return Prepared::Unchanged,
                Ok(Ok(Read::Bytes { bytes, modified })) => {
                    modified_ns = modified;
                    bytes
                }
                Ok(Err(reason)) => return self.skip(file, reason),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    return self.skip(file, SkipReason::Vanished);
                }
                Err(error) => return self.skip(file, SkipReason::Unreadable(error.to_string())),
            },
        };
        let size = bytes.len() as u64;
        if size > self.settings.max_file_bytes {
            return self.skip(
                file,
                SkipReason::TooLarge {
                    bytes: size,
                    limit: self.settings.max_file_bytes,
                },
            );
        }
        if bytes[..bytes.len().min(BINARY_SNIFF_BYTES)].contains(&0) {
            return self.skip(file, SkipReason::Binary);
        }
        let hash = blake3::hash(&bytes).to_hex().to_string();
        if let Some(record) = &stored
            && record.info.hash == hash
        {
            if modified_ns != 0 && record.info.modified_ns != modified_ns {
                // Touched, not changed: remember the new time so the next run need not read it.
                return Prepared::Touched(FileInfo {
                    modified_ns,
                    ..record.info.clone()
                });
            }
            return Prepared::Unchanged;
        }
        let Ok(text) = String::from_utf8(bytes) else {
            return self.skip(file, SkipReason::InvalidUtf8);
        };
        let path = Path::new(&file.relative);
        let language = self.chunker.language_of(path).to_owned();
        let commit = self
            .commit
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let chunks = match file_chunks(&self.chunker, &file.relative, &text, commit.as_deref()) {
            Ok(chunks) => chunks,
            Err(error) => return self.skip(file, SkipReason::Unreadable(error.to_string())),
        };
        Prepared::Chunked(PreparedFile {
            path: file.relative.clone(),
            info: FileInfo {
                hash,
                size,
                modified_ns,
                language,
                commit,
            },
            chunks,
        })
    }

    /// A line per file at debug level only: a tree can hold thousands of binaries, and a full
    /// run reports its skips once, counted by reason (`IndexSummary::skipped_by_reason`).
    fn skip(&self, file: &FoundFile, reason: SkipReason) -> Prepared {
        tracing::debug!(path = %file.absolute.display(), ?reason, "skipped, not indexed");
        Prepared::Skipped(reason)
    }

    /// Commits `batch` in one store transaction, embedded first when `vectors` says so.
    fn flush(
        &self,
        batch: &mut Vec<PreparedFile>,
        summary: &mut IndexSummary,
        vectors: Vectors,
    ) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let vectors = match vectors {
            Vectors::Later => Vec::new(),
            Vectors::Now => {
                let texts: Vec<String> = batch
                    .iter()
                    .flat_map(|file| {
                        file.chunks
                            .iter()
                            .map(|(meta, text)| embedding_text(meta, text))
                    })
                    .collect();
                let embedded = self.embed(&texts, &batch[0].path)?;
                summary.chunks_embedded += embedded.len();
                embedded
            }
        };
        let mut vectors = vectors.into_iter();
        let mut write = WriteBatch::default();
        for file in batch.drain(..) {
            let chunks = file
                .chunks
                .into_iter()
                .map(|(meta, text)| NewChunk {
                    meta,
                    text,
                    vector: vectors.next().unwrap_or_default(),
                })
                .collect::<Vec<_>>();
            summary.files_indexed += 1;
            summary.chunks_written += chunks.len();
            write.files.push(FileWrite {
                path: file.path,
                info: file.info,
                chunks,
            });
        }
        self.store.write(&write)?;
        if let Some(delay) = self.batch_delay {
            std::thread::sleep(delay);
        }
        Ok(())
    }

    /// Vectors of `texts` (chunks of `first_path` and the files after it), in groups of the
    /// embedder's batch size.
    fn embed(&self, texts: &[String], first_path: &str) -> Result<Vec<Vec<f32>>> {
        let _embedding = tracing::debug_span!("index.embed").entered();
        let mut vectors = Vec::with_capacity(texts.len());
        for group in texts.chunks(self.settings.embed_batch.max(1)) {
            let refs: Vec<&str> = group.iter().map(String::as_str).collect();
            let embedded = self
                .embedder
                .embed(&refs)
                .map_err(|source| IndexError::Embed {
                    path: first_path.to_owned(),
                    source,
                })?;
            vectors.extend(embedded);
        }
        Ok(vectors)
    }
}

/// What the embedder sees for a chunk: where it is, then what it says. The path and symbol
/// carry much of a chunk's meaning in code (`src/search/bm25.rs`, `Searcher::rank`).
pub fn embedding_text(meta: &ChunkMeta, text: &str) -> String {
    let mut out = String::with_capacity(meta.path.len() + meta.symbol.len() + text.len() + 2);
    out.push_str(&meta.path);
    out.push('\n');
    if !meta.symbol.is_empty() {
        out.push_str(&meta.symbol);
        out.push('\n');
    }
    out.push_str(text);
    out
}

/// What [`read_capped`] found.
enum Read {
    /// Size and modification time are those recorded: the file is taken as unchanged, unread.
    Same,
    Bytes {
        bytes: Vec<u8>,
        modified: u64,
    },
}

/// Reads a file unless its size (checked before reading, so a 50 MB file is never loaded)
/// is over `limit`, it is now a symbolic link leading out of the workspace whose canonical
/// root is `real_root`, or its size and modification time are those of `stored` (as git's
/// index does: a no-op run reads no file). A plain file costs one `lstat` here.
fn read_capped(
    real_root: &Path,
    path: &Path,
    limit: u64,
    stored: Option<&FileInfo>,
) -> std::io::Result<Result<Read, SkipReason>> {
    let mut metadata = std::fs::symlink_metadata(path)?;
    if metadata.is_symlink() {
        match check_link(real_root, path) {
            Ok(()) => metadata = std::fs::metadata(path)?,
            Err(LinkEscape::Unresolvable(error)) => return Err(error),
            Err(LinkEscape::Outside { target } | LinkEscape::IntoToolState { target }) => {
                return Ok(Err(SkipReason::LinkLeavesWorkspace { target }));
            }
        }
    }
    if metadata.len() > limit {
        return Ok(Err(SkipReason::TooLarge {
            bytes: metadata.len(),
            limit,
        }));
    }
    let modified = modified_ns(&metadata);
    if let Some(stored) = stored
        && modified != 0
        && stored.modified_ns == modified
        && stored.size == metadata.len()
    {
        return Ok(Ok(Read::Same));
    }
    // The first bytes decide whether it is binary: a tree's binaries (libraries, archives,
    // bytecode), skipped by every run since they have no record, are never read whole.
    let mut file = std::fs::File::open(path)?;
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    std::io::Read::read_to_end(
        &mut std::io::Read::take(&mut file, BINARY_SNIFF_BYTES as u64),
        &mut bytes,
    )?;
    if bytes.contains(&0) {
        return Ok(Err(SkipReason::Binary));
    }
    std::io::Read::read_to_end(&mut file, &mut bytes)?;
    Ok(Ok(Read::Bytes { bytes, modified }))
}

/// Nanoseconds since the epoch; 0 when the file system does not say.
fn modified_ns(metadata: &std::fs::Metadata) -> u64 {
    metadata
        .modified()
        .ok()
        .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|since| u64::try_from(since.as_nanos()).ok())
        .unwrap_or(0)
}
