//! Errors of this crate. Every message names the provider and model (as `provider/model`) and,
//! for HTTP, the URL, so a run log line is enough to know what failed where.

use std::fmt;
use std::time::Duration;

use crate::types::ModelRef;

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("{target}: cannot connect to {url}: {detail}")]
    Connect {
        target: ModelRef,
        url: String,
        detail: String,
    },
    #[error("{target}: no data from {url} for {:.1} s; the provider stalled", .after.as_secs_f64())]
    Stalled {
        target: ModelRef,
        url: String,
        after: Duration,
    },
    #[error("{target}: HTTP {status} from {url}{}: {message}", retried(*.retries))]
    Status {
        target: ModelRef,
        url: String,
        status: u16,
        message: String,
        retries: u32,
    },
    #[error("{target}: invalid response from {url}: {detail}")]
    InvalidResponse {
        target: ModelRef,
        url: String,
        detail: String,
    },
    #[error("{target}: the provider reported an error: {message}")]
    Provider { target: ModelRef, message: String },
    #[error("{target}: connection to {url} failed while reading the answer: {detail}")]
    Transport {
        target: ModelRef,
        url: String,
        detail: String,
    },
    #[error("{target}: cannot send this request: {detail}")]
    InvalidRequest { target: ModelRef, detail: String },
    #[error("{target}: cancelled")]
    Cancelled { target: ModelRef },
    /// A failure inside a provider that is not HTTP (the in-process local model).
    #[error("{target}: {detail}")]
    Failed { target: ModelRef, detail: String },
    #[error("provider `{provider}` is misconfigured: {detail}")]
    Config { provider: String, detail: String },
    #[error("no model in the chain could answer:{}", list_attempts(.attempts))]
    NoModelAnswered { attempts: Vec<Attempt> },
}

impl LlmError {
    /// The provider and model the error is about, when it is about one.
    pub fn target(&self) -> Option<&ModelRef> {
        match self {
            LlmError::Connect { target, .. }
            | LlmError::Stalled { target, .. }
            | LlmError::Status { target, .. }
            | LlmError::InvalidResponse { target, .. }
            | LlmError::Provider { target, .. }
            | LlmError::Transport { target, .. }
            | LlmError::InvalidRequest { target, .. }
            | LlmError::Cancelled { target }
            | LlmError::Failed { target, .. } => Some(target),
            LlmError::Config { .. } | LlmError::NoModelAnswered { .. } => None,
        }
    }

    pub fn is_cancelled(&self) -> bool {
        matches!(self, LlmError::Cancelled { .. })
    }

    /// What kind of failure this is, for a caller deciding whether another attempt may help.
    /// When no model of a chain answered, the kind of the last one that was tried.
    pub fn kind(&self) -> ErrorKind {
        match self {
            LlmError::Connect { .. } | LlmError::Transport { .. } => ErrorKind::Network,
            LlmError::Stalled { .. } => ErrorKind::Timeout,
            LlmError::Status { status: 429, .. } => ErrorKind::RateLimit,
            LlmError::Status { status, .. } if (500..600).contains(status) => ErrorKind::Server,
            LlmError::NoModelAnswered { attempts } => attempts
                .iter()
                .rev()
                .find_map(|attempt| attempt.kind)
                .unwrap_or(ErrorKind::Other),
            _ => ErrorKind::Other,
        }
    }
}

/// Kinds of failure that may pass ([`LlmError::kind`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The provider stalled.
    Timeout,
    /// HTTP 429.
    RateLimit,
    /// HTTP 5xx.
    Server,
    /// The connection could not be made, or broke.
    Network,
    /// Anything else: a refused key, a bad request, an answer that is not valid.
    Other,
}

fn retried(retries: u32) -> String {
    match retries {
        0 => String::new(),
        1 => " after 1 retry".to_owned(),
        n => format!(" after {n} retries"),
    }
}

fn list_attempts(attempts: &[Attempt]) -> String {
    if attempts.is_empty() {
        return " the chain is empty".to_owned();
    }
    attempts.iter().map(|a| format!("\n  - {a}")).collect()
}

/// One link of a fallback chain that did not answer, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// The model name as the chain listed it (`gpt-4`, `ollama/llama3`).
    pub requested: String,
    /// Where the name routed, when it routed anywhere.
    pub target: Option<ModelRef>,
    pub outcome: AttemptOutcome,
    /// For a link that was tried and failed, what kind of failure it was.
    pub kind: Option<ErrorKind>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// Not tried: no provider for it, or the provider is not configured (no key).
    Skipped(String),
    /// Tried, and it failed before its first token.
    Failed(String),
}

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match &self.target {
            Some(target) => target.to_string(),
            None => self.requested.clone(),
        };
        match &self.outcome {
            AttemptOutcome::Skipped(reason) => write!(f, "{name} skipped: {reason}"),
            // A failure message already names the target.
            AttemptOutcome::Failed(message) => write!(f, "{message}"),
        }
    }
}
