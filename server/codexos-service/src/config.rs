//! `codexos.toml`, the workspace's configuration file.
//!
//! ```toml
//! [flows]
//! # Gitignore-style globs, relative to the workspace root, that `codexos check` skips.
//! exclude = ["flows/drafts/**"]
//! # Folders of `*.flow.json` templates that `codexos flow new` offers besides the shipped ones.
//! template_dirs = ["flows/our-templates"]
//!
//! [tools]
//! # The `shell` and `python` tools are off unless allowed here.
//! allow_shell = false
//! allow_python = false
//! python = "python3"
//! # Limits for commands (shell, python, plug-ins, MCP calls) and http_fetch.
//! timeout_secs = 30
//! max_output_bytes = 65536
//! http_timeout_secs = 30
//! http_max_bytes = 1048576
//!
//! [tools.declared]
//! # Tools the checks accept besides the built-ins (e.g. ones an MCP server adds at run time).
//! jira_search = "Search Jira issues"
//!
//! [[mcp.servers]]
//! # An MCP server over stdio; its tools are called `<name>.<tool>`.
//! name = "github"
//! command = "github-mcp-server"
//! args = ["stdio"]
//! env = { GITHUB_TOOLSETS = "issues" }
//!
//! [network]
//! # No tool reaches the network and only models on this machine answer (a workspace may narrow
//! # what agents do, never widen it: docs/security.md).
//! offline = false
//!
//! [llm.models]
//! # Models the checks accept besides the built-ins, with a line that says what each is.
//! my-finetune = "Our fine-tuned model, served by vLLM"
//! ```
//!
//! Unknown keys are not errors (a newer file still loads in an older CodexOS) but each one is
//! reported as a [`ConfigWarning`] naming the key and its line: unknown sections, and unknown
//! keys in `[flows]`. The sections other crates own (`[index]`, `[vault]`, `[mcp]`, and the rest
//! of `[tools]` and `[llm]`) are kept as raw tables for them to read. A file that is not TOML, or a
//! known key with the wrong type, is a [`ConfigError`] naming the file, line and column.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use codexos_flow::{Encoding, LineIndex};
use serde::Deserialize;

/// The configuration file's name, looked up at the workspace root.
pub const CONFIG_FILE: &str = "codexos.toml";

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Config {
    pub flows: FlowsConfig,
    pub tools: ToolsConfig,
    pub llm: LlmConfig,
    /// Read by the workspace index (`codexos-index`, `codexos-embed`).
    pub index: toml::Table,
    /// Read by the vault.
    pub vault: toml::Table,
    /// MCP servers, read by the tool registry.
    pub mcp: toml::Table,
    pub network: NetworkConfig,
}

/// `[network]`: what this workspace's agents may reach.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct NetworkConfig {
    /// No tool reaches the network; only models on this machine answer.
    pub offline: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct FlowsConfig {
    /// Gitignore-style globs, relative to the workspace root, that `codexos check` skips.
    pub exclude: Vec<String>,
    /// Folders, relative to the workspace root, whose `*.flow.json` files `codexos flow new`
    /// offers as templates besides the shipped ones.
    pub template_dirs: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ToolsConfig {
    /// Tool name → what it does.
    pub declared: BTreeMap<String, String>,
    /// The tool registry's own settings (`allow_shell`, timeouts, ...), read by `codexos-tools`.
    #[serde(flatten)]
    pub registry: toml::Table,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct LlmConfig {
    /// Model name → what it is.
    pub models: BTreeMap<String, String>,
    /// The router's own settings (providers, fallbacks, ...), read by `codexos-llm`.
    #[serde(flatten)]
    pub router: toml::Table,
}

/// A configuration and what was odd about the file it came from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoadedConfig {
    pub config: Config,
    /// The file it was read from; `None` when the workspace has no `codexos.toml`.
    pub path: Option<PathBuf>,
    pub warnings: Vec<ConfigWarning>,
}

/// A key in `codexos.toml` that CodexOS does not know (and ignores).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigWarning {
    pub path: PathBuf,
    /// One-based line and column of the key, when it could be found.
    pub line: u32,
    pub col: u32,
    pub key: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: unknown key `{}` (ignored)",
            self.path.display(),
            self.line,
            self.col,
            self.key
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read the configuration: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}:{col}: invalid configuration: {message}", path.display())]
    Invalid {
        path: PathBuf,
        /// One-based line and column.
        line: u32,
        col: u32,
        message: String,
    },
}

