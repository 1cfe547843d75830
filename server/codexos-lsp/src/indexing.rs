//! The workspace index, live in the editor: every workspace folder's index is built in the
//! background after `initialized` (one folder after another: two cores are not enough for two
//! at once) with `$/progress` and `codexos/status`, refreshed per file on save and on
//! watched-file changes. Nothing here runs on the request loop: index work is on blocking
//! threads, and searches read what the running batches have committed so far.
//!
//! After the full runs, the vectors are upgraded to the neural model in the background
//! (`[index] upgrade`, `$/progress` "Upgrading search vectors"), in small batches that step
//! aside while requests or index writes happen; searches use the neural vectors once every
//! chunk has one, and the upgrade runs again for the chunks of files re-indexed later.
//!
//! The user controls it: both progresses are `cancellable`, and cancelling one pauses indexing
//! as `codexos.index.pause` does — the full run stops at its next file, the upgrade after its
//! batch, and searches keep answering from what the index holds; `codexos.index.resume` goes
//! on from where they stopped (committed files are not redone). Saves still re-index their
//! file while paused. Shutdown stops both and waits for the `end` of their progress ([`stop`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use codexos_service::index::{
    IndexMode, IndexSummary, Progress, Stage, UpgradeRun, WorkspaceIndex, WorkspaceIndexError,
};
use serde::Serialize;
use tower_lsp_server::ls_types::notification::Notification;
use tower_lsp_server::ls_types::{MessageType, ProgressToken, Uri};

use crate::progress::{ProgressStep, create_progress, report_progress, token_key};
use crate::session::Session;

/// `codexos/status`: the server's state for a status bar (docs/protocol.md).
pub enum StatusNotification {}

#[derive(Serialize, Clone, Debug)]
pub struct Status {
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percentage: Option<u32>,
}

impl Notification for StatusNotification {
    type Params = serde_json::Value;
    const METHOD: &'static str = "codexos/status";
}

async fn status(
    session: &Session,
    state: &'static str,
    message: Option<String>,
    percentage: Option<u32>,
) {
    let status = Status {
        state,
        message,
        percentage,
    };
    if let Ok(value) = serde_json::to_value(status) {
        session
            .client
            .send_notification::<StatusNotification>(value)
            .await;
    }
}

/// What the status says while indexing is paused.
const PAUSED: &str =
    "indexing paused; searches answer from what is indexed (codexos.index.resume goes on)";

/// Opens every workspace folder's index and brings each up to date, in the background; then
/// keeps their vectors upgraded.
pub fn start(session: &Arc<Session>) {
    let roots = session.roots();
    if roots.is_empty() {
        tracing::info!("no workspace folder: the workspace is not indexed");
        return;
    }
    let session = session.clone();
    tokio::spawn(async move {
        let opened = open_folders(&session, roots).await;
        index_folders(&session, opened).await;
        keep_vectors_upgraded(&session).await;
    });
}

/// Opens and indexes folders added to the workspace; stops the indexes of folders removed.
pub fn folders_changed(session: &Arc<Session>) {
    for gone in session.remove_indexes_of_gone_folders() {
        tracing::info!(
            "{} left the workspace: its index closes",
            gone.root().display()
        );
        gone.stop();
    }
    let open: Vec<PathBuf> = session
        .indexes()
        .iter()
        .map(|index| index.root().to_owned())
        .collect();
    let added: Vec<PathBuf> = session
        .roots()
        .into_iter()
        .filter(|root| !open.contains(root))
        .collect();
    if added.is_empty() {
        return;
    }
    let session = session.clone();
    tokio::spawn(async move {
        let opened = open_folders(&session, added).await;
        index_folders(&session, opened).await;
    });
}

/// Opens the folders' indexes one after another; those that opened.
async fn open_folders(session: &Arc<Session>, roots: Vec<PathBuf>) -> Vec<Arc<WorkspaceIndex>> {
    let mut opened = Vec::new();
    for root in roots {
        opened.extend(open_folder(session, root).await);
    }
    opened
}

