//! `tool`: renders `args` and calls the tool through the tool box.

use serde_json::Value;

use crate::graph::NodeSpec;
use crate::runner::state::{Failure, Outcome, RunState, Scope};

impl RunState<'_> {
    pub(super) async fn tool(
        &self,
        scope: &Scope<'_>,
        spec: &NodeSpec,
        label: &str,
        tool: &str,
        args: &Value,
    ) -> Result<Outcome, Failure> {
        let args = self.render_value(scope, "args", args)?;
        let output = self.call_tool(label, tool, args, spec.call.timeout).await?;
        Ok(Outcome::passing(spec, output, None))
    }
}
