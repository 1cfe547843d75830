//! The checks behind every flow finding, in stages: JSON syntax, then the schema, then the graph
//! and references. Each stage is a pure function over the parsed file.

mod expressions;
mod retry;
mod sub_flows;
mod tool_args;

use crate::catalog::{Catalog, FlowFileStatus, PROVIDERS};
use crate::model::{
    EdgeKind, FILE_FIELDS, Field, FieldKind, Flow, Node, NodeType, closest, is_valid_id,
};
use crate::suggest::Names;
use crate::syntax::{Json, Member, Value, ValueKind};
use crate::template::{self, RefPath};
use crate::text::TextRange;
use crate::{Code, Finding, Fix, FixCommand, Related, Severity, TextEdit};

pub fn run(text: &str, json: &Json, flow: &Flow, catalog: &dyn Catalog) -> Vec<Finding> {
    let mut out = Vec::new();
    syntax(json, &mut out);
    let Some(root) = &json.root else { return out };
    file_schema(root, &mut out);
    if let Some(items) = root.get("nodes").and_then(Value::as_array) {
        for (node, item) in flow.nodes.iter().zip(items) {
            node_schema(node, item, &mut out);
        }
        references(flow, items, catalog, &mut out);
        tool_args::tool_args(flow, items, catalog, &mut out);
        sub_flows::sub_flows(flow, items, catalog, &mut out);
    }
    expressions::expressions(text, flow, &mut out);
    let mut ids = NodeIds::new(flow);
    duplicate_ids(flow, &mut out);
    unknown_nodes(flow, &mut ids, &mut out);
    entry_and_exit(text, root, flow, &mut out);
    reachability(text, root, flow, &mut out);
    cycles(flow, &mut out);
    templates(text, json, flow, catalog, &mut ids, &mut out);
    out.sort_by_key(|f| (f.range.start, f.code));
    out
}

fn finding(range: TextRange, code: Code, severity: Severity, message: String) -> Finding {
    Finding {
        range,
        code,
        severity,
        message,
        related: Vec::new(),
        fixes: Vec::new(),
    }
}

fn replace_fix(title: String, range: TextRange, new_text: &str) -> Fix {
    Fix {
        title,
        edits: vec![TextEdit {
            range,
            new_text: new_text.to_owned(),
        }],
        command: None,
        preferred: true,
    }
}

fn syntax(json: &Json, out: &mut Vec<Finding>) {
    out.extend(json.errors.iter().map(|error| {
        finding(
            error.range,
            Code::InvalidJson,
            Severity::Error,
            error.message.clone(),
        )
    }));
}

fn file_schema(root: &Value, out: &mut Vec<Finding>) {
    let Some(members) = root.as_object() else {
        out.push(finding(
            root.range,
            Code::Schema,
            Severity::Error,
            format!(
                "a flow is a JSON object with `id` and `nodes`, found {}",
                root.type_name()
            ),
        ));
        return;
    };
    let open = TextRange::new(root.range.start, root.range.start + 1);
    for field in FILE_FIELDS.iter().filter(|f| f.required) {
        if root.member(field.name).is_none() {
            out.push(finding(
                open,
                Code::Schema,
                Severity::Error,
                format!("the flow is missing `{}`", field.name),
            ));
        }
    }
    for member in members {
        let Some(field) = FILE_FIELDS.iter().find(|f| f.name == member.key.name) else {
            out.push(unknown_field(member, "the flow", FILE_FIELDS.iter()));
            continue;
        };
        let Some(value) = &member.value else { continue };
        let problem = match field.name {
            "nodes" => value.as_array().is_none().then(|| {
                format!(
                    "`nodes` must be a list of nodes, found {}",
                    value.type_name()
                )
            }),
            "tags" => (!is_string_list(value)).then(|| {
                format!(
                    "`tags` must be a list of strings, found {}",
                    value.type_name()
                )
            }),
            _ => value.as_str().is_none().then(|| {
                format!(
                    "`{}` must be a string, found {}",
                    field.name,
                    value.type_name()
                )
            }),
        };
        if let Some(message) = problem {
            out.push(finding(value.range, Code::Schema, Severity::Error, message));
        }
    }
}

