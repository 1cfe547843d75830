//! The flow language itself: node types, their fields, and a typed view of a parsed flow.
//!
//! Every check, completion, hover and the formatter's key order read the tables here, so the
//! language is described once.

use std::collections::HashMap;

use crate::expr::{Expr, ExprError};
use crate::syntax::{Json, Value};
use crate::text::TextRange;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeType {
    Entry,
    Llm,
    Tool,
    Rag,
    Vault,
    Condition,
    Reflect,
    Flow,
    Exit,
}

impl NodeType {
    pub const ALL: &[NodeType] = &[
        NodeType::Entry,
        NodeType::Llm,
        NodeType::Tool,
        NodeType::Rag,
        NodeType::Vault,
        NodeType::Condition,
        NodeType::Reflect,
        NodeType::Flow,
        NodeType::Exit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NodeType::Entry => "entry",
            NodeType::Llm => "llm",
            NodeType::Tool => "tool",
            NodeType::Rag => "rag",
            NodeType::Vault => "vault",
            NodeType::Condition => "condition",
            NodeType::Reflect => "reflect",
            NodeType::Flow => "flow",
            NodeType::Exit => "exit",
        }
    }

    pub fn parse(name: &str) -> Option<NodeType> {
        NodeType::ALL.iter().copied().find(|t| t.as_str() == name)
    }

    pub fn doc(self) -> &'static str {
        match self {
            NodeType::Entry => {
                "Where a run starts. Exactly one per flow; `next` names the first node."
            }
            NodeType::Llm => {
                "Calls a language model with `system` and `prompt` (templates). `model` may be a list: a fallback chain, tried in order. `tools` lets the model call the flow's tools."
            }
            NodeType::Tool => {
                "Calls a tool (built-in, from `tools/`, or from an MCP server) with `args`."
            }
            NodeType::Rag => "Retrieves the top `k` chunks of the workspace index for `query`.",
            NodeType::Vault => {
                "Makes a vault secret available to later nodes as `{{vars.<as>}}`. Its value is never printed, logged or traced."
            }
            NodeType::Condition => {
                "Branches: goes to `then` when the `if` expression holds, else to `else`."
            }
            NodeType::Reflect => {
                "A self-feedback loop: re-runs `target` with a critique until `until` holds or `max_iterations` is reached, then goes to `next`."
            }
            NodeType::Flow => {
                "Runs another flow file as a sub-agent and continues with its output."
            }
            NodeType::Exit => {
                "Ends the run. `output` (a template) is the result; without it, the last node's output."
            }
        }
    }

    /// Fields specific to this type, in the order the formatter writes them.
    pub fn fields(self) -> &'static [Field] {
        match self {
            NodeType::Entry => &[],
            NodeType::Llm => LLM_FIELDS,
            NodeType::Tool => TOOL_FIELDS,
            NodeType::Rag => RAG_FIELDS,
            NodeType::Vault => VAULT_FIELDS,
            NodeType::Condition => CONDITION_FIELDS,
            NodeType::Reflect => REFLECT_FIELDS,
            NodeType::Flow => FLOW_FIELDS,
            NodeType::Exit => EXIT_FIELDS,
        }
    }

    /// Whether the node calls out (a model, a tool, the index, another flow) and so may fail
    /// for a while: it takes `retry` and `timeout_ms`.
    pub fn calls_out(self) -> bool {
        matches!(
            self,
            NodeType::Llm | NodeType::Tool | NodeType::Rag | NodeType::Flow
        )
    }

    /// Whether the node continues through `next` (conditions branch, exits end).
    pub fn has_next(self) -> bool {
        !matches!(self, NodeType::Condition | NodeType::Exit)
    }

    /// A field of this node type (common fields included).
    pub fn field(self, name: &str) -> Option<&'static Field> {
        COMMON_FIELDS
            .iter()
            .chain(self.fields())
            .chain(if self.calls_out() { CALL_FIELDS } else { &[] })
            .chain(if self.has_next() { NEXT_FIELD } else { &[] })
            .find(|f| f.name == name)
    }

    /// Every field this node type accepts, in formatter order.
    pub fn all_fields(self) -> impl Iterator<Item = &'static Field> {
        COMMON_FIELDS[..3]
            .iter()
            .chain(self.fields())
            .chain(if self.calls_out() { CALL_FIELDS } else { &[] })
            .chain(if self.has_next() { NEXT_FIELD } else { &[] })
            .chain(&COMMON_FIELDS[3..])
    }
}

