//! Replay and fork: a recorded run run again from one of its top-level nodes, with the outputs
//! the nodes before it recorded, and optionally with edits (pure: no I/O; the runner reads the
//! trace and runs the plan).
//!
//! The edit grammar, one `KEY=VALUE` per edit (the value is everything after the first `=`):
//! - `input=TEXT`: the run's input (`{{input}}`);
//! - `NODE.prompt=TEXT`, `NODE.system=TEXT`: an `llm` node's prompt or system prompt (a
//!   `reflect` node has a `prompt` too), as templates;
//! - `NODE.model=MODEL`: the model of an `llm` or `reflect` node, replacing its whole chain
//!   (the fallbacks too);
//! - `nodes.NODE.output=TEXT`: the recorded output of a node that ran before the replayed one.
//!
//! A node whose output is recorded is not run again, so its prompt or model cannot be edited
//! (set its output, or replay from it), and a node that runs again has no output to set.
//!
//! Which nodes count as "before": the top-level nodes that finished before the replayed node
//! first started (or, in a run that itself took that node's output from its parent, before
//! that output was recorded), each with its last output by then. Nodes that had started and
//! not finished by then (other branches of a fan-out) run again with it.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use codexos_flow::{Catalog, FlowFile};

use crate::events::RunEvent;
use crate::graph::{Graph, NodeKind};
use crate::trace::RecordedRun;

/// The keys an edit may have, for error messages.
const KEYS: &str = "input, NODE.prompt, NODE.system, NODE.model, nodes.NODE.output";

/// The fields of a node an edit may set.
const NODE_FIELDS: [&str; 3] = ["prompt", "system", "model"];

/// What a replay starts from: a recorded run, one of its top-level nodes, and the edits
/// (`KEY` → `VALUE`, see the module's grammar); no edits is a plain replay.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayRequest {
    /// The run: its id, `last`, or the start of its id.
    pub run_id: String,
    pub from: String,
    #[serde(default)]
    pub set: BTreeMap<String, String>,
}

/// Where a replayed or forked run came from, in its trace's header and its result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForkedFrom {
    pub run_id: String,
    pub node: String,
    /// The edits, as given; empty for a plain replay.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub set: BTreeMap<String, String>,
}

impl ForkedFrom {
    /// `replay of RUN from NODE` or `fork of RUN from NODE (set a.prompt, input)`.
    pub fn describe(&self) -> String {
        if self.set.is_empty() {
            format!("replay of {} from {}", self.run_id, self.node)
        } else {
            let keys: Vec<&str> = self.set.keys().map(String::as_str).collect();
            format!(
                "fork of {} from {} (set {})",
                self.run_id,
                self.node,
                keys.join(", ")
            )
        }
    }
}

/// Why a replay did not start.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    #[error("`--set {0}`: expected KEY=VALUE, with KEY one of {KEYS}")]
    NotAnEdit(String),
    #[error("`{0}` is set twice")]
    SetTwice(String),
    #[error("`{key}` is not an edit{hint}; keys: {KEYS}")]
    UnknownKey { key: String, hint: String },
    #[error("no node `{node}` in flow `{flow}`{hint}")]
    UnknownNode {
        node: String,
        flow: String,
        hint: String,
    },
    #[error(
        "node `{node}` never ran in run {run_id}, so there is no step to replay from; it ran: {ran}"
    )]
    NeverRan {
        node: String,
        run_id: String,
        ran: String,
    },
    #[error("`{key}`: `{node}` is {article} {ty} node, which has no {field}")]
    NoSuchField {
        key: String,
        node: String,
        article: &'static str,
        ty: String,
        field: String,
    },
    #[error(
        "`{key}`: `{node}` ran before `{from}`, so its recorded output is used and it does not run again; set `nodes.{node}.output` instead, or replay from `{node}`"
    )]
    NotRunAgain {
        key: String,
        node: String,
        from: String,
    },
    #[error("the flow with these edits has errors, so nothing ran:{0}")]
    EditedFlowHasErrors(String),
    #[error(
        "`{key}`: `{node}` did not run before `{from}` in run {run_id}, so it has no recorded output to set; nodes before `{from}`: {upstream}"
    )]
    NotUpstream {
        key: String,
        node: String,
        from: String,
        run_id: String,
        upstream: String,
    },
}

/// One edit, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Edit {
    Input(String),
    Field {
        node: String,
        field: Field,
        value: String,
    },
    Output {
        node: String,
        value: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    Prompt,
    System,
    Model,
}

