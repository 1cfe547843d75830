use std::path::{Path, PathBuf};

use codexos_flow::{Entry, FLOW_SUFFIX, Finding, FlowFile};
use codexos_tools::ToolRegistry;

use crate::catalog::{FileCatalog, ServiceCatalog};
use crate::check::{self, CheckReport};
use crate::config::{CONFIG_FILE, Config, ConfigError, LoadedConfig};

/// A workspace root, its configuration and the catalog that configuration gives.
#[derive(Clone, Debug)]
pub struct Workspace {
    root: PathBuf,
    loaded: LoadedConfig,
    catalog: ServiceCatalog,
}

impl Workspace {
    /// The workspace at `root`, configured by its `codexos.toml` if it has one.
    pub fn load(root: &Path) -> Result<Workspace, ConfigError> {
        Ok(Workspace::with_config(root, Config::load(root)?))
    }

    /// The workspace that `start` lies in: the nearest folder at or above it that holds a
    /// `codexos.toml`, or `start` itself when none does.
    pub fn discover(start: &Path) -> Result<Workspace, ConfigError> {
        let root = start
            .ancestors()
            .find(|dir| dir.join(CONFIG_FILE).is_file())
            .unwrap_or(start);
        Workspace::load(root)
    }

    pub fn with_config(root: &Path, loaded: LoadedConfig) -> Workspace {
        let mut workspace = Workspace {
            root: root.to_owned(),
            catalog: ServiceCatalog::new(&loaded.config),
            loaded,
        };
        let plugins = ToolRegistry::for_workspace(root)
            .list()
            .into_iter()
            .map(|tool| Entry::new(tool.name, tool.description));
        // A malformed `[mcp]` section is reported where the tools are used; here it names no server.
        let mcp_servers = workspace
            .mcp_config()
            .map(|mcp| mcp.servers.into_iter().map(|server| server.name).collect())
            .unwrap_or_else(|_| Vec::new());
        workspace.catalog = workspace
            .catalog
            .with_tools(plugins)
            .with_mcp_servers(mcp_servers)
            .with_vault_keys(crate::vault::key_names(root));
        workspace
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn config(&self) -> &LoadedConfig {
        &self.loaded
    }

    pub fn catalog(&self) -> &ServiceCatalog {
        &self.catalog
    }

    /// The catalog a flow at `path` sees (`None` for a document that is not on disk).
    pub fn catalog_for(&self, path: Option<&Path>) -> FileCatalog<'_> {
        self.catalog.for_file(&self.root, path)
    }

    /// Every finding of a parsed flow, exactly as `codexos check` reports it.
    pub fn findings(&self, path: Option<&Path>, flow: &FlowFile) -> Vec<Finding> {
        flow.findings(&self.catalog_for(path))
    }

    /// Checks the flows at `paths`: files as given, folders walked for `*.flow.json` (honouring
    /// `.gitignore` and `[flows] exclude`).
    pub fn check_paths(&self, paths: &[PathBuf]) -> CheckReport {
        check::check_paths(self, paths)
    }
}

/// Whether a path names a flow file (`*.flow.json`).
pub fn is_flow_path(path: &Path) -> bool {
    path.file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.ends_with(FLOW_SUFFIX) && name.len() > FLOW_SUFFIX.len())
}
