//! The workspace index behind one front door, for the command line (`codexos index`,
//! `codexos search`), the language server, `rag` nodes, the `search_workspace` tool and
//! `codexos mcp`:
//!
//! - [`Workspace::open_index`] opens it for writing (one writer per index: it holds the index's
//!   lock) or read-only (beside a writer in another process);
//! - [`WorkspaceIndex::search`] answers a [`SearchQuery`] with [`SearchHit`]s — the one hit type,
//!   text and location — always from the best complete vector space: the neural upgrade space
//!   (`[index] upgrade`) once it covers every chunk, the embedder's space until then;
//! - a writer brings the index up to the workspace ([`WorkspaceIndex::index_all`],
//!   [`WorkspaceIndex::refresh_file`]) and upgrades its vectors in the background
//!   ([`WorkspaceIndex::upgrade_vectors`]), which steps aside while anything else uses the
//!   index; both stop when paused ([`WorkspaceIndex::pause`]) and go on from where they stopped
//!   once resumed, while searches keep answering from what the index holds.
//!
//! Embedders are chosen in one place ([`embedders`]).

mod base_rank;
mod commits;
pub mod embedders;
mod shared;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use codexos_embed::{Embedder, EmbedderKind};
use codexos_index::{
    ChunkFilter, ChunkMeta, HitSource, IndexError, IndexSettings, Indexer, OpenOptions,
    SearchRequest, Searcher, Store, index_dir,
};

pub use codexos_index::{
    FileOutcome, IndexSummary, Progress, SearchMode, SkipReason, Stage, UpgradeProgress,
    UpgradeSummary, is_tool_state,
};
pub use codexos_tools::SearchHit;
pub use commits::CommitError;
pub use shared::{BaseStatus, PublishSummary, SharedError, SharedUrl, SpaceSent};

use crate::workspace::Workspace;
use commits::ChangedSince;
use shared::{BaseView, Overlay, SharedBase};

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceIndexError {
    #[error("index of {root}: {source}")]
    Index { root: PathBuf, source: IndexError },
    #[error("index of {root}: cannot load an embedder: {detail}")]
    Embedder { root: PathBuf, detail: String },
    /// No index on disk yet (said the same way by every front end).
    #[error("index not built: run `codexos index`")]
    NotBuilt { root: PathBuf },
    #[error("index of {root}: opened read-only, it cannot {action}")]
    ReadOnly { root: PathBuf, action: &'static str },
    #[error("indexing of {root} is paused (resume continues where it stopped)")]
    Paused { root: PathBuf },
    #[error("indexing of {root} was stopped")]
    Stopped { root: PathBuf },
    #[error("index of {root}: {source}")]
    Commit { root: PathBuf, source: CommitError },
    #[error("shared index of {root}: {source}")]
    Shared { root: PathBuf, source: SharedError },
}

/// How to open an index.
#[derive(Clone, Debug)]
pub enum IndexMode {
    /// Search only, without the writer's lock: another process may be writing.
    ReadOnly,
    Write(WriteOptions),
}

impl Default for IndexMode {
    fn default() -> Self {
        IndexMode::Write(WriteOptions::default())
    }
}

#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    /// The embedder to index with instead of `[index] embedder` (`--embedder`).
    pub embedder: Option<EmbedderKind>,
    /// How long to wait for another process's writer lock before failing (`--wait`).
    pub wait_for_lock: Duration,
}

/// One search.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchQuery {
    pub query: String,
    /// How many hits.
    pub k: usize,
    pub mode: SearchMode,
    /// One hit per file (its best chunk), ranked by file.
    pub files: bool,
    /// Only paths matching this glob (`src/**/*.rs`).
    pub paths: Option<String>,
    /// Only chunks of this language (`rust`, `python`, `markdown`, …).
    pub language: Option<String>,
    /// Only chunks whose file changed since this commit (`commits.rs` says exactly which).
    pub commit: Option<String>,
}

impl SearchQuery {
    pub fn new(query: impl Into<String>) -> Self {
        Self {
            query: query.into(),
            k: 10,
            mode: SearchMode::default(),
            files: false,
            paths: None,
            language: None,
            commit: None,
        }
    }
}

