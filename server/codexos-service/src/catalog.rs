//! The names flows may use: CodexOS's built-ins, the workspace's plug-in tools, the tools of
//! the MCP servers `codexos.toml` lists, and what it declares.

use std::path::{Path, PathBuf};

use codexos_flow::{Catalog, Entry, StaticCatalog};

use crate::config::Config;

/// Tools, models and vault keys known to one workspace.
#[derive(Clone, Debug)]
pub struct ServiceCatalog {
    names: StaticCatalog,
    /// One entry per MCP server in `codexos.toml`: its tools (`<server>.<tool>`) are only known
    /// once the server runs, so any name under the server's prefix is taken as known.
    mcp_servers: Vec<Entry>,
}

impl ServiceCatalog {
    /// The built-in names plus the tools and models the configuration declares (a declared name
    /// that is also built in keeps the configuration's description).
    pub fn new(config: &Config) -> ServiceCatalog {
        let mut names = StaticCatalog::builtin();
        merge(
            &mut names.tools,
            config
                .tools
                .declared
                .iter()
                .map(|(name, detail)| Entry::new(name, detail)),
        );
        merge(
            &mut names.models,
            config
                .llm
                .models
                .iter()
                .map(|(name, detail)| Entry::new(name, detail)),
        );
        ServiceCatalog {
            names,
            mcp_servers: Vec::new(),
        }
    }

    /// Tools found at load time (the `tools/` folder's plug-ins); a name declared in
    /// `codexos.toml` keeps the configuration's description.
    pub fn with_tools(mut self, tools: impl IntoIterator<Item = Entry>) -> ServiceCatalog {
        for tool in tools {
            if !self.names.tools.iter().any(|known| known.name == tool.name) {
                self.names.tools.push(tool);
            }
        }
        self
    }

    /// The MCP servers whose tools flows may call as `<server>.<tool>`.
    pub fn with_mcp_servers(mut self, servers: impl IntoIterator<Item = String>) -> ServiceCatalog {
        merge(
            &mut self.mcp_servers,
            servers.into_iter().map(|server| {
                let detail = format!("a tool of the MCP server `{server}` (codexos.toml)");
                Entry::new(server, detail)
            }),
        );
        self
    }

    /// The vault's secret names (never values), so flows that use them check clean.
    pub fn with_vault_keys(mut self, keys: impl IntoIterator<Item = String>) -> ServiceCatalog {
        merge(
            &mut self.names.vault_keys,
            keys.into_iter()
                .map(|key| Entry::new(key, "a secret in the vault")),
        );
        self
    }

    /// The catalog as seen from one flow file: sub-flow paths resolve next to it.
    pub fn for_file<'a>(&'a self, flow_path: Option<&Path>) -> FileCatalog<'a> {
        FileCatalog {
            catalog: self,
            flow_dir: flow_path.and_then(Path::parent).map(Path::to_owned),
        }
    }
}

fn merge(entries: &mut Vec<Entry>, declared: impl Iterator<Item = Entry>) {
    for entry in declared {
        match entries.iter_mut().find(|known| known.name == entry.name) {
            Some(known) => *known = entry,
            None => entries.push(entry),
        }
    }
}

/// A [`ServiceCatalog`] seen from one flow file.
#[derive(Clone, Debug)]
pub struct FileCatalog<'a> {
    catalog: &'a ServiceCatalog,
    /// The folder of the flow file; `None` for a document that is not on disk.
    flow_dir: Option<PathBuf>,
}

impl Catalog for FileCatalog<'_> {
    fn tools(&self) -> &[Entry] {
        &self.catalog.names.tools
    }

    fn models(&self) -> &[Entry] {
        &self.catalog.names.models
    }

    fn vault_keys(&self) -> &[Entry] {
        &self.catalog.names.vault_keys
    }

    fn flow_exists(&self, path: &str) -> Option<bool> {
        let dir = self.flow_dir.as_ref()?;
        Some(dir.join(path).is_file())
    }

    fn tool(&self, name: &str) -> Option<&Entry> {
        self.tools()
            .iter()
            .find(|entry| entry.name == name)
            .or_else(|| {
                let (server, tool) = name.split_once('.')?;
                self.catalog
                    .mcp_servers
                    .iter()
                    .find(|entry| entry.name == server && !tool.is_empty())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_tools_and_models_join_the_builtins() {
        let mut config = Config::default();
        config
            .tools
            .declared
            .insert("jira_search".into(), "Search Jira".into());
        config
            .llm
            .models
            .insert("gpt-4".into(), "GPT-4 through our proxy".into());
        let catalog = ServiceCatalog::new(&config);
        let file = catalog.for_file(None);
        assert_eq!(
            file.tool("jira_search").map(|t| t.detail.as_str()),
            Some("Search Jira")
        );
        assert!(file.tool("read_file").is_some());
        assert_eq!(
            file.model("gpt-4").map(|m| m.detail.as_str()),
            Some("GPT-4 through our proxy")
        );
        assert_eq!(
            file.models().iter().filter(|m| m.name == "gpt-4").count(),
            1
        );
    }

    #[test]
    fn plug_in_tools_and_tools_under_an_mcp_server_prefix_are_known() {
        let catalog = ServiceCatalog::new(&Config::default())
            .with_tools([Entry::new("lint", "Runs the linter")])
            .with_mcp_servers(["github".to_owned()]);
        let file = catalog.for_file(None);
        assert_eq!(
            file.tool("lint").map(|t| t.detail.as_str()),
            Some("Runs the linter")
        );
        assert_eq!(
            file.tool("github.create_issue").map(|t| t.detail.as_str()),
            Some("a tool of the MCP server `github` (codexos.toml)")
        );
        assert!(file.tool("github.").is_none());
        assert!(file.tool("gitlab.create_issue").is_none());
        assert!(
            file.tools().iter().all(|t| t.name != "github"),
            "servers are not offered as tools"
        );
    }

    #[test]
    fn sub_flows_resolve_next_to_the_flow_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("child.flow.json"), "{}").expect("write");
        let catalog = ServiceCatalog::new(&Config::default());
        let parent = dir.path().join("parent.flow.json");
        let file = catalog.for_file(Some(&parent));
        assert_eq!(file.flow_exists("child.flow.json"), Some(true));
        assert_eq!(file.flow_exists("missing.flow.json"), Some(false));
        assert_eq!(catalog.for_file(None).flow_exists("child.flow.json"), None);
    }
}
