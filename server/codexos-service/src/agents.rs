//! Agent runs in a workspace, the same for `codexos run`, the language server and `codexos mcp`:
//! a [`Runner`] wired to the workspace's models (the environment's providers and the local model),
//! tools (built-ins, `tools/`, MCP servers), index, vault and trace folder, plus what a run needs
//! from the workspace — a [`RunRequest`] from a path or an inline flow, and the last failed run of
//! a flow (for "retry").
//!
//! [`Runner::run`] (on [`WorkspaceRunner::runner`]) is the one call that runs a flow: a
//! [`RunRequest`], an [`EventSink`] for progress and a [`CancellationToken`] to stop it; a flow
//! with errors never starts ([`RunError::FlowHasErrors`]). [`Runner::retry`] continues a failed
//! run from where it stopped; [`Runner::replay`] runs a recorded run again from any of its
//! top-level nodes, with edits ([`ReplayRequest`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use codexos_agent::{
    CancellationToken, ContextFile, EventSink, ForkedFrom, Limits, NodeRecord, NodeStatus, Problem,
    ReplayError, ReplayRequest, RunError, RunEvent, RunRequest, RunResult, RunStatus, Runner,
    Source, TokenUsage, ignore_events,
};
use codexos_agent::{RegistryTools, Retriever, SecretStore, runs_dir, trace};
use codexos_llm::Router;
pub use codexos_policy::{Answer, Approval, Approver, Decision, Prompt, Verdict};
use codexos_tools::WriteSink;
use codexos_vault::{Redactor, SecretString, Vault, VaultConfig};
use futures_util::future::BoxFuture;

use crate::index::{IndexMode, SearchHit, SearchMode, SearchQuery, WorkspaceIndex};
use crate::tools::ToolSettingsError;
use crate::workspace::{Workspace, is_flow_path};

