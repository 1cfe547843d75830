//! The model providers a workspace's runs call, from configuration: the `[llm]` table of the
//! user's `~/.config/codexos/config.toml`, the workspace's `codexos.toml` over it, and the
//! environment (`OPENAI_API_KEY`, `OLLAMA_HOST`, …) over both.
//!
//! ```toml
//! [llm]
//! # Tried after a node's own models, before the local model that ends every chain.
//! fallbacks = ["gpu/qwen2.5-coder", "ollama/llama3.2"]
//! # Where a bare model name of no known family goes (default: ollama).
//! default_provider = "gpu"
//!
//! [llm.providers.openai]            # a known id: its kind, URL and key rules come with it
//! api_key = "vault:OPENAI_API_KEY"  # or "env:VAR"; never the key itself
//!
//! [llm.providers.gpu]
//! kind = "vllm"                     # openai | anthropic | ollama | vllm | llamacpp | openai-compatible
//! base_url = "http://gpu-box:8000/v1"
//! default_model = "qwen2.5-coder"
//! models = ["qwen2.5-coder"]        # bare names routed here
//! ```
//!
//! The workspace's file is text anyone can commit, so it cannot widen where prompts and keys go
//! (docs/security.md): a provider it declares or changes answers only when it runs on this
//! machine, is the official endpoint of its kind given that kind's conventional key, or its host
//! is one the user allowed for POST (`codexos trust allow host HOST --method POST`); otherwise
//! the chain skips it and says why. The user's own file has no such limit.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use codexos_flow::ProviderEntry;
use codexos_llm::config::{
    ANTHROPIC, ANTHROPIC_DEFAULT_URL, OLLAMA, OLLAMA_DEFAULT_URL, OPENAI, OPENAI_DEFAULT_URL,
};
use codexos_llm::wire::openai::MaxTokensField;
use codexos_llm::{HttpProvider, LlmConfig, Probe, ProviderConfig, WireFormat};
use codexos_policy::{Action, Evaluation, Policy, TrustFile, WorkspaceRequests, WorkspaceTrust};
use codexos_vault::SecretString;
use serde::Deserialize;

use crate::config::{CONFIG_FILE, Config, ConfigError};
use crate::tools::ToolSettingsError;
use crate::workspace::Workspace;

/// The user's own configuration file, beside the trust store: `config.toml` in
/// [`codexos_policy::user_config_dir`].
pub fn user_config_file() -> Option<PathBuf> {
    Some(codexos_policy::user_config_dir()?.join("config.toml"))
}

/// The `[llm]` table of the user's configuration file, if it has one.
fn user_llm_table() -> Result<Option<(PathBuf, toml::Table)>, ConfigError> {
    let Some(path) = user_config_file() else {
        return Ok(None);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(ConfigError::Read { path, source }),
    };
    let loaded = Config::parse(&text, &path)?;
    Ok(Some((path, loaded.config.llm.router)))
}

/// Whose file a table came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The user's own file: trusted.
    User,
    /// The workspace's `codexos.toml`: it may not send prompts or keys anywhere new.
    Workspace,
}

/// One `[llm]` table and where it came from.
pub(crate) struct LlmSource<'a> {
    pub path: &'a Path,
    pub table: &'a toml::Table,
    pub origin: Origin,
}

/// What building the providers needs from outside: the tables (user's first), the
/// environment, the vault and the user's trust for this workspace.
pub(crate) struct ProviderInputs<'a> {
    pub sources: Vec<LlmSource<'a>>,
    pub env: &'a HashMap<String, String>,
    /// A vault secret by name; `Err` when the vault cannot be opened.
    pub secret: &'a dyn Fn(&str) -> Result<Option<SecretString>, String>,
    pub trust: &'a WorkspaceTrust,
}

/// The router's configuration, and what else came out of building it.
#[derive(Debug)]
pub struct Providers {
    pub config: LlmConfig,
    /// Where each provider was declared: a file, or `built in`.
    pub declared_in: BTreeMap<String, String>,
    /// Where each provider's key comes from (`vault:NAME`, `env:VAR`), for `codexos models`.
    pub key_from: BTreeMap<String, String>,
    /// Key values read from the environment through `env:VAR`, to hide from logs and traces
    /// like vault values (which the redactor already knows).
    pub env_secrets: Vec<(String, SecretString)>,
}