fn unknown_field<'f>(
    member: &Member,
    owner: &str,
    known: impl Iterator<Item = &'f Field>,
) -> Finding {
    let name = &member.key.name;
    let names: Vec<&str> = known.map(|f| f.name).collect();
    let suggestion = closest(name, names.iter().copied());
    let mut message = format!("unknown field `{name}` in {owner}");
    if let Some(s) = suggestion {
        message.push_str(&format!(": did you mean `{s}`?"));
    }
    let mut f = finding(member.key.range, Code::Schema, Severity::Warning, message);
    if let Some(s) = suggestion {
        f.fixes.push(replace_fix(
            format!("Rename to `{s}`"),
            member.key.content,
            s,
        ));
    }
    f
}

fn is_string_list(value: &Value) -> bool {
    value
        .as_array()
        .is_some_and(|items| items.iter().all(|i| i.as_str().is_some()))
}

fn node_schema(node: &Node, item: &Value, out: &mut Vec<Finding>) {
    let Some(members) = item.as_object() else {
        out.push(finding(
            item.range,
            Code::Schema,
            Severity::Error,
            format!("a node is an object, found {}", item.type_name()),
        ));
        return;
    };
    let anchor = node.anchor();
    match item.get("id") {
        None => out.push(finding(
            TextRange::new(item.range.start, item.range.start + 1),
            Code::Schema,
            Severity::Error,
            format!("node #{} is missing `id`", node.index + 1),
        )),
        Some(id) => match id.as_str() {
            None => out.push(finding(
                id.range,
                Code::Schema,
                Severity::Error,
                format!("a node's `id` must be a string, found {}", id.type_name()),
            )),
            Some(name) if !is_valid_id(name) => out.push(finding(
                id.range,
                Code::Schema,
                Severity::Error,
                format!(
                    "`{name}` is not a valid node id: use letters, digits, `_` and `-`, starting with a letter or `_`"
                ),
            )),
            Some(_) => {}
        },
    }
    let ty = match item.get("type") {
        None => {
            out.push(finding(
                anchor,
                Code::Schema,
                Severity::Error,
                format!("node {} is missing `type`", node.label()),
            ));
            return;
        }
        Some(value) => match (value.as_string(), node.ty) {
            (_, Some(ty)) => ty,
            (Some(s), None) => {
                let names = NodeType::ALL.iter().map(|t| t.as_str());
                let suggestion = closest(&s.value, names);
                let mut message = format!(
                    "unknown node type `{}`: expected one of entry, llm, tool, rag, vault, condition, reflect, flow, exit",
                    s.value
                );
                if let Some(s) = suggestion {
                    message = format!("{message} (did you mean `{s}`?)");
                }
                let mut f = finding(value.range, Code::Schema, Severity::Error, message);
                if let Some(sugg) = suggestion {
                    f.fixes
                        .push(replace_fix(format!("Change to `{sugg}`"), s.content, sugg));
                }
                out.push(f);
                return;
            }
            (None, None) => {
                out.push(finding(
                    value.range,
                    Code::Schema,
                    Severity::Error,
                    format!(
                        "a node's `type` must be a string, found {}",
                        value.type_name()
                    ),
                ));
                return;
            }
        },
    };
    for field in ty.all_fields().filter(|f| f.required) {
        if item.member(field.name).is_none() {
            out.push(finding(
                anchor,
                Code::Schema,
                Severity::Error,
                format!(
                    "{} node {} is missing `{}`",
                    ty.as_str(),
                    node.label(),
                    field.name
                ),
            ));
        }
    }
    let owner = format!("a {} node", ty.as_str());
    for member in members {
        let Some(field) = ty.field(&member.key.name) else {
            let mut f = unknown_field(member, &owner, ty.all_fields());
            if member.key.name == "next" {
                f.message = match ty {
                    NodeType::Exit => {
                        "an exit node ends the run: its `next` is never followed".into()
                    }
                    _ => "a condition node continues through `then` and `else`, not `next`".into(),
                };
            }
            out.push(f);
            continue;
        };
        if let Some(value) = &member.value {
            match check_value(field, value) {
                Some(message) => {
                    out.push(finding(value.range, Code::Schema, Severity::Error, message));
                }
                None if field.kind == FieldKind::Retry => retry::members(node, value, out),
                None => {}
            }
        }
    }
}

