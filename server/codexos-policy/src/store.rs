//! The trust store: what the user allowed agents to do, per workspace, in a file the user owns
//! outside every workspace (`~/.config/codexos/trust.toml`, or `$XDG_CONFIG_HOME/codexos/`).
//! Nothing a workspace contains is read from here or written here: an agent that can write the
//! workspace cannot widen what it may do.
//!
//! ```toml
//! [workspaces."/home/me/project"]
//! commands = ["cargo test", "git status*"]    # shell/python text that runs without asking
//! hosts = ["docs.rs", "POST api.example.com"]  # GET/HEAD on a host; other methods by name
//! writable = [".vscode/"]                      # protected paths opened for agents here
//! protected = ["deploy/"]                      # more paths agents never write here
//!
//! [workspaces."/home/me/project".plugins]      # plug-ins pinned to the content approved
//! word_count = "blake3:4f0c…"
//!
//! [workspaces."/home/me/project".mcp]          # MCP servers pinned the same way
//! github = "blake3:9a1e…"
//! ```
//!
//! Every change is written whole: a temporary file beside it, fsync, rename (readers never see
//! half a file), mode 0600 in a 0700 folder, under an advisory lock so the editor and a
//! terminal approving at once do not lose each other's answer. A file that does not parse is
//! an error naming its line, and is never overwritten.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::user_files;
use serde::{Deserialize, Serialize};

/// What the user allowed in one workspace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkspaceTrust {
    /// Commands (`shell`) and programs (`python`) that run without asking: the exact text, or
    /// a prefix ending in `*` (`cargo test*`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<String>,
    /// Hosts agents may reach: `host` allows GET and HEAD, `METHOD host` that method;
    /// `*.example.com` covers its subdomains.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// Protected paths opened for agents in this workspace.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub writable: Vec<String>,
    /// Paths agents never write here, besides the default ones.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub protected: Vec<String>,
    /// Plug-in name → the hash of the content approved.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub plugins: BTreeMap<String, String>,
    /// MCP server name → the hash of the entry approved.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub mcp: BTreeMap<String, String>,
}

impl WorkspaceTrust {
    pub fn is_empty(&self) -> bool {
        self == &WorkspaceTrust::default()
    }

    /// The entry of `commands` that allows `command`, if any.
    pub fn command_rule(&self, command: &str) -> Option<&str> {
        self.commands
            .iter()
            .map(String::as_str)
            .find(|rule| match rule.strip_suffix('*') {
                Some(prefix) => command.starts_with(prefix),
                None => *rule == command,
            })
    }

    /// The entry of `hosts` that allows `method` on `host`, if any.
    pub fn host_rule(&self, method: &str, host: &str) -> Option<&str> {
        self.hosts.iter().map(String::as_str).find(|rule| {
            let (methods, pattern) = match rule.trim().split_once(char::is_whitespace) {
                Some((method, pattern)) => (Some(method), pattern.trim()),
                None => (None, rule.trim()),
            };
            let method_allowed = match methods {
                None => method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD"),
                Some(allowed) => allowed == "*" || allowed.eq_ignore_ascii_case(method),
            };
            method_allowed && host_matches(pattern, host)
        })
    }
}

/// `example.com` matches only itself; `*.example.com` its subdomains (not itself).
fn host_matches(pattern: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.');
    match pattern.strip_prefix("*.") {
        Some(domain) => {
            host.len() > domain.len() + 1
                && host.is_char_boundary(host.len() - domain.len() - 1)
                && host[host.len() - domain.len()..].eq_ignore_ascii_case(domain)
                && host.as_bytes()[host.len() - domain.len() - 1] == b'.'
        }
        None => pattern.trim_end_matches('.').eq_ignore_ascii_case(host),
    }
}

/// The whole trust store.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrustStore {
    /// Canonical workspace root → what the user allowed there.
    pub workspaces: BTreeMap<String, WorkspaceTrust>,
}