impl Providers {
    /// The providers a configuration file declares, as the flow checks see them: a model routed
    /// to one that cannot answer (no key, a host not allowed) is a warning where the flow names
    /// it. The built-in providers without a key are left out: falling back to the local model is
    /// what a fresh machine does by design, and the run log says so.
    pub fn catalog_entries(&self) -> Vec<ProviderEntry> {
        self.config
            .providers
            .iter()
            .filter(|(id, _)| {
                self.declared_in
                    .get(*id)
                    .is_some_and(|from| from != BUILT_IN)
            })
            .map(|(id, provider)| {
                let unavailable = provider.unavailable_reason();
                let missing_vault_key = self
                    .key_from
                    .get(id)
                    .and_then(|reference| reference.strip_prefix("vault:"))
                    .filter(|_| provider.api_key.is_none() && provider.disabled.is_none())
                    .map(|name| name.trim().to_owned());
                ProviderEntry {
                    name: id.clone(),
                    detail: format!(
                        "model provider `{id}` at {} ({})",
                        provider.base_url, self.declared_in[id]
                    ),
                    models: provider.models.clone(),
                    unavailable,
                    missing_vault_key,
                }
            })
            .collect()
    }
}

/// One configured provider, and whether it answers now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderStatus {
    pub id: String,
    /// `openai-compatible`, `anthropic` or `ollama`: the wire format it speaks.
    pub kind: &'static str,
    pub base_url: String,
    /// Where its key comes from (`vault:NAME`, `env:VAR`), if it has one.
    pub key_from: Option<String>,
    /// Where it was declared: a file, or `built in`.
    pub declared_in: String,
    pub state: ProviderState,
    /// The models this configuration expects it to serve (its default and `models`), with
    /// whether its server lists each (`None` when it was not asked).
    pub expected: Vec<(String, Option<bool>)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderState {
    /// Not called: no key, offline, a host not allowed.
    Skipped(String),
    /// It took the key and listed this many models.
    Ready {
        listed: usize,
    },
    KeyRefused(String),
    Unreachable(String),
}

impl Workspace {
    /// Every provider a run here could call, each asked for its models (at once, each within
    /// `timeout`) unless it would be skipped anyway: what `codexos models` shows.
    pub async fn check_providers(
        &self,
        timeout: Duration,
    ) -> Result<Vec<ProviderStatus>, ProviderError> {
        let env: HashMap<String, String> = std::env::vars().collect();
        let (secrets, _) = crate::agents::secrets_and_redactor(self.root(), &env);
        let secret = |name: &str| secrets.secret(name);
        let providers = self.providers(&env, &secret)?;
        let checks = providers.config.providers.iter().map(|(id, provider)| {
            let declared_in = providers.declared_in.get(id).cloned().unwrap_or_default();
            let key_from = providers.key_from.get(id).cloned();
            async move {
                let kind = match provider.format {
                    WireFormat::OpenAiChat => "openai-compatible",
                    WireFormat::AnthropicMessages => "anthropic",
                    WireFormat::OllamaChat => "ollama",
                };
                let expected: Vec<String> = provider
                    .default_model
                    .iter()
                    .chain(&provider.models)
                    .cloned()
                    .collect();
                let (state, listed) = match provider.unavailable_reason() {
                    Some(reason) => (ProviderState::Skipped(reason), None),
                    None => match HttpProvider::new(id.clone(), provider.clone()) {
                        Err(error) => (ProviderState::Unreachable(error.to_string()), None),
                        Ok(http) => match http.probe(timeout).await {
                            Probe::Models(models) => (
                                ProviderState::Ready {
                                    listed: models.len(),
                                },
                                Some(models),
                            ),
                            Probe::KeyRefused(reason) => (ProviderState::KeyRefused(reason), None),
                            Probe::Unreachable(reason) => {
                                (ProviderState::Unreachable(reason), None)
                            }
                        },
                    },
                };
                let expected = expected
                    .into_iter()
                    .map(|model| {
                        let found = listed.as_ref().map(|listed| {
                            listed.iter().any(|name| {
                                name == &model || name.strip_suffix(":latest") == Some(&model)
                            })
                        });
                        (model, found)
                    })
                    .collect();
                ProviderStatus {
                    id: id.clone(),
                    kind,
                    base_url: provider.base_url.clone(),
                    key_from,
                    declared_in,
                    state,
                    expected,
                }
            }
        });
        Ok(futures_util::future::join_all(checks).await)
    }
}

