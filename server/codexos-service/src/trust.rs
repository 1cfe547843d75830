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
    Action, Approval, DEFAULT_PROTECTED, GateConfig, Grant, PolicyGate, TrustError, TrustFile,
    WorkspaceRequests,
};
use codexos_tools::{ToolContext, ToolSource};
use serde::Deserialize;
use serde_json::{Value, json};

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

/// Something to allow or take back in one workspace, as `codexos trust` and `codexos serve`'s
/// `POST /v1/trust` name it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum TrustTarget {
    /// A shell command or python program, exactly, or a prefix ending in `*`.
    Command { command: String },
    /// A host agents may reach: GET and HEAD, or `method`.
    Host {
        host: String,
        #[serde(default)]
        method: Option<String>,
    },
    /// A protected path opened for agents (`dir/` for a folder).
    Write { path: String },
    /// The plug-in `tools/NAME.tool.json` as it is now.
    Plugin { name: String },
    /// The MCP server NAME of `codexos.toml` as it is configured now.
    Mcp { name: String },
    /// One more path agents never write: allowing protects it, revoking lifts that.
    Protect { path: String },
    /// Every plug-in and MCP server of the workspace, as they are now (allow only).
    All,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrustChange {
    Allow,
    Revoke,
}

/// Why a trust change was not made (the store is unchanged).
#[derive(Debug, thiserror::Error)]
pub enum TrustChangeError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Items(#[from] TrustItemsError),
    #[error(transparent)]
    Store(#[from] TrustError),
}

/// One grant a change touched: the sentence that says what happened, and whether the store
/// changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustOutcome {
    pub line: String,
    pub changed: bool,
}

impl Workspace {
    /// Allows or takes back `target` in this workspace, in the trust store `trust`.
    pub fn change_trust(
        &self,
        trust: &TrustFile,
        change: TrustChange,
        target: TrustTarget,
    ) -> Result<Vec<TrustOutcome>, TrustChangeError> {
        let grants = match change {
            TrustChange::Allow => self.grants_to_allow(trust, target)?,
            TrustChange::Revoke => vec![grant_to_revoke(target)?],
        };
        let key = self.trust_key();
        let changed = trust.update(|store| {
            let entry = store.workspace_mut(&key);
            grants
                .iter()
                .map(|grant| match change {
                    TrustChange::Allow => grant.apply(entry),
                    TrustChange::Revoke => grant.revoke(entry),
                })
                .collect::<Vec<bool>>()
        })?;
        Ok(grants
            .iter()
            .zip(changed)
            .map(|(grant, changed)| {
                let what = match (change, changed) {
                    (TrustChange::Allow, true) => format!("allowed {grant}"),
                    (TrustChange::Allow, false) => format!("{grant}: already allowed"),
                    (TrustChange::Revoke, true) => format!("revoked {}", revoked(grant)),
                    (TrustChange::Revoke, false) => format!("{}: was not allowed", revoked(grant)),
                };
                TrustOutcome {
                    line: format!("{what} in {}", key.display()),
                    changed,
                }
            })
            .collect())
    }

