//! The server's state: open documents, workspace folders, the workspace service (configuration
//! and catalog) and what the client said it can do.
//!
//! Locks are std mutexes held only for quick copies or mutations, never across an `.await` or an
//! analysis: requests take a [`Snapshot`] and work on it off the main loop.

mod documents;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use codexos_flow::Encoding;
use codexos_service::index::WorkspaceIndex;
use codexos_service::{Workspace, is_flow_path};
use tower_lsp_server::Client;
use tower_lsp_server::jsonrpc;
use tower_lsp_server::ls_types::{
    ClientCapabilities, TextDocumentContentChangeEvent, Uri, WorkspaceFolder,
};

pub use documents::{Document, Snapshot};

use crate::edit::negotiate_encoding;

/// What the client announced in `initialize`, reduced to the answers the handlers need.
#[derive(Clone, Debug)]
pub struct ClientSettings {
    pub encoding: Encoding,
    pub snippets: bool,
    pub hierarchical_symbols: bool,
    pub document_changes: bool,
    /// The client shows annotated edits for confirmation (`changeAnnotationSupport`).
    pub change_annotations: bool,
    pub work_done_progress: bool,
    pub watch_files_dynamically: bool,
    /// The client re-asks for code lenses on `workspace/codeLens/refresh`.
    pub code_lens_refresh: bool,
}

impl ClientSettings {
    pub fn from_capabilities(capabilities: &ClientCapabilities) -> ClientSettings {
        let text_document = capabilities.text_document.as_ref();
        let workspace = capabilities.workspace.as_ref();
        ClientSettings {
            encoding: negotiate_encoding(capabilities),
            snippets: text_document
                .and_then(|t| t.completion.as_ref())
                .and_then(|c| c.completion_item.as_ref())
                .and_then(|item| item.snippet_support)
                .unwrap_or(false),
            hierarchical_symbols: text_document
                .and_then(|t| t.document_symbol.as_ref())
                .and_then(|s| s.hierarchical_document_symbol_support)
                .unwrap_or(false),
            document_changes: workspace
                .and_then(|w| w.workspace_edit.as_ref())
                .and_then(|e| e.document_changes)
                .unwrap_or(false),
            change_annotations: workspace
                .and_then(|w| w.workspace_edit.as_ref())
                .is_some_and(|e| e.change_annotation_support.is_some()),
            work_done_progress: capabilities
                .window
                .as_ref()
                .and_then(|w| w.work_done_progress)
                .unwrap_or(false),
            watch_files_dynamically: workspace
                .and_then(|w| w.did_change_watched_files.as_ref())
                .and_then(|w| w.dynamic_registration)
                .unwrap_or(false),
            code_lens_refresh: workspace
                .and_then(|w| w.code_lens.as_ref())
                .and_then(|c| c.refresh_support)
                .unwrap_or(false),
        }
    }
}

impl Default for ClientSettings {
    fn default() -> ClientSettings {
        ClientSettings::from_capabilities(&ClientCapabilities::default())
    }
}

pub struct Session {
    pub client: Client,
    settings: OnceLock<ClientSettings>,
    documents: Mutex<HashMap<Uri, Document>>,
    folders: Mutex<Vec<WorkspaceFolder>>,
    workspace: RwLock<Arc<Workspace>>,
    /// One diagnostics run per document at a time; runs and the clearing on close queue here.
    analysis_locks: Mutex<HashMap<Uri, Arc<tokio::sync::Mutex<()>>>>,
    cancelled_progress: Mutex<Vec<String>>,
    shutdown_requested: AtomicBool,
    /// The indexes of the workspace folders, in folder order, once opened in the background
    /// (`crate::indexing`).
    indexes: Mutex<Vec<Arc<WorkspaceIndex>>>,
    /// Set on shutdown: no background index work starts after it.
    index_stopping: AtomicBool,
    /// `codexos.index.pause` (or a cancelled index progress) until `codexos.index.resume`.
    index_paused: AtomicBool,
    /// Progress tokens of index work under way: cancelling one pauses indexing.
    index_tokens: Mutex<HashSet<String>>,
    /// Full index runs under way: the vector upgrade waits until there are none.
    index_full_runs: AtomicUsize,
    /// Held (shared) by each background index run that reports `$/progress`; shutdown takes it
    /// whole to wait for their `end` (`crate::indexing::stop`).
    index_runs: Arc<tokio::sync::RwLock<()>>,
    /// Raised each time the indexes are reopened (new models installed): the vector upgrade
    /// forgets what it knew of the old ones.
    index_generation: AtomicU64,
    /// Agent runs: the shared runner and the runs in flight (`crate::runs`).
    pub runs: crate::runs::Runs,
}