/// What a field's value must be, and what it refers to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FieldKind {
    /// A node id, or a list of them (`next`).
    NodeRefs,
    /// Exactly one node id (`then`, `else`, `target`).
    NodeRef,
    NodeId,
    NodeType,
    /// A model name, or a list of them (a fallback chain).
    Models,
    Provider,
    Tool,
    Tools,
    VaultKey,
    /// A string that may hold `{{ }}` templates.
    Template,
    /// A condition over templates (`if`, `until`).
    Expression,
    /// A plain string.
    Text,
    /// A name for a variable (`as`).
    Identifier,
    FlowPath,
    Integer {
        min: i64,
        max: i64,
    },
    Number {
        min: f64,
        max: f64,
    },
    /// An object whose string values are templates (`args`).
    Args,
    Ui,
    /// `retry`: an object of [`RETRY_FIELDS`].
    Retry,
}

#[derive(Debug)]
pub struct Field {
    pub name: &'static str,
    pub kind: FieldKind,
    pub required: bool,
    pub doc: &'static str,
}

const fn field(name: &'static str, kind: FieldKind, required: bool, doc: &'static str) -> Field {
    Field {
        name,
        kind,
        required,
        doc,
    }
}

/// `id`, `type`, `description` come first; `ui` last.
pub const COMMON_FIELDS: &[Field] = &[
    field(
        "id",
        FieldKind::NodeId,
        true,
        "The node's id, unique in the flow: letters, digits, `_`, `-`.",
    ),
    field(
        "type",
        FieldKind::NodeType,
        true,
        "What the node does: entry, llm, tool, rag, vault, condition, reflect, flow or exit.",
    ),
    field(
        "description",
        FieldKind::Text,
        false,
        "A note for people reading the flow.",
    ),
    field(
        "ui",
        FieldKind::Ui,
        false,
        "The visual editor's position of the node (`{\"x\": 0, \"y\": 0}`); the runner ignores it.",
    ),
];

/// The longest `timeout_ms` and `retry.backoff_ms`: an hour, and a minute.
pub const MAX_TIMEOUT_MS: i64 = 3_600_000;
pub const MAX_BACKOFF_MS: i64 = 60_000;

/// Fields of the nodes that call out ([`NodeType::calls_out`]).
const CALL_FIELDS: &[Field] = &[
    field(
        "retry",
        FieldKind::Retry,
        false,
        "Tries the node again when an attempt fails for a passing reason: `{\"attempts\": 3, \"backoff_ms\": 500, \"on\": [\"timeout\", \"rate_limit\", \"server\", \"network\"]}` (those are the defaults). The wait doubles after each failed attempt; every attempt is in the run's trace.",
    ),
    field(
        "timeout_ms",
        FieldKind::Integer {
            min: 1,
            max: MAX_TIMEOUT_MS,
        },
        false,
        "How long one attempt of the node may take, in milliseconds (1 to 3,600,000); a slower attempt is stopped and fails with `timeout` (which `retry` may try again). Without it, only the run's own limits apply.",
    ),
];

/// The members of `retry`.
pub const RETRY_FIELDS: &[Field] = &[
    field(
        "attempts",
        FieldKind::Integer { min: 1, max: 10 },
        false,
        "How many times the node may run in all, the first attempt included (1 to 10, default 3).",
    ),
    field(
        "backoff_ms",
        FieldKind::Integer {
            min: 0,
            max: MAX_BACKOFF_MS,
        },
        false,
        "The wait before the second attempt, in milliseconds (0 to 60,000, default 500); it doubles before each further attempt.",
    ),
    field(
        "on",
        FieldKind::Text,
        false,
        "Which failures are tried again: `timeout`, `rate_limit` (HTTP 429), `server` (HTTP 5xx), `network` (a failed or broken connection), `error` (any other failure, such as a tool reporting an error). Default: all but `error`.",
    ),
];

