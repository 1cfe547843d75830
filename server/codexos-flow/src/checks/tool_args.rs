//! A tool node's `args` against the tool's JSON Schema, when the catalog knows it (built-ins and
//! plug-ins): the same check the tool registry makes before a call, reported where the value is
//! written. A string holding a template is only known at run time, so only its type is checked.

use std::collections::HashMap;

use jsonschema::error::ValidationErrorKind;

use super::{finding, replace_fix};
use crate::catalog::Catalog;
use crate::model::{Flow, NodeType, closest};
use crate::syntax::{Value, ValueKind};
use crate::{Code, Finding, Severity};

pub(super) fn tool_args(
    flow: &Flow,
    items: &[Value],
    catalog: &dyn Catalog,
    out: &mut Vec<Finding>,
) {
    // Compiled once per tool and check: a large flow calls the same few tools many times.
    let mut validators: HashMap<&str, Option<jsonschema::Validator>> = HashMap::new();
    for (node, item) in flow.nodes.iter().zip(items) {
        if node.ty != Some(NodeType::Tool) {
            continue;
        }
        let Some(tool) = item.get("tool") else {
            continue;
        };
        let Some(name) = tool.as_str() else { continue };
        let Some(schema) = catalog.tool(name).and_then(|entry| entry.schema.as_ref()) else {
            continue;
        };
        // A schema that does not compile is the tool's problem, reported where tools are listed.
        let Some(validator) = validators
            .entry(name)
            .or_insert_with(|| jsonschema::validator_for(schema).ok())
        else {
            continue;
        };
        let args = item.member("args");
        let instance = match args.and_then(|member| member.value.as_ref()) {
            // Not an object: the schema stage reports it.
            Some(value) if value.as_object().is_none() => continue,
            Some(value) => match to_json(value) {
                Some(instance) => instance,
                None => continue,
            },
            None => serde_json::json!({}),
        };
        // Without `args`, a missing argument is reported on the tool's name.
        let anchor = args.map_or(tool.range, |member| member.key.range);
        let args_value = args.and_then(|member| member.value.as_ref());
        for error in validator.iter_errors(&instance) {
            let pointer = error.instance_path().to_string();
            let located = args_value.and_then(|value| locate(value, &pointer));
            if let Some(value) = located
                && is_template(value)
                && !matches!(error.kind(), ValidationErrorKind::Type { .. })
            {
                continue;
            }
            let at = if pointer.is_empty() {
                String::new()
            } else {
                format!(" at `{pointer}`")
            };
            let message = format!(
                "`args` of tool `{name}` (node {}){at}: {error}",
                node.label()
            );
            match (error.kind(), located) {
                (ValidationErrorKind::AdditionalProperties { unexpected }, Some(object)) => {
                    for key in unexpected {
                        out.push(unexpected_key(object, key, schema, name, node.label()));
                    }
                }
                (ValidationErrorKind::Required { .. }, _) => {
                    out.push(finding(
                        anchor,
                        Code::InvalidToolArgs,
                        Severity::Error,
                        message,
                    ));
                }
                (_, Some(value)) => {
                    out.push(finding(
                        value.range,
                        Code::InvalidToolArgs,
                        Severity::Error,
                        message,
                    ));
                }
                (_, None) => {
                    out.push(finding(
                        anchor,
                        Code::InvalidToolArgs,
                        Severity::Error,
                        message,
                    ));
                }
            }
        }
    }
}

/// An argument the schema does not take, on its key, with the closest one it does take.
fn unexpected_key(
    object: &Value,
    key: &str,
    schema: &serde_json::Value,
    tool: &str,
    node: String,
) -> Finding {
    let member = object
        .as_object()
        .unwrap_or_default()
        .iter()
        .find(|member| member.key.name == key);
    let range = member.map_or(object.range, |member| member.key.range);
    let known = schema
        .get("properties")
        .and_then(serde_json::Value::as_object)
        .map(|properties| properties.keys().map(String::as_str).collect::<Vec<_>>())
        .unwrap_or_default();
    let suggestion = closest(key, known.iter().copied());
    let mut message =
        format!("`args` of tool `{tool}` (node {node}): `{key}` is not an argument of `{tool}`");
    match suggestion {
        Some(s) => message.push_str(&format!(": did you mean `{s}`?")),
        None if !known.is_empty() => {
            message.push_str(&format!(" (it takes {})", list(&known)));
        }
        None => {}
    }
    let mut f = finding(range, Code::InvalidToolArgs, Severity::Error, message);
    if let (Some(s), Some(member)) = (suggestion, member) {
        f.fixes.push(replace_fix(
            format!("Rename to `{s}`"),
            member.key.content,
            s,
        ));
    }
    f
}

fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn is_template(value: &Value) -> bool {
    value.as_str().is_some_and(|s| s.contains("{{"))
}

/// The value at a JSON pointer (`/a/0/b`) below `value`.
fn locate<'v>(value: &'v Value, pointer: &str) -> Option<&'v Value> {
    let mut at = value;
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        at = match &at.kind {
            ValueKind::Object(_) => at.get(&token)?,
            ValueKind::Array(items) => items.get(token.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(at)
}

/// The arguments as the tool would see them; `None` when part of them is not JSON yet.
fn to_json(value: &Value) -> Option<serde_json::Value> {
    Some(match &value.kind {
        ValueKind::Object(members) => serde_json::Value::Object(
            members
                .iter()
                .map(|member| Some((member.key.name.clone(), to_json(member.value.as_ref()?)?)))
                .collect::<Option<_>>()?,
        ),
        ValueKind::Array(items) => {
            serde_json::Value::Array(items.iter().map(to_json).collect::<Option<_>>()?)
        }
        ValueKind::String(s) => serde_json::Value::String(s.value.clone()),
        // Whole numbers stay integers, as serde_json reads them when the tool is called.
        ValueKind::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => {
            serde_json::Value::from(*n as i64)
        }
        ValueKind::Number(n) => serde_json::Value::from(*n),
        ValueKind::Bool(b) => serde_json::Value::Bool(*b),
        ValueKind::Null => serde_json::Value::Null,
        ValueKind::Invalid => return None,
    })
}
