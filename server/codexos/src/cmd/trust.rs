//! `codexos trust`: what agents may do in a workspace, read from and written to the trust store
//! the user owns (`~/.config/codexos/trust.toml`), never the workspace.
//!
//! ```text
//! codexos trust [list] [--json]                what the workspace asks for, what you allowed
//! codexos trust allow command 'cargo test*'    shell/python text that runs without asking
//! codexos trust allow host docs.rs [--method POST]
//! codexos trust allow write .vscode/           open a protected path for agents here
//! codexos trust allow plugin NAME | mcp NAME   approve a plug-in or MCP server as it is now
//! codexos trust allow all                      every plug-in and MCP server listed, as they are
//! codexos trust protect deploy/                one more path agents never write here
//! codexos trust revoke command|host|write|plugin|mcp|protect ...
//! ```
//!
//! The workspace is the one the current folder is in (or `--root`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use codexos_policy::{DEFAULT_PROTECTED, Grant, TrustFile};
use codexos_service::Workspace;

use codexos_service::trust::{TrustItem, TrustState};
use serde_json::json;

#[derive(clap::Args)]
pub struct Args {
    /// The workspace (default: the one the current folder is in).
    #[arg(long, global = true)]
    root: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<TrustCommand>,
}

#[derive(clap::Subcommand)]
enum TrustCommand {
    /// What the workspace asks for and what you allowed in it (the default).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Allow something in this workspace, remembered in your trust store.
    Allow {
        #[command(subcommand)]
        what: Allowable,
    },
    /// Take back something you allowed (or a path you protected).
    Revoke {
        #[command(subcommand)]
        what: Revocable,
    },
    /// One more path agents never write in this workspace (`dir/` for a folder).
    Protect { path: String },
}

#[derive(clap::Subcommand)]
enum Allowable {
    /// A shell command or python program, exactly, or a prefix ending in `*`.
    Command { command: String },
    /// A host agents may reach: GET and HEAD, or the `--method` given.
    Host {
        host: String,
        #[arg(long)]
        method: Option<String>,
    },
    /// A protected path agents may write here (`dir/` for a folder).
    Write { path: String },
    /// The plug-in `tools/NAME.tool.json` as it is now.
    Plugin { name: String },
    /// The MCP server NAME of codexos.toml as it is configured now.
    Mcp { name: String },
    /// Every plug-in and MCP server of the workspace, as they are now.
    All,
}

