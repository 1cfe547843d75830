//! What a run checks a flow against before it starts.

use std::path::{Path, PathBuf};

use codexos_flow::{Catalog, Entry, FlowSource, StaticCatalog};
use codexos_tools::{Placement, place_relative, read_relative};

/// The built-in names, with sub-flow paths checked on disk next to the flow file and inside
/// the workspace, by the rule `codexos check` uses: a flow whose sub-flow leads out, or back to
/// itself, never starts. Only error findings stop a run, and those do not depend on which tools
/// or models exist.
pub(super) struct RunCatalog {
    names: StaticCatalog,
    path: Option<PathBuf>,
    dir: Option<PathBuf>,
    /// Sub-flows must stay inside it; `None`: inside the flow's own folder.
    root: Option<PathBuf>,
}

impl RunCatalog {
    pub(super) fn new(flow_path: Option<&Path>, root: Option<&Path>) -> RunCatalog {
        let dir = flow_path.and_then(Path::parent).map(Path::to_owned);
        RunCatalog {
            names: StaticCatalog::builtin(),
            path: flow_path.map(Path::to_owned),
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

    fn flow_key(&self) -> Option<String> {
        let path = self.path.as_deref()?.canonicalize().ok()?;
        Some(path.display().to_string())
    }

    fn read_flow(&self, from: Option<&str>, path: &str) -> Option<FlowSource> {
        let dir = match from {
            Some(key) => Path::new(key).parent()?.to_owned(),
            None => self.dir.clone()?,
        };
        let (real, text) = read_relative(self.root.as_deref()?, &dir, path)?;
        Some(FlowSource {
            key: real.display().to_string(),
            text,
        })
    }
}
