//! Running a command for a tool: in the workspace, in its own process group, with a timeout,
//! output capped, and the whole group killed at the timeout, on cancellation, and after the
//! command exits (so nothing it started in the background outlives the call).

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use crate::error::ToolError;

/// What a finished command gave back.
#[derive(Debug)]
pub(crate) struct CommandOutput {
    /// `None` when a signal ended it.
    pub(crate) exit_code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    /// Output beyond the cap was dropped.
    pub(crate) truncated: bool,
}

/// One command to run.
pub(crate) struct CommandSpec<'a> {
    pub(crate) tool: &'a str,
    pub(crate) argv: &'a [String],
    pub(crate) cwd: &'a Path,
    pub(crate) stdin: Option<Vec<u8>>,
    pub(crate) timeout: Duration,
    pub(crate) max_output_bytes: usize,
    pub(crate) cancellation: &'a CancellationToken,
}

pub(crate) async fn run_command(spec: CommandSpec<'_>) -> Result<CommandOutput, ToolError> {
    let tool = spec.tool;
    let (program, arguments) = spec
        .argv
        .split_first()
        .ok_or_else(|| ToolError::failed(tool, "the command is empty"))?;
    let mut command = Command::new(program);
    command
        .args(arguments)
        .current_dir(spec.cwd)
        .stdin(if spec.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .map_err(|error| ToolError::failed(tool, format!("cannot start `{program}`: {error}")))?;
    let group = ProcessGroup(child.id());

    if let (Some(input), Some(mut stdin)) = (spec.stdin, child.stdin.take()) {
        // A command that does not read its input must not block the call: write in the
        // background and ignore a closed pipe.
        tokio::spawn(async move {
            let _closed_early = stdin.write_all(&input).await;
        });
    }
    let stdout = tokio::spawn(read_capped(child.stdout.take(), spec.max_output_bytes));
    let stderr = tokio::spawn(read_capped(child.stderr.take(), spec.max_output_bytes));

    let status = tokio::select! {
        status = child.wait() => {
            group.kill();
            status.map_err(|error| ToolError::failed(tool, format!("waiting for `{program}`: {error}")))?
        }
        () = tokio::time::sleep(spec.timeout) => {
            group.kill();
            let _reaped = child.wait().await;
            return Err(ToolError::Timeout { tool: tool.to_owned(), after: spec.timeout, killed: true });
        }
        () = spec.cancellation.cancelled() => {
            group.kill();
            let _reaped = child.wait().await;
            return Err(ToolError::Cancelled { tool: tool.to_owned() });
        }
    };
    let (stdout, stdout_cut) = stdout.await.unwrap_or_default();
    let (stderr, stderr_cut) = stderr.await.unwrap_or_default();
    Ok(CommandOutput {
        exit_code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        truncated: stdout_cut || stderr_cut,
    })
}

/// A child's process group (the child is its leader: `process_group(0)`).
struct ProcessGroup(Option<u32>);

impl ProcessGroup {
    fn kill(&self) {
        if let Some(pid) = self.0.and_then(|pid| libc::pid_t::try_from(pid).ok()) {
            // SAFETY: killpg only sends a signal; an already empty group gives ESRCH, ignored.
            unsafe {
                libc::killpg(pid, libc::SIGKILL);
            }
        }
    }
}

/// Reads a pipe to its end, keeping at most `cap` bytes (and draining the rest so the writer
/// never blocks on a full pipe).
async fn read_capped<R: AsyncRead + Unpin>(pipe: Option<R>, cap: usize) -> (Vec<u8>, bool) {
    let Some(mut pipe) = pipe else {
        return (Vec::new(), false);
    };
    let mut kept = Vec::new();
    let mut truncated = false;
    let mut buffer = [0u8; 8192];
    loop {
        match pipe.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => {
                let room = cap.saturating_sub(kept.len());
                if read > room {
                    truncated = true;
                }
                kept.extend_from_slice(&buffer[..read.min(room)]);
            }
        }
    }
    (kept, truncated)
}
