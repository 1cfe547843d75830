//! The workspace index, live in the editor: built in the background after `initialized` with
//! `$/progress` and `codexos/status`, refreshed per file on save and on watched-file changes.
//! Nothing here runs on the request loop: index work is on blocking threads, and searches read
//! what the running batches have committed so far.
//!
//! After the first full run, the vectors are upgraded to the neural model in the background
//! (`[index] upgrade`, `$/progress` "Upgrading search vectors"), in small batches that step
//! aside while requests or index writes happen; searches use the neural vectors once every
//! chunk has one, and the upgrade runs again for the chunks of files re-indexed later.
//! Shutdown stops both and waits for the `end` of their progress ([`stop`]).

use std::path::PathBuf;
use std::sync::Arc;

use codexos_service::index::WorkspaceIndex;
use serde::Serialize;
use tower_lsp_server::ls_types::notification::Notification;
use tower_lsp_server::ls_types::{MessageType, ProgressToken, Uri};

use crate::progress::{ProgressStep, create_progress, report_progress};
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

/// Opens the workspace's index and brings it up to date, in the background.
pub fn start(session: &Arc<Session>) {
    let Some(root) = session.root() else {
        tracing::info!("no workspace folder: the workspace is not indexed");
        return;
    };
    let session = session.clone();
    tokio::spawn(async move {
        status(
            &session,
            "starting",
            Some(format!("opening the index of {}", root.display())),
            None,
        )
        .await;
        let workspace = session.workspace();
        let opened = tokio::task::spawn_blocking(move || workspace.open_index()).await;
        let index = match opened {
            Ok(Ok(index)) => index,
            Ok(Err(error)) => {
                tracing::warn!("{error}");
                status(&session, "error", Some(error.to_string()), None).await;
                return;
            }
            Err(error) => {
                tracing::error!("opening the index panicked: {error}");
                return;
            }
        };
        if let Some(notice) = index.notice() {
            tracing::info!("{notice}");
            session
                .client
                .log_message(MessageType::INFO, notice.to_owned())
                .await;
        }
        session.set_index(index.clone());
        index_all(&session, &index).await;
        keep_vectors_upgraded(&session, &index).await;
    });
}

/// How often the upgrade looks for chunks that files re-indexed since its last run left
/// without neural vectors (a read of one counter).
const UPGRADE_POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// Upgrades the vectors whenever the index changed since the last upgrade, until shutdown or
/// until it turns out there is no upgrade model.
async fn keep_vectors_upgraded(session: &Arc<Session>, index: &Arc<WorkspaceIndex>) {
    let cancel = session.index_cancel();
    let mut upgraded_at = None;
    while !cancel.load(std::sync::atomic::Ordering::SeqCst) {
        let generation = match index.generation() {
            Ok(generation) => generation,
            Err(error) => {
                tracing::warn!("{error}");
                return;
            }
        };
        if upgraded_at != Some(generation) {
            if !upgrade_vectors(session, index).await {
                return;
            }
            upgraded_at = Some(generation);
        }
        tokio::time::sleep(UPGRADE_POLL).await;
    }
}

