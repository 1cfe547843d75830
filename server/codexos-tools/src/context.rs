//! What a tool call may see and touch.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use codexos_policy::{Decision, Gate, PolicyGate};
use tokio_util::sync::CancellationToken;

use crate::search::Search;
use crate::write::{AtomicWriteSink, WriteSink};

/// How tools run in the workspace (`codexos.toml`'s `[tools]` table). What they may do at all
/// is the policy's to decide ([`ToolContext::gate`]): `allow_shell` and `allow_python` are
/// requests to it, read by [`ToolSettings`], never grants.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolConfig {
    /// `python`: the interpreter the `python` tool starts.
    pub python: String,
    /// `timeout_secs`: how long a command (shell, python, plug-in, MCP call) may run.
    pub timeout: Duration,
    /// `max_output_bytes`: the most a tool returns (file text, command output); the rest is cut.
    pub max_output_bytes: usize,
    /// `http_timeout_secs`: how long `http_fetch` waits for a whole response.
    pub http_timeout: Duration,
    /// `http_max_bytes`: the largest body `http_fetch` reads.
    pub http_max_bytes: usize,
}

impl Default for ToolConfig {
    fn default() -> ToolConfig {
        ToolConfig {
            python: "python3".to_owned(),
            timeout: Duration::from_secs(30),
            max_output_bytes: 64 * 1024,
            http_timeout: Duration::from_secs(30),
            http_max_bytes: 1024 * 1024,
        }
    }
}

/// `codexos.toml`'s `[tools]` keys as written (every key optional); [`ToolConfig::from`] fills
/// in the defaults. Unknown keys are errors, so a misspelt `alow_shell` never silently stays off.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ToolSettings {
    /// The workspace asks for the `shell` tool (each command still needs the user).
    pub allow_shell: bool,
    /// The workspace asks for the `python` tool (each program still needs the user).
    pub allow_python: bool,
    pub python: Option<String>,
    pub timeout_secs: Option<u64>,
    pub max_output_bytes: Option<usize>,
    pub http_timeout_secs: Option<u64>,
    pub http_max_bytes: Option<usize>,
}

impl From<ToolSettings> for ToolConfig {
    fn from(settings: ToolSettings) -> ToolConfig {
        let defaults = ToolConfig::default();
        ToolConfig {
            python: settings.python.unwrap_or(defaults.python),
            timeout: settings
                .timeout_secs
                .map_or(defaults.timeout, Duration::from_secs),
            max_output_bytes: settings
                .max_output_bytes
                .unwrap_or(defaults.max_output_bytes),
            http_timeout: settings
                .http_timeout_secs
                .map_or(defaults.http_timeout, Duration::from_secs),
            http_max_bytes: settings.http_max_bytes.unwrap_or(defaults.http_max_bytes),
        }
    }
}

/// Receives every decision the gate makes, for the run's trace.
pub type Audit = Arc<dyn Fn(&Decision) + Send + Sync>;

/// Everything one tool call may use. Cheap to clone (shared parts are behind `Arc`s).
#[derive(Clone)]
pub struct ToolContext {
    /// The workspace's root; tools read, write and run only inside it.
    pub workspace_root: PathBuf,
    pub config: Arc<ToolConfig>,
    /// Cancelling it stops running calls (commands are killed with their process group).
    pub cancellation: CancellationToken,
    /// Where `write_file` writes: the disk for the CLI, a collected edit for the editor.
    pub writes: Arc<dyn WriteSink>,
    /// The workspace index, once built; `search_workspace` says "index not built" without it.
    pub search: Option<Arc<dyn Search>>,
    /// Decides, before each call runs, whether it may do what it would do.
    pub gate: Arc<dyn Gate>,
    /// Told every decision (`None`: decisions are only logged).
    pub audit: Option<Audit>,
    /// Who calls, for the user's prompt (`node \`fix\` of \`triage\``).
    pub asker: Option<String>,
}

impl ToolContext {
    /// A context with the default configuration, atomic writes to disk, no index, and the
    /// policy's defaults with nobody to ask (commands, plug-ins, MCP and the network refused).
    pub fn new(workspace_root: impl Into<PathBuf>) -> ToolContext {
        let workspace_root = workspace_root.into();
        ToolContext {
            gate: Arc::new(PolicyGate::defaults(&workspace_root)),
            workspace_root,
            config: Arc::new(ToolConfig::default()),
            cancellation: CancellationToken::new(),
            writes: Arc::new(AtomicWriteSink),
            search: None,
            audit: None,
            asker: None,
        }
    }

    pub fn with_gate(mut self, gate: Arc<dyn Gate>) -> ToolContext {
        self.gate = gate;
        self
    }

    pub fn with_audit(mut self, audit: Audit) -> ToolContext {
        self.audit = Some(audit);
        self
    }

    pub fn with_asker(mut self, asker: impl Into<String>) -> ToolContext {
        self.asker = Some(asker.into());
        self
    }

    pub fn with_config(mut self, config: ToolConfig) -> ToolContext {
        self.config = Arc::new(config);
        self
    }

    pub fn with_cancellation(mut self, cancellation: CancellationToken) -> ToolContext {
        self.cancellation = cancellation;
        self
    }

    pub fn with_write_sink(mut self, writes: Arc<dyn WriteSink>) -> ToolContext {
        self.writes = writes;
        self
    }

    pub fn with_search(mut self, search: Arc<dyn Search>) -> ToolContext {
        self.search = Some(search);
        self
    }
}

impl std::fmt::Debug for ToolContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolContext")
            .field("workspace_root", &self.workspace_root)
            .field("config", &self.config)
            .field("cancelled", &self.cancellation.is_cancelled())
            .field("search", &self.search.is_some())
            .field("asker", &self.asker)
            .finish_non_exhaustive()
    }
}
