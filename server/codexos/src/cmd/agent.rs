//! What `codexos run`, `codexos runs retry` and `codexos mcp` share: the workspace's runner from
//! the service (the index opened read-only, since the language server may be writing it), the
//! stderr progress printer and the result printer.

use std::io::Write;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use codexos_agent::{CancellationToken, EventSink, RunEvent, RunResult, RunStatus};
use codexos_service::Workspace;
use codexos_service::agents::{IndexAccess, RunnerOptions, WorkspaceRunner, step_line};

/// The workspace's runner, whose runs stop after `timeout`; tool sources that failed to load
/// are warned about on stderr.
pub async fn runner_for(
    workspace: &Workspace,
    timeout: Duration,
) -> anyhow::Result<WorkspaceRunner> {
    let runner = workspace
        .runner(RunnerOptions {
            timeout,
            index: IndexAccess::ReadOnly,
            writes: None,
        })
        .await?;
    for problem in &runner.tool_problems {
        eprintln!("warning: {problem}");
    }
    Ok(runner)
}

/// Prints progress on stderr: a line per node start and finish, streamed tokens as they come,
/// warnings and the end of the run.
pub fn stderr_progress() -> EventSink {
    let streaming = Mutex::new(None::<String>);
    Arc::new(move |event: &RunEvent| {
        let mut err = std::io::stderr().lock();
        let mut streaming = streaming.lock().unwrap_or_else(|p| p.into_inner());
        if !matches!(event, RunEvent::Token { .. }) && streaming.take().is_some() {
            let _ = writeln!(err);
        }
        let _ = match event {
            RunEvent::Started {
                run_id,
                flow_id,
                retry_of,
            } => match retry_of {
                Some(old) => writeln!(err, "run {run_id} of {flow_id} (retrying {old})"),
                None => writeln!(err, "run {run_id} of {flow_id}"),
            },
            RunEvent::Token { node, text } => {
                if streaming.as_deref() != Some(node.as_str()) {
                    *streaming = Some(node.clone());
                    let _ = write!(err, "  ");
                }
                write!(err, "{}", text.replace('\n', "\n  ")).and_then(|()| err.flush())
            }
            RunEvent::Finished {
                run_id,
                status,
                error,
                elapsed_ms,
                ..
            } => {
                let seconds = *elapsed_ms as f64 / 1000.0;
                match (status, error) {
                    (RunStatus::Succeeded, _) => {
                        writeln!(err, "run {run_id} succeeded in {seconds:.1} s")
                    }
                    (status, error) => writeln!(
                        err,
                        "run {run_id} {} after {seconds:.1} s: {}\nretry from where it stopped: codexos runs retry {run_id}",
                        status.as_str(),
                        error.as_deref().unwrap_or("no exit was reached")
                    ),
                }
            }
            step => match step_line(step) {
                Some(line) => writeln!(err, "{line}"),
                None => Ok(()),
            },
        };
    })
}

/// Prints the result on stdout (the output alone, or everything with `json`) and says how the
/// process exits: 0 when the run succeeded, 1 when it failed, 130 when it was interrupted.
pub fn print_result(result: &RunResult, json: bool) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, result)?;
        writeln!(out)?;
    } else if let Some(output) = &result.output {
        write!(out, "{output}")?;
        if !output.ends_with('\n') {
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(match result.status {
        RunStatus::Succeeded => ExitCode::SUCCESS,
        RunStatus::Failed => ExitCode::FAILURE,
        // The shell's code for "ended by SIGINT".
        RunStatus::Cancelled => ExitCode::from(130),
    })
}

/// A token that Ctrl-C (SIGINT) cancels: the run stops its nodes, kills their processes and
/// records where it stopped, instead of the process dying with its children still running.
/// Call inside the runtime.
pub fn cancel_on_ctrl_c() -> CancellationToken {
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("interrupted: stopping the run");
            on_signal.cancel();
        }
    });
    cancel
}

/// A runtime for one command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}
