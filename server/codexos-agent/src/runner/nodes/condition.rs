//! `condition`: evaluates `if` and sends control to `then` or `else`.

use crate::expr::Expr;
use crate::runner::state::{Failure, Outcome, RunState, Scope};

impl RunState<'_> {
    pub(super) fn condition(
        &self,
        scope: &Scope<'_>,
        source: &str,
        expr: &Expr,
        then: usize,
        otherwise: usize,
        input: String,
    ) -> Result<Outcome, Failure> {
        let held = self.evaluate(scope, "if", source, expr)?;
        let (branch, target) = if held {
            ("held", then)
        } else {
            ("did not hold", otherwise)
        };
        let note = format!("`if` {branch}: going to `{}`", scope.graph.nodes[target].id);
        Ok(Outcome {
            output: input,
            next: vec![target],
            note: Some(note),
            ..Outcome::default()
        })
    }
}
