//! Embeddings from an HTTP server: the OpenAI-compatible `POST {url}/embeddings` (OpenAI, vLLM,
//! llama.cpp's server, Ollama's `/v1`) and Ollama's native `POST {url}/api/embed`.
//!
//! The [`Embedder`] trait is synchronous because the index calls it from worker threads. Each
//! request runs on a scoped helper thread that drives the embedder's own single-threaded tokio
//! runtime, so `embed` works from a plain thread, from `spawn_blocking`, and even from inside an
//! async task without the "cannot block inside a runtime" panic (it then blocks that task's
//! thread for the duration of the request, as any synchronous call would). Dropping the embedder
//! shuts its runtime down in the background, which is also allowed inside a runtime.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{EmbedError, Embedder, SpaceId, normalize};

/// Which wire format the server speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HttpApi {
    /// `POST {url}/embeddings` with `{model, input: [...]}`; `url` usually ends in `/v1`.
    OpenAi,
    /// `POST {url}/api/embed` with `{model, input: [...]}`; `url` is the server root.
    Ollama,
}

impl HttpApi {
    fn name(self) -> &'static str {
        match self {
            HttpApi::OpenAi => "OpenAI-compatible",
            HttpApi::Ollama => "Ollama",
        }
    }
}

/// `[index.http]` in `codexos.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HttpEmbedderConfig {
    pub api: HttpApi,
    /// Base URL: `http://localhost:8000/v1` (OpenAI-compatible) or `http://localhost:11434` (Ollama).
    pub url: String,
    pub model: String,
    /// Name of the environment variable holding the API key, sent as a bearer token.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Texts per request.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
}

fn default_batch_size() -> usize {
    64
}

fn default_timeout_secs() -> u64 {
    60
}

/// An embedder backed by an HTTP server. Its dimension is learnt from the server when it is built.
pub struct HttpEmbedder {
    config: HttpEmbedderConfig,
    endpoint: String,
    api_key: Option<String>,
    client: reqwest::Client,
    runtime: Option<tokio::runtime::Runtime>,
    space: SpaceId,
}

#[derive(Serialize)]
struct EmbedRequest<'a> {
    model: &'a str,
    input: &'a [&'a str],
}

#[derive(Deserialize)]
struct OpenAiResponse {
    data: Vec<OpenAiEmbedding>,
}

#[derive(Deserialize)]
struct OpenAiEmbedding {
    embedding: Vec<f32>,
    index: usize,
}

#[derive(Deserialize)]
struct OllamaResponse {
    embeddings: Vec<Vec<f32>>,
}

