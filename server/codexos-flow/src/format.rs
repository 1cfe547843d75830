//! The formatter: stable key order (the language's field order, unknown fields after, in their
//! original order), two-space indentation, scalars exactly as written.

use crate::FormatError;
use crate::model::{FILE_FIELDS, NodeType};
use crate::syntax::{Json, Member, Value, ValueKind};

/// Objects and lists of scalars this short stay on one line (`"ui": { "x": 1, "y": 2 }`).
const INLINE_WIDTH: usize = 60;

#[derive(Clone, Copy)]
enum Context {
    File,
    Node,
    Other,
}

pub fn format(text: &str, json: &Json) -> Result<String, FormatError> {
    if let Some(error) = json.errors.first() {
        return Err(FormatError {
            message: format!("the document is not valid JSON ({})", error.message),
        });
    }
    let Some(root) = &json.root else {
        return Err(FormatError {
            message: "the document is empty".into(),
        });
    };
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    write_value(text, root, Context::File, 0, &mut out);
    out.push('\n');
    Ok(out)
}

fn write_value(text: &str, value: &Value, context: Context, depth: usize, out: &mut String) {
    match &value.kind {
        ValueKind::Object(members) => write_object(text, members, context, depth, out),
        ValueKind::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            if let Some(inline) = inline(text, value) {
                out.push_str(&inline);
                return;
            }
            let item_context = match context {
                Context::File => Context::Node,
                _ => Context::Other,
            };
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                out.push_str(if i == 0 { "\n" } else { ",\n" });
                indent(depth + 1, out);
                write_value(text, item, item_context, depth + 1, out);
            }
            out.push('\n');
            indent(depth, out);
            out.push(']');
        }
        _ => out.push_str(&text[value.range.as_usize()]),
    }
}

fn write_object(text: &str, members: &[Member], context: Context, depth: usize, out: &mut String) {
    if members.is_empty() {
        out.push_str("{}");
        return;
    }
    let order: Vec<&str> = match context {
        Context::File => FILE_FIELDS.iter().map(|f| f.name).collect(),
        Context::Node => members
            .iter()
            .find(|m| m.key.name == "type")
            .and_then(|m| m.value.as_ref()?.as_str())
            .and_then(NodeType::parse)
            .map(|ty| ty.all_fields().map(|f| f.name).collect())
            .unwrap_or_else(|| vec!["id", "type"]),
        Context::Other => Vec::new(),
    };
    let rank = |m: &Member| {
        order
            .iter()
            .position(|n| *n == m.key.name)
            .unwrap_or(order.len())
    };
    let mut sorted: Vec<&Member> = members.iter().collect();
    // A stable sort keeps unknown fields (all ranked last) in their original order.
    sorted.sort_by_key(|m| rank(m));
    let child_context = |m: &Member| match (context, m.key.name.as_str()) {
        (Context::File, "nodes") => Context::File,
        _ => Context::Other,
    };
    let all_scalar = members
        .iter()
        .all(|m| m.value.as_ref().is_some_and(is_scalar));
    if all_scalar && matches!(context, Context::Other) {
        let parts: Vec<String> = sorted
            .iter()
            .map(|m| {
                format!(
                    "{}: {}",
                    &text[m.key.range.as_usize()],
                    value_source(text, m)
                )
            })
            .collect();
        let line = format!("{{ {} }}", parts.join(", "));
        if line.len() <= INLINE_WIDTH {
            out.push_str(&line);
            return;
        }
    }
    out.push('{');
    for (i, member) in sorted.iter().enumerate() {
        out.push_str(if i == 0 { "\n" } else { ",\n" });
        indent(depth + 1, out);
        out.push_str(&text[member.key.range.as_usize()]);
        out.push_str(": ");
        match &member.value {
            Some(value) => write_value(text, value, child_context(member), depth + 1, out),
            None => out.push_str("null"),
        }
    }
    out.push('\n');
    indent(depth, out);
    out.push('}');
}

fn value_source<'t>(text: &'t str, member: &Member) -> &'t str {
    member
        .value
        .as_ref()
        .map_or("null", |v| &text[v.range.as_usize()])
}

fn is_scalar(value: &Value) -> bool {
    !matches!(value.kind, ValueKind::Object(_) | ValueKind::Array(_))
}

fn inline(text: &str, array: &Value) -> Option<String> {
    let items = array.as_array()?;
    if !items.iter().all(is_scalar) {
        return None;
    }
    let parts: Vec<&str> = items.iter().map(|i| &text[i.range.as_usize()]).collect();
    let line = format!("[{}]", parts.join(", "));
    (line.len() <= INLINE_WIDTH).then_some(line)
}

fn indent(depth: usize, out: &mut String) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}
