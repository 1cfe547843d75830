//! `{{ ... }}` templates: the one grammar of references ([`Reference`]), found with their
//! ranges in a flow's source for the checks and the editor ([`scan`]), and rendered against a
//! run's values ([`render`]) by the runner. Pure: the caller answers each reference through
//! [`Lookup`], so the same code serves prompts, tool arguments, expressions and the exit's output.

use std::borrow::Cow;
use std::fmt;

use crate::model::{FieldKind, Flow, NodeType};
use crate::syntax::{Json, Value, ValueKind};
use crate::text::TextRange;

/// What a `{{ ... }}` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reference<'a> {
    Input,
    Context,
    NodeOutput(&'a str),
    Vault(&'a str),
    Var(&'a str),
}

impl fmt::Display for Reference<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Input => f.write_str("{{input}}"),
            Reference::Context => f.write_str("{{context}}"),
            Reference::NodeOutput(id) => write!(f, "{{{{nodes.{id}.output}}}}"),
            Reference::Vault(key) => write!(f, "{{{{vault.{key}}}}}"),
            Reference::Var(name) => write!(f, "{{{{vars.{name}}}}}"),
        }
    }
}

impl<'a> Reference<'a> {
    /// The reference written between `{{` and `}}` (already trimmed).
    pub fn parse(expr: &'a str) -> Option<Reference<'a>> {
        let parts: Vec<&str> = expr.split('.').collect();
        match parts.as_slice() {
            ["input"] => Some(Reference::Input),
            ["context"] => Some(Reference::Context),
            ["nodes", id, "output"] if !id.is_empty() => Some(Reference::NodeOutput(id)),
            ["vault", key] if !key.is_empty() => Some(Reference::Vault(key)),
            ["vars", name] if !name.is_empty() => Some(Reference::Var(name)),
            _ => None,
        }
    }
}

/// Answers template references; `Err` says why a reference has no value (shown to the user).
pub trait Lookup {
    fn lookup(&mut self, reference: Reference<'_>) -> Result<Cow<'_, str>, String>;
}

/// Why a template could not be rendered, at a byte offset of the template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateError {
    pub offset: usize,
    /// One-based, in characters.
    pub column: usize,
    pub message: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for TemplateError {}

/// `template` with every `{{ ... }}` replaced by its value.
pub fn render(template: &str, lookup: &mut dyn Lookup) -> Result<String, TemplateError> {
    let error = |offset: usize, message: String| TemplateError {
        offset,
        column: template[..offset].chars().count() + 1,
        message,
    };
    let mut out = String::with_capacity(template.len());
    let mut from = 0;
    while let Some(open) = template[from..].find("{{").map(|i| from + i) {
        out.push_str(&template[from..open]);
        let Some(close) = template[open + 2..].find("}}").map(|i| open + 2 + i) else {
            return Err(error(open, "`{{` is never closed with `}}`".to_owned()));
        };
        let written = &template[open..close + 2];
        let expr = template[open + 2..close].trim();
        let Some(reference) = Reference::parse(expr) else {
            return Err(error(
                open,
                format!(
                    "`{written}` names nothing: use {{{{input}}}}, {{{{context}}}}, {{{{nodes.<id>.output}}}}, {{{{vault.<key>}}}} or {{{{vars.<name>}}}}"
                ),
            ));
        };
        match lookup.lookup(reference) {
            Ok(value) => out.push_str(&value),
            Err(message) => return Err(error(open, format!("`{written}`: {message}"))),
        }
        from = close + 2;
    }
    out.push_str(&template[from..]);
    Ok(out)
}

/// Whether `text` holds a template reference at all (plain strings skip rendering).
pub fn has_references(text: &str) -> bool {
    text.contains("{{")
}

/// What a template reference points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RefPath {
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
pub(crate) struct TemplateRef {
    /// From `{{` to `}}` inclusive (to the string's end when unclosed).
    pub range: TextRange,
    pub path: RefPath,
}

/// The template references in the raw source of a string's content (between its quotes);
/// `start` is the content's offset in the document.
pub(crate) fn scan(raw: &str, start: u32) -> Vec<TemplateRef> {
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
    match Reference::parse(expr) {
        Some(Reference::Input) => RefPath::Input,
        Some(Reference::Context) => RefPath::Context,
        Some(Reference::NodeOutput(id)) => RefPath::NodeOutput {
            id: id.to_owned(),
            id_range: segment_range("nodes.", id),
        },
        Some(Reference::Vault(key)) => RefPath::Vault {
            key: key.to_owned(),
            key_range: segment_range("vault.", key),
        },
        Some(Reference::Var(name)) => RefPath::Var {
            name: name.to_owned(),
            name_range: segment_range("vars.", name),
        },
        None => RefPath::Unknown(expr.to_owned()),
    }
}

/// A string value in a node that may hold templates.
pub(crate) struct TemplateString<'a> {
    pub node: usize,
    pub value: &'a Value,
}

/// Every string in every node field that holds templates (`prompt`, `if`, `args` values, …).
pub(crate) fn template_strings<'a>(json: &'a Json, flow: &Flow) -> Vec<TemplateString<'a>> {
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
pub(crate) fn defined_vars<'a>(json: &'a Json, flow: &Flow) -> Vec<(&'a str, usize)> {
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
    use std::collections::HashMap;

    use expect_test::{Expect, expect};

    use super::*;

    struct Values(HashMap<&'static str, &'static str>);

    impl Lookup for Values {
        fn lookup(&mut self, reference: Reference<'_>) -> Result<Cow<'_, str>, String> {
            let key = reference.to_string();
            self.0
                .iter()
                .find(|(name, _)| **name == key)
                .map(|(_, value)| Cow::Borrowed(*value))
                .ok_or_else(|| "has no value in this run".to_owned())
        }
    }

    fn check(template: &str, expected: Expect) {
        let mut values = Values(HashMap::from([
            ("{{input}}", "the input"),
            ("{{context}}", "ctx"),
            ("{{nodes.plan.output}}", "a plan"),
            ("{{vault.api_key}}", "s3cret"),
            ("{{vars.token}}", "t0ken"),
        ]));
        let rendered = match render(template, &mut values) {
            Ok(text) => text,
            Err(error) => format!("error {error}"),
        };
        expected.assert_eq(&rendered);
    }

    #[test]
    fn every_root_resolves_with_or_without_spaces() {
        check(
            "{{input}}|{{ context }}|{{nodes.plan.output}}|{{vault.api_key}}|{{  vars.token}}",
            expect!["the input|ctx|a plan|s3cret|t0ken"],
        );
    }

    #[test]
    fn text_without_references_comes_back_unchanged() {
        check("just { braces } here", expect!["just { braces } here"]);
    }

    #[test]
    fn an_unknown_root_names_the_ones_that_exist() {
        check(
            "Hi {{user.name}}",
            expect![
                "error at column 4: `{{user.name}}` names nothing: use {{input}}, {{context}}, {{nodes.<id>.output}}, {{vault.<key>}} or {{vars.<name>}}"
            ],
        );
    }

    #[test]
    fn an_unclosed_reference_points_at_its_braces() {
        check(
            "é {{input",
            expect!["error at column 3: `{{` is never closed with `}}`"],
        );
    }

    #[test]
    fn a_reference_without_a_value_says_which() {
        check(
            "{{nodes.later.output}}",
            expect!["error at column 1: `{{nodes.later.output}}`: has no value in this run"],
        );
    }

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
