//! `read_file` and `write_file`: text files inside the workspace.

use std::path::PathBuf;
use std::sync::Arc;

use codexos_policy::{Action, Capabilities, Capability};
use futures::FutureExt;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Spec, builtin, parse, truncate};
use crate::context::ToolContext;
use crate::error::ToolError;
use crate::registry::{Tool, ToolOutput};
use crate::workspace_path::{relative_to_workspace, resolve_in_workspace};

const READ_FILE: &str = "read_file";
const WRITE_FILE: &str = "write_file";

pub(super) fn read_file() -> Arc<dyn Tool> {
    builtin(Spec {
        name: READ_FILE,
        description: "Read a text file inside the workspace, optionally only a range of its lines",
        input_schema: json!({
            "type": "object",
            "properties": {
                "path": { "type": "string", "minLength": 1, "description": "Relative to the workspace root" },
                "start_line": { "type": "integer", "minimum": 1, "description": "First line to return (one-based)" },
                "end_line": { "type": "integer", "minimum": 1, "description": "Last line to return (inclusive)" }
            },
            "required": ["path"],
            "additionalProperties": false
        }),
        capabilities: Capabilities::of(&[Capability::Read]),
        act: |args, ctx| {
            let path = action_path(READ_FILE, args, ctx)?;
            Ok(Action::Read { path })
        },
        run: |args, ctx| run_read_file(args, ctx).boxed(),
    })
}

pub(super) fn write_file() -> Arc<dyn Tool> {
    builtin(Spec {
        name: WRITE_FILE,
        description: "Write a text file inside the workspace (the editor shows it as an edit to review); the files that decide what runs (codexos.toml, tools/, .git/, .vscode/, CI workflows, ...) are protected",
        input_schema: json!({
            "type": "object",
            "properties": {
                "path": { "type": "string", "minLength": 1, "description": "Relative to the workspace root" },
                "content": { "type": "string", "description": "The file's whole new text" }
            },
            "required": ["path", "content"],
            "additionalProperties": false
        }),
        capabilities: Capabilities::of(&[Capability::Write]),
        act: |args, ctx| {
            let path = action_path(WRITE_FILE, args, ctx)?;
            Ok(Action::Write { path })
        },
        run: |args, ctx| run_write_file(args, ctx).boxed(),
    })
}

/// The workspace-relative path a call would really touch (symbolic links followed), for the
/// gate: a link to `.git/config` is a write to `.git/config`.
fn action_path(tool: &str, args: &Value, ctx: &ToolContext) -> Result<String, ToolError> {
    #[derive(Deserialize)]
    struct PathArg {
        path: String,
    }
    let PathArg { path } = parse(tool, args.clone())?;
    let real = workspace_file(tool, ctx, &path)?;
    relative_to_workspace(&ctx.workspace_root, &real).map_err(|error| ToolError::OutsideWorkspace {
        tool: tool.to_owned(),
        path,
        reason: error.to_string(),
    })
}

#[derive(Deserialize)]
struct ReadArgs {
    path: String,
    start_line: Option<usize>,
    end_line: Option<usize>,
}

async fn run_read_file(
    args: serde_json::Value,
    ctx: &ToolContext,
) -> Result<ToolOutput, ToolError> {
    let args: ReadArgs = parse(READ_FILE, args)?;
    let path = workspace_file(READ_FILE, ctx, &args.path)?;
    let io_error = |source| ToolError::Io {
        tool: READ_FILE.to_owned(),
        path: args.path.clone().into(),
        source,
    };
    let bytes = tokio::fs::read(&path).await.map_err(io_error)?;
    let text = String::from_utf8(bytes).map_err(|error| {
        ToolError::failed(
            READ_FILE,
            format!(
                "{}: not a text file (invalid UTF-8 at byte {})",
                args.path,
                error.utf8_error().valid_up_to()
            ),
        )
    })?;
    let total_lines = text.lines().count();
    let start = args.start_line.unwrap_or(1);
    let end = args.end_line.unwrap_or(usize::MAX);
    if start > end {
        return Err(ToolError::failed(
            READ_FILE,
            format!("{}: start_line {start} is after end_line {end}", args.path),
        ));
    }
    let mut selected = if args.start_line.is_none() && args.end_line.is_none() {
        text
    } else {
        text.split_inclusive('\n')
            .skip(start - 1)
            .take(end.saturating_sub(start).saturating_add(1))
            .collect()
    };
    let truncated = truncate(&mut selected, ctx.config.max_output_bytes);
    Ok(ToolOutput::text(selected).with_data(json!({
        "path": args.path,
        "total_lines": total_lines,
        "truncated": truncated,
    })))
}

#[derive(Deserialize)]
struct WriteArgs {
    path: String,
    content: String,
}

async fn run_write_file(
    args: serde_json::Value,
    ctx: &ToolContext,
) -> Result<ToolOutput, ToolError> {
    let args: WriteArgs = parse(WRITE_FILE, args)?;
    let path = workspace_file(WRITE_FILE, ctx, &args.path)?;
    if path.is_dir() {
        return Err(ToolError::failed(
            WRITE_FILE,
            format!("{}: is a directory", args.path),
        ));
    }
    let writes = Arc::clone(&ctx.writes);
    let bytes = args.content.len();
    let content = args.content;
    let target = path.clone();
    tokio::task::spawn_blocking(move || writes.write(&target, &content))
        .await
        .map_err(|error| ToolError::failed(WRITE_FILE, format!("{}: {error}", args.path)))?
        .map_err(|source| ToolError::Io {
            tool: WRITE_FILE.to_owned(),
            path: args.path.clone().into(),
            source,
        })?;
    Ok(
        ToolOutput::text(format!("wrote {bytes} bytes to {}", args.path)).with_data(json!({
            "path": args.path,
            "bytes": bytes,
        })),
    )
}

/// `path` resolved inside the workspace, or the tool's refusal.
fn workspace_file(tool: &str, ctx: &ToolContext, path: &str) -> Result<PathBuf, ToolError> {
    resolve_in_workspace(&ctx.workspace_root, path).map_err(|error| ToolError::OutsideWorkspace {
        tool: tool.to_owned(),
        path: path.to_owned(),
        reason: error.to_string(),
    })
}
