//! `flow`: runs another flow file as a nested walk (see [`crate::runner::sub_flow`]).

use crate::graph::NodeSpec;
use crate::runner::state::{Failure, Outcome, RunState, Scope};

impl RunState<'_> {
    pub(super) async fn flow(
        &self,
        scope: &Scope<'_>,
        spec: &NodeSpec,
        label: &str,
        path: &str,
        input_template: Option<&str>,
        input: String,
    ) -> Result<Outcome, Failure> {
        let input = match input_template {
            Some(template) => self.render(scope, "input", template)?,
            None => input,
        };
        let output = self.sub_flow(scope, label, path, input).await?;
        Ok(Outcome::passing(spec, output, None))
    }
}
