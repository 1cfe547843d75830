//! MCP servers as tool sources: start each configured server, list its tools, call them.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use codexos_policy::{Action, Capabilities, Capability};
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::TokioChildProcess;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::McpServerConfig;
use crate::context::ToolContext;
use crate::error::ToolError;
use crate::registry::{AsyncTool, Tool, ToolInfo, ToolOutput, ToolProblem, ToolSource};

/// How much of a server's stderr is kept to explain a failed start.
const STDERR_TAIL_BYTES: usize = 2000;

/// A running MCP server. Dropping it stops the server and kills its process group.
pub struct McpConnection {
    name: String,
    service: RunningService<RoleClient, ()>,
    process_group: Option<u32>,
}

impl Drop for McpConnection {
    fn drop(&mut self) {
        if let Some(group) = self
            .process_group
            .and_then(|pid| libc::pid_t::try_from(pid).ok())
        {
            // SAFETY: killpg only sends a signal; a group that is already gone gives ESRCH.
            unsafe {
                libc::killpg(group, libc::SIGKILL);
            }
        }
    }
}

impl std::fmt::Debug for McpConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpConnection")
            .field("name", &self.name)
            .field("process_group", &self.process_group)
            .finish_non_exhaustive()
    }
}

/// Starts `config`'s server in `workspace_root` and lists its tools, within `timeout`.
pub async fn connect(
    config: &McpServerConfig,
    workspace_root: &std::path::Path,
    timeout: Duration,
) -> Result<Vec<Arc<dyn Tool>>, ToolProblem> {
    let origin = format!("codexos.toml [[mcp.servers]] `{}`", config.name);
    let problem = |message: String| ToolProblem {
        origin: origin.clone(),
        field: String::new(),
        message,
    };
    if config.name.is_empty() || config.name.contains('.') {
        return Err(ToolProblem {
            field: "name".to_owned(),
            ..problem("a server name must be non-empty and have no `.` (it prefixes tool names as `<name>.<tool>`)".to_owned())
        });
    }
    let mut command = tokio::process::Command::new(&config.command);
    command
        .args(&config.args)
        .envs(&config.env)
        .current_dir(
            config
                .cwd
                .as_ref()
                .map_or_else(|| workspace_root.to_owned(), |cwd| workspace_root.join(cwd)),
        )
        .process_group(0);
    let (transport, stderr) = TokioChildProcess::builder(command)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| problem(format!("cannot start `{}`: {error}", config.command)))?;
    let process_group = transport.id();
    let stderr_tail = Arc::new(Mutex::new(String::new()));
    if let Some(stderr) = stderr {
        tokio::spawn(forward_stderr(
            config.name.clone(),
            stderr,
            Arc::clone(&stderr_tail),
        ));
    }
    let started = async {
        let service = ().serve(transport).await.map_err(|error| error.to_string())?;
        let tools = service
            .list_all_tools()
            .await
            .map_err(|error| error.to_string())?;
        Ok::<_, String>((service, tools))
    };
    let outcome = tokio::time::timeout(timeout, started).await;
    let explain = |message: String| {
        let tail = stderr_tail
            .lock()
            .map(|tail| tail.trim().to_owned())
            .unwrap_or_default();
        if tail.is_empty() {
            message
        } else {
            format!("{message}; its stderr ends with: {tail}")
        }
    };
    let kill = || {
        if let Some(group) = process_group.and_then(|pid| libc::pid_t::try_from(pid).ok()) {
            // SAFETY: as in `McpConnection::drop`.
            unsafe {
                libc::killpg(group, libc::SIGKILL);
            }
        }
    };
    let (service, listed) = match outcome {
        Ok(Ok(started)) => started,
        Ok(Err(message)) => {
            kill();
            return Err(problem(explain(format!(
                "did not start as an MCP server: {message}"
            ))));
        }
        Err(_) => {
            kill();
            return Err(problem(explain(format!(
                "did not answer `initialize` and `tools/list` within {}s",
                timeout.as_secs_f64()
            ))));
        }
    };
    let connection = Arc::new(McpConnection {
        name: config.name.clone(),
        service,
        process_group,
    });
    Ok(listed
        .into_iter()
        .map(|tool| {
            let remote_name = tool.name.to_string();
            Arc::new(McpTool {
                info: ToolInfo {
                    name: format!("{}.{remote_name}", config.name),
                    description: tool.description.map(|d| d.to_string()).unwrap_or_default(),
                    input_schema: Value::Object((*tool.input_schema).clone()),
                    source: ToolSource::Mcp {
                        server: config.name.clone(),
                    },
                    // Another program's tool: it may do anything its server can.
                    capabilities: Capabilities::of(&Capability::ALL),
                },
                remote_name,
                connection: Arc::clone(&connection),
            }) as Arc<dyn Tool>
        })
        .collect())
}

async fn forward_stderr(
    server: String,
    stderr: tokio::process::ChildStderr,
    tail: Arc<Mutex<String>>,
) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::info!(mcp_server = %server, "{line}");
        if let Ok(mut tail) = tail.lock() {
            tail.push_str(&line);
            tail.push('\n');
            if tail.len() > STDERR_TAIL_BYTES {
                let mut cut = tail.len() - STDERR_TAIL_BYTES;
                while !tail.is_char_boundary(cut) {
                    cut += 1;
                }
                tail.drain(..cut);
            }
        }
    }
}

/// One tool of an MCP server.
struct McpTool {
    info: ToolInfo,
    remote_name: String,
    connection: Arc<McpConnection>,
}

impl AsyncTool for McpTool {
    fn info(&self) -> &ToolInfo {
        &self.info
    }

    fn action(&self, _args: &Value, _ctx: &ToolContext) -> Result<Action, ToolError> {
        Ok(Action::McpTool {
            server: self.connection.name.clone(),
            tool: self.remote_name.clone(),
        })
    }

    async fn run(&self, args: Value, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let name = &self.info.name;
        let mut params = CallToolRequestParams::new(self.remote_name.clone());
        if let Value::Object(arguments) = args {
            params = params.with_arguments(arguments);
        }
        let timeout = ctx.config.timeout;
        // Dropping the request (timeout, cancellation) makes rmcp send `notifications/cancelled`.
        let result = tokio::select! {
            result = tokio::time::timeout(timeout, self.connection.service.call_tool(params)) => match result {
                Ok(result) => result.map_err(|error| ToolError::failed(name, format!("MCP server `{}`: {error}", self.connection.name)))?,
                Err(_) => return Err(ToolError::Timeout { tool: name.clone(), after: timeout, killed: false }),
            },
            () = ctx.cancellation.cancelled() => return Err(ToolError::Cancelled { tool: name.clone() }),
        };
        output(name, result)
    }
}

/// An MCP result as a tool output; `isError` results become errors carrying the server's text.
fn output(tool: &str, result: CallToolResult) -> Result<ToolOutput, ToolError> {
    let text = result
        .content
        .iter()
        .filter_map(|block| match block {
            ContentBlock::Text(text) => Some(text.text.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n");
    if result.is_error == Some(true) {
        return Err(ToolError::failed(
            tool,
            if text.is_empty() {
                "the MCP server reported an error".to_owned()
            } else {
                text
            },
        ));
    }
    Ok(ToolOutput {
        text,
        data: result.structured_content,
    })
}