/// Environment variables whose values are secrets too: hidden like vault values.
const SECRET_VARIABLES: &[&str] = &["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "VAULT_MASTER_KEY"];

/// Where `rag` nodes and the `search_workspace` tool find the workspace index.
#[derive(Clone)]
pub enum IndexAccess {
    /// Open the index on disk read-only at the first search (the command line and `codexos
    /// mcp`: another process, such as the language server, may be writing it).
    ReadOnly,
    /// The index this process already holds open, as the closure gives it (`None` while it is
    /// still opening). LMDB cannot open one environment twice in a process, so the language
    /// server must share its own.
    Shared(Arc<dyn Fn() -> Option<Arc<WorkspaceIndex>> + Send + Sync>),
}

impl IndexAccess {
    /// An index that is already open.
    pub fn open(index: Arc<WorkspaceIndex>) -> IndexAccess {
        IndexAccess::Shared(Arc::new(move || Some(index.clone())))
    }
}

/// How to build a workspace's runner.
#[derive(Clone)]
pub struct RunnerOptions {
    /// Wall time of one run.
    pub timeout: Duration,
    pub index: IndexAccess,
    /// Where `write_file` writes: the disk when `None`; the editor shows each write as an edit.
    pub writes: Option<Arc<dyn WriteSink>>,
    /// Who answers when the policy asks the user (a command, a new host, a plug-in).
    pub approval: Approval,
    /// This runner's runs are offline (tools reach no network, only local models answer),
    /// whatever `codexos.toml` says.
    pub offline: bool,
}

/// A runner for one workspace, and what went wrong while gathering its tools.
#[derive(Clone)]
pub struct WorkspaceRunner {
    pub runner: Runner,
    /// Tool sources that could not be loaded (a broken plug-in, an MCP server that did not
    /// start): the run goes on without them.
    pub tool_problems: Vec<String>,
}

impl Workspace {
    /// A runner for this workspace: providers from the user's and the workspace's configuration
    /// and the environment ([`Workspace::providers`]), keys from the vault, with the local model
    /// (when `codexos models install` installed it) last in every fallback chain, the
    /// workspace's tools, its index, its vault, and traces under
    /// `.codexos/runs/`. Everything its runs do passes the workspace's gate
    /// ([`Workspace::gate`]): the tools' calls, a model's call of a tool its node does not list,
    /// sub-flows (confined to the workspace). MCP servers start when a flow first wants them and
    /// the gate allows it; they stop when the runner is dropped.
    pub async fn runner(
        &self,
        options: RunnerOptions,
    ) -> Result<WorkspaceRunner, ToolSettingsError> {
        let root = self.root();
        let env: HashMap<String, String> = std::env::vars().collect();
        let offline = options.offline || self.requests()?.offline;
        let gate = self.gate(options.approval, options.offline)?;
        let (secrets, mut redactor) = secrets_and_redactor(root, &env);
        let vault_secret = |name: &str| secrets.secret(name);
        let providers = self.providers(&env, &vault_secret)?;
        for (variable, value) in &providers.env_secrets {
            redactor.add(variable, value);
        }
        let mut llm = providers.config;
        if offline {
            llm.go_offline();
        }
        let mut router = Router::new(&llm);
        if let Some(model) = local_model_file() {
            router.register(
                codexos_llm::config::LOCAL,
                Arc::new(codexos_local_model::LocalProvider::new(model)),
                None,
            );
        }
        let registry = self.tool_registry()?;
        let tool_problems = registry
            .problems()
            .iter()
            .map(ToString::to_string)
            .collect();
        let search = Arc::new(WorkspaceSearch::new(root, options.index));
        let mut context = self.tool_context(gate.clone())?.with_search(search.clone());
        if let Some(writes) = options.writes {
            context = context.with_write_sink(writes);
        }
        let tools = RegistryTools::new(registry, context);
        let runner = Runner::new()
            .with_router(Arc::new(router))
            .with_tools(Arc::new(tools))
            .with_retriever(search)
            .with_secrets(secrets, redactor)
            .record_traces(runs_dir(root))
            .with_gate(gate)
            .within_workspace(root)
            .with_limits(Limits {
                timeout: options.timeout,
                ..Limits::default()
            });
        Ok(WorkspaceRunner {
            runner,
            tool_problems,
        })
    }

    /// The `search_workspace` tool's view of this workspace's index (what `codexos mcp` serves).
    pub fn index_search(&self, access: IndexAccess) -> Arc<dyn codexos_tools::Search> {
        Arc::new(WorkspaceSearch::new(self.root(), access))
    }
}

/// `<models dir>/SmolLM2-135M-Instruct.Q4_1.gguf`, where `codexos models install` puts it, if it
/// is there.
fn local_model_file() -> Option<PathBuf> {
    let file = codexos_embed::default_models_dir()?.join(codexos_local_model::DEFAULT_MODEL_FILE);
    file.is_file().then_some(file)
}

/// The vault (or why it cannot be opened, said when a flow reads a secret) and a redactor that
/// knows its values and the secret environment variables.
pub(crate) fn secrets_and_redactor(
    root: &Path,
    env: &HashMap<String, String>,
) -> (Arc<dyn SecretStore>, Redactor) {
    let mut redactor = Redactor::new();
    let secrets: Arc<dyn SecretStore> =
        match VaultConfig::from_env(root).and_then(|config| Vault::open_with(&config)) {
            Ok(vault) => {
                if let Ok(known) = vault.redactor() {
                    redactor = known;
                }
                Arc::new(vault)
            }
            Err(error) => Arc::new(VaultUnavailable(error.to_string())),
        };
    for name in SECRET_VARIABLES {
        if let Some(value) = env.get(*name).filter(|value| !value.trim().is_empty()) {
            redactor.add(name, &SecretString::from(value.as_str()));
        }
    }
    (secrets, redactor)
}

/// The vault could not be opened; a flow that reads a secret says why.
struct VaultUnavailable(String);

impl SecretStore for VaultUnavailable {
    fn secret(&self, _key: &str) -> Result<Option<SecretString>, String> {
        Err(format!("the vault cannot be opened: {}", self.0))
    }
}

/// Hybrid, reranked search of the workspace index: `rag` nodes' retriever and the
/// `search_workspace` tool's search.
#[derive(Clone)]
struct WorkspaceSearch {
    root: PathBuf,
    access: IndexAccess,
    /// With [`IndexAccess::ReadOnly`], the index once opened (a process opens an LMDB
    /// environment once; a read-only index sees what the writer commits later).
    opened: Arc<Mutex<Option<Arc<WorkspaceIndex>>>>,
}

impl WorkspaceSearch {
    fn new(root: &Path, access: IndexAccess) -> WorkspaceSearch {
        WorkspaceSearch {
            root: root.to_owned(),
            access,
            opened: Arc::default(),
        }
    }

    fn hits(&self, query: String, k: usize) -> Result<Vec<SearchHit>, String> {
        let query = SearchQuery {
            k,
            mode: SearchMode::HybridRerank,
            ..SearchQuery::new(query)
        };
        let index = match &self.access {
            IndexAccess::ReadOnly => {
                let mut opened = self
                    .opened
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                match opened.as_ref() {
                    Some(index) => index.clone(),
                    None => {
                        let index = Arc::new(
                            WorkspaceIndex::open(&self.root, IndexMode::ReadOnly)
                                .map_err(|error| error.to_string())?,
                        );
                        opened.insert(index).clone()
                    }
                }
            }
            IndexAccess::Shared(index) => index().ok_or_else(|| {
                "the workspace index is not open yet (it is still opening, or opening it failed)"
                    .to_owned()
            })?,
        };
        index.search(&query).map_err(|error| error.to_string())
    }
}

impl Retriever for WorkspaceSearch {
    fn retrieve<'a>(
        &'a self,
        query: &'a str,
        k: usize,
    ) -> BoxFuture<'a, Result<Vec<SearchHit>, String>> {
        let (search, query) = (self.clone(), query.to_owned());
        Box::pin(async move {
            tokio::task::spawn_blocking(move || search.hits(query, k))
                .await
                .map_err(|error| format!("the search stopped: {error}"))?
        })
    }
}

