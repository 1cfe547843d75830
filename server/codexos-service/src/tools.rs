//! The workspace's tools: `codexos.toml`'s `[tools]` and `[[mcp.servers]]` turned into a
//! [`ToolRegistry`] and a [`ToolContext`], the same for the runner, the editor and `codexos mcp`.

use std::sync::Arc;

use codexos_policy::Gate;
use codexos_tools::mcp::McpConfig;
use codexos_tools::{ToolConfig, ToolContext, ToolRegistry, ToolSettings};
use serde::de::DeserializeOwned;

use crate::config::CONFIG_FILE;
use crate::workspace::Workspace;

/// A `[tools]` or `[mcp]` key with a wrong name or type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file} [{section}]: {message}")]
pub struct ToolSettingsError {
    pub file: String,
    pub section: &'static str,
    pub message: String,
}

impl Workspace {
    /// `[tools]` as written: limits, and what the workspace asks of the policy.
    pub fn tool_settings(&self) -> Result<ToolSettings, ToolSettingsError> {
        self.section("tools", &self.config().config.tools.registry)
    }

    /// How tools run here (`[tools]`), with the defaults for every key the file leaves out.
    pub fn tool_config(&self) -> Result<ToolConfig, ToolSettingsError> {
        Ok(self.tool_settings()?.into())
    }

    /// The MCP servers `codexos.toml` lists.
    pub fn mcp_config(&self) -> Result<McpConfig, ToolSettingsError> {
        self.section("mcp", &self.config().config.mcp)
    }

    /// A context for tool calls in this workspace: its root and `[tools]` settings, `gate`
    /// (the workspace's: [`Workspace::gate`]), atomic writes to disk and no index (the caller
    /// adds a write sink, an index and a cancellation token).
    pub fn tool_context(&self, gate: Arc<dyn Gate>) -> Result<ToolContext, ToolSettingsError> {
        Ok(ToolContext::new(self.root())
            .with_config(self.tool_config()?)
            .with_gate(gate))
    }

    /// The built-in tools, the `tools/` folder's plug-ins and the MCP servers of `codexos.toml`:
    /// a server starts when a flow first wants one of its tools and the gate allows it (each
    /// given `[tools] timeout_secs` to answer), and stops when the registry is dropped.
    pub fn tool_registry(&self) -> Result<ToolRegistry, ToolSettingsError> {
        let timeout = self.tool_config()?.timeout;
        let servers = self.mcp_config()?.servers;
        Ok(ToolRegistry::for_workspace(self.root()).with_mcp_servers(&servers, timeout))
    }

    fn section<T: DeserializeOwned>(
        &self,
        section: &'static str,
        table: &toml::Table,
    ) -> Result<T, ToolSettingsError> {
        toml::Value::Table(table.clone())
            .try_into()
            .map_err(|error: toml::de::Error| ToolSettingsError {
                file: self
                    .config()
                    .path
                    .as_ref()
                    .map_or(CONFIG_FILE.to_owned(), |path| path.display().to_string()),
                section,
                message: error.message().trim_end().to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::Config;
    use crate::workspace::Workspace;

    fn workspace(toml: &str) -> Workspace {
        let loaded = Config::parse(toml, Path::new("ws/codexos.toml")).unwrap_or_default();
        Workspace::with_config(Path::new("ws"), loaded)
    }

    #[test]
    fn tools_and_mcp_servers_are_read_from_codexos_toml() {
        let workspace = workspace(
            r#"
[tools]
allow_shell = true
timeout_secs = 5
[tools.declared]
jira = "Jira"

[[mcp.servers]]
name = "github"
command = "github-mcp-server"
args = ["stdio"]
env = { GITHUB_TOOLSETS = "issues" }
"#,
        );
        let settings = workspace.tool_settings().unwrap_or_default();
        assert!(settings.allow_shell && !settings.allow_python);
        let tools = workspace.tool_config().unwrap_or_default();
        assert_eq!(tools.timeout, std::time::Duration::from_secs(5));
        assert_eq!(tools.max_output_bytes, 64 * 1024);
        let servers = workspace.mcp_config().unwrap_or_default().servers;
        assert_eq!(servers.len(), 1);
        assert_eq!(
            (servers[0].name.as_str(), servers[0].command.as_str()),
            ("github", "github-mcp-server")
        );
        assert_eq!(servers[0].args, ["stdio"]);
        assert_eq!(servers[0].env["GITHUB_TOOLSETS"], "issues");
    }

    #[test]
    fn a_misspelt_or_mistyped_key_is_an_error_naming_it() {
        let misspelt = workspace("[tools]\nalow_shell = true\n").tool_config();
        assert_eq!(
            misspelt.map_err(|error| error.to_string()),
            Err("ws/codexos.toml [tools]: unknown field `alow_shell`, expected one of `allow_shell`, `allow_python`, `python`, `timeout_secs`, `max_output_bytes`, `http_timeout_secs`, `http_max_bytes`".to_owned())
        );
        let mistyped = workspace("[[mcp.servers]]\nname = \"x\"\ncommand = 3\n").mcp_config();
        assert_eq!(
            mistyped.map_err(|error| error.to_string()),
            Err("ws/codexos.toml [mcp]: invalid type: integer `3`, expected a string".to_owned())
        );
    }
}
