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

use codexos_policy::Action;
use serde::{Deserialize, Serialize};

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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

/// Starting `config`'s server, as the gate sees it: the command line (environment variables by
/// name only: their values may be secrets) and a hash of the whole entry, so a changed command,
/// argument, variable or folder needs approving again.
pub fn start_action(config: &McpServerConfig) -> Action {
    let mut command = std::iter::once(config.command.as_str())
        .chain(config.args.iter().map(String::as_str))
        .map(shell_word)
        .collect::<Vec<_>>()
        .join(" ");
    if !config.env.is_empty() {
        let names: Vec<&str> = config.env.keys().map(String::as_str).collect();
        command.push_str(&format!(" (with {} set)", names.join(", ")));
    }
    if let Some(cwd) = &config.cwd {
        command.push_str(&format!(" (in {})", cwd.display()));
    }
    let entry = serde_json::to_vec(config).unwrap_or_default();
    Action::McpServer {
        name: config.name.clone(),
        command,
        hash: format!("blake3:{}", blake3::hash(&entry).to_hex()),
    }
}

/// `word` as a shell would need it to be written, for showing a command line.
pub(crate) fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_./=:@,+%".contains(&byte));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_servers_start_shows_its_command_and_pins_every_field() {
        let config = McpServerConfig {
            name: "github".to_owned(),
            command: "github-mcp-server".to_owned(),
            args: vec!["stdio".to_owned(), "--read only".to_owned()],
            env: BTreeMap::from([("GITHUB_TOKEN".to_owned(), "ghp_secret".to_owned())]),
            cwd: None,
        };
        let Action::McpServer { command, hash, .. } = start_action(&config) else {
            unreachable!("start_action always describes a server start");
        };
        assert_eq!(
            command,
            "github-mcp-server stdio '--read only' (with GITHUB_TOKEN set)"
        );
        let mut changed = config.clone();
        changed
            .env
            .insert("LD_PRELOAD".to_owned(), "/tmp/x.so".to_owned());
        let Action::McpServer {
            hash: changed_hash, ..
        } = start_action(&changed)
        else {
            unreachable!("start_action always describes a server start");
        };
        assert_ne!(hash, changed_hash);
    }
}