/// What `codexos index --status` prints.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexStatus {
    /// `<root>/.codexos/index`.
    pub dir: PathBuf,
    /// The vector space of the embedder the index was built with.
    pub embedder: Option<String>,
    pub upgrade: Option<UpgradeStatus>,
    pub files: u64,
    pub chunks: u64,
    pub vectors: u64,
    /// Chunks written without their vector yet (BM25 finds them; the next run embeds them).
    pub waiting_for_vectors: u64,
    /// Files written without their chunks yet by a stopped run (BM25 finds them by their
    /// words; the next run chunks them).
    pub waiting_for_chunks: u64,
    /// The vectors' codes are centred on a current mean (else on an older one: searches work,
    /// with less recall, until the next run re-centres them).
    pub codes_current: bool,
    pub generation: u64,
    pub full_text_generation: Option<u64>,
    pub disk_bytes: u64,
    /// What is inconsistent, if anything.
    pub inconsistency: Option<String>,
    /// `[index.shared]`: the base searches read, or why they cannot (they answer locally).
    pub shared: Option<Result<BaseStatus, String>>,
}

/// How far the neural upgrade space is filled.
#[derive(Clone, Debug, PartialEq)]
pub struct UpgradeStatus {
    pub space: String,
    pub upgraded: u64,
    pub chunks: u64,
    /// Searches read this space.
    pub complete: bool,
}

/// What an upgrade run did, or why none ran.
#[derive(Clone, Debug, PartialEq)]
pub enum UpgradeRun {
    Done(UpgradeSummary),
    /// No upgrade model: not configured, or its files are missing.
    Unavailable(String),
}

/// The open index of one workspace.
pub struct WorkspaceIndex {
    root: PathBuf,
    engine: Engine,
    notice: Option<String>,
    settings: IndexSettings,
    /// Foreground jobs under way (full runs, refreshes, searches) and when the last one
    /// ended: the upgrade waits for `settings.upgrade_after_idle` of quiet.
    foreground: AtomicUsize,
    last_foreground: Mutex<Instant>,
    /// The upgrade model, loaded on the first upgrade run (`Err`: why there is none).
    upgrade: OnceLock<Result<(), String>>,
    /// The embedder of a complete upgrade space found on disk, for searches before (or
    /// without) an upgrade run: keyed by the space.
    query_upgrade: Mutex<Option<(String, Arc<dyn Embedder>)>>,
    /// Raised by [`WorkspaceIndex::pause`] and [`WorkspaceIndex::stop`]: the flag full runs and
    /// upgrades check between files and batches.
    interrupt: AtomicBool,
    paused: AtomicBool,
    stopped: AtomicBool,
    /// One full run at a time: a second one (a resume, a reindex) waits, then finds the first
    /// one's work done.
    full_run: Mutex<()>,
    /// `[index.shared]`: the team's base, or why its URL cannot be used.
    shared: Option<Result<SharedBase, String>>,
    /// What went wrong with the base on the last search (see [`WorkspaceIndex::shared_notice`]).
    shared_notice: Mutex<Option<String>>,
    /// What the last search through the base resolved (see `shared.rs`), kept for the next.
    base_view: Mutex<Option<Arc<BaseView>>>,
    /// Files re-indexed or removed one by one since the index was opened (an editor's saves,
    /// unsaved buffers, the file watcher's events): with a base, the local index answers for
    /// them whatever git says, since it holds what they are now.
    touched: Mutex<HashSet<String>>,
    /// A read-only index's chunker, for a search through the base (made on first use; `None`:
    /// the workspace's grammars cannot be loaded). A writer uses its indexer's.
    reader_chunker: OnceLock<Option<codexos_chunk::Chunker>>,
}

enum Engine {
    /// Shared by full runs, per-file refreshes and searches at once: searches read what the
    /// running batches have committed so far.
    Writer(Box<Indexer>),
    Reader {
        store: Box<Store>,
        /// Loaded on the first search (status needs none).
        embedder: OnceLock<Result<Arc<dyn Embedder>, String>>,
    },
}

impl Workspace {
    /// Opens this workspace's index: for writing (created when missing) or read-only.
    pub fn open_index(&self, mode: IndexMode) -> Result<WorkspaceIndex, WorkspaceIndexError> {
        WorkspaceIndex::open(self.root(), mode)
    }
}

