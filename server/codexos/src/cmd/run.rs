//! `codexos run FLOW [--input TEXT] [--context FILE...] [--json] [--timeout SECS] [--yes] [--offline]`.
//!
//! Checks the flow (a flow with errors never starts: its errors go to stderr, exit 1), then runs
//! it in the workspace the flow lies in. Progress goes to stderr as it happens (a line per node,
//! streamed tokens, warnings); stdout gets the result: the output alone, or with `--json` the
//! whole [`codexos_agent::RunResult`] (per-node outputs, timings, token usage, errors,
//! warnings, sources). Secret values never appear: everything printed is redacted.
//!
//! The workspace excerpts its `rag` nodes used are listed on stderr at the end (`sources:`).
//!
//! Exit status: 0 when the run succeeded, 1 when it failed or did not start because of the flow's
//! errors, 130 when Ctrl-C stopped it (its tools' processes are killed, the trace records where
//! it stopped), 2 when the command itself could not work (unreadable files).
//! Every run is recorded under `.codexos/runs/`; `codexos runs retry ID` continues a failed one.
//!
//! What the run's agents may do is the workspace's policy (docs/security.md): what it would ask
//! you about (a command, a host, a plug-in) is asked on the terminal, allowed for this run with
//! `--yes`, and refused when there is no terminal to ask on.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use codexos_agent::{ContextFile, RunError, RunRequest, Source};

use super::agent;

#[derive(clap::Args)]
pub struct Args {
    /// The flow file (`*.flow.json`) to run.
    flow: PathBuf,
    /// The run's input: `{{input}}` in templates.
    #[arg(long, default_value = "")]
    input: String,
    /// A file whose text joins `{{context}}` (repeat for more).
    #[arg(long = "context", value_name = "FILE")]
    context: Vec<PathBuf>,
    /// A name for the agent this run belongs to (the seed's `agent_id`), recorded with the run
    /// so `codexos runs list --agent NAME` finds it.
    #[arg(long, value_name = "NAME")]
    agent_id: Option<String>,
    /// Print the whole result as JSON on stdout instead of the output alone.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    flags: agent::RunFlags,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut request = RunRequest::from_file(&args.flow, args.input)?;
    request.agent_id = args.agent_id;
    for path in &args.context {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the context file {}", path.display()))?;
        request.context.push(ContextFile {
            path: path.display().to_string(),
            text,
        });
    }
    let start = request
        .flow_path
        .as_deref()
        .and_then(|path| path.parent())
        .map(PathBuf::from)
        .unwrap_or_default();
    let workspace = super::discover_workspace(&start)?;
    agent::runtime()?.block_on(async {
        let approval = agent::approval(args.flags.yes);
        let runner = agent::runner_for(&workspace, args.flags, approval).await?;
        let started = runner
            .runner
            .run(request, agent::stderr_progress(), agent::cancel_on_ctrl_c())
            .await;
        match started {
            Ok(result) => {
                print_sources(&result.sources);
                agent::print_result(&result, args.json)
            }
            Err(error @ RunError::FlowHasErrors { .. }) => {
                eprintln!("error: {error}");
                Ok(ExitCode::FAILURE)
            }
            Err(error) => Err(error.into()),
        }
    })
}

/// Lists on stderr, once each, the workspace excerpts the run's `rag` nodes retrieved.
fn print_sources(sources: &[Source]) {
    let mut seen = std::collections::HashSet::new();
    let lines: Vec<String> = sources
        .iter()
        .filter(|source| seen.insert((&source.path, source.start_line, source.end_line)))
        .map(|source| {
            let place = format!("{}:{}-{}", source.path, source.start_line, source.end_line);
            match source.symbol.as_str() {
                "" => format!("  {place}"),
                symbol => format!("  {place}  {symbol}"),
            }
        })
        .collect();
    if !lines.is_empty() {
        eprintln!("sources:\n{}", lines.join("\n"));
    }
}
