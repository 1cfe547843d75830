//! Adding a stream's events up into a [`ChatResponse`].

use futures_util::StreamExt;

use crate::error::LlmError;
use crate::provider::ChatStream;
use crate::types::{ChatResponse, FinishReason, ModelRef, StreamEvent, ToolCall, Usage};

/// Accumulates events; pure, so a caller that shows deltas as they come can also keep the
/// whole answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResponseBuilder {
    text: String,
    tool_calls: Vec<ToolCall>,
    usage: Option<Usage>,
    finish_reason: Option<FinishReason>,
    warnings: Vec<String>,
}

impl ResponseBuilder {
    pub fn push(&mut self, event: StreamEvent) {
        match event {
            StreamEvent::TextDelta(text) => self.text.push_str(&text),
            // The complete call follows its deltas, so the deltas need no keeping.
            StreamEvent::ToolCallDelta(_) => {}
            StreamEvent::ToolCall(call) => self.tool_calls.push(call),
            StreamEvent::Usage(usage) => self.usage = Some(usage),
            StreamEvent::Warning(warning) => self.warnings.push(warning),
            StreamEvent::Status(_) => {}
            StreamEvent::Finished(reason) => self.finish_reason = Some(reason),
        }
    }

    /// Notes to report with the response, such as the links of a chain that did not answer.
    pub fn warn(&mut self, warning: impl Into<String>) {
        self.warnings.push(warning.into());
    }

    /// The text so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The response, if the stream finished.
    pub fn finish(self, answered_by: ModelRef) -> Result<ChatResponse, LlmError> {
        let Some(finish_reason) = self.finish_reason else {
            return Err(LlmError::Failed {
                target: answered_by,
                detail: "the stream ended without a finish reason: the answer is incomplete"
                    .to_owned(),
            });
        };
        Ok(ChatResponse {
            answered_by,
            text: self.text,
            tool_calls: self.tool_calls,
            usage: self.usage,
            finish_reason,
            warnings: self.warnings,
        })
    }
}

/// Reads `stream` to its end. `answered_by` names the model that produced it.
pub async fn collect(
    mut stream: ChatStream,
    answered_by: ModelRef,
) -> Result<ChatResponse, LlmError> {
    let mut builder = ResponseBuilder::default();
    while let Some(event) = stream.next().await {
        builder.push(event?);
    }
    builder.finish(answered_by)
}
