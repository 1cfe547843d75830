//! A [`ToolRegistry`] offered to MCP clients.

use std::sync::Arc;

use codexos_policy::Capability;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{ErrorData, ServerHandler, ServiceExt};
use serde_json::Value;

use crate::context::ToolContext;
use crate::error::ToolError;
use crate::registry::ToolRegistry;

/// Serves `registry` over MCP on `transport` (e.g. [`rmcp::transport::stdio`]) until the client
/// disconnects. Every call runs with a clone of `ctx` whose cancellation also fires when the
/// client cancels that request.
pub async fn serve<T, E, A>(
    registry: Arc<ToolRegistry>,
    ctx: ToolContext,
    instructions: &str,
    transport: T,
) -> Result<(), std::io::Error>
where
    T: rmcp::transport::IntoTransport<RoleServer, E, A>,
    E: std::error::Error + Send + Sync + 'static,
{
    let server = RegistryServer {
        registry,
        ctx,
        instructions: instructions.to_owned(),
    };
    let running = server
        .serve(transport)
        .await
        .map_err(|error| std::io::Error::other(format!("MCP initialization failed: {error}")))?;
    running
        .waiting()
        .await
        .map_err(|error| std::io::Error::other(format!("MCP server stopped: {error}")))?;
    Ok(())
}

/// [`serve`] on this process's stdin and stdout (what `codexos mcp` does).
pub async fn serve_stdio(
    registry: Arc<ToolRegistry>,
    ctx: ToolContext,
    instructions: &str,
) -> Result<(), std::io::Error> {
    serve(registry, ctx, instructions, rmcp::transport::stdio()).await
}

struct RegistryServer {
    registry: Arc<ToolRegistry>,
    ctx: ToolContext,
    instructions: String,
}

impl ServerHandler for RegistryServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("codexos", env!("CARGO_PKG_VERSION")))
            .with_instructions(self.instructions.clone())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let tools = self
            .registry
            .list()
            .into_iter()
            .map(|info| {
                let schema = match info.input_schema {
                    Value::Object(schema) => schema,
                    // MCP wants an object schema; `true`/`false` schemas accept anything / nothing.
                    _ => serde_json::Map::from_iter([("type".to_owned(), Value::from("object"))]),
                };
                // What the tool can do, as MCP's hints: a client decides what to confirm from them.
                let capabilities = info.capabilities;
                let annotations = rmcp::model::ToolAnnotations::new()
                    .read_only(
                        !capabilities.contains(Capability::Write)
                            && !capabilities.contains(Capability::Execute),
                    )
                    .open_world(capabilities.contains(Capability::Network));
                rmcp::model::Tool::new(info.name, info.description, Arc::new(schema))
                    .with_annotations(annotations)
            })
            .collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = Value::Object(request.arguments.unwrap_or_default());
        let mut ctx = self.ctx.clone();
        ctx.cancellation = ctx.cancellation.child_token();
        let client_cancelled = context.ct.clone();
        let cancel_on_request = ctx.cancellation.clone();
        let forward = tokio::spawn(async move {
            client_cancelled.cancelled().await;
            cancel_on_request.cancel();
        });
        let result = self.registry.call(&request.name, args, &ctx).await;
        forward.abort();
        match result {
            Ok(output) => {
                let mut result = CallToolResult::success(vec![ContentBlock::text(output.text)]);
                result.structured_content = output.data;
                Ok(result.into())
            }
            Err(error @ ToolError::UnknownTool { .. }) => {
                Err(ErrorData::invalid_params(error.to_string(), None))
            }
            // Everything else is the tool's answer, so the calling model can read and react to it.
            Err(error) => {
                Ok(CallToolResult::error(vec![ContentBlock::text(error.to_string())]).into())
            }
        }
    }
}
