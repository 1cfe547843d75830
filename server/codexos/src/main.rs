//! `codexos`: the language server and the command line of CodexOS.

mod cmd;

/// mimalloc returns freed memory to the system where glibc's malloc kept it in per-thread
/// arenas: an index run of 390k chunks peaked at 404 MB of heap with glibc, far above its live
/// heap (`codexos bench` reports both allocators' effect as peak heap).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "codexos",
    version = env!("CODEXOS_LONG_VERSION"),
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
    /// Make a folder a CodexOS workspace: codexos.toml, an example flow, .gitignore (idempotent).
    Init(cmd::init::Args),
    /// Check flow files (`*.flow.json`) with the same analysis the editor shows.
    Check(cmd::check::Args),
    /// Start a flow from a template (`flow new --template NAME`) or list them (`flow templates`).
    Flow(cmd::flow::Args),
    /// Serve the workspace over MCP on stdin/stdout (flows and checks as tools for other agents).
    Mcp(cmd::mcp::Args),
    /// Run a flow: progress on stderr, the result on stdout.
    Run(cmd::run::Args),
    /// List, show and retry recorded runs.
    Runs(cmd::runs::Args),
    /// Store, read, list and remove secrets in the workspace's encrypted vault.
    Vault(cmd::vault::Args),
    /// What agents may do here: list, allow and revoke (your trust store, outside the workspace).
    Trust(cmd::trust::Args),
    /// Index a workspace for search (incremental), or show the index's state with --status.
    Index(cmd::index::Args),
    /// Serve the workspace over HTTP and WebSocket with tokens and roles; `serve token` manages
    /// the tokens.
    Serve(cmd::serve::Args),
    /// Search an indexed workspace (hybrid BM25 + vectors, reranked).
    Search(cmd::search::Args),
    /// Measure retrieval quality on a benchmark (recall@1/5/10, MRR).
    Eval(cmd::eval::Args),
    /// Measure the index: throughput, incremental re-index, query latency, memory, size.
    Bench(cmd::bench::Args),
    /// The local models: list them, install them (downloaded and checked), remove them.
    Models(cmd::models::Args),
}

fn main() -> ExitCode {
    // SAFETY: the first thing main does; no other thread exists yet.
    unsafe { codexos_local_model::configure_compute_threads() };
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Lsp(args) => cmd::lsp::run(args),
        Command::Init(args) => cmd::init::run(args),
        Command::Check(args) => cmd::check::run(args),
        Command::Flow(args) => cmd::flow::run(args),
        Command::Mcp(args) => cmd::mcp::run(args),
        Command::Run(args) => cmd::run::run(args),
        Command::Runs(args) => cmd::runs::run(args),
        Command::Vault(args) => cmd::vault::run(args),
        Command::Trust(args) => cmd::trust::run(args),
        Command::Index(args) => cmd::index::run(args),
        Command::Search(args) => cmd::search::run(args),
        Command::Serve(args) => cmd::serve::run(args),
        Command::Eval(args) => cmd::eval::run(args),
        Command::Bench(args) => cmd::bench::run(args),
        Command::Models(args) => cmd::models::run(args),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", message(&error));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes on one line, each cause said once: the services' errors already
/// name their source in their own message (their front ends show one line), so a cause whose
/// text the line holds is not repeated.
fn message(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    /// A service error whose message names its source, as the services' errors do.
    #[derive(Debug)]
    struct Outer(std::io::Error);

    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "shared index of /repo: {}", self.0)
        }
    }

    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn an_error_line_says_each_cause_once() {
        let inner = std::io::Error::other("the server answered 500");
        let error = anyhow::Error::new(Outer(inner)).context("cannot publish");
        assert_eq!(
            super::message(&error),
            "cannot publish: shared index of /repo: the server answered 500"
        );
        let plain =
            anyhow::Error::new(std::io::Error::other("disk full")).context("cannot write a.rs");
        assert_eq!(super::message(&plain), "cannot write a.rs: disk full");
    }
}
