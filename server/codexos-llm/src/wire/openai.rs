//! OpenAI-compatible chat completions (`/chat/completions`, `stream: true`), as served by
//! OpenAI, vLLM, llama.cpp's server, Ollama's `/v1` and Mistral.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::sse::{SseDecoder, SseEvent, SseHandler};
use super::{ToolCallAssembler, WireError, error_message, function_tools, parse_record, u32_field};
use crate::types::{ChatRequest, FinishReason, Message, Role, StreamEvent, Usage};

/// The body field that carries the token limit. OpenAI's own API wants
/// `max_completion_tokens` (its reasoning models reject `max_tokens`); most compatible servers
/// only know `max_tokens`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum MaxTokensField {
    #[default]
    MaxTokens,
    MaxCompletionTokens,
}

/// The JSON body for `request`.
pub fn request_body(request: &ChatRequest, max_tokens_field: MaxTokensField) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(request.model));
    body.insert(
        "messages".into(),
        request.messages.iter().map(message).collect(),
    );
    body.insert("stream".into(), json!(true));
    body.insert("stream_options".into(), json!({"include_usage": true}));
    if let Some(temperature) = request.temperature {
        body.insert("temperature".into(), json!(temperature));
    }
    if let Some(max_tokens) = request.max_tokens {
        let field = match max_tokens_field {
            MaxTokensField::MaxTokens => "max_tokens",
            MaxTokensField::MaxCompletionTokens => "max_completion_tokens",
        };
        body.insert(field.into(), json!(max_tokens));
    }
    if !request.stop.is_empty() {
        body.insert("stop".into(), json!(request.stop));
    }
    if !request.tools.is_empty() {
        body.insert("tools".into(), function_tools(&request.tools));
    }
    Value::Object(body)
}

fn message(message: &Message) -> Value {
    match message.role {
        Role::System => json!({"role": "system", "content": message.content}),
        Role::User => json!({"role": "user", "content": message.content}),
        Role::Assistant if message.tool_calls.is_empty() => {
            json!({"role": "assistant", "content": message.content})
        }
        Role::Assistant => {
            let calls: Vec<Value> = message
                .tool_calls
                .iter()
                .map(|call| {
                    json!({
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": call.arguments.to_string()},
                    })
                })
                .collect();
            let content = if message.content.is_empty() {
                Value::Null
            } else {
                json!(message.content)
            };
            json!({"role": "assistant", "content": content, "tool_calls": calls})
        }
        Role::Tool => json!({
            "role": "tool",
            "tool_call_id": message.tool_call_id.as_deref().unwrap_or_default(),
            "content": message.content,
        }),
    }
}

/// Decodes `chat.completion.chunk` events. Tool calls are completed, and usage and the finish
/// reason reported, at `[DONE]` (or the end of the body), because with
/// `stream_options.include_usage` the usage arrives in its own chunk after the finish reason.
pub type Decoder = SseDecoder<Chunks>;

#[derive(Debug, Default)]
pub struct Chunks {
    tool_calls: ToolCallAssembler,
    finish_reason: Option<FinishReason>,
    usage: Option<Usage>,
    chunks: usize,
    done: bool,
}

