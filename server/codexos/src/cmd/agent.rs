//! What `codexos run` and `codexos runs retry` share: a [`Runner`] for the workspace (models
//! from the environment and the local model, the workspace's tools, its index, its vault, traces
//! under `.codexos/runs/`) and the stderr progress printer.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use codexos_agent::{
    CancellationToken, Chunk, EventSink, Limits, RegistryTools, Retriever, RunEvent, RunResult,
    RunStatus, Runner, SecretStore, runs_dir,
};
use codexos_index::{IndexSettings, SearchMode, SearchRequest, Searcher, Store};
use codexos_llm::{LlmConfig, Router};
use codexos_service::Workspace;
use codexos_vault::{Redactor, SecretString, Vault, VaultConfig};
use futures_util::future::BoxFuture;

use super::embedders;

/// Environment variables whose values are secrets too: hidden like vault values.
const SECRET_VARIABLES: &[&str] = &["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "VAULT_MASTER_KEY"];

/// A runner for `workspace` whose runs stop after `timeout`.
pub async fn runner_for(workspace: &Workspace, timeout: Duration) -> anyhow::Result<Runner> {
    let root = workspace.root();
    let env: HashMap<String, String> = std::env::vars().collect();
    let mut router = Router::new(&LlmConfig::from_env(&env));
    if let Some(model) = local_model_file(&env) {
        router.register(
            codexos_llm::config::LOCAL,
            Arc::new(codexos_local_model::LocalProvider::new(model)),
            None,
        );
    }
    let registry = workspace.tool_registry().await?;
    for problem in registry.problems() {
        eprintln!("warning: {problem}");
    }
    let context = workspace.tool_context()?.with_search(Arc::new(IndexSearch {
        root: root.to_owned(),
    }));
    let tools = RegistryTools::new(registry, context);
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
    Ok(Runner::new()
        .with_router(Arc::new(router))
        .with_tools(Arc::new(tools))
        .with_retriever(Arc::new(IndexRetriever {
            root: root.to_owned(),
        }))
        .with_secrets(secrets, redactor)
        .record_traces(runs_dir(root))
        .with_limits(Limits {
            timeout,
            ..Limits::default()
        }))
}

/// `${CODEXOS_MODELS_DIR:-~/.local/share/codexos/models}/SmolLM2-135M-Instruct.Q4_1.gguf`, where
/// `scripts/fetch-models` puts it, if it is there.
fn local_model_file(env: &HashMap<String, String>) -> Option<PathBuf> {
    let dir = match env.get("CODEXOS_MODELS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env.get("HOME")?).join(".local/share/codexos/models"),
    };
    let file = dir.join(codexos_local_model::DEFAULT_MODEL_FILE);
    file.is_file().then_some(file)
}

/// The vault could not be opened; a flow that reads a secret says why.
struct VaultUnavailable(String);

impl SecretStore for VaultUnavailable {
    fn secret(&self, _key: &str) -> Result<Option<SecretString>, String> {
        Err(format!("the vault cannot be opened: {}", self.0))
    }
}

/// `rag` nodes search the workspace index (hybrid, reranked) and read each hit's lines.
struct IndexRetriever {
    root: PathBuf,
}

impl Retriever for IndexRetriever {
    fn retrieve<'a>(
        &'a self,
        query: &'a str,
        k: usize,
    ) -> BoxFuture<'a, Result<Vec<Chunk>, String>> {
        let root = self.root.clone();
        let query = query.to_owned();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || search(&root, query, k))
                .await
                .map_err(|error| format!("the search stopped: {error}"))?
        })
    }
}

/// The `search_workspace` tool's view of the same index search.
pub struct IndexSearch {
    pub root: PathBuf,
}

impl codexos_tools::Search for IndexSearch {
    fn search(
        &self,
        query: &str,
        limit: usize,
    ) -> Result<Vec<codexos_tools::SearchHit>, codexos_tools::SearchError> {
        let chunks =
            search(&self.root, query.to_owned(), limit).map_err(codexos_tools::SearchError)?;
        Ok(chunks
            .into_iter()
            .map(|chunk| codexos_tools::SearchHit {
                path: chunk.path.into(),
                start_line: chunk.start_line,
                end_line: chunk.end_line,
                score: chunk.score,
                text: chunk.text,
            })
            .collect())
    }
}

