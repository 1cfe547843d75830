//! Runs started over HTTP: one runner for the workspace (built on first use, rebuilt after the
//! vault changes), and each run's events as clients see them ([`RunEventPayload`], the payload
//! of the editor's `codexos/runEvent`), kept while the run goes so any number of SSE and
//! WebSocket clients can follow it from its first event. A finished run's events stay for the
//! last [`KEPT_FINISHED`] runs; older ones are read back from the run's trace.
//!
//! What runs may do is the workspace's policy, as for `codexos run`, with nobody to ask: what the
//! policy would ask the user about is refused unless the user's trust store allows it (as for
//! `codexos mcp`).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use codexos_agent::TraceError;
use codexos_service::Workspace;
use codexos_service::agents::{
    Approval, CancellationToken, EventSink, IndexAccess, RunError, RunEvent, RunRequest,
    RunnerOptions, WorkspaceRunner,
};
use codexos_service::index::{IndexMode, WorkspaceIndex, WorkspaceIndexError};
use codexos_service::run_events::RunEventPayload;
use tokio::sync::{oneshot, watch};

use crate::error::ApiError;

/// How many finished runs keep their events in memory.
const KEPT_FINISHED: usize = 64;

/// What a run starts from.
pub(crate) enum Start {
    Flow(RunRequest),
    /// A recorded run, continued from where it stopped.
    Retry(String),
}

/// One run's events so far.
pub(crate) struct LiveRun {
    cancel: CancellationToken,
    state: Mutex<LiveState>,
    /// How many events there are, and whether the run is over: what followers wait on.
    changed: watch::Sender<(usize, bool)>,
}

#[derive(Default)]
struct LiveState {
    run_id: String,
    events: Vec<Arc<str>>,
    finished: bool,
}

impl LiveRun {
    fn new(cancel: CancellationToken) -> LiveRun {
        LiveRun {
            cancel,
            state: Mutex::new(LiveState::default()),
            changed: watch::Sender::new((0, false)),
        }
    }

    fn push(&self, event: &RunEvent) {
        let mut state = lock(&self.state);
        if let RunEvent::Started { run_id, .. } = event {
            state.run_id = run_id.clone();
        }
        match serde_json::to_string(&RunEventPayload::new(&state.run_id, event)) {
            Ok(line) => state.events.push(line.into()),
            Err(error) => tracing::error!("a run event does not serialise: {error}"),
        }
        self.changed
            .send_replace((state.events.len(), state.finished));
    }

    fn finish(&self) {
        let mut state = lock(&self.state);
        state.finished = true;
        self.changed.send_replace((state.events.len(), true));
    }

    pub fn is_finished(&self) -> bool {
        lock(&self.state).finished
    }

    /// The events from `from` on, and whether the run is over.
    pub fn events_from(&self, from: usize) -> (Vec<Arc<str>>, bool) {
        let state = lock(&self.state);
        let events = state.events.get(from..).unwrap_or_default().to_vec();
        (events, state.finished)
    }

    /// Waits until there are more than `seen` events or the run is over.
    pub async fn wait_past(&self, seen: usize) {
        let mut changed = self.changed.subscribe();
        let _ = changed
            .wait_for(|(count, finished)| *count > seen || *finished)
            .await;
    }
}

/// The workspace's index, opened read-only on first use and shared by searches and runs (LMDB
/// opens an environment once per process).
pub(crate) struct IndexCell {
    workspace: Arc<Workspace>,
    index: Mutex<Option<Arc<WorkspaceIndex>>>,
}

impl IndexCell {
    pub fn new(workspace: Arc<Workspace>) -> IndexCell {
        IndexCell {
            workspace,
            index: Mutex::new(None),
        }
    }

    /// The index; blocking (it may open it).
    pub fn get(&self) -> Result<Arc<WorkspaceIndex>, WorkspaceIndexError> {
        let mut index = lock(&self.index);
        if let Some(index) = index.as_ref() {
            return Ok(index.clone());
        }
        let opened = Arc::new(self.workspace.open_index(IndexMode::ReadOnly)?);
        *index = Some(opened.clone());
        Ok(opened)
    }
}

pub(crate) struct Runs {
    workspace: Arc<Workspace>,
    index: Arc<IndexCell>,
    timeout: Duration,
    runner: tokio::sync::Mutex<Option<Arc<WorkspaceRunner>>>,
    live: Arc<Mutex<Kept>>,
}

#[derive(Default)]
struct Kept {
    runs: HashMap<String, Arc<LiveRun>>,
    finished: VecDeque<String>,
}

