//! Fixes that insert JSON into the document, matching the layout the user already has.

use crate::model::{Flow, Node, NodeType};
use crate::syntax::Value;
use crate::text::TextRange;
use crate::{Fix, TextEdit};

/// Adds an `exit` node at the end of `nodes` and points every dead end at it.
pub(crate) fn add_exit_node(text: &str, root: &Value, flow: &Flow) -> Option<Fix> {
    let nodes = root.get("nodes")?;
    let items = nodes.as_array()?;
    let id = ["end", "exit", "done"]
        .into_iter()
        .map(str::to_owned)
        .chain((2..).map(|n| format!("end_{n}")))
        .find(|candidate| !flow.by_id.contains_key(candidate))?;
    let node_json = format!(r#"{{ "id": "{id}", "type": "exit" }}"#);
    let mut edits = vec![append_item(text, nodes, &node_json)];
    for (node, item) in flow.nodes.iter().zip(items) {
        if is_dead_end(node) {
            edits.push(insert_member(text, item, "next", &format!("\"{id}\""))?);
        }
    }
    Some(Fix {
        title: format!("Add an exit node `{id}` and connect dead ends to it"),
        edits,
        command: None,
        preferred: true,
    })
}

/// Sets `next` of a dead-end node to `target`.
pub(crate) fn connect_to(text: &str, root: &Value, node: &Node, target: &str) -> Option<Fix> {
    let item = root.get("nodes")?.as_array()?.get(node.index)?;
    let edit = insert_member(text, item, "next", &format!("\"{target}\""))?;
    Some(Fix {
        title: format!("Continue with `{target}`"),
        edits: vec![edit],
        command: None,
        preferred: true,
    })
}

pub(crate) fn is_dead_end(node: &Node) -> bool {
    node.ty
        .is_some_and(|ty| ty.has_next() && ty != NodeType::Exit)
        && node.edges.is_empty()
}

/// An edit adding `"key": value` as the last member of `object`.
fn insert_member(text: &str, object: &Value, key: &str, value: &str) -> Option<TextEdit> {
    let members = object.as_object()?;
    let member = format!("\"{key}\": {value}");
    Some(match members.last() {
        Some(last) => after(text, object.range, last.range().end, &member),
        None => TextEdit {
            range: TextRange::empty(object.range.start + 1),
            new_text: format!(" {member} "),
        },
    })
}

fn append_item(text: &str, array: &Value, item: &str) -> TextEdit {
    match array.as_array().and_then(<[Value]>::last) {
        Some(last) => after(text, array.range, last.range.end, item),
        None => TextEdit {
            range: TextRange::empty(array.range.start + 1),
            new_text: item.to_owned(),
        },
    }
}

/// Inserts `, <new>` after the element ending at `end`: on its own line, with the element's
/// indentation, when the container spans several lines.
fn after(text: &str, container: TextRange, end: u32, new: &str) -> TextEdit {
    let multiline = text
        .get(container.as_usize())
        .is_some_and(|source| source.contains('\n'));
    let new_text = if multiline {
        let line_start = text[..end as usize].rfind('\n').map_or(0, |i| i + 1);
        let indent: String = text[line_start..]
            .chars()
            .take_while(|c| *c == ' ' || *c == '\t')
            .collect();
        format!(",\n{indent}{new}")
    } else {
        format!(", {new}")
    };
    TextEdit {
        range: TextRange::empty(end),
        new_text,
    }
}
