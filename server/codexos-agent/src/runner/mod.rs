//! The runner: the [`Runner`] builder and the start of a run. A run drives the pure [`Walk`]
//! with async node execution ([`drive`]), streams [`RunEvent`]s, records the trace and builds
//! the [`RunResult`]; each node type runs in its own module under [`nodes`], the `llm` tool loop
//! in [`tool_loop`], sub-flows in [`sub_flow`].

mod attempts;
mod catalog;
mod drive;
mod nodes;
mod redact;
mod state;
mod sub_flow;
mod tokens;
mod tool_calls;
mod tool_loop;
mod values;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use codexos_flow::FlowFile;
use codexos_llm::Router;
use codexos_policy::{Gate, PolicyGate};
use codexos_vault::Redactor;
use tokio_util::sync::CancellationToken;

use self::catalog::RunCatalog;
use self::state::{Book, RunState, Scope};
use crate::events::{EventSink, RunEvent, RunResult, RunStatus};
use crate::graph::{FlowProblem, Graph};
use crate::replay::{self, ForkedFrom, ReplayError, ReplayRequest};
use crate::services::{Retriever, SecretStore, ToolBox};
use crate::trace::{self, ContextFile, RunHeader, TraceError, TraceWriter};
use crate::walk::Walk;

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
            max_depth: codexos_flow::MAX_SUB_FLOW_DEPTH,
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
    #[error("cannot replay run `{run_id}`: {error}")]
    CannotReplay {
        run_id: String,
        error: Box<ReplayError>,
    },
    #[error("cannot replay run `{run_id}`: {reason}")]
    CannotReadFlow { run_id: String, reason: String },
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
        let (flow_text, flow_path) = flow_of(header).map_err(cannot)?;
        let mut graph = self.compile(&flow_text, flow_path.as_deref())?;
        // A retry of a fork keeps the fork's prompts and models (its input and set outputs are
        // in its trace already).
        if let Some(fork) = &header.forked_from
            && let Some(edited) = self
                .compile_edited(&flow_text, &fork.set, flow_path.as_deref())
                .map_err(|error| cannot(format!("its fork's edits no longer apply: {error}")))?
        {
            graph = edited;
        }
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
            forked_from: header.forked_from.clone(),
            outputs,
            edited: Vec::new(),
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

    /// Runs a recorded run again from one of its top-level nodes, as a new run linked to it: the
    /// nodes that finished before that node keep their recorded outputs, that node and what
    /// follows run with the flow file as it is today and the request's edits (a fork; see
    /// [`replay`] for the grammar). A wrong run, node or edit is an error and nothing runs.
    pub async fn replay(
        &self,
        request: ReplayRequest,
        events: EventSink,
        cancel: CancellationToken,
    ) -> Result<RunResult, RunError> {
        let dir = self.runs_dir.as_deref().ok_or(RunError::NoTraces)?;
        let recorded = trace::load(dir, &request.run_id)?;
        let header = &recorded.header;
        let run_id = header.run_id.clone();
        let (flow_text, flow_path) =
            flow_of(header).map_err(|reason| RunError::CannotReadFlow {
                run_id: run_id.clone(),
                reason,
            })?;
        let graph = self.compile(&flow_text, flow_path.as_deref())?;
        let cannot = |error: ReplayError| RunError::CannotReplay {
            run_id: run_id.clone(),
            error: Box::new(error),
        };
        let plan = replay::plan(&recorded, &graph, &request).map_err(cannot)?;
        let graph = self
            .compile_edited(&flow_text, &request.set, flow_path.as_deref())
            .map_err(cannot)?
            .unwrap_or(graph);
        let seed = Seed {
            retry_of: None,
            forked_from: Some(ForkedFrom {
                run_id,
                node: request.from.clone(),
                set: request.set.clone(),
            }),
            outputs: plan.outputs,
            edited: plan.edited,
        };
        let request = RunRequest {
            flow_text,
            flow_path,
            input: plan.input,
            context: header.context.clone(),
            agent_id: header.agent_id.clone(),
        };
        let walk = Walk::resume(&plan.frontier);
        self.execute(request, graph, walk, seed, events, cancel)
            .await
    }

    /// The flow with a fork's node edits written in, checked again; `None` when `set` edits no
    /// node.
    fn compile_edited(
        &self,
        text: &str,
        set: &BTreeMap<String, String>,
        path: Option<&Path>,
    ) -> Result<Option<Graph>, ReplayError> {
        let catalog = RunCatalog::new(path, self.workspace_root.as_deref());
        replay::edited_graph(text, set, &catalog)
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
            forked_from: seed.forked_from.clone(),
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
            forked_from: seed.forked_from.clone(),
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
        let (result, writer) = run.finish(&graph, ended, seed);
        if let Some(mut writer) = writer {
            // An fsync can take milliseconds on a busy disk: it runs off the async workers, so
            // many runs ending at once do not hold up the editor's requests.
            let _ = tokio::task::spawn_blocking(move || writer.sync()).await;
        }
        Ok(result)
    }
}

/// What a retry or a replay starts from.
#[derive(Default)]
struct Seed {
    retry_of: Option<String>,
    forked_from: Option<ForkedFrom>,
    outputs: Vec<(usize, String)>,
    /// Nodes whose output a fork's edit set.
    edited: Vec<usize>,
}

impl Seed {
    /// The run whose outputs this one starts with.
    fn parent(&self) -> Option<&str> {
        self.retry_of
            .as_deref()
            .or(self.forked_from.as_ref().map(|fork| fork.run_id.as_str()))
    }
}

/// A recorded run's flow: its file as it is today, else the text its trace holds.
fn flow_of(header: &RunHeader) -> Result<(String, Option<PathBuf>), String> {
    match (&header.flow_path, &header.flow_text) {
        (Some(path), _) => std::fs::read_to_string(path)
            .map(|text| (text, Some(path.clone())))
            .map_err(|error| format!("cannot read its flow {}: {error}", path.display())),
        (None, Some(text)) => Ok((text.clone(), None)),
        (None, None) => Err("its trace does not hold the flow".to_owned()),
    }
}

fn context_text(files: &[ContextFile]) -> String {
    files
        .iter()
        .map(|file| format!("{}:\n{}", file.path, file.text))
        .collect::<Vec<_>>()
        .join("\n\n")
}
