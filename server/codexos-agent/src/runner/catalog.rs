//! What a run checks a flow against before it starts.

use std::path::{Path, PathBuf};

use codexos_flow::{Catalog, Entry, StaticCatalog};
use codexos_tools::{Placement, place_relative};

/// The built-in names, with sub-flow paths checked on disk next to the flow file and inside
/// the workspace, by the rule `codexos check` uses: a flow whose sub-flow leads out never
/// starts. Only error findings stop a run, and those do not depend on which tools or models exist.
pub(super) struct RunCatalog {
    names: StaticCatalog,
    dir: Option<PathBuf>,
    /// Sub-flows must stay inside it; `None`: inside the flow's own folder.
    root: Option<PathBuf>,
}

impl RunCatalog {
    pub(super) fn new(flow_path: Option<&Path>, root: Option<&Path>) -> RunCatalog {
        let dir = flow_path.and_then(Path::parent).map(Path::to_owned);
        RunCatalog {
            names: StaticCatalog::builtin(),
            root: root.map(Path::to_owned).or_else(|| dir.clone()),
            dir,
        }
    }
}

impl Catalog for RunCatalog {
    fn tools(&self) -> &[Entry] {
        &self.names.tools
    }

    fn models(&self) -> &[Entry] {
        &self.names.models
    }

    fn vault_keys(&self) -> &[Entry] {
        &self.names.vault_keys
    }

    fn flow_file(&self, path: &str) -> codexos_flow::FlowFileStatus {
        let (Some(dir), Some(root)) = (&self.dir, &self.root) else {
            return codexos_flow::FlowFileStatus::Unknown;
        };
        match place_relative(root, dir, path) {
            Placement::Found(_) => codexos_flow::FlowFileStatus::Found,
            Placement::Missing => codexos_flow::FlowFileStatus::Missing,
            Placement::Outside => codexos_flow::FlowFileStatus::OutsideWorkspace,
        }
    }
}