fn search(root: &Path, query: String, k: usize) -> Result<Vec<Chunk>, String> {
    const NOT_BUILT: &str = "index not built: run `codexos index`";
    let store = Store::open_read_only(root).map_err(|_| NOT_BUILT.to_owned())?;
    let space = store
        .space()
        .map_err(|error| error.to_string())?
        .ok_or(NOT_BUILT)?;
    let settings = IndexSettings::load(root).map_err(|error| error.to_string())?;
    let embedder = embedders::for_space(&space.id, &settings.embedder)
        .map_err(|error| format!("{error:#}"))?;
    let request = SearchRequest {
        query,
        k,
        mode: SearchMode::HybridRerank,
        collapse_files: false,
        path_glob: None,
        language: None,
    };
    let hits = Searcher::new(&store, embedder.as_ref())
        .search(&request)
        .map_err(|error| error.to_string())?;
    Ok(hits
        .into_iter()
        .map(|hit| {
            let text = std::fs::read_to_string(root.join(&hit.path))
                .map(|file| {
                    file.lines()
                        .skip(hit.start_line.saturating_sub(1) as usize)
                        .take((hit.end_line + 1).saturating_sub(hit.start_line) as usize)
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_default();
            Chunk {
                path: hit.path,
                start_line: hit.start_line,
                end_line: hit.end_line,
                text,
                score: hit.score,
            }
        })
        .collect())
}

/// Prints progress on stderr: a line per node start and finish, streamed tokens as they come,
/// warnings and the end of the run.
pub fn stderr_progress() -> EventSink {
    let streaming = Mutex::new(None::<String>);
    Arc::new(move |event: &RunEvent| {
        let mut err = std::io::stderr().lock();
        let mut streaming = streaming.lock().unwrap_or_else(|p| p.into_inner());
        if !matches!(event, RunEvent::Token { .. }) && streaming.take().is_some() {
            let _ = writeln!(err);
        }
        let _ = match event {
            RunEvent::Started {
                run_id,
                flow_id,
                retry_of,
            } => match retry_of {
                Some(old) => writeln!(err, "run {run_id} of {flow_id} (retrying {old})"),
                None => writeln!(err, "run {run_id} of {flow_id}"),
            },
            RunEvent::NodeStarted {
                node,
                node_type,
                iteration: 0,
            } => writeln!(err, "▶ {node} ({node_type})"),
            RunEvent::NodeStarted {
                node,
                node_type,
                iteration,
            } => writeln!(err, "▶ {node} ({node_type}, re-run {iteration})"),
            RunEvent::Token { node, text } => {
                if streaming.as_deref() != Some(node.as_str()) {
                    *streaming = Some(node.clone());
                    let _ = write!(err, "  ");
                }
                write!(err, "{}", text.replace('\n', "\n  ")).and_then(|()| err.flush())
            }
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
                writeln!(err, "✓ {node} · {}", details.join(" · "))
            }
            RunEvent::NodeFailed { node, error, .. } => writeln!(err, "✗ {node}: {error}"),
            RunEvent::Warning {
                node: Some(node),
                message,
            } => writeln!(err, "warning: {node}: {message}"),
            RunEvent::Warning {
                node: None,
                message,
            } => writeln!(err, "warning: {message}"),
            RunEvent::Finished {
                run_id,
                status,
                error,
                elapsed_ms,
                ..
            } => {
                let seconds = *elapsed_ms as f64 / 1000.0;
                match (status, error) {
                    (RunStatus::Succeeded, _) => {
                        writeln!(err, "run {run_id} succeeded in {seconds:.1} s")
                    }
                    (status, error) => writeln!(
                        err,
                        "run {run_id} {} after {seconds:.1} s: {}\nretry from where it stopped: codexos runs retry {run_id}",
                        status.as_str(),
                        error.as_deref().unwrap_or("no exit was reached")
                    ),
                }
            }
        };
    })
}

/// Prints the result on stdout (the output alone, or everything with `json`) and says how the
/// process exits: 0 when the run succeeded, 1 when it failed, 130 when it was interrupted.
pub fn print_result(result: &RunResult, json: bool) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, result)?;
        writeln!(out)?;
    } else if let Some(output) = &result.output {
        write!(out, "{output}")?;
        if !output.ends_with('\n') {
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(match result.status {
        RunStatus::Succeeded => ExitCode::SUCCESS,
        RunStatus::Failed => ExitCode::FAILURE,
        // The shell's code for "ended by SIGINT".
        RunStatus::Cancelled => ExitCode::from(130),
    })
}

/// A token that Ctrl-C (SIGINT) cancels: the run stops its nodes, kills their processes and
/// records where it stopped, instead of the process dying with its children still running.
/// Call inside the runtime.
pub fn cancel_on_ctrl_c() -> CancellationToken {
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("interrupted: stopping the run");
            on_signal.cancel();
        }
    });
    cancel
}

/// A runtime for one command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}