/// Why `value` does not fit `field`, if it does not.
fn check_value(field: &Field, value: &Value) -> Option<String> {
    let name = field.name;
    let found = value.type_name();
    let string_or_list = |what: &str| match &value.kind {
        ValueKind::String(_) => None,
        ValueKind::Array(items) if items.is_empty() => {
            Some(format!("`{name}` must not be an empty list"))
        }
        ValueKind::Array(items) => items
            .iter()
            .find(|i| i.as_str().is_none())
            .map(|bad| format!("`{name}` lists {what}s, found {}", bad.type_name())),
        _ => Some(format!(
            "`{name}` must be a {what} or a list of {what}s, found {found}"
        )),
    };
    match field.kind {
        FieldKind::NodeRefs => string_or_list("node id"),
        FieldKind::Models => string_or_list("model name"),
        FieldKind::Tools => (!is_string_list(value))
            .then(|| format!("`{name}` must be a list of tool names, found {found}")),
        FieldKind::Integer { min, max } => match value.kind {
            ValueKind::Number(n) if n.fract() == 0.0 && (min as f64..=max as f64).contains(&n) => {
                None
            }
            ValueKind::Number(n) if n.fract() == 0.0 => Some(format!(
                "`{name}` must be between {min} and {max}, found {n}"
            )),
            _ => Some(format!("`{name}` must be an integer, found {found}")),
        },
        FieldKind::Number { min, max } => match value.kind {
            ValueKind::Number(n) if (min..=max).contains(&n) => None,
            ValueKind::Number(n) => Some(format!(
                "`{name}` must be between {min} and {max}, found {n}"
            )),
            _ => Some(format!("`{name}` must be a number, found {found}")),
        },
        FieldKind::Args => value
            .as_object()
            .is_none()
            .then(|| format!("`{name}` must be an object of arguments, found {found}")),
        FieldKind::Retry => value.as_object().is_none().then(|| {
            format!("`{name}` must be an object such as {{\"attempts\": 3}}, found {found}")
        }),
        FieldKind::Ui => {
            let numeric = |k: &str| {
                value
                    .get(k)
                    .is_some_and(|v| matches!(v.kind, ValueKind::Number(_)))
            };
            (value.as_object().is_none() || !numeric("x") || !numeric("y"))
                .then(|| format!("`{name}` must be an object with numbers `x` and `y`"))
        }
        FieldKind::Provider => match value.as_str() {
            None => Some(format!("`{name}` must be a string, found {found}")),
            Some(p) if PROVIDERS.iter().any(|(known, _)| *known == p) => None,
            Some(p) => Some(format!(
                "unknown provider `{p}`: expected one of {}",
                PROVIDERS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        },
        FieldKind::Identifier => match value.as_str() {
            None => Some(format!("`{name}` must be a string, found {found}")),
            Some(v) if is_valid_id(v) => None,
            Some(v) => Some(format!(
                "`{v}` is not a valid variable name: use letters, digits, `_` and `-`"
            )),
        },
        FieldKind::NodeRef
        | FieldKind::NodeId
        | FieldKind::NodeType
        | FieldKind::Tool
        | FieldKind::VaultKey
        | FieldKind::Template
        | FieldKind::Expression
        | FieldKind::Text
        | FieldKind::FlowPath => value
            .as_str()
            .is_none()
            .then(|| format!("`{name}` must be a string, found {found}")),
    }
}

fn duplicate_ids(flow: &Flow, out: &mut Vec<Finding>) {
    let mut taken: std::collections::HashSet<String> =
        flow.nodes.iter().filter_map(|n| n.id.clone()).collect();
    for node in &flow.nodes {
        let (Some(id), Some(range), Some(content)) = (&node.id, node.id_range, node.id_content)
        else {
            continue;
        };
        let first = &flow.nodes[flow.by_id[id]];
        if first.index == node.index {
            continue;
        }
        let fresh = (2..)
            .map(|n| format!("{id}_{n}"))
            .find(|candidate| !taken.contains(candidate))
            .unwrap_or_default();
        let mut f = finding(
            range,
            Code::DuplicateId,
            Severity::Error,
            format!("duplicate node id `{id}`: ids must be unique in a flow"),
        );
        f.related.push(Related {
            range: first.anchor(),
            message: format!("`{id}` is first defined here"),
        });
        f.fixes.push(replace_fix(
            format!("Rename this node to `{fresh}`"),
            content,
            &fresh,
        ));
        taken.insert(fresh);
        out.push(f);
    }
}

/// The node ids, for "did you mean", indexed at the first unknown one.
struct NodeIds<'f> {
    flow: &'f Flow,
    /// The ids and the index of the node each belongs to.
    names: Option<(Names<'f>, Vec<usize>)>,
}

impl<'f> NodeIds<'f> {
    fn new(flow: &'f Flow) -> NodeIds<'f> {
        NodeIds { flow, names: None }
    }

    /// The id closest to `id`, if it is close enough to be a likely typo, leaving out the id of
    /// node `except`.
    fn closest(&mut self, id: &str, except: Option<usize>) -> Option<&'f str> {
        let flow = self.flow;
        let (names, nodes) = self.names.get_or_insert_with(|| {
            let with_ids = || flow.nodes.iter().filter(|n| n.id.is_some());
            (
                Names::new(with_ids().filter_map(|n| n.id.as_deref())),
                with_ids().map(|n| n.index).collect(),
            )
        });
        let except = except.and_then(|node| nodes.binary_search(&node).ok());
        names.closest(id, except)
    }
}

fn unknown_nodes(flow: &Flow, ids: &mut NodeIds, out: &mut Vec<Finding>) {
    for node in &flow.nodes {
        for edge in &node.edges {
            if flow.by_id.contains_key(&edge.target) {
                continue;
            }
            let field = match edge.kind {
                EdgeKind::Next => "next",
                EdgeKind::Then => "then",
                EdgeKind::Else => "else",
                EdgeKind::Target => "target",
            };
            let suggestion = ids.closest(&edge.target, Some(node.index));
            let mut message = if edge.target.is_empty() {
                format!("`{field}` is empty: name the node that runs next")
            } else {
                format!("`{field}` names `{}`, but no node has that id", edge.target)
            };
            if let Some(s) = suggestion {
                message.push_str(&format!(": did you mean `{s}`?"));
            }
            let mut f = finding(edge.range, Code::UnknownNode, Severity::Error, message);
            if let Some(s) = suggestion {
                f.fixes
                    .push(replace_fix(format!("Change to `{s}`"), edge.content, s));
            }
            out.push(f);
        }
    }
}

fn entry_and_exit(text: &str, root: &Value, flow: &Flow, out: &mut Vec<Finding>) {
    let Some(nodes_member) = root.member("nodes") else {
        return;
    };
    if nodes_member
        .value
        .as_ref()
        .and_then(Value::as_array)
        .is_none()
    {
        return;
    }
    let entries: Vec<&Node> = flow
        .nodes
        .iter()
        .filter(|n| n.ty == Some(NodeType::Entry))
        .collect();
    match entries.as_slice() {
        [] => out.push(finding(
            nodes_member.key.range,
            Code::MissingEntry,
            Severity::Error,
            "the flow has no `entry` node: a run has nowhere to start".into(),
        )),
        [first, rest @ ..] => {
            for extra in rest {
                let mut f = finding(
                    extra.anchor(),
                    Code::MultipleEntry,
                    Severity::Error,
                    format!(
                        "a second `entry` node, {}: a flow has exactly one entry",
                        extra.label()
                    ),
                );
                f.related.push(Related {
                    range: first.anchor(),
                    message: "the first entry is here".into(),
                });
                out.push(f);
            }
        }
    }
    if !flow.nodes.iter().any(|n| n.ty == Some(NodeType::Exit)) {
        let mut f = finding(
            nodes_member.key.range,
            Code::MissingExit,
            Severity::Error,
            "the flow has no `exit` node: a run can never finish".into(),
        );
        if let Some(fix) = crate::fixes::add_exit_node(text, root, flow) {
            f.fixes.push(fix);
        }
        out.push(f);
    }
}

fn entry_index(flow: &Flow) -> Option<usize> {
    flow.nodes
        .iter()
        .find(|n| n.ty == Some(NodeType::Entry))
        .map(|n| n.index)
}

fn reachability(text: &str, root: &Value, flow: &Flow, out: &mut Vec<Finding>) {
    let exit = flow
        .nodes
        .iter()
        .find(|n| n.ty == Some(NodeType::Exit))
        .and_then(|n| n.id.as_deref());
    for node in flow.nodes.iter().filter(|n| crate::fixes::is_dead_end(n)) {
        let ty = node.ty.map_or("a", NodeType::as_str);
        let mut f = finding(
            node.anchor(),
            Code::DeadEnd,
            Severity::Error,
            format!(
                "{ty} node {} leads nowhere: give it a `next` (only exit nodes may end a run)",
                node.label()
            ),
        );
        if let Some(fix) = exit.and_then(|exit| crate::fixes::connect_to(text, root, node, exit)) {
            f.fixes.push(fix);
        }
        out.push(f);
    }
    let Some(entry) = entry_index(flow) else {
        return;
    };
    let mut seen = vec![false; flow.nodes.len()];
    let mut stack = vec![entry];
    seen[entry] = true;
    while let Some(i) = stack.pop() {
        for &j in &flow.successors[i] {
            if !seen[j] {
                seen[j] = true;
                stack.push(j);
            }
        }
    }
    for node in flow.nodes.iter().filter(|n| !seen[n.index]) {
        if node.ty == Some(NodeType::Entry) {
            continue; // reported as multiple-entry
        }
        out.push(finding(
            node.anchor(),
            Code::UnreachableNode,
            Severity::Warning,
            format!("node {} is never reached from the entry", node.label()),
        ));
    }
}

fn cycles(flow: &Flow, out: &mut Vec<Finding>) {
    let components = crate::graph::strongly_connected(&flow.successors);
    let mut component_of = vec![0; flow.nodes.len()];
    for (c, members) in components.iter().enumerate() {
        for &m in members {
            component_of[m] = c;
        }
    }
    for (c, members) in components.iter().enumerate() {
        let cyclic = members.len() > 1 || flow.successors[members[0]].contains(&members[0]);
        if !cyclic {
            continue;
        }
        let leaves = members
            .iter()
            .any(|&m| flow.successors[m].iter().any(|&s| component_of[s] != c));
        let decides = members.iter().any(|&m| {
            matches!(
                flow.nodes[m].ty,
                Some(NodeType::Condition | NodeType::Reflect)
            )
        });
        if leaves && decides {
            continue;
        }
        let mut sorted = members.clone();
        sorted.sort_unstable();
        let first = &flow.nodes[sorted[0]];
        let labels: Vec<String> = sorted.iter().map(|&m| flow.nodes[m].label()).collect();
        let why = if leaves {
            "no `condition` or `reflect` node in it can decide to leave"
        } else {
            "no edge leads out of it to an exit"
        };
        let mut f = finding(
            first.anchor(),
            Code::CycleWithoutExit,
            Severity::Error,
            format!("the loop {} never ends: {why}", labels.join(" → ")),
        );
        f.related.extend(sorted[1..].iter().map(|&m| Related {
            range: flow.nodes[m].anchor(),
            message: format!("{} is part of the loop", flow.nodes[m].label()),
        }));
        out.push(f);
    }
}

fn references(flow: &Flow, items: &[Value], catalog: &dyn Catalog, out: &mut Vec<Finding>) {
    // Indexed at the first unknown name.
    let mut tools = None;
    let mut models = None;
    for (node, item) in flow.nodes.iter().zip(items) {
        let Some(ty) = node.ty else { continue };
        for member in item.as_object().unwrap_or_default() {
            let Some(value) = &member.value else { continue };
            match (ty.field(&member.key.name).map(|f| f.kind), ty) {
                (Some(FieldKind::Tool), _) => check_tool(value, catalog, &mut tools, out),
                (Some(FieldKind::Tools), _) => value
                    .as_array()
                    .unwrap_or_default()
                    .iter()
                    .for_each(|v| check_tool(v, catalog, &mut tools, out)),
                (Some(FieldKind::Models), _) => {
                    let values = match value.as_array() {
                        Some(items) => items,
                        None => std::slice::from_ref(value),
                    };
                    values
                        .iter()
                        .for_each(|v| check_model(v, catalog, &mut models, out));
                }
                (Some(FieldKind::VaultKey), _) => {
                    if let Some(s) = value.as_string() {
                        check_secret(&s.value, value.range, catalog, out);
                    }
                }
                (Some(FieldKind::FlowPath), _) => {
                    if let Some(path) = value.as_str() {
                        check_flow_path(path, value.range, catalog, out);
                    }
                }
                _ => {}
            }
        }
    }
}

/// A sub-flow must be a flow file of the workspace: written relative to this file, never
/// absolute (a flow that only works on one machine, or reads any file it names), never leading
/// out of the workspace.
fn check_flow_path(path: &str, range: TextRange, catalog: &dyn Catalog, out: &mut Vec<Finding>) {
    let outside = |why: &str| {
        finding(
            range,
            Code::FlowOutsideWorkspace,
            Severity::Error,
            format!("sub-flow paths must stay inside the workspace: `{path}` {why}"),
        )
    };
    if is_absolute(path) {
        out.push(outside("is absolute; write it relative to this file"));
        return;
    }
    match catalog.flow_file(path) {
        FlowFileStatus::Unknown | FlowFileStatus::Found => {}
        FlowFileStatus::Missing => out.push(finding(
            range,
            Code::UnknownFlow,
            Severity::Error,
            format!("no flow file at `{path}` (relative to this file)"),
        )),
        FlowFileStatus::OutsideWorkspace => out.push(outside("leads outside it")),
    }
}

/// Whether a path is absolute on any system a flow may be shared with: `/x`, `\x`, `C:\x`,
/// `C:/x`.
fn is_absolute(path: &str) -> bool {
    match path.as_bytes() {
        [b'/' | b'\\', ..] => true,
        [drive, b':', b'/' | b'\\', ..] => drive.is_ascii_alphabetic(),
        _ => false,
    }
}

fn check_tool<'c>(
    value: &Value,
    catalog: &'c dyn Catalog,
    tools: &mut Option<Names<'c>>,
    out: &mut Vec<Finding>,
) {
    let Some(s) = value.as_string() else { return };
    if catalog.tool(&s.value).is_some() {
        return;
    }
    let suggestion = tools
        .get_or_insert_with(|| Names::new(catalog.tools().iter().map(|t| t.name.as_str())))
        .closest(&s.value, None);
    let mut message = format!("no known tool is called `{}`", s.value);
    match suggestion {
        Some(sugg) => message.push_str(&format!(": did you mean `{sugg}`?")),
        None => message.push_str(" (it must come from `tools/` or an MCP server at run time)"),
    }
    let mut f = finding(value.range, Code::UnknownTool, Severity::Warning, message);
    if let Some(sugg) = suggestion {
        f.fixes
            .push(replace_fix(format!("Change to `{sugg}`"), s.content, sugg));
    }
    out.push(f);
}

fn check_model<'c>(
    value: &Value,
    catalog: &'c dyn Catalog,
    models: &mut Option<Names<'c>>,
    out: &mut Vec<Finding>,
) {
    let Some(s) = value.as_string() else { return };
    let name = s.value.as_str();
    if let Some(provider) = catalog.provider_of(name) {
        if let Some(reason) = &provider.unavailable {
            out.push(provider_unavailable(value.range, name, provider, reason));
        }
        return;
    }
    let prefixed = name.split_once('/').is_some_and(|(provider, model)| {
        !model.is_empty() && PROVIDERS.iter().any(|(p, _)| *p == provider)
    });
    if prefixed || catalog.model(name).is_some() {
        return;
    }
    let suggestion = models
        .get_or_insert_with(|| Names::new(catalog.models().iter().map(|m| m.name.as_str())))
        .closest(name, None);
    let mut message = format!("no configured provider knows the model `{name}`");
    match suggestion {
        Some(sugg) => message.push_str(&format!(": did you mean `{sugg}`?")),
        None => message.push_str(" (write `provider/model`, e.g. `ollama/llama3.2`, to route it)"),
    }
    let mut f = finding(value.range, Code::UnknownModel, Severity::Warning, message);
    if let Some(sugg) = suggestion {
        f.fixes
            .push(replace_fix(format!("Change to `{sugg}`"), s.content, sugg));
    }
    out.push(f);
}

