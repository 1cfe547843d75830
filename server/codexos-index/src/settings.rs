//! How the index walks and cuts the workspace: defaults, overridden by the `[index]` table
//! of `codexos.toml` at the workspace root.

use std::path::Path;

use std::time::Duration;

use codexos_embed::{EmbedderConfig, EmbedderKind, HttpEmbedderConfig};
use codexos_policy::{Action, Evaluation, Policy, TrustFile, WorkspaceRequests, WorkspaceTrust};
use serde::Deserialize;

use crate::error::{IndexError, Result};

/// Default size cap: larger files are generated, vendored or minified far more often than
/// written by hand, and cost much to chunk and embed.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 1 << 20;

#[derive(Clone, Debug, PartialEq)]
pub struct IndexSettings {
    /// Files larger than this are skipped (with a log line).
    pub max_file_bytes: u64,
    /// Globs (gitignore-style, relative to the root) never indexed, on top of `.gitignore`/`.ignore`.
    pub exclude: Vec<String>,
    /// When set, only files whose name ends with one of these (`.rs`, `.py`) are indexed.
    pub extensions: Option<Vec<String>>,
    /// Chunks embedded per embedder call.
    pub embed_batch: usize,
    /// Chunks per store transaction during a full index: a crash loses at most this much work.
    pub commit_chunks: usize,
    /// Bytes of new text from which a full index first makes the files searchable by BM25 as
    /// wholes, before chunking them. Below it the chunk stage makes them searchable within
    /// about a second (it chunks about 7 MB/s on two cores), and writing each file's BM25
    /// document twice would only cost.
    pub lexical_first_bytes: u64,
    /// Honour `.gitignore`, `.ignore` and git excludes, and skip hidden files (default). Off,
    /// every file under the root is a candidate (`codexos.toml` excludes still apply).
    pub use_ignore_files: bool,
    /// `embedder = "static" | "minilm" | "builtin" | "http"` and `[index.http]`.
    pub embedder: EmbedderConfig,
    /// `upgrade = "minilm"` (default) or `"none"`: the model whose vectors replace the fast
    /// embedder's once computed in the background (when its files are installed).
    pub upgrade: Option<EmbedderKind>,
    /// `upgrade_after_idle_ms`: how long the language server waits without requests or index
    /// writes before upgrading vectors (default 2000).
    pub upgrade_after_idle: Duration,
    /// `[index.shared]`: the team's base index on a Chroma server, searched for the files
    /// that did not change since its commit (`codexos-service`'s `index::shared`).
    pub shared: Option<SharedTable>,
    /// Why searches may not use `shared`: its host is not on this machine and the user has not
    /// allowed POSTs to it (a cloned `codexos.toml` must not send queries anywhere by itself).
    pub shared_refused: Option<String>,
}

/// `[index.shared]` as written in `codexos.toml`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct SharedTable {
    /// `chroma://HOST:PORT/COLLECTION`.
    pub url: String,
    /// How long a request to the shared server may take before searches go on without it.
    pub timeout_ms: Option<u64>,
}

impl Default for IndexSettings {
    fn default() -> Self {
        Self {
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            exclude: Vec::new(),
            extensions: None,
            embed_batch: 256,
            commit_chunks: 2048,
            lexical_first_bytes: 8 << 20,
            use_ignore_files: true,
            embedder: EmbedderConfig::default(),
            upgrade: Some(EmbedderKind::Minilm),
            upgrade_after_idle: Duration::from_secs(2),
            shared: None,
            shared_refused: None,
        }
    }
}

#[derive(Deserialize)]
struct ConfigFile {
    #[serde(default)]
    index: IndexTable,
}

/// `[index]` as written in `codexos.toml` (every key optional): what `docs/configuration.md`
/// documents, key for key.
#[derive(Deserialize, Default)]
pub struct IndexTable {
    pub max_file_bytes: Option<u64>,
    #[serde(default)]
    pub exclude: Vec<String>,
    pub extensions: Option<Vec<String>>,
    pub commit_chunks: Option<usize>,
    pub upgrade: Option<String>,
    pub upgrade_after_idle_ms: Option<u64>,
    #[serde(default)]
    pub embedder: EmbedderKind,
    pub http: Option<HttpEmbedderConfig>,
    pub shared: Option<SharedTable>,
}

