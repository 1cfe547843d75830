//! Sub-flows followed through the catalog, the way a run would nest them: a flow that leads back
//! to itself (A runs B runs A), or a chain deeper than [`MAX_SUB_FLOW_DEPTH`], is an error on the
//! `flow` node that starts it, found before anything runs rather than at depth 8 of a run.

use std::collections::HashMap;

use super::{finding, is_absolute};
use crate::catalog::{Catalog, FlowSource};
use crate::model::{Flow, NodeType};
use crate::syntax::Value;
use crate::{Code, Finding, MAX_SUB_FLOW_DEPTH, Severity};

/// Flow files read for one check at most, so a large tree of sub-flows stays quick to check.
const MAX_FILES: usize = 64;

pub(super) fn sub_flows(
    flow: &Flow,
    items: &[Value],
    catalog: &dyn Catalog,
    out: &mut Vec<Finding>,
) {
    let mut walk = Walker {
        catalog,
        stack: catalog.flow_key().into_iter().collect(),
        heights: HashMap::new(),
        files: 0,
    };
    for (node, item) in flow.nodes.iter().zip(items) {
        if node.ty != Some(NodeType::Flow) {
            continue;
        }
        let Some(value) = item.get("flow") else {
            continue;
        };
        let Some(path) = value.as_str() else { continue };
        if is_absolute(path) {
            continue;
        }
        let Some(source) = catalog.read_flow(None, path) else {
            continue;
        };
        let problem = match walk.explore(path, source) {
            Explored::Height(height, chain) if height > MAX_SUB_FLOW_DEPTH => Some((
                Code::SubFlowTooDeep,
                format!(
                    "`flow` of node {}: sub-flows nest {height} levels deep here ({}), deeper than a run allows ({MAX_SUB_FLOW_DEPTH})",
                    node.label(),
                    chain.join(" → ")
                ),
            )),
            Explored::Height(..) => None,
            Explored::Cycle(chain) => Some((
                Code::SubFlowCycle,
                format!(
                    "`flow` of node {}: sub-flows lead back to a flow that is already running ({}): a run would nest them until its depth bound ({MAX_SUB_FLOW_DEPTH}) stops it",
                    node.label(),
                    chain.join(" → ")
                ),
            )),
        };
        if let Some((code, message)) = problem {
            out.push(finding(value.range, code, Severity::Error, message));
        }
    }
}

enum Explored {
    /// How many levels of sub-flows a run of this flow nests (itself included), and the paths
    /// of the deepest chain.
    Height(usize, Vec<String>),
    /// The paths from this flow to the one that is already running.
    Cycle(Vec<String>),
}

struct Walker<'c> {
    catalog: &'c dyn Catalog,
    /// The keys of the flows on the current chain (the checked flow first, when it is a file).
    stack: Vec<String>,
    /// Flows already explored, by key.
    heights: HashMap<String, (usize, Vec<String>)>,
    files: usize,
}

impl Walker<'_> {
    fn explore(&mut self, path: &str, source: FlowSource) -> Explored {
        if self.stack.contains(&source.key) {
            return Explored::Cycle(vec![path.to_owned()]);
        }
        if let Some((height, chain)) = self.heights.get(&source.key) {
            let mut chain = chain.clone();
            chain.insert(0, path.to_owned());
            return Explored::Height(*height, chain);
        }
        self.files += 1;
        if self.files > MAX_FILES || self.stack.len() > MAX_SUB_FLOW_DEPTH {
            return Explored::Height(1, vec![path.to_owned()]);
        }
        let json = crate::syntax::parse(&source.text);
        let children: Vec<String> = json
            .root
            .as_ref()
            .and_then(|root| root.get("nodes"))
            .and_then(Value::as_array)
            .unwrap_or_default()
            .iter()
            .filter(|item| item.get("type").and_then(Value::as_str) == Some("flow"))
            .filter_map(|item| item.get("flow")?.as_str().map(str::to_owned))
            .filter(|child| !is_absolute(child))
            .collect();
        self.stack.push(source.key.clone());
        let mut deepest = (0, Vec::new());
        let mut cycle = None;
        for child in children {
            let Some(inner) = self.catalog.read_flow(Some(&source.key), &child) else {
                continue;
            };
            match self.explore(&child, inner) {
                Explored::Cycle(chain) => {
                    cycle = Some(chain);
                    break;
                }
                Explored::Height(height, chain) if height > deepest.0 => deepest = (height, chain),
                Explored::Height(..) => {}
            }
        }
        self.stack.pop();
        if let Some(mut chain) = cycle {
            chain.insert(0, path.to_owned());
            return Explored::Cycle(chain);
        }
        let (height, mut chain) = deepest;
        self.heights.insert(source.key, (height + 1, chain.clone()));
        chain.insert(0, path.to_owned());
        Explored::Height(height + 1, chain)
    }
}
