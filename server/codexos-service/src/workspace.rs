use std::fmt;
use std::path::{Path, PathBuf};

use codexos_flow::{Entry, FLOW_SUFFIX, Finding, FlowFile};
use codexos_tools::ToolRegistry;

use crate::catalog::{FileCatalog, ServiceCatalog};
use crate::check::{self, CheckReport, CheckedFile};
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

    /// The workspace that `start` (a folder) lies in, and what the user should hear about how
    /// it was found (the CLI prints each note as `warning: …`). The root is the nearest folder
    /// at or above `start` that holds a `codexos.toml`, searching no higher than the nearest
    /// version-control root (a folder holding `.git` — a folder, or a file in worktrees and
    /// submodules — `.hg`, `.jj` or `.svn`), which is the root when no `codexos.toml` lies at or
    /// below it: a `codexos.toml` above it is never adopted. Outside version control the
    /// nearest `codexos.toml` is adopted, and `start` is the root when there is none.
    pub fn discover(start: &Path) -> Result<(Workspace, Vec<DiscoveryNote>), ConfigError> {
        let (root, notes) = find_root(start);
        Ok((Workspace::load(&root)?, notes))
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
            .map(|tool| Entry::new(tool.name, tool.description).with_schema(tool.input_schema));
        // A malformed `[mcp]` section is reported where the tools are used; here it names no server.
        let mcp_servers = workspace
            .mcp_config()
            .map(|mcp| mcp.servers.into_iter().map(|server| server.name).collect())
            .unwrap_or_else(|_| Vec::new());
        let vault_keys = crate::vault::key_names(root);
        // Whether each declared provider has its key: vault secrets by name, never by value.
        let env: std::collections::HashMap<String, String> = std::env::vars().collect();
        let has_secret = |name: &str| {
            Ok(vault_keys
                .iter()
                .any(|key| key == name)
                .then(|| codexos_vault::SecretString::from("present")))
        };
        // A broken `[llm]` table is reported where runs start; here it declares no provider.
        let providers = workspace
            .providers(&env, &has_secret)
            .map(|providers| providers.catalog_entries())
            .unwrap_or_default();
        workspace.catalog = workspace
            .catalog
            .with_tools(plugins)
            .with_mcp_servers(mcp_servers)
            .with_providers(providers)
            .with_vault_keys(vault_keys);
        workspace
    }

    /// This workspace with `tools` added to what its flows may call (see
    /// [`Workspace::approved_mcp_tools`]).
    pub fn with_tools(mut self, tools: Vec<Entry>) -> Workspace {
        self.catalog = self.catalog.with_tools(tools);
        self
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

    /// Checks flow text that may not be saved (a draft sent over `codexos serve`), as if it
    /// lived at `path` (which sub-flow paths resolve against).
    pub fn check_text(&self, path: &Path, text: String) -> CheckedFile {
        check::check_text(self, path, text)
    }
}

/// Names whose presence makes a folder a version-control root.
const VCS_MARKERS: &[&str] = &[".git", ".hg", ".jj", ".svn"];

/// How [`Workspace::discover`] chose a root that the user may not expect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiscoveryNote {
    /// A `codexos.toml` above the project's version-control root, not adopted: a file planted
    /// in a shared folder (`/tmp`, the home folder) never configures the projects below it.
    IgnoredAboveVcsRoot { config: PathBuf, vcs_root: PathBuf },
    /// Outside version control, the adopted `codexos.toml` lies above the folder discovery
    /// started from, so its settings apply there.
    AdoptedFromAbove { config: PathBuf, start: PathBuf },
}

impl fmt::Display for DiscoveryNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiscoveryNote::IgnoredAboveVcsRoot { config, vcs_root } => write!(
                f,
                "{} is ignored: it lies above the version-control root {}, which is the workspace root (put a {CONFIG_FILE} there to configure it)",
                config.display(),
                vcs_root.display()
            ),
            DiscoveryNote::AdoptedFromAbove { config, start } => write!(
                f,
                "using {}, found above {} with no version-control root in between: its settings apply to this workspace",
                config.display(),
                start.display()
            ),
        }
    }
}

/// The rule of [`Workspace::discover`], reading only whether files exist.
fn find_root(start: &Path) -> (PathBuf, Vec<DiscoveryNote>) {
    // Real and absolute, so the folders above are the true ancestors (not those of `a/../b`);
    // the folder of a bare file name (`x.flow.json`) is the current one.
    let start = if start.as_os_str().is_empty() {
        Path::new(".")
    } else {
        start
    };
    let start = start
        .canonicalize()
        .or_else(|_| std::path::absolute(start))
        .unwrap_or_else(|_| start.to_owned());
    let has_config = |dir: &Path| dir.join(CONFIG_FILE).is_file();
    let is_vcs_root = |dir: &Path| VCS_MARKERS.iter().any(|marker| dir.join(marker).exists());
    let mut notes = Vec::new();
    for dir in start.ancestors() {
        if has_config(dir) {
            let in_version_control = dir.ancestors().any(is_vcs_root);
            if dir != start && !in_version_control {
                notes.push(DiscoveryNote::AdoptedFromAbove {
                    config: dir.join(CONFIG_FILE),
                    start: start.clone(),
                });
            }
            return (dir.to_owned(), notes);
        }
        if is_vcs_root(dir) {
            if let Some(above) = dir.ancestors().skip(1).find(|dir| has_config(dir)) {
                notes.push(DiscoveryNote::IgnoredAboveVcsRoot {
                    config: above.join(CONFIG_FILE),
                    vcs_root: dir.to_owned(),
                });
            }
            return (dir.to_owned(), notes);
        }
    }
    (start, notes)
}

