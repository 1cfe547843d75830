//! The workspace index as the language server uses it: one writer per process (it holds the
//! index's lock), the embedder `[index]` asks for (falling back with a notice), full and
//! per-file refreshes, and searches that run alongside a full indexing run; and the
//! background upgrade of its vectors to the neural model (`[index] upgrade`), which steps
//! aside while anything else uses the index.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use codexos_embed::{EmbedderConfig, select_embedder};
use codexos_index::{
    FileOutcome, IndexError, IndexSettings, IndexSummary, Indexer, OpenOptions, Progress,
    SearchHit, SearchRequest, UpgradeProgress, UpgradeSummary,
};

use crate::workspace::Workspace;

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceIndexError {
    #[error("index of {root}: {source}")]
    Index { root: PathBuf, source: IndexError },
    #[error("index of {root}: cannot load an embedder: {detail}")]
    Embedder { root: PathBuf, detail: String },
}

/// A search result with the text of its chunk.
#[derive(Clone, Debug)]
pub struct Found {
    pub hit: SearchHit,
    pub text: String,
}

/// The open index of one workspace.
pub struct WorkspaceIndex {
    root: PathBuf,
    /// Shared by full runs, per-file refreshes and searches at once: searches read what the
    /// running batches have committed so far.
    indexer: Indexer,
    notice: Option<String>,
    models_dir: Option<PathBuf>,
    settings: IndexSettings,
    /// Foreground jobs under way (full runs, refreshes, searches) and when the last one
    /// ended: the upgrade waits for `settings.upgrade_after_idle` of quiet.
    foreground: AtomicUsize,
    last_foreground: Mutex<Instant>,
    /// Whether the upgrade model was loaded; `None` until first asked.
    upgrade_loaded: Mutex<Option<bool>>,
}

impl Workspace {
    /// Opens (or creates) this workspace's index for writing.
    pub fn open_index(&self) -> Result<Arc<WorkspaceIndex>, WorkspaceIndexError> {
        let root = self.root().to_owned();
        let index_error = |source| WorkspaceIndexError::Index {
            root: root.clone(),
            source,
        };
        let settings = IndexSettings::load(&root).map_err(index_error)?;
        let models_dir = std::env::var_os("CODEXOS_MODELS_DIR").map(PathBuf::from);
        let selected = select_embedder(models_dir.as_deref(), &settings.embedder).map_err(|e| {
            WorkspaceIndexError::Embedder {
                root: root.clone(),
                detail: e.to_string(),
            }
        })?;
        let indexer = Indexer::open(
            &root,
            selected.embedder,
            settings.clone(),
            &OpenOptions::default(),
        )
        .map_err(index_error)?;
        Ok(Arc::new(WorkspaceIndex {
            root,
            indexer,
            notice: selected.notice,
            models_dir,
            settings,
            foreground: AtomicUsize::new(0),
            last_foreground: Mutex::new(Instant::now()),
            upgrade_loaded: Mutex::new(None),
        }))
    }
}

impl WorkspaceIndex {
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// What to tell the user about the embedder (a fallback), if anything.
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    fn error(&self, source: IndexError) -> WorkspaceIndexError {
        WorkspaceIndexError::Index {
            root: self.root.clone(),
            source,
        }
    }

    /// Brings the whole index up to the workspace (unchanged files cost a hash).
    pub fn index_all(
        &self,
        progress: &mut dyn FnMut(Progress),
        cancel: &AtomicBool,
    ) -> Result<IndexSummary, WorkspaceIndexError> {
        let _foreground = self.foreground();
        self.indexer
            .index_all(progress, cancel)
            .map_err(|e| self.error(e))
    }

    /// Re-indexes one file from disk, or from the editor's unsaved text.
    pub fn refresh_file(
        &self,
        path: &Path,
        text: Option<&str>,
    ) -> Result<FileOutcome, WorkspaceIndexError> {
        let _foreground = self.foreground();
        match text {
            Some(text) => self.indexer.reindex_text(path, text),
            None => self.indexer.reindex_file(path),
        }
        .map_err(|e| self.error(e))
    }

