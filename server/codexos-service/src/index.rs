//! The workspace index as the language server uses it: one writer per process (it holds the
//! index's lock), the embedder `[index]` asks for (falling back with a notice), full and
//! per-file refreshes, and searches that run alongside a full indexing run.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use codexos_embed::select_embedder;
use codexos_index::{
    FileOutcome, IndexError, IndexSettings, IndexSummary, Indexer, OpenOptions, Progress,
    SearchHit, SearchRequest, Searcher,
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
        let indexer = Indexer::open(&root, selected.embedder, settings, &OpenOptions::default())
            .map_err(index_error)?;
        Ok(Arc::new(WorkspaceIndex {
            root,
            indexer,
            notice: selected.notice,
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
        match text {
            Some(text) => self.indexer.reindex_text(path, text),
            None => self.indexer.reindex_file(path),
        }
        .map_err(|e| self.error(e))
    }

    pub fn remove_file(&self, path: &Path) -> Result<FileOutcome, WorkspaceIndexError> {
        self.indexer.remove_file(path).map_err(|e| self.error(e))
    }

    /// Searches, with each hit's chunk text.
    pub fn search(&self, request: &SearchRequest) -> Result<Vec<Found>, WorkspaceIndexError> {
        let store = self.indexer.store();
        let hits = Searcher::new(store, self.indexer.embedder().as_ref())
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
}
