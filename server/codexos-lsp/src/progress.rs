//! `$/progress` for background work, only when the client announced `window.workDoneProgress`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tower_lsp_server::ls_types::notification::Progress;
use tower_lsp_server::ls_types::request::WorkDoneProgressCreate;
use tower_lsp_server::ls_types::{
    NumberOrString, ProgressParams, ProgressParamsValue, ProgressToken, WorkDoneProgress,
    WorkDoneProgressBegin, WorkDoneProgressCreateParams, WorkDoneProgressEnd,
    WorkDoneProgressReport,
};

use crate::session::Session;

pub enum ProgressStep {
    Begin { title: String, cancellable: bool },
    Report,
    End,
}

static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

/// Asks the client for a new progress token; `None` when the client does not show progress.
pub async fn create_progress(session: &Arc<Session>) -> Option<ProgressToken> {
    if !session.settings().work_done_progress {
        return None;
    }
    let token = NumberOrString::String(format!(
        "codexos/{}",
        NEXT_TOKEN.fetch_add(1, Ordering::Relaxed)
    ));
    let created = session
        .client
        .send_request::<WorkDoneProgressCreate>(WorkDoneProgressCreateParams {
            token: token.clone(),
        })
        .await;
    match created {
        Ok(()) => Some(token),
        Err(error) => {
            tracing::debug!("the client refused a progress token: {error}");
            None
        }
    }
}

/// Sends one step of a progress; does nothing when the client does not show progress.
pub async fn report_progress(
    session: &Arc<Session>,
    token: &ProgressToken,
    step: ProgressStep,
    message: Option<String>,
    percentage: Option<u32>,
) {
    if !session.settings().work_done_progress {
        return;
    }
    let value = match step {
        ProgressStep::Begin { title, cancellable } => {
            WorkDoneProgress::Begin(WorkDoneProgressBegin {
                title,
                cancellable: Some(cancellable),
                message,
                percentage,
            })
        }
        ProgressStep::Report => WorkDoneProgress::Report(WorkDoneProgressReport {
            cancellable: None,
            message,
            percentage,
        }),
        ProgressStep::End => WorkDoneProgress::End(WorkDoneProgressEnd { message }),
    };
    session
        .client
        .send_notification::<Progress>(ProgressParams {
            token: token.clone(),
            value: ProgressParamsValue::WorkDone(value),
        })
        .await;
}

/// Whether the user cancelled the progress with this token (`window/workDoneProgress/cancel`).
pub fn is_cancelled(session: &Session, token: &ProgressToken) -> bool {
    session.is_progress_cancelled(&token_key(token))
}

/// A token as the session keeps it: numbers as their decimal text.
pub fn token_key(token: &ProgressToken) -> String {
    match token {
        NumberOrString::String(token) => token.clone(),
        NumberOrString::Number(token) => token.to_string(),
    }
}

/// Lets the protocol layer write the notifications already sent (a progress's `end`, a run's
/// last event) before the response that follows them. tower-lsp-server writes from two queues,
/// responses and server-sent messages, and picks at random when both hold one: without this an
/// editor could see a command's answer before the `end` of its progress. Its whole loop is one
/// task, so one yield lets the writer take the queued notifications before this request's
/// response exists.
pub async fn notifications_first() {
    tokio::task::yield_now().await;
}
