//! Runs started over HTTP: one runner for the workspace (built on first use, rebuilt after the
//! vault changes), and each run's events as clients see them ([`RunEventPayload`], the payload
//! of the editor's `codexos/runEvent`), kept while the run goes so any number of SSE and
//! WebSocket clients can follow it from its first event. A finished run's events stay for the
//! last [`KEPT_FINISHED`] runs; older ones are read back from the run's trace.
//!
//! With the team's run store ([`TeamStore`]), each run's record is written there as the run
//! goes ([`publish`]: whenever events came, at most every [`PUBLISH_EVERY`], at least every
//! [`HEARTBEAT`], and at its end), so every server of the team lists it and its followers on
//! other servers see its events; cancel requests other servers write for this one's runs are
//! polled every [`CANCEL_POLL`].
//!
//! What runs may do is the workspace's policy, as for `codexos run`, with nobody to ask: what the
//! policy would ask the user about is refused unless the user's trust store allows it (as for
//! `codexos mcp`).

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use codexos_agent::{TraceError, runs_dir, trace};
use codexos_service::Workspace;
use codexos_service::agents::{
    Approval, CancellationToken, EventSink, IndexAccess, RunError, RunEvent, RunRequest,
    RunnerOptions, WorkspaceRunner,
};
use codexos_service::index::{IndexMode, WorkspaceIndex, WorkspaceIndexError};
use codexos_service::run_events::RunEventPayload;
use tokio::sync::{oneshot, watch};

use crate::audit::now_ms;
use crate::error::ApiError;
use crate::store::{self, StoredRun, TeamStore};

/// How many finished runs keep their events in memory.
const KEPT_FINISHED: usize = 64;
/// How often a run's record is written to the team's store while events come: what a follower
/// on another server lags by, at most.
const PUBLISH_EVERY: Duration = Duration::from_millis(200);
/// How often a running run's record is written when nothing happens, so readers can tell a
/// run whose server stopped ([`store::STALE_MS`]).
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(5);
/// How often a server looks for cancel requests for its runs.
const CANCEL_POLL: Duration = Duration::from_millis(500);
/// The longest pause between attempts to write a record while the store is down.
const RETRY_AT_MOST: Duration = Duration::from_secs(10);

/// What a run starts from.
pub(crate) enum Start {
    Flow(RunRequest),
    /// A recorded run, continued from where it stopped.
    Retry(String),
}

