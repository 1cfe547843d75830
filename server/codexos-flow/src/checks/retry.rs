//! The members of a node's `retry`, each with its own range: `attempts` and `backoff_ms` in their
//! bounds, `on` a list of the failures [`RETRY_ON`] names.

use super::{check_value, finding, replace_fix, unknown_field};
use crate::model::{Node, RETRY_FIELDS, RETRY_ON, closest};
use crate::syntax::{Value, ValueKind};
use crate::{Code, Finding, Severity};

pub(super) fn members(node: &Node, retry: &Value, out: &mut Vec<Finding>) {
    let label = node.label();
    for member in retry.as_object().unwrap_or_default() {
        let Some(field) = RETRY_FIELDS.iter().find(|f| f.name == member.key.name) else {
            out.push(unknown_field(
                member,
                &format!("`retry` of node {label}"),
                RETRY_FIELDS.iter(),
            ));
            continue;
        };
        let Some(value) = &member.value else { continue };
        if field.name == "on" {
            on(&label, value, out);
            continue;
        }
        if let Some(message) = check_value(field, value) {
            out.push(finding(
                value.range,
                Code::Schema,
                Severity::Error,
                format!("`retry` of node {label}: {message}"),
            ));
        }
    }
}

fn on(label: &str, value: &Value, out: &mut Vec<Finding>) {
    let kinds: Vec<&str> = RETRY_ON.iter().map(|(kind, _)| *kind).collect();
    let ValueKind::Array(items) = &value.kind else {
        out.push(finding(
            value.range,
            Code::Schema,
            Severity::Error,
            format!(
                "`retry.on` of node {label}: must be a list of failures, found {} (any of {})",
                value.type_name(),
                kinds.join(", ")
            ),
        ));
        return;
    };
    if items.is_empty() {
        out.push(finding(
            value.range,
            Code::Schema,
            Severity::Error,
            format!("`retry.on` of node {label}: an empty list retries nothing; leave `on` out for the default"),
        ));
    }
    for item in items {
        let Some(s) = item.as_string() else {
            out.push(finding(
                item.range,
                Code::Schema,
                Severity::Error,
                format!(
                    "`retry.on` of node {label}: lists failures by name, found {}",
                    item.type_name()
                ),
            ));
            continue;
        };
        if kinds.contains(&s.value.as_str()) {
            continue;
        }
        let suggestion = closest(&s.value, kinds.iter().copied());
        let mut message = format!(
            "`retry.on` of node {label}: unknown failure `{}`: expected one of {}",
            s.value,
            kinds.join(", ")
        );
        if let Some(sugg) = suggestion {
            message.push_str(&format!(" (did you mean `{sugg}`?)"));
        }
        let mut f = finding(item.range, Code::Schema, Severity::Error, message);
        if let Some(sugg) = suggestion {
            f.fixes
                .push(replace_fix(format!("Change to `{sugg}`"), s.content, sugg));
        }
        out.push(f);
    }
}
