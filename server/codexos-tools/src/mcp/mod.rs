//! MCP both ways, over stdio with the official SDK (rmcp).
//!
//! - [`client`]: the MCP servers `codexos.toml` lists (`[[mcp.servers]]`) are started as child
//!   processes and their tools join the registry, named `<server>.<tool>` (a server's tools can
//!   never shadow a built-in or a plug-in, and two servers may both have a `search`).
//! - [`server`]: [`server::serve`] offers a [`crate::ToolRegistry`] to an MCP client; `codexos mcp`
//!   uses it to serve the workspace's flows, checks and search.

pub mod client;
pub mod server;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// `[mcp]` in `codexos.toml`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct McpConfig {
    pub servers: Vec<McpServerConfig>,
}

/// One `[[mcp.servers]]` entry: a command that speaks MCP on its stdin/stdout.
///
/// ```toml
/// [[mcp.servers]]
/// name = "github"
/// command = "github-mcp-server"
/// args = ["stdio"]
/// env = { GITHUB_TOKEN = "..." }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpServerConfig {
    /// Prefixes its tools' names: `<name>.<tool>`.
    pub name: String,
    pub command: String,
    #[serde(default)]
    pub args: Vec<String>,
    /// Added to the inherited environment.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Where it runs, relative to the workspace root (default: the root).
    #[serde(default)]
    pub cwd: Option<PathBuf>,
}