impl WorkspaceIndex {
    /// Opens the index of the workspace at `root` (see [`Workspace::open_index`]).
    pub fn open(root: &Path, mode: IndexMode) -> Result<WorkspaceIndex, WorkspaceIndexError> {
        let root = root.to_owned();
        let index_error = |source| WorkspaceIndexError::Index {
            root: root.clone(),
            source,
        };
        let settings = IndexSettings::load(&root).map_err(index_error)?;
        let (engine, notice) =
            match mode {
                IndexMode::ReadOnly => {
                    if !index_dir(&root).join("lmdb").is_dir() {
                        return Err(WorkspaceIndexError::NotBuilt { root });
                    }
                    let store = Store::open_read_only(&root)
                        .map_err(|source| index_error(source.into()))?;
                    let engine = Engine::Reader {
                        store: Box::new(store),
                        embedder: OnceLock::new(),
                    };
                    (engine, None)
                }
                IndexMode::Write(options) => {
                    let selected = embedders::select(options.embedder, &settings.embedder)
                        .map_err(|detail| WorkspaceIndexError::Embedder {
                            root: root.clone(),
                            detail,
                        })?;
                    let open = OpenOptions {
                        wait_for_lock: options.wait_for_lock,
                    };
                    let indexer = Indexer::open(&root, selected.embedder, settings.clone(), &open)
                        .map_err(index_error)?;
                    (Engine::Writer(Box::new(indexer)), selected.notice)
                }
            };
        Ok(WorkspaceIndex {
            shared: SharedBase::from_settings(&settings),
            shared_notice: Mutex::new(None),
            base_view: Mutex::new(None),
            touched: Mutex::new(HashSet::new()),
            reader_chunker: OnceLock::new(),
            root,
            engine,
            notice,
            settings,
            foreground: AtomicUsize::new(0),
            last_foreground: Mutex::new(Instant::now()),
            upgrade: OnceLock::new(),
            query_upgrade: Mutex::new(None),
            interrupt: AtomicBool::new(false),
            paused: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            full_run: Mutex::new(()),
        })
    }

