//! The runner: drives the pure [`Walk`] with async node execution, streams [`RunEvent`]s,
//! records the trace and builds the [`RunResult`].

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use codexos_flow::{Catalog, Entry, FlowFile, StaticCatalog};
use codexos_llm::{ChatRequest, Message, Router, StreamEvent, ToolDefinition};
use codexos_policy::{Action, Decision, Gate, PolicyGate};
use codexos_tools::{Placement, place_relative};
use codexos_vault::{Redactor, SecretString};
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::events::{
    EventSink, NodeRecord, NodeStatus, Problem, RunEvent, RunResult, RunStatus, Source, TokenUsage,
};
use crate::expr::Expr;
use crate::graph::{FlowProblem, Graph, LlmSpec, NodeKind, ReflectSpec};
use crate::services::{Caller, Retriever, SearchHit, SecretStore, ToolBox};
use crate::template::{self, Lookup, Reference};
use crate::trace::{self, ContextFile, RunHeader, TraceError, TraceWriter};
use crate::walk::{Ready, Walk};

/// How long stopped work (a tool killing its processes) gets before it is dropped.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// Bounds that keep any flow from running forever.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Node executions per run, sub-flows and reflection included.
    pub max_steps: usize,
    /// Wall time of a whole run.
    pub timeout: Duration,
    /// One tool call, unless the tool box says otherwise for that tool.
    pub tool_timeout: Duration,
    /// Sub-flows inside sub-flows.
    pub max_depth: usize,
    /// Rounds of tool calls an `llm` node lets its model make.
    pub max_tool_rounds: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_steps: 10_000,
            timeout: Duration::from_secs(600),
            tool_timeout: Duration::from_secs(120),
            max_depth: 8,
            max_tool_rounds: 8,
        }
    }
}

/// What to run.
#[derive(Clone, Debug, Default)]
pub struct RunRequest {
    pub flow_text: String,
    /// The flow file; sub-flows resolve next to it. `None` for a flow given inline.
    pub flow_path: Option<PathBuf>,
    pub input: String,
    pub context: Vec<ContextFile>,
    /// The caller's name for the agent (the seed's `agent_id`), kept in the trace so runs can be
    /// listed per agent.
    pub agent_id: Option<String>,
}

impl RunRequest {
    /// Reads the flow at `path`.
    pub fn from_file(path: &Path, input: impl Into<String>) -> Result<RunRequest, RunError> {
        let flow_text = std::fs::read_to_string(path).map_err(|error| RunError::ReadFlow {
            path: path.to_owned(),
            detail: error.to_string(),
        })?;
        Ok(RunRequest {
            flow_text,
            flow_path: Some(std::path::absolute(path).unwrap_or_else(|_| path.to_owned())),
            input: input.into(),
            context: Vec::new(),
            agent_id: None,
        })
    }
}

/// Why a run did not start. Once a run starts, what goes wrong is in its [`RunResult`].
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{flow} has errors, so nothing ran:{}", list(.problems))]
    FlowHasErrors {
        flow: String,
        problems: Vec<FlowProblem>,
    },
    #[error("cannot read the flow {}: {detail}", .path.display())]
    ReadFlow { path: PathBuf, detail: String },
    #[error(transparent)]
    Trace(#[from] TraceError),
    #[error("runs are not recorded here, so there is nothing to retry")]
    NoTraces,
    #[error("run `{0}` succeeded: there is nothing to retry")]
    NothingToRetry(String),
    #[error("cannot retry run `{run_id}`: {reason}")]
    CannotRetry { run_id: String, reason: String },
}

fn list(problems: &[FlowProblem]) -> String {
    problems.iter().map(|p| format!("\n  {p}")).collect()
}

/// Runs flows. Build one per workspace and share it; each run has its own state.
#[derive(Clone)]
pub struct Runner {
    router: Option<Arc<Router>>,
    tools: Option<Arc<dyn ToolBox>>,
    retriever: Option<Arc<dyn Retriever>>,
    secrets: Option<Arc<dyn SecretStore>>,
    redactor: Redactor,
    runs_dir: Option<PathBuf>,
    limits: Limits,
    /// Decides what the runner itself would do: a model's call of a tool its node does not
    /// list, a sub-flow. The tool box has its own gate (the workspace's, the same one).
    gate: Arc<dyn Gate>,
    /// Sub-flows must lie inside it; `None`: inside the top-level flow's folder.
    workspace_root: Option<PathBuf>,
}

impl Default for Runner {
    fn default() -> Runner {
        Runner {
            router: None,
            tools: None,
            retriever: None,
            secrets: None,
            redactor: Redactor::default(),
            runs_dir: None,
            limits: Limits::default(),
            gate: Arc::new(PolicyGate::defaults(Path::new("/"))),
            workspace_root: None,
        }
    }
}

impl Runner {
    pub fn new() -> Runner {
        Runner::default()
    }

    /// The workspace's gate (the one its tool box uses too).
    pub fn with_gate(mut self, gate: Arc<dyn Gate>) -> Runner {
        self.gate = gate;
        self
    }

    /// Confines sub-flows to `root`.
    pub fn within_workspace(mut self, root: impl Into<PathBuf>) -> Runner {
        self.workspace_root = Some(root.into());
        self
    }

    pub fn with_router(mut self, router: Arc<Router>) -> Runner {
        self.router = Some(router);
        self
    }

    pub fn with_tools(mut self, tools: Arc<dyn ToolBox>) -> Runner {
        self.tools = Some(tools);
        self
    }

    pub fn with_retriever(mut self, retriever: Arc<dyn Retriever>) -> Runner {
        self.retriever = Some(retriever);
        self
    }

    /// Where secrets come from, and a redactor that already knows every secret value (the
    /// vault's [`codexos_vault::Vault::redactor`], plus keys from the environment). Values a
    /// run reads are added to it as well.
    pub fn with_secrets(mut self, secrets: Arc<dyn SecretStore>, redactor: Redactor) -> Runner {
        self.secrets = Some(secrets);
        self.redactor = redactor;
        self
    }

    /// Records every run as `<dir>/<run_id>.jsonl` (see [`trace`]).
    pub fn record_traces(mut self, dir: impl Into<PathBuf>) -> Runner {
        self.runs_dir = Some(dir.into());
        self
    }

    pub fn with_limits(mut self, limits: Limits) -> Runner {
        self.limits = limits;
        self
    }

    pub fn runs_dir(&self) -> Option<&Path> {
        self.runs_dir.as_deref()
    }

    /// Checks and runs a flow. `Err` only when it cannot start (a flow with errors, an unwritable
    /// trace); failures while running are in the result, whose status says how it ended.
    pub async fn run(
        &self,
        request: RunRequest,
        events: EventSink,
        cancel: CancellationToken,
    ) -> Result<RunResult, RunError> {
        let graph = self.compile(&request.flow_text, request.flow_path.as_deref())?;
        let walk = Walk::new(&graph);
        self.execute(request, graph, walk, Seed::default(), events, cancel)
            .await
    }