impl SseHandler for Chunks {
    fn event(&mut self, event: SseEvent, out: &mut Vec<StreamEvent>) -> Result<(), WireError> {
        if self.done {
            return Ok(());
        }
        if event.data.trim() == "[DONE]" {
            return self.close(out, true);
        }
        self.chunks += 1;
        let chunk = parse_record(&event.data, &format!("chunk {}", self.chunks))?;
        if chunk.get("error").is_some() || event.event.as_deref() == Some("error") {
            let message = error_message(&chunk).unwrap_or_else(|| super::excerpt(&event.data));
            return Err(WireError::Provider(message));
        }
        if let Some(usage) = chunk.get("usage").filter(|usage| usage.is_object()) {
            self.usage = Some(Usage {
                prompt_tokens: u32_field(usage, "prompt_tokens").unwrap_or_default(),
                completion_tokens: u32_field(usage, "completion_tokens").unwrap_or_default(),
            });
        }
        let Some(choice) = chunk
            .get("choices")
            .and_then(Value::as_array)
            .and_then(|choices| choices.first())
        else {
            return Ok(());
        };
        if let Some(delta) = choice.get("delta") {
            if let Some(text) = delta.get("content").and_then(Value::as_str)
                && !text.is_empty()
            {
                out.push(StreamEvent::TextDelta(text.to_owned()));
            }
            let calls = delta.get("tool_calls").and_then(Value::as_array);
            for (position, call) in calls.into_iter().flatten().enumerate() {
                let index = call
                    .get("index")
                    .and_then(Value::as_u64)
                    .map_or(position, |index| index as usize);
                let function = call.get("function");
                let delta = self.tool_calls.push(
                    index,
                    call.get("id").and_then(Value::as_str),
                    function.and_then(|f| f.get("name")).and_then(Value::as_str),
                    function
                        .and_then(|f| f.get("arguments"))
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                );
                out.push(StreamEvent::ToolCallDelta(delta));
            }
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish_reason = Some(finish_reason(reason));
        }
        Ok(())
    }

    fn end(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), WireError> {
        self.close(out, false)
    }

    fn is_done(&self) -> bool {
        self.done
    }
}

impl Chunks {
    /// Emits the closing events. `explicit` is true at `[DONE]`, which ends the answer even
    /// when a lax server sent no finish reason.
    fn close(&mut self, out: &mut Vec<StreamEvent>, explicit: bool) -> Result<(), WireError> {
        let reason = match self.finish_reason.take() {
            Some(reason) => reason,
            None if explicit && self.tool_calls.is_empty() => FinishReason::Stop,
            None if explicit => FinishReason::ToolCalls,
            None => {
                return Err(WireError::Invalid(format!(
                    "the stream ended after {} chunk(s) without a finish_reason or [DONE]: \
                     the answer is incomplete",
                    self.chunks
                )));
            }
        };
        self.done = true;
        out.extend(
            self.tool_calls
                .complete_all()?
                .into_iter()
                .map(StreamEvent::ToolCall),
        );
        out.extend(self.usage.take().map(StreamEvent::Usage));
        out.push(StreamEvent::Finished(reason));
        Ok(())
    }
}

fn finish_reason(reason: &str) -> FinishReason {
    match reason {
        "stop" => FinishReason::Stop,
        "length" => FinishReason::Length,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        "content_filter" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use expect_test::expect;
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::types::{ToolCall, ToolDefinition};
    use crate::wire::WireFormat;
    use crate::wire::test_support::{decode_in_chunks, render};

    const TEXT_AND_USAGE: &str = r#"data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":"Hel"},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":"lo ✓"},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_1","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}

data: [DONE]

"#;

    const TOOL_CALLS: &str = r#"data: {"id":"chatcmpl-2","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_abc","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}

data: {"id":"chatcmpl-2","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"ci"}}]},"finish_reason":null}]}

data: {"id":"chatcmpl-2","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ty\": \"Paris\"}"}}]},"finish_reason":null}]}

data: {"id":"chatcmpl-2","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_def","type":"function","function":{"name":"now","arguments":"{}"}}]},"finish_reason":null}]}

