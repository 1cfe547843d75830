//! `codexos vault put KEY [--tag T]...`, `get KEY [--reveal]`, `list [--json]`, `rm KEY`.
//!
//! The vault is `<workspace>/.codexos/vault.age`, keyed by `VAULT_MASTER_KEY` or the identity
//! file created on first use (see `codexos-vault`).
//! - `put` reads the value from stdin, never from the command line (where shell history and
//!   `ps` would see it); one trailing newline is dropped, so `echo "$TOKEN" | codexos vault put
//!   api_token` stores the token alone.
//! - `get` prints the value (without a newline) only when stdout is not a terminal, so it can be
//!   piped or captured (`TOKEN=$(codexos vault get api_token)`); on a terminal it refuses unless
//!   `--reveal` is given, so a value does not end up on screen or in a recording by accident.
//! - `list` shows keys, tags and times, never values.
//!
//! Exit status: 0 on success, 1 when the key is not in the vault, 2 for any other problem (a
//! wrong key, a damaged file: the vault is never overwritten then).

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;

use anyhow::{Context, bail};
use codexos_vault::{PutOutcome, SecretString, Vault, VaultConfig};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: VaultCommand,
}

#[derive(clap::Subcommand)]
enum VaultCommand {
    /// Store a secret; the value is read from stdin.
    Put {
        key: String,
        /// A tag to file the secret under (repeat for more).
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
    },
    /// Print a secret's value (only into a pipe, unless --reveal).
    Get {
        key: String,
        /// Print the value even when stdout is a terminal.
        #[arg(long)]
        reveal: bool,
    },
    /// List keys, tags and times (never values).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a secret.
    Rm { key: String },
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the current folder")?;
    let workspace = super::discover_workspace(&cwd)?;
    let vault = Vault::open_with(&VaultConfig::from_env(workspace.root())?)?;
    match args.command {
        VaultCommand::Put { key, tags } => put(&vault, &key, &tags),
        VaultCommand::Get { key, reveal } => get(&vault, &key, reveal),
        VaultCommand::List { json } => list(&vault, json),
        VaultCommand::Rm { key } => {
            if vault.remove(&key)? {
                eprintln!("removed `{key}`");
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("error: no secret `{key}` in {}", vault.path().display());
                Ok(ExitCode::FAILURE)
            }
        }
    }
}

fn put(vault: &Vault, key: &str, tags: &[String]) -> anyhow::Result<ExitCode> {
    let mut stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("value for `{key}` (end with Ctrl-D):");
    }
    let mut value = String::new();
    stdin
        .read_to_string(&mut value)
        .context("cannot read the value from stdin")?;
    let value = match value.strip_suffix('\n') {
        Some(rest) => rest.strip_suffix('\r').unwrap_or(rest).to_owned(),
        None => value,
    };
    let outcome = vault.put(key, SecretString::new(value), tags)?;
    let verb = match outcome {
        PutOutcome::Created => "stored",
        PutOutcome::Updated => "updated",
    };
    eprintln!("{verb} `{key}` in {}", vault.path().display());
    Ok(ExitCode::SUCCESS)
}

fn get(vault: &Vault, key: &str, reveal: bool) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout();
    if out.is_terminal() && !reveal {
        bail!(
            "not printing the value of `{key}` on a terminal: pipe it (`codexos vault get {key} | ...`) or pass --reveal"
        );
    }
    let Some(secret) = vault.get(key)? else {
        eprintln!("error: no secret `{key}` in {}", vault.path().display());
        return Ok(ExitCode::FAILURE);
    };
    out.write_all(secret.value.expose().as_bytes())?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn list(vault: &Vault, json: bool) -> anyhow::Result<ExitCode> {
    let secrets = vault.list()?;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &secrets)?;
        writeln!(out)?;
    } else {
        for secret in &secrets {
            writeln!(
                out,
                "{:<32}  {:<24}  updated {}",
                secret.key,
                secret.tags.join(","),
                secret.updated
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