impl HttpEmbedder {
    /// Connects to the server and embeds one probe text to learn the vector dimension, so a
    /// wrong URL, model or key shows up here rather than halfway through indexing.
    pub fn connect(config: HttpEmbedderConfig) -> Result<Self, EmbedError> {
        install_crypto_provider();
        let endpoint = match config.api {
            HttpApi::OpenAi => format!("{}/embeddings", config.url.trim_end_matches('/')),
            HttpApi::Ollama => format!("{}/api/embed", config.url.trim_end_matches('/')),
        };
        let provider_error = |reason: String| EmbedError::Http {
            provider: format!("{} ({})", config.api.name(), config.model),
            url: endpoint.clone(),
            reason,
        };
        if config.batch_size == 0 {
            return Err(provider_error("batch_size must be at least 1".into()));
        }
        let api_key = match &config.api_key_env {
            Some(variable) => Some(std::env::var(variable).map_err(|_| {
                provider_error(format!("the API key variable {variable} is not set"))
            })?),
            None => None,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| provider_error(format!("cannot start the HTTP runtime: {error}")))?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_secs))
            .build()
            .map_err(|error| provider_error(format!("cannot build the HTTP client: {error}")))?;
        let mut embedder = Self {
            space: SpaceId::new(
                format!("http-{}-{}", config.api.name(), config.model),
                0,
                "v1",
            ),
            config,
            endpoint,
            api_key,
            client,
            runtime: Some(runtime),
        };
        let probe = embedder.request(&["dimension probe"], None)?;
        let dim = probe.first().map_or(0, Vec::len);
        if dim == 0 {
            return Err(embedder.error("the server returned an empty vector".into()));
        }
        embedder.space = SpaceId::new(embedder.space.model().to_string(), dim, "v1");
        Ok(embedder)
    }

    fn error(&self, reason: String) -> EmbedError {
        EmbedError::Http {
            provider: format!("{} ({})", self.config.api.name(), self.config.model),
            url: self.endpoint.clone(),
            reason,
        }
    }

    /// One request for one batch; checks the count and, once known, the dimension of the answer.
    fn request(&self, texts: &[&str], dim: Option<usize>) -> Result<Vec<Vec<f32>>, EmbedError> {
        let Some(runtime) = &self.runtime else {
            return Err(self.error("the embedder was shut down".into()));
        };
        let mut request = self.client.post(&self.endpoint).json(&EmbedRequest {
            model: &self.config.model,
            input: texts,
        });
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let exchange = async move {
            let response = request.send().await.map_err(|error| describe(&error))?;
            let status = response.status();
            let body = response.bytes().await.map_err(|error| describe(&error))?;
            Ok::<_, String>((status, body))
        };
        let (status, body) =
            std::thread::scope(|scope| scope.spawn(|| runtime.block_on(exchange)).join())
                .map_err(|_| self.error("the HTTP request thread panicked".into()))?
                .map_err(|reason| self.error(reason))?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body);
            let excerpt: String = text.chars().take(300).collect();
            return Err(self.error(format!("HTTP {status}: {}", excerpt.trim())));
        }
        let mut vectors = self.parse(&body, texts.len())?;
        for vector in &mut vectors {
            if let Some(dim) = dim.filter(|&dim| dim != vector.len()) {
                return Err(self.error(format!(
                    "returned a vector of {} dims, expected {dim}",
                    vector.len()
                )));
            }
            if vector.iter().any(|x| !x.is_finite()) {
                return Err(self.error("returned NaN or infinite values".into()));
            }
            normalize(vector);
        }
        Ok(vectors)
    }

    fn parse(&self, body: &[u8], expected: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
        let not_embeddings = |error: serde_json::Error| {
            self.error(format!("the answer is not an embeddings response: {error}"))
        };
        let vectors = match self.config.api {
            HttpApi::OpenAi => {
                let mut data = serde_json::from_slice::<OpenAiResponse>(body)
                    .map_err(not_embeddings)?
                    .data;
                data.sort_by_key(|item| item.index);
                if data
                    .iter()
                    .enumerate()
                    .any(|(position, item)| item.index != position)
                {
                    return Err(self.error("the answer's `index` fields are not 0..n".into()));
                }
                data.into_iter()
                    .map(|item| item.embedding)
                    .collect::<Vec<_>>()
            }
            HttpApi::Ollama => {
                serde_json::from_slice::<OllamaResponse>(body)
                    .map_err(not_embeddings)?
                    .embeddings
            }
        };
        if vectors.len() != expected {
            return Err(self.error(format!(
                "returned {} vectors for {expected} texts",
                vectors.len()
            )));
        }
        Ok(vectors)
    }
}

/// reqwest's top-level message hides the cause ("error sending request"); the chain names it
/// ("connection refused", "operation timed out").
fn describe(error: &reqwest::Error) -> String {
    let chain = std::iter::successors(Some(error as &dyn std::error::Error), |error| {
        error.source()
    });
    chain
        .map(|cause| cause.to_string())
        .fold(String::new(), |text, cause| match text.as_str() {
            "" => cause,
            _ if text.contains(&cause) => text,
            _ => format!("{text}: {cause}"),
        })
}

/// reqwest is built without a bundled crypto backend; TLS uses rustls with *ring*, installed as
/// the process default once (a backend installed earlier, e.g. by codexos-llm, is kept).
fn install_crypto_provider() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let _already_installed = rustls::crypto::ring::default_provider().install_default();
    });
}

impl Drop for HttpEmbedder {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Embedder for HttpEmbedder {
    fn space(&self) -> &SpaceId {
        &self.space
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut vectors = Vec::with_capacity(texts.len());
        for batch in texts.chunks(self.config.batch_size) {
            vectors.extend(self.request(batch, Some(self.space.dim()))?);
        }
        Ok(vectors)
    }
}
