//! `codexos mcp [--root DIR]`: the workspace as an MCP server on stdin/stdout, so other agents
//! (Claude Desktop, Cursor, another CodexOS) can use it. Tools:
//!
//! - `list_flows`: every `*.flow.json` with its id, name, description and finding counts;
//! - `check_flow`: `codexos check`'s findings for a flow file, or for flow text not yet saved;
//! - `search_workspace`: hybrid search of the workspace index (built by `codexos index`; always
//!   listed, since clients cache the tool list: before the index exists it says so);
//! - `run_flow`: runs a flow as `codexos run` does (the workspace's models, tools, index and
//!   vault; recorded under `.codexos/runs/`), cancelled when the client cancels the request.
//!
//! The workspace's own tools (`read_file`, `shell`, plug-ins, …) are not served: a client has
//! its own, and serving `shell` would bypass the client's confirmation prompts. `run_flow` runs
//! under the workspace's policy like `codexos run`, never more: what the policy would ask the user
//! about is refused (the client cannot answer for the user), unless the user's trust store
//! already allows it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use codexos_agent::{ContextFile, RunRequest, RunStatus, ignore_events};
use codexos_flow::{Encoding, FlowFile, LineCol, LineIndex, Severity};
use codexos_service::Workspace;
use codexos_service::agents::{Approval, IndexAccess, WorkspaceRunner};
use codexos_tools::{
    Action, AsyncTool, Capabilities, Capability, Tool, ToolContext, ToolError, ToolInfo,
    ToolOutput, ToolRegistry, ToolSource,
};
use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::agent;

#[derive(clap::Args)]
pub struct Args {
    /// The workspace to serve (default: the one the current folder is in).
    #[arg(long)]
    root: Option<PathBuf>,
}

const INSTRUCTIONS: &str = "CodexOS workspace: list its agent flows (*.flow.json), check flow files or drafts \
with the same analysis as `codexos check` and the editor, search the workspace index, and run flows.";

/// How long one `run_flow` run may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(600);

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let start = match args.root {
        Some(root) => std::path::absolute(&root)
            .with_context(|| format!("cannot resolve --root {}", root.display()))?,
        None => std::env::current_dir().context("cannot read the current folder")?,
    };
    let workspace = Arc::new(super::discover_workspace(&start)?);
    for warning in &workspace.config().warnings {
        eprintln!("warning: {warning}");
    }
    let gate = workspace.gate(nobody_to_ask(), false)?;
    let ctx = workspace
        .tool_context(gate)?
        .with_search(workspace.index_search(IndexAccess::ReadOnly));
    let search = codexos_tools::builtin::named("search_workspace")
        .context("the built-in search_workspace tool is missing")?;
    let run = Arc::new(RunFlow {
        workspace: Arc::clone(&workspace),
        runner: tokio::sync::OnceCell::new(),
        info: run_flow_info(),
    });
    let mut registry = ToolRegistry::empty();
    for tool in [list_flows(&workspace), check_flow(&workspace), search, run] {
        registry
            .register(tool)
            .map_err(|error| anyhow::anyhow!("a codexos mcp tool has a bad schema: {error}"))?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime
        .block_on(codexos_tools::mcp::server::serve_stdio(
            Arc::new(registry),
            ctx,
            INSTRUCTIONS,
        ))
        .context("codexos mcp")?;
    Ok(ExitCode::SUCCESS)
}

/// `codexos mcp` cannot ask the user: its client is another program.
fn nobody_to_ask() -> Approval {
    Approval::Nobody {
        why: "`codexos mcp` cannot ask you (its client is another program)".to_owned(),
    }
}

type Run = fn(&Workspace, Value) -> Result<ToolOutput, ToolError>;

/// A tool answered from the workspace, synchronously (checks are fast and pure).
struct WorkspaceTool {
    info: ToolInfo,
    workspace: Arc<Workspace>,
    run: Run,
}

impl Tool for WorkspaceTool {
    fn info(&self) -> &ToolInfo {
        &self.info
    }

    fn action(&self, _args: &Value, _ctx: &ToolContext) -> Result<Action, ToolError> {
        Ok(Action::Internal)
    }

    fn call<'a>(
        &'a self,
        args: Value,
        _ctx: &'a ToolContext,
    ) -> BoxFuture<'a, Result<ToolOutput, ToolError>> {
        let workspace = Arc::clone(&self.workspace);
        let run = self.run;
        let name = self.info.name.clone();
        async move {
            tokio::task::spawn_blocking(move || run(&workspace, args))
                .await
                .unwrap_or_else(|error| {
                    Err(ToolError::Failed {
                        tool: name,
                        message: error.to_string(),
                    })
                })
        }
        .boxed()
    }
}

