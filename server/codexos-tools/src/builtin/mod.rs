//! The tools every workspace has.

mod commands;
mod files;
mod http;
mod process;

pub(crate) use commands::command_result;
pub(crate) use process::{CommandSpec, run_command};
mod search;

use std::sync::Arc;

use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::context::ToolContext;
use crate::error::{ArgumentError, ToolError};
use crate::registry::{Tool, ToolInfo, ToolOutput, ToolSource};

type Run = for<'a> fn(Value, &'a ToolContext) -> BoxFuture<'a, Result<ToolOutput, ToolError>>;

/// A built-in tool: its description and the function that runs it.
struct Builtin {
    info: ToolInfo,
    run: Run,
}

impl Tool for Builtin {
    fn info(&self) -> &ToolInfo {
        &self.info
    }

    fn call<'a>(
        &'a self,
        args: Value,
        ctx: &'a ToolContext,
    ) -> BoxFuture<'a, Result<ToolOutput, ToolError>> {
        (self.run)(args, ctx)
    }
}

fn builtin(name: &str, description: &str, input_schema: Value, run: Run) -> Arc<dyn Tool> {
    Arc::new(Builtin {
        info: ToolInfo {
            name: name.to_owned(),
            description: description.to_owned(),
            input_schema,
            source: ToolSource::Builtin,
        },
        run,
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
