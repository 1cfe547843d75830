//! What the tool tests share.

use std::path::Path;
use std::sync::{Arc, Mutex};

use codexos_policy::{Approval, Decision, GateConfig, PolicyGate, TrustFile, WorkspaceRequests};
use codexos_tools::ToolContext;

/// A context whose workspace asks for `shell` and `python` and whose user allows everything the
/// policy asks about, for this call only (as `codexos run --yes` does).
pub fn approving(root: &Path) -> ToolContext {
    let gate = PolicyGate::new(GateConfig {
        root: root.to_owned(),
        requests: WorkspaceRequests {
            allow_shell: true,
            allow_python: true,
            offline: false,
        },
        offline: false,
        trust: None,
        approval: Approval::Yes,
    });
    ToolContext::new(root).with_gate(Arc::new(gate))
}

/// A context with a trust store at `trust` and nobody to ask, recording every decision.
#[allow(dead_code, reason = "not every test file uses it")]
pub fn trusting(root: &Path, trust: &Path) -> (ToolContext, Arc<Mutex<Vec<Decision>>>) {
    let gate = PolicyGate::new(GateConfig {
        root: root.to_owned(),
        requests: WorkspaceRequests::default(),
        offline: false,
        trust: Some(TrustFile::at(trust)),
        approval: Approval::Nobody {
            why: "nobody can be asked in this test".to_owned(),
        },
    });
    let decisions = Arc::new(Mutex::new(Vec::new()));
    let seen = decisions.clone();
    let ctx = ToolContext::new(root)
        .with_gate(Arc::new(gate))
        .with_audit(Arc::new(move |decision: &Decision| {
            seen.lock().unwrap().push(decision.clone());
        }));
    (ctx, decisions)
}
