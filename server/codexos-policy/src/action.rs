//! What a tool call would do, said precisely enough for a policy to decide and for a person to
//! read: the exact path, command, plug-in, server or URL.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One kind of thing a tool can do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Read workspace files or the workspace index.
    Read,
    /// Change workspace files.
    Write,
    /// Run a program.
    Execute,
    /// Reach another machine.
    Network,
}

impl Capability {
    pub const ALL: [Capability; 4] = [
        Capability::Read,
        Capability::Write,
        Capability::Execute,
        Capability::Network,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Read => "read",
            Capability::Write => "write",
            Capability::Execute => "execute",
            Capability::Network => "network",
        }
    }
}

/// What a tool declares it can do: every action it takes has one of these capabilities.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Capabilities(u8);

impl Capabilities {
    pub const NONE: Capabilities = Capabilities(0);

    pub const fn of(capabilities: &[Capability]) -> Capabilities {
        let mut bits = 0;
        let mut index = 0;
        while index < capabilities.len() {
            bits |= 1 << capabilities[index] as u8;
            index += 1;
        }
        Capabilities(bits)
    }

    pub fn contains(self, capability: Capability) -> bool {
        self.0 & (1 << capability as u8) != 0
    }

    pub fn iter(self) -> impl Iterator<Item = Capability> {
        Capability::ALL
            .into_iter()
            .filter(move |capability| self.contains(*capability))
    }
}

impl fmt::Display for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Capability::as_str).collect();
        if names.is_empty() {
            write!(f, "nothing")
        } else {
            write!(f, "{}", names.join(", "))
        }
    }
}

impl Serialize for Capabilities {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

/// What one tool call would do. Paths are relative to the workspace root, `/`-separated, and
/// already resolved (symbolic links followed), so a policy sees where a write really lands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Read a workspace file.
    Read { path: String },
    /// Search the workspace index.
    Search,
    /// Create or replace a workspace file.
    Write { path: String },
    /// Run text the model wrote: a shell command (`shell`) or a program (`python`).
    Command { tool: String, command: String },
    /// Run a plug-in tool: the command its `tools/*.tool.json` file describes. `hash` pins the
    /// file and the scripts it ships (`./…` in its command).
    Plugin {
        name: String,
        file: String,
        command: String,
        hash: String,
    },
    /// Start an MCP server that `codexos.toml` lists, and call its tools. `hash` pins its
    /// command, arguments, environment and folder.
    McpServer {
        name: String,
        command: String,
        hash: String,
    },
    /// Call a tool of an MCP server that is running: it started only after [`Action::McpServer`]
    /// was allowed, so its tools are its to decide.
    McpTool { server: String, tool: String },
    /// An HTTP request.
    Fetch { method: String, url: String },
    /// A model called a tool its node does not list (`nodes[].tools`).
    UnlistedTool { listed: Vec<String> },
    /// Run a sub-flow (a `flow` node's `path`, relative to its flow file).
    SubFlow {
        path: String,
        inside_workspace: bool,
    },
    /// A tool the program itself registered (e.g. `codexos mcp`'s `list_flows`): it does no
    /// more than its description says, and what it starts goes through this policy again.
    Internal,
}

impl Action {
    /// The capability the action needs.
    pub fn capability(&self) -> Capability {
        match self {
            Action::Read { .. } | Action::Search | Action::Internal | Action::SubFlow { .. } => {
                Capability::Read
            }
            Action::Write { .. } => Capability::Write,
            Action::Command { .. }
            | Action::Plugin { .. }
            | Action::McpServer { .. }
            | Action::McpTool { .. }
            | Action::UnlistedTool { .. } => Capability::Execute,
            Action::Fetch { .. } => Capability::Network,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Read { path } => write!(f, "read `{path}`"),
            Action::Search => write!(f, "search the workspace index"),
            Action::Write { path } => write!(f, "write `{path}`"),
            Action::Command { tool, command } if tool == "shell" => {
                write!(f, "run the shell command `{command}`")
            }
            Action::Command { tool, command } => write!(f, "run with `{tool}`: {command}"),
            Action::Plugin {
                name,
                file,
                command,
                ..
            } => write!(f, "run the plug-in `{name}` ({file}): `{command}`"),
            Action::McpServer { name, command, .. } => {
                write!(f, "start the MCP server `{name}`: `{command}`")
            }
            Action::McpTool { server, tool } => {
                write!(f, "call `{tool}` of the MCP server `{server}`")
            }
            Action::Fetch { method, url } => write!(f, "{method} {url}"),
            Action::UnlistedTool { listed } if listed.is_empty() => {
                write!(f, "call a tool, though its node lists none")
            }
            Action::UnlistedTool { listed } => write!(
                f,
                "call a tool its node does not list (it lists {})",
                listed
                    .iter()
                    .map(|name| format!("`{name}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Action::SubFlow { path, .. } => write!(f, "run the sub-flow `{path}`"),
            Action::Internal => write!(f, "use a tool of CodexOS itself"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_list_what_they_hold_in_a_fixed_order() {
        let capabilities = Capabilities::of(&[Capability::Network, Capability::Read]);
        assert!(capabilities.contains(Capability::Read));
        assert!(!capabilities.contains(Capability::Write));
        assert_eq!(capabilities.to_string(), "read, network");
        assert_eq!(
            serde_json::to_string(&capabilities).ok().as_deref(),
            Some(r#"["read","network"]"#)
        );
        assert_eq!(Capabilities::NONE.to_string(), "nothing");
    }

    #[test]
    fn actions_read_as_what_would_happen() {
        let shell = Action::Command {
            tool: "shell".to_owned(),
            command: "ls -la".to_owned(),
        };
        assert_eq!(shell.to_string(), "run the shell command `ls -la`");
        assert_eq!(shell.capability(), Capability::Execute);
        let fetch = Action::Fetch {
            method: "POST".to_owned(),
            url: "https://example.com/x".to_owned(),
        };
        assert_eq!(fetch.to_string(), "POST https://example.com/x");
        assert_eq!(
            serde_json::to_string(&fetch).ok().as_deref(),
            Some(r#"{"kind":"fetch","method":"POST","url":"https://example.com/x"}"#)
        );
    }
}
