//! `if` and `until`: parsed once with the flow ([`crate::model::NodeExpression`]); a malformed
//! expression, or a literal `matches` pattern that is not a regular expression, is an error at
//! its exact place inside the JSON string (escapes counted as written).

use super::finding;
use crate::model::Flow;
use crate::syntax::source_offset;
use crate::text::TextRange;
use crate::{Code, Finding, Severity};

pub(super) fn expressions(text: &str, flow: &Flow, out: &mut Vec<Finding>) {
    for expression in &flow.expressions {
        let Err(error) = &expression.parsed else {
            continue;
        };
        let at = |decoded: usize| source_offset(text, expression.content, decoded);
        out.push(finding(
            TextRange::new(at(error.offset), at(error.end)),
            Code::InvalidExpression,
            Severity::Error,
            format!(
                "`{}` of node {}: {}",
                expression.field,
                flow.nodes[expression.node].label(),
                error.message
            ),
        ));
    }
}
