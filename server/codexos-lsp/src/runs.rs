//! Agent runs in the editor: one runner per workspace configuration (shared by every run, built
//! on first use, rebuilt when `codexos.toml` or the vault changes), the runs in flight (so
//! `codexos.agent.cancel` and `window/workDoneProgress/cancel` can stop them), and the
//! translation of each run's events into `$/progress` and `codexos/runEvent` (docs/protocol.md).
//!
//! Everything a run does happens on a runtime of its own ([`runs_runtime`]): reading its flow
//! and context ([`prepare`]), executing, writing its trace, and a forwarding task that sends its
//! events as notifications in order, so nothing a run does waits on the client. The request
//! loop, its workers and its blocking threads stay free for the editor's requests however many
//! runs stream at once, and the runs' threads run at a lower priority ([`crate::scheduling`]),
//! so when the cores are busy a completion goes first. Streamed tokens are coalesced: at most
//! one token report per node every [`TOKEN_INTERVAL`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use codexos_service::Workspace;
use codexos_service::agents::{
    Approval, CancellationToken, EventSink, IndexAccess, ReplayRequest, RunError, RunEvent,
    RunRequest, RunResult, RunStatus, RunnerOptions, WorkspaceRunner, step_line,
};
use codexos_service::run_events::RunEventPayload;
use codexos_service::tools::ToolSettingsError;
use serde::Serialize;
use tokio::sync::mpsc;
use tower_lsp_server::ls_types::notification::Notification;
use tower_lsp_server::ls_types::{MessageType, NumberOrString, ProgressToken};

use crate::approvals::EditorApprover;
use crate::editor_writes::EditorWrites;
use crate::progress::{ProgressStep, create_progress, report_progress};
use crate::session::Session;

/// How long streamed tokens gather before one report carries them.
pub const TOKEN_INTERVAL: Duration = Duration::from_millis(100);
/// How long the first finished run waits before asking the editor to refresh its code lenses,
/// so runs finishing together cost the editor one refresh (and one `codeLens` request per open
/// flow) instead of one each.
const LENS_REFRESH_DELAY: Duration = Duration::from_millis(100);

/// Wall time of one run started from the editor.
const RUN_TIMEOUT: Duration = Duration::from_secs(600);

/// `codexos/runEvent`: a step of a run for rich UIs (docs/protocol.md).
pub enum RunEventNotification {}

impl Notification for RunEventNotification {
    type Params = serde_json::Value;
    const METHOD: &'static str = "codexos/runEvent";
}

/// What a run starts from.
pub enum Start {
    Flow(RunRequest),
    /// A recorded run, continued from where it stopped.
    Retry(String),
    /// A recorded run, run again from one of its nodes.
    Replay(ReplayRequest),
}

struct CachedRunner {
    workspace: Arc<Workspace>,
    runner: Arc<WorkspaceRunner>,
}

struct ActiveRun {
    key: u64,
    run_id: Option<String>,
    progress: Option<String>,
    cancel: CancellationToken,
}

#[derive(Default)]
pub struct Runs {
    runner: tokio::sync::Mutex<Option<CachedRunner>>,
    active: Mutex<Vec<ActiveRun>>,
    next_key: AtomicU64,
    /// A code lens refresh is scheduled and has not been sent yet.
    lens_refresh_pending: AtomicBool,
}