/// What `retry.on` may list, with what each covers.
pub const RETRY_ON: &[(&str, &str)] = &[
    (
        "timeout",
        "an attempt passed its `timeout_ms`, a tool its time limit, or a provider stalled",
    ),
    ("rate_limit", "the provider answered HTTP 429"),
    ("server", "the provider answered HTTP 5xx"),
    ("network", "the connection could not be made or broke"),
    (
        "error",
        "any other failure: a tool that reports an error, an answer that is not valid",
    ),
];

/// `retry.on` when it is not given: the failures that pass.
pub const DEFAULT_RETRY_ON: &[&str] = &["timeout", "rate_limit", "server", "network"];

/// `retry.attempts` and `retry.backoff_ms` when they are not given.
pub const DEFAULT_RETRY_ATTEMPTS: u32 = 3;
pub const DEFAULT_BACKOFF_MS: u64 = 500;

const NEXT_FIELD: &[Field] = &[field(
    "next",
    FieldKind::NodeRefs,
    false,
    "The node that runs next, or a list of nodes to run in parallel (they join where their paths meet).",
)];

const LLM_FIELDS: &[Field] = &[
    field(
        "model",
        FieldKind::Models,
        true,
        "The model to call, or a list: a fallback chain tried in order. The local model ends every default chain.",
    ),
    field(
        "provider",
        FieldKind::Provider,
        false,
        "Forces a provider (openai, anthropic, ollama, llamacpp, vllm, local) instead of routing by model name.",
    ),
    field(
        "system",
        FieldKind::Template,
        false,
        "The system prompt (a template).",
    ),
    field(
        "prompt",
        FieldKind::Template,
        false,
        "The user prompt (a template); defaults to the previous node's output.",
    ),
    field(
        "temperature",
        FieldKind::Number { min: 0.0, max: 2.0 },
        false,
        "Sampling temperature, 0 to 2.",
    ),
    field(
        "max_tokens",
        FieldKind::Integer {
            min: 1,
            max: 1_000_000,
        },
        false,
        "The most tokens the model may write.",
    ),
    field(
        "tools",
        FieldKind::Tools,
        false,
        "Tools the model may call (function calling).",
    ),
];

const TOOL_FIELDS: &[Field] = &[
    field(
        "tool",
        FieldKind::Tool,
        true,
        "The tool to call: a built-in, one from `tools/`, or one an MCP server offers.",
    ),
    field(
        "args",
        FieldKind::Args,
        false,
        "The tool's arguments, checked against its JSON Schema; string values are templates.",
    ),
];

const RAG_FIELDS: &[Field] = &[
    field(
        "query",
        FieldKind::Template,
        true,
        "What to look for in the workspace index (a template).",
    ),
    field(
        "k",
        FieldKind::Integer { min: 1, max: 100 },
        false,
        "How many chunks to retrieve (default 5).",
    ),
];

const VAULT_FIELDS: &[Field] = &[
    field(
        "key",
        FieldKind::VaultKey,
        true,
        "The vault secret to inject.",
    ),
    field(
        "as",
        FieldKind::Identifier,
        false,
        "The variable later nodes read it as: `{{vars.<as>}}`.",
    ),
];

const CONDITION_FIELDS: &[Field] = &[
    field(
        "if",
        FieldKind::Expression,
        true,
        "The condition: templates compared with `==`, `!=`, `contains`, `matches`, combined with `and`, `or`, `not`.",
    ),
    field(
        "then",
        FieldKind::NodeRef,
        true,
        "The node to run when the condition holds.",
    ),
    field(
        "else",
        FieldKind::NodeRef,
        true,
        "The node to run otherwise.",
    ),
];