impl IndexSettings {
    /// The defaults with `<root>/codexos.toml`'s `[index]` table applied, if the file exists.
    pub fn load(root: &Path) -> Result<Self> {
        let path = root.join("codexos.toml");
        let mut settings = Self::default();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(settings),
            Err(source) => return Err(IndexError::Read { path, source }),
        };
        let file: ConfigFile = toml::from_str(&text).map_err(|error| IndexError::Config {
            path: path.clone(),
            message: format!("[index]: {}", error.to_string().trim()),
        })?;
        if let Some(max) = file.index.max_file_bytes {
            settings.max_file_bytes = max;
        }
        if let Some(commit_chunks) = file.index.commit_chunks {
            settings.commit_chunks = commit_chunks.max(1);
        }
        settings.exclude = file.index.exclude;
        settings.embedder = EmbedderConfig {
            embedder: file.index.embedder,
            http: file.index.http,
        };
        settings.extensions = file.index.extensions;
        if let Some(upgrade) = file.index.upgrade {
            settings.upgrade = match upgrade.as_str() {
                "none" => None,
                name => Some(name.parse().map_err(|error| IndexError::Config {
                    path: path.clone(),
                    message: format!("[index] upgrade: {error}, or none"),
                })?),
            };
        }
        if let Some(idle) = file.index.upgrade_after_idle_ms {
            settings.upgrade_after_idle = Duration::from_millis(idle);
        }
        settings.shared = file.index.shared;
        let trust = || {
            TrustFile::user()
                .and_then(|file| file.load())
                .map(|store| {
                    store.workspace(&root.canonicalize().unwrap_or_else(|_| root.to_owned()))
                })
                .unwrap_or_default()
        };
        let uses_http = settings.embedder.embedder == EmbedderKind::Http
            || settings.upgrade == Some(EmbedderKind::Http);
        if let Some(http) = settings.embedder.http.as_ref().filter(|_| uses_http) {
            allow_post(&trust(), &http.url, EMBEDDER_SENDS).map_err(|reason| {
                IndexError::NotAllowed {
                    path: path.clone(),
                    url: http.url.clone(),
                    reason,
                }
            })?;
        }
        if let Some(shared) = &settings.shared {
            settings.shared_refused = shared_server_url(&shared.url)
                .and_then(|url| allow_post(&trust(), &url, SHARED_SENDS).err());
        }
        Ok(settings)
    }
}

/// What an embeddings server named by the workspace's `codexos.toml` gets: every chunk of its code
/// (and the key `api_key_env` names).
const EMBEDDER_SENDS: &str = "indexing would send the workspace's code there";
/// What an `[index.shared]` server gets: every search's query (a `rag` node's can quote code).
const SHARED_SENDS: &str = "searches would send their queries there";

/// A server `codexos.toml` names is a network destination like `http_fetch`'s: the policy's rule
/// for a POST to its host decides, and only the user's trust store can allow it. `sends` says
/// what would go there.
fn allow_post(trust: &WorkspaceTrust, url: &str, sends: &str) -> Result<(), String> {
    let requests = WorkspaceRequests::default();
    let policy = Policy {
        requests: &requests,
        trust,
        offline: false,
    };
    let post = Action::Fetch {
        method: "POST".to_owned(),
        url: url.to_owned(),
    };
    match policy.evaluate(&post) {
        Evaluation::Allowed { .. } => Ok(()),
        Evaluation::Refused { reason } => Err(reason),
        Evaluation::Ask(question) => Err(format!(
            "{sends}, and you have not allowed that host; to allow it: {}",
            question.grant.command_line()
        )),
    }
}

