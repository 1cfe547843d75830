//! `search_workspace`: the workspace index, through the [`crate::Search`] the context carries.

use std::sync::Arc;

use codexos_policy::{Action, Capabilities, Capability};
use futures::FutureExt;
use serde::Deserialize;
use serde_json::json;

use super::{Spec, builtin, parse, truncate};
use crate::context::ToolContext;
use crate::error::ToolError;
use crate::registry::{Tool, ToolOutput};

const SEARCH_WORKSPACE: &str = "search_workspace";

pub(super) fn search_workspace() -> Arc<dyn Tool> {
    builtin(Spec {
        name: SEARCH_WORKSPACE,
        description: "Hybrid (keyword + semantic) search over the workspace index; returns the best chunks with their paths and lines",
        input_schema: json!({
            "type": "object",
            "properties": {
                "query": { "type": "string", "minLength": 1 },
                "k": { "type": "integer", "minimum": 1, "maximum": 100, "default": 5, "description": "How many chunks" }
            },
            "required": ["query"],
            "additionalProperties": false
        }),
        capabilities: Capabilities::of(&[Capability::Read]),
        act: |_, _| Ok(Action::Search),
        run: |args, ctx| run_search(args, ctx).boxed(),
    })
}

#[derive(Deserialize)]
struct SearchArgs {
    query: String,
    k: Option<usize>,
}

async fn run_search(args: serde_json::Value, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
    let args: SearchArgs = parse(SEARCH_WORKSPACE, args)?;
    let search = ctx.search.clone().ok_or_else(|| ToolError::IndexNotBuilt {
        tool: SEARCH_WORKSPACE.to_owned(),
    })?;
    let limit = args.k.unwrap_or(5);
    let query = args.query;
    let hits = tokio::task::spawn_blocking(move || search.search(&query, limit))
        .await
        .map_err(|error| ToolError::failed(SEARCH_WORKSPACE, error.to_string()))?
        .map_err(|error| ToolError::failed(SEARCH_WORKSPACE, error.to_string()))?;
    let mut text = String::new();
    for hit in &hits {
        text.push_str(&format!(
            "{}:{}-{}\n{}\n\n",
            hit.path,
            hit.start_line,
            hit.end_line,
            hit.text.trim_end()
        ));
    }
    truncate(&mut text, ctx.config.max_output_bytes);
    Ok(ToolOutput::text(text).with_data(json!({ "hits": hits })))
}