const REFLECT_FIELDS: &[Field] = &[
    field(
        "target",
        FieldKind::NodeRef,
        true,
        "The node whose output is critiqued and that is run again with the critique.",
    ),
    field(
        "max_iterations",
        FieldKind::Integer { min: 1, max: 100 },
        true,
        "The most times `target` runs again: the loop's bound.",
    ),
    field(
        "until",
        FieldKind::Expression,
        false,
        "Stops the loop early when it holds.",
    ),
    field(
        "prompt",
        FieldKind::Template,
        false,
        "The critique prompt (a template).",
    ),
    field(
        "model",
        FieldKind::Models,
        false,
        "The model that writes the critique.",
    ),
];

const FLOW_FIELDS: &[Field] = &[
    field(
        "flow",
        FieldKind::FlowPath,
        true,
        "The flow file to run as a sub-agent, relative to this file.",
    ),
    field(
        "input",
        FieldKind::Template,
        false,
        "The sub-agent's input (a template); defaults to the previous node's output.",
    ),
];

const EXIT_FIELDS: &[Field] = &[field(
    "output",
    FieldKind::Template,
    false,
    "The run's result (a template); defaults to the last node's output.",
)];

/// Fields of the flow file itself, in formatter order.
pub const FILE_FIELDS: &[Field] = &[
    field(
        "$schema",
        FieldKind::Text,
        false,
        "The JSON Schema editors validate the file against.",
    ),
    field(
        "id",
        FieldKind::Text,
        true,
        "The flow's id (the `agent_id` of a run).",
    ),
    field(
        "name",
        FieldKind::Text,
        false,
        "A human name, shown in pickers.",
    ),
    field(
        "description",
        FieldKind::Text,
        false,
        "What the flow does, shown in pickers and templates.",
    ),
    field(
        "tags",
        FieldKind::Text,
        false,
        "Tags (a list of strings), for templates and search.",
    ),
    field(
        "nodes",
        FieldKind::Text,
        true,
        "The graph: a list of nodes.",
    ),
];

/// How a node leads to another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EdgeKind {
    Next,
    Then,
    Else,
    Target,
}

/// A reference from a node to another node's id, as written.
#[derive(Clone, Debug)]
pub struct Edge {
    pub kind: EdgeKind,
    pub target: String,
    /// The string's range, quotes included.
    pub range: TextRange,
    /// Between the quotes.
    pub content: TextRange,
}

#[derive(Clone, Debug)]
pub struct Node {
    /// Position in the `nodes` array.
    pub index: usize,
    pub range: TextRange,
    pub id: Option<String>,
    /// The `id` value's range (quotes included) and content.
    pub id_range: Option<TextRange>,
    pub id_content: Option<TextRange>,
    pub ty: Option<NodeType>,
    pub edges: Vec<Edge>,
}

impl Node {
    /// Where findings about the node point: its id, else its `type`, else the whole object.
    pub fn anchor(&self) -> TextRange {
        self.id_range.unwrap_or(self.range)
    }

    pub fn label(&self) -> String {
        match &self.id {
            Some(id) => format!("`{id}`"),
            None => format!("node #{}", self.index + 1),
        }
    }
}

/// An `if` or `until` string of a node, parsed once for the checks and the runner.
#[derive(Clone, Debug)]
pub struct NodeExpression {
    pub node: usize,
    pub field: &'static str,
    /// The string's content in the document (between its quotes; escapes as written).
    pub content: TextRange,
    /// The expression as the runner sees it (escapes decoded).
    pub source: String,
    pub parsed: Result<Expr, ExprError>,
}

/// The typed view of a parsed flow, with the graph resolved to node indices.
#[derive(Clone, Debug, Default)]
pub struct Flow {
    pub nodes: Vec<Node>,
    /// First node for each id.
    pub by_id: HashMap<String, usize>,
    /// For each node, the nodes its edges lead to (unknown ids left out, duplicates removed).
    pub successors: Vec<Vec<usize>>,
    /// Every expression field that holds a string, in node order.
    pub expressions: Vec<NodeExpression>,
}

