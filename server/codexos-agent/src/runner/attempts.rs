//! A node's attempts: each within the node's `timeout_ms`, and another after a failure its
//! `retry.on` names, after a wait that doubles. Each failed attempt that is tried again is its
//! own [`RunEvent::AttemptFailed`] in the events and the trace.

use codexos_flow::model::NodeType;

use super::state::{Failure, Feedback, Outcome, RunState, Scope, seconds};
use crate::events::RunEvent;
use crate::graph::RetryOn;

impl RunState<'_> {
    pub(super) async fn attempts(
        &self,
        scope: &Scope<'_>,
        node: usize,
        label: &str,
        input: String,
        feedback: Option<Feedback>,
    ) -> Result<Outcome, Failure> {
        let spec = &scope.graph.nodes[node];
        let policy = &spec.call;
        let mut attempt = 1;
        loop {
            let running = self.execute_node(scope, node, label, input.clone(), feedback.clone());
            // A tool node hands its time to the tool call, which does not count a user reading
            // the gate's question and lets the tool stop its processes.
            let result = match policy.timeout {
                Some(limit) if spec.ty != NodeType::Tool => {
                    match tokio::time::timeout(limit, running).await {
                        Ok(result) => result,
                        Err(_) => Err(Failure::Transient(
                            RetryOn::Timeout,
                            format!(
                                "`timeout_ms`: the attempt did not finish within {} and was stopped",
                                seconds(limit)
                            ),
                        )),
                    }
                }
                _ => running.await,
            };
            let (kind, message) = match result {
                Err(Failure::Transient(kind, message)) => (kind, message),
                Err(Failure::Failed(message)) => (RetryOn::Error, message),
                done => return done,
            };
            let of = if policy.attempts > 1 {
                format!(" (attempt {attempt} of {})", policy.attempts)
            } else {
                String::new()
            };
            if attempt >= policy.attempts
                || !policy.on.contains(&kind)
                || self.cancel.is_cancelled()
            {
                return Err(Failure::Failed(format!("{message}{of}")));
            }
            let wait = policy.wait_after(attempt);
            self.emit(RunEvent::AttemptFailed {
                node: label.to_owned(),
                attempt,
                attempts: policy.attempts,
                failure: kind.as_str().to_owned(),
                error: message,
                retry_in_ms: wait.as_millis() as u64,
            });
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.cancel.cancelled() => return Err(Failure::Stopped(self.stop_reason())),
            }
            attempt += 1;
        }
    }
}