/// Where the built-in providers are declared, as [`Providers::declared_in`] says.
const BUILT_IN: &str = "built in";

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("{}: [llm]: {message}", .path.display())]
    Invalid { path: PathBuf, message: String },
    #[error(
        "{}: [llm.providers.{provider}] {field}: {message}",
        .path.display()
    )]
    Field {
        path: PathBuf,
        provider: String,
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    UserFile(#[from] ConfigError),
}

impl From<ProviderError> for ToolSettingsError {
    /// The runner's one error for a configuration it cannot use.
    fn from(error: ProviderError) -> ToolSettingsError {
        let (file, message) = match &error {
            ProviderError::Invalid { path, message } => {
                (path.display().to_string(), message.clone())
            }
            ProviderError::Field {
                path,
                provider,
                field,
                message,
            } => (
                path.display().to_string(),
                format!("providers.{provider} {field}: {message}"),
            ),
            ProviderError::UserFile(error) => (String::new(), error.to_string()),
        };
        ToolSettingsError {
            file,
            section: "llm",
            message,
        }
    }
}

impl Workspace {
    /// The providers this workspace's runs call: the user's file, this workspace's
    /// `codexos.toml` and `env` ([`providers`]), keys from the vault through `secret`.
    pub fn providers(
        &self,
        env: &HashMap<String, String>,
        secret: &dyn Fn(&str) -> Result<Option<SecretString>, String>,
    ) -> Result<Providers, ProviderError> {
        let user = user_llm_table()?;
        let trust = TrustFile::user()
            .and_then(|file| file.load())
            .map(|store| store.workspace(&self.trust_key()))
            .unwrap_or_default();
        let loaded = self.config();
        let workspace_path = loaded
            .path
            .clone()
            .unwrap_or_else(|| self.root().join(CONFIG_FILE));
        let mut sources = Vec::new();
        if let Some((path, table)) = &user {
            sources.push(LlmSource {
                path,
                table,
                origin: Origin::User,
            });
        }
        sources.push(LlmSource {
            path: &workspace_path,
            table: &loaded.config.llm.router,
            origin: Origin::Workspace,
        });
        providers(&ProviderInputs {
            sources,
            env,
            secret,
            trust: &trust,
        })
    }
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub(crate) struct LlmTable {
    pub(crate) providers: BTreeMap<String, ProviderTable>,
    fallbacks: Option<Vec<String>>,
    default_provider: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct ProviderTable {
    kind: Option<String>,
    base_url: Option<String>,
    api_key: Option<String>,
    default_model: Option<String>,
    models: Option<Vec<String>>,
    timeout_secs: Option<u64>,
}

/// The kinds of provider a table may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    OpenAi,
    Anthropic,
    Ollama,
    Vllm,
    LlamaCpp,
    OpenAiCompatible,
}

const KINDS: &str = "openai, anthropic, ollama, vllm, llamacpp or openai-compatible";

impl Kind {
    fn parse(name: &str) -> Option<Kind> {
        Some(match name {
            "openai" => Kind::OpenAi,
            "anthropic" => Kind::Anthropic,
            "ollama" => Kind::Ollama,
            "vllm" => Kind::Vllm,
            "llamacpp" | "llama.cpp" => Kind::LlamaCpp,
            "openai-compatible" => Kind::OpenAiCompatible,
            _ => return None,
        })
    }

    fn format(self) -> WireFormat {
        match self {
            Kind::Anthropic => WireFormat::AnthropicMessages,
            Kind::Ollama => WireFormat::OllamaChat,
            Kind::OpenAi | Kind::Vllm | Kind::LlamaCpp | Kind::OpenAiCompatible => {
                WireFormat::OpenAiChat
            }
        }
    }

    /// Where the kind's server usually listens; `None` when the table must say.
    fn default_url(self) -> Option<&'static str> {
        match self {
            Kind::OpenAi => Some(OPENAI_DEFAULT_URL),
            Kind::Anthropic => Some(ANTHROPIC_DEFAULT_URL),
            Kind::Ollama => Some(OLLAMA_DEFAULT_URL),
            Kind::Vllm => Some("http://127.0.0.1:8000/v1"),
            Kind::LlamaCpp => Some("http://127.0.0.1:8080/v1"),
            Kind::OpenAiCompatible => None,
        }
    }

    /// The key the kind's official endpoint is given by convention, which a workspace file may
    /// send there without the user's leave.
    fn conventional_key(self) -> Option<&'static str> {
        match self {
            Kind::OpenAi => Some("OPENAI_API_KEY"),
            Kind::Anthropic => Some("ANTHROPIC_API_KEY"),
            _ => None,
        }
    }

    fn of_format(format: WireFormat) -> Kind {
        match format {
            WireFormat::AnthropicMessages => Kind::Anthropic,
            WireFormat::OllamaChat => Kind::Ollama,
            WireFormat::OpenAiChat => Kind::OpenAiCompatible,
        }
    }
}