impl Field {
    fn as_str(self) -> &'static str {
        match self {
            Field::Prompt => "prompt",
            Field::System => "system",
            Field::Model => "model",
        }
    }
}

/// `KEY=VALUE` arguments (as `--set` takes them) as the edits of a [`ReplayRequest`].
pub fn parse_set(items: &[String]) -> Result<BTreeMap<String, String>, ReplayError> {
    let mut set = BTreeMap::new();
    for item in items {
        let (key, value) = item
            .split_once('=')
            .ok_or_else(|| ReplayError::NotAnEdit(item.clone()))?;
        let key = key.trim();
        Edit::parse(key, value)?;
        if set.insert(key.to_owned(), value.to_owned()).is_some() {
            return Err(ReplayError::SetTwice(key.to_owned()));
        }
    }
    Ok(set)
}

impl Edit {
    pub(crate) fn parse(key: &str, value: &str) -> Result<Edit, ReplayError> {
        let value = value.to_owned();
        if key == "input" {
            return Ok(Edit::Input(value));
        }
        if let Some(node) = key
            .strip_prefix("nodes.")
            .and_then(|rest| rest.strip_suffix(".output"))
            .filter(|node| !node.is_empty())
        {
            return Ok(Edit::Output {
                node: node.to_owned(),
                value,
            });
        }
        let unknown = |hint: String| ReplayError::UnknownKey {
            key: key.to_owned(),
            hint,
        };
        let Some((node, field)) = key.rsplit_once('.').filter(|(node, _)| !node.is_empty()) else {
            let hint = codexos_flow::model::closest(key, ["input"])
                .map(|name| format!(" (did you mean `{name}`?)"))
                .unwrap_or_default();
            return Err(unknown(hint));
        };
        let field = match field {
            "prompt" => Field::Prompt,
            "system" => Field::System,
            "model" => Field::Model,
            "output" => {
                return Err(unknown(format!(
                    " (a recorded output is set as `nodes.{node}.output`)"
                )));
            }
            other => {
                let hint = codexos_flow::model::closest(other, NODE_FIELDS)
                    .map(|name| format!(" (did you mean `{node}.{name}`?)"))
                    .unwrap_or_default();
                return Err(unknown(hint));
            }
        };
        Ok(Edit::Field {
            node: node.to_owned(),
            field,
            value,
        })
    }
}

/// What a replay runs: the walk's start, the outputs it starts with, and the edited input.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) frontier: Vec<usize>,
    /// Recorded (or set) outputs of the nodes before the replayed one, in finishing order.
    pub(crate) outputs: Vec<(usize, String)>,
    /// The nodes whose output an edit set.
    pub(crate) edited: Vec<usize>,
    pub(crate) input: String,
}