fn tool(
    workspace: &Arc<Workspace>,
    name: &str,
    description: &str,
    input_schema: Value,
    run: Run,
) -> Arc<dyn Tool> {
    Arc::new(WorkspaceTool {
        info: ToolInfo {
            name: name.to_owned(),
            description: description.to_owned(),
            input_schema,
            source: ToolSource::Registered,
            capabilities: Capabilities::of(&[Capability::Read]),
        },
        workspace: Arc::clone(workspace),
        run,
    })
}

fn list_flows(workspace: &Arc<Workspace>) -> Arc<dyn Tool> {
    tool(
        workspace,
        "list_flows",
        "List the workspace's agent flows (*.flow.json): path, id, name, description, and how many errors and warnings `codexos check` finds in each",
        json!({ "type": "object", "properties": {}, "additionalProperties": false }),
        run_list_flows,
    )
}

fn check_flow(workspace: &Arc<Workspace>) -> Arc<dyn Tool> {
    tool(
        workspace,
        "check_flow",
        "Check a flow with the same analysis as `codexos check` and the editor. Give `path` (relative to the workspace) to check a saved file, or `text` to check a draft (with `path` naming where it would live, so sub-flow paths resolve)",
        json!({
            "type": "object",
            "properties": {
                "path": { "type": "string", "minLength": 1 },
                "text": { "type": "string" }
            },
            "anyOf": [{ "required": ["path"] }, { "required": ["text"] }],
            "additionalProperties": false
        }),
        run_check_flow,
    )
}