    /// Opens the index of the workspace at `root` for `codexos search`: read-only, except with
    /// a shared base (`[index.shared]`) when no other process writes it — then for writing,
    /// with the files that differ from the base re-indexed first (as
    /// [`WorkspaceIndex::index_all`] does with a base), so a fresh clone is searchable without
    /// indexing the repository.
    pub fn open_for_search(root: &Path) -> Result<WorkspaceIndex, WorkspaceIndexError> {
        let settings = IndexSettings::load(root).map_err(|source| WorkspaceIndexError::Index {
            root: root.to_owned(),
            source,
        })?;
        if settings.shared.is_none() {
            return WorkspaceIndex::open(root, IndexMode::ReadOnly);
        }
        match WorkspaceIndex::open(root, IndexMode::default()) {
            Ok(index) => {
                index.sync_overlay(&mut |_| {})?;
                Ok(index)
            }
            // Another process holds the writer's lock (an editor): it keeps the index current.
            Err(WorkspaceIndexError::Index { .. }) => {
                WorkspaceIndex::open(root, IndexMode::ReadOnly)
            }
            Err(error) => Err(error),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// What to tell the user about the embedder (a fallback), if anything.
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    /// The neural model vectors are upgraded to, once an upgrade run loaded it.
    pub fn upgrade_model(&self) -> Option<String> {
        match &self.engine {
            Engine::Writer(indexer) => indexer
                .upgrade_embedder()
                .map(|upgrade| upgrade.space().to_string()),
            Engine::Reader { .. } => None,
        }
    }

    fn error(&self, source: IndexError) -> WorkspaceIndexError {
        match source {
            IndexError::Cancelled { .. } if self.stopped.load(Ordering::SeqCst) => {
                WorkspaceIndexError::Stopped {
                    root: self.root.clone(),
                }
            }
            IndexError::Cancelled { .. } => WorkspaceIndexError::Paused {
                root: self.root.clone(),
            },
            source => WorkspaceIndexError::Index {
                root: self.root.clone(),
                source,
            },
        }
    }

    /// The chunker this workspace's files are chunked with, as the index chunks them.
    fn chunker(&self) -> Option<&codexos_chunk::Chunker> {
        match &self.engine {
            Engine::Writer(indexer) => Some(indexer.chunker()),
            Engine::Reader { .. } => self
                .reader_chunker
                .get_or_init(|| {
                    codexos_index::workspace_chunker(&self.root, &self.settings)
                        .inspect_err(|error| tracing::info!(root = %self.root.display(), "no chunker: {error}"))
                        .ok()
                })
                .as_ref(),
        }
    }

    fn store(&self) -> &Store {
        match &self.engine {
            Engine::Writer(indexer) => indexer.store(),
            Engine::Reader { store, .. } => store,
        }
    }

    fn writer(&self, action: &'static str) -> Result<&Indexer, WorkspaceIndexError> {
        match &self.engine {
            Engine::Writer(indexer) => Ok(indexer),
            Engine::Reader { .. } => Err(WorkspaceIndexError::ReadOnly {
                root: self.root.clone(),
                action,
            }),
        }
    }

    /// Why background work may not start now.
    fn interrupted(&self) -> Option<WorkspaceIndexError> {
        let root = self.root.clone();
        if self.stopped.load(Ordering::SeqCst) {
            Some(WorkspaceIndexError::Stopped { root })
        } else if self.paused.load(Ordering::SeqCst) {
            Some(WorkspaceIndexError::Paused { root })
        } else {
            None
        }
    }

    /// Brings the index up to what searches need: with a reachable shared base
    /// (`[index.shared]`), only the files that differ from the base's commit (the overlay; a
    /// clone of a large repository is searchable in a second), else the whole workspace
    /// ([`WorkspaceIndex::index_everything`]; an unreachable base says why in
    /// [`WorkspaceIndex::shared_notice`]). What `codexos index` and the language server run.
    pub fn index_all(
        &self,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<IndexSummary, WorkspaceIndexError> {
        self.writer("index the workspace")?;
        if let Some(summary) = self.sync_overlay(progress)? {
            return Ok(summary);
        }
        self.index_everything(progress)
    }

    /// Brings the whole index up to the workspace (unchanged files cost a hash), base or not:
    /// what a publish of the base needs. Stops at the next file when paused or stopped
    /// ([`WorkspaceIndexError::Paused`]), keeping what it committed; the next run goes on from
    /// there. Skipped files are logged once, counted by reason (each file at debug level).
    pub fn index_everything(
        &self,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<IndexSummary, WorkspaceIndexError> {
        let indexer = self.writer("index the workspace")?;
        let _one_run = lock(&self.full_run);
        if let Some(error) = self.interrupted() {
            return Err(error);
        }
        let _foreground = self.foreground();
        let summary = indexer
            .index_all(progress, &self.interrupt)
            .map_err(|e| self.error(e))?;
        if let Some(skipped) = skipped_line(&summary) {
            tracing::info!(root = %self.root.display(), "{skipped}");
        }
        Ok(summary)
    }

    /// Re-indexes one file from disk, or from the editor's unsaved text (also while paused:
    /// one file costs milliseconds, and search stays true to what the user sees).
    pub fn refresh_file(
        &self,
        path: &Path,
        text: Option<&str>,
    ) -> Result<FileOutcome, WorkspaceIndexError> {
        let indexer = self.writer("re-index a file")?;
        let _foreground = self.foreground();
        self.touch(path);
        match text {
            Some(text) => indexer.reindex_text(path, text),
            None => indexer.reindex_file(path),
        }
        .map_err(|e| self.error(e))
    }

    pub fn remove_file(&self, path: &Path) -> Result<FileOutcome, WorkspaceIndexError> {
        let indexer = self.writer("remove a file")?;
        let _foreground = self.foreground();
        self.touch(path);
        indexer.remove_file(path).map_err(|e| self.error(e))
    }

    /// Records that the local index holds what `path` is now (for a search through the base).
    fn touch(&self, path: &Path) {
        if self.shared.is_none() {
            return;
        }
        // As the indexer names it: relative to the root, `/`-separated.
        let Some(relative) = codexos_index::relative_path(&self.root, &self.root.join(path)) else {
            return;
        };
        lock(&self.touched).insert(relative);
    }

    /// Searches what the index holds now, each hit with its chunk's text as indexed; with a
    /// shared base (`[index.shared]`), the base for the files unchanged since its commit and
    /// this index for the others, fused (see `shared.rs`). A search since a commit (`commit`)
    /// reads this index only: it asks about local changes.
    pub fn search(&self, query: &SearchQuery) -> Result<Vec<SearchHit>, WorkspaceIndexError> {
        let _foreground = self.foreground();
        if query.commit.is_none()
            && let Some(hits) = self.search_with_base(query)?
        {
            return Ok(hits);
        }
        self.search_local(query)
    }

    /// Searches this index alone.
    fn search_local(&self, query: &SearchQuery) -> Result<Vec<SearchHit>, WorkspaceIndexError> {
        let changed = query
            .commit
            .as_deref()
            .map(|rev| ChangedSince::resolve(&self.root, rev))
            .transpose()
            .map_err(|source| WorkspaceIndexError::Commit {
                root: self.root.clone(),
                source,
            })?;
        let filter: Option<ChunkFilter<'_>> = changed.map(|changed| {
            Box::new(move |meta: &ChunkMeta| changed.keeps(&meta.path, meta.commit.as_deref()))
                as ChunkFilter<'_>
        });
        let hits = self.search_store(query, query.k, query.files, filter)?;
        Ok(hits.into_iter().map(|(hit, _)| hit).collect())
    }

    /// The `k` best chunks of `query` that `filter` keeps (or files, with `collapse_files`),
    /// each with its chunk id: none for the lines of a file that waits for its chunks, which the
    /// search read from the file.
    fn search_store(
        &self,
        query: &SearchQuery,
        k: usize,
        collapse_files: bool,
        filter: Option<ChunkFilter<'_>>,
    ) -> Result<Vec<(SearchHit, Option<u32>)>, WorkspaceIndexError> {
        let store = self.store();
        if let Engine::Reader { .. } = &self.engine {
            // What a writer in another process committed since this index was opened.
            store.refresh().map_err(|e| self.error(e.into()))?;
        }
        let embedder = self.query_embedder()?;
        let mut searcher =
            Searcher::new(store, embedder.as_ref()).with_upgrade(self.query_upgrade(store));
        if let Some(filter) = filter {
            searcher = searcher.with_filter(filter);
        }
        let request = SearchRequest {
            query: query.query.clone(),
            k,
            mode: query.mode,
            collapse_files,
            path_glob: query.paths.clone(),
            language: query.language.clone(),
        };
        let hits = searcher.search(&request).map_err(|e| self.error(e))?;
        let snapshot = store.snapshot().map_err(|e| self.error(e.into()))?;
        Ok(hits
            .into_iter()
            .map(|hit| {
                let chunk_id = hit.source.chunk_id();
                let text = match hit.source {
                    HitSource::Chunk(id) => {
                        snapshot.chunk_text(id).ok().flatten().unwrap_or_default()
                    }
                    HitSource::Lines(text) => text,
                };
                let found = SearchHit {
                    path: hit.path,
                    start_line: hit.start_line,
                    end_line: hit.end_line,
                    score: hit.score,
                    symbol: hit.symbol,
                    text,
                };
                (found, chunk_id)
            })
            .collect())
    }

    /// The overlay's candidates for a search through the shared base: the chunks of the
    /// files `overlay` lists that a local search finds, each with its cosine to `vector` in
    /// `space` (the one the base is read in). None when nothing was indexed here yet.
    fn overlay_candidates(
        &self,
        query: &SearchQuery,
        overlay: &Overlay,
        space: &str,
        vector: &[f32],
    ) -> Result<Vec<(SearchHit, f32)>, WorkspaceIndexError> {
        let filter: ChunkFilter<'_> = Box::new(|meta: &ChunkMeta| overlay.lists(&meta.path));
        let hits = match self.search_store(query, shared::CANDIDATES, false, Some(filter)) {
            Ok(hits) => hits,
            Err(WorkspaceIndexError::NotBuilt { .. }) => return Ok(Vec::new()),
            Err(error) => return Err(error),
        };
        let store = self.store();
        let snapshot = store.snapshot().map_err(|e| self.error(e.into()))?;
        let ids: Vec<u32> = hits.iter().filter_map(|(_, id)| *id).collect();
        let spaces = [store.space(), store.upgrade_space()];
        let space = spaces
            .into_iter()
            .filter_map(|space| space.transpose())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.error(e.into()))?
            .into_iter()
            .find(|record| record.id == space);
        let cosines: HashMap<u32, f32> = match space {
            Some(space) if space.dim == vector.len() => snapshot
                .similarities_in(&space, vector, &ids)
                .map_err(|e| self.error(e.into()))?
                .into_iter()
                .collect(),
            _ => HashMap::new(),
        };
        Ok(hits
            .into_iter()
            .map(|(hit, id)| {
                let cosine = id.and_then(|id| cosines.get(&id).copied());
                (hit, cosine.unwrap_or(0.0))
            })
            .collect())
    }

    /// The first chunk of `path` in this index, as a hit scored 0.
    fn first_chunk(&self, path: &str) -> Result<Option<SearchHit>, WorkspaceIndexError> {
        let snapshot = self.store().snapshot().map_err(|e| self.error(e.into()))?;
        let file = snapshot.file(path).map_err(|e| self.error(e.into()))?;
        let Some(&first) = file.as_ref().and_then(|file| file.chunk_ids.first()) else {
            return Ok(None);
        };
        let meta = snapshot.chunk(first).map_err(|e| self.error(e.into()))?;
        let text = snapshot
            .chunk_text(first)
            .map_err(|e| self.error(e.into()))?;
        Ok(meta.map(|meta| SearchHit {
            path: meta.path,
            start_line: meta.start_line,
            end_line: meta.end_line,
            score: 0.0,
            symbol: meta.symbol,
            text: text.unwrap_or_default(),
        }))
    }

    /// The embedder of the space the index was built with.
    fn query_embedder(&self) -> Result<Arc<dyn Embedder>, WorkspaceIndexError> {
        match &self.engine {
            Engine::Writer(indexer) => Ok(indexer.embedder().clone()),
            Engine::Reader { store, embedder } => embedder
                .get_or_init(|| {
                    let space = store
                        .space()
                        .map_err(|error| error.to_string())?
                        .ok_or_else(|| "the index holds no vectors yet".to_owned())?;
                    embedders::for_space(&space.id, &self.settings.embedder)
                })
                .clone()
                .map_err(|detail| match store.space() {
                    Ok(None) => WorkspaceIndexError::NotBuilt {
                        root: self.root.clone(),
                    },
                    _ => WorkspaceIndexError::Embedder {
                        root: self.root.clone(),
                        detail,
                    },
                }),
        }
    }

    /// The embedder of the upgrade space when that space is complete, so searches read it:
    /// the model an upgrade run loaded, or the one that wrote the space on disk (a restart, a
    /// read-only search). `None` searches the embedder's space.
    fn query_upgrade(&self, store: &Store) -> Option<Arc<dyn Embedder>> {
        if let Engine::Writer(indexer) = &self.engine
            && let Some(upgrade) = indexer.upgrade_embedder()
        {
            return Some(upgrade);
        }
        let coverage = store.upgrade_coverage().ok()??;
        if !coverage.is_complete() {
            return None;
        }
        let mut cached = lock(&self.query_upgrade);
        if let Some((space, embedder)) = cached.as_ref()
            && *space == coverage.space.id
        {
            return Some(embedder.clone());
        }
        let embedder = embedders::for_space(&coverage.space.id, &self.settings.embedder)
            .inspect_err(|error| tracing::info!(root = %self.root.display(), "searching the embedder's vectors: {error}"))
            .ok()?;
        *cached = Some((coverage.space.id, embedder.clone()));
        Some(embedder)
    }

    /// Upgrades the vectors to the `[index] upgrade` model (loaded on first use, so opening
    /// the index stays fast), waiting for quiet before each small batch. Stops after its batch
    /// when paused or stopped ([`WorkspaceIndexError::Paused`]), keeping every finished batch.
    pub fn upgrade_vectors(
        &self,
        progress: &mut dyn FnMut(UpgradeProgress),
    ) -> Result<UpgradeRun, WorkspaceIndexError> {
        let indexer = self.writer("upgrade vectors")?;
        if let Some(error) = self.interrupted() {
            return Err(error);
        }
        if let Err(reason) = self.load_upgrade(indexer)? {
            return Ok(UpgradeRun::Unavailable(reason));
        }
        indexer
            .upgrade_vectors(progress, &|| self.busy(), &self.interrupt)
            .map(UpgradeRun::Done)
            .map_err(|e| self.error(e))
    }

    /// Loads the upgrade model once and makes it the index's upgrade space; without one, any
    /// upgrade space is dropped (spaces never go stale unseen).
    fn load_upgrade(&self, indexer: &Indexer) -> Result<Result<(), String>, WorkspaceIndexError> {
        if let Some(loaded) = self.upgrade.get() {
            return Ok(loaded.clone());
        }
        let embedder = embedders::upgrade(&self.settings);
        if let Err(reason) = &embedder {
            tracing::info!(root = %self.root.display(), "no vector upgrade: {reason}");
        }
        indexer
            .set_upgrade(embedder.as_ref().ok().cloned())
            .map_err(|e| self.error(e))?;
        let loaded = embedder.map(|_| ());
        Ok(self.upgrade.get_or_init(|| loaded).clone())
    }

    /// Stops background work — a full run at its next file, the upgrade after its batch — and
    /// starts none until [`WorkspaceIndex::resume`]. Searches and single-file refreshes go on.
    pub fn pause(&self) {
        self.paused.store(true, Ordering::SeqCst);
        self.interrupt.store(true, Ordering::SeqCst);
    }

    /// Lets background work run again; whether the index was paused. A stopped index stays
    /// stopped.
    pub fn resume(&self) -> bool {
        let was_paused = self.paused.swap(false, Ordering::SeqCst);
        if !self.stopped.load(Ordering::SeqCst) {
            self.interrupt.store(false, Ordering::SeqCst);
        }
        was_paused
    }

    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }

    /// Stops background work for good (shutdown).
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.interrupt.store(true, Ordering::SeqCst);
    }

    /// Marks a foreground job until the guard drops.
    fn foreground(&self) -> ForegroundGuard<'_> {
        self.foreground.fetch_add(1, Ordering::SeqCst);
        ForegroundGuard(self)
    }

    /// Whether the upgrade should wait: a foreground job runs, or one ended too recently.
    fn busy(&self) -> bool {
        self.foreground.load(Ordering::SeqCst) > 0
            || lock(&self.last_foreground).elapsed() < self.settings.upgrade_after_idle
    }

    /// How many index writes were committed (changes when files are re-indexed).
    pub fn generation(&self) -> Result<u64, WorkspaceIndexError> {
        self.store().generation().map_err(|e| self.error(e.into()))
    }

    /// Counts, spaces, size and consistency.
    pub fn status(&self) -> Result<IndexStatus, WorkspaceIndexError> {
        let store = self.store();
        let store_error = |e: codexos_index::IndexError| self.error(e);
        let stats = store.stats().map_err(|e| store_error(e.into()))?;
        let consistency = store
            .check_consistency()
            .map_err(|e| store_error(e.into()))?;
        let upgrade = store
            .upgrade_coverage()
            .map_err(|e| store_error(e.into()))?
            .map(|coverage| UpgradeStatus {
                complete: coverage.is_complete(),
                space: coverage.space.id,
                upgraded: coverage.upgraded,
                chunks: coverage.chunks,
            });
        Ok(IndexStatus {
            dir: store.dir().to_owned(),
            embedder: stats.space.map(|space| space.id),
            upgrade,
            files: stats.files,
            chunks: stats.chunks,
            vectors: stats.vectors,
            waiting_for_vectors: store
                .unembedded_count()
                .map_err(|e| store_error(e.into()))?,
            waiting_for_chunks: store
                .snapshot()
                .and_then(|snapshot| snapshot.unchunked_count())
                .map_err(|e| store_error(e.into()))?,
            codes_current: !store
                .vectors_need_build()
                .map_err(|e| store_error(e.into()))?,
            generation: stats.generation,
            full_text_generation: stats.full_text_generation,
            disk_bytes: stats.disk_bytes,
            inconsistency: (!consistency.is_consistent()).then(|| format!("{consistency:?}")),
            shared: self.base_status(),
        })
    }
}

