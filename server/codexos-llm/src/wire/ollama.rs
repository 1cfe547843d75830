//! Ollama's native chat API (`/api/chat`): one JSON object per line, `done: true` on the last.
//! Tool calls arrive whole (arguments as an object), without ids.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::lines::LineFramer;
use super::{StreamDecoder, WireError, error_message, function_tools, parse_record, u32_field};
use crate::types::{ChatRequest, FinishReason, Role, StreamEvent, ToolCall, ToolCallDelta, Usage};

/// The JSON body for `request`.
pub fn request_body(request: &ChatRequest) -> Value {
    let mut tool_names: HashMap<&str, &str> = HashMap::new();
    let mut messages = Vec::new();
    for message in &request.messages {
        let role = match message.role {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        };
        let mut out = json!({"role": role, "content": message.content});
        if !message.tool_calls.is_empty() {
            let calls: Vec<Value> = message
                .tool_calls
                .iter()
                .map(|call| {
                    tool_names.insert(&call.id, &call.name);
                    json!({"function": {"name": call.name, "arguments": call.arguments}})
                })
                .collect();
            out["tool_calls"] = Value::Array(calls);
        }
        // Ollama matches results to calls by tool name, since its calls have no ids.
        if let Some(name) = message
            .tool_call_id
            .as_deref()
            .and_then(|id| tool_names.get(id))
        {
            out["tool_name"] = json!(name);
        }
        messages.push(out);
    }

    let mut options = Map::new();
    if let Some(temperature) = request.temperature {
        options.insert("temperature".into(), json!(temperature));
    }
    if let Some(max_tokens) = request.max_tokens {
        options.insert("num_predict".into(), json!(max_tokens));
    }
    if !request.stop.is_empty() {
        options.insert("stop".into(), json!(request.stop));
    }

    let mut body = Map::new();
    body.insert("model".into(), json!(request.model));
    body.insert("messages".into(), Value::Array(messages));
    body.insert("stream".into(), json!(true));
    if !options.is_empty() {
        body.insert("options".into(), Value::Object(options));
    }
    if !request.tools.is_empty() {
        body.insert("tools".into(), function_tools(&request.tools));
    }
    Value::Object(body)
}

#[derive(Debug, Default)]
pub struct Decoder {
    framer: LineFramer,
    tool_calls: usize,
    done: bool,
}

impl Decoder {
    fn line(
        &mut self,
        number: usize,
        line: &str,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), WireError> {
        if self.done {
            return Ok(());
        }
        let record = parse_record(line, &format!("line {number}"))?;
        if record.get("error").is_some() {
            let message = error_message(&record).unwrap_or_else(|| super::excerpt(line));
            return Err(WireError::Provider(message));
        }
        let Some(done) = record.get("done").and_then(Value::as_bool) else {
            return Err(WireError::Invalid(format!(
                "line {number} is not an Ollama chat chunk (no `done` field): `{}`",
                super::excerpt(line)
            )));
        };
        let message = record.get("message").unwrap_or(&Value::Null);
        if let Some(text) = message.get("content").and_then(Value::as_str)
            && !text.is_empty()
        {
            out.push(StreamEvent::TextDelta(text.to_owned()));
        }
        let calls = message.get("tool_calls").and_then(Value::as_array);
        for call in calls.into_iter().flatten() {
            let call = self.tool_call(number, call)?;
            out.push(StreamEvent::ToolCallDelta(ToolCallDelta {
                index: self.tool_calls,
                id: Some(call.id.clone()),
                name: Some(call.name.clone()),
                arguments: call.arguments.to_string(),
            }));
            out.push(StreamEvent::ToolCall(call));
            self.tool_calls += 1;
        }
        if done {
            self.done = true;
            out.push(StreamEvent::Usage(Usage {
                prompt_tokens: u32_field(&record, "prompt_eval_count").unwrap_or_default(),
                completion_tokens: u32_field(&record, "eval_count").unwrap_or_default(),
            }));
            let reason = match record.get("done_reason").and_then(Value::as_str) {
                // Ollama says `stop` when the turn ends with tool calls.
                _ if self.tool_calls > 0 => FinishReason::ToolCalls,
                None | Some("stop") => FinishReason::Stop,
                Some("length") => FinishReason::Length,
                Some(other) => FinishReason::Other(other.to_owned()),
            };
            out.push(StreamEvent::Finished(reason));
        }
        Ok(())
    }

    fn tool_call(&self, line: usize, call: &Value) -> Result<ToolCall, WireError> {
        let function = call.get("function").unwrap_or(&Value::Null);
        let name = function
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                WireError::Invalid(format!("line {line}: a tool call has no function name"))
            })?;
        let arguments = match function.get("arguments") {
            None | Some(Value::Null) => json!({}),
            Some(Value::String(text)) => serde_json::from_str(text).map_err(|err| {
                WireError::Invalid(format!(
                    "line {line}: the arguments of tool call `{name}` are not valid JSON ({err})"
                ))
            })?,
            Some(value) => value.clone(),
        };
        let id = call
            .get("id")
            .and_then(Value::as_str)
            .map_or_else(|| format!("call_{}", self.tool_calls), str::to_owned);
        Ok(ToolCall {
            id,
            name: name.to_owned(),
            arguments,
        })
    }
}

