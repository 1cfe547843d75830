//! The one place the runner, the editor and `codexos mcp` find and call tools, and the one place
//! every call passes the policy's gate: a call runs only after [`ToolContext::gate`] allowed
//! what it would do ([`Tool::action`]).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use codexos_policy::{Action, Capabilities, Decision};
use futures::future::BoxFuture;
use serde_json::Value;

use crate::builtin;
use crate::context::ToolContext;
use crate::error::ToolError;
use crate::mcp::{self, McpServerConfig};
use crate::plugin::PluginFolder;
use crate::schema::ArgumentSchema;

/// Where a tool comes from.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ToolSource {
    Builtin,
    /// Registered by the embedding program (e.g. `codexos mcp`'s flow tools).
    Registered,
    /// A `*.tool.json` file in the `tools/` folder.
    Plugin {
        path: PathBuf,
    },
    /// A tool of an MCP server from `codexos.toml`.
    Mcp {
        server: String,
    },
}

/// A tool source that could not be loaded (a broken tool file, an MCP server that did not
/// start). It is skipped; everything else still loads.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ToolProblem {
    /// The file or the configured server it is about.
    pub origin: String,
    /// Where in it: a JSON pointer without the leading `/` (`command/0`), or empty.
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for ToolProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.origin, self.message)
        } else {
            write!(f, "{}: `{}`: {}", self.origin, self.field, self.message)
        }
    }
}

/// What a model or a flow needs to know to call a tool.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ToolInfo {
    pub name: String,
    pub description: String,
    /// A JSON Schema (draft 2020-12 or older) for the arguments object.
    pub input_schema: Value,
    pub source: ToolSource,
    /// What its calls can do; each call says exactly what in [`Tool::action`].
    pub capabilities: Capabilities,
}

/// What a tool returns.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct ToolOutput {
    /// The result as text: what a template (`{{nodes.x.output}}`) or a model sees.
    pub text: String,
    /// The result as JSON, when the tool has structure to give (exit code, status, hits).
    pub data: Option<Value>,
}

impl ToolOutput {
    pub fn text(text: impl Into<String>) -> ToolOutput {
        ToolOutput {
            text: text.into(),
            data: None,
        }
    }

    pub fn with_data(mut self, data: Value) -> ToolOutput {
        self.data = Some(data);
        self
    }
}

/// A callable tool. Arguments reach [`Tool::action`] and [`Tool::call`] only after they matched
/// `info().input_schema`, and `call` runs only after the gate allowed what `action` said.
/// Implement [`AsyncTool`] instead to write the call as an `async fn`.
pub trait Tool: Send + Sync {
    fn info(&self) -> &ToolInfo;
    /// Exactly what a call with `args` would do: the path it would write, the command it would
    /// run, the URL it would fetch. Its capability is one of `info().capabilities`.
    fn action(&self, args: &Value, ctx: &ToolContext) -> Result<Action, ToolError>;
    fn call<'a>(
        &'a self,
        args: Value,
        ctx: &'a ToolContext,
    ) -> BoxFuture<'a, Result<ToolOutput, ToolError>>;
}

/// A tool whose call is an `async fn`; every `AsyncTool` is a [`Tool`].
pub trait AsyncTool: Send + Sync {
    fn info(&self) -> &ToolInfo;
    /// As [`Tool::action`].
    fn action(&self, args: &Value, ctx: &ToolContext) -> Result<Action, ToolError>;
    fn run(
        &self,
        args: Value,
        ctx: &ToolContext,
    ) -> impl Future<Output = Result<ToolOutput, ToolError>> + Send;
}

impl<T: AsyncTool> Tool for T {
    fn info(&self) -> &ToolInfo {
        AsyncTool::info(self)
    }

    fn action(&self, args: &Value, ctx: &ToolContext) -> Result<Action, ToolError> {
        AsyncTool::action(self, args, ctx)
    }

    fn call<'a>(
        &'a self,
        args: Value,
        ctx: &'a ToolContext,
    ) -> BoxFuture<'a, Result<ToolOutput, ToolError>> {
        Box::pin(self.run(args, ctx))
    }
}

/// A tool with its compiled argument schema.
pub(crate) struct Registered {
    pub(crate) tool: Arc<dyn Tool>,
    pub(crate) schema: ArgumentSchema,
}

impl Registered {
    pub(crate) fn new(tool: Arc<dyn Tool>) -> Result<Registered, String> {
        let schema = ArgumentSchema::compile(&tool.info().input_schema)?;
        Ok(Registered { tool, schema })
    }
}

/// An MCP server from `codexos.toml`: started the first time one of its tools is wanted, and
/// only once the gate allowed it.
struct McpSlot {
    config: McpServerConfig,
    started: tokio::sync::OnceCell<Result<Vec<Arc<Registered>>, ToolProblem>>,
}