impl codexos_tools::Search for WorkspaceSearch {
    fn search(
        &self,
        query: &str,
        limit: usize,
    ) -> Result<Vec<SearchHit>, codexos_tools::SearchError> {
        self.hits(query.to_owned(), limit)
            .map_err(codexos_tools::SearchError)
    }
}

/// The flow a run names: a file of the workspace, or a flow given inline.
#[derive(Clone, Debug, PartialEq)]
pub enum FlowSource {
    /// Relative to the workspace root (an absolute path must lie inside it).
    Path(String),
    /// The flow's JSON text.
    Inline(String),
}

/// What to run, as the editor command and `codexos mcp` name it (the seed's `/agent/run`).
#[derive(Clone, Debug, PartialEq)]
pub struct AgentRequest {
    pub flow: FlowSource,
    pub input: String,
    /// Files whose text joins `{{context}}`, relative to the workspace root.
    pub context: Vec<String>,
    /// The caller's name for the agent, recorded with the run.
    pub agent_id: Option<String>,
}

/// A flow or context file a run cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentRequestError {
    #[error("flow `{path}`: {reason}")]
    Flow { path: String, reason: String },
    #[error("context file `{path}`: {reason}")]
    Context { path: String, reason: String },
}

impl Workspace {
    /// Resolves `request` against this workspace: the flow file (its text from `open_text` when
    /// the editor holds unsaved changes, else from disk) and each context file's text. Paths
    /// must stay inside the workspace.
    pub fn run_request(
        &self,
        request: AgentRequest,
        open_text: &dyn Fn(&Path) -> Option<String>,
    ) -> Result<RunRequest, AgentRequestError> {
        let (flow_text, flow_path) = match request.flow {
            FlowSource::Inline(text) => (text, None),
            FlowSource::Path(relative) => {
                let flow_error = |reason: String| AgentRequestError::Flow {
                    path: relative.clone(),
                    reason,
                };
                let path = self.inside(&relative).map_err(flow_error)?;
                if !is_flow_path(&path) {
                    return Err(flow_error("not a flow file (*.flow.json)".to_owned()));
                }
                let text = match open_text(&path) {
                    Some(text) => text,
                    None => std::fs::read_to_string(&path)
                        .map_err(|error| flow_error(error.to_string()))?,
                };
                (text, Some(path))
            }
        };
        let mut context = Vec::new();
        for relative in request.context {
            let context_error = |reason: String| AgentRequestError::Context {
                path: relative.clone(),
                reason,
            };
            let path = self.inside(&relative).map_err(context_error)?;
            let text = match open_text(&path) {
                Some(text) => text,
                None => std::fs::read_to_string(&path)
                    .map_err(|error| context_error(error.to_string()))?,
            };
            context.push(ContextFile {
                path: relative,
                text,
            });
        }
        Ok(RunRequest {
            flow_text,
            flow_path,
            input: request.input,
            context,
            agent_id: request.agent_id,
        })
    }