/// The HTTP address of a `chroma://HOST:PORT/…` server to ask the policy about; `None` for a
/// server on this machine (loopback: nothing leaves it) or a URL too broken to connect to
/// (searches then say why it cannot be used).
fn shared_server_url(url: &str) -> Option<String> {
    let authority = url.strip_prefix("chroma://")?.split('/').next()?;
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    (!loopback && !host.is_empty()).then(|| format!("http://{authority}/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_embeddings_server_from_codexos_toml_needs_the_users_post_to_its_host() {
        let refused = allow_post(
            &WorkspaceTrust::default(),
            "https://embed.example/v1",
            EMBEDDER_SENDS,
        );
        assert_eq!(
            refused,
            Err("indexing would send the workspace's code there, and you have not allowed that host; to allow it: codexos trust allow host embed.example --method POST".to_owned())
        );
        let trust = WorkspaceTrust {
            hosts: vec!["POST embed.example".to_owned()],
            ..WorkspaceTrust::default()
        };
        assert_eq!(
            allow_post(&trust, "https://embed.example/v1", EMBEDDER_SENDS),
            Ok(())
        );
        assert!(
            allow_post(&trust, "https://other.example/v1", EMBEDDER_SENDS).is_err(),
            "another host is another question"
        );
    }

    #[test]
    fn a_shared_server_from_codexos_toml_off_this_machine_needs_the_users_post_to_its_host() {
        assert_eq!(shared_server_url("chroma://127.0.0.1:8000/team"), None);
        assert_eq!(shared_server_url("chroma://localhost:8000/team"), None);
        assert_eq!(shared_server_url("chroma://[::1]:8000/team"), None);
        let url = shared_server_url("chroma://collector.example:8000/team");
        assert_eq!(url.as_deref(), Some("http://collector.example:8000/"));
        assert_eq!(
            allow_post(&WorkspaceTrust::default(), &url.clone().unwrap(), SHARED_SENDS),
            Err("searches would send their queries there, and you have not allowed that host; to allow it: codexos trust allow host collector.example --method POST".to_owned())
        );
        let trust = WorkspaceTrust {
            hosts: vec!["POST collector.example".to_owned()],
            ..WorkspaceTrust::default()
        };
        assert_eq!(allow_post(&trust, &url.unwrap(), SHARED_SENDS), Ok(()));

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("codexos.toml"),
            "[index.shared]\nurl = \"chroma://collector.example:8000/team\"\n",
        )
        .unwrap();
        let settings = IndexSettings::load(dir.path()).unwrap();
        assert!(settings.shared.is_some(), "the table is read");
        assert!(
            settings
                .shared_refused
                .as_deref()
                .is_some_and(|reason| reason
                    .contains("codexos trust allow host collector.example --method POST")),
            "{:?}",
            settings.shared_refused
        );
    }

    #[test]
    fn codexos_toml_index_table_overrides_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("codexos.toml"),
            "[flows]\nexclude = []\n[index]\nmax_file_bytes = 2048\nexclude = [\"vendor/**\"]\n",
        )
        .unwrap();
        let settings = IndexSettings::load(dir.path()).unwrap();
        assert_eq!(
            (settings.max_file_bytes, settings.exclude),
            (2048, vec!["vendor/**".to_owned()])
        );
    }

    #[test]
    fn a_bad_index_value_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("codexos.toml"),
            "[index]\nmax_file_bytes = \"big\"\n",
        )
        .unwrap();
        let error = IndexSettings::load(dir.path()).unwrap_err().to_string();
        assert!(
            error.contains("codexos.toml") && error.contains("max_file_bytes"),
            "{error}"
        );
    }

    #[test]
    fn the_upgrade_model_is_minilm_unless_the_index_table_says_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            IndexSettings::load(dir.path()).unwrap().upgrade,
            Some(EmbedderKind::Minilm)
        );
        std::fs::write(
            dir.path().join("codexos.toml"),
            "[index]\nupgrade = \"none\"\nupgrade_after_idle_ms = 0\n",
        )
        .unwrap();
        let settings = IndexSettings::load(dir.path()).unwrap();
        assert_eq!(
            (settings.upgrade, settings.upgrade_after_idle),
            (None, Duration::ZERO)
        );
        std::fs::write(
            dir.path().join("codexos.toml"),
            "[index]\nupgrade = \"bert\"\n",
        )
        .unwrap();
        let error = IndexSettings::load(dir.path()).unwrap_err().to_string();
        assert!(
            error.contains("codexos.toml") && error.contains("unknown embedder `bert`"),
            "{error}"
        );
    }

    #[test]
    fn the_embedder_is_chosen_in_the_index_table() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("codexos.toml"),
            "[index]\nembedder = \"builtin\"\n",
        )
        .unwrap();
        let settings = IndexSettings::load(dir.path()).unwrap();
        assert_eq!(
            settings.embedder.embedder,
            codexos_embed::EmbedderKind::Builtin
        );
    }
}
