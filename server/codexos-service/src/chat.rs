//! The editor's chat (`codexos.chat`) as a run of the built-in `chat` flow: the last user
//! message is the run's `{{input}}` (what the `rag` node searches for), the conversation before
//! it is the run's `{{context}}`, and the answer comes back with the model that wrote it and the
//! workspace code it was given.

use std::path::Path;

use codexos_agent::{ContextFile, RunRequest, RunResult};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::builtin::{BuiltinFlowError, RunFailed, run_output};
use crate::workspace::Workspace;

/// The built-in flow chat runs.
pub const CHAT_FLOW: &str = "chat";

/// How much of the earlier conversation the model is shown: the most recent messages, at most
/// this many characters in all (small local models have small context windows).
const HISTORY_CHARS: usize = 3000;

/// One message of the conversation, as the editor keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `user`, `assistant` or `system`.
    pub role: String,
    pub content: String,
}

/// Where an answer's context came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatSource {
    pub path: String,
    pub start_line: u32,
    pub end_line: u32,
    pub symbol: String,
}

/// `codexos.chat`'s answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatAnswer {
    pub answer: String,
    /// The model that answered (`provider/model`), which may be a fallback.
    pub model: String,
    pub sources: Vec<ChatSource>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChatError {
    #[error("`messages` has no user message to answer")]
    NoQuestion,
    #[error(transparent)]
    Flow(#[from] BuiltinFlowError),
    #[error("{flow}: cannot set the model: {reason}")]
    Model { flow: String, reason: String },
    #[error(transparent)]
    Run(#[from] RunFailed),
}

impl Workspace {
    /// The run that answers the conversation `messages`: the workspace's `chat` flow (or the
    /// shipped one), every `llm` node set to `model` when one is given.
    pub fn chat_request(
        &self,
        messages: &[ChatMessage],
        model: Option<&str>,
        open_text: &dyn Fn(&Path) -> Option<String>,
    ) -> Result<RunRequest, ChatError> {
        let question = messages
            .iter()
            .rposition(|message| message.role == "user" && !message.content.trim().is_empty())
            .ok_or(ChatError::NoQuestion)?;
        let flow = self.builtin_flow(CHAT_FLOW, open_text)?;
        let flow_text = match model.map(str::trim).filter(|model| !model.is_empty()) {
            Some(model) => with_model(&flow.text, model).map_err(|reason| ChatError::Model {
                flow: flow.path.as_ref().map_or_else(
                    || format!("the built-in `{CHAT_FLOW}` flow"),
                    |path| path.display().to_string(),
                ),
                reason,
            })?,
            None => flow.text,
        };
        let history = history(&messages[..question]);
        Ok(RunRequest {
            flow_text,
            flow_path: flow.path,
            input: messages[question].content.clone(),
            context: (!history.is_empty())
                .then(|| ContextFile {
                    path: "Conversation so far".to_owned(),
                    text: history,
                })
                .into_iter()
                .collect(),
            agent_id: Some("chat".to_owned()),
        })
    }
}

/// The conversation before the question, newest last, cut from the front to [`HISTORY_CHARS`].
fn history(messages: &[ChatMessage]) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut length = 0;
    for message in messages.iter().rev() {
        let speaker = match message.role.as_str() {
            "assistant" => "Assistant",
            "system" => "System",
            _ => "User",
        };
        let line = format!("{speaker}: {}", message.content.trim());
        length += line.len() + 1;
        if length > HISTORY_CHARS && !lines.is_empty() {
            break;
        }
        lines.push(line);
    }
    lines.reverse();
    lines.join("\n")
}

/// `flow_text` with every `llm` node's `model` set to `model`.
pub fn with_model(flow_text: &str, model: &str) -> Result<String, String> {
    let mut flow: Value = serde_json::from_str(flow_text).map_err(|error| error.to_string())?;
    let nodes = flow
        .get_mut("nodes")
        .and_then(Value::as_array_mut)
        .ok_or("it has no `nodes` list")?;
    for node in nodes {
        if node.get("type").and_then(Value::as_str) == Some("llm")
            && let Some(fields) = node.as_object_mut()
        {
            fields.insert("model".to_owned(), Value::String(model.to_owned()));
        }
    }
    serde_json::to_string_pretty(&flow).map_err(|error| error.to_string())
}

/// The answer of a finished chat run: its output, the model of its last `llm` node and its
/// sources (each once). A run that did not succeed is an error that says why.
pub fn chat_answer(result: &RunResult) -> Result<ChatAnswer, ChatError> {
    let output = run_output(result)?;
    let model = result
        .nodes
        .iter()
        .rev()
        .find_map(|node| node.model.clone())
        .unwrap_or_default();
    let mut sources: Vec<ChatSource> = Vec::new();
    for source in &result.sources {
        let source = ChatSource {
            path: source.path.clone(),
            start_line: source.start_line,
            end_line: source.end_line,
            symbol: source.symbol.clone(),
        };
        if !sources.contains(&source) {
            sources.push(source);
        }
    }
    Ok(ChatAnswer {
        answer: output.trim().to_owned(),
        model,
        sources,
    })
}

#[cfg(test)]
mod tests {
    use codexos_agent::{NodeRecord, NodeStatus, Problem, RunStatus, Source, TokenUsage};

    use super::*;

    fn message(role: &str, content: &str) -> ChatMessage {
        ChatMessage {
            role: role.to_owned(),
            content: content.to_owned(),
        }
    }

    fn workspace() -> Workspace {
        Workspace::with_config(Path::new("/nonexistent-ws"), Default::default())
    }

    #[test]
    fn the_last_user_message_is_the_input_and_the_rest_is_the_context() {
        let request = workspace()
            .chat_request(
                &[
                    message("user", "Where are payments retried?"),
                    message("assistant", "In src/payment.rs."),
                    message("user", "  How many times?  "),
                ],
                None,
                &|_| None,
            )
            .expect("a request");
        assert_eq!(request.input, "  How many times?  ");
        assert_eq!(request.flow_path, None);
        assert!(request.flow_text.contains("\"id\": \"chat\""));
        assert_eq!(
            request.context,
            vec![ContextFile {
                path: "Conversation so far".to_owned(),
                text: "User: Where are payments retried?\nAssistant: In src/payment.rs.".to_owned(),
            }]
        );
    }

    #[test]
    fn a_conversation_without_a_question_is_refused() {
        let error = workspace()
            .chat_request(
                &[message("assistant", "Hello!"), message("user", " ")],
                None,
                &|_| None,
            )
            .expect_err("no question");
        assert_eq!(
            error.to_string(),
            "`messages` has no user message to answer"
        );
    }

    #[test]
    fn a_requested_model_replaces_every_llm_nodes_model() {
        let request = workspace()
            .chat_request(&[message("user", "hi")], Some("ollama/llama3.2"), &|_| None)
            .expect("a request");
        let flow: Value = serde_json::from_str(&request.flow_text).expect("json");
        let models: Vec<&Value> = flow["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .filter(|node| node["type"] == "llm")
            .map(|node| &node["model"])
            .collect();
        assert_eq!(models, vec![&Value::from("ollama/llama3.2")]);
    }

    #[test]
    fn long_histories_keep_their_newest_messages() {
        let long = "x".repeat(HISTORY_CHARS / 2);
        let text = history(&[
            message("user", &format!("first {long}")),
            message("assistant", &format!("second {long}")),
            message("user", "third"),
        ]);
        assert!(text.starts_with("Assistant: second"), "{text}");
        assert!(text.ends_with("User: third"));
    }

    fn result(status: RunStatus, output: Option<&str>) -> RunResult {
        let node = |id: &str, model: Option<&str>| NodeRecord {
            id: id.to_owned(),
            node_type: "llm".to_owned(),
            status: NodeStatus::Succeeded,
            output: None,
            error: None,
            runs: 1,
            elapsed_ms: 1,
            model: model.map(str::to_owned),
            usage: TokenUsage::default(),
            sources: Vec::new(),
        };
        let source = |path: &str, symbol: &str| Source {
            path: path.to_owned(),
            start_line: 1,
            end_line: 4,
            symbol: symbol.to_owned(),
        };
        RunResult {
            run_id: "r1".to_owned(),
            flow_id: "chat".to_owned(),
            status,
            output: output.map(str::to_owned),
            nodes: vec![
                node("excerpts", None),
                node("answer", Some("local/default")),
            ],
            usage: TokenUsage::default(),
            errors: vec![Problem {
                node: Some("answer".to_owned()),
                message: "no provider answered".to_owned(),
            }],
            warnings: Vec::new(),
            sources: vec![
                source("src/a.rs", "a"),
                source("src/b.py", ""),
                source("src/a.rs", "a"),
            ],
            elapsed_ms: 5,
            trace: None,
            retry_of: None,
            forked_from: None,
            agent_id: None,
        }
    }

    #[test]
    fn the_answer_names_the_model_and_each_source_once() {
        let answer = chat_answer(&result(
            RunStatus::Succeeded,
            Some(" It retries 3 times.\n"),
        ))
        .expect("an answer");
        assert_eq!(answer.answer, "It retries 3 times.");
        assert_eq!(answer.model, "local/default");
        let sources: Vec<(&str, &str)> = answer
            .sources
            .iter()
            .map(|s| (s.path.as_str(), s.symbol.as_str()))
            .collect();
        assert_eq!(sources, vec![("src/a.rs", "a"), ("src/b.py", "")]);
    }

    #[test]
    fn a_failed_run_is_an_error_with_its_reason() {
        let error = chat_answer(&result(RunStatus::Failed, None)).expect_err("failed");
        assert_eq!(
            error.to_string(),
            "the `chat` run r1 failed: node `answer`: no provider answered"
        );
    }
}
