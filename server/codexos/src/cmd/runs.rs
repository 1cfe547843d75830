//! `codexos runs list [--agent NAME] [--json]`, `codexos runs show ID [--json]`,
//! `codexos runs retry ID [--json]`, `codexos runs replay ID --from NODE [--set KEY=VALUE...]
//! [--json]`.
//!
//! Runs are the traces under `<workspace>/.codexos/runs/` (the workspace is the nearest folder
//! with a `codexos.toml`, else the current one). `list` prints one line per run, newest first:
//! id, status, flow, start time (UTC), duration, the node that failed, and what a replay
//! replays. `show` prints a run's steps, one line each with the start of what the node
//! produced, then the run's output or error; `--full` prints every node's whole output, `--json` the trace's header and events.
//! `retry` re-runs a failed or cancelled run from where it stopped, with the earlier nodes'
//! recorded outputs, printing progress and result as `codexos run` does (same exit codes).
//! `replay` runs a recorded run again from any top-level node that ran, as a new run linked to it
//! (`forked_from` in its header, `list --json` and `show`): the nodes that finished before that
//! node keep their recorded outputs, that node and what follows run with the flow file as it is
//! today. `--set` edits what they run with (a fork): `input=TEXT`, `NODE.prompt=TEXT`,
//! `NODE.system=TEXT`, `NODE.model=MODEL`, or `nodes.NODE.output=TEXT` for a node before it
//! (see `codexos_agent::replay`). A wrong run, node or key, or an edited prompt the flow's
//! checks refuse, is an error (exit 2) and nothing runs.
//! A run is named by its id, by `last`, or by the start of its id.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use codexos_agent::replay::{self, ReplayRequest};
use codexos_agent::trace::{self, RecordedRun};
use codexos_agent::{RunError, RunEvent, runs_dir};
use codexos_service::agents::Verdict;

use super::agent;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: RunsCommand,
}

#[derive(clap::Subcommand)]
enum RunsCommand {
    /// List recorded runs, newest first.
    List {
        /// Only the runs of this agent (the `agent_id` a run was started with).
        #[arg(long, value_name = "NAME")]
        agent: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show one run's steps, output and errors.
    Show {
        /// The run: its id, `last`, or the start of its id.
        run_id: String,
        /// Every node's whole output (by default: its first line).
        #[arg(long)]
        full: bool,
        #[arg(long, conflicts_with = "full")]
        json: bool,
    },
    /// Run a failed run again from the node that failed.
    Retry {
        /// The run: its id, `last`, or the start of its id.
        run_id: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        flags: agent::RunFlags,
    },
    /// Run a recorded run again from one of its nodes, with the outputs recorded before it,
    /// optionally with edits (a fork).
    Replay {
        /// The run: its id, `last`, or the start of its id.
        run_id: String,
        /// The node to run again from (one that ran, at the top level of the flow).
        #[arg(long, value_name = "NODE")]
        from: String,
        /// An edit: `input=TEXT`, `NODE.prompt=TEXT`, `NODE.system=TEXT`, `NODE.model=MODEL`,
        /// or `nodes.NODE.output=TEXT` (a node before `--from`). Repeat for more.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Print the whole result as JSON on stdout instead of the output alone.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        flags: agent::RunFlags,
    },
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the current folder")?;
    let workspace = super::discover_workspace(&cwd)?;
    let dir = runs_dir(workspace.root());
    match args.command {
        RunsCommand::List { agent, json } => list(&dir, agent.as_deref(), json),
        RunsCommand::Show { run_id, full, json } => {
            let run = trace::load(&dir, &run_id)?;
            match json {
                true => show_json(&run),
                false => show(&run, full),
            }
        }
        RunsCommand::Retry {
            run_id,
            json,
            flags,
        } => agent::runtime()?.block_on(async {
            let run_id = trace::resolve(&dir, &run_id)?;
            let runner = agent::runner_for(&workspace, flags, agent::approval(flags.yes)).await?;
            let retried = runner
                .runner
                .retry(&run_id, agent::stderr_progress(), agent::cancel_on_ctrl_c())
                .await;
            match retried {
                Ok(result) => agent::print_result(&result, json),
                Err(error @ (RunError::FlowHasErrors { .. } | RunError::NothingToRetry(_))) => {
                    eprintln!("error: {error}");
                    Ok(ExitCode::FAILURE)
                }
                Err(error) => Err(error.into()),
            }
        }),
        RunsCommand::Replay {
            run_id,
            from,
            set,
            json,
            flags,
        } => {
            // Bad edits are refused before anything (the runner, its tools) starts.
            let set = replay::parse_set(&set)?;
            let run_id = trace::resolve(&dir, &run_id)?;
            let request = ReplayRequest { run_id, from, set };
            agent::runtime()?.block_on(async {
                let runner =
                    agent::runner_for(&workspace, flags, agent::approval(flags.yes)).await?;
                let replayed = runner
                    .runner
                    .replay(request, agent::stderr_progress(), agent::cancel_on_ctrl_c())
                    .await;
                match replayed {
                    Ok(result) => agent::print_result(&result, json),
                    Err(error @ RunError::FlowHasErrors { .. }) => {
                        eprintln!("error: {error}");
                        Ok(ExitCode::FAILURE)
                    }
                    Err(error) => Err(error.into()),
                }
            })
        }
    }
}

fn status(run: &RecordedRun) -> &'static str {
    run.status().map_or("incomplete", |status| status.as_str())
}