#[derive(clap::Subcommand)]
enum Revocable {
    Command {
        command: String,
    },
    Host {
        host: String,
        #[arg(long)]
        method: Option<String>,
    },
    Write {
        path: String,
    },
    Plugin {
        name: String,
    },
    Mcp {
        name: String,
    },
    /// A path you protected.
    Protect {
        path: String,
    },
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let start = match &args.root {
        Some(root) => std::path::absolute(root)
            .with_context(|| format!("cannot resolve --root {}", root.display()))?,
        None => std::env::current_dir().context("cannot read the current folder")?,
    };
    let workspace = super::discover_workspace(&start)?;
    let trust = TrustFile::user()?;
    match args.command.unwrap_or(TrustCommand::List { json: false }) {
        TrustCommand::List { json } => list(&workspace, &trust, json),
        TrustCommand::Allow { what } => {
            let grants = allowable(&workspace, &trust, what)?;
            change(&workspace, &trust, &grants, Change::Allow)
        }
        TrustCommand::Protect { path } => change(
            &workspace,
            &trust,
            &[Grant::Protected(relative_pattern(&path)?)],
            Change::Allow,
        ),
        TrustCommand::Revoke { what } => {
            let grant = match what {
                Revocable::Command { command } => Grant::Command(command),
                Revocable::Host { host, method } => host_grant(&host, method)?,
                Revocable::Write { path } => Grant::Writable(relative_pattern(&path)?),
                Revocable::Plugin { name } => Grant::Plugin {
                    name,
                    hash: String::new(),
                },
                Revocable::Mcp { name } => Grant::Mcp {
                    name,
                    hash: String::new(),
                },
                Revocable::Protect { path } => Grant::Protected(relative_pattern(&path)?),
            };
            change(&workspace, &trust, &[grant], Change::Revoke)
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Change {
    Allow,
    Revoke,
}

fn change(
    workspace: &Workspace,
    trust: &TrustFile,
    grants: &[Grant],
    change: Change,
) -> anyhow::Result<ExitCode> {
    let key = workspace.trust_key();
    let changed = trust.update(|store| {
        let entry = store.workspace_mut(&key);
        grants
            .iter()
            .map(|grant| match change {
                Change::Allow => grant.apply(entry),
                Change::Revoke => grant.revoke(entry),
            })
            .collect::<Vec<bool>>()
    })?;
    for (grant, changed) in grants.iter().zip(changed) {
        let line = match (change, changed) {
            (Change::Allow, true) => format!("allowed {grant}"),
            (Change::Allow, false) => format!("{grant}: already allowed"),
            (Change::Revoke, true) => format!("revoked {}", revoked(grant)),
            (Change::Revoke, false) => format!("{}: was not allowed", revoked(grant)),
        };
        println!("{line} in {}", key.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// A grant as revoking names it (its hash is not part of the name).
fn revoked(grant: &Grant) -> String {
    match grant {
        Grant::Plugin { name, .. } => format!("the plug-in `{name}`"),
        Grant::Mcp { name, .. } => format!("the MCP server `{name}`"),
        other => other.to_string(),
    }
}

fn allowable(
    workspace: &Workspace,
    trust: &TrustFile,
    what: Allowable,
) -> anyhow::Result<Vec<Grant>> {
    let items = || -> anyhow::Result<Vec<TrustItem>> { Ok(workspace.trust_items(trust)?) };
    Ok(match what {
        Allowable::Command { command } => {
            if command.trim().is_empty() {
                bail!("the command is empty");
            }
            vec![Grant::Command(command)]
        }
        Allowable::Host { host, method } => vec![host_grant(&host, method)?],
        Allowable::Write { path } => vec![Grant::Writable(relative_pattern(&path)?)],
        Allowable::Plugin { name } => {
            let found = items()?.into_iter().find(
                |item| matches!(&item.grant, Grant::Plugin { name: known, .. } if *known == name),
            );
            match found {
                Some(item) => vec![item.grant],
                None => bail!(
                    "no plug-in `{name}` in {}",
                    workspace.root().join("tools").display()
                ),
            }
        }
        Allowable::Mcp { name } => {
            let found = items()?.into_iter().find(
                |item| matches!(&item.grant, Grant::Mcp { name: known, .. } if *known == name),
            );
            match found {
                Some(item) => vec![item.grant],
                None => bail!("no MCP server `{name}` in [[mcp.servers]] of codexos.toml"),
            }
        }
        Allowable::All => items()?.into_iter().map(|item| item.grant).collect(),
    })
}

/// `docs.rs`, `*.example.com`; a URL or a path is a mistake worth saying.
fn host_grant(host: &str, method: Option<String>) -> anyhow::Result<Grant> {
    let host = host.trim().to_ascii_lowercase();
    let valid = !host.is_empty()
        && host
            .trim_start_matches("*.")
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !valid {
        bail!(
            "`{host}` is not a host name (give `docs.rs` or `*.example.com`, without scheme or path)"
        );
    }
    let method = method.map(|method| method.trim().to_ascii_uppercase());
    if let Some(method) = &method
        && (method.is_empty() || !method.chars().all(|c| c.is_ascii_alphabetic()))
    {
        bail!("`{method}` is not an HTTP method");
    }
    Ok(Grant::Host {
        method: method.filter(|method| method != "GET" && method != "HEAD"),
        host,
    })
}

/// A workspace-relative pattern: no absolute paths, no `..`.
fn relative_pattern(path: &str) -> anyhow::Result<String> {
    let trimmed = path.trim().trim_start_matches("./");
    if trimmed.is_empty() || trimmed.starts_with('/') || trimmed.split('/').any(|part| part == "..")
    {
        bail!(
            "`{path}` is not a path inside the workspace (give it relative to the workspace root, `dir/` for a folder)"
        );
    }
    Ok(trimmed.to_owned())
}

fn list(workspace: &Workspace, trust: &TrustFile, json: bool) -> anyhow::Result<ExitCode> {
    let key = workspace.trust_key();
    let requests = workspace.requests()?;
    let allowed = trust.load()?.workspace(&key);
    let items = workspace.trust_items(trust)?;
    let mut out = std::io::stdout().lock();
    if json {
        let items: Vec<_> = items
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
        let value = json!({
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
        });
        serde_json::to_writer_pretty(&mut out, &value)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "workspace {}", key.display())?;
    writeln!(out, "trust store {}", trust.path().display())?;
    let mut asks = Vec::new();
    if requests.allow_shell {
        asks.push("the shell tool (each command asks you)");
    }
    if requests.allow_python {
        asks.push("the python tool (each program asks you)");
    }
    if requests.offline {
        asks.push("offline (no network for tools, local models only)");
    }
    if !asks.is_empty() {
        writeln!(out, "codexos.toml asks for: {}", asks.join("; "))?;
    }
    if !items.is_empty() {
        writeln!(out, "\nplug-ins and MCP servers (they run commands):")?;
        for item in &items {
            let mark = if item.state == TrustState::Approved {
                "✔"
            } else {
                "✗"
            };
            write!(out, "  {mark} {}  [{}]", item.action, item.state.as_str())?;
            if item.state != TrustState::Approved {
                write!(out, "  → {}", item.grant.command_line())?;
            }
            writeln!(out)?;
        }
    }
    let lists = [
        ("commands that run without asking", &allowed.commands),
        ("hosts agents may reach", &allowed.hosts),
        ("protected paths opened for agents", &allowed.writable),
        ("paths you protected", &allowed.protected),
    ];
    if lists.iter().any(|(_, list)| !list.is_empty()) {
        writeln!(out, "\nyou allowed:")?;
        for (title, list) in lists {
            if !list.is_empty() {
                writeln!(out, "  {title}: {}", list.join(", "))?;
            }
        }
    }
    writeln!(
        out,
        "\nagents never write (unless opened with `codexos trust allow write PATH`): {}",
        DEFAULT_PROTECTED
            .iter()
            .map(|pattern| pattern.trim_start_matches("**/"))
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