    /// The run to offer "retry" for: the newest recorded run of the flow at `flow_path` (the
    /// one whose trace was written last), when it failed or was cancelled. A run still going, or
    /// one that succeeded, offers nothing.
    pub fn last_failed_run(&self, flow_path: &Path) -> Option<String> {
        let wanted = canonical(flow_path);
        let (runs, _unreadable) = trace::list(&runs_dir(self.root()));
        let newest = runs
            .into_iter()
            .filter(|run| {
                run.header
                    .flow_path
                    .as_deref()
                    .is_some_and(|path| canonical(path) == wanted)
            })
            .max_by_key(|run| {
                let written = std::fs::metadata(&run.path).and_then(|meta| meta.modified());
                (run.header.started_at, written.ok())
            })?;
        matches!(
            newest.status(),
            Some(RunStatus::Failed | RunStatus::Cancelled)
        )
        .then_some(newest.header.run_id)
    }

    /// `relative` (or an absolute path) inside the workspace.
    fn inside(&self, path: &str) -> Result<PathBuf, String> {
        let root = canonical(self.root());
        let relative = match Path::new(path).strip_prefix(&root) {
            Ok(relative) => relative.to_string_lossy().into_owned(),
            Err(_) => match Path::new(path).strip_prefix(self.root()) {
                Ok(relative) => relative.to_string_lossy().into_owned(),
                Err(_) => path.to_owned(),
            },
        };
        codexos_tools::resolve_in_workspace(&root, &relative).map_err(|error| error.to_string())
    }
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_owned())
}

/// The human line for a step of a run, as `codexos run` prints it and the editor shows it in
/// progress: `▶ plan (llm)`, `✓ plan · 1.2 s · openai/gpt-4o · 31 tokens`, `✗ plan: …`,
/// `warning: …`. `None` for the events that have their own rendering (start, tokens, end).
pub fn step_line(event: &RunEvent) -> Option<String> {
    Some(match event {
        RunEvent::NodeStarted {
            node,
            node_type,
            iteration: 0,
        } => format!("▶ {node} ({node_type})"),
        RunEvent::NodeStarted {
            node,
            node_type,
            iteration,
        } => format!("▶ {node} ({node_type}, re-run {iteration})"),
        RunEvent::NodeFinished {
            node,
            elapsed_ms,
            model,
            usage,
            note,
            ..
        } => {
            let mut details = vec![format!("{:.1} s", *elapsed_ms as f64 / 1000.0)];
            details.extend(model.clone());
            if !usage.is_zero() {
                details.push(format!(
                    "{} tokens",
                    usage.prompt_tokens + usage.completion_tokens
                ));
            }
            details.extend(note.clone());
            format!("✓ {node} · {}", details.join(" · "))
        }
        RunEvent::NodeFailed { node, error, .. } => format!("✗ {node}: {error}"),
        RunEvent::AttemptFailed {
            node,
            attempt,
            attempts,
            failure,
            error,
            retry_in_ms,
        } => format!(
            "↻ {node}: attempt {attempt} of {attempts} failed ({failure}): {error}; trying again in {:.1} s",
            *retry_in_ms as f64 / 1000.0
        ),
        RunEvent::Warning {
            node: Some(node),
            message,
        } => format!("warning: {node}: {message}"),
        RunEvent::Warning {
            node: None,
            message,
        } => format!("warning: {message}"),
        RunEvent::Status { message, .. } => format!("  … {message}"),
        RunEvent::Decision { node, decision } => return decision_line(node.as_deref(), decision),
        RunEvent::Started { .. } | RunEvent::Token { .. } | RunEvent::Finished { .. } => {
            return None;
        }
    })
}

