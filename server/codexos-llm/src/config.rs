//! Provider configuration as a plain struct. The binary fills it from `codexos.toml`, the vault
//! and the environment; [`LlmConfig::from_env`] gives the defaults from the seed's variables.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::wire::WireFormat;
use crate::wire::openai::MaxTokensField;

/// The provider ids this crate knows without configuration.
pub const OPENAI: &str = "openai";
pub const ANTHROPIC: &str = "anthropic";
pub const OLLAMA: &str = "ollama";
/// The in-process model, registered by the caller with [`crate::Router::register`].
pub const LOCAL: &str = "local";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing the TCP (and TLS) connection.
    pub connect: Duration,
    /// The longest silence allowed while waiting for the response headers or between two
    /// chunks of the body. Generous by default: a model may think before its first token.
    pub stall: Duration,
}

/// Retries of 429 and 5xx answers, before the first token only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt; 0 disables retrying.
    pub max_retries: u32,
    /// The wait before the first retry, doubled for each further one.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// A `Retry-After` asking for longer than this is not waited for: the attempt fails, so
    /// the fallback chain can move on.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_retries: 3,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderConfig {
    pub format: WireFormat,
    /// For OpenAI-compatible servers, the URL that `/chat/completions` is appended to
    /// (`https://api.openai.com/v1`); for Anthropic and Ollama, the server's root URL.
    pub base_url: String,
    pub api_key: Option<String>,
    /// Without a key the provider is skipped (with a recorded reason) instead of called.
    pub api_key_required: bool,
    /// How to supply the key, for the message when it is missing (`set OPENAI_API_KEY`).
    pub api_key_source: Option<String>,
    /// The model used when a chain names only the provider (`ollama`).
    pub default_model: Option<String>,
    /// Models this provider serves: a chain naming one of them bare (`qwen2.5-coder`) is
    /// routed here rather than by its family's prefix.
    pub models: Vec<String>,
    pub max_tokens_field: MaxTokensField,
    pub timeouts: Timeouts,
    pub retry: RetryPolicy,
    /// Set when the provider must not be called at all (`offline`), with the reason.
    pub disabled: Option<String>,
}

impl ProviderConfig {
    /// A provider with the defaults for `format`; set the key, model and limits on the result.
    pub fn new(format: WireFormat, base_url: impl Into<String>) -> ProviderConfig {
        let stall = match format {
            // A CPU server may load a model for minutes before its first token.
            WireFormat::OllamaChat => Duration::from_secs(300),
            WireFormat::OpenAiChat | WireFormat::AnthropicMessages => Duration::from_secs(120),
        };
        ProviderConfig {
            format,
            base_url: base_url.into(),
            api_key: None,
            api_key_required: false,
            api_key_source: None,
            default_model: None,
            models: Vec::new(),
            max_tokens_field: MaxTokensField::MaxTokens,
            timeouts: Timeouts {
                connect: Duration::from_secs(10),
                stall,
            },
            retry: RetryPolicy::default(),
            disabled: None,
        }
    }

    /// Whether the provider runs on this machine (its URL names a loopback address or
    /// `localhost`), so calling it sends nothing over the network.
    pub fn is_local(&self) -> bool {
        let Ok(url) = reqwest::Url::parse(&self.base_url) else {
            return false;
        };
        let Some(host) = url.host_str() else {
            return false;
        };
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        match bare.parse::<std::net::IpAddr>() {
            Ok(address) => address.is_loopback(),
            Err(_) => {
                let name = bare.to_ascii_lowercase();
                name == "localhost" || name.ends_with(".localhost")
            }
        }
    }