impl StreamDecoder for Decoder {
    fn push(&mut self, bytes: &[u8]) -> Result<Vec<StreamEvent>, WireError> {
        let mut out = Vec::new();
        for (number, line) in self.framer.push(bytes)? {
            self.line(number, &line, &mut out)?;
        }
        Ok(out)
    }

    fn finish(&mut self) -> Result<Vec<StreamEvent>, WireError> {
        let mut out = Vec::new();
        for (number, line) in self.framer.finish()? {
            self.line(number, &line, &mut out)?;
        }
        if !self.done {
            return Err(WireError::Invalid(
                "the stream ended without a `\"done\": true` line: the answer is incomplete"
                    .to_owned(),
            ));
        }
        Ok(out)
    }

    fn is_done(&self) -> bool {
        self.done
    }
}

#[cfg(test)]
mod tests {
    use expect_test::expect;
    use serde_json::json;

    use super::*;
    use crate::types::Message;
    use crate::wire::WireFormat;
    use crate::wire::test_support::{decode_in_chunks, render};

    const TEXT: &str = r#"{"model":"llama3.2","created_at":"2024-08-04T08:52:19.385406455-07:00","message":{"role":"assistant","content":"The"},"done":false}
{"model":"llama3.2","created_at":"2024-08-04T08:52:19.385406455-07:00","message":{"role":"assistant","content":" sky"},"done":false}
{"model":"llama3.2","created_at":"2024-08-04T19:22:45.499127Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","total_duration":4883583458,"load_duration":1334875,"prompt_eval_count":26,"prompt_eval_duration":342546000,"eval_count":2,"eval_duration":4535599000}
"#;

    const TOOL_CALL: &str = r#"{"model":"llama3.2","created_at":"2024-08-04T08:52:19Z","message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"get_weather","arguments":{"city":"Tokyo"}}}]},"done":false}
{"model":"llama3.2","created_at":"2024-08-04T08:52:19Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":90,"eval_count":18}
"#;

    #[test]
    fn text_lines_become_deltas_and_the_done_line_usage() {
        let events = decode_in_chunks(WireFormat::OllamaChat, TEXT, 7).unwrap();
        expect![[r#"
            TextDelta("The")
            TextDelta(" sky")
            Usage(Usage { prompt_tokens: 26, completion_tokens: 2 })
            Finished(Stop)
        "#]]
        .assert_eq(&render(&events));
    }

    #[test]
    fn whole_tool_calls_get_ids_and_finish_as_tool_calls() {
        let events = decode_in_chunks(WireFormat::OllamaChat, TOOL_CALL, 4096).unwrap();
        expect![[r#"
            ToolCallDelta(ToolCallDelta { index: 0, id: Some("call_0"), name: Some("get_weather"), arguments: "{\"city\":\"Tokyo\"}" })
            ToolCall(ToolCall { id: "call_0", name: "get_weather", arguments: Object {"city": String("Tokyo")} })
            Usage(Usage { prompt_tokens: 90, completion_tokens: 18 })
            Finished(ToolCalls)
        "#]]
        .assert_eq(&render(&events));
    }

    #[test]
    fn an_error_line_is_a_provider_error() {
        let body = "{\"error\":\"model 'llama9' not found, try pulling it first\"}\n";
        let err = decode_in_chunks(WireFormat::OllamaChat, body, 4096).unwrap_err();
        assert_eq!(
            err,
            WireError::Provider("model 'llama9' not found, try pulling it first".into())
        );
    }

    #[test]
    fn a_line_that_is_not_json_is_named_by_its_number() {
        let body = "{\"message\":{\"content\":\"a\"},\"done\":false}\n<html>\n";
        let err = decode_in_chunks(WireFormat::OllamaChat, body, 4096).unwrap_err();
        expect!["line 2 is not valid JSON (expected value at line 1 column 1): `<html>`"]
            .assert_eq(&err.to_string());
    }

    #[test]
    fn tool_results_carry_the_name_of_the_call_they_answer() {
        let mut request = ChatRequest::new(
            "llama3.2",
            vec![
                Message::user("Weather?"),
                Message::assistant_tool_calls(
                    "",
                    vec![ToolCall {
                        id: "call_0".into(),
                        name: "get_weather".into(),
                        arguments: json!({"city": "Tokyo"}),
                    }],
                ),
                Message::tool_result("call_0", "21 C"),
            ],
        );
        request.max_tokens = Some(64);
        request.temperature = Some(0.0);
        let expected = json!({
            "model": "llama3.2",
            "stream": true,
            "options": {"temperature": 0.0, "num_predict": 64},
            "messages": [
                {"role": "user", "content": "Weather?"},
                {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Tokyo"}}}]},
                {"role": "tool", "content": "21 C", "tool_name": "get_weather"}
            ]
        });
        assert_eq!(request_body(&request), expected);
    }
}
