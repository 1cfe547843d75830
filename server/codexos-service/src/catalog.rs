//! The names flows may use: CodexOS's built-ins, the workspace's plug-in tools, the tools of
//! the MCP servers `codexos.toml` lists, and what it declares.

use std::path::{Path, PathBuf};

use codexos_flow::{Catalog, Entry, FlowFileStatus, FlowSource, ProviderEntry, StaticCatalog};
use codexos_tools::{Placement, place_relative, read_relative};

use crate::config::Config;

/// Tools, models and vault keys known to one workspace.
#[derive(Clone, Debug)]
pub struct ServiceCatalog {
    names: StaticCatalog,
    /// One entry per MCP server in `codexos.toml`: its tools (`<server>.<tool>`) are only known
    /// once the server runs, so any name under the server's prefix is taken as known.
    mcp_servers: Vec<Entry>,
    /// The model providers configuration files declare.
    providers: Vec<ProviderEntry>,
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
            providers: Vec::new(),
        }
    }

    /// Tools found at load time (the built-ins and the `tools/` folder's plug-ins, with their
    /// argument schemas); a name declared in `codexos.toml` keeps the configuration's description.
    pub fn with_tools(mut self, tools: impl IntoIterator<Item = Entry>) -> ServiceCatalog {
        for tool in tools {
            match self
                .names
                .tools
                .iter_mut()
                .find(|known| known.name == tool.name)
            {
                Some(known) => known.schema = known.schema.take().or(tool.schema),
                None => self.names.tools.push(tool),
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

    /// The providers configuration files declare; the models they list become known models.
    pub fn with_providers(mut self, providers: Vec<ProviderEntry>) -> ServiceCatalog {
        merge(
            &mut self.names.models,
            providers.iter().flat_map(|provider| {
                provider
                    .models
                    .iter()
                    .map(|model| Entry::new(model, format!("served by {}", provider.detail)))
            }),
        );
        self.providers = providers;
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

    /// The catalog as seen from one flow file of the workspace at `workspace_root`: sub-flow
    /// paths resolve next to it and must stay inside the workspace.
    pub fn for_file<'a>(
        &'a self,
        workspace_root: &'a Path,
        flow_path: Option<&Path>,
    ) -> FileCatalog<'a> {
        // Made absolute first: the parent of a bare file name (`codexos check main.flow.json`)
        // is the empty path, which has no real path to compare.
        let flow_path = flow_path.and_then(|path| std::path::absolute(path).ok());
        FileCatalog {
            catalog: self,
            workspace_root,
            flow_dir: flow_path
                .as_deref()
                .and_then(|path| path.parent().map(Path::to_owned)),
            flow_path,
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
    workspace_root: &'a Path,
    /// The folder of the flow file; `None` for a document that is not on disk.
    flow_dir: Option<PathBuf>,
    flow_path: Option<PathBuf>,
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

    fn providers(&self) -> &[ProviderEntry] {
        &self.catalog.providers
    }

    fn flow_file(&self, path: &str) -> FlowFileStatus {
        let Some(flow_dir) = &self.flow_dir else {
            return FlowFileStatus::Unknown;
        };
        match place_relative(self.workspace_root, flow_dir, path) {
            Placement::Found(_) => FlowFileStatus::Found,
            Placement::Missing => FlowFileStatus::Missing,
            Placement::Outside => FlowFileStatus::OutsideWorkspace,
        }
    }

    fn flow_key(&self) -> Option<String> {
        let path = self.flow_path.as_deref()?.canonicalize().ok()?;
        Some(path.display().to_string())
    }

    fn read_flow(&self, from: Option<&str>, path: &str) -> Option<FlowSource> {
        let dir = match from {
            Some(key) => Path::new(key).parent()?.to_owned(),
            None => self.flow_dir.clone()?,
        };
        let (real, text) = read_relative(self.workspace_root, &dir, path)?;
        Some(FlowSource {
            key: real.display().to_string(),
            text,
        })
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
        let file = catalog.for_file(Path::new("/ws"), None);
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
        let file = catalog.for_file(Path::new("/ws"), None);
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
        let file = catalog.for_file(dir.path(), Some(&parent));
        assert_eq!(file.flow_file("child.flow.json"), FlowFileStatus::Found);
        assert_eq!(file.flow_file("missing.flow.json"), FlowFileStatus::Missing);
        assert_eq!(
            catalog
                .for_file(dir.path(), None)
                .flow_file("child.flow.json"),
            FlowFileStatus::Unknown
        );
    }

    /// A workspace `ws/` with `flows/main.flow.json`, `shared/lib.flow.json`, links from
    /// `flows/` to a flow outside and back into `shared/`, and a flow `outside/x.flow.json`
    /// beside the workspace.
    fn linked_workspace() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("ws");
        for (path, text) in [
            ("ws/flows/main.flow.json", "{}"),
            ("ws/shared/lib.flow.json", "{}"),
            ("outside/x.flow.json", "{}"),
        ] {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("folders");
            std::fs::write(path, text).expect("write");
        }
        let link = |target: &str, link: &str| {
            std::os::unix::fs::symlink(dir.path().join(target), root.join(link)).expect("link");
        };
        link("outside/x.flow.json", "flows/escape.flow.json");
        link("outside", "flows/out");
        link("ws/shared", "flows/shared");
        (dir, root)
    }

    #[test]
    fn a_sub_flow_path_leading_out_of_the_workspace_as_written_or_through_a_link_is_outside() {
        let (_dir, root) = linked_workspace();
        let catalog = ServiceCatalog::new(&Config::default());
        let file = catalog.for_file(&root, Some(&root.join("flows/main.flow.json")));
        let statuses: Vec<String> = [
            "../shared/lib.flow.json",
            "./../flows/../shared/lib.flow.json",
            "shared/lib.flow.json",
            "../../outside/x.flow.json",
            "../../outside/none.flow.json",
            "../../ws/shared/lib.flow.json",
            "escape.flow.json",
            "out/x.flow.json",
            "out/../../ws/shared/lib.flow.json",
            "../missing.flow.json",
            "/etc/passwd",
        ]
        .into_iter()
        .map(|path| format!("{path}: {:?}", file.flow_file(path)))
        .collect();
        expect_test::expect![[r#"
            ../shared/lib.flow.json: Found
            ./../flows/../shared/lib.flow.json: Found
            shared/lib.flow.json: Found
            ../../outside/x.flow.json: OutsideWorkspace
            ../../outside/none.flow.json: OutsideWorkspace
            ../../ws/shared/lib.flow.json: OutsideWorkspace
            escape.flow.json: OutsideWorkspace
            out/x.flow.json: OutsideWorkspace
            out/../../ws/shared/lib.flow.json: Missing
            ../missing.flow.json: Missing
            /etc/passwd: OutsideWorkspace"#]]
        .assert_eq(&statuses.join("\n"));
    }

    #[test]
    fn a_sub_flow_path_of_a_flow_named_relative_to_the_current_folder_is_judged_there_too() {
        let root = std::env::current_dir().expect("the current folder");
        let catalog = ServiceCatalog::new(&Config::default());
        let file = catalog.for_file(&root, Some(Path::new("main.flow.json")));
        assert_eq!(
            file.flow_file("../outside.flow.json"),
            FlowFileStatus::OutsideWorkspace
        );
        assert_eq!(file.flow_file("Cargo.toml"), FlowFileStatus::Found);
    }

    #[test]
    fn a_flow_outside_the_workspace_is_only_asked_whether_its_sub_flow_exists() {
        let (dir, root) = linked_workspace();
        let catalog = ServiceCatalog::new(&Config::default());
        let outside = dir.path().join("outside/x.flow.json");
        let file = catalog.for_file(&root, Some(&outside));
        assert_eq!(
            file.flow_file("../ws/shared/lib.flow.json"),
            FlowFileStatus::Found
        );
        assert_eq!(file.flow_file("none.flow.json"), FlowFileStatus::Missing);
    }
}