    fn grants_to_allow(
        &self,
        trust: &TrustFile,
        target: TrustTarget,
    ) -> Result<Vec<Grant>, TrustChangeError> {
        let find = |wanted: &dyn Fn(&Grant) -> bool| -> Result<Option<Grant>, TrustChangeError> {
            Ok(self
                .trust_items(trust)?
                .into_iter()
                .map(|item| item.grant)
                .find(|grant| wanted(grant)))
        };
        Ok(match target {
            TrustTarget::Command { command } => {
                if command.trim().is_empty() {
                    return Err(TrustChangeError::Invalid("the command is empty".to_owned()));
                }
                vec![Grant::Command(command)]
            }
            TrustTarget::Host { host, method } => vec![host_grant(&host, method)?],
            TrustTarget::Write { path } => vec![Grant::Writable(relative_pattern(&path)?)],
            TrustTarget::Protect { path } => vec![Grant::Protected(relative_pattern(&path)?)],
            TrustTarget::Plugin { name } => {
                let found = find(
                    &|grant| matches!(grant, Grant::Plugin { name: known, .. } if *known == name),
                )?;
                vec![found.ok_or_else(|| {
                    TrustChangeError::NotFound(format!(
                        "no plug-in `{name}` in {}",
                        self.root().join("tools").display()
                    ))
                })?]
            }
            TrustTarget::Mcp { name } => {
                let found = find(
                    &|grant| matches!(grant, Grant::Mcp { name: known, .. } if *known == name),
                )?;
                vec![found.ok_or_else(|| {
                    TrustChangeError::NotFound(format!(
                        "no MCP server `{name}` in [[mcp.servers]] of codexos.toml"
                    ))
                })?]
            }
            TrustTarget::All => self
                .trust_items(trust)?
                .into_iter()
                .map(|item| item.grant)
                .collect(),
        })
    }

    /// What the workspace asks for and what the user allowed in it, as `codexos trust list
    /// --json` prints it and `GET /v1/trust` answers.
    pub fn trust_report(&self, trust: &TrustFile) -> Result<Value, TrustChangeError> {
        let key = self.trust_key();
        let requests = self
            .requests()
            .map_err(|error| TrustChangeError::Items(error.into()))?;
        let allowed = trust.load()?.workspace(&key);
        let items: Vec<Value> = self
            .trust_items(trust)?
            .iter()
            .map(|item| {
                json!({
                    "what": item.grant.to_string(),
                    "action": item.action,
                    "state": item.state.as_str(),
                    "allow": item.grant.command_line(),
                })
            })
            .collect();
        Ok(json!({
            "workspace": key,
            "trust_store": trust.path(),
            "requests": {
                "allow_shell": requests.allow_shell,
                "allow_python": requests.allow_python,
                "offline": requests.offline,
            },
            "items": items,
            "allowed": allowed,
            "protected_by_default": DEFAULT_PROTECTED,
        }))
    }
}

fn grant_to_revoke(target: TrustTarget) -> Result<Grant, TrustChangeError> {
    Ok(match target {
        TrustTarget::Command { command } => Grant::Command(command),
        TrustTarget::Host { host, method } => host_grant(&host, method)?,
        TrustTarget::Write { path } => Grant::Writable(relative_pattern(&path)?),
        TrustTarget::Protect { path } => Grant::Protected(relative_pattern(&path)?),
        TrustTarget::Plugin { name } => Grant::Plugin {
            name,
            hash: String::new(),
        },
        TrustTarget::Mcp { name } => Grant::Mcp {
            name,
            hash: String::new(),
        },
        TrustTarget::All => {
            return Err(TrustChangeError::Invalid(
                "`all` can be allowed, not revoked: revoke each plug-in or MCP server by name"
                    .to_owned(),
            ));
        }
    })
}

/// A grant as revoking names it (its hash is not part of the name).
fn revoked(grant: &Grant) -> String {
    match grant {
        Grant::Plugin { name, .. } => format!("the plug-in `{name}`"),
        Grant::Mcp { name, .. } => format!("the MCP server `{name}`"),
        other => other.to_string(),
    }
}

/// `docs.rs`, `*.example.com`; a URL or a path is a mistake worth saying.
fn host_grant(host: &str, method: Option<String>) -> Result<Grant, TrustChangeError> {
    let host = host.trim().to_ascii_lowercase();
    let valid = !host.is_empty()
        && host
            .trim_start_matches("*.")
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !valid {
        return Err(TrustChangeError::Invalid(format!(
            "`{host}` is not a host name (give `docs.rs` or `*.example.com`, without scheme or path)"
        )));
    }
    let method = method.map(|method| method.trim().to_ascii_uppercase());
    if let Some(method) = &method
        && (method.is_empty() || !method.chars().all(|c| c.is_ascii_alphabetic()))
    {
        return Err(TrustChangeError::Invalid(format!(
            "`{method}` is not an HTTP method"
        )));
    }
    Ok(Grant::Host {
        method: method.filter(|method| method != "GET" && method != "HEAD"),
        host,
    })
}