fn list(dir: &std::path::Path, agent: Option<&str>, json: bool) -> anyhow::Result<ExitCode> {
    let (mut runs, errors) = trace::list(dir);
    if let Some(agent) = agent {
        runs.retain(|run| run.header.agent_id.as_deref() == Some(agent));
    }
    let mut out = std::io::stdout().lock();
    for run in &runs {
        let failed = run.failure().map(|(node, _)| node).unwrap_or_default();
        if json {
            let line = serde_json::json!({
                "run_id": run.header.run_id,
                "status": status(run),
                "flow_id": run.header.flow_id,
                "flow_path": run.header.flow_path,
                "started_at": run.header.started_at,
                "elapsed_ms": run.elapsed_ms(),
                "failed_node": (!failed.is_empty()).then_some(&failed),
                "retry_of": run.header.retry_of,
                "forked_from": run.header.forked_from,
                "agent_id": run.header.agent_id,
            });
            writeln!(out, "{line}")?;
        } else {
            let elapsed = run.elapsed_ms().map_or_else(
                || "-".to_owned(),
                |ms| format!("{:.1} s", ms as f64 / 1000.0),
            );
            let fork = run
                .header
                .forked_from
                .as_ref()
                .map(|fork| format!("  ({})", fork.describe()))
                .unwrap_or_default();
            writeln!(
                out,
                "{}  {:<10}  {:<24}  {}  {:>8}  {failed}{fork}",
                run.header.run_id,
                status(run),
                run.header.flow_id,
                trace::format_utc(run.header.started_at),
                elapsed,
            )?;
        }
    }
    for error in &errors {
        eprintln!("warning: {error}");
    }
    if runs.is_empty() && !json {
        eprintln!("no runs recorded in {}", dir.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn show_json(run: &RecordedRun) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let value = serde_json::json!({"header": run.header, "events": run.events});
    serde_json::to_writer_pretty(&mut out, &value)?;
    writeln!(out)?;
    Ok(ExitCode::SUCCESS)
}

/// How much of a node's output the concise view shows.
const PREVIEW_CHARS: usize = 100;

/// The first line of `output`, cut to [`PREVIEW_CHARS`], with how much more there is.
fn preview(output: &str) -> Option<String> {
    let mut lines = output.lines().filter(|line| !line.trim().is_empty());
    let first = lines.next()?.trim();
    let rest = lines.count();
    let mut shown: String = first.chars().take(PREVIEW_CHARS).collect();
    if shown.len() < first.len() {
        shown.truncate(shown.trim_end().len());
        shown.push('…');
    }
    if rest > 0 {
        shown.push_str(&format!(
            "  (+{rest} line{})",
            if rest == 1 { "" } else { "s" }
        ));
    }
    Some(shown)
}

fn show(run: &RecordedRun, full: bool) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let header = &run.header;
    writeln!(
        out,
        "run {} of {}: {}",
        header.run_id,
        header.flow_id,
        status(run)
    )?;
    if let Some(path) = &header.flow_path {
        writeln!(out, "flow: {}", path.display())?;
    }
    if let Some(old) = &header.retry_of {
        writeln!(out, "retry of: {old}")?;
    }
    if let Some(fork) = &header.forked_from {
        writeln!(out, "{}", fork.describe())?;
        for (key, value) in &fork.set {
            writeln!(out, "  set {key} = {}", preview(value).unwrap_or_default())?;
        }
    }
    if let Some(agent) = &header.agent_id {
        writeln!(out, "agent: {agent}")?;
    }
    writeln!(out, "started: {}", trace::format_utc(header.started_at))?;
    writeln!(out, "input: {}", header.input)?;
    let final_output = match run.finished() {
        Some(RunEvent::Finished { output, .. }) => output.as_deref(),
        _ => None,
    };
    for event in &run.events {
        match event {
            RunEvent::NodeFinished {
                node,
                output,
                elapsed_ms,
                model,
                note,
                ..
            } => {
                let mut details = vec![format!("{elapsed_ms} ms")];
                details.extend(model.clone());
                details.extend(note.clone());
                writeln!(out, "✓ {node} · {}", details.join(" · "))?;
                if full {
                    for line in output.lines() {
                        writeln!(out, "    {line}")?;
                    }
                } else if Some(output.as_str()) != final_output
                    && let Some(preview) = preview(output)
                {
                    // The run's output is printed once, whole, at the end.
                    writeln!(out, "    {preview}")?;
                }
            }
            RunEvent::AttemptFailed { .. } => {
                if let Some(line) = codexos_service::agents::step_line(event) {
                    writeln!(out, "{line}")?;
                }
            }
            RunEvent::NodeFailed { node, error, .. } => writeln!(out, "✗ {node}: {error}")?,
            RunEvent::Decision { node, decision } => {
                let node = node
                    .as_deref()
                    .map(|node| format!("{node}: "))
                    .unwrap_or_default();
                let (mark, reason) = match decision.verdict {
                    Verdict::Allowed => ("✔", String::new()),
                    Verdict::Refused => ("⛔", format!(": {}", decision.reason)),
                };
                writeln!(
                    out,
                    "{mark} {node}{} {} by {}: {}{reason}",
                    decision.tool,
                    match decision.verdict {
                        Verdict::Allowed => "allowed",
                        Verdict::Refused => "refused",
                    },
                    decision.by.as_str(),
                    decision.action
                )?;
            }
            RunEvent::Warning { node, message } => match node {
                Some(node) => writeln!(out, "warning: {node}: {message}")?,
                None => writeln!(out, "warning: {message}")?,
            },
            RunEvent::Finished {
                output: Some(output),
                ..
            } => writeln!(out, "output:\n{output}")?,
            RunEvent::Finished {
                error: Some(error),
                frontier,
                ..
            } => {
                writeln!(out, "error: {error}")?;
                if !frontier.is_empty() {
                    writeln!(out, "stopped at: {}", frontier.join(", "))?;
                }
            }
            _ => {}
        }
    }
    Ok(ExitCode::SUCCESS)
}