/// Opens one folder's index for writing (off the loop) and adds it to the session.
async fn open_folder(session: &Arc<Session>, root: PathBuf) -> Option<Arc<WorkspaceIndex>> {
    status(
        session,
        "starting",
        Some(format!("opening the index of {}", root.display())),
        None,
    )
    .await;
    let opening = root.clone();
    let opened =
        tokio::task::spawn_blocking(move || WorkspaceIndex::open(&opening, IndexMode::default()))
            .await;
    let index = match opened {
        Ok(Ok(index)) => Arc::new(index),
        Ok(Err(error)) => {
            tracing::warn!("{error}");
            status(session, "error", Some(error.to_string()), None).await;
            return None;
        }
        Err(error) => {
            tracing::error!("opening the index of {} panicked: {error}", root.display());
            return None;
        }
    };
    if let Some(notice) = index.notice() {
        tracing::info!("{notice}");
        session
            .client
            .log_message(MessageType::INFO, notice.to_owned())
            .await;
    }
    if session.index_paused() {
        index.pause();
    }
    if session.index_stopping() {
        index.stop();
    }
    session.add_index(index.clone());
    Some(index)
}

/// Counts a full run under way (the upgrade waits for none to be) until dropped.
struct FullRun<'s>(&'s Session);

impl<'s> FullRun<'s> {
    fn new(session: &'s Session) -> FullRun<'s> {
        session.index_full_runs().fetch_add(1, Ordering::SeqCst);
        FullRun(session)
    }
}

impl Drop for FullRun<'_> {
    fn drop(&mut self) {
        self.0.index_full_runs().fetch_sub(1, Ordering::SeqCst);
    }
}

/// How one folder's full run ended.
enum Ended {
    Indexed(IndexSummary),
    Paused,
    /// Shutdown, or the index is being reopened: nothing to tell the status bar.
    Stopped,
    Failed(String),
}

/// Full runs of `indexes`, one after another, then one `codexos/status` for them all:
/// `ready` with each folder's summary, `paused`, or `error`.
pub async fn index_folders(session: &Arc<Session>, indexes: Vec<Arc<WorkspaceIndex>>) {
    if indexes.is_empty() {
        return;
    }
    let runs = session.index_runs();
    let _running = runs.read().await;
    if session.index_stopping() {
        return;
    }
    let _full_run = FullRun::new(session);
    let named = indexes.len() > 1 || session.roots().len() > 1;
    let mut summaries = Vec::new();
    let mut paused = false;
    let mut stopped = false;
    let mut failure = None;
    for index in &indexes {
        let name = named.then(|| folder_name(index));
        match index_one(session, index, name.as_deref()).await {
            Ended::Indexed(summary) => summaries.push(match &name {
                Some(name) => format!("{name}: {}", summary_line(&summary)),
                None => summary_line(&summary),
            }),
            Ended::Paused => paused = true,
            Ended::Stopped => stopped = true,
            Ended::Failed(error) => failure = Some(error),
        }
    }
    if stopped {
        return;
    }
    if let Some(error) = failure {
        status(session, "error", Some(error), None).await;
    } else if paused {
        status(session, "paused", Some(PAUSED.to_owned()), None).await;
    } else {
        let summary = summaries.join("; ");
        tracing::info!("index ready: {summary}");
        status(session, "ready", Some(summary), Some(100)).await;
    }
}

fn folder_name(index: &WorkspaceIndex) -> String {
    index.root().file_name().map_or_else(
        || index.root().display().to_string(),
        |name| name.to_string_lossy().into_owned(),
    )
}

fn summary_line(summary: &IndexSummary) -> String {
    format!(
        "{} files ({} indexed, {} unchanged, {} skipped), {} chunks in {:.1} s",
        summary.files_seen,
        summary.files_indexed,
        summary.files_unchanged,
        summary.files_skipped,
        summary.chunks_written,
        summary.elapsed.as_secs_f64()
    )
}

/// A cancellable progress for index work: its token is tracked so that cancelling it pauses
/// indexing ([`pause`]).
async fn begin_progress(session: &Arc<Session>, title: &str) -> Option<ProgressToken> {
    let token = create_progress(session).await?;
    session.track_index_token(&token_key(&token), true);
    let begin = ProgressStep::Begin {
        title: title.to_owned(),
        cancellable: true,
    };
    report_progress(session, &token, begin, None, Some(0)).await;
    Some(token)
}