/// Whether a path names a flow file (`*.flow.json`).
pub fn is_flow_path(path: &Path) -> bool {
    path.file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.ends_with(FLOW_SUFFIX) && name.len() > FLOW_SUFFIX.len())
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    /// Creates `paths` under a temporary folder (a name ending in `/` is a folder), then shows
    /// the root found from `start` and the notes, with the folder written `<tmp>`.
    fn discovered(paths: &[&str], start: &str, expected: Expect) {
        let dir = tempfile::tempdir().expect("temp dir");
        let tmp = dir.path().canonicalize().expect("real temp dir");
        for path in paths {
            match path.strip_suffix('/') {
                Some(folder) => std::fs::create_dir_all(tmp.join(folder)).expect("folder"),
                None => {
                    let file = tmp.join(path);
                    std::fs::create_dir_all(file.parent().expect("parent")).expect("folder");
                    std::fs::write(file, "").expect("file");
                }
            }
        }
        std::fs::create_dir_all(tmp.join(start)).expect("start");
        let (root, notes) = find_root(&tmp.join(start));
        let mut shown = format!("root: {}", root.display());
        for note in notes {
            shown.push_str(&format!("\nwarning: {note}"));
        }
        expected.assert_eq(&shown.replace(&tmp.display().to_string(), "<tmp>"));
    }

    #[test]
    fn the_nearest_codexos_toml_inside_the_repository_is_the_root() {
        discovered(
            &["repo/.git/", "repo/codexos.toml"],
            "repo/src/deep",
            expect!["root: <tmp>/repo"],
        );
        discovered(
            &[
                "repo/.git/",
                "repo/codexos.toml",
                "repo/tools/app/codexos.toml",
            ],
            "repo/tools/app/src",
            expect!["root: <tmp>/repo/tools/app"],
        );
    }

    #[test]
    fn without_a_codexos_toml_the_repository_root_is_the_root_and_one_above_it_is_ignored_with_a_warning()
     {
        discovered(
            &["codexos.toml", "project/.git/"],
            "project/flows",
            expect![[r#"
                root: <tmp>/project
                warning: <tmp>/codexos.toml is ignored: it lies above the version-control root <tmp>/project, which is the workspace root (put a codexos.toml there to configure it)"#]],
        );
        discovered(
            &["project/.git/"],
            "project",
            expect!["root: <tmp>/project"],
        );
    }

    #[test]
    fn worktrees_submodules_and_other_version_control_systems_mark_a_root_too() {
        for marker in [".git", ".hg/", ".jj/", ".svn/"] {
            let paths = ["codexos.toml".to_owned(), format!("project/{marker}")];
            let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
            discovered(
                &paths,
                "project/src",
                expect![[r#"
                    root: <tmp>/project
                    warning: <tmp>/codexos.toml is ignored: it lies above the version-control root <tmp>/project, which is the workspace root (put a codexos.toml there to configure it)"#]],
            );
        }
    }

    #[test]
    fn outside_version_control_a_codexos_toml_above_is_adopted_with_a_warning() {
        discovered(
            &["codexos.toml"],
            "project/flows",
            expect![[r#"
                root: <tmp>
                warning: using <tmp>/codexos.toml, found above <tmp>/project/flows with no version-control root in between: its settings apply to this workspace"#]],
        );
        discovered(
            &["project/codexos.toml"],
            "project",
            expect!["root: <tmp>/project"],
        );
    }

    #[test]
    fn outside_version_control_and_without_a_codexos_toml_the_start_is_the_root() {
        discovered(&[], "project/flows", expect!["root: <tmp>/project/flows"]);
    }

    #[test]
    fn a_start_written_with_dot_dot_is_discovered_from_its_real_folder() {
        let dir = tempfile::tempdir().expect("temp dir");
        let tmp = dir.path().canonicalize().expect("real temp dir");
        std::fs::create_dir_all(tmp.join("project/.git")).expect("repository");
        std::fs::create_dir_all(tmp.join("project/flows")).expect("flows");
        std::fs::create_dir_all(tmp.join("other")).expect("other");
        let (root, notes) = find_root(&tmp.join("other/../project/flows"));
        assert_eq!((root, notes), (tmp.join("project"), Vec::new()));
    }
}