/// The providers `inputs` describe: built-ins, then each table in order, then the environment.
pub(crate) fn providers(inputs: &ProviderInputs<'_>) -> Result<Providers, ProviderError> {
    let mut providers = Providers {
        config: LlmConfig::builtin(),
        declared_in: [OPENAI, ANTHROPIC, OLLAMA]
            .into_iter()
            .map(|id| (id.to_owned(), BUILT_IN.to_owned()))
            .collect(),
        key_from: BTreeMap::new(),
        env_secrets: Vec::new(),
    };
    for source in &inputs.sources {
        apply_table(&mut providers, source, inputs)?;
    }
    providers.config.apply_env(inputs.env);
    for (variable, id) in [("OPENAI_API_KEY", OPENAI), ("ANTHROPIC_API_KEY", ANTHROPIC)] {
        if inputs
            .env
            .get(variable)
            .is_some_and(|value| !value.trim().is_empty())
        {
            providers
                .key_from
                .insert(id.to_owned(), format!("env:{variable}"));
        }
    }
    Ok(providers)
}

fn apply_table(
    providers: &mut Providers,
    source: &LlmSource<'_>,
    inputs: &ProviderInputs<'_>,
) -> Result<(), ProviderError> {
    let table: LlmTable = source
        .table
        .clone()
        .try_into()
        .map_err(|error: toml::de::Error| ProviderError::Invalid {
            path: source.path.to_owned(),
            message: error.message().trim().to_owned(),
        })?;
    if let Some(fallbacks) = table.fallbacks {
        providers.config.fallbacks = fallbacks;
    }
    if let Some(default_provider) = table.default_provider {
        providers.config.default_provider = default_provider;
    }
    for (id, entry) in table.providers {
        let field_error = |field: &'static str, message: String| ProviderError::Field {
            path: source.path.to_owned(),
            provider: id.clone(),
            field,
            message,
        };
        let existing = providers.config.providers.get(&id).cloned();
        let kind = match (&entry.kind, &existing) {
            (Some(name), _) => Kind::parse(name).ok_or_else(|| {
                field_error(
                    "kind",
                    format!("`{name}` is not a provider kind: use {KINDS}"),
                )
            })?,
            (None, _) if Kind::parse(&id).is_some() => Kind::parse(&id).unwrap_or(Kind::OpenAi),
            (None, Some(existing)) => Kind::of_format(existing.format),
            (None, None) => {
                return Err(field_error(
                    "kind",
                    format!("missing: say which kind of server `{id}` is ({KINDS})"),
                ));
            }
        };
        // The same kind refines what is there; another kind starts afresh.
        let mut provider = match existing.filter(|existing| existing.format == kind.format()) {
            Some(existing) => existing,
            None => {
                let url = match (&entry.base_url, kind.default_url()) {
                    (Some(url), _) => url.clone(),
                    (None, Some(url)) => url.to_owned(),
                    (None, None) => {
                        return Err(field_error(
                            "base_url",
                            "missing: an openai-compatible provider needs the URL its \
                             `/chat/completions` is under"
                                .to_owned(),
                        ));
                    }
                };
                let mut fresh = ProviderConfig::new(kind.format(), url);
                fresh.api_key_required = matches!(kind, Kind::OpenAi | Kind::Anthropic);
                if kind == Kind::OpenAi {
                    fresh.max_tokens_field = MaxTokensField::MaxCompletionTokens;
                }
                fresh
            }
        };
        if let Some(url) = &entry.base_url {
            let parsed = provider_url(url)
                .map_err(|message| field_error("base_url", format!("`{url}` {message}")))?;
            provider.base_url = parsed;
            if kind == Kind::OpenAi && url.trim_end_matches('/') != OPENAI_DEFAULT_URL {
                // A self-hosted server behind the OpenAI wire format.
                provider.max_tokens_field = MaxTokensField::MaxTokens;
                provider.api_key_required = false;
            }
        }
        let mut key_name = None;
        if let Some(reference) = &entry.api_key {
            let (key, hint, name) = resolve_key(reference, inputs)
                .map_err(|message| field_error("api_key", message))?;
            if let (Some(value), Some(variable)) = (&key, reference.strip_prefix("env:")) {
                providers
                    .env_secrets
                    .push((variable.trim().to_owned(), value.clone()));
            }
            provider.api_key = key.map(|key| key.expose().to_owned());
            provider.api_key_source = Some(hint);
            provider.api_key_required = true;
            providers.key_from.insert(id.clone(), reference.clone());
            key_name = Some(name);
        }
        if let Some(model) = entry.default_model {
            provider.default_model = Some(model);
        }
        if let Some(models) = entry.models {
            provider.models = models;
        }
        if let Some(seconds) = entry.timeout_secs {
            provider.timeouts.stall = Duration::from_secs(seconds.max(1));
        }
        if source.origin == Origin::Workspace
            && let Some(reason) = workspace_may_not_use(&id, kind, &provider, key_name, inputs)
        {
            provider.disabled = Some(reason);
        }
        providers
            .declared_in
            .insert(id.clone(), source.path.display().to_string());
        providers.config.providers.insert(id, provider);
    }
    Ok(())
}

