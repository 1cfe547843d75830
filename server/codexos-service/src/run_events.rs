//! What a client sees of a run's events: the payload of the language server's
//! `codexos/runEvent` and of `codexos serve`'s event streams (docs/protocol.md), one shape for
//! both so a UI written against one works against the other.

use serde::Serialize;

use crate::agents::{Decision, RunEvent, step_line};

/// One event of a run as clients see it (docs/protocol.md, `codexos/runEvent`).
#[derive(Debug, Serialize)]
pub struct RunEventPayload<'a> {
    pub run_id: &'a str,
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
    /// For `decision`: what was asked, the verdict, who decided and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<&'a Decision>,
}

impl<'a> RunEventPayload<'a> {
    fn of(run_id: &'a str, kind: &'static str) -> Self {
        RunEventPayload {
            run_id,
            kind,
            node: None,
            text: None,
            ms: None,
            model: None,
            status: None,
            decision: None,
        }
    }

    /// The payload of `event` of the run `run_id`.
    pub fn new(run_id: &'a str, event: &'a RunEvent) -> Self {
        let of = |kind| RunEventPayload::of(run_id, kind);
        match event {
            RunEvent::Started { flow_id, .. } => RunEventPayload {
                text: Some(flow_id.clone()),
                ..of("started")
            },
            RunEvent::Token { node, text } => RunEventPayload {
                node: Some(node),
                text: Some(text.clone()),
                ..of("token")
            },
            RunEvent::NodeStarted {
                node, node_type, ..
            } => RunEventPayload {
                node: Some(node),
                text: Some(node_type.clone()),
                ..of("node_started")
            },
            RunEvent::NodeFinished {
                node,
                output,
                elapsed_ms,
                model,
                ..
            } => RunEventPayload {
                node: Some(node),
                text: Some(output.clone()),
                ms: Some(*elapsed_ms),
                model: model.as_deref(),
                ..of("node_finished")
            },
            RunEvent::NodeFailed {
                node,
                error,
                elapsed_ms,
            } => RunEventPayload {
                node: Some(node),
                text: Some(error.clone()),
                ms: Some(*elapsed_ms),
                ..of("node_failed")
            },
            // A warning to the client: the node goes on, and clients show warnings already.
            RunEvent::AttemptFailed { node, .. } => RunEventPayload {
                node: Some(node),
                text: step_line(event),
                ..of("warning")
            },
            RunEvent::Warning { node, message } => RunEventPayload {
                node: node.as_deref(),
                text: Some(message.clone()),
                ..of("warning")
            },
            RunEvent::Status { node, message } => RunEventPayload {
                node: Some(node),
                text: Some(message.clone()),
                ..of("status")
            },
            RunEvent::Decision { node, decision } => RunEventPayload {
                node: node.as_deref(),
                text: Some(decision.to_string()),
                decision: Some(decision),
                ..of("decision")
            },
            RunEvent::Finished {
                status,
                output,
                error,
                elapsed_ms,
                ..
            } => RunEventPayload {
                text: output.clone().or_else(|| error.clone()),
                ms: Some(*elapsed_ms),
                status: Some(status.as_str()),
                ..of("finished")
            },
        }
    }
}