    /// Runs a failed or cancelled run again from where it stopped: nodes that finished keep their
    /// recorded outputs, the nodes that failed or never got to run run now, with the flow file as
    /// it is today (so a fixed prompt takes effect).
    pub async fn retry(
        &self,
        run_id: &str,
        events: EventSink,
        cancel: CancellationToken,
    ) -> Result<RunResult, RunError> {
        let dir = self.runs_dir.as_deref().ok_or(RunError::NoTraces)?;
        let recorded = trace::load(dir, run_id)?;
        if recorded.status() == Some(RunStatus::Succeeded) {
            return Err(RunError::NothingToRetry(run_id.to_owned()));
        }
        let cannot = |reason: String| RunError::CannotRetry {
            run_id: run_id.to_owned(),
            reason,
        };
        let header = &recorded.header;
        let (flow_text, flow_path) = match (&header.flow_path, &header.flow_text) {
            (Some(path), _) => {
                let text = std::fs::read_to_string(path).map_err(|error| {
                    cannot(format!("cannot read its flow {}: {error}", path.display()))
                })?;
                (text, Some(path.clone()))
            }
            (None, Some(text)) => (text.clone(), None),
            (None, None) => return Err(cannot("its trace does not hold the flow".to_owned())),
        };
        let graph = self.compile(&flow_text, flow_path.as_deref())?;
        let mut frontier = Vec::new();
        for id in recorded.frontier() {
            let index = graph.index(&id).ok_or_else(|| {
                cannot(format!(
                    "node `{id}`, where it stopped, is no longer in the flow"
                ))
            })?;
            frontier.push(index);
        }
        if frontier.is_empty() {
            frontier.push(graph.entry);
        }
        let outputs = recorded
            .outputs()
            .into_iter()
            .filter_map(|(id, output)| graph.index(&id).map(|index| (index, output)))
            .filter(|(index, _)| !frontier.contains(index))
            .collect();
        let seed = Seed {
            retry_of: Some(run_id.to_owned()),
            outputs,
        };
        let request = RunRequest {
            flow_text,
            flow_path,
            input: header.input.clone(),
            context: header.context.clone(),
            agent_id: header.agent_id.clone(),
        };
        let walk = Walk::resume(&frontier);
        self.execute(request, graph, walk, seed, events, cancel)
            .await
    }

    fn compile(&self, text: &str, path: Option<&Path>) -> Result<Graph, RunError> {
        let file = FlowFile::parse(text);
        Graph::compile(
            &file,
            &RunCatalog::new(path, self.workspace_root.as_deref()),
        )
        .map_err(|problems| RunError::FlowHasErrors {
            flow: path.map_or_else(|| "the flow".to_owned(), |p| p.display().to_string()),
            problems,
        })
    }

    async fn execute(
        &self,
        request: RunRequest,
        graph: Graph,
        walk: Walk,
        seed: Seed,
        events: EventSink,
        cancel: CancellationToken,
    ) -> Result<RunResult, RunError> {
        let mut header = RunHeader {
            run_id: String::new(),
            flow_id: graph.flow_id.clone(),
            flow_path: request.flow_path.clone(),
            flow_text: request
                .flow_path
                .is_none()
                .then(|| request.flow_text.clone()),
            input: request.input.clone(),
            context: request.context.clone(),
            started_at: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs(),
            retry_of: seed.retry_of.clone(),
            agent_id: request.agent_id.clone(),
        };
        let (run_id, writer) = match &self.runs_dir {
            Some(dir) => {
                let (run_id, writer) = TraceWriter::create(dir)?;
                (run_id, Some(writer))
            }
            None => (format!("unrecorded-{}", header.started_at), None),
        };
        header.run_id = run_id.clone();
        let run = RunState {
            runner: self,
            run_id: run_id.clone(),
            flow_id: graph.flow_id.clone(),
            confine_to: self.workspace_root.clone().or_else(|| {
                request
                    .flow_path
                    .as_deref()
                    .and_then(Path::parent)
                    .map(Path::to_owned)
            }),
            agent_id: request.agent_id.clone(),
            redactor: Mutex::new(self.redactor.clone()),
            sink: events,
            trace_path: writer.as_ref().map(|w| w.path().to_owned()),
            trace: Mutex::new(writer),
            started: Instant::now(),
            deadline: tokio::time::Instant::now() + self.limits.timeout,
            steps: AtomicUsize::new(0),
            cancel: cancel.child_token(),
            timed_out: AtomicBool::new(false),
            context: context_text(&request.context),
            secrets_read: Mutex::new(HashMap::new()),
            book: Mutex::new(Book::default()),
        };
        run.write_trace_line(&trace::header_line(&header));
        run.emit(RunEvent::Started {
            run_id: run_id.clone(),
            flow_id: graph.flow_id.clone(),
            retry_of: seed.retry_of.clone(),
        });
        let scope = Scope {
            graph: &graph,
            flow_dir: request
                .flow_path
                .as_deref()
                .and_then(Path::parent)
                .map(Path::to_owned),
            prefix: String::new(),
            depth: 0,
            input: request.input.clone(),
            outputs: Mutex::new(HashMap::new()),
            vars: Mutex::new(HashMap::new()),
        };
        run.replay(&scope, &seed);
        let ended = run.walk(&scope, walk).await;
        run.cancel.cancel();
        let (result, writer) = run.finish(&graph, ended, seed.retry_of);
        if let Some(mut writer) = writer {
            // An fsync can take milliseconds on a busy disk: it runs off the async workers, so
            // many runs ending at once do not hold up the editor's requests.
            let _ = tokio::task::spawn_blocking(move || writer.sync()).await;
        }
        Ok(result)
    }
}

/// What a retry starts from.
#[derive(Default)]
struct Seed {
    retry_of: Option<String>,
    outputs: Vec<(usize, String)>,
}

/// The built-in names, with sub-flow paths checked on disk next to the flow file and inside
/// the workspace, by the rule `codexos check` uses: a flow whose sub-flow leads out never
/// starts. Only error findings stop a run, and those do not depend on which tools or models exist.
struct RunCatalog {
    names: StaticCatalog,
    dir: Option<PathBuf>,
    /// Sub-flows must stay inside it; `None`: inside the flow's own folder.
    root: Option<PathBuf>,
}

impl RunCatalog {
    fn new(flow_path: Option<&Path>, root: Option<&Path>) -> RunCatalog {
        let dir = flow_path.and_then(Path::parent).map(Path::to_owned);
        RunCatalog {
            names: StaticCatalog::builtin(),
            root: root.map(Path::to_owned).or_else(|| dir.clone()),
            dir,
        }
    }
}

