//! The narrow seams the runner calls through: tools, the workspace index and the vault. The
//! binary plugs in the real ones; tests plug in their own.

use std::time::Duration;

use codexos_llm::ToolDefinition;
use codexos_tools::{Audit, ToolContext, ToolRegistry};
use codexos_vault::{SecretString, Vault};
use futures_util::future::BoxFuture;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// Who calls a tool, as the policy's gate sees it.
#[derive(Clone)]
pub struct Caller {
    /// Fires when the run stops; a call must stop promptly then.
    pub cancel: CancellationToken,
    /// Who asks, for the user's prompt: ``node `fix` of `triage` ``.
    pub asker: String,
    /// Told every decision the gate makes (the runner records them in the trace).
    pub audit: Audit,
}

/// Calls tools by name. Implementations validate `args`, pass every call through the
/// workspace's policy (telling `caller.audit` each decision), and must stop promptly (killing
/// any child process) when `caller.cancel` fires or the returned future is dropped: the runner
/// drops it at the tool's timeout and when a run is cancelled.
pub trait ToolBox: Send + Sync {
    fn call<'a>(
        &'a self,
        name: &'a str,
        args: Value,
        caller: Caller,
    ) -> BoxFuture<'a, Result<Value, String>>;

    /// Definitions of `names` for function calling; unknown names are left out. Tools that
    /// need starting first (an MCP server's) start here, through the policy.
    fn definitions<'a>(
        &'a self,
        names: &'a [String],
        caller: Caller,
    ) -> BoxFuture<'a, Vec<ToolDefinition>>;

    /// How long one call of `name` may take before the runner stops it.
    fn timeout(&self, _name: &str) -> Option<Duration> {
        None
    }
}

/// What a `rag` node retrieves: the workspace index's one hit type.
pub use codexos_tools::SearchHit;

/// Top-k retrieval from the workspace index.
pub trait Retriever: Send + Sync {
    fn retrieve<'a>(
        &'a self,
        query: &'a str,
        k: usize,
    ) -> BoxFuture<'a, Result<Vec<SearchHit>, String>>;
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

/// The workspace's [`ToolRegistry`] (built-ins, `tools/` plug-ins, MCP servers) as a
/// [`ToolBox`]: arguments are checked against each tool's schema and the call against the
/// context's gate before it runs, and each call gets the run's cancellation (commands are
/// killed with their process group).
pub struct RegistryTools {
    registry: ToolRegistry,
    context: ToolContext,
}

impl RegistryTools {
    pub fn new(registry: ToolRegistry, context: ToolContext) -> RegistryTools {
        RegistryTools { registry, context }
    }
}

impl RegistryTools {
    fn context_for(&self, caller: Caller) -> ToolContext {
        self.context
            .clone()
            .with_cancellation(caller.cancel)
            .with_asker(caller.asker)
            .with_audit(caller.audit)
    }
}

impl ToolBox for RegistryTools {
    fn call<'a>(
        &'a self,
        name: &'a str,
        args: Value,
        caller: Caller,
    ) -> BoxFuture<'a, Result<Value, String>> {
        Box::pin(async move {
            let context = self.context_for(caller);
            match self.registry.call(name, args, &context).await {
                Ok(output) => Ok(Value::String(output.text)),
                // The runner names the tool already.
                Err(error) => {
                    let message = error.to_string();
                    let prefix = format!("{}: ", error.tool());
                    Err(message
                        .strip_prefix(&prefix)
                        .map_or_else(|| message.clone(), str::to_owned))
                }
            }
        })
    }

    fn definitions<'a>(
        &'a self,
        names: &'a [String],
        caller: Caller,
    ) -> BoxFuture<'a, Vec<ToolDefinition>> {
        Box::pin(async move {
            // A server that failed or was refused leaves its tools out; calling one says why.
            let _failures = self
                .registry
                .prepare(names, &self.context_for(caller))
                .await;
            self.registry
                .list()
                .into_iter()
                .filter(|info| names.contains(&info.name))
                .map(|info| ToolDefinition {
                    name: info.name,
                    description: info.description,
                    parameters: info.input_schema,
                })
                .collect()
        })
    }

    fn timeout(&self, _name: &str) -> Option<Duration> {
        // Tools stop themselves at `[tools] timeout_secs`; the runner's bound is a second line,
        // a little later, for a tool that does not.
        Some(self.context.config.timeout + Duration::from_secs(5))
    }
}