    /// Why this provider cannot be called, if it cannot.
    pub fn unavailable_reason(&self) -> Option<String> {
        if let Some(reason) = &self.disabled {
            return Some(reason.clone());
        }
        let has_key = self.api_key.as_deref().is_some_and(|key| !key.is_empty());
        if self.api_key_required && !has_key {
            let source = match &self.api_key_source {
                Some(source) => format!(" ({source})"),
                None => String::new(),
            };
            return Some(format!("no API key{source}"));
        }
        None
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LlmConfig {
    /// Providers by id; ids are what `provider/model` names use.
    pub providers: BTreeMap<String, ProviderConfig>,
    /// Models tried after a request's own models, before `local`.
    pub fallbacks: Vec<String>,
    /// Where a bare model name that matches no known family goes (`llama3.2` → Ollama).
    pub default_provider: String,
}

pub const OPENAI_DEFAULT_URL: &str = "https://api.openai.com/v1";
pub const ANTHROPIC_DEFAULT_URL: &str = "https://api.anthropic.com";
pub const OLLAMA_DEFAULT_URL: &str = "http://127.0.0.1:11434";

impl LlmConfig {
    /// Offline: every provider that is not on this machine is skipped, saying so, and only
    /// local servers (Ollama on loopback, llama.cpp on localhost) and the in-process model answer.
    pub fn go_offline(&mut self) {
        for provider in self.providers.values_mut() {
            if !provider.is_local() {
                provider.disabled =
                    Some("offline: only models on this machine answer (`[network] offline` or --offline)".to_owned());
            }
        }
    }

    /// The default configuration from environment variables (pass `std::env::vars().collect()`):
    /// [`LlmConfig::builtin`] with [`LlmConfig::apply_env`].
    pub fn from_env(env: &HashMap<String, String>) -> LlmConfig {
        let mut config = LlmConfig::builtin();
        config.apply_env(env);
        config
    }

    /// The providers known without configuration: OpenAI and Anthropic (each needing its key)
    /// and Ollama on this machine; no fallbacks; bare names of no known family go to Ollama.
    pub fn builtin() -> LlmConfig {
        let mut openai = ProviderConfig::new(WireFormat::OpenAiChat, OPENAI_DEFAULT_URL);
        openai.api_key_source = Some("set OPENAI_API_KEY".to_owned());
        openai.api_key_required = true;
        openai.max_tokens_field = MaxTokensField::MaxCompletionTokens;
        let mut anthropic =
            ProviderConfig::new(WireFormat::AnthropicMessages, ANTHROPIC_DEFAULT_URL);
        anthropic.api_key_source = Some("set ANTHROPIC_API_KEY".to_owned());
        anthropic.api_key_required = true;
        let mut ollama = ProviderConfig::new(WireFormat::OllamaChat, OLLAMA_DEFAULT_URL);
        ollama.timeouts.connect = Duration::from_secs(3);
        LlmConfig {
            providers: BTreeMap::from([
                (OPENAI.to_owned(), openai),
                (ANTHROPIC.to_owned(), anthropic),
                (OLLAMA.to_owned(), ollama),
            ]),
            fallbacks: Vec::new(),
            default_provider: OLLAMA.to_owned(),
        }
    }

    /// Applies the seed's environment variables over this configuration, each only when set
    /// (empty values count as unset): `OPENAI_API_KEY`, `OPENAI_BASE_URL` (a compatible server
    /// such as vLLM or llama.cpp, which then needs no key), `ANTHROPIC_API_KEY`,
    /// `ANTHROPIC_BASE_URL`, `OLLAMA_HOST` and `OLLAMA_MODEL` (which also joins the fallback
    /// chain). A provider they name that the configuration lacks gets its built-in defaults.
    pub fn apply_env(&mut self, env: &HashMap<String, String>) {
        let var = |name: &str| {
            env.get(name)
                .map(|value| value.trim())
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        let builtin = LlmConfig::builtin();
        let mut provider = |id: &str| {
            self.providers
                .entry(id.to_owned())
                .or_insert_with(|| builtin.providers[id].clone())
                .clone()
        };
        let mut changed = Vec::new();
        if var("OPENAI_BASE_URL").is_some() || var("OPENAI_API_KEY").is_some() {
            let mut openai = provider(OPENAI);
            if let Some(url) = var("OPENAI_BASE_URL") {
                openai.base_url = url;
                openai.api_key_required = false;
                openai.max_tokens_field = MaxTokensField::MaxTokens;
            }
            if let Some(key) = var("OPENAI_API_KEY") {
                openai.api_key = Some(key);
            }
            changed.push((OPENAI, openai));
        }
        if var("ANTHROPIC_BASE_URL").is_some() || var("ANTHROPIC_API_KEY").is_some() {
            let mut anthropic = provider(ANTHROPIC);
            if let Some(url) = var("ANTHROPIC_BASE_URL") {
                anthropic.base_url = url;
            }
            if let Some(key) = var("ANTHROPIC_API_KEY") {
                anthropic.api_key = Some(key);
            }
            changed.push((ANTHROPIC, anthropic));
        }
        if var("OLLAMA_HOST").is_some() || var("OLLAMA_MODEL").is_some() {
            let mut ollama = provider(OLLAMA);
            if let Some(host) = var("OLLAMA_HOST") {
                ollama.base_url = ollama_url(&host);
            }
            if let Some(model) = var("OLLAMA_MODEL") {
                let fallback = format!("{OLLAMA}/{model}");
                if !self.fallbacks.contains(&fallback) {
                    self.fallbacks.push(fallback);
                }
                ollama.default_model = Some(model);
            }
            changed.push((OLLAMA, ollama));
        }
        for (id, provider) in changed {
            self.providers.insert(id.to_owned(), provider);
        }
    }
}

/// The URL of an Ollama server from `OLLAMA_HOST`, which may be `host`, `host:port` or a URL,
/// and may name the address the server listens on (`0.0.0.0`) rather than one to call.
pub fn ollama_url(host: &str) -> String {
    let host = host.trim().trim_end_matches('/');
    let (scheme, rest) = match host.split_once("://") {
        Some((scheme, rest)) => (scheme, rest),
        None => ("http", host),
    };
    let (authority, path) = match rest.find('/') {
        Some(slash) => rest.split_at(slash),
        None => (rest, ""),
    };
    let (name, port) = match authority.rsplit_once(':') {
        Some((name, port)) if !port.contains(']') => (name, Some(port)),
        _ => (authority, None),
    };
    let name = match name {
        "" | "0.0.0.0" => "127.0.0.1",
        "[::]" => "[::1]",
        other => other,
    };
    let port = match (port, scheme) {
        (Some(port), _) => format!(":{port}"),
        (None, "https") => String::new(),
        (None, _) => ":11434".to_owned(),
    };
    format!("{scheme}://{name}{port}{path}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn offline_skips_every_provider_that_is_not_on_this_machine() {
        let env = std::collections::HashMap::from([
            ("OPENAI_API_KEY".to_owned(), "sk-x".to_owned()),
            ("ANTHROPIC_API_KEY".to_owned(), "sk-y".to_owned()),
        ]);
        let mut config = super::LlmConfig::from_env(&env);
        let mut local_vllm =
            super::ProviderConfig::new(crate::wire::WireFormat::OpenAiChat, "http://[::1]:8000/v1");
        local_vllm.api_key_required = false;
        config.providers.insert("vllm".to_owned(), local_vllm);
        config.go_offline();
        let reasons: Vec<(String, Option<String>)> = config
            .providers
            .iter()
            .map(|(id, provider)| (id.clone(), provider.unavailable_reason()))
            .collect();
        let offline = Some(
            "offline: only models on this machine answer (`[network] offline` or --offline)"
                .to_owned(),
        );
        assert_eq!(
            reasons,
            [
                ("anthropic".to_owned(), offline.clone()),
                ("ollama".to_owned(), None),
                ("openai".to_owned(), offline),
                ("vllm".to_owned(), None),
            ]
        );
    }

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn ollama_host_forms_become_callable_urls() {
        let cases = [
            ("0.0.0.0", "http://127.0.0.1:11434"),
            ("0.0.0.0:9999", "http://127.0.0.1:9999"),
            ("gpu-box", "http://gpu-box:11434"),
            ("http://gpu-box:8080/", "http://gpu-box:8080"),
            ("https://ollama.example.com", "https://ollama.example.com"),
            ("[::]:11434", "http://[::1]:11434"),
            ("[::1]", "http://[::1]:11434"),
        ];
        for (host, url) in cases {
            assert_eq!(ollama_url(host), url, "OLLAMA_HOST={host}");
        }
    }

    #[test]
    fn without_keys_the_cloud_providers_say_which_variable_to_set() {
        let config = LlmConfig::from_env(&env(&[("OPENAI_API_KEY", "  ")]));
        assert_eq!(
            config.providers[OPENAI].unavailable_reason().as_deref(),
            Some("no API key (set OPENAI_API_KEY)")
        );
        assert_eq!(
            config.providers[ANTHROPIC].unavailable_reason().as_deref(),
            Some("no API key (set ANTHROPIC_API_KEY)")
        );
        assert_eq!(config.providers[OLLAMA].unavailable_reason(), None);
        assert!(config.fallbacks.is_empty());
    }

    #[test]
    fn seed_variables_fill_keys_hosts_and_the_ollama_fallback() {
        let config = LlmConfig::from_env(&env(&[
            ("OPENAI_API_KEY", "sk-test"),
            ("ANTHROPIC_API_KEY", "claude-test"),
            ("OLLAMA_MODEL", "llama3"),
            ("OLLAMA_HOST", "0.0.0.0:11500"),
        ]));
        let openai = &config.providers[OPENAI];
        assert_eq!(openai.base_url, OPENAI_DEFAULT_URL);
        assert_eq!(openai.api_key.as_deref(), Some("sk-test"));
        assert_eq!(openai.max_tokens_field, MaxTokensField::MaxCompletionTokens);
        assert_eq!(openai.unavailable_reason(), None);
        assert_eq!(
            config.providers[ANTHROPIC].api_key.as_deref(),
            Some("claude-test")
        );
        assert_eq!(config.providers[OLLAMA].base_url, "http://127.0.0.1:11500");
        assert_eq!(
            config.providers[OLLAMA].default_model.as_deref(),
            Some("llama3")
        );
        assert_eq!(config.fallbacks, vec!["ollama/llama3".to_owned()]);
    }

    #[test]
    fn an_openai_base_url_points_at_a_compatible_server_that_needs_no_key() {
        let config = LlmConfig::from_env(&env(&[("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1")]));
        let openai = &config.providers[OPENAI];
        assert_eq!(openai.base_url, "http://127.0.0.1:8000/v1");
        assert_eq!(openai.unavailable_reason(), None);
        assert_eq!(openai.max_tokens_field, MaxTokensField::MaxTokens);
    }
}
