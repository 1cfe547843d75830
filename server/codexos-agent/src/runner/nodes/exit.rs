//! `exit`: ends the run with its `output` (or its input).

use crate::runner::state::{Failure, Outcome, RunState, Scope};

impl RunState<'_> {
    pub(super) fn exit(
        &self,
        scope: &Scope<'_>,
        output: Option<&str>,
        input: String,
    ) -> Result<Outcome, Failure> {
        let output = match output {
            Some(template) => self.render(scope, "output", template)?,
            None => input,
        };
        Ok(Outcome {
            output,
            exit: true,
            ..Outcome::default()
        })
    }
}