impl Runs {
    pub fn new(workspace: Arc<Workspace>, index: Arc<IndexCell>, timeout: Duration) -> Runs {
        Runs {
            workspace,
            index,
            timeout,
            runner: tokio::sync::Mutex::new(None),
            live: Arc::default(),
        }
    }

    async fn runner(&self) -> Result<Arc<WorkspaceRunner>, ApiError> {
        let mut cached = self.runner.lock().await;
        if let Some(runner) = cached.as_ref() {
            return Ok(runner.clone());
        }
        let index = self.index.clone();
        let options = RunnerOptions {
            timeout: self.timeout,
            index: IndexAccess::Shared(Arc::new(move || index.get().ok())),
            // Writes go to the disk, after the gate, as for `codexos run`.
            writes: None,
            approval: Approval::Nobody {
                why: "`codexos serve` cannot ask you (its clients are other programs): allow it \
                      in your trust store with `codexos trust allow`"
                    .to_owned(),
            },
            offline: false,
        };
        let runner = Arc::new(
            self.workspace
                .runner(options)
                .await
                .map_err(|error| ApiError::internal(format!("cannot prepare runs: {error}")))?,
        );
        for problem in &runner.tool_problems {
            tracing::warn!("tools: {problem}");
        }
        *cached = Some(runner.clone());
        Ok(runner)
    }

    /// Forgets the runner, so the next run reads the vault and the configuration again.
    pub async fn reload(&self) {
        *self.runner.lock().await = None;
    }

    /// Starts a run and answers with its id once it started; a run that cannot start (a flow
    /// with errors, nothing to retry) is an error and leaves nothing behind.
    pub async fn start(&self, start: Start) -> Result<String, ApiError> {
        let runner = self.runner().await?;
        let cancel = CancellationToken::new();
        let live = Arc::new(LiveRun::new(cancel.clone()));
        let (started, on_start) = oneshot::channel::<String>();
        let started = Mutex::new(Some(started));
        let kept = self.live.clone();
        let recording = live.clone();
        let sink: EventSink = Arc::new(move |event: &RunEvent| {
            if let RunEvent::Started { run_id, .. } = event {
                lock(&kept).runs.insert(run_id.clone(), recording.clone());
                if let Some(started) = lock(&started).take() {
                    let _ = started.send(run_id.clone());
                }
            }
            recording.push(event);
        });
        let kept = self.live.clone();
        let finishing = live.clone();
        let running = tokio::spawn(async move {
            let outcome = match start {
                Start::Flow(request) => runner.runner.run(request, sink, cancel).await,
                Start::Retry(run_id) => runner.runner.retry(&run_id, sink, cancel).await,
            };
            finishing.finish();
            let run_id = lock(&finishing.state).run_id.clone();
            if !run_id.is_empty() {
                let mut kept = lock(&kept);
                kept.finished.push_back(run_id);
                while kept.finished.len() > KEPT_FINISHED {
                    if let Some(old) = kept.finished.pop_front() {
                        kept.runs.remove(&old);
                    }
                }
            }
            outcome
        });
        match on_start.await {
            Ok(run_id) => Ok(run_id),
            // The run ended without starting: its error says why.
            Err(_) => match running.await {
                Ok(Ok(result)) => Ok(result.run_id),
                Ok(Err(error)) => Err(refused(error)),
                Err(error) => Err(ApiError::internal(format!("the run stopped: {error}"))),
            },
        }
    }

    /// The run `run_id` if this server ran it recently.
    pub fn live(&self, run_id: &str) -> Option<Arc<LiveRun>> {
        lock(&self.live).runs.get(run_id).cloned()
    }

    /// Stops the run `run_id`; `Ok(false)` when it is over already.
    pub fn cancel(&self, run_id: &str) -> Option<bool> {
        let live = self.live(run_id)?;
        if live.is_finished() {
            return Some(false);
        }
        live.cancel.cancel();
        Some(true)
    }

    /// Stops every run (on shutdown): each records where it stopped.
    pub fn cancel_all(&self) {
        for run in lock(&self.live).runs.values() {
            run.cancel.cancel();
        }
    }
}

fn refused(error: RunError) -> ApiError {
    let status = match &error {
        RunError::FlowHasErrors { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        RunError::NothingToRetry(_) | RunError::CannotRetry { .. } => StatusCode::CONFLICT,
        RunError::Trace(TraceError::NotFound { .. } | TraceError::InvalidRunId(_)) => {
            StatusCode::NOT_FOUND
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    ApiError::new(status, error.to_string())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