async fn end_progress(
    session: &Arc<Session>,
    token: &ProgressToken,
    message: String,
    percentage: Option<u32>,
) {
    report_progress(session, token, ProgressStep::End, Some(message), percentage).await;
    session.track_index_token(&token_key(token), false);
}

/// One folder's full run with progress: `$/progress` (percent, files) and `codexos/status`.
async fn index_one(
    session: &Arc<Session>,
    index: &Arc<WorkspaceIndex>,
    name: Option<&str>,
) -> Ended {
    if index.is_paused() {
        return Ended::Paused;
    }
    let token = begin_progress(session, "Indexing workspace").await;
    status(session, "indexing", name.map(str::to_owned), Some(0)).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let worker_index = index.clone();
    let run = tokio::task::spawn_blocking(move || {
        let mut last = (u32::MAX, None);
        worker_index.index_all(&mut |progress| {
            // Files read first (then every file is searchable by keyword), chunked second,
            // vectors third.
            let (done, total) = progress.done_of_total();
            let percent = (done * 100).checked_div(total).unwrap_or(100) as u32;
            if (percent, Some(progress.stage())) != last {
                last = (percent, Some(progress.stage()));
                let _ = tx.send((percent, progress));
            }
        })
    });
    let mut last = Progress::default();
    while let Some((percent, progress)) = rx.recv().await {
        last = progress;
        if index.is_paused() {
            // Reports queued before the pause must not overwrite its `paused` status.
            continue;
        }
        let (done, total) = progress.done_of_total();
        let stage = match progress.stage() {
            Stage::Reading => format!("{done}/{total} files"),
            Stage::Chunking => format!("searchable by keyword; chunking {done}/{total} files"),
            Stage::Embedding => format!("searchable by keyword; embedding {done}/{total} chunks"),
        };
        let message = match name {
            Some(name) => format!("{name}: {stage}"),
            None => stage,
        };
        if let Some(token) = &token {
            report_progress(
                session,
                token,
                ProgressStep::Report,
                Some(message.clone()),
                Some(percent),
            )
            .await;
        }
        status(session, "indexing", Some(message), Some(percent)).await;
    }
    let (ended, message, percentage) = match run.await {
        Ok(Ok(summary)) => {
            let line = summary_line(&summary);
            (Ended::Indexed(summary), line, Some(100))
        }
        Ok(Err(WorkspaceIndexError::Stopped { .. })) => {
            tracing::info!("{}: indexing stopped", index.root().display());
            (Ended::Stopped, "stopped".to_owned(), None)
        }
        Ok(Err(WorkspaceIndexError::Paused { .. })) => {
            let (done, total) = last.done_of_total();
            let message = match last.stage() {
                Stage::Reading => format!(
                    "paused after {done}/{total} files; codexos.index.resume goes on from there"
                ),
                Stage::Chunking => format!(
                    "paused after chunking {done}/{total} files (every file is searchable by keyword); codexos.index.resume goes on from there"
                ),
                Stage::Embedding => format!(
                    "paused after embedding {done}/{total} chunks (every file is searchable by keyword); codexos.index.resume goes on from there"
                ),
            };
            tracing::info!("{}: {message}", index.root().display());
            (Ended::Paused, message, None)
        }
        Ok(Err(error)) => {
            tracing::warn!("{error}");
            (Ended::Failed(error.to_string()), error.to_string(), None)
        }
        Err(error) => {
            tracing::error!("indexing panicked: {error}");
            let message = "indexing panicked".to_owned();
            (Ended::Failed(message.clone()), message, None)
        }
    };
    if let Some(token) = &token {
        end_progress(session, token, message, percentage).await;
    }
    ended
}

