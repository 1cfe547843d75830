//! Assembles tool calls from their streamed pieces: an id and a name once, then the
//! arguments' JSON text in fragments.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{WireError, excerpt};
use crate::types::{ToolCall, ToolCallDelta};

#[derive(Debug, Default)]
struct PartialCall {
    id: Option<String>,
    name: Option<String>,
    arguments: String,
}

#[derive(Debug, Default)]
pub struct ToolCallAssembler {
    calls: BTreeMap<usize, PartialCall>,
}

impl ToolCallAssembler {
    /// Records a piece of call `index`. The id and name are kept from their first appearance
    /// (some servers repeat them on every piece); argument text is appended.
    pub fn push(
        &mut self,
        index: usize,
        id: Option<&str>,
        name: Option<&str>,
        arguments: &str,
    ) -> ToolCallDelta {
        let call = self.calls.entry(index).or_default();
        let id = id.filter(|id| !id.is_empty());
        let name = name.filter(|name| !name.is_empty());
        if call.id.is_none() {
            call.id = id.map(str::to_owned);
        }
        if call.name.is_none() {
            call.name = name.map(str::to_owned);
        }
        call.arguments.push_str(arguments);
        ToolCallDelta {
            index,
            id: id.map(str::to_owned),
            name: name.map(str::to_owned),
            arguments: arguments.to_owned(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// Completes call `index`, if it was started.
    pub fn complete(&mut self, index: usize) -> Option<Result<ToolCall, WireError>> {
        let call = self.calls.remove(&index)?;
        Some(assemble(index, call))
    }

    /// Completes every call still open, in index order.
    pub fn complete_all(&mut self) -> Result<Vec<ToolCall>, WireError> {
        std::mem::take(&mut self.calls)
            .into_iter()
            .map(|(index, call)| assemble(index, call))
            .collect()
    }
}

fn assemble(index: usize, call: PartialCall) -> Result<ToolCall, WireError> {
    let name = call.name.ok_or_else(|| {
        WireError::Invalid(format!("tool call {index} never received a function name"))
    })?;
    let text = call.arguments.trim();
    let arguments = if text.is_empty() {
        Value::Object(Default::default())
    } else {
        serde_json::from_str(text).map_err(|err| {
            WireError::Invalid(format!(
                "the arguments of tool call `{name}` are not valid JSON ({err}): `{}`",
                excerpt(text)
            ))
        })?
    };
    Ok(ToolCall {
        id: call.id.unwrap_or_else(|| format!("call_{index}")),
        name,
        arguments,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fragments_of_two_interleaved_calls_assemble_in_index_order() {
        let mut calls = ToolCallAssembler::default();
        calls.push(1, Some("call_b"), Some("search"), "");
        calls.push(0, Some("call_a"), Some("read_file"), "{\"pa");
        calls.push(1, None, None, "{\"q\":\"x\"}");
        calls.push(0, None, Some("read_file"), "th\":\"a.rs\"}");
        let done = calls.complete_all().unwrap();
        assert_eq!(
            done,
            vec![
                ToolCall {
                    id: "call_a".into(),
                    name: "read_file".into(),
                    arguments: json!({"path": "a.rs"})
                },
                ToolCall {
                    id: "call_b".into(),
                    name: "search".into(),
                    arguments: json!({"q": "x"})
                },
            ]
        );
    }

    #[test]
    fn a_call_without_arguments_gets_an_empty_object_and_a_made_up_id() {
        let mut calls = ToolCallAssembler::default();
        calls.push(0, None, Some("now"), "");
        let call = calls.complete(0).unwrap().unwrap();
        assert_eq!((call.id.as_str(), call.arguments), ("call_0", json!({})));
    }

    #[test]
    fn truncated_arguments_name_the_tool() {
        let mut calls = ToolCallAssembler::default();
        calls.push(0, Some("c"), Some("write_file"), "{\"path\": \"a");
        let err = calls.complete_all().unwrap_err();
        assert!(
            err.to_string()
                .starts_with("the arguments of tool call `write_file` are not valid JSON"),
            "{err}"
        );
    }
}