/// The line for a decision, when one is worth showing as it happens: refusals, and what the
/// user, `--yes` or the trust store allowed. Reads and writes the policy allows by default are
/// only in the trace.
pub fn decision_line(node: Option<&str>, decision: &Decision) -> Option<String> {
    let node = node.map(|node| format!("{node}: ")).unwrap_or_default();
    match (decision.verdict, decision.by) {
        (Verdict::Allowed, codexos_policy::DecidedBy::Policy) => None,
        (Verdict::Allowed, by) => Some(format!(
            "✔ {node}{} allowed by {}: {}",
            decision.tool,
            by.as_str(),
            decision.action
        )),
        (Verdict::Refused, by) => Some(format!(
            "⛔ {node}{} refused by {}: {}: {}",
            decision.tool,
            by.as_str(),
            decision.action,
            decision.reason
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use codexos_agent::RunHeader;

    use super::*;

    fn workspace(files: &[(&str, &str)]) -> (tempfile::TempDir, Workspace) {
        let dir = tempfile::tempdir().expect("temp dir");
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
            std::fs::write(path, text).expect("write");
        }
        let workspace = Workspace::load(dir.path()).expect("workspace");
        (dir, workspace)
    }

    /// Records a run of `flow` that started at `started_at` and whose trace was last written
    /// `written` seconds after the epoch; `status: None` for a run still going.
    fn record(
        root: &Path,
        run_id: &str,
        flow: &Path,
        started_at: u64,
        written: u64,
        status: Option<RunStatus>,
    ) {
        let header = RunHeader {
            run_id: run_id.to_owned(),
            flow_id: "flow".to_owned(),
            flow_path: Some(flow.to_owned()),
            flow_text: None,
            input: String::new(),
            context: Vec::new(),
            started_at,
            retry_of: None,
            forked_from: None,
            agent_id: None,
        };
        let mut lines = vec![trace::header_line(&header)];
        if let Some(status) = status {
            let finished = RunEvent::Finished {
                run_id: run_id.to_owned(),
                status,
                output: None,
                error: None,
                frontier: Vec::new(),
                elapsed_ms: 1,
            };
            lines.push(trace::event_line(&finished, 1));
        }
        let dir = runs_dir(root);
        std::fs::create_dir_all(&dir).expect("runs dir");
        let path = dir.join(format!("{run_id}.jsonl"));
        std::fs::write(&path, lines.join("\n") + "\n").expect("trace");
        let file = std::fs::File::options()
            .write(true)
            .open(&path)
            .expect("open trace");
        file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(written))
            .expect("set mtime");
    }

    #[test]
    fn retry_is_offered_for_the_newest_run_of_a_flow_only_when_it_failed_or_was_cancelled() {
        let (dir, workspace) = workspace(&[("a.flow.json", "{}"), ("b.flow.json", "{}")]);
        let (a, b) = (
            dir.path().join("a.flow.json"),
            dir.path().join("b.flow.json"),
        );
        let root = dir.path();
        assert_eq!(workspace.last_failed_run(&a), None, "no runs yet");
        record(root, "run-1", &a, 100, 101, Some(RunStatus::Failed));
        record(root, "run-2", &b, 200, 201, Some(RunStatus::Succeeded));
        assert_eq!(workspace.last_failed_run(&a).as_deref(), Some("run-1"));
        assert_eq!(
            workspace.last_failed_run(&b),
            None,
            "b's newest run succeeded"
        );
        // Started in the same second as run-1, written after it: the newer one.
        record(root, "run-0", &a, 100, 102, Some(RunStatus::Succeeded));
        assert_eq!(workspace.last_failed_run(&a), None);
        record(root, "run-3", &a, 300, 301, Some(RunStatus::Cancelled));
        assert_eq!(workspace.last_failed_run(&a).as_deref(), Some("run-3"));
        record(root, "run-4", &a, 400, 400, None);
        assert_eq!(workspace.last_failed_run(&a), None, "a run still going");
    }

    #[test]
    fn a_run_request_reads_the_flow_and_its_context_preferring_the_editors_unsaved_text_and_keeps_the_agent_id()
     {
        let (dir, workspace) = workspace(&[
            ("flows/a.flow.json", "on disk"),
            ("notes.md", "notes on disk"),
        ]);
        let unsaved = dir.path().join("notes.md");
        let request = AgentRequest {
            flow: FlowSource::Path("flows/a.flow.json".to_owned()),
            input: "hi".to_owned(),
            context: vec!["notes.md".to_owned()],
            agent_id: Some("dev-helper".to_owned()),
        };
        let resolved = workspace
            .run_request(request, &|path| {
                (canonical(path) == canonical(&unsaved)).then(|| "unsaved notes".to_owned())
            })
            .expect("resolves");
        assert_eq!(resolved.flow_text, "on disk");
        assert_eq!(
            resolved.flow_path.as_deref().map(canonical),
            Some(canonical(&dir.path().join("flows/a.flow.json")))
        );
        assert_eq!(resolved.input, "hi");
        assert_eq!(resolved.agent_id.as_deref(), Some("dev-helper"));
        assert_eq!(
            resolved.context,
            [ContextFile {
                path: "notes.md".to_owned(),
                text: "unsaved notes".to_owned()
            }]
        );
        let inline = AgentRequest {
            flow: FlowSource::Inline("{\"id\": \"x\"}".to_owned()),
            input: String::new(),
            context: Vec::new(),
            agent_id: None,
        };
        let resolved = workspace.run_request(inline, &|_| None).expect("inline");
        assert_eq!(
            (resolved.flow_text.as_str(), resolved.flow_path),
            ("{\"id\": \"x\"}", None)
        );
    }

    #[test]
    fn flows_and_context_files_outside_the_workspace_or_missing_are_refused_by_name() {
        let (_dir, workspace) = workspace(&[("a.flow.json", "{}"), ("notes.txt", "x")]);
        let refused = |flow: &str, context: &[&str]| {
            let request = AgentRequest {
                flow: FlowSource::Path(flow.to_owned()),
                input: String::new(),
                context: context.iter().map(|path| (*path).to_owned()).collect(),
                agent_id: None,
            };
            workspace
                .run_request(request, &|_| None)
                .map(|_| ())
                .map_err(|error| error.to_string())
        };
        let outside = refused("../a.flow.json", &[]).expect_err("outside");
        assert!(outside.starts_with("flow `../a.flow.json`: "), "{outside}");
        assert_eq!(
            refused("notes.txt", &[]),
            Err("flow `notes.txt`: not a flow file (*.flow.json)".to_owned())
        );
        let missing = refused("b.flow.json", &[]).expect_err("missing");
        assert!(missing.starts_with("flow `b.flow.json`: "), "{missing}");
        let context = refused("a.flow.json", &["/etc/passwd"]).expect_err("absolute");
        assert!(
            context.starts_with("context file `/etc/passwd`: "),
            "{context}"
        );
        assert_eq!(refused("a.flow.json", &["notes.txt"]), Ok(()));
    }
}
