//! Anthropic's Messages API (`/v1/messages`, `stream: true`): `message_start`,
//! `content_block_start/delta/stop` (text and `tool_use` with `input_json_delta`),
//! `message_delta` (stop reason, usage), `message_stop`, `ping` and `error` events.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::sse::{SseDecoder, SseEvent, SseHandler};
use super::{ToolCallAssembler, WireError, error_message, parse_record, u32_field};
use crate::types::{ChatRequest, FinishReason, Message, Role, StreamEvent, Usage};

/// The API version this module speaks, sent as `anthropic-version`.
pub const API_VERSION: &str = "2023-06-01";

/// Anthropic requires `max_tokens`; this is used when the request leaves it open.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// The JSON body for `request`. System messages become the top-level `system` text, tool
/// results become `tool_result` blocks of a user turn, and consecutive turns of one role are
/// merged, as the API expects strictly alternating roles.
pub fn request_body(request: &ChatRequest) -> Result<Value, String> {
    let system: Vec<&str> = request
        .messages
        .iter()
        .filter(|m| m.role == Role::System)
        .map(|m| m.content.as_str())
        .collect();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for (position, message) in request.messages.iter().enumerate() {
        let (role, blocks) = match message.role {
            Role::System => continue,
            Role::User => ("user", text_block(&message.content)),
            Role::Assistant => ("assistant", assistant_blocks(message)),
            Role::Tool => {
                let id = message.tool_call_id.as_deref().ok_or_else(|| {
                    format!(
                        "message {} is a tool result without a tool_call_id",
                        position + 1
                    )
                })?;
                let block = json!({
                    "type": "tool_result",
                    "tool_use_id": id,
                    "content": message.content,
                });
                ("user", vec![block])
            }
        };
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((last_role, last_blocks)) if *last_role == role => last_blocks.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    if turns.is_empty() {
        return Err("there is no user or assistant message to answer".to_owned());
    }

    let mut body = Map::new();
    body.insert("model".into(), json!(request.model));
    body.insert(
        "max_tokens".into(),
        json!(request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS)),
    );
    if !system.is_empty() {
        body.insert("system".into(), json!(system.join("\n\n")));
    }
    let messages = turns
        .into_iter()
        .map(|(role, content)| json!({"role": role, "content": content}))
        .collect();
    body.insert("messages".into(), Value::Array(messages));
    body.insert("stream".into(), json!(true));
    if let Some(temperature) = request.temperature {
        body.insert("temperature".into(), json!(temperature));
    }
    if !request.stop.is_empty() {
        body.insert("stop_sequences".into(), json!(request.stop));
    }
    if !request.tools.is_empty() {
        let tools = request
            .tools
            .iter()
            .map(|tool| {
                json!({
                    "name": tool.name,
                    "description": tool.description,
                    "input_schema": tool.parameters,
                })
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    Ok(Value::Object(body))
}

/// Anthropic rejects empty text blocks, so empty text yields none.
fn text_block(text: &str) -> Vec<Value> {
    if text.is_empty() {
        Vec::new()
    } else {
        vec![json!({"type": "text", "text": text})]
    }
}

fn assistant_blocks(message: &Message) -> Vec<Value> {
    let mut blocks = text_block(&message.content);
    blocks.extend(message.tool_calls.iter().map(|call| {
        json!({"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments})
    }));
    blocks
}

pub type Decoder = SseDecoder<Events>;

#[derive(Debug, Default)]
pub struct Events {
    tool_calls: ToolCallAssembler,
    /// Content block index → tool call ordinal, for the blocks that are `tool_use`.
    tool_blocks: HashMap<u64, usize>,
    usage: Usage,
    finish_reason: Option<FinishReason>,
    events: usize,
    done: bool,
}

impl SseHandler for Events {
    fn event(&mut self, event: SseEvent, out: &mut Vec<StreamEvent>) -> Result<(), WireError> {
        if self.done {
            return Ok(());
        }
        self.events += 1;
        let record = parse_record(&event.data, &format!("event {}", self.events))?;
        let kind = record
            .get("type")
            .and_then(Value::as_str)
            .or(event.event.as_deref())
            .unwrap_or_default();
        match kind {
            "message_start" => {
                let usage = record.pointer("/message/usage");
                if let Some(usage) = usage {
                    self.update_usage(usage);
                }
            }
            "content_block_start" => {
                let index = block_index(&record, self.events)?;
                let block = record.get("content_block").unwrap_or(&Value::Null);
                match block.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        if let Some(text) = block.get("text").and_then(Value::as_str)
                            && !text.is_empty()
                        {
                            out.push(StreamEvent::TextDelta(text.to_owned()));
                        }
                    }
                    Some("tool_use") => {
                        let ordinal = self.tool_blocks.len();
                        self.tool_blocks.insert(index, ordinal);
                        let delta = self.tool_calls.push(
                            ordinal,
                            block.get("id").and_then(Value::as_str),
                            block.get("name").and_then(Value::as_str),
                            "",
                        );
                        out.push(StreamEvent::ToolCallDelta(delta));
                    }
                    // Thinking and server-side tool blocks are not part of the answer.
                    _ => {}
                }
            }
            "content_block_delta" => {
                let index = block_index(&record, self.events)?;
                let delta = record.get("delta").unwrap_or(&Value::Null);
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => {
                        if let Some(text) = delta.get("text").and_then(Value::as_str)
                            && !text.is_empty()
                        {
                            out.push(StreamEvent::TextDelta(text.to_owned()));
                        }
                    }
                    Some("input_json_delta") => {
                        let ordinal = self.tool_blocks.get(&index).copied().ok_or_else(|| {
                            WireError::Invalid(format!(
                                "event {}: input_json_delta for content block {index}, \
                                 which is not a tool_use block",
                                self.events
                            ))
                        })?;
                        let json = delta
                            .get("partial_json")
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        let delta = self.tool_calls.push(ordinal, None, None, json);
                        out.push(StreamEvent::ToolCallDelta(delta));
                    }
                    _ => {}
                }
            }
            "content_block_stop" => {
                let index = block_index(&record, self.events)?;
                if let Some(&ordinal) = self.tool_blocks.get(&index)
                    && let Some(call) = self.tool_calls.complete(ordinal)
                {
                    out.push(StreamEvent::ToolCall(call?));
                }
            }
            "message_delta" => {
                if let Some(reason) = record.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.finish_reason = Some(stop_reason(reason));
                }
                if let Some(usage) = record.get("usage") {
                    self.update_usage(usage);
                }
            }
            "message_stop" => {
                self.done = true;
                out.extend(
                    self.tool_calls
                        .complete_all()?
                        .into_iter()
                        .map(StreamEvent::ToolCall),
                );
                out.push(StreamEvent::Usage(self.usage));
                let reason = self.finish_reason.take().unwrap_or(FinishReason::Stop);
                out.push(StreamEvent::Finished(reason));
            }
            "error" => {
                let message = error_message(&record).unwrap_or_else(|| super::excerpt(&event.data));
                return Err(WireError::Provider(message));
            }
            // `ping`, and event types added to the API later, carry nothing to act on.
            _ => {}
        }
        Ok(())
    }

    fn end(&mut self, _out: &mut Vec<StreamEvent>) -> Result<(), WireError> {
        Err(WireError::Invalid(format!(
            "the stream ended after {} event(s) without message_stop: the answer is incomplete",
            self.events
        )))
    }

    fn is_done(&self) -> bool {
        self.done
    }
}

impl Events {
    /// `message_start` carries the prompt's tokens; `message_delta` the running output count.
    fn update_usage(&mut self, usage: &Value) {
        if let Some(input) = u32_field(usage, "input_tokens") {
            let cached = u32_field(usage, "cache_read_input_tokens").unwrap_or_default()
                + u32_field(usage, "cache_creation_input_tokens").unwrap_or_default();
            self.usage.prompt_tokens = input.saturating_add(cached);
        }
        if let Some(output) = u32_field(usage, "output_tokens") {
            self.usage.completion_tokens = output;
        }
    }
}

fn block_index(record: &Value, event: usize) -> Result<u64, WireError> {
    record
        .get("index")
        .and_then(Value::as_u64)
        .ok_or_else(|| WireError::Invalid(format!("event {event} has no content block index")))
}

fn stop_reason(reason: &str) -> FinishReason {
    match reason {
        "end_turn" | "stop_sequence" | "pause_turn" => FinishReason::Stop,
        "max_tokens" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::ContentFilter,
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

    const TEXT_AND_TOOL_USE: &str = r#"event: message_start
data: {"type":"message_start","message":{"id":"msg_01","type":"message","role":"assistant","content":[],"model":"claude-3-5-sonnet-20241022","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":472,"output_tokens":2}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Let me check"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" the weather."}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01","name":"get_weather","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Par"}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"is\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}

event: message_stop
data: {"type":"message_stop"}

"#;

    #[test]
    fn text_and_tool_use_blocks_become_deltas_and_a_complete_call() {
        let events =
            decode_in_chunks(WireFormat::AnthropicMessages, TEXT_AND_TOOL_USE, 4096).unwrap();
        expect![[r#"
            TextDelta("Let me check")
            TextDelta(" the weather.")
            ToolCallDelta(ToolCallDelta { index: 0, id: Some("toolu_01"), name: Some("get_weather"), arguments: "" })
            ToolCallDelta(ToolCallDelta { index: 0, id: None, name: None, arguments: "" })
            ToolCallDelta(ToolCallDelta { index: 0, id: None, name: None, arguments: "{\"city\": \"Par" })
            ToolCallDelta(ToolCallDelta { index: 0, id: None, name: None, arguments: "is\"}" })
            ToolCall(ToolCall { id: "toolu_01", name: "get_weather", arguments: Object {"city": String("Paris")} })
            Usage(Usage { prompt_tokens: 472, completion_tokens: 89 })
            Finished(ToolCalls)
        "#]]
        .assert_eq(&render(&events));
    }

    proptest! {
        #[test]
        fn any_chunking_of_the_event_stream_gives_the_same_answer(chunk in 1usize..300) {
            let whole = decode_in_chunks(WireFormat::AnthropicMessages, TEXT_AND_TOOL_USE, usize::MAX).unwrap();
            let pieces = decode_in_chunks(WireFormat::AnthropicMessages, TEXT_AND_TOOL_USE, chunk).unwrap();
            prop_assert_eq!(whole, pieces);
        }
    }

    #[test]
    fn an_error_event_is_a_provider_error_with_its_type() {
        let body = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":1}}}\n\n\
                    event: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}\n\n";
        let err = decode_in_chunks(WireFormat::AnthropicMessages, body, 4096).unwrap_err();
        assert_eq!(
            err,
            WireError::Provider("overloaded_error: Overloaded".into())
        );
    }

    #[test]
    fn a_stream_without_message_stop_is_incomplete() {
        let body = "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n";
        let err = decode_in_chunks(WireFormat::AnthropicMessages, body, 4096).unwrap_err();
        expect!["the stream ended after 1 event(s) without message_stop: the answer is incomplete"]
            .assert_eq(&err.to_string());
    }

    #[test]
    fn system_goes_top_level_and_tool_results_join_one_user_turn() {
        let request = ChatRequest {
            max_tokens: None,
            stop: vec!["END".into()],
            tools: vec![ToolDefinition {
                name: "get_weather".into(),
                description: "Current weather".into(),
                parameters: json!({"type": "object"}),
            }],
            ..ChatRequest::new(
                "claude-3-5-sonnet-latest",
                vec![
                    Message::system("Be brief."),
                    Message::user("Weather in Paris and Rome?"),
                    Message::assistant_tool_calls(
                        "Checking.",
                        vec![
                            ToolCall {
                                id: "toolu_1".into(),
                                name: "get_weather".into(),
                                arguments: json!({"city": "Paris"}),
                            },
                            ToolCall {
                                id: "toolu_2".into(),
                                name: "get_weather".into(),
                                arguments: json!({"city": "Rome"}),
                            },
                        ],
                    ),
                    Message::tool_result("toolu_1", "18 C"),
                    Message::tool_result("toolu_2", "24 C"),
                    Message::user("Which is warmer?"),
                ],
            )
        };
        let expected = json!({
            "model": "claude-3-5-sonnet-latest",
            "max_tokens": 4096,
            "system": "Be brief.",
            "stream": true,
            "stop_sequences": ["END"],
            "tools": [{"name": "get_weather", "description": "Current weather", "input_schema": {"type": "object"}}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Rome?"}]},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Rome"}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18 C"},
                    {"type": "tool_result", "tool_use_id": "toolu_2", "content": "24 C"},
                    {"type": "text", "text": "Which is warmer?"}
                ]}
            ]
        });
        assert_eq!(request_body(&request).unwrap(), expected);
    }

    #[test]
    fn a_tool_result_without_its_call_id_is_refused_with_its_position() {
        let request = ChatRequest::new(
            "claude-3-5-haiku-latest",
            vec![
                Message::user("hi"),
                Message {
                    tool_call_id: None,
                    ..Message::tool_result("x", "result")
                },
            ],
        );
        assert_eq!(
            request_body(&request).unwrap_err(),
            "message 2 is a tool result without a tool_call_id"
        );
    }
}