/// Every tool a workspace offers: built-ins and registered tools first, then plug-ins, then
/// the tools of MCP servers.
pub struct ToolRegistry {
    tools: Vec<Arc<Registered>>,
    plugins: Option<PluginFolder>,
    mcp: Vec<McpSlot>,
    /// How long an MCP server gets to start and list its tools.
    mcp_timeout: Duration,
    /// Tools of started MCP servers whose schema does not compile.
    mcp_problems: Mutex<Vec<ToolProblem>>,
}

impl ToolRegistry {
    /// No tools at all (add some with [`ToolRegistry::register`]).
    pub fn empty() -> ToolRegistry {
        ToolRegistry {
            tools: Vec::new(),
            plugins: None,
            mcp: Vec::new(),
            mcp_timeout: Duration::from_secs(30),
            mcp_problems: Mutex::new(Vec::new()),
        }
    }

    /// The built-in tools.
    pub fn with_builtins() -> ToolRegistry {
        let mut registry = ToolRegistry::empty();
        for tool in builtin::all() {
            let name = tool.info().name.clone();
            if let Err(error) = registry.register(tool) {
                unreachable!("built-in tool `{name}` has an invalid schema: {error}");
            }
        }
        registry
    }

    /// The built-ins plus the plug-ins of `<workspace_root>/tools/`.
    pub fn for_workspace(workspace_root: &Path) -> ToolRegistry {
        ToolRegistry::with_builtins().with_tools_folder(workspace_root.join("tools"))
    }

    /// Adds the plug-in tools of `folder` (a missing folder simply has none).
    pub fn with_tools_folder(mut self, folder: PathBuf) -> ToolRegistry {
        self.plugins = Some(PluginFolder::new(folder));
        self
    }

    /// Adds MCP servers, not started: each starts (within `timeout`, in the workspace root)
    /// the first time a call or [`ToolRegistry::prepare`] wants one of its tools, `<server>.<tool>`,
    /// and only if the gate allows [`Action::McpServer`]. A started server runs until the
    /// registry is dropped.
    pub fn with_mcp_servers(
        mut self,
        servers: &[McpServerConfig],
        timeout: Duration,
    ) -> ToolRegistry {
        self.mcp = servers
            .iter()
            .map(|config| McpSlot {
                config: config.clone(),
                started: tokio::sync::OnceCell::new(),
            })
            .collect();
        self.mcp_timeout = timeout;
        self
    }

    /// Adds a tool; a tool of the same name is replaced. Fails when its schema does not compile.
    pub fn register(&mut self, tool: Arc<dyn Tool>) -> Result<(), String> {
        let registered = Registered::new(tool)?;
        let name = registered.tool.info().name.clone();
        self.tools.retain(|known| known.tool.info().name != name);
        self.tools.push(Arc::new(registered));
        Ok(())
    }

    /// Every tool: built-ins and registered ones, then plug-ins (reloaded if their files
    /// changed), then the tools of MCP servers that have started.
    pub fn list(&self) -> Vec<ToolInfo> {
        self.all()
            .iter()
            .map(|registered| registered.tool.info().clone())
            .collect()
    }

    /// What could not be loaded, each naming its file (or server) and field.
    pub fn problems(&self) -> Vec<ToolProblem> {
        let mut problems = self.plugin_tools().1;
        for slot in &self.mcp {
            if let Some(Err(problem)) = slot.started.get() {
                problems.push(problem.clone());
            }
        }
        problems.extend(lock(&self.mcp_problems).iter().cloned());
        problems
    }

    /// Starts, through the gate, the MCP servers whose tools `names` lists (`<server>.<tool>`),
    /// so [`ToolRegistry::list`] has their tools; what failed or was refused is returned.
    pub async fn prepare(&self, names: &[String], ctx: &ToolContext) -> Vec<ToolError> {
        let mut failures = Vec::new();
        for slot in &self.mcp {
            let wanted = names.iter().any(|name| {
                name.split_once('.')
                    .is_some_and(|(server, _)| server == slot.config.name)
            });
            if wanted && let Err(error) = self.start(slot, ctx).await {
                failures.push(error);
            }
        }
        failures
    }

    /// What a call of `name` with `args` would do, without asking anyone or running anything
    /// (`None` for a tool that is not loaded, or arguments it cannot read).
    pub fn action_of(&self, name: &str, args: &Value, ctx: &ToolContext) -> Option<Action> {
        self.all()
            .iter()
            .find(|registered| registered.tool.info().name == name)?
            .tool
            .action(args, ctx)
            .ok()
    }