/// Checks `request` against the run and the flow and says what to run (the node edits are
/// written into the flow by [`edited_flow`]).
pub(crate) fn plan(
    recorded: &RecordedRun,
    graph: &Graph,
    request: &ReplayRequest,
) -> Result<Plan, ReplayError> {
    let run_id = &recorded.header.run_id;
    let from_id = request.from.as_str();
    let from = node_index(graph, from_id)?;
    let top_level = |node: &String| !node.contains('/');
    // Where `from` first ran: its first start, or, in a run that replayed it from its own parent,
    // its recorded output (a `node_finished` with no start before it).
    // Sets, not lists: a trace of a 1,000-node chain has 2,000 such lines.
    let mut seen: HashSet<&str> = HashSet::new();
    let mut ran: Vec<&str> = Vec::new();
    let mut started_at = None;
    for (index, event) in recorded.events.iter().enumerate() {
        let (RunEvent::NodeStarted { node, .. } | RunEvent::NodeFinished { node, .. }) = event
        else {
            continue;
        };
        if !top_level(node) || !seen.insert(node) {
            continue;
        }
        if node == from_id {
            started_at = Some(index);
            break;
        }
        ran.push(node);
    }
    let started_at = started_at.ok_or_else(|| {
        for event in &recorded.events {
            if let RunEvent::NodeStarted { node, .. } | RunEvent::NodeFinished { node, .. } = event
                && top_level(node)
                && seen.insert(node)
            {
                ran.push(node);
            }
        }
        ReplayError::NeverRan {
            node: from_id.to_owned(),
            run_id: run_id.clone(),
            ran: list_or_nothing(&ran),
        }
    })?;
    // Each node's last output, with when it was recorded.
    let mut last_outputs: HashMap<usize, (usize, &String)> = HashMap::new();
    let mut running: Vec<usize> = Vec::new();
    for (at, event) in recorded.events[..started_at].iter().enumerate() {
        match event {
            RunEvent::NodeStarted { node, .. } if top_level(node) => {
                if let Some(index) = graph.index(node)
                    && !running.contains(&index)
                {
                    running.push(index);
                }
            }
            RunEvent::NodeFinished { node, output, .. } if top_level(node) => {
                if let Some(index) = graph.index(node) {
                    running.retain(|&n| n != index);
                    last_outputs.insert(index, (at, output));
                }
            }
            RunEvent::NodeFailed { node, .. } => {
                if let Some(index) = graph.index(node) {
                    running.retain(|&n| n != index);
                }
            }
            _ => {}
        }
    }
    let mut frontier = vec![from];
    frontier.extend(running.into_iter().filter(|&n| n != from));
    let mut recorded_outputs: Vec<(usize, usize, &String)> = last_outputs
        .into_iter()
        .filter(|(n, _)| !frontier.contains(n))
        .map(|(n, (at, output))| (at, n, output))
        .collect();
    recorded_outputs.sort_unstable_by_key(|(at, _, _)| *at);
    let mut outputs: Vec<(usize, String)> = recorded_outputs
        .into_iter()
        .map(|(_, n, output)| (n, output.clone()))
        .collect();

    let edits = request
        .set
        .iter()
        .map(|(key, value)| Ok((key.as_str(), Edit::parse(key, value)?)))
        .collect::<Result<Vec<_>, ReplayError>>()?;
    let mut input = recorded.header.input.clone();
    let mut edited = Vec::new();
    for (key, edit) in edits {
        match edit {
            Edit::Input(value) => input = value,
            Edit::Output { node, value } => {
                let index = node_index(graph, &node)?;
                let Some(slot) = outputs.iter_mut().find(|(n, _)| *n == index) else {
                    let upstream: Vec<&str> = outputs
                        .iter()
                        .map(|(n, _)| graph.nodes[*n].id.as_str())
                        .collect();
                    return Err(ReplayError::NotUpstream {
                        key: key.to_owned(),
                        node,
                        from: from_id.to_owned(),
                        run_id: run_id.clone(),
                        upstream: list_or_nothing(&upstream),
                    });
                };
                slot.1 = value;
                edited.push(index);
            }
            Edit::Field { node, field, .. } => {
                let index = node_index(graph, &node)?;
                if outputs.iter().any(|(n, _)| *n == index) {
                    return Err(ReplayError::NotRunAgain {
                        key: key.to_owned(),
                        node,
                        from: from_id.to_owned(),
                    });
                }
                check_field(graph, index, key, field)?;
            }
        }
    }
    Ok(Plan {
        frontier,
        outputs,
        edited,
        input,
    })
}

/// The flow `text` with the prompt, system and model edits of `set` written into its nodes,
/// checked as a whole against `catalog` and compiled, so an edited prompt naming a node that
/// does not exist stops the replay before anything runs; `None` when `set` edits no node. Also
/// how a retry of a fork keeps its edits (its input and set outputs are in its trace already).
pub(crate) fn edited_graph(
    text: &str,
    set: &BTreeMap<String, String>,
    catalog: &dyn Catalog,
) -> Result<Option<Graph>, ReplayError> {
    let Some(edited) = edited_flow(text, set)? else {
        return Ok(None);
    };
    Graph::compile(&FlowFile::parse(&edited), catalog)
        .map(Some)
        .map_err(|problems| {
            // Positions would point into the edited text, which no one sees.
            ReplayError::EditedFlowHasErrors(
                problems
                    .iter()
                    .map(|p| format!("\n  error[{}]: {}", p.code, p.message))
                    .collect(),
            )
        })
}

fn edited_flow(text: &str, set: &BTreeMap<String, String>) -> Result<Option<String>, ReplayError> {
    let mut fields = Vec::new();
    for (key, value) in set {
        if let Edit::Field { node, field, value } = Edit::parse(key, value)? {
            fields.push((node, field, value));
        }
    }
    if fields.is_empty() {
        return Ok(None);
    }
    let mut root: Value = serde_json::from_str(text)
        .map_err(|error| ReplayError::EditedFlowHasErrors(format!("\n  {error}")))?;
    let flow = root["id"].as_str().unwrap_or("?").to_owned();
    for (node, field, value) in fields {
        let spec = root["nodes"]
            .as_array_mut()
            .and_then(|nodes| nodes.iter_mut().find(|spec| spec["id"] == node.as_str()))
            .and_then(Value::as_object_mut)
            .ok_or_else(|| ReplayError::UnknownNode {
                node: node.clone(),
                flow: flow.clone(),
                hint: String::new(),
            })?;
        spec.insert(field.as_str().to_owned(), Value::String(value));
    }
    Ok(Some(root.to_string()))
}