/// Searches the indexes of several workspace folders at once: every folder's hits, best first
/// (scores are normalised per search, so the folders' best hits compete evenly), each with the
/// root its path is relative to. A folder whose search fails is logged and left out; the
/// search fails only when every folder's does.
pub fn search_folders(
    indexes: &[Arc<WorkspaceIndex>],
    query: &SearchQuery,
) -> Result<Vec<(PathBuf, SearchHit)>, WorkspaceIndexError> {
    let mut hits = Vec::new();
    let mut first_error = None;
    let mut answered = false;
    for index in indexes {
        match index.search(query) {
            Ok(found) => {
                answered = true;
                hits.extend(found.into_iter().map(|hit| (index.root.clone(), hit)));
            }
            Err(error) if indexes.len() > 1 => {
                tracing::info!("{error}");
                first_error.get_or_insert(error);
            }
            Err(error) => return Err(error),
        }
    }
    if let (false, Some(error)) = (answered, first_error) {
        return Err(error);
    }
    hits.sort_by(|(_, a), (_, b)| b.score.total_cmp(&a.score));
    hits.truncate(query.k);
    Ok(hits)
}

/// "skipped 1712 files: 1700 binary, 12 too large", or `None` when none was skipped.
fn skipped_line(summary: &IndexSummary) -> Option<String> {
    if summary.skipped_by_reason.is_empty() {
        return None;
    }
    let mut reasons: Vec<(&&str, &usize)> = summary.skipped_by_reason.iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let reasons: Vec<String> = reasons
        .into_iter()
        .map(|(reason, count)| format!("{count} {reason}"))
        .collect();
    Some(format!(
        "skipped {} files, not indexed: {} (each file at debug level: CODEXOS_LOG=codexos_index=debug)",
        summary.files_skipped,
        reasons.join(", ")
    ))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

struct ForegroundGuard<'a>(&'a WorkspaceIndex);

