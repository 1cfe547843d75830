//! The one place the runner, the editor and `codexos mcp` find and call tools.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

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

/// A callable tool. Arguments reach [`Tool::call`] only after they matched `info().input_schema`.
/// Implement [`AsyncTool`] instead to write the call as an `async fn`.
pub trait Tool: Send + Sync {
    fn info(&self) -> &ToolInfo;
    fn call<'a>(
        &'a self,
        args: Value,
        ctx: &'a ToolContext,
    ) -> BoxFuture<'a, Result<ToolOutput, ToolError>>;
}

/// A tool whose call is an `async fn`; every `AsyncTool` is a [`Tool`].
pub trait AsyncTool: Send + Sync {
    fn info(&self) -> &ToolInfo;
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

/// Every tool a workspace offers: built-ins and registered tools first, then plug-ins, then
/// the tools of MCP servers.
pub struct ToolRegistry {
    tools: Vec<Arc<Registered>>,
    plugins: Option<PluginFolder>,
    mcp_tools: Vec<Arc<Registered>>,
    mcp_problems: Vec<ToolProblem>,
}

impl ToolRegistry {
    /// No tools at all (add some with [`ToolRegistry::register`]).
    pub fn empty() -> ToolRegistry {
        ToolRegistry {
            tools: Vec::new(),
            plugins: None,
            mcp_tools: Vec::new(),
            mcp_problems: Vec::new(),
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

    /// Starts the MCP servers (concurrently, each within `timeout`) and adds their tools as
    /// `<server>.<tool>`. A server that fails is reported by [`ToolRegistry::problems`]; the
    /// others still join. The servers run until the registry is dropped.
    pub async fn connect_mcp_servers(
        &mut self,
        servers: &[McpServerConfig],
        workspace_root: &Path,
        timeout: Duration,
    ) {
        let connections = servers
            .iter()
            .map(|server| mcp::client::connect(server, workspace_root, timeout));
        for connected in futures::future::join_all(connections).await {
            match connected {
                Ok(tools) => {
                    for tool in tools {
                        let info = tool.info().clone();
                        match Registered::new(tool) {
                            Ok(registered) => self.mcp_tools.push(Arc::new(registered)),
                            Err(error) => self.mcp_problems.push(ToolProblem {
                                origin: format!("MCP tool `{}`", info.name),
                                field: "inputSchema".to_owned(),
                                message: format!("not a valid JSON Schema: {error}"),
                            }),
                        }
                    }
                }
                Err(problem) => self.mcp_problems.push(problem),
            }
        }
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
    /// changed), then MCP servers' tools.
    pub fn list(&self) -> Vec<ToolInfo> {
        self.all()
            .iter()
            .map(|registered| registered.tool.info().clone())
            .collect()
    }

    /// What could not be loaded, each naming its file (or server) and field.
    pub fn problems(&self) -> Vec<ToolProblem> {
        let mut problems = self.plugin_tools().1;
        problems.extend(self.mcp_problems.iter().cloned());
        problems
    }

    /// Calls `name` with `args` after checking them against its schema.
    pub async fn call(
        &self,
        name: &str,
        args: Value,
        ctx: &ToolContext,
    ) -> Result<ToolOutput, ToolError> {
        let registered = self.find(name)?;
        registered.schema.check(name, &args)?;
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
        all.extend(self.mcp_tools.iter().cloned());
        all
    }

    fn find(&self, name: &str) -> Result<Arc<Registered>, ToolError> {
        let all = self.all();
        if let Some(found) = all
            .iter()
            .find(|registered| registered.tool.info().name == name)
        {
            return Ok(Arc::clone(found));
        }
        Err(ToolError::UnknownTool {
            name: name.to_owned(),
            suggestion: closest(name, all.iter().map(|r| r.tool.info().name.as_str())),
        })
    }
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
