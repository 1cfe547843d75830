//! The workspace's side of the policy (`codexos-policy`): what its `codexos.toml` asks for, the
//! gate every front end runs its agents through, and what in it waits for the user's approval.
//!
//! The gate is built here once per runner, from the same three inputs for the command line, the
//! editor and MCP: the workspace's requests, the user's trust store (outside the workspace), and
//! who answers when the policy asks — the terminal, the editor's dialog, `--yes`, or nobody.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use codexos_flow::Entry;
use codexos_policy::{
    Action, Approval, GateConfig, Grant, PolicyGate, TrustFile, WorkspaceRequests,
};
use codexos_tools::{ToolContext, ToolSource};
use serde_json::Value;

use crate::tools::ToolSettingsError;
use crate::workspace::Workspace;

/// Whether something the workspace holds may run as it is now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrustState {
    /// Approved as it is.
    Approved,
    /// Approved once, changed since: it asks again.
    Changed,
    /// Never approved.
    New,
}

impl TrustState {
    pub fn as_str(self) -> &'static str {
        match self {
            TrustState::Approved => "approved",
            TrustState::Changed => "changed since approved",
            TrustState::New => "not approved",
        }
    }
}

/// A plug-in or MCP server of the workspace, as the policy pins it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustItem {
    /// What approving it records.
    pub grant: Grant,
    /// What running it does (the command line).
    pub action: Action,
    pub state: TrustState,
}

impl Workspace {
    /// The canonical root: what the trust store is keyed by.
    pub fn trust_key(&self) -> PathBuf {
        self.root()
            .canonicalize()
            .unwrap_or_else(|_| self.root().to_owned())
    }

    /// What `codexos.toml` asks of the policy: requests it can grant or not, never grants.
    pub fn requests(&self) -> Result<WorkspaceRequests, ToolSettingsError> {
        let settings = self.tool_settings()?;
        Ok(WorkspaceRequests {
            allow_shell: settings.allow_shell,
            allow_python: settings.allow_python,
            offline: self.config().config.network.offline,
        })
    }

    /// The workspace's gate: its requests, the user's trust store (`~/.config/codexos/trust.toml`;
    /// none when there is no home folder), and `approval` for what the policy asks the user.
    /// `offline` makes this run offline whatever `codexos.toml` says.
    pub fn gate(
        &self,
        approval: Approval,
        offline: bool,
    ) -> Result<Arc<PolicyGate>, ToolSettingsError> {
        Ok(Arc::new(PolicyGate::new(GateConfig {
            root: self.trust_key(),
            requests: self.requests()?,
            offline,
            trust: TrustFile::user().ok(),
            approval,
        })))
    }

    /// The plug-ins (`tools/*.tool.json`) and MCP servers (`[[mcp.servers]]`) of the workspace,
    /// each with what approving it records and whether the trust store in `trust` approves it as
    /// it is now.
    pub fn trust_items(&self, trust: &TrustFile) -> Result<Vec<TrustItem>, TrustItemsError> {
        let approved = trust
            .load()
            .map_err(|error| TrustItemsError::Store(error.to_string()))?
            .workspace(&self.trust_key());
        let registry = self.tool_registry()?;
        let context = ToolContext::new(self.root());
        let mut items = Vec::new();
        for info in registry.list() {
            if !matches!(info.source, ToolSource::Plugin { .. }) {
                continue;
            }
            let Some(action) =
                registry.action_of(&info.name, &Value::Object(Default::default()), &context)
            else {
                continue;
            };
            if let Action::Plugin { name, hash, .. } = &action {
                let state = state(approved.plugins.get(name), hash);
                items.push(TrustItem {
                    grant: Grant::Plugin {
                        name: name.clone(),
                        hash: hash.clone(),
                    },
                    action,
                    state,
                });
            }
        }
        for server in self.mcp_config()?.servers {
            let action = codexos_tools::mcp::start_action(&server);
            if let Action::McpServer { name, hash, .. } = &action {
                let state = state(approved.mcp.get(name), hash);
                items.push(TrustItem {
                    grant: Grant::Mcp {
                        name: name.clone(),
                        hash: hash.clone(),
                    },
                    action,
                    state,
                });
            }
        }
        Ok(items)
    }
}

fn state(approved: Option<&String>, hash: &str) -> TrustState {
    match approved {
        Some(approved) if approved == hash => TrustState::Approved,
        Some(_) => TrustState::Changed,
        None => TrustState::New,
    }
}