/// A model whose provider cannot answer now: the chain skips it at run time, so the user hears
/// of it while writing the flow, with the fix when a vault secret is what is missing.
fn provider_unavailable(
    range: TextRange,
    model: &str,
    provider: &crate::catalog::ProviderEntry,
    reason: &str,
) -> Finding {
    let mut f = finding(
        range,
        Code::ProviderUnavailable,
        Severity::Warning,
        format!(
            "`{model}` goes to provider `{}`, which cannot answer now: {reason}; a run skips it and tries the next model",
            provider.name
        ),
    );
    if let Some(key) = &provider.missing_vault_key {
        f.fixes.push(vault_put_fix(key));
    }
    f
}

/// Opens the editor's prompt that stores `key` in the vault (the value never enters the flow).
fn vault_put_fix(key: &str) -> Fix {
    Fix {
        title: format!("Add `{key}` to the vault…"),
        edits: Vec::new(),
        command: Some(FixCommand {
            title: format!("Add `{key}` to the vault"),
            command: "codexos.vault.put".into(),
            arguments: vec![serde_json::json!({ "key": key })],
        }),
        preferred: true,
    }
}

fn check_secret(key: &str, range: TextRange, catalog: &dyn Catalog, out: &mut Vec<Finding>) {
    if catalog.vault_key(key).is_some() {
        return;
    }
    let mut f = finding(
        range,
        Code::MissingSecret,
        Severity::Warning,
        format!(
            "the vault has no secret `{key}`: the run will fail at this node until it is added"
        ),
    );
    f.fixes.push(vault_put_fix(key));
    out.push(f);
}