impl Catalog for RunCatalog {
    fn tools(&self) -> &[Entry] {
        &self.names.tools
    }

    fn models(&self) -> &[Entry] {
        &self.names.models
    }

    fn vault_keys(&self) -> &[Entry] {
        &self.names.vault_keys
    }

    fn flow_file(&self, path: &str) -> codexos_flow::FlowFileStatus {
        let (Some(dir), Some(root)) = (&self.dir, &self.root) else {
            return codexos_flow::FlowFileStatus::Unknown;
        };
        match place_relative(root, dir, path) {
            Placement::Found(_) => codexos_flow::FlowFileStatus::Found,
            Placement::Missing => codexos_flow::FlowFileStatus::Missing,
            Placement::Outside => codexos_flow::FlowFileStatus::OutsideWorkspace,
        }
    }
}

fn context_text(files: &[ContextFile]) -> String {
    files
        .iter()
        .map(|file| format!("{}:\n{}", file.path, file.text))
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One level of a run: the top-level flow, or a sub-flow inside a `flow` node.
struct Scope<'g> {
    graph: &'g Graph,
    flow_dir: Option<PathBuf>,
    /// Prefix of node ids in events: empty at the top, `parent/` inside a sub-flow.
    prefix: String,
    depth: usize,
    input: String,
    outputs: Mutex<HashMap<usize, String>>,
    vars: Mutex<HashMap<String, SecretString>>,
}

impl Scope<'_> {
    fn label(&self, node: usize) -> String {
        format!("{}{}", self.prefix, self.graph.nodes[node].id)
    }
}

/// The per-node records, problems and sources a run collects for its result.
#[derive(Default)]
struct Book {
    nodes: Vec<NodeRecord>,
    /// Position of each node's record in `nodes`.
    positions: HashMap<String, usize>,
    running: Vec<String>,
    errors: Vec<Problem>,
    warnings: Vec<Problem>,
    sources: Vec<Source>,
}

impl Book {
    fn record(&mut self, id: &str, node_type: &str) -> &mut NodeRecord {
        let position = match self.positions.get(id) {
            Some(&position) => position,
            None => {
                self.nodes.push(NodeRecord {
                    id: id.to_owned(),
                    node_type: node_type.to_owned(),
                    status: NodeStatus::Stopped,
                    output: None,
                    error: None,
                    runs: 0,
                    elapsed_ms: 0,
                    model: None,
                    usage: TokenUsage::default(),
                    sources: Vec::new(),
                });
                self.positions.insert(id.to_owned(), self.nodes.len() - 1);
                self.nodes.len() - 1
            }
        };
        &mut self.nodes[position]
    }
}

/// How a walk ended.
enum Ended {
    Exited(String),
    Failed {
        problem: Problem,
        frontier: Vec<usize>,
    },
    Stopped {
        reason: Stop,
        frontier: Vec<usize>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    Cancelled,
    TimedOut,
}

/// Why a node did not finish.
enum Failure {
    Failed(String),
    Stopped(Stop),
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure::Failed(message)
    }
}

impl From<&str> for Failure {
    fn from(message: &str) -> Failure {
        Failure::Failed(message.to_owned())
    }
}

/// What a finished node produced and where control goes.
#[derive(Default)]
struct Outcome {
    output: String,
    next: Vec<usize>,
    exit: bool,
    model: Option<String>,
    usage: TokenUsage,
    note: Option<String>,
    sources: Vec<Source>,
}

/// A previous answer and what to improve, for a node that reflection runs again.
struct Feedback {
    previous: String,
    critique: String,
}

struct RunState<'r> {
    runner: &'r Runner,
    run_id: String,
    flow_id: String,
    /// Sub-flows must lie inside it.
    confine_to: Option<PathBuf>,
    agent_id: Option<String>,
    redactor: Mutex<Redactor>,
    sink: EventSink,
    trace_path: Option<PathBuf>,
    trace: Mutex<Option<TraceWriter>>,
    started: Instant,
    deadline: tokio::time::Instant,
    steps: AtomicUsize,
    /// Fired by the caller's token, and by the runner itself when the time limit passes.
    cancel: CancellationToken,
    timed_out: AtomicBool,
    context: String,
    secrets_read: Mutex<HashMap<String, SecretString>>,
    book: Mutex<Book>,
}