impl Config {
    /// Reads `codexos.toml` at `root`; a workspace without one gets the defaults.
    pub fn load(root: &Path) -> Result<LoadedConfig, ConfigError> {
        let path = root.join(CONFIG_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(LoadedConfig::default());
            }
            Err(source) => return Err(ConfigError::Read { path, source }),
        };
        let text = String::from_utf8(bytes).map_err(|error| {
            let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
            let position = one_based(std::str::from_utf8(valid).unwrap_or_default(), valid.len());
            ConfigError::Invalid {
                path: path.clone(),
                line: position.0,
                col: position.1,
                message: "the file is not valid UTF-8".to_owned(),
            }
        })?;
        Config::parse(&text, &path)
    }

    /// Parses the text of a configuration file; `path` only names it in messages.
    pub fn parse(text: &str, path: &Path) -> Result<LoadedConfig, ConfigError> {
        let invalid = |error: toml::de::Error| {
            let (line, col) = one_based(text, error.span().map_or(0, |span| span.start));
            ConfigError::Invalid {
                path: path.to_owned(),
                line,
                col,
                message: error.message().trim_end().to_owned(),
            }
        };
        let deserializer = toml::de::Deserializer::parse(text).map_err(invalid)?;
        let mut unknown = Vec::new();
        let config: Config =
            serde_ignored::deserialize(deserializer, |key| unknown.push(key.to_string()))
                .map_err(invalid)?;
        let spans = toml::de::DeTable::parse(text).ok();
        let warnings = unknown
            .into_iter()
            .map(|key| {
                let offset = spans
                    .as_ref()
                    .and_then(|table| key_offset(table.get_ref(), &key))
                    .unwrap_or(0);
                let (line, col) = one_based(text, offset);
                ConfigWarning {
                    path: path.to_owned(),
                    line,
                    col,
                    key,
                }
            })
            .collect();
        Ok(LoadedConfig {
            config,
            path: Some(path.to_owned()),
            warnings,
        })
    }
}

/// The byte offset of the key at a dotted path (as `serde_ignored` spells it), if present.
fn key_offset(table: &toml::de::DeTable<'_>, dotted: &str) -> Option<usize> {
    let mut segments = dotted.split('.');
    let first = segments.next()?;
    let (mut key_span, mut value) = table
        .iter()
        .find(|(key, _)| key.get_ref().as_ref() == first)
        .map(|(key, value)| (key.span(), value))?;
    for segment in segments {
        match value.get_ref() {
            toml::de::DeValue::Table(table) => {
                let (key, next) = table
                    .iter()
                    .find(|(key, _)| key.get_ref().as_ref() == segment)?;
                key_span = key.span();
                value = next;
            }
            toml::de::DeValue::Array(array) => {
                let index: usize = segment.parse().ok()?;
                value = array.get(index)?;
                key_span = value.span();
            }
            _ => return None,
        }
    }
    Some(key_span.start)
}

