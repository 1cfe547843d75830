//! The tool loop of an `llm` node: stream the model's answer, run the tools it calls (only those
//! its node lists), and ask again, within the bound on rounds.

use codexos_llm::{ChatRequest, ErrorKind, FinishReason, LlmError, Message, StreamEvent};
use codexos_policy::Action;
use futures_util::StreamExt;

use super::state::{Failure, RunState};
use super::tokens::TokenBuffer;
use crate::events::{RunEvent, TokenUsage};
use crate::graph::{LlmSpec, RetryOn};

impl RunState<'_> {
    pub(super) async fn call_llm(
        &self,
        label: &str,
        llm: &LlmSpec,
        models: &[String],
        mut messages: Vec<Message>,
    ) -> Result<LlmAnswer, Failure> {
        let router = self
            .runner
            .router
            .as_ref()
            .ok_or("no LLM provider is configured for this run")?;
        let (first, fallbacks) = models.split_first().ok_or("`model` names no model")?;
        let definitions = if llm.tools.is_empty() {
            Vec::new()
        } else {
            self.definitions(label, &llm.tools).await
        };
        let mut usage = TokenUsage::default();
        let mut rounds = 0;
        loop {
            let mut request = ChatRequest::new(first.clone(), messages.clone());
            request.fallback_models = fallbacks.to_vec();
            request.temperature = llm.temperature;
            request.max_tokens = llm.max_tokens;
            request.tools = definitions.clone();
            let stream = tokio::select! {
                stream = router.stream(request, self.cancel.child_token()) => stream,
                () = self.cancel.cancelled() => return Err(Failure::Stopped(self.stop_reason())),
            };
            let mut stream = match stream {
                Ok(stream) => stream,
                Err(_) if self.cancel.is_cancelled() => {
                    return Err(Failure::Stopped(self.stop_reason()));
                }
                Err(error) => return Err(llm_failure(&error)),
            };
            for warning in std::mem::take(&mut stream.warnings) {
                self.warn(Some(label.to_owned()), warning);
            }
            let model = stream.answered_by.to_string();
            let mut text = String::new();
            let mut calls = Vec::new();
            let mut pending = TokenBuffer::default();
            while let Some(event) = stream.next().await {
                match event {
                    Ok(StreamEvent::TextDelta(delta)) => {
                        text.push_str(&delta);
                        if let Some(ready) = pending.push(&delta) {
                            self.emit(RunEvent::Token {
                                node: label.to_owned(),
                                text: ready,
                            });
                        }
                    }
                    Ok(StreamEvent::ToolCall(call)) => calls.push(call),
                    Ok(StreamEvent::Usage(reported)) => usage.add(TokenUsage {
                        prompt_tokens: u64::from(reported.prompt_tokens),
                        completion_tokens: u64::from(reported.completion_tokens),
                    }),
                    Ok(StreamEvent::Warning(warning)) => {
                        self.warn(Some(label.to_owned()), warning);
                    }
                    Ok(StreamEvent::Status(message)) => self.emit(RunEvent::Status {
                        node: label.to_owned(),
                        message,
                    }),
                    Ok(StreamEvent::Finished(FinishReason::Length)) => {
                        let limit = llm.max_tokens.map_or_else(
                            || "its token limit".to_owned(),
                            |n| format!("max_tokens ({n})"),
                        );
                        self.warn(
                            Some(label.to_owned()),
                            format!(
                                "the answer was cut at {limit}: raise the node's `max_tokens` for a longer one"
                            ),
                        );
                    }
                    Ok(StreamEvent::ToolCallDelta(_) | StreamEvent::Finished(_)) => {}
                    Err(_) if self.cancel.is_cancelled() => {
                        return Err(Failure::Stopped(self.stop_reason()));
                    }
                    Err(error) => return Err(llm_failure(&error)),
                }
            }
            if let Some(rest) = pending.flush() {
                self.emit(RunEvent::Token {
                    node: label.to_owned(),
                    text: rest,
                });
            }
            if calls.is_empty() {
                return Ok(LlmAnswer { text, model, usage });
            }
            rounds += 1;
            if rounds > self.runner.limits.max_tool_rounds {
                return Err(Failure::Failed(format!(
                    "the model kept calling tools after {} rounds",
                    self.runner.limits.max_tool_rounds
                )));
            }
            messages.push(Message::assistant_tool_calls(text, calls.clone()));
            for call in calls {
                let result = if llm.tools.contains(&call.name) {
                    match self
                        .call_tool(label, &call.name, call.arguments.clone(), None)
                        .await
                    {
                        Ok(output) => output,
                        Err(Failure::Failed(message) | Failure::Transient(_, message)) => {
                            format!("error: {message}")
                        }
                        Err(stopped) => return Err(stopped),
                    }
                } else {
                    // What a model may do is what its node lists, whatever the model was told
                    // by the text it read: the call is refused, recorded, and the model told.
                    let listed = llm.tools.clone();
                    let decision = self
                        .decide(label, &call.name, Action::UnlistedTool { listed })
                        .await;
                    let tools = if llm.tools.is_empty() {
                        "none".to_owned()
                    } else {
                        llm.tools.join(", ")
                    };
                    format!(
                        "error: refused: `{}` is not one of this node's tools ({}); its tools: {tools}",
                        call.name, decision.reason
                    )
                };
                messages.push(Message::tool_result(call.id, result));
            }
        }
    }
}

pub(super) struct LlmAnswer {
    pub(super) text: String,
    pub(super) model: String,
    pub(super) usage: TokenUsage,
}

/// A model's failure, with the kind `retry.on` names when it may pass.
fn llm_failure(error: &LlmError) -> Failure {
    let kind = match error.kind() {
        ErrorKind::Timeout => RetryOn::Timeout,
        ErrorKind::RateLimit => RetryOn::RateLimit,
        ErrorKind::Server => RetryOn::Server,
        ErrorKind::Network => RetryOn::Network,
        ErrorKind::Other => return Failure::Failed(error.to_string()),
    };
    Failure::Transient(kind, error.to_string())
}
