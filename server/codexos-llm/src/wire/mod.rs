//! The providers' wire formats, as pure synchronous code: request bodies out, response bytes
//! in, [`StreamEvent`]s out. No I/O here; the HTTP edge feeds whatever chunks arrive.

pub mod anthropic;
pub mod lines;
pub mod ollama;
pub mod openai;
pub mod sse;
mod tool_calls;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::types::{StreamEvent, ToolDefinition};

pub use tool_calls::ToolCallAssembler;

/// Which API a provider speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WireFormat {
    /// `POST {base}/chat/completions` with `stream: true`: OpenAI, vLLM, llama.cpp's server,
    /// Ollama's `/v1`, Mistral.
    OpenAiChat,
    /// `POST {base}/v1/messages` with `stream: true`.
    AnthropicMessages,
    /// `POST {base}/api/chat`, newline-delimited JSON.
    OllamaChat,
}

/// What went wrong in a response body. The HTTP edge adds the provider, model and URL.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The bytes are not the format the provider should speak.
    #[error("{0}")]
    Invalid(String),
    /// The provider sent a well-formed error in place of (or in the middle of) an answer.
    #[error("{0}")]
    Provider(String),
}

/// Turns one response body, fed in arbitrary chunks, into events.
pub trait StreamDecoder: Send + Sync {
    /// Decodes the next chunk of the body.
    fn push(&mut self, bytes: &[u8]) -> Result<Vec<StreamEvent>, WireError>;
    /// The body ended: flushes what is left, or says the stream was cut short.
    fn finish(&mut self) -> Result<Vec<StreamEvent>, WireError>;
    /// The answer is complete (the end marker was seen); the rest of the body can be dropped.
    fn is_done(&self) -> bool;
}

/// A fresh decoder for one response in `format`.
pub fn decoder(format: WireFormat) -> Box<dyn StreamDecoder> {
    match format {
        WireFormat::OpenAiChat => Box::new(openai::Decoder::default()),
        WireFormat::AnthropicMessages => Box::new(anthropic::Decoder::default()),
        WireFormat::OllamaChat => Box::new(ollama::Decoder::default()),
    }
}

/// The start of `text`, on one line, for error messages.
pub(crate) fn excerpt(text: &str) -> String {
    const LIMIT: usize = 160;
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

/// Parses one JSON record of a stream, naming where it was when it is not JSON.
fn parse_record(text: &str, place: &str) -> Result<Value, WireError> {
    serde_json::from_str(text).map_err(|err| {
        WireError::Invalid(format!(
            "{place} is not valid JSON ({err}): `{}`",
            excerpt(text)
        ))
    })
}

/// The human-readable message of a JSON error object, in the shapes providers use:
/// `{"error": {"message": …}}`, `{"error": "…"}`, `{"message": …}`.
pub fn error_message(body: &Value) -> Option<String> {
    let error = body.get("error").unwrap_or(body);
    if let Some(text) = error.as_str() {
        return Some(text.to_owned());
    }
    let message = error.get("message").and_then(Value::as_str)?;
    match error.get("type").and_then(Value::as_str) {
        Some(kind) if !message.contains(kind) => Some(format!("{kind}: {message}")),
        _ => Some(message.to_owned()),
    }
}

/// Tools in OpenAI's function-calling shape, which Ollama shares.
fn function_tools(tools: &[ToolDefinition]) -> Value {
    tools
        .iter()
        .map(|tool| {
            serde_json::json!({
                "type": "function",
                "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.parameters,
                }
            })
        })
        .collect()
}

fn u32_field(value: &Value, key: &str) -> Option<u32> {
    value
        .get(key)
        .and_then(Value::as_u64)
        .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// Decodes `body` split into the given chunk sizes, returning events or the first error.
    pub fn decode_in_chunks(
        format: WireFormat,
        body: &str,
        chunk: usize,
    ) -> Result<Vec<StreamEvent>, WireError> {
        let mut decoder = decoder(format);
        let mut events = Vec::new();
        for piece in body.as_bytes().chunks(chunk.max(1)) {
            events.extend(decoder.push(piece)?);
        }
        events.extend(decoder.finish()?);
        Ok(events)
    }

    /// Events rendered one per line, for snapshots.
    pub fn render(events: &[StreamEvent]) -> String {
        events.iter().map(|event| format!("{event:?}\n")).collect()
    }
}
