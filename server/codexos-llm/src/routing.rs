//! Which provider answers a model name, and the chain of models a request falls back
//! through. Pure: the [`crate::Router`] owns a table and asks it for a plan per request.

use std::collections::{BTreeMap, HashSet};

use crate::config::{ANTHROPIC, LOCAL, OLLAMA, OPENAI};
use crate::types::{ChatRequest, ModelRef};

/// The model name a provider gets when a chain names only the provider and it has no default.
pub const LOCAL_DEFAULT_MODEL: &str = "default";

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct ProviderEntry {
    default_model: Option<String>,
    unavailable: Option<String>,
}

/// What the router knows about providers, for routing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteTable {
    providers: BTreeMap<String, ProviderEntry>,
    /// Bare model names a configured provider serves, and that provider.
    served: BTreeMap<String, String>,
    default_provider: String,
}

/// One link of a request's chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedLink {
    /// The name as the chain listed it.
    pub requested: String,
    /// Where it routes, if anywhere.
    pub target: Option<ModelRef>,
    /// Why the link will not be tried, if it will not.
    pub skip: Option<String>,
    /// Whether the request itself named it (its model or one of its fallbacks), rather than the
    /// configuration's fallbacks or the local model every chain ends on.
    pub named_by_request: bool,
}

impl RouteTable {
    pub fn new(default_provider: impl Into<String>) -> RouteTable {
        RouteTable {
            providers: BTreeMap::new(),
            served: BTreeMap::new(),
            default_provider: default_provider.into(),
        }
    }

    /// Adds (or replaces) a provider. `unavailable` says why it cannot be called, if so.
    pub fn add(&mut self, id: &str, default_model: Option<String>, unavailable: Option<String>) {
        self.providers.insert(
            id.to_owned(),
            ProviderEntry {
                default_model,
                unavailable,
            },
        );
    }

    /// Routes these bare model names to provider `id` (the first provider to claim a name
    /// keeps it).
    pub fn serve(&mut self, id: &str, models: &[String]) {
        for model in models {
            self.served
                .entry(model.trim().to_owned())
                .or_insert_with(|| id.to_owned());
        }
    }

    fn is_provider_id(&self, id: &str) -> bool {
        self.providers.contains_key(id) || [OPENAI, ANTHROPIC, OLLAMA, LOCAL].contains(&id)
    }

    /// Routes one model name:
    /// - `provider/model` when `provider` is a provider id (`ollama/llama3.2`, `vllm/org/model`);
    /// - a provider id alone (`local`, `ollama`): that provider's default model;
    /// - a model a configured provider lists as served ([`RouteTable::serve`]) → that provider;
    /// - `gpt-*`, `chatgpt-*` and `o1`, `o3-mini`… → `openai`; `claude-*` → `anthropic`;
    /// - anything else → the default provider (Ollama unless configured otherwise).
    pub fn resolve(&self, name: &str) -> Result<ModelRef, String> {
        let name = name.trim();
        if name.is_empty() {
            return Err("the model name is empty".to_owned());
        }
        if self.is_provider_id(name) {
            let default = self
                .providers
                .get(name)
                .and_then(|entry| entry.default_model.clone())
                .or_else(|| (name == LOCAL).then(|| LOCAL_DEFAULT_MODEL.to_owned()));
            return match default {
                Some(model) => Ok(ModelRef::new(name, model)),
                None => Err(format!(
                    "`{name}` names a provider but no model: write `{name}/MODEL` or configure its default model"
                )),
            };
        }
        if let Some((prefix, model)) = name.split_once('/')
            && self.is_provider_id(prefix)
        {
            return if model.is_empty() {
                Err(format!("`{name}` has no model name after `{prefix}/`"))
            } else {
                Ok(ModelRef::new(prefix, model))
            };
        }
        if let Some(provider) = self.served.get(name) {
            return Ok(ModelRef::new(provider, name));
        }
        let provider = if is_openai_family(name) {
            OPENAI
        } else if name.starts_with("claude-") {
            ANTHROPIC
        } else {
            &self.default_provider
        };
        Ok(ModelRef::new(provider, name))
    }

    /// The chain for `request`: its model, its own fallbacks, the configured fallbacks, then
    /// `local`, without repeating a target. Every link is listed, with why it will be skipped.
    pub fn plan(&self, request: &ChatRequest, fallbacks: &[String]) -> Vec<PlannedLink> {
        let named_by_request = 1 + request.fallback_models.len();
        let names = std::iter::once(&request.model)
            .chain(&request.fallback_models)
            .chain(fallbacks)
            .map(String::as_str)
            .chain([LOCAL])
            .enumerate();
        let mut seen_targets = HashSet::new();
        let mut seen_names = HashSet::new();
        let mut links = Vec::new();
        for (position, name) in names {
            let named_by_request = position < named_by_request;
            if !seen_names.insert(name.trim()) {
                continue;
            }
            let link = match self.resolve(name) {
                Ok(target) => {
                    if !seen_targets.insert(target.clone()) {
                        continue;
                    }
                    let skip = match self.providers.get(&target.provider) {
                        Some(entry) => entry.unavailable.clone(),
                        None if target.provider == LOCAL => {
                            Some("no local model is registered".to_owned())
                        }
                        None => Some(format!("provider `{}` is not configured", target.provider)),
                    };
                    PlannedLink {
                        requested: name.to_owned(),
                        target: Some(target),
                        skip,
                        named_by_request,
                    }
                }
                Err(reason) => PlannedLink {
                    requested: name.to_owned(),
                    target: None,
                    skip: Some(reason),
                    named_by_request,
                },
            };
            links.push(link);
        }
        links
    }
}