impl Flow {
    pub fn build(json: &Json) -> Flow {
        let Some(items) = json
            .root
            .as_ref()
            .and_then(|root| root.get("nodes"))
            .and_then(Value::as_array)
        else {
            return Flow::default();
        };
        let nodes: Vec<Node> = items
            .iter()
            .enumerate()
            .map(|(index, value)| read_node(index, value))
            .collect();
        let mut by_id = HashMap::with_capacity(nodes.len());
        for node in &nodes {
            if let Some(id) = &node.id {
                by_id.entry(id.clone()).or_insert(node.index);
            }
        }
        let successors = nodes
            .iter()
            .map(|node| {
                let mut targets: Vec<usize> = node
                    .edges
                    .iter()
                    .filter_map(|edge| by_id.get(&edge.target).copied())
                    .collect();
                targets.sort_unstable();
                targets.dedup();
                targets
            })
            .collect();
        let expressions = nodes
            .iter()
            .zip(items)
            .flat_map(|(node, item)| read_expressions(node, item))
            .collect();
        Flow {
            nodes,
            by_id,
            successors,
            expressions,
        }
    }

    /// The parsed `field` (`if`, `until`) of node `node`, when it is a string.
    pub fn expression(&self, node: usize, field: &str) -> Option<&NodeExpression> {
        self.expressions
            .iter()
            .find(|e| e.node == node && e.field == field)
    }

    pub fn node(&self, id: &str) -> Option<&Node> {
        self.by_id.get(id).map(|&i| &self.nodes[i])
    }

    pub fn node_at(&self, offset: u32) -> Option<&Node> {
        let i = self.nodes.partition_point(|n| n.range.end < offset);
        self.nodes.get(i).filter(|n| n.range.touches(offset))
    }
}

fn read_expressions(node: &Node, item: &Value) -> Vec<NodeExpression> {
    let Some(ty) = node.ty else {
        return Vec::new();
    };
    ty.all_fields()
        .filter(|field| field.kind == FieldKind::Expression)
        .filter_map(|field| {
            let string = item.get(field.name)?.as_string()?;
            Some(NodeExpression {
                node: node.index,
                field: field.name,
                content: string.content,
                source: string.value.clone(),
                parsed: Expr::parse(&string.value),
            })
        })
        .collect()
}

fn read_node(index: usize, value: &Value) -> Node {
    let id_value = value.get("id");
    let id_string = id_value.and_then(Value::as_string);
    let ty = value
        .get("type")
        .and_then(Value::as_str)
        .and_then(NodeType::parse);
    let mut edges = Vec::new();
    for member in value.as_object().unwrap_or_default() {
        let kind = match member.key.name.as_str() {
            "next" => EdgeKind::Next,
            "then" => EdgeKind::Then,
            "else" => EdgeKind::Else,
            "target" => EdgeKind::Target,
            _ => continue,
        };
        let Some(target) = &member.value else {
            continue;
        };
        let targets = match target.as_array() {
            Some(items) if kind == EdgeKind::Next => items,
            _ => std::slice::from_ref(target),
        };
        edges.extend(targets.iter().filter_map(|t| {
            let s = t.as_string()?;
            Some(Edge {
                kind,
                target: s.value.clone(),
                range: t.range,
                content: s.content,
            })
        }));
    }
    Node {
        index,
        range: value.range,
        id: id_string.map(|s| s.value.clone()),
        id_range: id_value
            .filter(|v| v.as_string().is_some())
            .map(|v| v.range),
        id_content: id_string.map(|s| s.content),
        ty,
        edges,
    }
}

/// Whether `name` is a valid node id (and so valid in `{{nodes.<id>.output}}`).
pub fn is_valid_id(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

pub use crate::suggest::closest;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_allow_letters_digits_underscores_and_dashes() {
        assert!(is_valid_id("tool_selector-2"));
        assert!(!is_valid_id("2nd"));
        assert!(!is_valid_id("a b"));
        assert!(!is_valid_id(""));
    }
}
