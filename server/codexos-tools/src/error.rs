//! Why a tool call failed; every message names the tool.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// One argument that does not match the tool's schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgumentError {
    /// A JSON pointer to the offending value (`/path`, `/headers/0`); empty for the whole object.
    pub field: String,
    pub message: String,
}

impl fmt::Display for ArgumentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "`{}`: {}", self.field, self.message)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("unknown tool `{name}`{}", suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
    UnknownTool {
        name: String,
        suggestion: Option<String>,
    },
    #[error("{tool}: invalid arguments: {}", join(errors))]
    InvalidArguments {
        tool: String,
        errors: Vec<ArgumentError>,
    },
    /// The policy (or the user) refused the call before it ran.
    #[error("{tool}: refused: {reason}")]
    Refused { tool: String, reason: String },
    #[error("{tool}: `{path}` is outside the workspace: {reason}")]
    OutsideWorkspace {
        tool: String,
        path: String,
        reason: String,
    },
    #[error("{tool}: {}: {source}", path.display())]
    Io {
        tool: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{tool}: the workspace index is not built yet (run `codexos index`)")]
    IndexNotBuilt { tool: String },
    #[error("{tool}: timed out after {}s{}", after.as_secs_f64(), if *killed { " (its process group was killed)" } else { "" })]
    Timeout {
        tool: String,
        after: Duration,
        killed: bool,
    },
    #[error("{tool}: cancelled")]
    Cancelled { tool: String },
    #[error("{tool}: {message}")]
    Failed { tool: String, message: String },
}

impl ToolError {
    /// The tool the error is about.
    pub fn tool(&self) -> &str {
        match self {
            ToolError::UnknownTool { name, .. } => name,
            ToolError::InvalidArguments { tool, .. }
            | ToolError::Refused { tool, .. }
            | ToolError::OutsideWorkspace { tool, .. }
            | ToolError::Io { tool, .. }
            | ToolError::IndexNotBuilt { tool }
            | ToolError::Timeout { tool, .. }
            | ToolError::Cancelled { tool }
            | ToolError::Failed { tool, .. } => tool,
        }
    }

    pub(crate) fn failed(tool: &str, message: impl Into<String>) -> ToolError {
        ToolError::Failed {
            tool: tool.to_owned(),
            message: message.into(),
        }
    }
}

fn join(errors: &[ArgumentError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