/// One upgrade run with `$/progress` (only when there is something to embed). Whether to keep
/// upgrading later.
async fn upgrade_vectors(session: &Arc<Session>, index: &Arc<WorkspaceIndex>) -> bool {
    let runs = session.index_runs();
    let _running = runs.read().await;
    if stopping(session) {
        return false;
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let worker_index = index.clone();
    let cancel = session.index_cancel();
    let run = tokio::task::spawn_blocking(move || {
        worker_index.upgrade_vectors(
            &mut |progress| {
                let _ = tx.send(progress);
            },
            &cancel,
        )
    });
    let mut token: Option<Option<ProgressToken>> = None;
    while let Some(progress) = rx.recv().await {
        let total = progress.embedded as u64 + progress.remaining;
        if token.is_none() && progress.remaining > 0 {
            let created = create_progress(session).await;
            if let Some(created) = &created {
                let begin = ProgressStep::Begin {
                    title: "Upgrading search vectors".into(),
                    cancellable: false,
                };
                report_progress(session, created, begin, None, Some(0)).await;
            }
            token = Some(created);
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
    let (keep_going, message) = match run.await {
        Ok(Ok(Some(summary))) => {
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
            (true, message)
        }
        Ok(Ok(None)) => (false, "no upgrade model".to_owned()),
        Ok(Err(error)) => {
            tracing::info!("vector upgrade stopped: {error}");
            (false, error.to_string())
        }
        Err(error) => {
            tracing::error!("the vector upgrade panicked: {error}");
            (false, "the vector upgrade panicked".to_owned())
        }
    };
    if let Some(Some(token)) = &token {
        report_progress(session, token, ProgressStep::End, Some(message), Some(100)).await;
    }
    keep_going
}

/// A full run with progress: `$/progress` (percent, files) and `codexos/status`.
pub async fn index_all(session: &Arc<Session>, index: &Arc<WorkspaceIndex>) {
    let runs = session.index_runs();
    let _running = runs.read().await;
    if stopping(session) {
        return;
    }
    let token: Option<ProgressToken> = create_progress(session).await;
    if let Some(token) = &token {
        let begin = ProgressStep::Begin {
            title: "Indexing workspace".into(),
            cancellable: false,
        };
        report_progress(session, token, begin, None, Some(0)).await;
    }
    status(session, "indexing", None, Some(0)).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let worker_index = index.clone();
    let cancel = session.index_cancel();
    let run = tokio::task::spawn_blocking(move || {
        let mut last_percent = (u32::MAX, 0);
        worker_index.index_all(
            &mut |progress| {
                // Files first (then every file is searchable by keyword), vectors second.
                let (done, total, stage) = if progress.searchable {
                    (progress.chunks_embedded, progress.chunks_to_embed, 1)
                } else {
                    (progress.files_done, progress.files_total, 0)
                };
                let percent = (done * 100).checked_div(total).unwrap_or(100) as u32;
                if (percent, stage) != last_percent {
                    last_percent = (percent, stage);
                    let message = if progress.searchable {
                        format!("searchable by keyword; embedding {done}/{total} chunks")
                    } else {
                        format!("{done}/{total} files")
                    };
                    let _ = tx.send((percent, message));
                }
            },
            &cancel,
        )
    });
    while let Some((percent, message)) = rx.recv().await {
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
    let summary = match run.await {
        Ok(Ok(summary)) => format!(
            "{} files ({} indexed, {} unchanged, {} skipped), {} chunks in {:.1} s",
            summary.files_seen,
            summary.files_indexed,
            summary.files_unchanged,
            summary.files_skipped,
            summary.chunks_written,
            summary.elapsed.as_secs_f64()
        ),
        Ok(Err(error)) => {
            tracing::warn!("{error}");
            if let Some(token) = &token {
                report_progress(
                    session,
                    token,
                    ProgressStep::End,
                    Some(error.to_string()),
                    None,
                )
                .await;
            }
            status(session, "error", Some(error.to_string()), None).await;
            return;
        }
        Err(error) => {
            tracing::error!("indexing panicked: {error}");
            return;
        }
    };
    tracing::info!("index ready: {summary}");
    if let Some(token) = &token {
        report_progress(
            session,
            token,
            ProgressStep::End,
            Some(summary.clone()),
            Some(100),
        )
        .await;
    }
    status(session, "ready", Some(summary), Some(100)).await;
}

/// Re-indexes one file (from disk, or the editor's text), or drops it when it is gone.
pub fn refresh(session: &Arc<Session>, path: PathBuf, text: Option<String>) {
    let Some(index) = session.index() else { return };
    tokio::task::spawn_blocking(move || {
        let outcome = if path.exists() || text.is_some() {
            index.refresh_file(&path, text.as_deref())
        } else {
            index.remove_file(&path)
        };
        match outcome {
            Ok(outcome) => tracing::debug!("re-indexed {}: {outcome:?}", path.display()),
            Err(error) => tracing::warn!("{error}"),
        }
    });
}

/// How long typing must pause before an unsaved buffer is re-indexed.
const UNSAVED_DEBOUNCE: std::time::Duration = std::time::Duration::from_millis(400);

/// Re-indexes an edited, unsaved buffer from its text once typing pauses (only the newest
/// version is indexed; saving re-indexes from disk).
pub fn schedule_unsaved(session: &Arc<Session>, uri: Uri, version: i32) {
    if session.index().is_none() {
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

/// Whether shutdown stopped background index work (no new run starts then).
fn stopping(session: &Session) -> bool {
    session
        .index_cancel()
        .load(std::sync::atomic::Ordering::SeqCst)
}

/// How long shutdown waits for background index runs to stop: a full run stops at its next
/// file, the vector upgrade after its current batch (about half a second of MiniLM).
const STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// On shutdown: stops the full run at its next file and the vector upgrade after its batch, and
/// waits until they have sent the `end` of their `$/progress`. A client keeps showing a
/// progress whose `end` never comes, and a short session (a tiny workspace, a test) often shuts
/// down while the upgrade is under way.
pub async fn stop(session: &Session) {
    session
        .index_cancel()
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let runs = session.index_runs();
    if tokio::time::timeout(STOP_WAIT, runs.write()).await.is_err() {
        tracing::warn!(
            "background indexing did not stop within {STOP_WAIT:?}; its progress may not end"
        );
    }
}
