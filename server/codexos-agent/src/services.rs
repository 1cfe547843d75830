//! The narrow seams the runner calls through: tools, the workspace index and the vault. The
//! binary plugs in the real ones; tests plug in their own.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use codexos_llm::ToolDefinition;
use codexos_vault::{SecretString, Vault};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// Calls tools by name. Implementations validate `args` and must stop promptly (killing any
/// child process) when `cancel` fires or the returned future is dropped: the runner drops it at
/// the tool's timeout and when a run is cancelled.
pub trait ToolBox: Send + Sync {
    fn call<'a>(
        &'a self,
        name: &'a str,
        args: Value,
        cancel: CancellationToken,
    ) -> BoxFuture<'a, Result<Value, String>>;

    /// Definitions of `names` for function calling; unknown names are left out.
    fn definitions(&self, names: &[String]) -> Vec<ToolDefinition>;

    /// How long one call of `name` may take before the runner stops it.
    fn timeout(&self, _name: &str) -> Option<Duration> {
        None
    }
}

/// One chunk of the workspace index that a `rag` node retrieved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    pub path: String,
    /// One-based, inclusive.
    pub start_line: u32,
    pub end_line: u32,
    pub text: String,
    pub score: f32,
}

/// Top-k retrieval from the workspace index.
pub trait Retriever: Send + Sync {
    fn retrieve<'a>(
        &'a self,
        query: &'a str,
        k: usize,
    ) -> BoxFuture<'a, Result<Vec<Chunk>, String>>;
}

/// Where `vault` nodes and `{{vault.<key>}}` get secret values.
pub trait SecretStore: Send + Sync {
    fn secret(&self, key: &str) -> Result<Option<SecretString>, String>;
}

impl SecretStore for Vault {
    fn secret(&self, key: &str) -> Result<Option<SecretString>, String> {
        self.get(key)
            .map(|found| found.map(|secret| secret.value))
            .map_err(|error| error.to_string())
    }
}

/// The file tools CodexOS needs before the full tool registry is plugged in: `read_file`, inside
/// the workspace only.
#[derive(Clone, Debug)]
pub struct WorkspaceFiles {
    root: PathBuf,
}

impl WorkspaceFiles {
    pub fn new(root: impl Into<PathBuf>) -> WorkspaceFiles {
        WorkspaceFiles { root: root.into() }
    }

    fn read_file(&self, args: &Value) -> Result<Value, String> {
        let path = args
            .get("path")
            .and_then(Value::as_str)
            .ok_or("`path` is required: the file to read, relative to the workspace")?;
        let relative = Path::new(path);
        if relative.is_absolute()
            || relative
                .components()
                .any(|c| matches!(c, Component::ParentDir | Component::Prefix(_)))
        {
            return Err(format!("`path`: `{path}` is outside the workspace"));
        }
        std::fs::read_to_string(self.root.join(relative))
            .map(Value::String)
            .map_err(|error| format!("cannot read `{path}`: {error}"))
    }
}

impl ToolBox for WorkspaceFiles {
    fn call<'a>(
        &'a self,
        name: &'a str,
        args: Value,
        _cancel: CancellationToken,
    ) -> BoxFuture<'a, Result<Value, String>> {
        let result = match name {
            "read_file" => self.read_file(&args),
            other => Err(format!("unknown tool `{other}`")),
        };
        Box::pin(async move { result })
    }

    fn definitions(&self, names: &[String]) -> Vec<ToolDefinition> {
        names
            .iter()
            .filter(|name| *name == "read_file")
            .map(|_| ToolDefinition {
                name: "read_file".to_owned(),
                description: "Read a file inside the workspace".to_owned(),
                parameters: json!({
                    "type": "object",
                    "properties": {"path": {"type": "string", "description": "relative to the workspace"}},
                    "required": ["path"]
                }),
            })
            .collect()
    }
}