    /// Calls `name` with `args`: checks them against its schema, asks the gate about what the
    /// call would do (every decision goes to `ctx.audit`), and runs it only if allowed.
    pub async fn call(
        &self,
        name: &str,
        args: Value,
        ctx: &ToolContext,
    ) -> Result<ToolOutput, ToolError> {
        let registered = self.find(name, ctx).await?;
        registered.schema.check(name, &args)?;
        let action = registered.tool.action(&args, ctx)?;
        authorize(name, &action, ctx).await?;
        if ctx.cancellation.is_cancelled() {
            return Err(ToolError::Cancelled {
                tool: name.to_owned(),
            });
        }
        registered.tool.call(args, ctx).await
    }

    fn plugin_tools(&self) -> (Vec<Arc<Registered>>, Vec<ToolProblem>) {
        match &self.plugins {
            Some(folder) => folder.current(&|name| {
                self.tools
                    .iter()
                    .any(|known| known.tool.info().name == name)
            }),
            None => (Vec::new(), Vec::new()),
        }
    }

    fn all(&self) -> Vec<Arc<Registered>> {
        let mut all = self.tools.clone();
        all.extend(self.plugin_tools().0);
        for slot in &self.mcp {
            if let Some(Ok(tools)) = slot.started.get() {
                all.extend(tools.iter().cloned());
            }
        }
        all
    }

    /// The tool called `name`, starting its MCP server (through the gate) if it has one.
    async fn find(&self, name: &str, ctx: &ToolContext) -> Result<Arc<Registered>, ToolError> {
        let found = |all: &[Arc<Registered>]| {
            all.iter()
                .find(|registered| registered.tool.info().name == name)
                .cloned()
        };
        let all = self.all();
        if let Some(registered) = found(&all) {
            return Ok(registered);
        }
        if let Some((server, _)) = name.split_once('.')
            && let Some(slot) = self.mcp.iter().find(|slot| slot.config.name == server)
            && slot.started.get().is_none()
        {
            self.start(slot, ctx).await?;
            if let Some(registered) = found(&self.all()) {
                return Ok(registered);
            }
        }
        let all = self.all();
        Err(ToolError::UnknownTool {
            name: name.to_owned(),
            suggestion: closest(name, all.iter().map(|r| r.tool.info().name.as_str())),
        })
    }

    /// Starts `slot`'s server once the gate allows it; a server that fails to start is not
    /// tried again (its problem is in [`ToolRegistry::problems`]).
    async fn start(&self, slot: &McpSlot, ctx: &ToolContext) -> Result<(), ToolError> {
        if let Some(started) = slot.started.get() {
            return started
                .as_ref()
                .map(|_| ())
                .map_err(|problem| failed_start(&slot.config, problem));
        }
        let action = mcp::start_action(&slot.config);
        authorize(&slot.config.name, &action, ctx).await?;
        let started = slot
            .started
            .get_or_init(|| async {
                let tools =
                    mcp::client::connect(&slot.config, &ctx.workspace_root, self.mcp_timeout)
                        .await?;
                let mut registered = Vec::new();
                for tool in tools {
                    let info = tool.info().clone();
                    match Registered::new(tool) {
                        Ok(tool) => registered.push(Arc::new(tool)),
                        Err(error) => lock(&self.mcp_problems).push(ToolProblem {
                            origin: format!("MCP tool `{}`", info.name),
                            field: "inputSchema".to_owned(),
                            message: format!("not a valid JSON Schema: {error}"),
                        }),
                    }
                }
                Ok(registered)
            })
            .await;
        started
            .as_ref()
            .map(|_| ())
            .map_err(|problem| failed_start(&slot.config, problem))
    }
}

fn failed_start(config: &McpServerConfig, problem: &ToolProblem) -> ToolError {
    ToolError::Failed {
        tool: config.name.clone(),
        message: problem.to_string(),
    }
}

/// Asks the gate about `action`, tells `ctx.audit`, and turns a refusal into an error.
async fn authorize(tool: &str, action: &Action, ctx: &ToolContext) -> Result<(), ToolError> {
    let decision: Decision = tokio::select! {
        decision = ctx.gate.decide(tool, action, ctx.asker.as_deref()) => decision,
        () = ctx.cancellation.cancelled() => return Err(ToolError::Cancelled { tool: tool.to_owned() }),
    };
    match &ctx.audit {
        Some(audit) => audit(&decision),
        None => tracing::info!(tool, "{decision}"),
    }
    if decision.allowed() {
        Ok(())
    } else {
        Err(ToolError::Refused {
            tool: tool.to_owned(),
            reason: decision.reason,
        })
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

/// The known name closest to `name`, if it is close enough to be a typo.
fn closest<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Option<String> {
    known
        .map(|candidate| (edit_distance(name, candidate), candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len().max(name.len()) / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate.to_owned())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}