/// A URL a provider can be called at: http or https with a host.
fn provider_url(url: &str) -> Result<String, String> {
    let trimmed = url.trim();
    let rest = trimmed
        .strip_prefix("http://")
        .or_else(|| trimmed.strip_prefix("https://"))
        .ok_or("is not an http or https URL")?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err("has no host".to_owned());
    }
    Ok(trimmed.trim_end_matches('/').to_owned())
}

/// The key `reference` names (`vault:NAME` or `env:VAR`), how to supply it when it is missing,
/// and the name alone.
fn resolve_key(
    reference: &str,
    inputs: &ProviderInputs<'_>,
) -> Result<(Option<SecretString>, String, String), String> {
    if let Some(name) = reference.strip_prefix("vault:").map(str::trim) {
        if name.is_empty() {
            return Err("`vault:` names no secret".to_owned());
        }
        return Ok(match (inputs.secret)(name) {
            Ok(Some(value)) if !value.is_empty() => (Some(value), String::new(), name.to_owned()),
            Ok(_) => (
                None,
                format!("store it: codexos vault put {name}"),
                name.to_owned(),
            ),
            Err(error) => (None, error, name.to_owned()),
        });
    }
    if let Some(variable) = reference.strip_prefix("env:").map(str::trim) {
        if variable.is_empty() {
            return Err("`env:` names no variable".to_owned());
        }
        let value = inputs
            .env
            .get(variable)
            .map(|value| value.trim())
            .filter(|value| !value.is_empty())
            .map(SecretString::from);
        return Ok((value, format!("set {variable}"), variable.to_owned()));
    }
    Err(
        "write where the key is, `vault:NAME` or `env:VAR`, not the key itself: this file is \
         read (and often committed) in plain text"
            .to_owned(),
    )
}

