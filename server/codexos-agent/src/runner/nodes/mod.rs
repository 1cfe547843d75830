//! What each node type does when it runs: one module per type, dispatched from
//! [`RunState::execute_node`].

mod condition;
mod exit;
mod flow;
mod llm;
mod rag;
mod reflect;
mod tool;
mod vault;

use super::state::{Failure, Feedback, Outcome, RunState, Scope};
use crate::graph::NodeKind;

impl RunState<'_> {
    pub(super) async fn execute_node(
        &self,
        scope: &Scope<'_>,
        node: usize,
        label: &str,
        input: String,
        feedback: Option<Feedback>,
    ) -> Result<Outcome, Failure> {
        let spec = &scope.graph.nodes[node];
        match &spec.kind {
            NodeKind::Entry => Ok(Outcome::passing(spec, input, None)),
            NodeKind::Exit { output } => self.exit(scope, output.as_deref(), input),
            NodeKind::Condition {
                source,
                expr,
                then,
                otherwise,
            } => self.condition(scope, source, expr, *then, *otherwise, input),
            NodeKind::Vault { key, var } => self.vault(scope, spec, key, var.as_deref(), input),
            NodeKind::Tool { tool, args } => self.tool(scope, spec, label, tool, args).await,
            NodeKind::Rag { query, k } => self.rag(scope, spec, query, *k).await,
            NodeKind::Llm(llm) => self.llm(scope, spec, label, llm, input, feedback).await,
            NodeKind::Reflect(reflect) => self.reflect(scope, node, label, reflect).await,
            NodeKind::Flow { path, input: field } => {
                self.flow(scope, spec, label, path, field.as_deref(), input)
                    .await
            }
        }
    }
}