impl Runs {
    /// The runner for the session's current workspace configuration.
    async fn runner(&self, session: &Arc<Session>) -> Result<Arc<WorkspaceRunner>, StartError> {
        let workspace = session.workspace();
        let mut cached = self.runner.lock().await;
        if let Some(cached) = cached.as_ref()
            && Arc::ptr_eq(&cached.workspace, &workspace)
        {
            return Ok(cached.runner.clone());
        }
        let weak: Weak<Session> = Arc::downgrade(session);
        let index = IndexAccess::Shared(Arc::new(move || weak.upgrade()?.index()));
        let options = RunnerOptions {
            timeout: RUN_TIMEOUT,
            index,
            // `write_file` shows its writes to the user as edits instead of writing.
            writes: Some(Arc::new(EditorWrites::new(
                session,
                tokio::runtime::Handle::current(),
            ))),
            // What the policy asks about is asked in the editor, and waits for the answer.
            approval: Approval::Ask(Arc::new(EditorApprover::new(session))),
            offline: false,
        };
        // Building a runner loads the system's certificates for its HTTP clients (~14 ms): a
        // worker does it, not the request loop, which meanwhile answers the editor. It stays on
        // the server's runtime, which owns the tool sources it starts (MCP servers).
        let building = workspace.clone();
        let built = tokio::spawn(async move { building.runner(options).await })
            .await
            .map_err(|error| StartError::Panicked(error.to_string()))?;
        let runner = Arc::new(built?);
        for problem in &runner.tool_problems {
            tracing::warn!("tools: {problem}");
            session
                .client
                .show_message(MessageType::WARNING, format!("codexos tools: {problem}"))
                .await;
        }
        *cached = Some(CachedRunner {
            workspace,
            runner: runner.clone(),
        });
        Ok(runner)
    }

    fn register(&self, progress: Option<&ProgressToken>, cancel: CancellationToken) -> u64 {
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        lock(&self.active).push(ActiveRun {
            key,
            run_id: None,
            progress: progress.map(token_text),
            cancel,
        });
        key
    }

    fn update(&self, key: u64, change: impl FnOnce(&mut ActiveRun)) {
        if let Some(run) = lock(&self.active).iter_mut().find(|run| run.key == key) {
            change(run);
        }
    }

    fn unregister(&self, key: u64) {
        lock(&self.active).retain(|run| run.key != key);
    }

    /// Stops the run `run_id`; `false` when no such run is going.
    pub fn cancel_run(&self, run_id: &str) -> bool {
        self.cancel_where(|run| run.run_id.as_deref() == Some(run_id))
    }

    /// Stops the run reporting under the progress `token` (`window/workDoneProgress/cancel`).
    pub fn cancel_progress(&self, token: &str) -> bool {
        self.cancel_where(|run| run.progress.as_deref() == Some(token))
    }

    /// Stops every run (on shutdown): each records where it stopped.
    pub fn cancel_all(&self) {
        self.cancel_where(|_| true);
    }

    fn cancel_where(&self, wanted: impl Fn(&ActiveRun) -> bool) -> bool {
        let active = lock(&self.active);
        let mut found = false;
        for run in active.iter().filter(|run| wanted(run)) {
            run.cancel.cancel();
            found = true;
        }
        found
    }
}

/// Why a run could not be set up (before any node ran).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Tools(#[from] ToolSettingsError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("the run stopped unexpectedly: {0}")]
    Panicked(String),
}

/// Runs `start` on its own task, streaming its events to the client: `$/progress` under
/// `work_done_token` (or a token created once the run starts) and `codexos/runEvent`. Returns
/// when the run is over and every notification about it has been sent. Dropping the returned
/// future (the client cancelled the request) cancels the run.
pub async fn run(
    session: &Arc<Session>,
    start: Start,
    work_done_token: Option<ProgressToken>,
) -> Result<RunResult, StartError> {
    let runner = session.runs.runner(session).await?;
    let cancel = CancellationToken::new();
    let key = session
        .runs
        .register(work_done_token.as_ref(), cancel.clone());
    let _registered = Registered {
        session: session.clone(),
        key,
        cancel: cancel.clone(),
    };
    let (sender, events) = mpsc::unbounded_channel();
    let sink: EventSink = Arc::new(move |event: &RunEvent| {
        let _ = sender.send(event.clone());
    });
    let runtime = runs_runtime();
    let forwarding = runtime.spawn(forward(session.clone(), events, work_done_token, key));
    let running = runtime.spawn(async move {
        match start {
            Start::Flow(request) => runner.runner.run(request, sink, cancel).await,
            Start::Retry(run_id) => runner.runner.retry(&run_id, sink, cancel).await,
            Start::Replay(request) => runner.runner.replay(request, sink, cancel).await,
        }
    });
    let outcome = running.await;
    // The sink is gone with the run, so the forwarder drains what is left and ends.
    if let Err(error) = forwarding.await {
        tracing::error!("forwarding a run's events failed: {error}");
    }
    if session.settings().code_lens_refresh {
        schedule_lens_refresh(session);
    }
    match outcome {
        Ok(result) => Ok(result?),
        Err(error) => Err(StartError::Panicked(error.to_string())),
    }
}