impl RunState<'_> {
    /// Why node work stops once [`RunState::cancel`] has fired.
    fn stop_reason(&self) -> Stop {
        if self.timed_out.load(Ordering::Relaxed) {
            Stop::TimedOut
        } else {
            Stop::Cancelled
        }
    }

    fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn redact(&self, text: &str) -> String {
        lock(&self.redactor).redact(text).into_owned()
    }

    fn write_trace_line(&self, line: &str) {
        let line = self.redact(line);
        let mut trace = lock(&self.trace);
        if let Some(writer) = trace.as_mut()
            && let Err(error) = writer.write_line(&line)
        {
            *trace = None;
            drop(trace);
            let message = format!("{error}; the rest of this run is not recorded");
            lock(&self.book).warnings.push(Problem {
                node: None,
                message: message.clone(),
            });
            (self.sink)(&RunEvent::Warning {
                node: None,
                message,
            });
        }
    }

    /// Redacts `event`, records it in the trace (tokens excepted) and hands it to the sink.
    fn emit(&self, event: RunEvent) {
        let event = {
            let redactor = lock(&self.redactor);
            redact_event(event, &redactor)
        };
        if !matches!(event, RunEvent::Token { .. }) {
            self.write_trace_line(&trace::event_line(&event, self.elapsed_ms()));
        }
        (self.sink)(&event);
    }

    fn warn(&self, node: Option<String>, message: String) {
        let message = self.redact(&message);
        lock(&self.book).warnings.push(Problem {
            node: node.clone(),
            message: message.clone(),
        });
        self.emit(RunEvent::Warning { node, message });
    }

    fn secret(&self, key: &str) -> Result<SecretString, String> {
        if let Some(value) = lock(&self.secrets_read).get(key) {
            return Ok(value.clone());
        }
        let store = self
            .runner
            .secrets
            .as_ref()
            .ok_or("no vault is open for this run")?;
        let value = store.secret(key)?.ok_or_else(|| {
            format!("no secret `{key}` in the vault: add it with `codexos vault put {key}`")
        })?;
        lock(&self.redactor).add(key, &value);
        lock(&self.secrets_read).insert(key.to_owned(), value.clone());
        Ok(value)
    }

    /// Puts a retry's recorded outputs in place (and reads again the secrets of the `vault`
    /// nodes among them), writing them to the new trace so a retry can itself be retried.
    fn replay(&self, scope: &Scope<'_>, seed: &Seed) {
        for (node, output) in &seed.outputs {
            let spec = &scope.graph.nodes[*node];
            if let NodeKind::Vault { key, var } = &spec.kind
                && let Ok(value) = self.secret(key)
            {
                lock(&scope.vars).insert(var.clone().unwrap_or_else(|| key.clone()), value);
            }
            lock(&scope.outputs).insert(*node, output.clone());
            let record = RunEvent::NodeFinished {
                node: spec.id.clone(),
                output: output.clone(),
                elapsed_ms: 0,
                model: None,
                usage: TokenUsage::default(),
                note: seed
                    .retry_of
                    .as_ref()
                    .map(|run| format!("replayed from run {run}")),
                sources: Vec::new(),
            };
            self.write_trace_line(&trace::event_line(&record, 0));
            let mut book = lock(&self.book);
            let entry = book.record(&spec.id, spec.ty.as_str());
            entry.status = NodeStatus::Replayed;
            entry.output = Some(self.redact(output));
        }
    }

    fn walk<'a>(&'a self, scope: &'a Scope<'a>, mut walk: Walk) -> BoxFuture<'a, Ended> {
        async move {
            let graph = scope.graph;
            let mut running = FuturesUnordered::new();
            loop {
                for Ready { node, sources } in walk.start_ready(graph) {
                    let input = self.default_input(scope, node, &sources);
                    running.push(
                        self.run_node(scope, node, input, 0, None)
                            .map(move |result| (node, result)),
                    );
                }
                if running.is_empty() {
                    return Ended::Failed {
                        problem: Problem {
                            node: None,
                            message: "the run ended without reaching an `exit` node".to_owned(),
                        },
                        frontier: Vec::new(),
                    };
                }
                let finished = tokio::select! {
                    finished = running.next() => finished,
                    () = self.cancel.cancelled() => None,
                    () = tokio::time::sleep_until(self.deadline) => None,
                };
                let stop = if self.cancel.is_cancelled() {
                    self.stop_reason()
                } else {
                    Stop::TimedOut
                };
                match finished {
                    Some((node, Ok(outcome))) => {
                        if outcome.exit {
                            drop(running);
                            self.mark_stopped(scope, &walk.frontier(), "the run reached its exit");
                            return Ended::Exited(outcome.output);
                        }
                        walk.finish(node, &outcome.next);
                    }
                    Some((node, Err(Failure::Failed(message)))) => {
                        let frontier = walk.frontier();
                        drop(running);
                        let label = scope.label(node);
                        self.mark_stopped(
                            scope,
                            &frontier,
                            &format!("stopped: node `{label}` failed"),
                        );
                        return Ended::Failed {
                            problem: Problem {
                                node: Some(label),
                                message,
                            },
                            frontier,
                        };
                    }
                    Some((_, Err(Failure::Stopped(_)))) | None => {
                        let frontier = walk.frontier();
                        let reason = reason_of(finished.as_ref(), stop);
                        if reason == Stop::TimedOut {
                            self.timed_out.store(true, Ordering::Relaxed);
                        }
                        // Running nodes see the token and clean up (a tool kills its process
                        // group) before they are dropped.
                        self.cancel.cancel();
                        let drained = async { while running.next().await.is_some() {} };
                        let _ = tokio::time::timeout(STOP_GRACE, drained).await;
                        drop(running);
                        let why = match reason {
                            Stop::Cancelled => "cancelled",
                            Stop::TimedOut => "stopped: the run's time limit passed",
                        };
                        self.mark_stopped(scope, &frontier, why);
                        return Ended::Stopped { reason, frontier };
                    }
                }
            }
        }
        .boxed()
    }

    /// Nodes that were running when the walk stopped get a `NodeFailed` saying why.
    fn mark_stopped(&self, scope: &Scope<'_>, frontier: &[usize], why: &str) {
        for &node in frontier {
            let label = scope.label(node);
            let was_running = {
                let mut book = lock(&self.book);
                let was_running = book.running.contains(&label);
                book.running.retain(|id| *id != label);
                was_running
            };
            if was_running {
                self.emit(RunEvent::NodeFailed {
                    node: label,
                    error: why.to_owned(),
                    elapsed_ms: 0,
                });
            }
        }
    }

    /// A node's default input: the outputs of the nodes that sent control to it, or, for a node
    /// a retry starts from, of its predecessors that have one; the run's input for the entry.
    fn default_input(&self, scope: &Scope<'_>, node: usize, sources: &[usize]) -> String {
        let outputs = lock(&scope.outputs);
        let from: Vec<usize> = if sources.is_empty() {
            (0..scope.graph.nodes.len())
                .filter(|&other| scope.graph.control_edges(other).contains(&node))
                .filter(|other| outputs.contains_key(other))
                .collect()
        } else {
            sources.to_vec()
        };
        if from.is_empty() {
            return scope.input.clone();
        }
        from.iter()
            .filter_map(|source| outputs.get(source).map(String::as_str))
            .collect::<Vec<_>>()
            .join("\n\n")
    }

    fn run_node<'a>(
        &'a self,
        scope: &'a Scope<'a>,
        node: usize,
        input: String,
        iteration: u32,
        feedback: Option<Feedback>,
    ) -> BoxFuture<'a, Result<Outcome, Failure>> {
        async move {
            let spec = &scope.graph.nodes[node];
            let label = scope.label(node);
            let step = self.steps.fetch_add(1, Ordering::Relaxed) + 1;
            if step > self.runner.limits.max_steps {
                let message = format!(
                    "the run reached its bound of {} steps before this node could run again: the flow loops without end (add a condition that leaves the loop, or raise the bound)",
                    self.runner.limits.max_steps
                );
                self.emit(RunEvent::NodeFailed {
                    node: label.clone(),
                    error: message.clone(),
                    elapsed_ms: 0,
                });
                return Err(Failure::Failed(message));
            }
            {
                let mut book = lock(&self.book);
                book.record(&label, spec.ty.as_str()).runs += 1;
                book.running.push(label.clone());
            }
            self.emit(RunEvent::NodeStarted {
                node: label.clone(),
                node_type: spec.ty.as_str().to_owned(),
                iteration,
            });
            let started = Instant::now();
            let result = match self
                .execute_node(scope, node, &label, input, feedback)
                .await
            {
                // A node that fails because it was cancelled (a tool reporting it) was stopped.
                Err(Failure::Failed(_)) if self.cancel.is_cancelled() => {
                    Err(Failure::Stopped(self.stop_reason()))
                }
                other => other,
            };
            let elapsed_ms = started.elapsed().as_millis() as u64;
            lock(&self.book).running.retain(|id| *id != label);
            match result {
                Ok(outcome) => {
                    lock(&scope.outputs).insert(node, outcome.output.clone());
                    let output = self.redact(&outcome.output);
                    {
                        let mut book = lock(&self.book);
                        book.sources.extend(outcome.sources.iter().cloned());
                        let record = book.record(&label, spec.ty.as_str());
                        record.status = NodeStatus::Succeeded;
                        record.output = Some(output.clone());
                        record.error = None;
                        record.elapsed_ms += elapsed_ms;
                        record.usage.add(outcome.usage);
                        record.model.clone_from(&outcome.model);
                        record.sources.clone_from(&outcome.sources);
                    }
                    self.emit(RunEvent::NodeFinished {
                        node: label,
                        output,
                        elapsed_ms,
                        model: outcome.model.clone(),
                        usage: outcome.usage,
                        note: outcome.note.clone(),
                        sources: outcome.sources.clone(),
                    });
                    Ok(outcome)
                }
                Err(failure) => {
                    let error = match &failure {
                        Failure::Failed(message) => self.redact(message),
                        Failure::Stopped(Stop::Cancelled) => "cancelled".to_owned(),
                        Failure::Stopped(Stop::TimedOut) => {
                            "stopped: the run's time limit passed".to_owned()
                        }
                    };
                    {
                        let mut book = lock(&self.book);
                        let record = book.record(&label, spec.ty.as_str());
                        record.status = match failure {
                            Failure::Failed(_) => NodeStatus::Failed,
                            Failure::Stopped(_) => NodeStatus::Stopped,
                        };
                        record.error = Some(error.clone());
                        record.elapsed_ms += elapsed_ms;
                    }
                    self.emit(RunEvent::NodeFailed {
                        node: label,
                        error,
                        elapsed_ms,
                    });
                    Err(failure)
                }
            }
        }
        .boxed()
    }

    fn render(&self, scope: &Scope<'_>, field: &str, text: &str) -> Result<String, String> {
        if !template::has_references(text) {
            return Ok(text.to_owned());
        }
        template::render(text, &mut Values { run: self, scope })
            .map_err(|error| format!("`{field}` {error}"))
    }

    /// Renders every string inside a JSON value (tool arguments).
    fn render_value(&self, scope: &Scope<'_>, field: &str, value: &Value) -> Result<Value, String> {
        Ok(match value {
            Value::String(text) => Value::String(self.render(scope, field, text)?),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| self.render_value(scope, field, item))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(members) => Value::Object(
                members
                    .iter()
                    .map(|(key, item)| {
                        Ok((
                            key.clone(),
                            self.render_value(scope, &format!("{field}.{key}"), item)?,
                        ))
                    })
                    .collect::<Result<_, String>>()?,
            ),
            other => other.clone(),
        })
    }

    fn evaluate(
        &self,
        scope: &Scope<'_>,
        field: &str,
        source: &str,
        expr: &Expr,
    ) -> Result<bool, String> {
        let mut render = |operand: &crate::expr::Operand| {
            template::render(&operand.template, &mut Values { run: self, scope }).map_err(|error| {
                format!(
                    "`{field}` at column {}: {}",
                    source[..operand.offset.min(source.len())].chars().count() + 1,
                    error.message
                )
            })
        };
        match expr.eval(source, &mut render)? {
            Ok(held) => Ok(held),
            Err(error) => Err(format!("`{field}` {error}")),
        }
    }

    async fn execute_node(
        &self,
        scope: &Scope<'_>,
        node: usize,
        label: &str,
        input: String,
        feedback: Option<Feedback>,
    ) -> Result<Outcome, Failure> {
        let spec = &scope.graph.nodes[node];
        let passing = |output: String, note: Option<String>| Outcome {
            output,
            next: spec.next.clone(),
            note,
            ..Outcome::default()
        };
        match &spec.kind {
            NodeKind::Entry => Ok(passing(input, None)),
            NodeKind::Exit { output } => {
                let output = match output {
                    Some(template) => self.render(scope, "output", template)?,
                    None => input,
                };
                Ok(Outcome {
                    output,
                    exit: true,
                    ..Outcome::default()
                })
            }
            NodeKind::Condition {
                source,
                expr,
                then,
                otherwise,
            } => {
                let held = self.evaluate(scope, "if", source, expr)?;
                let (branch, target) = if held {
                    ("held", *then)
                } else {
                    ("did not hold", *otherwise)
                };
                let note = format!("`if` {branch}: going to `{}`", scope.graph.nodes[target].id);
                Ok(Outcome {
                    output: input,
                    next: vec![target],
                    note: Some(note),
                    ..Outcome::default()
                })
            }
            NodeKind::Vault { key, var } => {
                let value = self.secret(key)?;
                let name = var.clone().unwrap_or_else(|| key.clone());
                lock(&scope.vars).insert(name.clone(), value);
                Ok(passing(
                    input,
                    Some(format!(
                        "secret `{key}` is available as {{{{vars.{name}}}}}"
                    )),
                ))
            }
            NodeKind::Tool { tool, args } => {
                let args = self.render_value(scope, "args", args)?;
                let output = self.call_tool(label, tool, args).await?;
                Ok(passing(output, None))
            }
            NodeKind::Rag { query, k } => {
                let query = self.render(scope, "query", query)?;
                let retriever = self
                    .runner
                    .retriever
                    .as_ref()
                    .ok_or("index not built: run `codexos index`")?;
                let chunks = tokio::select! {
                    chunks = retriever.retrieve(&query, *k) => chunks?,
                    () = self.cancel.cancelled() => return Err(Failure::Stopped(self.stop_reason())),
                };
                Ok(Outcome {
                    output: format_chunks(&chunks),
                    next: spec.next.clone(),
                    sources: chunks.iter().map(Source::from).collect(),
                    note: Some(format!("{} chunks for \"{query}\"", chunks.len())),
                    ..Outcome::default()
                })
            }
            NodeKind::Llm(llm) => {
                let mut messages = Vec::new();
                if let Some(system) = &llm.system {
                    messages.push(Message::system(self.render(scope, "system", system)?));
                }
                let prompt = match &llm.prompt {
                    Some(prompt) => self.render(scope, "prompt", prompt)?,
                    None => input,
                };
                messages.push(Message::user(prompt));
                if let Some(feedback) = feedback {
                    messages.push(Message::assistant(feedback.previous));
                    messages.push(Message::user(feedback.critique));
                }
                let answer = self.call_llm(label, llm, &llm.models, messages).await?;
                Ok(Outcome {
                    output: answer.text,
                    next: spec.next.clone(),
                    model: Some(answer.model),
                    usage: answer.usage,
                    ..Outcome::default()
                })
            }
            NodeKind::Reflect(reflect) => self.reflect(scope, node, label, reflect).await,
            NodeKind::Flow { path, input: field } => {
                let input = match field {
                    Some(template) => self.render(scope, "input", template)?,
                    None => input,
                };
                let output = self.sub_flow(scope, label, path, input).await?;
                Ok(passing(output, None))
            }
        }
    }

    /// Who a node's tool calls come from, for the gate, and the channel its decisions come
    /// back on: [`RunState::drive`] records them as they arrive.
    fn caller(&self, label: &str) -> (Caller, mpsc::UnboundedReceiver<Decision>) {
        let (sender, decisions) = mpsc::unbounded_channel();
        let caller = Caller {
            cancel: self.cancel.child_token(),
            asker: self.asker(label),
            audit: Arc::new(move |decision: &Decision| {
                let _ = sender.send(decision.clone());
            }),
        };
        (caller, decisions)
    }

    fn asker(&self, label: &str) -> String {
        format!("node `{label}` of flow `{}`", self.flow_id)
    }

    fn record_decision(&self, label: &str, decision: Decision) {
        self.emit(RunEvent::Decision {
            node: Some(label.to_owned()),
            decision,
        });
    }

    /// Asks the runner's gate about something the runner itself would do, and records the
    /// decision.
    async fn decide(&self, label: &str, tool: &str, action: Action) -> Decision {
        let asker = self.asker(label);
        let decision = self.runner.gate.decide(tool, &action, Some(&asker)).await;
        self.record_decision(label, decision.clone());
        decision
    }

    async fn definitions(&self, label: &str, names: &[String]) -> Vec<ToolDefinition> {
        let Some(tools) = &self.runner.tools else {
            return Vec::new();
        };
        let (caller, mut decisions) = self.caller(label);
        let mut listing = tools.definitions(names, caller);
        let definitions = loop {
            tokio::select! {
                definitions = &mut listing => break definitions,
                Some(decision) = decisions.recv() => self.record_decision(label, decision),
            }
        };
        while let Ok(decision) = decisions.try_recv() {
            self.record_decision(label, decision);
        }
        definitions
    }

    async fn call_tool(&self, label: &str, tool: &str, args: Value) -> Result<String, Failure> {
        let tools = self
            .runner
            .tools
            .as_ref()
            .ok_or_else(|| format!("no tools are available to call `{tool}`"))?;
        let limit = tools
            .timeout(tool)
            .unwrap_or(self.runner.limits.tool_timeout);
        let (caller, mut decisions) = self.caller(label);
        let cancel = caller.cancel.clone();
        let mut call = tools.call(tool, args, caller);
        let mut deadline = tokio::time::Instant::now() + limit;
        let finished = loop {
            tokio::select! {
                result = &mut call => break Some(result),
                Some(decision) = decisions.recv() => {
                    // The tool's time starts once the gate has decided: a user reading a
                    // prompt is not the tool being slow.
                    deadline = tokio::time::Instant::now() + limit;
                    self.record_decision(label, decision);
                }
                () = tokio::time::sleep_until(deadline) => break None,
                () = self.cancel.cancelled() => break None,
            }
        };
        while let Ok(decision) = decisions.try_recv() {
            self.record_decision(label, decision);
        }
        let Some(result) = finished else {
            // Let the tool see its token and stop its processes before it is dropped.
            cancel.cancel();
            let _ = tokio::time::timeout(STOP_GRACE, call).await;
            if self.cancel.is_cancelled() {
                return Err(Failure::Stopped(self.stop_reason()));
            }
            return Err(Failure::Failed(format!(
                "tool `{tool}` did not finish within {} and was stopped",
                seconds(limit)
            )));
        };
        match result {
            Ok(Value::String(text)) => Ok(text),
            Ok(value) => Ok(serde_json::to_string_pretty(&value).unwrap_or_default()),
            Err(error) => Err(Failure::Failed(format!("tool `{tool}`: {error}"))),
        }
    }

    async fn call_llm(
        &self,
        label: &str,
        llm: &LlmSpec,
        models: &[String],
        mut messages: Vec<Message>,
    ) -> Result<LlmAnswer, Failure> {
        let router = self
            .runner
            .router
            .as_ref()
            .ok_or("no LLM provider is configured for this run")?;
        let (first, fallbacks) = models.split_first().ok_or("`model` names no model")?;
        let definitions = if llm.tools.is_empty() {
            Vec::new()
        } else {
            self.definitions(label, &llm.tools).await
        };
        let mut usage = TokenUsage::default();
        let mut rounds = 0;
        loop {
            let mut request = ChatRequest::new(first.clone(), messages.clone());
            request.fallback_models = fallbacks.to_vec();
            request.temperature = llm.temperature;
            request.max_tokens = llm.max_tokens;
            request.tools = definitions.clone();
            let stream = tokio::select! {
                stream = router.stream(request, self.cancel.child_token()) => stream,
                () = self.cancel.cancelled() => return Err(Failure::Stopped(self.stop_reason())),
            };
            let mut stream = match stream {
                Ok(stream) => stream,
                Err(_) if self.cancel.is_cancelled() => {
                    return Err(Failure::Stopped(self.stop_reason()));
                }
                Err(error) => return Err(Failure::Failed(error.to_string())),
            };
            for warning in std::mem::take(&mut stream.warnings) {
                self.warn(Some(label.to_owned()), warning);
            }
            let model = stream.answered_by.to_string();
            let mut text = String::new();
            let mut calls = Vec::new();
            let mut pending = TokenBuffer::default();
            while let Some(event) = stream.next().await {
                match event {
                    Ok(StreamEvent::TextDelta(delta)) => {
                        text.push_str(&delta);
                        if let Some(ready) = pending.push(&delta) {
                            self.emit(RunEvent::Token {
                                node: label.to_owned(),
                                text: ready,
                            });
                        }
                    }
                    Ok(StreamEvent::ToolCall(call)) => calls.push(call),
                    Ok(StreamEvent::Usage(reported)) => usage.add(TokenUsage {
                        prompt_tokens: u64::from(reported.prompt_tokens),
                        completion_tokens: u64::from(reported.completion_tokens),
                    }),
                    Ok(StreamEvent::Warning(warning)) => {
                        self.warn(Some(label.to_owned()), warning);
                    }
                    Ok(StreamEvent::ToolCallDelta(_) | StreamEvent::Finished(_)) => {}
                    Err(_) if self.cancel.is_cancelled() => {
                        return Err(Failure::Stopped(self.stop_reason()));
                    }
                    Err(error) => return Err(Failure::Failed(error.to_string())),
                }
            }
            if let Some(rest) = pending.flush() {
                self.emit(RunEvent::Token {
                    node: label.to_owned(),
                    text: rest,
                });
            }
            if calls.is_empty() {
                return Ok(LlmAnswer { text, model, usage });
            }
            rounds += 1;
            if rounds > self.runner.limits.max_tool_rounds {
                return Err(Failure::Failed(format!(
                    "the model kept calling tools after {} rounds",
                    self.runner.limits.max_tool_rounds
                )));
            }
            messages.push(Message::assistant_tool_calls(text, calls.clone()));
            for call in calls {
                let result = if llm.tools.contains(&call.name) {
                    match self
                        .call_tool(label, &call.name, call.arguments.clone())
                        .await
                    {
                        Ok(output) => output,
                        Err(Failure::Failed(message)) => format!("error: {message}"),
                        Err(stopped) => return Err(stopped),
                    }
                } else {
                    // What a model may do is what its node lists, whatever the model was told
                    // by the text it read: the call is refused, recorded, and the model told.
                    let listed = llm.tools.clone();
                    let decision = self
                        .decide(label, &call.name, Action::UnlistedTool { listed })
                        .await;
                    let tools = if llm.tools.is_empty() {
                        "none".to_owned()
                    } else {
                        llm.tools.join(", ")
                    };
                    format!(
                        "error: refused: `{}` is not one of this node's tools ({}); its tools: {tools}",
                        call.name, decision.reason
                    )
                };
                messages.push(Message::tool_result(call.id, result));
            }
        }
    }

    async fn reflect(
        &self,
        scope: &Scope<'_>,
        node: usize,
        label: &str,
        reflect: &ReflectSpec,
    ) -> Result<Outcome, Failure> {
        let spec = &scope.graph.nodes[node];
        let target = reflect.target;
        let target_id = &scope.graph.nodes[target].id;
        let mut usage = TokenUsage::default();
        let mut iterations = 0;
        let held = loop {
            let previous = lock(&scope.outputs).get(&target).cloned().ok_or_else(|| {
                format!("`target`: node `{target_id}` has not run yet, so there is nothing to reflect on")
            })?;
            if let Some((source, expr)) = &reflect.until
                && self.evaluate(scope, "until", source, expr)?
            {
                break true;
            }
            if iterations == reflect.max_iterations {
                break false;
            }
            iterations += 1;
            let request = match &reflect.prompt {
                Some(prompt) => self.render(scope, "prompt", prompt)?,
                None => format!("Critique this answer and say how to improve it:\n\n{previous}"),
            };
            let critique = if reflect.models.is_empty() {
                request
            } else {
                let critic = LlmSpec {
                    models: reflect.models.clone(),
                    system: None,
                    prompt: None,
                    temperature: None,
                    max_tokens: None,
                    tools: Vec::new(),
                };
                let answer = self
                    .call_llm(label, &critic, &critic.models, vec![Message::user(request)])
                    .await?;
                usage.add(answer.usage);
                answer.text
            };
            let input = self.default_input(scope, target, &[]);
            let feedback = Feedback { previous, critique };
            self.run_node(scope, target, input, iterations, Some(feedback))
                .await?;
        };
        let output = lock(&scope.outputs)
            .get(&target)
            .cloned()
            .unwrap_or_default();
        let note = match (&reflect.until, held) {
            (Some(_), true) => format!("`until` held after {iterations} re-runs of `{target_id}`"),
            (Some(_), false) => format!(
                "`until` still did not hold after {iterations} re-runs of `{target_id}` (the bound)"
            ),
            (None, _) => format!("`{target_id}` ran again {iterations} times"),
        };
        if reflect.until.is_some() && !held {
            self.warn(Some(label.to_owned()), note.clone());
        }
        Ok(Outcome {
            output,
            next: spec.next.clone(),
            usage,
            note: Some(note),
            ..Outcome::default()
        })
    }

    async fn sub_flow(
        &self,
        scope: &Scope<'_>,
        label: &str,
        path: &str,
        input: String,
    ) -> Result<String, Failure> {
        let dir = scope.flow_dir.as_ref().ok_or_else(|| {
            format!("`flow`: cannot find `{path}`: sub-flow paths are relative to the flow file, and this flow is not a file")
        })?;
        if scope.depth + 1 > self.runner.limits.max_depth {
            return Err(Failure::Failed(format!(
                "`flow`: sub-flows nest deeper than {} levels (does a flow call itself?)",
                self.runner.limits.max_depth
            )));
        }
        let file_path = dir.join(path);
        let inside_workspace = self
            .confine_to
            .as_deref()
            .is_none_or(|root| place_relative(root, dir, path) != Placement::Outside);
        let action = Action::SubFlow {
            path: path.to_owned(),
            inside_workspace,
        };
        let decision = self.decide(label, "flow", action).await;
        if !decision.allowed() {
            return Err(Failure::Failed(format!(
                "`flow`: refused: {}",
                decision.reason
            )));
        }
        let text = std::fs::read_to_string(&file_path)
            .map_err(|error| format!("`flow`: cannot read {}: {error}", file_path.display()))?;
        let file = FlowFile::parse(&text);
        let graph = Graph::compile(
            &file,
            &RunCatalog::new(Some(&file_path), self.confine_to.as_deref()),
        )
        .map_err(|problems| format!("`flow`: {path} has errors:{}", list(&problems)))?;
        let inner = Scope {
            graph: &graph,
            flow_dir: file_path.parent().map(Path::to_owned),
            prefix: format!("{label}/"),
            depth: scope.depth + 1,
            input,
            outputs: Mutex::new(HashMap::new()),
            vars: Mutex::new(HashMap::new()),
        };
        match self.walk(&inner, Walk::new(&graph)).await {
            Ended::Exited(output) => Ok(output),
            Ended::Failed { problem, .. } => {
                Err(Failure::Failed(format!("sub-flow {path}: {problem}")))
            }
            Ended::Stopped { reason, .. } => Err(Failure::Stopped(reason)),
        }
    }

    /// The run's result, and its trace writer, still to be synced to disk.
    fn finish(
        self,
        graph: &Graph,
        ended: Ended,
        retry_of: Option<String>,
    ) -> (RunResult, Option<TraceWriter>) {
        let label = |frontier: &[usize]| -> Vec<String> {
            frontier
                .iter()
                .map(|&n| graph.nodes[n].id.clone())
                .collect()
        };
        let (status, output, error, frontier) = match ended {
            Ended::Exited(output) => (
                RunStatus::Succeeded,
                Some(self.redact(&output)),
                None,
                Vec::new(),
            ),
            Ended::Failed { problem, frontier } => {
                let problem = Problem {
                    node: problem.node,
                    message: self.redact(&problem.message),
                };
                let text = problem.to_string();
                lock(&self.book).errors.push(problem);
                (RunStatus::Failed, None, Some(text), label(&frontier))
            }
            Ended::Stopped { reason, frontier } => {
                let (status, message) = match reason {
                    Stop::Cancelled => (RunStatus::Cancelled, "the run was cancelled".to_owned()),
                    Stop::TimedOut => (
                        RunStatus::Failed,
                        format!(
                            "the run did not finish within its time limit of {}",
                            seconds(self.runner.limits.timeout)
                        ),
                    ),
                };
                lock(&self.book).errors.push(Problem {
                    node: None,
                    message: message.clone(),
                });
                (status, None, Some(message), label(&frontier))
            }
        };
        let elapsed_ms = self.elapsed_ms();
        self.emit(RunEvent::Finished {
            run_id: self.run_id.clone(),
            status,
            output: output.clone(),
            error,
            frontier,
            elapsed_ms,
        });
        let writer = lock(&self.trace).take();
        let book = std::mem::take(&mut *lock(&self.book));
        let mut usage = TokenUsage::default();
        for node in &book.nodes {
            usage.add(node.usage);
        }
        let result = RunResult {
            run_id: self.run_id.clone(),
            flow_id: graph.flow_id.clone(),
            status,
            output,
            nodes: book.nodes,
            usage,
            errors: book.errors,
            warnings: book.warnings,
            sources: book.sources,
            elapsed_ms,
            trace: self.trace_path.clone(),
            retry_of,
            agent_id: self.agent_id.clone(),
        };
        (result, writer)
    }
}

