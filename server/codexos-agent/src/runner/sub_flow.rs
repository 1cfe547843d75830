//! Sub-flows: a `flow` node's file, checked, compiled and walked as a nested scope with
//! prefixed node ids, within the depth bound and the workspace.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use codexos_flow::FlowFile;
use codexos_policy::Action;
use codexos_tools::{Placement, place_relative};

use super::catalog::RunCatalog;
use super::list;
use super::state::{Ended, Failure, RunState, Scope};
use crate::graph::Graph;
use crate::walk::Walk;

impl RunState<'_> {
    pub(crate) async fn sub_flow(
        &self,
        scope: &Scope<'_>,
        label: &str,
        path: &str,
        input: String,
    ) -> Result<String, Failure> {
        let dir = scope.flow_dir.as_ref().ok_or_else(|| {
            format!("`flow`: cannot find `{path}`: sub-flow paths are relative to the flow file, and this flow is not a file")
        })?;
        if scope.depth + 1 > self.runner.limits.max_depth {
            return Err(Failure::Failed(format!(
                "`flow`: sub-flows nest deeper than {} levels, the bound of this run",
                self.runner.limits.max_depth
            )));
        }
        let file_path = dir.join(path);
        let inside_workspace = self
            .confine_to
            .as_deref()
            .is_none_or(|root| place_relative(root, dir, path) != Placement::Outside);
        let action = Action::SubFlow {
            path: path.to_owned(),
            inside_workspace,
        };
        let decision = self.decide(label, "flow", action).await;
        if !decision.allowed() {
            return Err(Failure::Failed(format!(
                "`flow`: refused: {}",
                decision.reason
            )));
        }
        let text = std::fs::read_to_string(&file_path)
            .map_err(|error| format!("`flow`: cannot read {}: {error}", file_path.display()))?;
        let file = FlowFile::parse(&text);
        let graph = Graph::compile(
            &file,
            &RunCatalog::new(Some(&file_path), self.confine_to.as_deref()),
        )
        .map_err(|problems| format!("`flow`: {path} has errors:{}", list(&problems)))?;
        let inner = Scope {
            graph: &graph,
            flow_dir: file_path.parent().map(Path::to_owned),
            prefix: format!("{label}/"),
            depth: scope.depth + 1,
            input,
            outputs: Mutex::new(HashMap::new()),
            vars: Mutex::new(HashMap::new()),
        };
        match self.walk(&inner, Walk::new(&graph)).await {
            Ended::Exited(output) => Ok(output),
            Ended::Failed { problem, .. } => {
                Err(Failure::Failed(format!("sub-flow {path}: {problem}")))
            }
            Ended::Stopped { reason, .. } => Err(Failure::Stopped(reason)),
        }
    }
}