fn one_based(text: &str, offset: usize) -> (u32, u32) {
    let offset = offset.min(text.len()) as u32;
    let position = LineIndex::new(text).line_col(text, offset, Encoding::Utf8);
    (position.line + 1, position.col + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    fn load(text: &str) -> String {
        match Config::parse(text, Path::new("ws/codexos.toml")) {
            Ok(loaded) => format!("{:?}\n{:#?}", loaded.warnings, loaded.config),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn an_empty_file_gives_the_defaults() {
        let loaded = Config::parse("", Path::new("codexos.toml"));
        assert_eq!(
            loaded.map(|loaded| loaded.config).ok(),
            Some(Config::default())
        );
    }

    #[test]
    fn declared_tools_and_models_are_read() {
        expect![[r#"
            []
            Config {
                flows: FlowsConfig {
                    exclude: [
                        "drafts/**",
                    ],
                    template_dirs: [],
                },
                tools: ToolsConfig {
                    declared: {
                        "jira_search": "Search Jira issues",
                    },
                    registry: {},
                },
                llm: LlmConfig {
                    models: {
                        "my-finetune": "Our model",
                    },
                    router: {},
                },
                index: {},
                vault: {},
                mcp: {},
                network: NetworkConfig {
                    offline: false,
                },
            }"#]]
        .assert_eq(&load(
            r#"
[flows]
exclude = ["drafts/**"]
[tools.declared]
jira_search = "Search Jira issues"
[llm.models]
my-finetune = "Our model"
"#,
        ));
    }

    #[test]
    fn unknown_keys_are_warnings_that_name_the_key_and_its_line() {
        let loaded = Config::parse(
            "[flows]\nexclude = []\nexclud = 1\n\n[telemetry]\non = true\n",
            Path::new("ws/codexos.toml"),
        );
        let warnings: Vec<String> = loaded
            .map(|loaded| loaded.warnings.iter().map(|w| w.to_string()).collect())
            .unwrap_or_default();
        expect![[r#"
            [
                "ws/codexos.toml:3:1: unknown key `flows.exclud` (ignored)",
                "ws/codexos.toml:5:2: unknown key `telemetry` (ignored)",
            ]
        "#]]
        .assert_debug_eq(&warnings);
    }

    #[test]
    fn sections_other_crates_read_load_without_warnings() {
        let loaded = Config::parse(
            r#"
[index]
max_file_bytes = 2048
embedder = "static"
[tools]
allow_shell = true
[tools.declared]
jira = "Jira"
[llm]
fallbacks = ["ollama/llama3.2"]
[llm.providers.openai]
api_key_env = "OPENAI_API_KEY"
[[mcp.servers]]
name = "github"
command = "github-mcp-server"
[vault]
path = ".codexos/vault.age"
"#,
            Path::new("codexos.toml"),
        );
        let loaded = loaded.expect("a valid file");
        assert_eq!(loaded.warnings, Vec::new());
        assert_eq!(
            loaded.config.tools.registry.get("allow_shell"),
            Some(&toml::Value::Boolean(true))
        );
        assert_eq!(loaded.config.tools.declared.len(), 1);
        assert!(loaded.config.llm.router.contains_key("providers"));
        assert!(loaded.config.index.contains_key("max_file_bytes"));
    }

    #[test]
    fn bad_toml_is_an_error_with_file_line_and_column() {
        expect!["ws/codexos.toml:2:15: invalid configuration: unclosed array, expected `]`"]
            .assert_eq(&load("[flows]\nexclude = [\"a\"\n"));
    }

    #[test]
    fn a_known_key_with_the_wrong_type_is_an_error_at_its_value() {
        expect!["ws/codexos.toml:2:11: invalid configuration: invalid type: string \"drafts\", expected a sequence"]
            .assert_eq(&load("[flows]\nexclude = \"drafts\"\n"));
    }

    #[test]
    fn a_config_that_is_not_utf8_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join(CONFIG_FILE), b"[flows]\n\xff = 1\n").expect("write");
        let error = Config::load(dir.path()).err().map(|e| e.to_string());
        let expected = format!(
            "{}:2:1: invalid configuration: the file is not valid UTF-8",
            dir.path().join(CONFIG_FILE).display()
        );
        assert_eq!(error, Some(expected));
    }

    #[test]
    fn a_workspace_without_a_config_gets_the_defaults() {
        let dir = tempfile::tempdir().expect("temp dir");
        let loaded = Config::load(dir.path()).ok();
        assert_eq!(loaded, Some(LoadedConfig::default()));
    }
}
