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

use anyhow::Context;
use codexos_policy::{DEFAULT_PROTECTED, TrustFile};
use codexos_service::Workspace;
use codexos_service::trust::{TrustChange, TrustState, TrustTarget};

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
    let (change, target) = match args.command.unwrap_or(TrustCommand::List { json: false }) {
        TrustCommand::List { json } => return list(&workspace, &trust, json),
        TrustCommand::Allow { what } => (TrustChange::Allow, allowable(what)),
        TrustCommand::Protect { path } => (TrustChange::Allow, TrustTarget::Protect { path }),
        TrustCommand::Revoke { what } => (TrustChange::Revoke, revocable(what)),
    };
    for outcome in workspace.change_trust(&trust, change, target)? {
        println!("{}", outcome.line);
    }
    Ok(ExitCode::SUCCESS)
}

fn allowable(what: Allowable) -> TrustTarget {
    match what {
        Allowable::Command { command } => TrustTarget::Command { command },
        Allowable::Host { host, method } => TrustTarget::Host { host, method },
        Allowable::Write { path } => TrustTarget::Write { path },
        Allowable::Plugin { name } => TrustTarget::Plugin { name },
        Allowable::Mcp { name } => TrustTarget::Mcp { name },
        Allowable::All => TrustTarget::All,
    }
}

fn revocable(what: Revocable) -> TrustTarget {
    match what {
        Revocable::Command { command } => TrustTarget::Command { command },
        Revocable::Host { host, method } => TrustTarget::Host { host, method },
        Revocable::Write { path } => TrustTarget::Write { path },
        Revocable::Plugin { name } => TrustTarget::Plugin { name },
        Revocable::Mcp { name } => TrustTarget::Mcp { name },
        Revocable::Protect { path } => TrustTarget::Protect { path },
    }
}

fn list(workspace: &Workspace, trust: &TrustFile, json: bool) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &workspace.trust_report(trust)?)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let key = workspace.trust_key();
    let requests = workspace.requests()?;
    let allowed = trust.load()?.workspace(&key);
    let items = workspace.trust_items(trust)?;
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