/// How often the upgrade looks for chunks that files re-indexed since its last run left
/// without neural vectors (a read of one counter per folder).
const UPGRADE_POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// Upgrades each folder's vectors whenever its index changed since its last upgrade, until
/// shutdown. A paused index, or one being fully indexed, waits; one without an upgrade model
/// is left alone.
async fn keep_vectors_upgraded(session: &Arc<Session>) {
    let mut upgraded_at: std::collections::HashMap<PathBuf, u64> = Default::default();
    let mut without_upgrade: std::collections::HashSet<PathBuf> = Default::default();
    let mut indexes_generation = session.index_generation();
    while !session.index_stopping() {
        if session.index_generation() != indexes_generation {
            // Reopened with new models: an index that had no upgrade model may have one now.
            indexes_generation = session.index_generation();
            upgraded_at.clear();
            without_upgrade.clear();
        }
        for index in session.indexes() {
            if index.is_paused()
                || session.index_full_runs().load(Ordering::SeqCst) > 0
                || without_upgrade.contains(index.root())
            {
                continue;
            }
            let generation = match index.generation() {
                Ok(generation) => generation,
                Err(error) => {
                    tracing::warn!("{error}");
                    without_upgrade.insert(index.root().to_owned());
                    continue;
                }
            };
            if upgraded_at.get(index.root()) == Some(&generation) {
                continue;
            }
            match upgrade_vectors(session, &index).await {
                Upgraded::Done => {
                    upgraded_at.insert(index.root().to_owned(), generation);
                }
                Upgraded::Interrupted => {}
                Upgraded::Never => {
                    without_upgrade.insert(index.root().to_owned());
                }
            }
        }
        tokio::time::sleep(UPGRADE_POLL).await;
    }
}

enum Upgraded {
    Done,
    /// Paused or stopped: again once resumed.
    Interrupted,
    /// No upgrade model, or an error: not again.
    Never,
}

