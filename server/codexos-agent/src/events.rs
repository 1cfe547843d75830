//! What a run reports as it goes ([`RunEvent`]) and what it adds up to ([`RunResult`]). Every
//! string in both has been through the vault's redactor.

use std::path::PathBuf;
use std::sync::Arc;

use codexos_policy::Decision;
use serde::{Deserialize, Serialize};

use crate::replay::ForkedFrom;
use crate::services::SearchHit;

/// Token counts of a node or a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl TokenUsage {
    pub fn add(&mut self, other: TokenUsage) {
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
    }

    pub fn is_zero(&self) -> bool {
        self.prompt_tokens == 0 && self.completion_tokens == 0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Succeeded,
    Failed,
    Cancelled,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }
}

/// A streamed step of a run. Node ids inside a sub-flow are prefixed with the `flow` node's id
/// (`research/summarize`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RunEvent {
    Started {
        run_id: String,
        flow_id: String,
        /// Set when this run retries an earlier one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_of: Option<String>,
        /// Set when this run replays or forks an earlier one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        forked_from: Option<ForkedFrom>,
    },
    NodeStarted {
        node: String,
        node_type: String,
        /// 0 for a node's first run; reflection re-runs count up from 1.
        iteration: u32,
    },
    /// Part of an `llm` node's answer as the model writes it.
    Token { node: String, text: String },
    NodeFinished {
        node: String,
        output: String,
        elapsed_ms: u64,
        /// The model that actually answered (`provider/model`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
        #[serde(default, skip_serializing_if = "TokenUsage::is_zero")]
        usage: TokenUsage,
        /// What the node decided or set up (a condition's branch, a variable's name).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        sources: Vec<Source>,
    },
    NodeFailed {
        node: String,
        error: String,
        elapsed_ms: u64,
    },
    /// An attempt of a node with `retry` failed and the node runs again after `retry_in_ms`;
    /// the last attempt's failure is the node's [`RunEvent::NodeFailed`].
    AttemptFailed {
        node: String,
        /// One-based.
        attempt: u32,
        attempts: u32,
        /// What `retry.on` calls the failure: `timeout`, `rate_limit`, `server`, `network`,
        /// `error`.
        failure: String,
        error: String,
        retry_in_ms: u64,
    },
    Warning {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        node: Option<String>,
        message: String,
    },
    /// What a node is waiting for (a local model loading, reading its prompt): shown while the
    /// user waits, not a problem.
    Status { node: String, message: String },
    /// What the policy (or the user) decided about something a node would do: a tool call, a
    /// sub-flow, a tool its node does not list.
    Decision {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        node: Option<String>,
        #[serde(flatten)]
        decision: Decision,
    },
    Finished {
        run_id: String,
        status: RunStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// Nodes that were running or waiting when the run stopped: where a retry starts.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        frontier: Vec<String>,
        elapsed_ms: u64,
    },
}

/// Receives events as they happen; called from the run's task, so it must not block for long
/// (send to a channel, write a line).
pub type EventSink = Arc<dyn Fn(&RunEvent) + Send + Sync>;

/// An event sink that drops everything.
pub fn ignore_events() -> EventSink {
    Arc::new(|_| {})
}

/// Where retrieved text came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub path: String,
    pub start_line: u32,
    pub end_line: u32,
    /// The symbol the retrieved chunk holds, if any.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub symbol: String,
}

impl From<&SearchHit> for Source {
    fn from(chunk: &SearchHit) -> Source {
        Source {
            path: chunk.path.clone(),
            start_line: chunk.start_line,
            end_line: chunk.end_line,
            symbol: chunk.symbol.clone(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeStatus {
    Succeeded,
    Failed,
    /// Stopped by cancellation, the run's timeout or another branch's failure.
    Stopped,
    /// Not run again: its output was taken from the run being retried or replayed (or set by
    /// a fork's edit).
    Replayed,
}

/// One node's part of a run (its last execution when it ran more than once).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeRecord {
    pub id: String,
    pub node_type: String,
    pub status: NodeStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How many times it ran (reflection and loops run nodes again).
    pub runs: u32,
    /// Time spent in this node over all its runs.
    pub elapsed_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "TokenUsage::is_zero")]
    pub usage: TokenUsage,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<Source>,
}

/// A problem, with the node it happened in when there is one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.node {
            Some(node) => write!(f, "node `{node}`: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Everything a run did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub run_id: String,
    pub flow_id: String,
    pub status: RunStatus,
    /// The exit node's output, when the run reached one.
    pub output: Option<String>,
    /// Nodes in the order they first started (replayed ones first, on a retry).
    pub nodes: Vec<NodeRecord>,
    pub usage: TokenUsage,
    pub errors: Vec<Problem>,
    pub warnings: Vec<Problem>,
    /// Every source a `rag` node used.
    pub sources: Vec<Source>,
    pub elapsed_ms: u64,
    /// The trace file, when traces are recorded.
    pub trace: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_of: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forked_from: Option<ForkedFrom>,
    /// The caller's name for the agent, when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
}

impl RunResult {
    pub fn node(&self, id: &str) -> Option<&NodeRecord> {
        self.nodes.iter().find(|node| node.id == id)
    }

    /// Every error of the run in one line (`node \`a\`: …; …`), when it has any.
    pub fn error_text(&self) -> Option<String> {
        (!self.errors.is_empty()).then(|| {
            self.errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}
