//! A checked flow compiled for running: every node's fields typed, references resolved to
//! indices, expressions taken as `codexos-flow` parsed them for its checks, and which nodes each
//! node can reach (for joins).

use std::collections::HashMap;
use std::time::Duration;

use codexos_flow::model::{
    DEFAULT_BACKOFF_MS, DEFAULT_RETRY_ATTEMPTS, DEFAULT_RETRY_ON, Flow, MAX_BACKOFF_MS,
    MAX_TIMEOUT_MS, NodeType,
};
use codexos_flow::{Catalog, Encoding, FlowFile, LineIndex, Severity};
use serde_json::Value;

use crate::expr::Expr;

/// Why a flow cannot run: the checks found errors, or a field the checks accept is unusable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowProblem {
    /// `line:column` (one-based), when the problem has a place in the file.
    pub position: Option<(u32, u32)>,
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for FlowProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some((line, column)) = self.position {
            write!(f, "{line}:{column}: ")?;
        }
        write!(f, "error[{}]: {}", self.code, self.message)
    }
}

#[derive(Clone, Debug)]
pub struct LlmSpec {
    /// The chain: the first model, then its fallbacks.
    pub models: Vec<String>,
    pub system: Option<String>,
    pub prompt: Option<String>,
    pub temperature: Option<f32>,
    pub max_tokens: Option<u32>,
    pub tools: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct ReflectSpec {
    pub target: usize,
    pub max_iterations: u32,
    /// The source of `until`, for error messages, and its parse.
    pub until: Option<(String, Expr)>,
    pub prompt: Option<String>,
    pub models: Vec<String>,
}

#[derive(Clone, Debug)]
pub enum NodeKind {
    Entry,
    Llm(LlmSpec),
    Tool {
        tool: String,
        args: Value,
    },
    Rag {
        query: String,
        k: usize,
    },
    Vault {
        key: String,
        var: Option<String>,
    },
    Condition {
        source: String,
        expr: Expr,
        then: usize,
        otherwise: usize,
    },
    Reflect(ReflectSpec),
    Flow {
        path: String,
        input: Option<String>,
    },
    Exit {
        output: Option<String>,
    },
}

/// The kinds of failure a node's `retry.on` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryOn {
    Timeout,
    RateLimit,
    Server,
    Network,
    /// Any other failure.
    Error,
}