fn templates(
    text: &str,
    json: &Json,
    flow: &Flow,
    catalog: &dyn Catalog,
    ids: &mut NodeIds,
    out: &mut Vec<Finding>,
) {
    let strings = template::template_strings(json, flow);
    if strings.is_empty() {
        return;
    }
    let vars = template::defined_vars(json, flow);
    let reach = crate::graph::Reach::new(flow);
    let text_of = |value: &Value| value.as_string().map(|s| s.content);
    for string in strings {
        let Some(content) = text_of(string.value) else {
            continue;
        };
        let Some(raw) = text.get(content.as_usize()) else {
            continue;
        };
        for reference in template::scan(raw, content.start) {
            let node = &flow.nodes[string.node];
            match reference.path {
                RefPath::Input | RefPath::Context => {}
                RefPath::NodeOutput { id, id_range } => {
                    let Some(&source) = flow.by_id.get(&id) else {
                        let suggestion = ids.closest(&id, None);
                        let mut message =
                            format!("`{{{{nodes.{id}.output}}}}`: no node has the id `{id}`");
                        if let Some(s) = suggestion {
                            message.push_str(&format!(": did you mean `{s}`?"));
                        }
                        let fix = suggestion.map(|s| (s.to_owned(), id_range, s.to_owned()));
                        out.push(unknown_reference(reference.range, message, fix));
                        continue;
                    };
                    if !reach.reaches(source, node.index) {
                        let mut f = finding(
                            reference.range,
                            Code::UnknownTemplateRef,
                            Severity::Error,
                            format!(
                                "`{{{{nodes.{id}.output}}}}`: node `{id}` does not run before {}, so it has no output yet",
                                node.label()
                            ),
                        );
                        f.related.push(Related {
                            range: flow.nodes[source].anchor(),
                            message: format!("`{id}` is defined here"),
                        });
                        out.push(f);
                    }
                }
                RefPath::Vault { key, .. } => check_secret(&key, reference.range, catalog, out),
                RefPath::Var { name, name_range } => {
                    if !vars.iter().any(|(v, _)| *v == name) {
                        let suggestion = closest(&name, vars.iter().map(|(v, _)| *v));
                        let mut message = format!(
                            "`{{{{vars.{name}}}}}`: no vault node defines `{name}` (set `\"as\": \"{name}\"` on one)"
                        );
                        if let Some(s) = suggestion {
                            message = format!(
                                "`{{{{vars.{name}}}}}`: no vault node defines `{name}`: did you mean `{s}`?"
                            );
                        }
                        let fix = suggestion.map(|s| (s.to_owned(), name_range, s.to_owned()));
                        out.push(unknown_reference(reference.range, message, fix));
                    }
                }
                RefPath::Unknown(expr) => {
                    let mut known = vec!["input".to_owned(), "context".to_owned()];
                    known.extend(
                        flow.nodes
                            .iter()
                            .filter_map(|n| n.id.as_deref())
                            .map(|id| format!("nodes.{id}.output")),
                    );
                    known.extend(vars.iter().map(|(v, _)| format!("vars.{v}")));
                    let suggestion = closest(&expr, known.iter().map(String::as_str));
                    let mut message = format!(
                        "unknown template reference `{expr}`: expected `input`, `context`, `nodes.<id>.output`, `vault.<key>` or `vars.<name>`"
                    );
                    if let Some(s) = suggestion {
                        message =
                            format!("unknown template reference `{expr}`: did you mean `{s}`?");
                    }
                    let written = |s: &str| format!("{{{{{s}}}}}");
                    let fix = suggestion.map(|s| (written(s), reference.range, written(s)));
                    out.push(unknown_reference(reference.range, message, fix));
                }
                RefPath::Unclosed => out.push(finding(
                    reference.range,
                    Code::UnknownTemplateRef,
                    Severity::Error,
                    "`{{` is never closed with `}}`".into(),
                )),
            }
        }
    }
}

/// An unknown template reference, with the fix `(shown, range, replacement)` of its closest
/// known one.
fn unknown_reference(
    range: TextRange,
    message: String,
    fix: Option<(String, TextRange, String)>,
) -> Finding {
    let mut f = finding(range, Code::UnknownTemplateRef, Severity::Error, message);
    if let Some((shown, at, replacement)) = fix {
        f.fixes.push(replace_fix(
            format!("Change to `{shown}`"),
            at,
            &replacement,
        ));
    }
    f
}
