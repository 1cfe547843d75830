//! What `codexos run`, `codexos runs retry`/`replay` and `codexos mcp` share: the workspace's runner from
//! the service (the index opened read-only, since the language server may be writing it), who
//! answers the policy's questions (the terminal, `--yes`, or nobody), the stderr progress printer
//! and the result printer.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use codexos_agent::{CancellationToken, EventSink, RunEvent, RunResult, RunStatus};
use codexos_service::Workspace;
use codexos_service::agents::{
    Answer, Approval, Approver, IndexAccess, Prompt, RunnerOptions, WorkspaceRunner, step_line,
};
use futures::future::BoxFuture;

/// How a command's runs may act: `--timeout`, `--yes`, `--offline`.
#[derive(clap::Args, Clone, Copy, Debug)]
pub struct RunFlags {
    /// Stop the run after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub timeout: u64,
    /// Allow, for this run only, everything the policy would ask you about (commands, hosts,
    /// plug-ins, MCP servers); protected paths stay protected. For CI.
    #[arg(long)]
    pub yes: bool,
    /// No tool reaches the network and only models on this machine answer.
    #[arg(long)]
    pub offline: bool,
}

/// Who answers the policy: `--yes`, else the terminal when there is one to ask on, else nobody.
pub fn approval(yes: bool) -> Approval {
    if yes {
        return Approval::Yes;
    }
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    match (interactive, std::fs::File::options().read(true).write(true).open("/dev/tty")) {
        (true, Ok(tty)) => Approval::Ask(Arc::new(TerminalApprover {
            tty: Mutex::new(tty),
        })),
        _ => Approval::Nobody {
            why: "there is no terminal to ask you on (run it in a terminal, or pass --yes to allow it for this run)"
                .to_owned(),
        },
    }
}

/// Asks on the terminal: `[a]llow`, allow `[o]nce`, `[d]eny` (the default).
struct TerminalApprover {
    tty: Mutex<std::fs::File>,
}

impl Approver for TerminalApprover {
    fn ask<'a>(&'a self, prompt: &'a Prompt) -> BoxFuture<'a, Answer> {
        let message = prompt.message();
        Box::pin(async move {
            let Ok(tty) = self
                .tty
                .lock()
                .unwrap_or_else(|poison| poison.into_inner())
                .try_clone()
            else {
                return Answer::Deny;
            };
            tokio::task::spawn_blocking(move || ask_on(tty, &message))
                .await
                .unwrap_or(Answer::Deny)
        })
    }
}

fn ask_on(mut tty: std::fs::File, message: &str) -> Answer {
    let asked = writeln!(tty, "\n{message}")
        .and_then(|()| write!(tty, "[a]llow, allow [o]nce, [d]eny (default)? "))
        .and_then(|()| tty.flush());
    if asked.is_err() {
        return Answer::Deny;
    }
    let mut line = String::new();
    if std::io::BufReader::new(tty).read_line(&mut line).is_err() {
        return Answer::Deny;
    }
    match line.trim().to_ascii_lowercase().as_str() {
        "a" | "allow" => Answer::Allow,
        "o" | "once" | "allow once" => Answer::AllowOnce,
        _ => Answer::Deny,
    }
}

/// The workspace's runner for `flags`; tool sources that failed to load are warned about on
/// stderr.
pub async fn runner_for(
    workspace: &Workspace,
    flags: RunFlags,
    approval: Approval,
) -> anyhow::Result<WorkspaceRunner> {
    let runner = workspace
        .runner(RunnerOptions {
            timeout: Duration::from_secs(flags.timeout),
            index: IndexAccess::ReadOnly,
            writes: None,
            approval,
            offline: flags.offline,
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
                forked_from,
            } => match (retry_of, forked_from) {
                (Some(old), _) => writeln!(err, "run {run_id} of {flow_id} (retrying {old})"),
                (None, Some(fork)) => {
                    writeln!(err, "run {run_id} of {flow_id} ({})", fork.describe())
                }
                (None, None) => writeln!(err, "run {run_id} of {flow_id}"),
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
