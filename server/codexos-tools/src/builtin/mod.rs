//! The tools every workspace has.

mod commands;
mod files;
mod http;
mod process;

pub(crate) use commands::command_result;
pub(crate) use process::{CommandSpec, run_command};
mod search;

use std::sync::Arc;

use codexos_policy::{Action, Capabilities};
use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::context::ToolContext;
use crate::error::{ArgumentError, ToolError};
use crate::registry::{Tool, ToolInfo, ToolOutput, ToolSource};

type Run = for<'a> fn(Value, &'a ToolContext) -> BoxFuture<'a, Result<ToolOutput, ToolError>>;
type Act = fn(&Value, &ToolContext) -> Result<Action, ToolError>;

/// A built-in tool: its description, what a call would do, and the function that runs it.
struct Builtin {
    info: ToolInfo,
    act: Act,
    run: Run,
}

impl Tool for Builtin {
    fn info(&self) -> &ToolInfo {
        &self.info
    }

    fn action(&self, args: &Value, ctx: &ToolContext) -> Result<Action, ToolError> {
        (self.act)(args, ctx)
    }

    fn call<'a>(
        &'a self,
        args: Value,
        ctx: &'a ToolContext,
    ) -> BoxFuture<'a, Result<ToolOutput, ToolError>> {
        (self.run)(args, ctx)
    }
}

/// How a built-in is described and run.
struct Spec {
    name: &'static str,
    description: &'static str,
    input_schema: Value,
    capabilities: Capabilities,
    act: Act,
    run: Run,
}

fn builtin(spec: Spec) -> Arc<dyn Tool> {
    Arc::new(Builtin {
        info: ToolInfo {
            name: spec.name.to_owned(),
            description: spec.description.to_owned(),
            input_schema: spec.input_schema,
            source: ToolSource::Builtin,
            capabilities: spec.capabilities,
        },
        act: spec.act,
        run: spec.run,
    })
}

/// Every built-in tool.
pub(crate) fn all() -> Vec<Arc<dyn Tool>> {
    vec![
        files::read_file(),
        files::write_file(),
        search::search_workspace(),
        commands::shell(),
        commands::python(),
        http::http_fetch(),
    ]
}

/// The built-in tool called `name`, to serve it alone (e.g. `codexos mcp`'s `search_workspace`).
pub fn named(name: &str) -> Option<Arc<dyn Tool>> {
    all().into_iter().find(|tool| tool.info().name == name)
}

/// Arguments already checked against the schema, as a typed value.
fn parse<T: DeserializeOwned>(tool: &str, args: Value) -> Result<T, ToolError> {
    serde_json::from_value(args).map_err(|error| ToolError::InvalidArguments {
        tool: tool.to_owned(),
        errors: vec![ArgumentError {
            field: String::new(),
            message: error.to_string(),
        }],
    })
}

/// Cuts `text` to at most `max` bytes on a character boundary; true when something was cut.
pub(crate) fn truncate(text: &mut String, max: usize) -> bool {
    if text.len() <= max {
        return false;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    true
}
