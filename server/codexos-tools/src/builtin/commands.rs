//! `shell` and `python`: text a model wrote, run as a program. The policy decides each call:
//! refused unless `codexos.toml` asks for the tool, and then run only what the user approves.

use std::sync::Arc;
use std::time::Duration;

use codexos_policy::{Action, Capabilities, Capability};
use futures::FutureExt;
use serde::Deserialize;
use serde_json::json;

use super::process::{CommandOutput, CommandSpec, run_command};
use super::{Spec, builtin, parse};
use crate::context::ToolContext;
use crate::error::ToolError;
use crate::registry::{Tool, ToolOutput};

const SHELL: &str = "shell";
const PYTHON: &str = "python";

pub(super) fn shell() -> Arc<dyn Tool> {
    builtin(Spec {
        name: SHELL,
        description: "Run a shell command (sh -c) in the workspace with a timeout; only where codexos.toml sets [tools] allow_shell = true, and only commands the user approves",
        input_schema: program_schema("command"),
        capabilities: Capabilities::of(&[Capability::Execute]),
        act: |args, _| {
            let ShellArgs { command, .. } = parse(SHELL, args.clone())?;
            Ok(Action::Command {
                tool: SHELL.to_owned(),
                command,
            })
        },
        run: |args, ctx| run_shell(args, ctx).boxed(),
    })
}

pub(super) fn python() -> Arc<dyn Tool> {
    builtin(Spec {
        name: PYTHON,
        description: "Run a Python program in the workspace with a timeout; only where codexos.toml sets [tools] allow_python = true, and only programs the user approves",
        input_schema: program_schema("code"),
        capabilities: Capabilities::of(&[Capability::Execute]),
        act: |args, ctx| {
            let PythonArgs { code, .. } = parse(PYTHON, args.clone())?;
            // The interpreter is `[tools] python` of codexos.toml: it is part of what runs, so
            // it is part of what the user approves (a workspace cannot swap it unseen).
            Ok(Action::Command {
                tool: PYTHON.to_owned(),
                command: format!("{} - <<'EOF'\n{code}\nEOF", ctx.config.python),
            })
        },
        run: |args, ctx| run_python(args, ctx).boxed(),
    })
}

/// `{ <program>: string, timeout_secs?: number }`.
fn program_schema(program: &str) -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {
            program: { "type": "string", "minLength": 1 },
            "timeout_secs": { "type": "number", "exclusiveMinimum": 0, "description": "At most the configured timeout" }
        },
        "required": [program],
        "additionalProperties": false
    })
}

#[derive(Deserialize)]
struct ShellArgs {
    command: String,
    timeout_secs: Option<f64>,
}

#[derive(Deserialize)]
struct PythonArgs {
    code: String,
    timeout_secs: Option<f64>,
}

async fn run_shell(args: serde_json::Value, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
    let args: ShellArgs = parse(SHELL, args)?;
    let argv = ["sh".to_owned(), "-c".to_owned(), args.command];
    run(SHELL, &argv, None, args.timeout_secs, ctx).await
}

async fn run_python(args: serde_json::Value, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
    let args: PythonArgs = parse(PYTHON, args)?;
    // The program comes on stdin, so its size is not limited by argv and it never shows in `ps`.
    let argv = [ctx.config.python.clone(), "-".to_owned()];
    run(
        PYTHON,
        &argv,
        Some(args.code.into_bytes()),
        args.timeout_secs,
        ctx,
    )
    .await
}

async fn run(
    tool: &str,
    argv: &[String],
    stdin: Option<Vec<u8>>,
    timeout_secs: Option<f64>,
    ctx: &ToolContext,
) -> Result<ToolOutput, ToolError> {
    let timeout = timeout_secs
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .map_or(ctx.config.timeout, |asked| asked.min(ctx.config.timeout));
    let output = run_command(CommandSpec {
        tool,
        argv,
        cwd: &ctx.workspace_root,
        stdin,
        timeout,
        max_output_bytes: ctx.config.max_output_bytes,
        cancellation: &ctx.cancellation,
    })
    .await?;
    command_result(tool, output)
}

/// A zero exit gives the output; anything else is an error that quotes the end of stderr.
pub(crate) fn command_result(tool: &str, output: CommandOutput) -> Result<ToolOutput, ToolError> {
    if output.exit_code != Some(0) {
        let status = output
            .exit_code
            .map_or("was killed by a signal".to_owned(), |code| {
                format!("exited with status {code}")
            });
        let stderr = output.stderr.trim_end();
        let tail_start = stderr
            .char_indices()
            .rev()
            .nth(2000)
            .map_or(0, |(index, _)| index);
        let message = if stderr.is_empty() {
            format!("the command {status}")
        } else {
            format!("the command {status}: {}", &stderr[tail_start..])
        };
        return Err(ToolError::failed(tool, message));
    }
    let data = json!({
        "exit_code": output.exit_code,
        "stdout": output.stdout,
        "stderr": output.stderr,
        "truncated": output.truncated,
    });
    Ok(ToolOutput::text(output.stdout).with_data(data))
}
