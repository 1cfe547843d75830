//! Arguments checked against a tool's JSON Schema before the tool runs.

use serde_json::Value;

use crate::error::{ArgumentError, ToolError};

/// A tool's input schema, compiled once.
pub(crate) struct ArgumentSchema {
    validator: jsonschema::Validator,
}

impl ArgumentSchema {
    /// Compiles `schema`; the error says what is wrong with the schema itself.
    pub(crate) fn compile(schema: &Value) -> Result<ArgumentSchema, String> {
        jsonschema::validator_for(schema)
            .map(|validator| ArgumentSchema { validator })
            .map_err(|error| {
                let at = error.instance_path().to_string();
                if at.is_empty() {
                    error.to_string()
                } else {
                    format!("at `{at}`: {error}")
                }
            })
    }

    /// Every way `args` breaks the schema, each naming its field.
    pub(crate) fn check(&self, tool: &str, args: &Value) -> Result<(), ToolError> {
        let errors: Vec<ArgumentError> = self
            .validator
            .iter_errors(args)
            .map(|error| ArgumentError {
                field: error.instance_path().to_string(),
                message: error.to_string(),
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ToolError::InvalidArguments {
                tool: tool.to_owned(),
                errors,
            })
        }
    }
}
