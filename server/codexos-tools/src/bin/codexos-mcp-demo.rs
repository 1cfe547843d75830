//! A small MCP server over stdio, written directly against rmcp's server side (not CodexOS's own
//! MCP server), so the tests check the client against an independent implementation. Also a
//! quick way to try `[[mcp.servers]]`:
//!
//! ```toml
//! [[mcp.servers]]
//! name = "demo"
//! command = "target/debug/codexos-mcp-demo"
//! ```
//!
//! Tools: `add` (two numbers), `environment` (its working directory, process id and the
//! `DEMO_GREETING` variable), `fail` (always an error result), `sleep` (waits, for timeouts).

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{ErrorData, ServerHandler, ServiceExt};
use serde_json::{Value, json};

struct Demo;

fn tool(name: &'static str, description: &'static str, schema: Value) -> Tool {
    let Value::Object(schema) = schema else {
        unreachable!("the demo's schemas are objects")
    };
    Tool::new(name, description, Arc::new(schema))
}

fn text(text: String) -> ContentBlock {
    ContentBlock::text(text)
}

impl ServerHandler for Demo {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(vec![
            tool(
                "add",
                "Add two numbers",
                json!({ "type": "object", "properties": { "a": { "type": "number" }, "b": { "type": "number" } }, "required": ["a", "b"] }),
            ),
            tool(
                "environment",
                "Where the server runs",
                json!({ "type": "object" }),
            ),
            tool("fail", "Always fails", json!({ "type": "object" })),
            tool(
                "sleep",
                "Wait some seconds",
                json!({ "type": "object", "properties": { "secs": { "type": "number" } }, "required": ["secs"] }),
            ),
        ]))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = Value::Object(request.arguments.unwrap_or_default());
        let number = |field: &str| args[field].as_f64().unwrap_or_default();
        let result = match request.name.as_ref() {
            "add" => {
                let sum = number("a") + number("b");
                let mut result = CallToolResult::success(vec![text(sum.to_string())]);
                result.structured_content = Some(json!({ "sum": sum }));
                result
            }
            "environment" => CallToolResult::success(vec![text(
                json!({
                    "cwd": std::env::current_dir().map(|dir| dir.display().to_string()).unwrap_or_default(),
                    "pid": std::process::id(),
                    "greeting": std::env::var("DEMO_GREETING").unwrap_or_default(),
                })
                .to_string(),
            )]),
            "fail" => CallToolResult::error(vec![text("the demo tool failed on purpose".to_owned())]),
            "sleep" => {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs_f64(number("secs"))) => {}
                    () = context.ct.cancelled() => {}
                }
                CallToolResult::success(vec![text("awake".to_owned())])
            }
            other => {
                return Err(ErrorData::invalid_params(format!("unknown tool `{other}`"), None));
            }
        };
        Ok(result.into())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    eprintln!("codexos-mcp-demo: ready");
    let running = Demo
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|error| std::io::Error::other(error.to_string()))?;
    running.waiting().await.map_err(std::io::Error::other)?;
    Ok(())
}
