//! What a flow can name: tools, models, vault keys and other flows.
//!
//! The analysis only asks questions through [`Catalog`]; the service layer answers them from the
//! tool registry, the LLM router's model list, the vault and the workspace. [`StaticCatalog`] holds
//! plain lists, and [`StaticCatalog::builtin`] the names CodexOS knows without any configuration.

/// One name a flow may use, with a line that says what it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub detail: String,
    /// For a tool, the JSON Schema of its arguments, when the catalog knows it (built-ins and
    /// plug-ins; an MCP server's tools are only known once it runs): a tool node's `args` are
    /// checked against it.
    pub schema: Option<serde_json::Value>,
}

impl Entry {
    pub fn new(name: impl Into<String>, detail: impl Into<String>) -> Entry {
        Entry {
            name: name.into(),
            detail: detail.into(),
            schema: None,
        }
    }

    pub fn with_schema(mut self, schema: serde_json::Value) -> Entry {
        self.schema = Some(schema);
        self
    }
}

/// A flow file that another flow runs, as the catalog read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowSource {
    /// The file's identity (its real path): the same file reached by two paths has one key.
    pub key: String,
    pub text: String,
}

/// What a catalog knows of a sub-flow path, as written in a `flow` node (relative to the flow
/// file that names it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowFileStatus {
    /// The catalog cannot tell (the flow is not on disk): no finding is reported.
    Unknown,
    /// A flow file of the workspace.
    Found,
    /// Inside the workspace, but no file is there.
    Missing,
    /// The path leads out of the workspace: `..` past its root, or a symbolic link out of it.
    OutsideWorkspace,
}

pub trait Catalog {
    fn tools(&self) -> &[Entry];
    fn models(&self) -> &[Entry];
    fn vault_keys(&self) -> &[Entry];
    /// Where a sub-flow path leads. Absolute paths never reach the catalog: the checks report
    /// them on their own.
    fn flow_file(&self, _path: &str) -> FlowFileStatus {
        FlowFileStatus::Unknown
    }

    /// The key ([`FlowSource::key`]) of the flow being checked, when it is a file.
    fn flow_key(&self) -> Option<String> {
        None
    }

    /// The sub-flow `path` as written in the flow whose key is `from` (`None`: the flow being
    /// checked), when it is a flow file of the workspace the catalog can read. The checks follow
    /// sub-flows through it to find cycles and nesting deeper than a run allows.
    fn read_flow(&self, _from: Option<&str>, _path: &str) -> Option<FlowSource> {
        None
    }

    fn tool(&self, name: &str) -> Option<&Entry> {
        self.tools().iter().find(|entry| entry.name == name)
    }

    fn model(&self, name: &str) -> Option<&Entry> {
        self.models().iter().find(|entry| entry.name == name)
    }

    /// The model providers the configuration declares (`[llm.providers.*]` and the built-in
    /// ones), with whether each can answer now.
    fn providers(&self) -> &[ProviderEntry] {
        &[]
    }

    /// The configured provider a model name routes to: `provider/model`, a provider's id alone,
    /// or a bare name a provider lists among its models.
    fn provider_of(&self, model: &str) -> Option<&ProviderEntry> {
        let providers = self.providers();
        if let Some((prefix, rest)) = model.split_once('/')
            && !rest.is_empty()
        {
            return providers.iter().find(|provider| provider.name == prefix);
        }
        providers
            .iter()
            .find(|provider| provider.name == model)
            .or_else(|| {
                providers
                    .iter()
                    .find(|provider| provider.models.iter().any(|served| served == model))
            })
    }

    fn vault_key(&self, name: &str) -> Option<&Entry> {
        self.vault_keys().iter().find(|entry| entry.name == name)
    }
}

/// Providers a model name may be prefixed with (`ollama/llama3.2`): a prefixed name is taken as
/// known, since the provider's own model list is only known at run time.
pub const PROVIDERS: &[(&str, &str)] = &[
    (
        "openai",
        "OpenAI-compatible chat completions (OpenAI, vLLM, llama.cpp, Mistral)",
    ),
    ("anthropic", "Anthropic Messages API"),
    ("ollama", "Ollama's native API"),
    ("llamacpp", "llama.cpp's OpenAI-compatible server"),
    ("vllm", "vLLM's OpenAI-compatible server"),
    ("local", "the in-process local model (no network, no key)"),
];

/// A model provider as the checks see it: its name, the models it serves, and why it cannot
/// answer now, if it cannot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProviderEntry {
    pub name: String,
    /// What it is and where it was declared, for hover.
    pub detail: String,
    /// Bare model names routed to it.
    pub models: Vec<String>,
    /// Why it cannot answer now (no key, a host the user did not allow).
    pub unavailable: Option<String>,
    /// The vault secret its key should come from, when that secret is missing: the quick fix
    /// stores it.
    pub missing_vault_key: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct StaticCatalog {
    pub tools: Vec<Entry>,
    pub models: Vec<Entry>,
    pub vault_keys: Vec<Entry>,
}

impl StaticCatalog {
    /// The tools and models CodexOS ships; no vault keys (the vault fills those in).
    pub fn builtin() -> StaticCatalog {
        let tools = [
            ("read_file", "Read a file inside the workspace"),
            (
                "write_file",
                "Write a file inside the workspace (an edit the user sees)",
            ),
            ("search_workspace", "Hybrid search over the workspace index"),
            (
                "shell",
                "Run a shell command in the workspace (off unless codexos.toml allows it)",
            ),
            (
                "python",
                "Run a Python snippet (off unless codexos.toml allows it)",
            ),
            ("http_fetch", "Fetch a URL over HTTP(S)"),
        ];
        let models = [
            ("gpt-4", "OpenAI GPT-4"),
            ("gpt-4o", "OpenAI GPT-4o"),
            ("gpt-4o-mini", "OpenAI GPT-4o mini"),
            ("gpt-4.1", "OpenAI GPT-4.1"),
            ("gpt-4.1-mini", "OpenAI GPT-4.1 mini"),
            ("o3-mini", "OpenAI o3-mini"),
            ("claude-3-opus", "Anthropic Claude 3 Opus"),
            ("claude-3-5-sonnet", "Anthropic Claude 3.5 Sonnet"),
            ("claude-3-5-haiku", "Anthropic Claude 3.5 Haiku"),
            ("claude-sonnet-4", "Anthropic Claude Sonnet 4"),
            ("claude-opus-4", "Anthropic Claude Opus 4"),
            ("llama3.2", "Meta Llama 3.2 (Ollama)"),
            ("qwen2.5-coder", "Qwen 2.5 Coder (Ollama)"),
            (
                "smollm2-135m-instruct",
                "SmolLM2-135M-Instruct, run in-process on the CPU (works offline)",
            ),
            ("local", "The in-process local model (works offline)"),
        ];
        StaticCatalog {
            tools: tools.iter().map(|(n, d)| Entry::new(*n, *d)).collect(),
            models: models.iter().map(|(n, d)| Entry::new(*n, *d)).collect(),
            vault_keys: Vec::new(),
        }
    }
}

impl Catalog for StaticCatalog {
    fn tools(&self) -> &[Entry] {
        &self.tools
    }

    fn models(&self) -> &[Entry] {
        &self.models
    }

    fn vault_keys(&self) -> &[Entry] {
        &self.vault_keys
    }
}