impl Drop for ForegroundGuard<'_> {
    fn drop(&mut self) {
        *lock(&self.0.last_foreground) = Instant::now();
        self.0.foreground.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A workspace with the built-in embedder (no model files) and `files` as `(path, text)`.
    fn workspace(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut all = vec![(
            "codexos.toml",
            "[index]\nembedder = \"builtin\"\nupgrade = \"none\"\n",
        )];
        all.extend_from_slice(files);
        for (path, text) in all {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("folders");
            std::fs::write(path, text).expect("write");
        }
        dir
    }

    fn writer(root: &Path) -> WorkspaceIndex {
        WorkspaceIndex::open(root, IndexMode::default()).expect("opens for writing")
    }

    #[test]
    fn a_paused_index_answers_searches_refuses_full_runs_and_resumes() {
        let dir = workspace(&[("src/tide.rs", "pub fn high_tide() {}\n")]);
        let index = writer(dir.path());
        index.index_all(&mut |_| {}).expect("indexes");
        index.pause();
        assert!(matches!(
            index.index_all(&mut |_| {}),
            Err(WorkspaceIndexError::Paused { .. })
        ));
        assert!(matches!(
            index.upgrade_vectors(&mut |_| {}),
            Err(WorkspaceIndexError::Paused { .. })
        ));
        let hits = index
            .search(&SearchQuery::new("high tide"))
            .expect("searches");
        assert_eq!(hits[0].path, "src/tide.rs");
        assert_eq!(hits[0].text, "pub fn high_tide() {}\n");
        assert!(index.resume(), "it was paused");
        let summary = index.index_all(&mut |_| {}).expect("indexes again");
        assert_eq!(summary.files_unchanged, 2);
        index.stop();
        assert!(!index.resume(), "not paused, stopped");
        assert!(matches!(
            index.index_all(&mut |_| {}),
            Err(WorkspaceIndexError::Stopped { .. })
        ));
    }

    #[test]
    fn a_read_only_index_searches_beside_the_writer_and_says_when_there_is_none() {
        let dir = workspace(&[("notes.md", "# Tides\n\nThe moon pulls the sea.\n")]);
        assert!(matches!(
            WorkspaceIndex::open(dir.path(), IndexMode::ReadOnly),
            Err(WorkspaceIndexError::NotBuilt { .. })
        ));
        writer(dir.path()).index_all(&mut |_| {}).expect("indexes");
        // The writer is closed: a process opens an index's LMDB environment once.
        let reader = WorkspaceIndex::open(dir.path(), IndexMode::ReadOnly).expect("opens");
        let hits = reader
            .search(&SearchQuery::new("moon sea"))
            .expect("searches");
        assert_eq!(hits[0].path, "notes.md");
        assert!(matches!(
            reader.refresh_file(Path::new("notes.md"), None),
            Err(WorkspaceIndexError::ReadOnly { .. })
        ));
        let status = reader.status().expect("status");
        assert_eq!((status.files, status.inconsistency), (2, None));
    }

    #[test]
    fn folders_are_searched_together_best_first_each_hit_with_its_root() {
        let tides = workspace(&[("tide.rs", "pub fn high_tide_level() {}\n")]);
        let winds = workspace(&[("wind.rs", "pub fn wind_speed() {}\n")]);
        let indexes: Vec<Arc<WorkspaceIndex>> = [tides.path(), winds.path()]
            .into_iter()
            .map(|root| {
                let index = writer(root);
                index.index_all(&mut |_| {}).expect("indexes");
                Arc::new(index)
            })
            .collect();
        let query = SearchQuery {
            k: 2,
            mode: SearchMode::Bm25,
            ..SearchQuery::new("wind speed")
        };
        let hits = search_folders(&indexes, &query).expect("searches");
        assert_eq!(
            hits.len(),
            1,
            "BM25 finds the words in one folder: {hits:?}"
        );
        assert_eq!(
            (hits[0].0.as_path(), hits[0].1.path.as_str()),
            (winds.path(), "wind.rs")
        );
    }

    #[test]
    fn skipped_files_make_one_line_most_common_reason_first() {
        let summary = IndexSummary {
            files_skipped: 6,
            skipped_by_reason: [("too large", 1), ("binary", 5)].into(),
            ..IndexSummary::default()
        };
        assert_eq!(
            skipped_line(&summary).as_deref(),
            Some(
                "skipped 6 files, not indexed: 5 binary, 1 too large (each file at debug level: CODEXOS_LOG=codexos_index=debug)"
            )
        );
        assert_eq!(skipped_line(&IndexSummary::default()), None);
    }
}