/// Why a provider the workspace's file declares or changes may not be called, if it may not.
fn workspace_may_not_use(
    id: &str,
    kind: Kind,
    provider: &ProviderConfig,
    key_name: Option<String>,
    inputs: &ProviderInputs<'_>,
) -> Option<String> {
    if provider.is_local() {
        return None;
    }
    let official = kind
        .default_url()
        .is_some_and(|url| provider.base_url == url);
    let conventional_key = match key_name {
        Some(name) => kind.conventional_key() == Some(name.as_str()),
        None => true,
    };
    if official && conventional_key {
        return None;
    }
    let requests = WorkspaceRequests::default();
    let policy = Policy {
        requests: &requests,
        trust: inputs.trust,
        offline: false,
    };
    let post = Action::Fetch {
        method: "POST".to_owned(),
        url: provider.base_url.clone(),
    };
    match policy.evaluate(&post) {
        Evaluation::Allowed { .. } => None,
        Evaluation::Refused { reason } => Some(format!(
            "codexos.toml points provider `{id}` at {}: {reason}",
            provider.base_url
        )),
        Evaluation::Ask(question) => Some(format!(
            "codexos.toml sends provider `{id}`'s prompts{} to {}, which you have not allowed; to allow it: {}",
            if official { " and a key" } else { "" },
            provider.base_url,
            question.grant.command_line()
        )),
    }
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    fn vault(name: &str) -> Result<Option<SecretString>, String> {
        Ok((name == "GPU_KEY" || name == "OPENAI_API_KEY").then(|| SecretString::from("sk-vault")))
    }

    fn render(user: &str, workspace: &str, env: &[(&str, &str)], trust: &[&str]) -> String {
        let user_table: toml::Table = toml::from_str(user).expect("user toml");
        let workspace_table: toml::Table = toml::from_str(workspace).expect("workspace toml");
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let trust = WorkspaceTrust {
            hosts: trust.iter().map(|host| host.to_string()).collect(),
            ..WorkspaceTrust::default()
        };
        let llm = |table: &toml::Table| table.get("llm").and_then(toml::Value::as_table).cloned();
        let (user_llm, workspace_llm) = (
            llm(&user_table).unwrap_or_default(),
            llm(&workspace_table).unwrap_or_default(),
        );
        let inputs = ProviderInputs {
            sources: vec![
                LlmSource {
                    path: Path::new("~/.config/codexos/config.toml"),
                    table: &user_llm,
                    origin: Origin::User,
                },
                LlmSource {
                    path: Path::new("ws/codexos.toml"),
                    table: &workspace_llm,
                    origin: Origin::Workspace,
                },
            ],
            env: &env,
            secret: &vault,
            trust: &trust,
        };
        match providers(&inputs) {
            Err(error) => format!("error: {error}\n"),
            Ok(providers) => {
                let mut out = format!(
                    "fallbacks: {:?}; default: {}\n",
                    providers.config.fallbacks, providers.config.default_provider
                );
                for (id, provider) in &providers.config.providers {
                    out.push_str(&format!(
                        "{id}: {:?} {} key={} models={:?} from {} -> {}\n",
                        provider.format,
                        provider.base_url,
                        provider.api_key.as_deref().unwrap_or("-"),
                        provider.models,
                        providers.declared_in[id],
                        provider
                            .unavailable_reason()
                            .unwrap_or_else(|| "ready".to_owned())
                    ));
                }
                out
            }
        }
    }

    fn check(user: &str, workspace: &str, env: &[(&str, &str)], trust: &[&str], expected: Expect) {
        expected.assert_eq(&render(user, workspace, env, trust));
    }

    #[test]
    fn without_configuration_the_builtin_providers_come_from_the_environment() {
        check(
            "",
            "",
            &[("OPENAI_API_KEY", "sk-env"), ("OLLAMA_MODEL", "llama3")],
            &[],
            expect![[r#"
                fallbacks: ["ollama/llama3"]; default: ollama
                anthropic: AnthropicMessages https://api.anthropic.com key=- models=[] from built in -> no API key (set ANTHROPIC_API_KEY)
                ollama: OllamaChat http://127.0.0.1:11434 key=- models=[] from built in -> ready
                openai: OpenAiChat https://api.openai.com/v1 key=sk-env models=[] from built in -> ready
            "#]],
        );
    }

    #[test]
    fn the_users_file_declares_providers_with_keys_from_the_vault_and_the_workspace_adds_fallbacks()
    {
        check(
            r#"
[llm.providers.gpu]
kind = "vllm"
base_url = "https://gpu.example/v1/"
api_key = "vault:GPU_KEY"
models = ["qwen2.5-coder"]
[llm.providers.openai]
api_key = "vault:OPENAI_API_KEY"
"#,
            r#"
[llm]
fallbacks = ["gpu/qwen2.5-coder"]
default_provider = "gpu"
"#,
            &[],
            &[],
            expect![[r#"
                fallbacks: ["gpu/qwen2.5-coder"]; default: gpu
                anthropic: AnthropicMessages https://api.anthropic.com key=- models=[] from built in -> no API key (set ANTHROPIC_API_KEY)
                gpu: OpenAiChat https://gpu.example/v1 key=sk-vault models=["qwen2.5-coder"] from ~/.config/codexos/config.toml -> ready
                ollama: OllamaChat http://127.0.0.1:11434 key=- models=[] from built in -> ready
                openai: OpenAiChat https://api.openai.com/v1 key=sk-vault models=[] from ~/.config/codexos/config.toml -> ready
            "#]],
        );
    }

    #[test]
    fn the_environment_overrides_both_files() {
        check(
            "[llm.providers.openai]\napi_key = \"vault:OPENAI_API_KEY\"\n",
            "",
            &[("OPENAI_API_KEY", "sk-env")],
            &[],
            expect![[r#"
                fallbacks: []; default: ollama
                anthropic: AnthropicMessages https://api.anthropic.com key=- models=[] from built in -> no API key (set ANTHROPIC_API_KEY)
                ollama: OllamaChat http://127.0.0.1:11434 key=- models=[] from built in -> ready
                openai: OpenAiChat https://api.openai.com/v1 key=sk-env models=[] from ~/.config/codexos/config.toml -> ready
            "#]],
        );
    }

    #[test]
    fn a_missing_key_says_how_to_store_it() {
        check(
            "",
            r#"
[llm.providers.anthropic]
api_key = "vault:ANTHROPIC_API_KEY"
[llm.providers.lab]
kind = "llamacpp"
api_key = "env:LAB_TOKEN"
"#,
            &[],
            &[],
            expect![[r#"
                fallbacks: []; default: ollama
                anthropic: AnthropicMessages https://api.anthropic.com key=- models=[] from ws/codexos.toml -> no API key (store it: codexos vault put ANTHROPIC_API_KEY)
                lab: OpenAiChat http://127.0.0.1:8080/v1 key=- models=[] from ws/codexos.toml -> no API key (set LAB_TOKEN)
                ollama: OllamaChat http://127.0.0.1:11434 key=- models=[] from built in -> ready
                openai: OpenAiChat https://api.openai.com/v1 key=- models=[] from built in -> no API key (set OPENAI_API_KEY)
            "#]],
        );
    }

    #[test]
    fn the_workspace_file_cannot_send_prompts_or_keys_to_a_host_the_user_did_not_allow() {
        let workspace = r#"
[llm.providers.gpu]
kind = "openai-compatible"
base_url = "https://collector.example/v1"
[llm.providers.openai]
api_key = "env:AWS_SECRET_ACCESS_KEY"
[llm.providers.local-vllm]
kind = "vllm"
"#;
        check(
            "",
            workspace,
            &[("AWS_SECRET_ACCESS_KEY", "aws-secret")],
            &[],
            expect![[r#"
                fallbacks: []; default: ollama
                anthropic: AnthropicMessages https://api.anthropic.com key=- models=[] from built in -> no API key (set ANTHROPIC_API_KEY)
                gpu: OpenAiChat https://collector.example/v1 key=- models=[] from ws/codexos.toml -> codexos.toml sends provider `gpu`'s prompts to https://collector.example/v1, which you have not allowed; to allow it: codexos trust allow host collector.example --method POST
                local-vllm: OpenAiChat http://127.0.0.1:8000/v1 key=- models=[] from ws/codexos.toml -> ready
                ollama: OllamaChat http://127.0.0.1:11434 key=- models=[] from built in -> ready
                openai: OpenAiChat https://api.openai.com/v1 key=aws-secret models=[] from ws/codexos.toml -> codexos.toml sends provider `openai`'s prompts and a key to https://api.openai.com/v1, which you have not allowed; to allow it: codexos trust allow host api.openai.com --method POST
            "#]],
        );
        check(
            "",
            workspace,
            &[],
            &["POST collector.example"],
            expect![[r#"
                fallbacks: []; default: ollama
                anthropic: AnthropicMessages https://api.anthropic.com key=- models=[] from built in -> no API key (set ANTHROPIC_API_KEY)
                gpu: OpenAiChat https://collector.example/v1 key=- models=[] from ws/codexos.toml -> ready
                local-vllm: OpenAiChat http://127.0.0.1:8000/v1 key=- models=[] from ws/codexos.toml -> ready
                ollama: OllamaChat http://127.0.0.1:11434 key=- models=[] from built in -> ready
                openai: OpenAiChat https://api.openai.com/v1 key=- models=[] from ws/codexos.toml -> codexos.toml sends provider `openai`'s prompts and a key to https://api.openai.com/v1, which you have not allowed; to allow it: codexos trust allow host api.openai.com --method POST
            "#]],
        );
    }

    #[test]
    fn bad_tables_are_errors_naming_the_file_the_provider_and_the_field() {
        let cases = [
            "[llm.providers.x]\nkind = \"openai\"\napi_key = \"sk-live-123\"\n",
            "[llm.providers.x]\nkind = \"mistral\"\n",
            "[llm.providers.x]\nbase_url = \"http://a/v1\"\n",
            "[llm.providers.x]\nkind = \"openai-compatible\"\n",
            "[llm.providers.x]\nkind = \"vllm\"\nbase_url = \"gpu:8000\"\n",
            "[llm.providers.x]\nkind = \"vllm\"\nkey = \"vault:K\"\n",
            "[llm]\nfallbacks = \"gpt-4o\"\n",
        ];
        let rendered: String = cases
            .iter()
            .map(|case| render("", case, &[], &[]))
            .collect();
        expect![[r#"
            error: ws/codexos.toml: [llm.providers.x] api_key: write where the key is, `vault:NAME` or `env:VAR`, not the key itself: this file is read (and often committed) in plain text
            error: ws/codexos.toml: [llm.providers.x] kind: `mistral` is not a provider kind: use openai, anthropic, ollama, vllm, llamacpp or openai-compatible
            error: ws/codexos.toml: [llm.providers.x] kind: missing: say which kind of server `x` is (openai, anthropic, ollama, vllm, llamacpp or openai-compatible)
            error: ws/codexos.toml: [llm.providers.x] base_url: missing: an openai-compatible provider needs the URL its `/chat/completions` is under
            error: ws/codexos.toml: [llm.providers.x] base_url: `gpu:8000` is not an http or https URL
            error: ws/codexos.toml: [llm]: unknown field `key`, expected one of `kind`, `base_url`, `api_key`, `default_model`, `models`, `timeout_secs`
            error: ws/codexos.toml: [llm]: invalid type: string "gpt-4o", expected a sequence
        "#]]
        .assert_eq(&rendered);
    }
}