impl TrustStore {
    /// What the user allowed in the workspace at `root` (canonical).
    pub fn workspace(&self, root: &Path) -> WorkspaceTrust {
        self.workspaces.get(&key(root)).cloned().unwrap_or_default()
    }

    pub fn workspace_mut(&mut self, root: &Path) -> &mut WorkspaceTrust {
        self.workspaces.entry(key(root)).or_default()
    }

    /// Drops workspaces left with nothing allowed.
    fn tidy(&mut self) {
        self.workspaces.retain(|_, trust| !trust.is_empty());
    }
}

fn key(root: &Path) -> String {
    root.to_string_lossy().into_owned()
}

/// The trust store could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("{}: cannot {action}: {source}", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        source: std::io::Error,
    },
    #[error("{}:{line}:{col}: invalid trust store: {message} (fix or remove the file; until then nothing is trusted)", path.display())]
    Invalid {
        path: PathBuf,
        line: usize,
        col: usize,
        message: String,
    },
    #[error("no trust store: neither XDG_CONFIG_HOME nor HOME is set")]
    NoHome,
}

/// The trust store's file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustFile {
    path: PathBuf,
}

const HEADER: &str = "# CodexOS trust store: what you allowed agents to do, per workspace (docs/security.md).\n\
# Written by `codexos trust` and the editors' \"Allow\" answers; hand edits are kept, comments are not.\n\n";

/// The user's own CodexOS folder, outside every workspace: `$XDG_CONFIG_HOME/codexos`, else
/// `~/.config/codexos`; `None` without a home folder.
pub fn user_config_dir() -> Option<PathBuf> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|dir| !dir.is_empty() && Path::new(dir).is_absolute())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|home| !home.is_empty())
                .map(|home| PathBuf::from(home).join(".config"))
        })?;
    Some(config.join("codexos"))
}

impl TrustFile {
    /// `trust.toml` in [`user_config_dir`].
    pub fn user() -> Result<TrustFile, TrustError> {
        let dir = user_config_dir().ok_or(TrustError::NoHome)?;
        Ok(TrustFile::at(dir.join("trust.toml")))
    }

