//! `codexos`: the language server and the command line of CodexOS.

mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "codexos",
    version,
    about = "An editor-native OS for agent-powered engineering"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the language server over stdin/stdout (what an editor starts).
    Lsp(cmd::lsp::Args),
    /// Check flow files (`*.flow.json`) with the same analysis the editor shows.
    Check(cmd::check::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Lsp(args) => cmd::lsp::run(args),
        Command::Check(args) => cmd::check::run(args),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