/// One upgrade run with `$/progress` (only when there is something to embed).
async fn upgrade_vectors(session: &Arc<Session>, index: &Arc<WorkspaceIndex>) -> Upgraded {
    let runs = session.index_runs();
    let _running = runs.read().await;
    if session.index_stopping() {
        return Upgraded::Interrupted;
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let worker_index = index.clone();
    let run = tokio::task::spawn_blocking(move || {
        worker_index.upgrade_vectors(&mut |progress| {
            let _ = tx.send(progress);
        })
    });
    let mut token: Option<Option<ProgressToken>> = None;
    while let Some(progress) = rx.recv().await {
        let total = progress.embedded as u64 + progress.remaining;
        if token.is_none() && progress.remaining > 0 {
            token = Some(begin_progress(session, "Upgrading search vectors").await);
        }
        if let Some(Some(token)) = &token {
            let percent = (progress.embedded as u64 * 100)
                .checked_div(total)
                .unwrap_or(100) as u32;
            let message = format!("{} chunks left", progress.remaining);
            report_progress(
                session,
                token,
                ProgressStep::Report,
                Some(message),
                Some(percent),
            )
            .await;
        }
    }
    let (upgraded, message) = match run.await {
        Ok(Ok(UpgradeRun::Done(summary))) => {
            let message = format!(
                "{} chunks upgraded in {:.1} s of work ({:.1} chunks/s){}",
                summary.chunks_embedded,
                summary.working.as_secs_f64(),
                summary.chunks_per_second(),
                if summary.complete {
                    "; searches use the neural vectors"
                } else {
                    ""
                }
            );
            if summary.chunks_embedded > 0 {
                tracing::info!("{message}");
            }
            (Upgraded::Done, message)
        }
        Ok(Ok(UpgradeRun::Unavailable(reason))) => {
            (Upgraded::Never, format!("no upgrade: {reason}"))
        }
        Ok(Err(
            error @ (WorkspaceIndexError::Paused { .. } | WorkspaceIndexError::Stopped { .. }),
        )) => {
            tracing::info!("vector upgrade stopped: {error}");
            (
                Upgraded::Interrupted,
                "paused; codexos.index.resume goes on".to_owned(),
            )
        }
        Ok(Err(error)) => {
            tracing::info!("vector upgrade stopped: {error}");
            (Upgraded::Never, error.to_string())
        }
        Err(error) => {
            tracing::error!("the vector upgrade panicked: {error}");
            (Upgraded::Never, "the vector upgrade panicked".to_owned())
        }
    };
    if let Some(Some(token)) = &token {
        end_progress(session, token, message, Some(100)).await;
    }
    upgraded
}

/// `codexos.index.pause`, or a cancelled index progress: stops the full runs at their next
/// file and the upgrade after its batch; starts nothing until [`resume`].
pub async fn pause(session: &Arc<Session>) {
    session.set_index_paused(true);
    for index in session.indexes() {
        index.pause();
    }
    tracing::info!("indexing paused");
    status(session, "paused", Some(PAUSED.to_owned()), None).await;
}

/// `codexos.index.resume` (and `codexos.reindex`): full runs of every folder again — each goes
/// on from where it stopped, since committed files are unchanged — then the upgrade.
pub fn resume(session: &Arc<Session>) {
    if session.set_index_paused(false) {
        tracing::info!("indexing resumed");
    }
    let indexes = session.indexes();
    for index in &indexes {
        index.resume();
    }
    let session = session.clone();
    tokio::spawn(async move { index_folders(&session, indexes).await });
}

/// After `codexos.models.install` installed something: every folder's index is stopped (at its
/// next file or batch), closed and opened again, so that it writes with the embedder now
/// installed and upgrades to the neural model. Committed work stays on disk and unchanged files
/// are not read again; searches fail for the moment the folders are closed.
pub fn reopen(session: &Arc<Session>) {
    let session = session.clone();
    tokio::spawn(async move {
        let old = session.take_indexes();
        for index in &old {
            index.stop();
        }
        // Background runs hold `index_runs` shared until their progress has ended.
        let quiet = tokio::time::timeout(STOP_WAIT, session.index_runs().write_owned()).await;
        drop(quiet);
        wait_until_closed(old).await;
        if session.index_stopping() {
            return;
        }
        tracing::info!("reopening the indexes with the models now installed");
        let opened = open_folders(&session, session.roots()).await;
        index_folders(&session, opened).await;
    });
}

/// Waits (at most [`STOP_WAIT`]) until nothing but `indexes` holds them — a search under way
/// keeps its index's files open — then closes them, so they can be opened again.
async fn wait_until_closed(indexes: Vec<Arc<WorkspaceIndex>>) {
    let deadline = tokio::time::Instant::now() + STOP_WAIT;
    while indexes.iter().any(|index| Arc::strong_count(index) > 1)
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Re-indexes one file (from disk, or the editor's text), or drops it when it is gone, in each
/// folder index it lies in.
pub fn refresh(session: &Arc<Session>, path: PathBuf, text: Option<String>) {
    let indexes: Vec<Arc<WorkspaceIndex>> = session
        .indexes()
        .into_iter()
        .filter(|index| path.starts_with(index.root()))
        .collect();
    if indexes.is_empty() {
        return;
    }
    tokio::task::spawn_blocking(move || {
        for index in indexes {
            let outcome = if path.exists() || text.is_some() {
                index.refresh_file(&path, text.as_deref())
            } else {
                index.remove_file(&path)
            };
            match outcome {
                Ok(outcome) => tracing::debug!("re-indexed {}: {outcome:?}", path.display()),
                Err(error) => tracing::warn!("{error}"),
            }
        }
    });
}

/// How long typing must pause before an unsaved buffer is re-indexed.
const UNSAVED_DEBOUNCE: std::time::Duration = std::time::Duration::from_millis(400);

/// Re-indexes an edited, unsaved buffer from its text once typing pauses (only the newest
/// version is indexed; saving re-indexes from disk).
pub fn schedule_unsaved(session: &Arc<Session>, uri: Uri, version: i32) {
    if session.indexes().is_empty() {
        return;
    }
    let Some(path) = uri.to_file_path().map(|p| p.into_owned()) else {
        return;
    };
    let session = session.clone();
    tokio::spawn(async move {
        tokio::time::sleep(UNSAVED_DEBOUNCE).await;
        if session.version(&uri) != Some(version) {
            return;
        }
        if let Some(text) = session.text(&uri) {
            refresh(&session, path, Some(text));
        }
    });
}

/// How long shutdown waits for background index runs to stop: a full run stops at its next
/// file, the vector upgrade after its current batch (about half a second of MiniLM).
const STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// On shutdown: stops the full runs at their next file and the vector upgrade after its batch,
/// and waits until they have sent the `end` of their `$/progress`. A client keeps showing a
/// progress whose `end` never comes, and a short session (a tiny workspace, a test) often shuts
/// down while the upgrade is under way.
pub async fn stop(session: &Session) {
    session.stop_indexing();
    for index in session.indexes() {
        index.stop();
    }
    let runs = session.index_runs();
    if tokio::time::timeout(STOP_WAIT, runs.write()).await.is_err() {
        tracing::warn!(
            "background indexing did not stop within {STOP_WAIT:?}; its progress may not end"
        );
    }
}