impl Session {
    pub fn new(client: Client) -> Session {
        let root = std::env::current_dir().unwrap_or_default();
        Session {
            client,
            settings: OnceLock::new(),
            documents: Mutex::new(HashMap::new()),
            folders: Mutex::new(Vec::new()),
            workspace: RwLock::new(Arc::new(Workspace::with_config(&root, Default::default()))),
            analysis_locks: Mutex::new(HashMap::new()),
            cancelled_progress: Mutex::new(Vec::new()),
            shutdown_requested: AtomicBool::new(false),
            indexes: Mutex::new(Vec::new()),
            index_stopping: AtomicBool::new(false),
            index_paused: AtomicBool::new(false),
            index_tokens: Mutex::new(HashSet::new()),
            index_full_runs: AtomicUsize::new(0),
            index_runs: Arc::default(),
            index_generation: AtomicU64::new(0),
            runs: Default::default(),
        }
    }

    pub fn settings(&self) -> ClientSettings {
        self.settings.get().cloned().unwrap_or_default()
    }

    pub fn set_settings(&self, settings: ClientSettings) {
        // `initialize` comes once; the protocol layer rejects a second one before it gets here.
        let _ = self.settings.set(settings);
    }

    pub fn workspace(&self) -> Arc<Workspace> {
        self.workspace
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub fn set_workspace(&self, workspace: Workspace) {
        *self
            .workspace
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(workspace);
    }

    pub fn folders(&self) -> Vec<WorkspaceFolder> {
        lock(&self.folders).clone()
    }

    pub fn set_folders(&self, folders: Vec<WorkspaceFolder>) {
        *lock(&self.folders) = folders;
    }

    /// The workspace root: the first workspace folder that is a local directory.
    pub fn root(&self) -> Option<PathBuf> {
        self.roots().into_iter().next()
    }

    /// Every workspace folder that is a local directory, in the client's order, once each.
    pub fn roots(&self) -> Vec<PathBuf> {
        let mut roots: Vec<PathBuf> = Vec::new();
        for folder in lock(&self.folders).iter() {
            if let Some(path) = folder.uri.to_file_path()
                && !roots.iter().any(|root| root.as_path() == path.as_ref())
            {
                roots.push(path.into_owned());
            }
        }
        roots
    }

    pub fn open(&self, uri: Uri, text: &str, version: i32) {
        let document = Document::new(&uri, text, version);
        lock(&self.documents).insert(uri, document);
    }

    /// Applies changes to an open document; `false` when the document is not open.
    pub fn change(
        &self,
        uri: &Uri,
        changes: Vec<TextDocumentContentChangeEvent>,
        version: i32,
    ) -> bool {
        let encoding = self.settings().encoding;
        match lock(&self.documents).get_mut(uri) {
            Some(document) => {
                document.apply_changes(changes, version, encoding);
                true
            }
            None => false,
        }
    }

    pub fn close(&self, uri: &Uri) -> bool {
        lock(&self.documents).remove(uri).is_some()
    }

    /// The current text of an open document.
    pub fn text(&self, uri: &Uri) -> Option<String> {
        lock(&self.documents).get(uri).map(Document::text)
    }

    pub fn version(&self, uri: &Uri) -> Option<i32> {
        lock(&self.documents).get(uri).map(Document::version)
    }

    pub fn open_flows(&self) -> Vec<Uri> {
        lock(&self.documents)
            .keys()
            .filter(|uri| is_flow_uri(uri))
            .cloned()
            .collect()
    }

    /// The parsed current version of a document; parsing (when needed) runs off the main loop.
    pub async fn snapshot(&self, uri: &Uri) -> Option<Arc<Snapshot>> {
        let source = match lock(&self.documents).get(uri)?.snapshot_or_source() {
            Ok(snapshot) => return Some(snapshot),
            Err(source) => source,
        };
        let (uri_owned, encoding) = (uri.clone(), self.settings().encoding);
        let snapshot = tokio::task::spawn_blocking(move || source.build(uri_owned, encoding))
            .await
            .map_err(|error| tracing::error!("parsing {} failed: {error}", uri.as_str()))
            .ok()?;
        let snapshot = Arc::new(snapshot);
        if let Some(document) = lock(&self.documents).get_mut(uri) {
            document.remember(&snapshot);
        }
        Some(snapshot)
    }

    /// Runs `compute` on a snapshot of a flow document off the main loop: `Ok(None)` for a
    /// document that is not open or not a flow, an error response if `compute` panics.
    ///
    /// It runs as a task on the runtime's workers rather than on a blocking thread: a read of a
    /// parsed flow is short CPU work (completion takes tens of microseconds), and a blocking
    /// thread, asleep between requests, must first be woken, which is what made a completion
    /// slow when the cores were busy (p99 2.3 ms against 0.5 ms on the workers, idle server,
    /// machine at load 3-5). Parsing, which can take longer, stays on a blocking thread.
    pub async fn read<T, F>(&self, uri: &Uri, compute: F) -> jsonrpc::Result<Option<T>>
    where
        T: Send + 'static,
        F: FnOnce(&Snapshot, &Workspace) -> Option<T> + Send + 'static,
    {
        if !is_flow_uri(uri) {
            return Ok(None);
        }
        let Some(snapshot) = self.snapshot(uri).await else {
            tracing::info!("{} is not open: nothing to answer", uri.as_str());
            return Ok(None);
        };
        let workspace = self.workspace();
        tokio::spawn(async move { compute(&snapshot, &workspace) })
            .await
            .map_err(|error| {
                tracing::error!("a request on {} failed: {error}", uri.as_str());
                jsonrpc::Error {
                    code: jsonrpc::ErrorCode::InternalError,
                    message: format!("codexos failed on {}: {error}", uri.as_str()).into(),
                    data: None,
                }
            })
    }

    pub fn analysis_lock(&self, uri: &Uri) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.analysis_locks)
            .entry(uri.clone())
            .or_default()
            .clone()
    }

    pub fn cancel_progress(&self, token: String) {
        lock(&self.cancelled_progress).push(token);
    }

    pub fn is_progress_cancelled(&self, token: &str) -> bool {
        lock(&self.cancelled_progress).iter().any(|t| t == token)
    }

    /// The index of the workspace root (the first folder): the one runs, `rag` nodes and
    /// `codexos.rag.query` read.
    pub fn index(&self) -> Option<Arc<WorkspaceIndex>> {
        let root = self.root()?;
        lock(&self.indexes)
            .iter()
            .find(|index| index.root() == root)
            .cloned()
    }

    /// Every open folder index, in folder order.
    pub fn indexes(&self) -> Vec<Arc<WorkspaceIndex>> {
        lock(&self.indexes).clone()
    }

    /// Adds a folder's index, keeping the folders' order; replaces one of the same root.
    pub fn add_index(&self, index: Arc<WorkspaceIndex>) {
        let order = self.roots();
        let position = |root: &Path| order.iter().position(|folder| folder == root);
        let mut indexes = lock(&self.indexes);
        indexes.retain(|open| open.root() != index.root());
        indexes.push(index);
        indexes.sort_by_key(|index| position(index.root()).unwrap_or(usize::MAX));
    }

    /// Takes out every index (to reopen them), raising the index generation.
    pub fn take_indexes(&self) -> Vec<Arc<WorkspaceIndex>> {
        self.index_generation.fetch_add(1, Ordering::SeqCst);
        std::mem::take(&mut *lock(&self.indexes))
    }

    /// See the `index_generation` field.
    pub fn index_generation(&self) -> u64 {
        self.index_generation.load(Ordering::SeqCst)
    }

    /// Takes out the indexes whose folder is no longer a workspace folder.
    pub fn remove_indexes_of_gone_folders(&self) -> Vec<Arc<WorkspaceIndex>> {
        let roots = self.roots();
        let mut indexes = lock(&self.indexes);
        let (kept, gone) = indexes
            .drain(..)
            .partition(|index| roots.iter().any(|root| root == index.root()));
        *indexes = kept;
        gone
    }

    /// Whether shutdown stopped background index work (no new run starts then).
    pub fn index_stopping(&self) -> bool {
        self.index_stopping.load(Ordering::SeqCst)
    }

    pub fn stop_indexing(&self) {
        self.index_stopping.store(true, Ordering::SeqCst);
    }

    pub fn index_paused(&self) -> bool {
        self.index_paused.load(Ordering::SeqCst)
    }

    /// Sets the pause; whether it changed.
    pub fn set_index_paused(&self, paused: bool) -> bool {
        self.index_paused.swap(paused, Ordering::SeqCst) != paused
    }

    /// Remembers (`true`) or forgets a progress token of index work.
    pub fn track_index_token(&self, token: &str, running: bool) {
        let mut tokens = lock(&self.index_tokens);
        if running {
            tokens.insert(token.to_owned());
        } else {
            tokens.remove(token);
        }
    }

    pub fn index_full_runs(&self) -> &AtomicUsize {
        &self.index_full_runs
    }

    pub fn is_index_token(&self, token: &str) -> bool {
        lock(&self.index_tokens).contains(token)
    }

    /// See the `index_runs` field.
    pub fn index_runs(&self) -> Arc<tokio::sync::RwLock<()>> {
        self.index_runs.clone()
    }

    pub fn request_shutdown(&self) {
        self.shutdown_requested.store(true, Ordering::SeqCst);
    }

    pub fn shutdown_requested(&self) -> bool {
        self.shutdown_requested.load(Ordering::SeqCst)
    }
}

/// Whether the document at `uri` is a flow file (`*.flow.json`).
pub fn is_flow_uri(uri: &Uri) -> bool {
    let path = uri.path().as_str();
    is_flow_path(Path::new(path.rsplit('/').next().unwrap_or(path)))
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it (every critical section
/// here leaves the data consistent).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
