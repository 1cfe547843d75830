//! `codexos serve [--root DIR] [--bind ADDR] [--allow-remote] [--timeout SECS]
//! [--runs chroma://HOST:PORT/NAME [--name NAME]]`: the workspace over HTTP and WebSocket
//! (docs/serve.md), until Ctrl-C or SIGTERM; and its tokens:
//! `codexos serve token create --role ROLE [--name NAME]` (the token is printed once, only its
//! hash is kept), `token list [--json]`, `token revoke NAME`.
//!
//! Runs started over HTTP follow the workspace's policy with nobody to ask, as `codexos mcp`'s:
//! what the policy would ask you about is refused unless your trust store allows it.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use codexos_serve::{Role, ServeOptions, TokenFile};

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<ServeCommand>,
    /// The workspace to serve (default: the one the current folder is in).
    #[arg(long)]
    root: Option<PathBuf>,
    /// Where to listen. Only loopback addresses unless --allow-remote.
    #[arg(long, default_value = "127.0.0.1:7341")]
    bind: SocketAddr,
    /// Allow binding an address reachable from the network (put TLS in front: docs/serve.md).
    #[arg(long)]
    allow_remote: bool,
    /// Stop each run after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    timeout: u64,
    /// The team's run store: a Chroma server every server of the team reaches (collection
    /// NAME-runs). Each server writes its runs there and lists, shows and follows everyone's.
    /// Default: this machine's traces only. Given here, not in codexos.toml: run records hold
    /// inputs and outputs, and a cloned workspace must not send them anywhere by itself.
    #[arg(long, value_name = "chroma://HOST:PORT/NAME")]
    runs: Option<String>,
    /// This server's name in the run store (default: the host's name and the port).
    #[arg(long, requires = "runs")]
    name: Option<String>,
}

#[derive(clap::Subcommand)]
enum ServeCommand {
    /// The API's bearer tokens (kept in your own folder, outside every workspace).
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(clap::Subcommand)]
enum TokenCommand {
    /// Create a token; it is printed once, only its hash is kept.
    Create {
        /// viewer (read runs, search), executor (+ run flows, cancel, retry), creator (+ check
        /// flows), admin (+ vault, tokens).
        #[arg(long)]
        role: Role,
        /// A name for it, shown in the audit log (default: the role and a short id).
        #[arg(long)]
        name: Option<String>,
    },
    /// List the tokens: name, role, creation time (never the tokens).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by name: the server refuses it from its next request.
    Revoke { name: String },
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let tokens = TokenFile::user()?;
    match args.command {
        Some(ServeCommand::Token { command }) => token(&tokens, command),
        None => serve(args, tokens),
    }
}

fn token(tokens: &TokenFile, command: TokenCommand) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match command {
        TokenCommand::Create { role, name } => {
            let (secret, info) = tokens.create(role, name.as_deref())?;
            eprintln!(
                "created the {} token `{}` (stored as a hash in {}); it is shown this once:",
                info.role,
                info.name,
                tokens.path().display()
            );
            writeln!(out, "{secret}")?;
        }
        TokenCommand::List { json } => {
            for info in tokens.list()? {
                if json {
                    let line = serde_json::json!({
                        "name": info.name,
                        "role": info.role,
                        "created_at": info.created_at,
                    });
                    writeln!(out, "{line}")?;
                } else {
                    writeln!(
                        out,
                        "{:<24}  {:<8}  {}",
                        info.name,
                        info.role,
                        codexos_agent::trace::format_utc(info.created_at)
                    )?;
                }
            }
        }
        TokenCommand::Revoke { name } => {
            if !tokens.revoke(&name)? {
                eprintln!("error: no token named `{name}` (see `codexos serve token list`)");
                return Ok(ExitCode::FAILURE);
            }
            eprintln!("revoked `{name}`");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn serve(args: Args, tokens: TokenFile) -> anyhow::Result<ExitCode> {
    let start = match args.root {
        Some(root) => std::path::absolute(&root)
            .with_context(|| format!("cannot resolve --root {}", root.display()))?,
        None => std::env::current_dir().context("cannot read the current folder")?,
    };
    let workspace = super::discover_workspace(&start)?;
    for warning in &workspace.config().warnings {
        eprintln!("warning: {warning}");
    }
    if tokens.list()?.is_empty() {
        eprintln!(
            "warning: there are no tokens yet, so every request is refused: create one with \
             `codexos serve token create --role viewer`"
        );
    }
    let root = workspace.root().to_owned();
    let audit = codexos_serve::audit_log_path(&workspace);
    let options = ServeOptions {
        bind: args.bind,
        allow_remote: args.allow_remote,
        tokens,
        run_timeout: Duration::from_secs(args.timeout),
        runs: args.runs,
        name: args.name,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(codexos_serve::serve(
        workspace,
        options,
        |addr| {
            eprintln!(
                "codexos serve: {} on http://{addr} (audit log: {})",
                root.display(),
                audit.display()
            );
        },
        stop_signal(),
    ))?;
    eprintln!("codexos serve: stopped");
    Ok(ExitCode::SUCCESS)
}

/// Ctrl-C or SIGTERM (what a service manager sends).
async fn stop_signal() {
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(terminate) => terminate,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}
