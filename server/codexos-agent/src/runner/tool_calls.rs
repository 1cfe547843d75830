//! Tool calls through the tool box, with the gate's decisions recorded as they arrive and the
//! tool's time limit.

use std::sync::Arc;
use std::time::Duration;

use codexos_llm::ToolDefinition;
use codexos_policy::{Action, Decision};
use serde_json::Value;
use tokio::sync::mpsc;

use super::STOP_GRACE;
use super::state::{Failure, RunState, seconds};
use crate::events::RunEvent;
use crate::graph::RetryOn;
use crate::services::Caller;

impl RunState<'_> {
    /// Who a node's tool calls come from, for the gate, and the channel its decisions come
    /// back on: [`RunState::drive`] records them as they arrive.
    pub(super) fn caller(&self, label: &str) -> (Caller, mpsc::UnboundedReceiver<Decision>) {
        let (sender, decisions) = mpsc::unbounded_channel();
        let caller = Caller {
            cancel: self.cancel.child_token(),
            asker: self.asker(label),
            audit: Arc::new(move |decision: &Decision| {
                let _ = sender.send(decision.clone());
            }),
        };
        (caller, decisions)
    }

    pub(super) fn asker(&self, label: &str) -> String {
        format!("node `{label}` of flow `{}`", self.flow_id)
    }

    pub(super) fn record_decision(&self, label: &str, decision: Decision) {
        self.emit(RunEvent::Decision {
            node: Some(label.to_owned()),
            decision,
        });
    }

    /// Asks the runner's gate about something the runner itself would do, and records the
    /// decision.
    pub(super) async fn decide(&self, label: &str, tool: &str, action: Action) -> Decision {
        let asker = self.asker(label);
        let decision = self.runner.gate.decide(tool, &action, Some(&asker)).await;
        self.record_decision(label, decision.clone());
        decision
    }

    pub(super) async fn definitions(&self, label: &str, names: &[String]) -> Vec<ToolDefinition> {
        let Some(tools) = &self.runner.tools else {
            return Vec::new();
        };
        let (caller, mut decisions) = self.caller(label);
        let mut listing = tools.definitions(names, caller);
        let definitions = loop {
            tokio::select! {
                definitions = &mut listing => break definitions,
                Some(decision) = decisions.recv() => self.record_decision(label, decision),
            }
        };
        while let Ok(decision) = decisions.try_recv() {
            self.record_decision(label, decision);
        }
        definitions
    }

    /// Calls `tool`; `timeout` (a tool node's `timeout_ms`) replaces the tool's own limit.
    pub(super) async fn call_tool(
        &self,
        label: &str,
        tool: &str,
        args: Value,
        timeout: Option<Duration>,
    ) -> Result<String, Failure> {
        let tools = self
            .runner
            .tools
            .as_ref()
            .ok_or_else(|| format!("no tools are available to call `{tool}`"))?;
        let limit = timeout
            .or_else(|| tools.timeout(tool))
            .unwrap_or(self.runner.limits.tool_timeout);
        let (caller, mut decisions) = self.caller(label);
        let cancel = caller.cancel.clone();
        let mut call = tools.call(tool, args, caller);
        let mut deadline = tokio::time::Instant::now() + limit;
        let finished = loop {
            tokio::select! {
                result = &mut call => break Some(result),
                Some(decision) = decisions.recv() => {
                    // The tool's time starts once the gate has decided: a user reading a
                    // prompt is not the tool being slow.
                    deadline = tokio::time::Instant::now() + limit;
                    self.record_decision(label, decision);
                }
                () = tokio::time::sleep_until(deadline) => break None,
                () = self.cancel.cancelled() => break None,
            }
        };
        while let Ok(decision) = decisions.try_recv() {
            self.record_decision(label, decision);
        }
        let Some(result) = finished else {
            // Let the tool see its token and stop its processes before it is dropped.
            cancel.cancel();
            let _ = tokio::time::timeout(STOP_GRACE, call).await;
            if self.cancel.is_cancelled() {
                return Err(Failure::Stopped(self.stop_reason()));
            }
            let field = if timeout.is_some() {
                "`timeout_ms`: "
            } else {
                ""
            };
            return Err(Failure::Transient(
                RetryOn::Timeout,
                format!(
                    "{field}tool `{tool}` did not finish within {} and was stopped",
                    seconds(limit)
                ),
            ));
        };
        match result {
            Ok(Value::String(text)) => Ok(text),
            Ok(value) => Ok(serde_json::to_string_pretty(&value).unwrap_or_default()),
            Err(error) => Err(Failure::Failed(format!("tool `{tool}`: {error}"))),
        }
    }
}
