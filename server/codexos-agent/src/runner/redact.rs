//! Redaction of events before they reach the trace or the sink.

use std::borrow::Cow;

use codexos_policy::{Action, Decision};
use codexos_vault::Redactor;

use crate::events::RunEvent;

/// `event` with every free-text field passed through `redactor`.
pub(super) fn redact_event(event: RunEvent, redactor: &Redactor) -> RunEvent {
    if redactor.is_empty() {
        return event;
    }
    let r = |text: String| match redactor.redact(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(redacted) => redacted,
    };
    match event {
        RunEvent::Started { .. } | RunEvent::NodeStarted { .. } => event,
        RunEvent::Token { node, text } => RunEvent::Token {
            node,
            text: r(text),
        },
        RunEvent::NodeFinished {
            node,
            output,
            elapsed_ms,
            model,
            usage,
            note,
            sources,
        } => RunEvent::NodeFinished {
            node,
            output: r(output),
            elapsed_ms,
            model,
            usage,
            note: note.map(r),
            sources,
        },
        RunEvent::NodeFailed {
            node,
            error,
            elapsed_ms,
        } => RunEvent::NodeFailed {
            node,
            error: r(error),
            elapsed_ms,
        },
        RunEvent::AttemptFailed {
            node,
            attempt,
            attempts,
            failure,
            error,
            retry_in_ms,
        } => RunEvent::AttemptFailed {
            node,
            attempt,
            attempts,
            failure,
            error: r(error),
            retry_in_ms,
        },
        RunEvent::Warning { node, message } => RunEvent::Warning {
            node,
            message: r(message),
        },
        RunEvent::Status { node, message } => RunEvent::Status {
            node,
            message: r(message),
        },
        RunEvent::Decision { node, decision } => RunEvent::Decision {
            node,
            decision: Decision {
                action: redact_action(decision.action, &r),
                reason: r(decision.reason),
                ..decision
            },
        },
        RunEvent::Finished {
            run_id,
            status,
            output,
            error,
            frontier,
            elapsed_ms,
        } => RunEvent::Finished {
            run_id,
            status,
            output: output.map(r),
            error: error.map(r),
            frontier,
            elapsed_ms,
        },
    }
}

/// `action` with every free-text field passed through `r` (a URL or a command may carry a secret).
fn redact_action(action: Action, r: &impl Fn(String) -> String) -> Action {
    match action {
        Action::Read { path } => Action::Read { path: r(path) },
        Action::Write { path } => Action::Write { path: r(path) },
        Action::Command { tool, command } => Action::Command {
            tool,
            command: r(command),
        },
        Action::Plugin {
            name,
            file,
            command,
            hash,
        } => Action::Plugin {
            name,
            file,
            command: r(command),
            hash,
        },
        Action::McpServer {
            name,
            command,
            hash,
        } => Action::McpServer {
            name,
            command: r(command),
            hash,
        },
        Action::Fetch { method, url } => Action::Fetch {
            method,
            url: r(url),
        },
        Action::SubFlow {
            path,
            inside_workspace,
        } => Action::SubFlow {
            path: r(path),
            inside_workspace,
        },
        other @ (Action::Search
        | Action::McpTool { .. }
        | Action::UnlistedTool { .. }
        | Action::Internal) => other,
    }
}