fn is_openai_family(name: &str) -> bool {
    let mut chars = name.chars();
    let o_series = chars.next() == Some('o') && chars.next().is_some_and(|c| c.is_ascii_digit());
    o_series || name.starts_with("gpt-") || name.starts_with("chatgpt-")
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;

    fn table() -> RouteTable {
        let mut table = RouteTable::new(OLLAMA);
        table.add(OPENAI, None, Some("no API key (set OPENAI_API_KEY)".into()));
        table.add(ANTHROPIC, None, None);
        table.add(OLLAMA, Some("llama3".into()), None);
        table.add("vllm", None, None);
        table.serve("vllm", &["qwen2.5-coder".into(), "gpt-oss-20b".into()]);
        table
    }

    fn route(name: &str) -> String {
        match table().resolve(name) {
            Ok(target) => target.to_string(),
            Err(reason) => format!("error: {reason}"),
        }
    }

    #[test]
    fn model_names_route_by_family_prefix_and_default() {
        let routes: String = [
            "gpt-4",
            "o3-mini",
            "chatgpt-4o-latest",
            "claude-3-opus",
            "ollama/llama3.2",
            "vllm/meta-llama/Llama-3.1-8B-Instruct",
            "llama3.2",
            "orca-mini",
            "qwen2.5-coder",
            "gpt-oss-20b",
            "meta-llama/Llama-3",
            "local",
            "local/smollm2",
            "ollama",
            "openai",
            "ollama/",
            " ",
        ]
        .iter()
        .map(|name| format!("{name:?} -> {}\n", route(name)))
        .collect();
        expect![[r#"
            "gpt-4" -> openai/gpt-4
            "o3-mini" -> openai/o3-mini
            "chatgpt-4o-latest" -> openai/chatgpt-4o-latest
            "claude-3-opus" -> anthropic/claude-3-opus
            "ollama/llama3.2" -> ollama/llama3.2
            "vllm/meta-llama/Llama-3.1-8B-Instruct" -> vllm/meta-llama/Llama-3.1-8B-Instruct
            "llama3.2" -> ollama/llama3.2
            "orca-mini" -> ollama/orca-mini
            "qwen2.5-coder" -> vllm/qwen2.5-coder
            "gpt-oss-20b" -> vllm/gpt-oss-20b
            "meta-llama/Llama-3" -> ollama/meta-llama/Llama-3
            "local" -> local/default
            "local/smollm2" -> local/smollm2
            "ollama" -> ollama/llama3
            "openai" -> error: `openai` names a provider but no model: write `openai/MODEL` or configure its default model
            "ollama/" -> error: `ollama/` has no model name after `ollama/`
            " " -> error: the model name is empty
        "#]]
        .assert_eq(&routes);
    }

    fn render(plan: &[PlannedLink]) -> String {
        plan.iter()
            .map(|link| {
                let target = link
                    .target
                    .as_ref()
                    .map_or("-".to_owned(), ToString::to_string);
                match &link.skip {
                    Some(reason) => format!("{} -> {target} (skip: {reason})\n", link.requested),
                    None => format!("{} -> {target}\n", link.requested),
                }
            })
            .collect()
    }

    #[test]
    fn the_chain_ends_with_local_and_skips_unconfigured_providers_with_reasons() {
        let mut request = ChatRequest::new("gpt-4", vec![]);
        request.fallback_models = vec!["claude-3-opus".into(), "openai/gpt-4".into()];
        let plan = table().plan(&request, &["ollama/llama3".into(), "ollama".into()]);
        expect![[r#"
            gpt-4 -> openai/gpt-4 (skip: no API key (set OPENAI_API_KEY))
            claude-3-opus -> anthropic/claude-3-opus
            ollama/llama3 -> ollama/llama3
            local -> local/default (skip: no local model is registered)
        "#]]
        .assert_eq(&render(&plan));
    }

    #[test]
    fn a_registered_local_provider_is_the_last_link_unless_named_earlier() {
        let mut table = table();
        table.add(LOCAL, None, None);
        let mut request = ChatRequest::new("local", vec![]);
        request.fallback_models = vec!["claude-3-5-haiku-latest".into()];
        expect![[r#"
            local -> local/default
            claude-3-5-haiku-latest -> anthropic/claude-3-5-haiku-latest
        "#]]
        .assert_eq(&render(&table.plan(&request, &[])));
        let request = ChatRequest::new("mistral-nemo", vec![]);
        expect![[r#"
            mistral-nemo -> ollama/mistral-nemo
            local -> local/default
        "#]]
        .assert_eq(&render(&table.plan(&request, &[])));
    }
}