data: {"id":"chatcmpl-2","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}

data: [DONE]

"#;

    #[test]
    fn text_deltas_usage_and_finish_come_out_in_order() {
        let events = decode_in_chunks(WireFormat::OpenAiChat, TEXT_AND_USAGE, 4096).unwrap();
        expect![[r#"
            TextDelta("Hel")
            TextDelta("lo ✓")
            Usage(Usage { prompt_tokens: 12, completion_tokens: 3 })
            Finished(Stop)
        "#]]
        .assert_eq(&render(&events));
    }

    #[test]
    fn tool_call_deltas_are_assembled_into_complete_calls() {
        let events = decode_in_chunks(WireFormat::OpenAiChat, TOOL_CALLS, 4096).unwrap();
        expect![[r#"
            ToolCallDelta(ToolCallDelta { index: 0, id: Some("call_abc"), name: Some("get_weather"), arguments: "" })
            ToolCallDelta(ToolCallDelta { index: 0, id: None, name: None, arguments: "{\"ci" })
            ToolCallDelta(ToolCallDelta { index: 0, id: None, name: None, arguments: "ty\": \"Paris\"}" })
            ToolCallDelta(ToolCallDelta { index: 1, id: Some("call_def"), name: Some("now"), arguments: "{}" })
            ToolCall(ToolCall { id: "call_abc", name: "get_weather", arguments: Object {"city": String("Paris")} })
            ToolCall(ToolCall { id: "call_def", name: "now", arguments: Object {} })
            Finished(ToolCalls)
        "#]]
        .assert_eq(&render(&events));
    }

    proptest! {
        #[test]
        fn any_chunking_of_the_stream_gives_the_same_events(chunk in 1usize..200) {
            let whole = decode_in_chunks(WireFormat::OpenAiChat, TOOL_CALLS, usize::MAX).unwrap();
            let pieces = decode_in_chunks(WireFormat::OpenAiChat, TOOL_CALLS, chunk).unwrap();
            let complete = |events: &[StreamEvent]| events.iter().filter(|e| !matches!(e, StreamEvent::ToolCallDelta(_))).cloned().collect::<Vec<_>>();
            prop_assert_eq!(complete(&whole), complete(&pieces));
        }
    }

    #[test]
    fn a_chunk_that_is_not_json_is_named_by_its_number() {
        let body =
            "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"choices\": [tru\n\n";
        let err = decode_in_chunks(WireFormat::OpenAiChat, body, 4096).unwrap_err();
        expect![[r#"chunk 2 is not valid JSON (EOF while parsing a value at line 1 column 16): `{"choices": [tru`"#]]
            .assert_eq(&err.to_string());
    }

    #[test]
    fn an_error_object_in_the_stream_is_a_provider_error() {
        let body = "data: {\"error\":{\"message\":\"The server is overloaded\",\"type\":\"server_error\"}}\n\n";
        let err = decode_in_chunks(WireFormat::OpenAiChat, body, 4096).unwrap_err();
        assert_eq!(
            err,
            WireError::Provider("server_error: The server is overloaded".into())
        );
    }

    #[test]
    fn a_stream_cut_before_its_finish_is_incomplete() {
        let body =
            "data: {\"choices\":[{\"delta\":{\"content\":\"a\"},\"finish_reason\":null}]}\n\n";
        let err = decode_in_chunks(WireFormat::OpenAiChat, body, 4096).unwrap_err();
        expect!["the stream ended after 1 chunk(s) without a finish_reason or [DONE]: the answer is incomplete"]
            .assert_eq(&err.to_string());
    }

    #[test]
    fn the_request_body_carries_roles_tools_and_tool_results() {
        let mut request = ChatRequest::new(
            "gpt-4o",
            vec![
                Message::system("Be brief."),
                Message::user("Weather in Paris?"),
                Message::assistant_tool_calls(
                    "",
                    vec![ToolCall {
                        id: "call_1".into(),
                        name: "get_weather".into(),
                        arguments: json!({"city": "Paris"}),
                    }],
                ),
                Message::tool_result("call_1", "18 C"),
            ],
        );
        request.temperature = Some(0.5);
        request.max_tokens = Some(100);
        request.stop = vec!["END".into()];
        request.tools = vec![ToolDefinition {
            name: "get_weather".into(),
            description: "Current weather".into(),
            parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}}),
        }];
        let body = request_body(&request, MaxTokensField::MaxCompletionTokens);
        let expected = json!({
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": null, "tool_calls": [{
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}
                }]},
                {"role": "tool", "tool_call_id": "call_1", "content": "18 C"}
            ],
            "stream": true,
            "stream_options": {"include_usage": true},
            "temperature": 0.5,
            "max_completion_tokens": 100,
            "stop": ["END"],
            "tools": [{
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Current weather",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}
                }
            }]
        });
        assert_eq!(body, expected);
    }
}