/// Asks the editor to refresh code lenses ("↻ Retry last failed" follows the newest run) once
/// for every run that finished within [`LENS_REFRESH_DELAY`] of the first.
fn schedule_lens_refresh(session: &Arc<Session>) {
    if session
        .runs
        .lens_refresh_pending
        .swap(true, Ordering::AcqRel)
    {
        return;
    }
    let session = session.clone();
    tokio::spawn(async move {
        tokio::time::sleep(LENS_REFRESH_DELAY).await;
        // Cleared before sending: a run finishing from here on schedules a refresh of its own.
        session
            .runs
            .lens_refresh_pending
            .store(false, Ordering::Release);
        if let Err(error) = session.client.code_lens_refresh().await {
            tracing::debug!("the client did not refresh code lenses: {error}");
        }
    });
}

/// Runs `work` (a run's setup: reading its flow and context files, checking the flow) on a
/// blocking thread of the runs' runtime, so a hundred runs starting at once neither occupy the
/// request loop's blocking threads, which answer completions, nor make the loop create threads.
pub async fn prepare<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    // Spawned from a task of the runs' runtime, the blocking thread is also created by one of
    // its threads, not by the request loop.
    runs_runtime()
        .spawn(async move { tokio::task::spawn_blocking(work).await })
        .await
        .and_then(|prepared| prepared)
}

/// Where runs execute: two workers of their own (the current runtime if threads cannot be
/// had), so a hundred streaming runs do not queue ahead of a completion request.
fn runs_runtime() -> tokio::runtime::Handle {
    static RUNTIME: OnceLock<Option<tokio::runtime::Runtime>> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("codexos-run")
            .on_thread_start(crate::scheduling::yield_to_requests)
            .enable_all()
            .build()
            .map_err(|error| tracing::warn!("runs share the request loop's runtime: {error}"))
            .ok()
    });
    match runtime {
        Some(runtime) => runtime.handle().clone(),
        None => tokio::runtime::Handle::current(),
    }
}

/// Unregisters a run when its request ends, cancelling it if the request was dropped first.
struct Registered {
    session: Arc<Session>,
    key: u64,
    cancel: CancellationToken,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.cancel.cancel();
        self.session.runs.unregister(self.key);
    }
}

/// Tokens of one node waiting to be reported.
struct PendingTokens {
    node: String,
    text: String,
    due: tokio::time::Instant,
}

/// Sends a run's events as notifications, in order.
async fn forward(
    session: Arc<Session>,
    mut events: mpsc::UnboundedReceiver<RunEvent>,
    given_token: Option<ProgressToken>,
    key: u64,
) {
    let mut out = Outgoing {
        session,
        token: given_token,
        run_id: String::new(),
    };
    let mut pending: Option<PendingTokens> = None;
    let mut finished = false;
    loop {
        let next = match &pending {
            Some(tokens) => tokio::select! {
                event = events.recv() => event,
                () = tokio::time::sleep_until(tokens.due) => {
                    if let Some(tokens) = pending.take() {
                        out.tokens(tokens).await;
                    }
                    continue;
                }
            },
            None => events.recv().await,
        };
        let Some(event) = next else { break };
        if let RunEvent::Token { node, text } = &event {
            match &mut pending {
                Some(tokens) if tokens.node == *node => tokens.text.push_str(text),
                _ => {
                    if let Some(tokens) = pending.take() {
                        out.tokens(tokens).await;
                    }
                    pending = Some(PendingTokens {
                        node: node.clone(),
                        text: text.clone(),
                        due: tokio::time::Instant::now() + TOKEN_INTERVAL,
                    });
                }
            }
            continue;
        }
        if let Some(tokens) = pending.take() {
            out.tokens(tokens).await;
        }
        if let RunEvent::Started { run_id, .. } = &event {
            let run_id = run_id.clone();
            out.run_id = run_id.clone();
            if out.token.is_none() {
                out.token = create_progress(&out.session).await;
            }
            let progress = out.token.as_ref().map(token_text);
            out.session.runs.update(key, |run| {
                run.run_id = Some(run_id);
                if run.progress.is_none() {
                    run.progress = progress;
                }
            });
        }
        finished |= matches!(event, RunEvent::Finished { .. });
        out.event(&event).await;
    }
    if let Some(tokens) = pending.take() {
        out.tokens(tokens).await;
    }
    if !finished && !out.run_id.is_empty() {
        out.progress(
            ProgressStep::End,
            Some("the run stopped unexpectedly".into()),
        )
        .await;
    }
}