/// A stop that reached the walk through a node, else through the run's own token or clock.
fn reason_of(finished: Option<&(usize, Result<Outcome, Failure>)>, fallback: Stop) -> Stop {
    match finished {
        Some((_, Err(Failure::Stopped(reason)))) => *reason,
        _ => fallback,
    }
}

/// `120 s`, `0.3 s`.
fn seconds(duration: Duration) -> String {
    let value = duration.as_secs_f64();
    if value.fract() == 0.0 {
        format!("{value:.0} s")
    } else {
        format!("{value:.1} s")
    }
}

struct LlmAnswer {
    text: String,
    model: String,
    usage: TokenUsage,
}

fn format_chunks(chunks: &[SearchHit]) -> String {
    chunks
        .iter()
        .map(|chunk| {
            format!(
                "{}:{}-{}\n{}",
                chunk.path, chunk.start_line, chunk.end_line, chunk.text
            )
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Holds streamed text back to the last whitespace, so a secret split over two tokens is
/// redacted whole before it leaves (secrets are single words).
#[derive(Default)]
struct TokenBuffer {
    held: String,
}

impl TokenBuffer {
    fn push(&mut self, delta: &str) -> Option<String> {
        self.held.push_str(delta);
        let cut = self
            .held
            .char_indices()
            .rev()
            .find(|(_, c)| c.is_whitespace())
            .map(|(index, c)| index + c.len_utf8())?;
        let rest = self.held.split_off(cut);
        Some(std::mem::replace(&mut self.held, rest))
    }

    fn flush(&mut self) -> Option<String> {
        (!self.held.is_empty()).then(|| std::mem::take(&mut self.held))
    }
}

struct Values<'a> {
    run: &'a RunState<'a>,
    scope: &'a Scope<'a>,
}

impl Lookup for Values<'_> {
    fn lookup(&mut self, reference: Reference<'_>) -> Result<Cow<'_, str>, String> {
        match reference {
            Reference::Input => Ok(Cow::Borrowed(&self.scope.input)),
            Reference::Context => Ok(Cow::Borrowed(&self.run.context)),
            Reference::NodeOutput(id) => {
                let index = self
                    .scope
                    .graph
                    .index(id)
                    .ok_or_else(|| format!("no node `{id}` in this flow"))?;
                lock(&self.scope.outputs)
                    .get(&index)
                    .cloned()
                    .map(Cow::Owned)
                    .ok_or_else(|| format!("node `{id}` has not run in this run"))
            }
            Reference::Vault(key) => self
                .run
                .secret(key)
                .map(|value| Cow::Owned(value.expose().to_owned())),
            Reference::Var(name) => lock(&self.scope.vars)
                .get(name)
                .map(|value| Cow::Owned(value.expose().to_owned()))
                .ok_or_else(|| {
                    format!("no `vault` node with `\"as\": \"{name}\"` has run before this node")
                }),
        }
    }
}

/// `event` with every free-text field passed through `redactor`.
fn redact_event(event: RunEvent, redactor: &Redactor) -> RunEvent {
    if redactor.is_empty() {
        return event;
    }
    let r = |text: String| match redactor.redact(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(redacted) => redacted,
    };
    match event {
        RunEvent::Started {
            run_id,
            flow_id,
            retry_of,
        } => RunEvent::Started {
            run_id,
            flow_id,
            retry_of,
        },
        RunEvent::NodeStarted { .. } => event,
        RunEvent::Token { node, text } => RunEvent::Token {
            node,
            text: r(text),
        },
        RunEvent::NodeFinished {
            node,
            output,
            elapsed_ms,
            model,
            usage,
            note,
            sources,
        } => RunEvent::NodeFinished {
            node,
            output: r(output),
            elapsed_ms,
            model,
            usage,
            note: note.map(r),
            sources,
        },
        RunEvent::NodeFailed {
            node,
            error,
            elapsed_ms,
        } => RunEvent::NodeFailed {
            node,
            error: r(error),
            elapsed_ms,
        },
        RunEvent::Warning { node, message } => RunEvent::Warning {
            node,
            message: r(message),
        },
        RunEvent::Decision { node, decision } => RunEvent::Decision {
            node,
            decision: Decision {
                action: redact_action(decision.action, &r),
                reason: r(decision.reason),
                ..decision
            },
        },
        RunEvent::Finished {
            run_id,
            status,
            output,
            error,
            frontier,
            elapsed_ms,
        } => RunEvent::Finished {
            run_id,
            status,
            output: output.map(r),
            error: error.map(r),
            frontier,
            elapsed_ms,
        },
    }
}

/// `action` with every free-text field passed through `r` (a URL or a command may carry a secret).
fn redact_action(action: Action, r: &impl Fn(String) -> String) -> Action {
    match action {
        Action::Read { path } => Action::Read { path: r(path) },
        Action::Write { path } => Action::Write { path: r(path) },
        Action::Command { tool, command } => Action::Command {
            tool,
            command: r(command),
        },
        Action::Plugin {
            name,
            file,
            command,
            hash,
        } => Action::Plugin {
            name,
            file,
            command: r(command),
            hash,
        },
        Action::McpServer {
            name,
            command,
            hash,
        } => Action::McpServer {
            name,
            command: r(command),
            hash,
        },
        Action::Fetch { method, url } => Action::Fetch {
            method,
            url: r(url),
        },
        Action::SubFlow {
            path,
            inside_workspace,
        } => Action::SubFlow {
            path: r(path),
            inside_workspace,
        },
        other @ (Action::Search
        | Action::McpTool { .. }
        | Action::UnlistedTool { .. }
        | Action::Internal) => other,
    }
}

#[cfg(test)]
mod tests {
    use super::TokenBuffer;

    #[test]
    fn streamed_text_is_held_back_to_the_last_space() {
        let mut buffer = TokenBuffer::default();
        assert_eq!(
            buffer.push("the key is sk-"),
            Some("the key is ".to_owned())
        );
        assert_eq!(buffer.push("abc"), None);
        assert_eq!(buffer.push("123 ok"), Some("sk-abc123 ".to_owned()));
        assert_eq!(buffer.flush(), Some("ok".to_owned()));
        assert_eq!(buffer.flush(), None);
    }
}