impl RetryOn {
    pub fn parse(name: &str) -> Option<RetryOn> {
        Some(match name {
            "timeout" => RetryOn::Timeout,
            "rate_limit" => RetryOn::RateLimit,
            "server" => RetryOn::Server,
            "network" => RetryOn::Network,
            "error" => RetryOn::Error,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RetryOn::Timeout => "timeout",
            RetryOn::RateLimit => "rate_limit",
            RetryOn::Server => "server",
            RetryOn::Network => "network",
            RetryOn::Error => "error",
        }
    }
}

/// How a node is tried: how many attempts, the wait between them, which failures earn another,
/// and how long each may take. A node without `retry` has one attempt.
#[derive(Clone, Debug, PartialEq)]
pub struct CallPolicy {
    pub attempts: u32,
    /// The wait before the second attempt; it doubles before each further one.
    pub backoff: Duration,
    pub on: Vec<RetryOn>,
    pub timeout: Option<Duration>,
}

impl Default for CallPolicy {
    fn default() -> CallPolicy {
        CallPolicy {
            attempts: 1,
            backoff: Duration::ZERO,
            on: Vec::new(),
            timeout: None,
        }
    }
}

impl CallPolicy {
    /// The wait after failed attempt `attempt` (one-based): `backoff`, doubled each time, at
    /// most the longest `backoff_ms`.
    pub fn wait_after(&self, attempt: u32) -> Duration {
        let doubled = self
            .backoff
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        doubled.min(Duration::from_millis(MAX_BACKOFF_MS as u64))
    }
}

#[derive(Clone, Debug)]
pub struct NodeSpec {
    pub id: String,
    pub ty: NodeType,
    pub kind: NodeKind,
    /// Where the walk goes after this node (conditions choose one of `then`/`else` instead).
    pub next: Vec<usize>,
    /// `retry` and `timeout_ms` (nodes that call out).
    pub call: CallPolicy,
}

/// A runnable flow.
#[derive(Clone, Debug)]
pub struct Graph {
    pub flow_id: String,
    pub nodes: Vec<NodeSpec>,
    pub entry: usize,
    pub by_id: HashMap<String, usize>,
    /// For each node, a bitset of the nodes reachable from it by one or more control edges.
    reach: Vec<Vec<u64>>,
}

impl Graph {
    /// Checks `file` as `codexos check` does and compiles it; any error finding, bad expression
    /// or unusable field is a problem and nothing runs.
    pub fn compile(file: &FlowFile, catalog: &dyn Catalog) -> Result<Graph, Vec<FlowProblem>> {
        let lines = LineIndex::new(file.text());
        let problems: Vec<FlowProblem> = file
            .findings(catalog)
            .into_iter()
            .filter(|finding| finding.severity == Severity::Error)
            .map(|finding| {
                let at = lines.line_col(file.text(), finding.range.start, Encoding::Utf16);
                FlowProblem {
                    position: Some((at.line + 1, at.col + 1)),
                    code: finding.code.to_string(),
                    message: finding.message,
                }
            })
            .collect();
        if !problems.is_empty() {
            return Err(problems);
        }
        let root: Value = serde_json::from_str(file.text()).map_err(|error| {
            vec![FlowProblem {
                position: Some((error.line() as u32, error.column() as u32)),
                code: "invalid-json".to_owned(),
                message: error.to_string(),
            }]
        })?;
        let flow_id = root
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let items = root
            .get("nodes")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut by_id = HashMap::new();
        for (index, item) in items.iter().enumerate() {
            if let Some(id) = item.get("id").and_then(Value::as_str) {
                by_id.entry(id.to_owned()).or_insert(index);
            }
        }
        let mut problems = Vec::new();
        let mut nodes = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let reader = NodeReader {
                item,
                index,
                flow: file.flow(),
                id: item
                    .get("id")
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("#{}", index + 1), str::to_owned),
                by_id: &by_id,
            };
            match reader.read() {
                Ok(node) => nodes.push(node),
                Err(problem) => problems.push(problem),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let entries: Vec<usize> = nodes
            .iter()
            .enumerate()
            .filter(|(_, node)| node.ty == NodeType::Entry)
            .map(|(index, _)| index)
            .collect();
        let [entry] = entries[..] else {
            return Err(vec![FlowProblem {
                position: None,
                code: "missing-entry".to_owned(),
                message: "the flow needs exactly one `entry` node".to_owned(),
            }]);
        };
        let reach = reachability(&nodes);
        Ok(Graph {
            flow_id,
            nodes,
            entry,
            by_id,
            reach,
        })
    }

    /// Where control may go from `node`: `next`, or a condition's two branches.
    pub fn control_edges(&self, node: usize) -> Vec<usize> {
        control_edges(&self.nodes[node])
    }

    /// Whether `to` can be reached from `from` by following one or more control edges.
    pub fn reaches(&self, from: usize, to: usize) -> bool {
        self.reach[from][to / 64] & (1 << (to % 64)) != 0
    }

    pub fn index(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }
}

fn control_edges(node: &NodeSpec) -> Vec<usize> {
    match &node.kind {
        NodeKind::Condition {
            then, otherwise, ..
        } => vec![*then, *otherwise],
        _ => node.next.clone(),
    }
}

/// A bitset per node of what it reaches: one depth-first search per node. Flows are small
/// (hundreds of nodes); a 1,000-node chain takes well under a millisecond.
fn reachability(nodes: &[NodeSpec]) -> Vec<Vec<u64>> {
    let words = nodes.len().div_ceil(64);
    let edges: Vec<Vec<usize>> = nodes.iter().map(control_edges).collect();
    let mut reach = vec![vec![0u64; words]; nodes.len()];
    let mut stack: Vec<usize> = Vec::new();
    for (start, bits) in reach.iter_mut().enumerate() {
        stack.extend(&edges[start]);
        while let Some(node) = stack.pop() {
            let (word, bit) = (node / 64, 1u64 << (node % 64));
            if bits[word] & bit == 0 {
                bits[word] |= bit;
                stack.extend(&edges[node]);
            }
        }
    }
    reach
}

struct NodeReader<'a> {
    item: &'a Value,
    index: usize,
    flow: &'a Flow,
    id: String,
    by_id: &'a HashMap<String, usize>,
}