/// A workspace-relative pattern: no absolute paths, no `..`.
fn relative_pattern(path: &str) -> Result<String, TrustChangeError> {
    let trimmed = path.trim().trim_start_matches("./");
    if trimmed.is_empty() || trimmed.starts_with('/') || trimmed.split('/').any(|part| part == "..")
    {
        return Err(TrustChangeError::Invalid(format!(
            "`{path}` is not a path inside the workspace (give it relative to the workspace root, `dir/` for a folder)"
        )));
    }
    Ok(trimmed.to_owned())
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
    fn hosts_are_names_and_get_needs_no_method() {
        assert_eq!(
            host_grant("Docs.RS", Some("get".to_owned())).ok(),
            Some(Grant::Host {
                method: None,
                host: "docs.rs".to_owned()
            })
        );
        assert_eq!(
            host_grant("api.example.com", Some("post".to_owned())).ok(),
            Some(Grant::Host {
                method: Some("POST".to_owned()),
                host: "api.example.com".to_owned()
            })
        );
        assert!(host_grant("https://docs.rs/x", None).is_err());
        assert!(host_grant("docs.rs", Some("PO ST".to_owned())).is_err());
    }

    #[test]
    fn patterns_stay_inside_the_workspace() {
        assert_eq!(
            relative_pattern("./.vscode/").ok().as_deref(),
            Some(".vscode/")
        );
        assert!(relative_pattern("/etc/passwd").is_err());
        assert!(relative_pattern("src/../../x").is_err());
        assert!(relative_pattern("").is_err());
    }

    #[test]
    fn a_change_says_what_it_did_and_a_second_one_that_nothing_changed() {
        let (dir, workspace) =
            workspace(&[("tools/count.tool.json", PLUGIN), ("tools/count.py", "")]);
        let trust = TrustFile::at(dir.path().join("home/trust.toml"));
        let host = || TrustTarget::Host {
            host: "docs.rs".to_owned(),
            method: Some("POST".to_owned()),
        };
        let lines = |outcomes: Vec<TrustOutcome>| -> Vec<(bool, String)> {
            outcomes
                .into_iter()
                .map(|outcome| {
                    (
                        outcome.changed,
                        outcome
                            .line
                            .replace(&workspace.trust_key().display().to_string(), "WS"),
                    )
                })
                .collect()
        };
        let allow = workspace
            .change_trust(&trust, TrustChange::Allow, host())
            .expect("allow");
        let again = workspace
            .change_trust(&trust, TrustChange::Allow, host())
            .expect("again");
        let plugin = workspace
            .change_trust(
                &trust,
                TrustChange::Allow,
                TrustTarget::Plugin {
                    name: "count".to_owned(),
                },
            )
            .expect("plugin");
        let revoke = workspace
            .change_trust(&trust, TrustChange::Revoke, host())
            .expect("revoke");
        expect_test::expect![[r#"
            [
                (
                    true,
                    "allowed POST requests to docs.rs in WS",
                ),
                (
                    false,
                    "POST requests to docs.rs: already allowed in WS",
                ),
                (
                    true,
                    "allowed the plug-in `count` as it is now in WS",
                ),
                (
                    true,
                    "revoked POST requests to docs.rs in WS",
                ),
            ]
        "#]]
        .assert_debug_eq(&[lines(allow), lines(again), lines(plugin), lines(revoke)].concat());
        let missing = workspace.change_trust(
            &trust,
            TrustChange::Allow,
            TrustTarget::Plugin {
                name: "nope".to_owned(),
            },
        );
        assert!(matches!(missing, Err(TrustChangeError::NotFound(_))));
        let report = workspace.trust_report(&trust).expect("report");
        assert_eq!(report["items"][0]["state"], "approved");
    }

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