    pub fn remove_file(&self, path: &Path) -> Result<FileOutcome, WorkspaceIndexError> {
        let _foreground = self.foreground();
        self.indexer.remove_file(path).map_err(|e| self.error(e))
    }

    /// Searches, with each hit's chunk text.
    pub fn search(&self, request: &SearchRequest) -> Result<Vec<Found>, WorkspaceIndexError> {
        let _foreground = self.foreground();
        let store = self.indexer.store();
        let hits = self
            .indexer
            .searcher()
            .search(request)
            .map_err(|e| self.error(e))?;
        let snapshot = store.snapshot().map_err(|e| self.error(e.into()))?;
        Ok(hits
            .into_iter()
            .map(|hit| {
                let text = snapshot
                    .chunk_text(hit.chunk_id)
                    .ok()
                    .flatten()
                    .map(str::to_owned)
                    .unwrap_or_default();
                Found { hit, text }
            })
            .collect())
    }

    /// Loads the upgrade model once; whether there is one to upgrade to.
    fn load_upgrade(&self) -> Result<bool, WorkspaceIndexError> {
        let mut loaded = self
            .upgrade_loaded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(loaded) = *loaded {
            return Ok(loaded);
        }
        let embedder = match self.settings.upgrade {
            None => None,
            Some(kind) => {
                let config = EmbedderConfig {
                    embedder: kind,
                    http: self.settings.embedder.http.clone(),
                };
                match select_embedder(self.models_dir.as_deref(), &config) {
                    Ok(selected) if selected.notice.is_none() => Some(selected.embedder),
                    Ok(selected) => {
                        let notice = selected.notice.unwrap_or_default();
                        tracing::info!(root = %self.root.display(), "no vector upgrade: {notice}");
                        None
                    }
                    Err(error) => {
                        tracing::warn!(root = %self.root.display(), "no vector upgrade: {error}");
                        None
                    }
                }
            }
        };
        self.indexer
            .set_upgrade(embedder)
            .map_err(|e| self.error(e))?;
        let ready = self.indexer.upgrade_embedder().is_some();
        *loaded = Some(ready);
        Ok(ready)
    }

    /// Marks a foreground job until the guard drops.
    fn foreground(&self) -> ForegroundGuard<'_> {
        self.foreground.fetch_add(1, Ordering::SeqCst);
        ForegroundGuard(self)
    }

    /// Whether the upgrade should wait: a foreground job runs, or one ended too recently.
    fn busy(&self) -> bool {
        self.foreground.load(Ordering::SeqCst) > 0
            || self
                .last_foreground
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .elapsed()
                < self.settings.upgrade_after_idle
    }

    /// How many index writes were committed (changes when files are re-indexed).
    pub fn generation(&self) -> Result<u64, WorkspaceIndexError> {
        self.indexer
            .store()
            .generation()
            .map_err(|e| self.error(e.into()))
    }

    /// Upgrades the vectors to the `[index] upgrade` model (loaded on first use, so opening
    /// the index stays fast), waiting for quiet before each small batch. `Ok(None)`: no upgrade
    /// is configured or its model files are missing (logged once). Cancelled: an
    /// [`IndexError::Cancelled`], with every finished batch kept.
    pub fn upgrade_vectors(
        &self,
        progress: &mut dyn FnMut(UpgradeProgress),
        cancel: &AtomicBool,
    ) -> Result<Option<UpgradeSummary>, WorkspaceIndexError> {
        if !self.load_upgrade()? {
            return Ok(None);
        }
        self.indexer
            .upgrade_vectors(progress, &|| self.busy(), cancel)
            .map(Some)
            .map_err(|e| self.error(e))
    }
}

struct ForegroundGuard<'a>(&'a WorkspaceIndex);

impl Drop for ForegroundGuard<'_> {
    fn drop(&mut self) {
        *self
            .0
            .last_foreground
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Instant::now();
        self.0.foreground.fetch_sub(1, Ordering::SeqCst);
    }
}