impl NodeReader<'_> {
    fn problem(&self, field: &str, message: impl Into<String>) -> FlowProblem {
        FlowProblem {
            position: None,
            code: "schema".to_owned(),
            message: format!("node `{}`, `{field}`: {}", self.id, message.into()),
        }
    }

    fn string(&self, field: &str) -> Option<String> {
        self.item
            .get(field)
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    fn required_string(&self, field: &str) -> Result<String, FlowProblem> {
        self.string(field)
            .ok_or_else(|| self.problem(field, "a string is required"))
    }

    fn node_ref(&self, field: &str) -> Result<usize, FlowProblem> {
        let target = self.required_string(field)?;
        self.by_id
            .get(&target)
            .copied()
            .ok_or_else(|| self.problem(field, format!("no node has the id `{target}`")))
    }

    fn strings(&self, field: &str) -> Vec<String> {
        match self.item.get(field) {
            Some(Value::String(one)) => vec![one.clone()],
            Some(Value::Array(many)) => many
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The expression the checks parsed: one that does not parse is an error finding, so a
    /// flow that got this far has none.
    fn expression(&self, field: &str) -> Result<Option<(String, Expr)>, FlowProblem> {
        let Some(expression) = self.flow.expression(self.index, field) else {
            return Ok(None);
        };
        match &expression.parsed {
            Ok(expr) => Ok(Some((expression.source.clone(), expr.clone()))),
            Err(error) => Err(FlowProblem {
                position: None,
                code: "invalid-expression".to_owned(),
                message: format!("node `{}`, `{field}` {error}", self.id),
            }),
        }
    }

    fn read(&self) -> Result<NodeSpec, FlowProblem> {
        let ty = self
            .string("type")
            .as_deref()
            .and_then(NodeType::parse)
            .ok_or_else(|| self.problem("type", "not a node type"))?;
        let mut next = Vec::new();
        for target in self.strings("next") {
            match self.by_id.get(&target) {
                Some(&index) if !next.contains(&index) => next.push(index),
                Some(_) => {}
                None => {
                    return Err(self.problem("next", format!("no node has the id `{target}`")));
                }
            }
        }
        let kind = match ty {
            NodeType::Entry => NodeKind::Entry,
            NodeType::Llm => NodeKind::Llm(LlmSpec {
                models: self.models(),
                system: self.string("system"),
                prompt: self.string("prompt"),
                temperature: self
                    .item
                    .get("temperature")
                    .and_then(Value::as_f64)
                    .map(|t| t as f32),
                max_tokens: self
                    .item
                    .get("max_tokens")
                    .and_then(Value::as_u64)
                    .map(|n| n.min(u64::from(u32::MAX)) as u32),
                tools: self.strings("tools"),
            }),
            NodeType::Tool => NodeKind::Tool {
                tool: self.required_string("tool")?,
                args: self
                    .item
                    .get("args")
                    .cloned()
                    .unwrap_or_else(|| Value::Object(Default::default())),
            },
            NodeType::Rag => NodeKind::Rag {
                query: self.required_string("query")?,
                k: self
                    .item
                    .get("k")
                    .and_then(Value::as_u64)
                    .map_or(5, |k| k.clamp(1, 100) as usize),
            },
            NodeType::Vault => NodeKind::Vault {
                key: self.required_string("key")?,
                var: self.string("as"),
            },
            NodeType::Condition => {
                let Some((source, expr)) = self.expression("if")? else {
                    return Err(self.problem("if", "an expression is required"));
                };
                NodeKind::Condition {
                    source,
                    expr,
                    then: self.node_ref("then")?,
                    otherwise: self.node_ref("else")?,
                }
            }
            NodeType::Reflect => NodeKind::Reflect(ReflectSpec {
                target: self.node_ref("target")?,
                max_iterations: self
                    .item
                    .get("max_iterations")
                    .and_then(Value::as_u64)
                    .map(|n| n.clamp(1, 100) as u32)
                    .ok_or_else(|| self.problem("max_iterations", "a number from 1 to 100"))?,
                until: self.expression("until")?,
                prompt: self.string("prompt"),
                models: self.strings("model"),
            }),
            NodeType::Flow => NodeKind::Flow {
                path: self.required_string("flow")?,
                input: self.string("input"),
            },
            NodeType::Exit => NodeKind::Exit {
                output: self.string("output"),
            },
        };
        Ok(NodeSpec {
            id: self.id.clone(),
            ty,
            kind,
            next,
            call: self.call_policy(),
        })
    }

    /// `retry` and `timeout_ms` as the checks accept them (out-of-range values are errors
    /// there, so they are only clamped here).
    fn call_policy(&self) -> CallPolicy {
        let number = |value: Option<&Value>, default: u64, max: u64| {
            value.and_then(Value::as_u64).unwrap_or(default).min(max)
        };
        let timeout = self
            .item
            .get("timeout_ms")
            .and_then(Value::as_u64)
            .map(|ms| Duration::from_millis(ms.clamp(1, MAX_TIMEOUT_MS as u64)));
        let Some(retry) = self.item.get("retry").filter(|r| r.is_object()) else {
            return CallPolicy {
                timeout,
                ..CallPolicy::default()
            };
        };
        let attempts =
            number(retry.get("attempts"), u64::from(DEFAULT_RETRY_ATTEMPTS), 10).max(1) as u32;
        let backoff = number(
            retry.get("backoff_ms"),
            DEFAULT_BACKOFF_MS,
            MAX_BACKOFF_MS as u64,
        );
        let on = match retry.get("on").and_then(Value::as_array) {
            Some(names) => names
                .iter()
                .filter_map(Value::as_str)
                .filter_map(RetryOn::parse)
                .collect(),
            None => DEFAULT_RETRY_ON
                .iter()
                .filter_map(|name| RetryOn::parse(name))
                .collect(),
        };
        CallPolicy {
            attempts,
            backoff: Duration::from_millis(backoff),
            on,
            timeout,
        }
    }

    /// The model chain, with `provider` prefixed to names that do not name one already.
    fn models(&self) -> Vec<String> {
        let models = self.strings("model");
        match self.string("provider") {
            Some(provider) => models
                .into_iter()
                .map(|model| {
                    if model.starts_with(&format!("{provider}/")) {
                        model
                    } else {
                        format!("{provider}/{model}")
                    }
                })
                .collect(),
            None => models,
        }
    }
}

#[cfg(test)]
mod tests {
    use codexos_flow::{Code, FlowFile, StaticCatalog};

    use super::Graph;

    /// A flow whose condition's `if` is `expression`.
    fn flow_with(expression: &str) -> String {
        let quoted = serde_json::to_string(expression).expect("a string serializes");
        format!(
            r#"{{"id": "e", "nodes": [
{{"id": "start", "type": "entry", "next": "check"}},
{{"id": "check", "type": "condition", "if": {quoted}, "then": "end", "else": "end"}},
{{"id": "end", "type": "exit"}}
]}}"#
        )
    }

    #[test]
    fn the_runner_accepts_exactly_the_expressions_the_check_accepts() {
        let table = [
            r#"{{input}} contains "bug""#,
            r#"{{context}} == "yes" or not {{input}}"#,
            r#"({{input}} matches "^\d+$") and true"#,
            r#"{{input}} matches "{{context}}""#,
            r#""é" != "e""#,
            "false",
            "{{input}} == bug",
            r#"{{input}} matches "(unclosed""#,
            r#"{{input}} matches "a{2,1}""#,
            r#"({{input}} == "a""#,
            r#"{{input}} =="#,
            r#"== "a""#,
            r#"{{input"#,
            r#""never closed"#,
            r#"{{input}} "a""#,
            "",
            "   ",
            "not",
            r#"{{input}} & "a""#,
        ];
        let mut accepted = 0;
        for expression in table {
            let file = FlowFile::parse(&flow_with(expression));
            let catalog = StaticCatalog::builtin();
            let checked = !file
                .findings(&catalog)
                .iter()
                .any(|finding| finding.code == Code::InvalidExpression);
            let compiled = Graph::compile(&file, &catalog).is_ok();
            assert_eq!(checked, compiled, "{expression:?}");
            accepted += usize::from(compiled);
        }
        assert_eq!(accepted, 6, "the table's first six expressions are valid");
    }
}