/// One run's events so far.
pub(crate) struct LiveRun {
    cancel: CancellationToken,
    /// The name of the token that started it.
    started_by: Option<String>,
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
    fn new(cancel: CancellationToken, started_by: Option<String>) -> LiveRun {
        LiveRun {
            cancel,
            started_by,
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
    /// The team's run store, when the server writes its runs there.
    pub team: Option<Arc<TeamStore>>,
    /// The tasks writing runs' records to it, waited for on shutdown.
    publishing: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

#[derive(Default)]
struct Kept {
    runs: HashMap<String, Arc<LiveRun>>,
    finished: VecDeque<String>,
}

impl Runs {
    pub fn new(
        workspace: Arc<Workspace>,
        index: Arc<IndexCell>,
        timeout: Duration,
        team: Option<Arc<TeamStore>>,
    ) -> Runs {
        Runs {
            workspace,
            index,
            timeout,
            runner: tokio::sync::Mutex::new(None),
            live: Arc::default(),
            team,
            publishing: Mutex::default(),
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
    pub async fn start(
        &self,
        start: Start,
        started_by: Option<String>,
    ) -> Result<String, ApiError> {
        let runner = self.runner().await?;
        let cancel = CancellationToken::new();
        let live = Arc::new(LiveRun::new(cancel.clone(), started_by));
        let publishing = live.clone();
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
            Ok(run_id) => {
                if let Some(team) = &self.team {
                    // The run is in the store before its id is given out, so a client that
                    // follows it through another server finds it.
                    let dir = runs_dir(self.workspace.root());
                    let (first, written) = oneshot::channel();
                    let task = tokio::spawn(publish(
                        team.clone(),
                        publishing,
                        dir,
                        run_id.clone(),
                        first,
                    ));
                    {
                        let mut tasks = lock(&self.publishing);
                        tasks.retain(|task| !task.is_finished());
                        tasks.push(task);
                    }
                    let _ = written.await;
                }
                Ok(run_id)
            }
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

    /// Waits up to `patience` for the runs' last records to reach the team's store (on
    /// shutdown, after [`Runs::cancel_all`]); what is not written by then stays in the traces
    /// only.
    pub async fn flush(&self, patience: Duration) {
        let tasks = std::mem::take(&mut *lock(&self.publishing));
        let all = futures_util::future::join_all(tasks);
        if tokio::time::timeout(patience, all).await.is_err() {
            tracing::warn!(
                "some runs' last records did not reach the run store before the server stopped"
            );
        }
    }
}

/// Writes the record of the run `run_id` to the team's store until its final record is
/// written. While the store is down the run goes on and the writes are retried (backing off);
/// if this process stops first, the store misses the run's end (its trace here keeps it).
/// `first` is told once the first write was tried.
async fn publish(
    team: Arc<TeamStore>,
    live: Arc<LiveRun>,
    dir: PathBuf,
    run_id: String,
    first: oneshot::Sender<()>,
) {
    let mut first = Some(first);
    let mut written: Option<(usize, bool)> = None;
    let mut last_write: Option<Instant> = None;
    let mut failures: u32 = 0;
    loop {
        let seen = *live.changed.borrow();
        let due = written != Some(seen) || last_write.is_none_or(|at| at.elapsed() >= HEARTBEAT);
        if due {
            let (team, live, dir, id) = (team.clone(), live.clone(), dir.clone(), run_id.clone());
            let outcome = tokio::task::spawn_blocking(move || {
                let run = stored(&team, &live, &dir, &id)?;
                team.put(&run).map(|()| run.status() != "running")
            })
            .await
            .unwrap_or_else(|error| Err(ApiError::internal(error)));
            if let Some(first) = first.take() {
                let _ = first.send(());
            }
            match outcome {
                Ok(over) => {
                    if failures > 0 {
                        tracing::info!(
                            "run {run_id}: its record is written to the run store again"
                        );
                    }
                    failures = 0;
                    written = Some(seen);
                    last_write = Some(Instant::now());
                    if over {
                        return;
                    }
                }
                Err(error) => {
                    if failures == 0 {
                        tracing::warn!("run {run_id}: {}; retrying", error.message);
                    }
                    failures = failures.saturating_add(1);
                }
            }
        }
        let pause = PUBLISH_EVERY.saturating_mul(1 << failures.min(6));
        tokio::time::sleep(pause.min(RETRY_AT_MOST)).await;
    }
}

/// The record of a run this server runs: its trace so far, the events its followers got, and
/// `running` until the run is over (read with its events at once, so a record that says the
/// run is over has every event).
fn stored(
    team: &TeamStore,
    live: &LiveRun,
    dir: &Path,
    run_id: &str,
) -> Result<StoredRun, ApiError> {
    let (stream, finished) = live.events_from(0);
    let run = trace::read(&dir.join(format!("{run_id}.jsonl")))
        .map_err(|error| ApiError::internal(format!("run {run_id}: {error}")))?;
    let status = match (finished, run.status()) {
        (false, _) => "running",
        (true, Some(status)) => status.as_str(),
        (true, None) => "incomplete",
    };
    let mut summary = store::summary(&run, status);
    summary["server"] = team.server.clone().into();
    summary["started_by"] = live.started_by.clone().into();
    Ok(StoredRun {
        summary,
        header: run.header,
        events: run.events,
        stream: stream.iter().map(|event| event.to_string()).collect(),
        updated_ms: now_ms(),
    })
}

/// Cancels this server's runs that other servers were asked to cancel, until the process
/// stops.
pub(crate) async fn take_cancel_requests(state: crate::AppState) {
    let runs = &state.runs;
    let Some(team) = runs.team.clone() else {
        return;
    };
    loop {
        tokio::time::sleep(CANCEL_POLL).await;
        let team = team.clone();
        match tokio::task::spawn_blocking(move || team.take_cancel_requests()).await {
            Ok(Ok(run_ids)) => {
                for run_id in run_ids {
                    tracing::info!("run {run_id}: cancelled at another server's request");
                    runs.cancel(&run_id);
                }
            }
            Ok(Err(error)) => tracing::debug!("cancel requests: {}", error.message),
            Err(error) => tracing::debug!("cancel requests: {error}"),
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
