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

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;
    use crate::agents::{RunStatus, TokenUsage};

    fn payloads(events: &[RunEvent]) -> String {
        events
            .iter()
            .map(|event| serde_json::to_string(&RunEventPayload::new("r1", event)).expect("JSON"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn each_event_becomes_the_payload_docs_protocol_md_describes() {
        let events = [
            RunEvent::Started {
                run_id: "r1".into(),
                flow_id: "answer".into(),
                retry_of: None,
                forked_from: None,
            },
            RunEvent::NodeStarted {
                node: "think".into(),
                node_type: "llm".into(),
                iteration: 0,
            },
            RunEvent::Token {
                node: "think".into(),
                text: "High ".into(),
            },
            RunEvent::AttemptFailed {
                node: "think".into(),
                attempt: 1,
                attempts: 3,
                failure: "server".into(),
                error: "502".into(),
                retry_in_ms: 500,
            },
            RunEvent::NodeFinished {
                node: "think".into(),
                output: "High tide".into(),
                elapsed_ms: 12,
                model: Some("openai/gpt-4o-mini".into()),
                usage: TokenUsage::default(),
                note: None,
                sources: Vec::new(),
            },
            RunEvent::Finished {
                run_id: "r1".into(),
                status: RunStatus::Failed,
                output: None,
                error: Some("no exit was reached".into()),
                frontier: Vec::new(),
                elapsed_ms: 40,
            },
        ];
        expect![[r#"
            {"run_id":"r1","kind":"started","text":"answer"}
            {"run_id":"r1","kind":"node_started","node":"think","text":"llm"}
            {"run_id":"r1","kind":"token","node":"think","text":"High "}
            {"run_id":"r1","kind":"warning","node":"think","text":"↻ think: attempt 1 of 3 failed (server): 502; trying again in 0.5 s"}
            {"run_id":"r1","kind":"node_finished","node":"think","text":"High tide","ms":12,"model":"openai/gpt-4o-mini"}
            {"run_id":"r1","kind":"finished","text":"no exit was reached","ms":40,"status":"failed"}"#]].assert_eq(&payloads(&events));
    }
}