/// Where a run's notifications go.
struct Outgoing {
    session: Arc<Session>,
    token: Option<ProgressToken>,
    run_id: String,
}

/// `codexos/runEvent` parameters: the run's progress token and the event as every client sees
/// it ([`RunEventPayload`]).
#[derive(Serialize)]
struct RunEventParams<'a> {
    token: Option<&'a ProgressToken>,
    #[serde(flatten)]
    payload: RunEventPayload<'a>,
}

impl Outgoing {
    async fn progress(&self, step: ProgressStep, message: Option<String>) {
        if let Some(token) = &self.token {
            report_progress(&self.session, token, step, message, None).await;
        }
    }

    async fn notify(&self, event: &RunEvent) {
        let params = RunEventParams {
            token: self.token.as_ref(),
            payload: RunEventPayload::new(&self.run_id, event),
        };
        match serde_json::to_value(params) {
            Ok(value) => {
                self.session
                    .client
                    .send_notification::<RunEventNotification>(value)
                    .await;
            }
            Err(error) => tracing::error!("a run event does not serialise: {error}"),
        }
    }

    async fn tokens(&self, tokens: PendingTokens) {
        self.progress(ProgressStep::Report, Some(tokens.text.clone()))
            .await;
        self.notify(&RunEvent::Token {
            node: tokens.node,
            text: tokens.text,
        })
        .await;
    }

    async fn event(&self, event: &RunEvent) {
        match event {
            RunEvent::Started {
                run_id,
                flow_id,
                retry_of,
                forked_from,
            } => {
                let title = match (retry_of, forked_from) {
                    (Some(old), _) => format!("Retrying {flow_id} (run {old})"),
                    (None, Some(fork)) => format!("Running {flow_id} ({})", fork.describe()),
                    (None, None) => format!("Running {flow_id}"),
                };
                let begin = ProgressStep::Begin {
                    title,
                    cancellable: true,
                };
                self.progress(begin, Some(format!("run {run_id}"))).await;
            }
            RunEvent::Token { .. } => return,
            RunEvent::Decision { .. } => {
                if let Some(line) = step_line(event) {
                    self.progress(ProgressStep::Report, Some(line)).await;
                }
            }
            RunEvent::Finished {
                status,
                error,
                elapsed_ms,
                ..
            } => {
                let seconds = *elapsed_ms as f64 / 1000.0;
                let summary = match status {
                    RunStatus::Succeeded => format!("✓ succeeded in {seconds:.1} s"),
                    RunStatus::Failed => format!(
                        "✗ failed after {seconds:.1} s: {}",
                        error.as_deref().unwrap_or("no exit was reached")
                    ),
                    RunStatus::Cancelled => format!("cancelled after {seconds:.1} s"),
                };
                self.progress(ProgressStep::End, Some(summary)).await;
            }
            _ => self.progress(ProgressStep::Report, step_line(event)).await,
        }
        self.notify(event).await;
    }
}

fn token_text(token: &ProgressToken) -> String {
    match token {
        NumberOrString::String(token) => token.clone(),
        NumberOrString::Number(token) => token.to_string(),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