fn node_index(graph: &Graph, node: &str) -> Result<usize, ReplayError> {
    graph.index(node).ok_or_else(|| {
        let hint = match node.split_once('/') {
            Some((parent, _)) => {
                format!(" (it is inside a sub-flow: replay from its `flow` node `{parent}`)")
            }
            None => codexos_flow::model::closest(node, graph.nodes.iter().map(|n| n.id.as_str()))
                .map(|name| format!(": did you mean `{name}`?"))
                .unwrap_or_default(),
        };
        ReplayError::UnknownNode {
            node: node.to_owned(),
            flow: graph.flow_id.clone(),
            hint,
        }
    })
}

fn check_field(graph: &Graph, index: usize, key: &str, field: Field) -> Result<(), ReplayError> {
    let spec = &graph.nodes[index];
    let has = matches!(
        (&spec.kind, field),
        (NodeKind::Llm(_), _) | (NodeKind::Reflect(_), Field::Prompt | Field::Model)
    );
    if has {
        return Ok(());
    }
    let ty = spec.ty.as_str();
    Err(ReplayError::NoSuchField {
        key: key.to_owned(),
        node: spec.id.clone(),
        article: if ty.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        },
        ty: ty.to_owned(),
        field: field.as_str().to_owned(),
    })
}

fn list_or_nothing(names: &[&str]) -> String {
    if names.is_empty() {
        "nothing".to_owned()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use codexos_flow::StaticCatalog;
    use expect_test::{Expect, expect};

    use super::*;
    use crate::events::{RunStatus, TokenUsage};
    use crate::trace::RunHeader;

    const FLOW: &str = r#"{"id": "five", "nodes": [
  {"id": "start", "type": "entry", "next": "plan"},
  {"id": "plan", "type": "llm", "model": "gpt-4o-mini", "prompt": "{{input}}", "next": "draft"},
  {"id": "draft", "type": "llm", "model": "gpt-4o-mini", "prompt": "{{nodes.plan.output}}", "next": "read"},
  {"id": "read", "type": "tool", "tool": "read_file", "args": {"path": "a.txt"}, "next": "end"},
  {"id": "end", "type": "exit", "output": "{{nodes.draft.output}}"}
]}"#;

    fn graph() -> Graph {
        match Graph::compile(&FlowFile::parse(FLOW), &StaticCatalog::builtin()) {
            Ok(graph) => graph,
            Err(problems) => panic!("fixture does not compile: {problems:?}"),
        }
    }

    /// A run of [`FLOW`] where every node ran and finished with its own id as output, except
    /// `read`, which failed.
    fn recorded() -> RecordedRun {
        let mut events = vec![RunEvent::Started {
            run_id: "r1".into(),
            flow_id: "five".into(),
            retry_of: None,
            forked_from: None,
        }];
        for node in ["start", "plan", "draft", "read"] {
            events.push(RunEvent::NodeStarted {
                node: node.into(),
                node_type: "llm".into(),
                iteration: 0,
            });
            events.push(match node {
                "read" => RunEvent::NodeFailed {
                    node: node.into(),
                    error: "no a.txt".into(),
                    elapsed_ms: 1,
                },
                _ => RunEvent::NodeFinished {
                    node: node.into(),
                    output: format!("{node} out"),
                    elapsed_ms: 1,
                    model: None,
                    usage: TokenUsage::default(),
                    note: None,
                    sources: Vec::new(),
                },
            });
        }
        events.push(RunEvent::Finished {
            run_id: "r1".into(),
            status: RunStatus::Failed,
            output: None,
            error: Some("no a.txt".into()),
            frontier: vec!["read".into()],
            elapsed_ms: 4,
        });
        RecordedRun {
            path: PathBuf::from("r1.jsonl"),
            header: RunHeader {
                run_id: "r1".into(),
                flow_id: "five".into(),
                flow_path: None,
                flow_text: Some(FLOW.into()),
                input: "question".into(),
                context: Vec::new(),
                started_at: 1,
                retry_of: None,
                forked_from: None,
                agent_id: None,
            },
            events,
        }
    }

    /// The plan of replaying [`recorded`] from `from` with `set`, as ids, or the error.
    fn check(from: &str, set: &[&str], expected: Expect) {
        let mut graph = graph();
        let set: Vec<String> = set.iter().map(|item| (*item).to_owned()).collect();
        let planned = parse_set(&set).and_then(|set| {
            let request = ReplayRequest {
                run_id: "r1".into(),
                from: from.into(),
                set,
            };
            let plan = plan(&recorded(), &graph, &request)?;
            if let Some(edited) = edited_graph(FLOW, &request.set, &StaticCatalog::builtin())? {
                graph = edited;
            }
            Ok(plan)
        });
        let shown = match planned {
            Ok(plan) => {
                let id = |n: &usize| graph.nodes[*n].id.clone();
                let outputs: Vec<String> = plan
                    .outputs
                    .iter()
                    .map(|(n, output)| format!("{}={output}", id(n)))
                    .collect();
                let llm = |node: &str| match &graph.nodes[graph.index(node).unwrap_or(0)].kind {
                    NodeKind::Llm(llm) => format!(
                        "{}: {:?} {:?} {:?}",
                        node, llm.models, llm.system, llm.prompt
                    ),
                    _ => String::new(),
                };
                format!(
                    "frontier {:?}\noutputs {outputs:?}\nedited {:?}\ninput {:?}\n{}\n{}",
                    plan.frontier.iter().map(id).collect::<Vec<_>>(),
                    plan.edited.iter().map(id).collect::<Vec<_>>(),
                    plan.input,
                    llm("plan"),
                    llm("draft"),
                )
            }
            Err(error) => format!("error: {error}"),
        };
        expected.assert_eq(&shown);
    }

    #[test]
    fn a_replay_from_the_middle_starts_there_with_the_outputs_recorded_before_it() {
        check(
            "draft",
            &[],
            expect![[r#"
                frontier ["draft"]
                outputs ["start=start out", "plan=plan out"]
                edited []
                input "question"
                plan: ["gpt-4o-mini"] None Some("{{input}}")
                draft: ["gpt-4o-mini"] None Some("{{nodes.plan.output}}")"#]],
        );
    }

    #[test]
    fn a_fork_edits_the_input_the_replayed_nodes_fields_and_an_upstream_output() {
        check(
            "draft",
            &[
                "input=other question",
                "draft.prompt=Shorter: {{nodes.plan.output}}",
                "draft.model=claude-3-5-haiku",
                "draft.system=Be brief. a=b",
                "nodes.plan.output=a better plan",
            ],
            expect![[r#"
                frontier ["draft"]
                outputs ["start=start out", "plan=a better plan"]
                edited ["plan"]
                input "other question"
                plan: ["gpt-4o-mini"] None Some("{{input}}")
                draft: ["claude-3-5-haiku"] Some("Be brief. a=b") Some("Shorter: {{nodes.plan.output}}")"#]],
        );
    }

    #[test]
    fn a_replay_from_the_entry_runs_everything_again() {
        check(
            "start",
            &["input=again"],
            expect![[r#"
                frontier ["start"]
                outputs []
                edited []
                input "again"
                plan: ["gpt-4o-mini"] None Some("{{input}}")
                draft: ["gpt-4o-mini"] None Some("{{nodes.plan.output}}")"#]],
        );
    }

    #[test]
    fn a_node_that_is_not_in_the_flow_or_never_ran_is_named_in_the_error() {
        check(
            "drafts",
            &[],
            expect!["error: no node `drafts` in flow `five`: did you mean `draft`?"],
        );
        check(
            "end",
            &[],
            expect![
                "error: node `end` never ran in run r1, so there is no step to replay from; it ran: start, plan, draft, read"
            ],
        );
        check(
            "draft/inner",
            &[],
            expect![
                "error: no node `draft/inner` in flow `five` (it is inside a sub-flow: replay from its `flow` node `draft`)"
            ],
        );
    }

    #[test]
    fn bad_keys_are_errors_that_name_them_and_suggest_the_key_meant() {
        check(
            "draft",
            &["draft.promt=x"],
            expect![
                "error: `draft.promt` is not an edit (did you mean `draft.prompt`?); keys: input, NODE.prompt, NODE.system, NODE.model, nodes.NODE.output"
            ],
        );
        check(
            "draft",
            &["inptu=x"],
            expect![
                "error: `inptu` is not an edit (did you mean `input`?); keys: input, NODE.prompt, NODE.system, NODE.model, nodes.NODE.output"
            ],
        );
        check(
            "draft",
            &["plan.output=x"],
            expect![
                "error: `plan.output` is not an edit (a recorded output is set as `nodes.plan.output`); keys: input, NODE.prompt, NODE.system, NODE.model, nodes.NODE.output"
            ],
        );
        check(
            "draft",
            &["draft.prompt"],
            expect![
                "error: `--set draft.prompt`: expected KEY=VALUE, with KEY one of input, NODE.prompt, NODE.system, NODE.model, nodes.NODE.output"
            ],
        );
        check(
            "draft",
            &["input=a", "input=b"],
            expect!["error: `input` is set twice"],
        );
    }

    #[test]
    fn an_edited_prompt_is_checked_with_the_flow_before_anything_runs() {
        check(
            "draft",
            &["draft.prompt=Use {{nodes.nope.output}}"],
            expect![[r#"
                error: the flow with these edits has errors, so nothing ran:
                  error[unknown-template-ref]: `{{nodes.nope.output}}`: no node has the id `nope`"#]],
        );
    }

    #[test]
    fn edits_that_would_not_take_effect_are_errors() {
        check(
            "draft",
            &["plan.prompt=x"],
            expect![
                "error: `plan.prompt`: `plan` ran before `draft`, so its recorded output is used and it does not run again; set `nodes.plan.output` instead, or replay from `plan`"
            ],
        );
        check(
            "draft",
            &["nodes.read.output=x"],
            expect![
                "error: `nodes.read.output`: `read` did not run before `draft` in run r1, so it has no recorded output to set; nodes before `draft`: start, plan"
            ],
        );
        check(
            "draft",
            &["read.model=x"],
            expect!["error: `read.model`: `read` is a tool node, which has no model"],
        );
        check(
            "draft",
            &["end.prompt=x"],
            expect!["error: `end.prompt`: `end` is an exit node, which has no prompt"],
        );
        check(
            "draft",
            &["drfat.prompt=x"],
            expect!["error: no node `drfat` in flow `five`: did you mean `draft`?"],
        );
    }

    /// Where a plain replay of `run` from `from` starts, and the nodes it takes outputs from.
    fn starts_and_upstream(
        run: &RecordedRun,
        from: &str,
    ) -> Result<(Vec<String>, Vec<String>), ReplayError> {
        let graph = graph();
        let request = ReplayRequest {
            run_id: "r1".into(),
            from: from.into(),
            set: BTreeMap::new(),
        };
        plan(run, &graph, &request).map(|plan| {
            let ids = |nodes: &mut dyn Iterator<Item = usize>| -> Vec<String> {
                nodes.map(|n| graph.nodes[n].id.clone()).collect()
            };
            (
                ids(&mut plan.frontier.iter().copied()),
                ids(&mut plan.outputs.iter().map(|(n, _)| *n)),
            )
        })
    }

    #[test]
    fn nodes_still_running_when_the_replayed_node_started_run_again_with_it() {
        let mut run = recorded();
        // `plan` and `draft` started together (a fan-out), `plan` finishing after.
        let plan_finished = run.events.remove(4);
        run.events.insert(5, plan_finished);
        let planned = starts_and_upstream(&run, "draft");
        assert_eq!(
            planned,
            Ok((
                vec!["draft".to_owned(), "plan".to_owned()],
                vec!["start".to_owned()]
            ))
        );
    }

    #[test]
    fn a_replay_of_a_replay_starts_from_a_node_its_parent_replayed_with_the_outputs_before_it() {
        // A replay from `read`: `start`, `plan` and `draft` come first, recorded, unstarted.
        let mut run = recorded();
        run.events
            .retain(|event| !matches!(event, RunEvent::NodeStarted { node, .. } if node != "read"));
        let planned = starts_and_upstream(&run, "plan");
        assert_eq!(
            planned,
            Ok((vec!["plan".to_owned()], vec!["start".to_owned()]))
        );
    }

    #[test]
    fn a_fork_is_described_by_its_parent_node_and_keys() {
        let mut fork = ForkedFrom {
            run_id: "r1".into(),
            node: "draft".into(),
            set: BTreeMap::new(),
        };
        assert_eq!(fork.describe(), "replay of r1 from draft");
        fork.set.insert("input".into(), "x".into());
        fork.set.insert("draft.model".into(), "y".into());
        assert_eq!(
            fork.describe(),
            "fork of r1 from draft (set draft.model, input)"
        );
    }
}