    pub fn at(path: impl Into<PathBuf>) -> TrustFile {
        TrustFile { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The store; a missing file is an empty store.
    pub fn load(&self) -> Result<TrustStore, TrustError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(TrustStore::default());
            }
            Err(source) => {
                return Err(TrustError::Io {
                    path: self.path.clone(),
                    action: "read it",
                    source,
                });
            }
        };
        toml::from_str(&text).map_err(|error| {
            let offset = error.span().map_or(0, |span| span.start).min(text.len());
            let before = &text[..offset];
            let line = before.matches('\n').count() + 1;
            let col = before.len() - before.rfind('\n').map_or(0, |newline| newline + 1) + 1;
            TrustError::Invalid {
                path: self.path.clone(),
                line,
                col,
                message: error.message().trim_end().to_owned(),
            }
        })
    }

    /// Applies `change` to the store on disk, under the lock, and writes it back whole.
    pub fn update<T>(&self, change: impl FnOnce(&mut TrustStore) -> T) -> Result<T, TrustError> {
        let failed = |(action, path, source): user_files::Failure| TrustError::Io {
            path,
            action,
            source,
        };
        let lock = user_files::lock(&self.path).map_err(failed)?;
        let mut store = self.load()?;
        let answer = change(&mut store);
        store.tidy();
        let text = toml::to_string_pretty(&store).map_err(|error| TrustError::Io {
            path: self.path.clone(),
            action: "write it",
            source: std::io::Error::other(error.to_string()),
        })?;
        user_files::write_atomically(&self.path, &format!("{HEADER}{text}"))
            .map_err(|error| failed(("write it", self.path.clone(), error)))?;
        drop(lock);
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn commands_match_exactly_or_by_a_prefix_ending_in_a_star() {
        let trust = WorkspaceTrust {
            commands: vec!["git status".to_owned(), "cargo test*".to_owned()],
            ..WorkspaceTrust::default()
        };
        assert_eq!(trust.command_rule("git status"), Some("git status"));
        assert_eq!(trust.command_rule("git status; rm -rf ~"), None);
        assert_eq!(
            trust.command_rule("cargo test -p x"),
            Some("cargo test*"),
            "a prefix rule is the user's own choice"
        );
        assert_eq!(trust.command_rule("cargo build"), None);
    }

    #[test]
    fn a_plain_host_allows_get_and_head_and_other_methods_are_named() {
        let trust = WorkspaceTrust {
            hosts: vec![
                "docs.rs".to_owned(),
                "POST api.example.com".to_owned(),
                "*.githubusercontent.com".to_owned(),
            ],
            ..WorkspaceTrust::default()
        };
        assert!(trust.host_rule("GET", "docs.rs").is_some());
        assert!(trust.host_rule("HEAD", "DOCS.RS").is_some());
        assert!(trust.host_rule("POST", "docs.rs").is_none());
        assert!(trust.host_rule("POST", "api.example.com").is_some());
        assert!(
            trust.host_rule("GET", "api.example.com").is_none(),
            "a method rule allows that method only"
        );
        assert!(
            trust
                .host_rule("GET", "raw.githubusercontent.com")
                .is_some()
        );
        assert!(trust.host_rule("GET", "githubusercontent.com").is_none());
        assert!(
            trust
                .host_rule("GET", "evilgithubusercontent.com")
                .is_none()
        );
        assert!(trust.host_rule("GET", "docs.rs.evil.com").is_none());
    }

    #[test]
    fn a_missing_file_is_an_empty_store_and_updates_are_written_private() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = TrustFile::at(dir.path().join("config/codexos/trust.toml"));
        assert_eq!(file.load().ok(), Some(TrustStore::default()));
        file.update(|store| {
            store
                .workspace_mut(Path::new("/w"))
                .commands
                .push("ls".to_owned())
        })
        .expect("update");
        let store = file.load().expect("load");
        assert_eq!(store.workspace(Path::new("/w")).commands, ["ls"]);
        assert!(store.workspace(Path::new("/other")).is_empty());
        let mode = |path: &Path| {
            fs::metadata(path)
                .map(|meta| meta.permissions().mode() & 0o777)
                .ok()
        };
        assert_eq!(mode(file.path()), Some(0o600));
        assert_eq!(mode(file.path().parent().expect("dir")), Some(0o700));
        let text = fs::read_to_string(file.path()).expect("text");
        expect_test::expect![[r#"
            # CodexOS trust store: what you allowed agents to do, per workspace (docs/security.md).
            # Written by `codexos trust` and the editors' "Allow" answers; hand edits are kept, comments are not.

            [workspaces."/w"]
            commands = ["ls"]
        "#]]
        .assert_eq(&text);
    }

    #[test]
    fn a_broken_file_is_an_error_at_its_line_and_is_never_overwritten() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("trust.toml");
        fs::write(
            &path,
            "[workspaces.\"/w\"]\ncommands = [\"ls\"\nhosts = 3\n",
        )
        .expect("write");
        let file = TrustFile::at(&path);
        let error = file.load().err().map(|error| error.to_string());
        assert_eq!(
            error
                .as_deref()
                .map(|e| e.starts_with(&format!("{}:3:", path.display()))),
            Some(true),
            "{error:?}"
        );
        assert!(file.update(|_| ()).is_err());
        assert_eq!(
            fs::read_to_string(&path).ok().as_deref(),
            Some("[workspaces.\"/w\"]\ncommands = [\"ls\"\nhosts = 3\n")
        );
    }

    #[test]
    fn workspaces_left_with_nothing_allowed_are_dropped() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = TrustFile::at(dir.path().join("trust.toml"));
        let root = Path::new("/w");
        file.update(|store| store.workspace_mut(root).hosts.push("docs.rs".to_owned()))
            .expect("add");
        file.update(|store| store.workspace_mut(root).hosts.clear())
            .expect("remove");
        assert_eq!(file.load().ok(), Some(TrustStore::default()));
    }
}