/// The workspace's plug-ins and servers could not be listed with their approval.
#[derive(Debug, thiserror::Error)]
pub enum TrustItemsError {
    #[error(transparent)]
    Settings(#[from] ToolSettingsError),
    #[error("{0}")]
    Store(String),
}

impl Workspace {
    /// The tools of this workspace's MCP servers that the user approved as they are now, with
    /// their argument schemas: each server is started to list them and stopped after (a server
    /// the user did not approve is never started). `codexos check` checks tool nodes' `args`
    /// against them; a server left out keeps its tools known by prefix, unchecked, and the second
    /// list says why.
    pub async fn approved_mcp_tools(&self, timeout: Duration) -> (Vec<Entry>, Vec<String>) {
        let mut entries = Vec::new();
        let mut left_out = Vec::new();
        let Ok(servers) = self.mcp_config().map(|mcp| mcp.servers) else {
            return (entries, left_out);
        };
        if servers.is_empty() {
            return (entries, left_out);
        }
        let items = TrustFile::user()
            .map_err(|error| error.to_string())
            .and_then(|trust| self.trust_items(&trust).map_err(|error| error.to_string()));
        let items = match items {
            Ok(items) => items,
            Err(error) => {
                left_out.push(format!(
                    "MCP tools' arguments are not checked: the trust store cannot be read: {error}"
                ));
                return (entries, left_out);
            }
        };
        for server in servers {
            let approved = items.iter().any(|item| {
                item.state == TrustState::Approved
                    && matches!(&item.grant, Grant::Mcp { name, .. } if *name == server.name)
            });
            if !approved {
                left_out.push(format!(
                    "MCP server `{}` is not approved, so it was not started and its tools' arguments are not checked (codexos trust allow mcp {})",
                    server.name, server.name
                ));
                continue;
            }
            match codexos_tools::mcp::client::connect(&server, self.root(), timeout).await {
                Ok(tools) => entries.extend(tools.iter().map(|tool| {
                    let info = tool.info();
                    Entry::new(info.name.clone(), info.description.clone())
                        .with_schema(info.input_schema.clone())
                })),
                Err(problem) => {
                    left_out.push(format!("its tools' arguments are not checked: {problem}"))
                }
            }
        }
        (entries, left_out)
    }
}

#[cfg(test)]
mod tests {
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

    const PLUGIN: &str = r#"{"description": "Count words", "command": ["python3", "./count.py", "{{path}}"],
"input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}}"#;

    #[test]
    fn codexos_toml_asks_for_tools_and_narrows_the_network_but_grants_nothing() {
        let (_dir, workspace) = workspace(&[(
            "codexos.toml",
            "[tools]\nallow_shell = true\n[network]\noffline = true\n",
        )]);
        assert_eq!(
            workspace.requests().ok(),
            Some(WorkspaceRequests {
                allow_shell: true,
                allow_python: false,
                offline: true,
            })
        );
    }

    #[test]
    fn plugins_and_mcp_servers_are_listed_new_then_approved_then_changed() {
        let (dir, workspace) = workspace(&[
            ("tools/count.tool.json", PLUGIN),
            ("tools/count.py", "print(1)\n"),
            (
                "codexos.toml",
                "[[mcp.servers]]\nname = \"github\"\ncommand = \"github-mcp-server\"\nargs = [\"stdio\"]\n",
            ),
        ]);
        let trust = TrustFile::at(dir.path().join("home/trust.toml"));
        let states = |workspace: &Workspace| -> Vec<String> {
            workspace
                .trust_items(&trust)
                .expect("items")
                .iter()
                .map(|item| format!("{} — {}: {}", item.grant, item.state.as_str(), item.action))
                .collect()
        };
        let shown = states(&workspace);
        assert_eq!(shown.len(), 2, "{shown:#?}");
        assert!(shown[0].starts_with("the plug-in `count` as it is now — not approved: run the plug-in `count` (tools/count.tool.json): `python3 "), "{}", shown[0]);
        assert_eq!(
            shown[1],
            "the MCP server `github` as configured now — not approved: start the MCP server `github`: `github-mcp-server stdio`"
        );
        let items = workspace.trust_items(&trust).expect("items");
        trust
            .update(|store| {
                for item in &items {
                    item.grant
                        .apply(store.workspace_mut(&workspace.trust_key()));
                }
            })
            .expect("approve");
        assert!(
            states(&workspace)
                .iter()
                .all(|line| line.contains("— approved:"))
        );
        std::fs::write(dir.path().join("tools/count.py"), "import os\n").expect("edit");
        let after = states(&workspace);
        assert!(
            after[0].contains("— changed since approved:"),
            "{}",
            after[0]
        );
        assert!(after[1].contains("— approved:"));
    }
}