fn run_list_flows(workspace: &Workspace, _args: Value) -> Result<ToolOutput, ToolError> {
    let report = workspace.check_paths(&[workspace.root().to_owned()]);
    let mut flows = Vec::new();
    for file in &report.files {
        let header: Value = serde_json::from_str(&file.text).unwrap_or(Value::Null);
        let count = |severity| {
            file.findings
                .iter()
                .filter(|finding| finding.severity == severity)
                .count()
        };
        flows.push(json!({
            "path": relative(workspace.root(), &file.path),
            "id": header.get("id"),
            "name": header.get("name"),
            "description": header.get("description"),
            "errors": count(Severity::Error),
            "warnings": count(Severity::Warning),
        }));
    }
    let text = flows
        .iter()
        .map(|flow| {
            let id = flow["id"].as_str().unwrap_or("(no id)");
            let name = flow["name"]
                .as_str()
                .map(|name| format!(" — {name}"))
                .unwrap_or_default();
            format!(
                "{} ({id}{name}): {} error(s), {} warning(s)",
                flow["path"].as_str().unwrap_or_default(),
                flow["errors"],
                flow["warnings"]
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    Ok(ToolOutput::text(text).with_data(json!({ "flows": flows })))
}

fn run_check_flow(workspace: &Workspace, args: Value) -> Result<ToolOutput, ToolError> {
    let failed = |message: String| ToolError::Failed {
        tool: "check_flow".to_owned(),
        message,
    };
    let relative_path = args.get("path").and_then(Value::as_str);
    let path = match relative_path {
        Some(relative) => Some(
            codexos_tools::resolve_in_workspace(workspace.root(), relative).map_err(|error| {
                ToolError::OutsideWorkspace {
                    tool: "check_flow".to_owned(),
                    path: relative.to_owned(),
                    reason: error.to_string(),
                }
            })?,
        ),
        None => None,
    };
    let text = match (args.get("text").and_then(Value::as_str), &path) {
        (Some(text), _) => text.to_owned(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|error| failed(format!("{}: {error}", relative_path.unwrap_or_default())))?,
        (None, None) => return Err(failed("give `path` or `text`".to_owned())),
    };
    let flow = FlowFile::parse(&text);
    let findings = workspace.findings(path.as_deref(), &flow);
    let shown = relative_path.unwrap_or("<text>");
    let lines = LineIndex::new(&text);
    let mut printed = Vec::new();
    let mut data = Vec::new();
    for finding in &findings {
        let (line, column) = position(&text, &lines, finding.range.start);
        let severity = finding.severity.as_str();
        printed.push(format!(
            "{shown}:{line}:{column}: {severity}[{}]: {}",
            finding.code, finding.message
        ));
        data.push(json!({
            "line": line,
            "column": column,
            "severity": severity,
            "code": finding.code.as_str(),
            "message": finding.message,
            "fixes": finding.fixes.iter().map(|fix| fix.title.as_str()).collect::<Vec<_>>(),
        }));
    }
    let count = |severity| {
        findings
            .iter()
            .filter(|finding| finding.severity == severity)
            .count()
    };
    let errors = count(Severity::Error);
    printed.push(format!(
        "{shown}: {errors} error(s), {} warning(s)",
        count(Severity::Warning)
    ));
    Ok(ToolOutput::text(printed.join("\n")).with_data(json!({
        "path": shown,
        "errors": errors,
        "findings": data,
    })))
}

/// One-based line and column (in characters, as `codexos check` prints them) of a byte offset.
fn position(text: &str, lines: &LineIndex, offset: u32) -> (u32, u32) {
    let LineCol { line, .. } = lines.line_col(text, offset, Encoding::Utf8);
    let start = lines.offset(text, LineCol { line, col: 0 }, Encoding::Utf8) as usize;
    let end = (offset as usize).clamp(start, text.len());
    let column = text
        .get(start..end)
        .map_or(0, |prefix| prefix.chars().count());
    (line + 1, column as u32 + 1)
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// `run_flow`: one runner for the workspace, built on the first run (it starts the workspace's
/// MCP servers and opens its vault) and shared by the runs after it.
struct RunFlow {
    workspace: Arc<Workspace>,
    runner: tokio::sync::OnceCell<WorkspaceRunner>,
    info: ToolInfo,
}

fn run_flow_info() -> ToolInfo {
    ToolInfo {
        name: "run_flow".to_owned(),
        description: "Run an agent flow (*.flow.json) of the workspace with an input, as `codexos run` does; returns the exit node's output, and the whole run (per-node outputs, timings, token usage, sources) as structured content".to_owned(),
        input_schema: json!({
            "type": "object",
            "properties": {
                "path": { "type": "string", "minLength": 1, "description": "The flow file, relative to the workspace" },
                "input": { "type": "string", "description": "`{{input}}` in the flow's templates" },
                "context": { "type": "array", "items": { "type": "string" }, "description": "Files (relative to the workspace) whose text is `{{context}}`" }
            },
            "required": ["path"],
            "additionalProperties": false
        }),
        source: ToolSource::Registered,
        // A flow can do what its tools can; each of its steps passes the same policy again.
        capabilities: Capabilities::of(&Capability::ALL),
    }
}

impl AsyncTool for RunFlow {
    fn info(&self) -> &ToolInfo {
        &self.info
    }

    fn action(&self, _args: &Value, _ctx: &ToolContext) -> Result<Action, ToolError> {
        Ok(Action::Internal)
    }

    async fn run(&self, args: Value, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let failed = |message: String| ToolError::Failed {
            tool: "run_flow".to_owned(),
            message,
        };
        let root = self.workspace.root();
        let inside = |relative: &str| {
            codexos_tools::resolve_in_workspace(root, relative).map_err(|error| {
                ToolError::OutsideWorkspace {
                    tool: "run_flow".to_owned(),
                    path: relative.to_owned(),
                    reason: error.to_string(),
                }
            })
        };
        let path = inside(args["path"].as_str().unwrap_or_default())?;
        let input = args["input"].as_str().unwrap_or_default();
        let mut request =
            RunRequest::from_file(&path, input).map_err(|error| failed(error.to_string()))?;
        for file in args["context"].as_array().into_iter().flatten() {
            let relative = file.as_str().unwrap_or_default();
            let text = std::fs::read_to_string(inside(relative)?)
                .map_err(|error| failed(format!("context file {relative}: {error}")))?;
            request.context.push(ContextFile {
                path: relative.to_owned(),
                text,
            });
        }
        let runner = self
            .runner
            .get_or_try_init(|| {
                let flags = agent::RunFlags {
                    timeout: RUN_TIMEOUT.as_secs(),
                    yes: false,
                    offline: false,
                };
                agent::runner_for(&self.workspace, flags, nobody_to_ask())
            })
            .await
            .map_err(|error| failed(format!("cannot prepare the run: {error:#}")))?;
        let result = runner
            .runner
            .run(request, ignore_events(), ctx.cancellation.clone())
            .await
            .map_err(|error| failed(error.to_string()))?;
        if result.status != RunStatus::Succeeded {
            let errors: Vec<String> = result.errors.iter().map(ToString::to_string).collect();
            return Err(failed(format!(
                "run {} {}: {}",
                result.run_id,
                result.status.as_str(),
                errors.join("; ")
            )));
        }
        let data = serde_json::to_value(&result).map_err(|error| failed(error.to_string()))?;
        Ok(ToolOutput::text(result.output.unwrap_or_default()).with_data(data))
    }
}
