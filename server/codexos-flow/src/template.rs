//! `{{ ... }}` references inside template strings.

use crate::model::{FieldKind, Flow, NodeType};
use crate::syntax::{Json, Value, ValueKind};
use crate::text::TextRange;

/// What a template reference points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefPath {
    Input,
    Context,
    /// `nodes.<id>.output`; the range is the id's.
    NodeOutput {
        id: String,
        id_range: TextRange,
    },
    /// `vault.<key>`
    Vault {
        key: String,
        key_range: TextRange,
    },
    /// `vars.<name>`
    Var {
        name: String,
        name_range: TextRange,
    },
    /// Anything else, as written.
    Unknown(String),
    /// `{{` with no `}}` after it.
    Unclosed,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateRef {
    /// From `{{` to `}}` inclusive (to the string's end when unclosed).
    pub range: TextRange,
    pub path: RefPath,
}

/// The template references in the raw source of a string's content (between its quotes);
/// `start` is the content's offset in the document.
pub fn scan(raw: &str, start: u32) -> Vec<TemplateRef> {
    let mut refs = Vec::new();
    let mut from = 0;
    while let Some(open) = raw[from..].find("{{").map(|i| from + i) {
        let Some(close) = raw[open + 2..].find("}}").map(|i| open + 2 + i) else {
            refs.push(TemplateRef {
                range: TextRange::new(start + open as u32, start + raw.len() as u32),
                path: RefPath::Unclosed,
            });
            break;
        };
        let inner = &raw[open + 2..close];
        let lead = inner.len() - inner.trim_start().len();
        let expr = inner.trim();
        let expr_start = start + (open + 2 + lead) as u32;
        refs.push(TemplateRef {
            range: TextRange::new(start + open as u32, start + close as u32 + 2),
            path: classify(expr, expr_start),
        });
        from = close + 2;
    }
    refs
}

fn classify(expr: &str, at: u32) -> RefPath {
    let segment_range = |prefix: &str, segment: &str| {
        let s = at + prefix.len() as u32;
        TextRange::new(s, s + segment.len() as u32)
    };
    let parts: Vec<&str> = expr.split('.').collect();
    match parts.as_slice() {
        ["input"] => RefPath::Input,
        ["context"] => RefPath::Context,
        ["nodes", id, "output"] if !id.is_empty() => RefPath::NodeOutput {
            id: (*id).to_owned(),
            id_range: segment_range("nodes.", id),
        },
        ["vault", key] if !key.is_empty() => RefPath::Vault {
            key: (*key).to_owned(),
            key_range: segment_range("vault.", key),
        },
        ["vars", name] if !name.is_empty() => RefPath::Var {
            name: (*name).to_owned(),
            name_range: segment_range("vars.", name),
        },
        _ => RefPath::Unknown(expr.to_owned()),
    }
}

/// A string value in a node that may hold templates.
pub struct TemplateString<'a> {
    pub node: usize,
    pub value: &'a Value,
}

/// Every string in every node field that holds templates (`prompt`, `if`, `args` values, …).
pub fn template_strings<'a>(json: &'a Json, flow: &Flow) -> Vec<TemplateString<'a>> {
    let Some(items) = json
        .root
        .as_ref()
        .and_then(|r| r.get("nodes"))
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (node, item) in flow.nodes.iter().zip(items) {
        let Some(ty) = node.ty else { continue };
        for member in item.as_object().unwrap_or_default() {
            let Some(field) = ty.field(&member.key.name) else {
                continue;
            };
            let Some(value) = &member.value else { continue };
            if matches!(
                field.kind,
                FieldKind::Template | FieldKind::Expression | FieldKind::Args
            ) {
                collect_strings(value, node.index, &mut out);
            }
        }
    }
    out
}

fn collect_strings<'a>(value: &'a Value, node: usize, out: &mut Vec<TemplateString<'a>>) {
    match &value.kind {
        ValueKind::String(_) => out.push(TemplateString { node, value }),
        ValueKind::Array(items) => items.iter().for_each(|v| collect_strings(v, node, out)),
        ValueKind::Object(members) => members
            .iter()
            .filter_map(|m| m.value.as_ref())
            .for_each(|v| collect_strings(v, node, out)),
        _ => {}
    }
}

/// Names of the variables that `vault` nodes define with `as`, with the node that defines each.
pub fn defined_vars<'a>(json: &'a Json, flow: &Flow) -> Vec<(&'a str, usize)> {
    let Some(items) = json
        .root
        .as_ref()
        .and_then(|r| r.get("nodes"))
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    flow.nodes
        .iter()
        .zip(items)
        .filter(|(node, _)| node.ty == Some(NodeType::Vault))
        .filter_map(|(node, item)| Some((item.get("as")?.as_str()?, node.index)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_finds_each_reference_with_its_ranges() {
        let raw = "Q: {{ input }} / {{nodes.plan.output}} {{vault.key}} {{vars.k}} {{x.y}} {{oops";
        let refs = scan(raw, 100);
        let paths: Vec<_> = refs.iter().map(|r| &r.path).collect();
        assert_eq!(paths[0], &RefPath::Input);
        let RefPath::NodeOutput { id, id_range } = paths[1] else {
            panic!("expected a node output, got {:?}", paths[1]);
        };
        assert_eq!(id, "plan");
        assert_eq!(
            &raw[(id_range.start - 100) as usize..(id_range.end - 100) as usize],
            "plan"
        );
        assert!(matches!(paths[2], RefPath::Vault { key, .. } if key == "key"));
        assert!(matches!(paths[3], RefPath::Var { name, .. } if name == "k"));
        assert_eq!(paths[4], &RefPath::Unknown("x.y".into()));
        assert_eq!(paths[5], &RefPath::Unclosed);
        assert_eq!(refs[5].range.end, 100 + raw.len() as u32);
    }
}
