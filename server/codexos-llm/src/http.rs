//! The HTTP edge: one [`HttpProvider`] per configured provider, streaming through reqwest with
//! a connect timeout, a stall timeout between chunks, bounded retries of 429/5xx before the
//! first token, and cancellation that drops (and so closes) the connection.

use std::collections::VecDeque;
use std::sync::Once;
use std::time::Duration;

use futures_util::stream;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use tokio_util::sync::CancellationToken;

use crate::config::{ProviderConfig, RetryPolicy};
use crate::error::LlmError;
use crate::provider::{ChatStream, Provider};
use crate::types::{ChatRequest, ModelRef, StreamEvent};
use crate::wire::{self, StreamDecoder, WireError, WireFormat, anthropic, ollama, openai};

/// At most this much of an error body is read, to quote it.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// A provider reached over HTTP in one of the [`WireFormat`]s.
#[derive(Debug)]
pub struct HttpProvider {
    id: String,
    config: ProviderConfig,
    url: String,
    client: reqwest::Client,
}

/// What a provider's server said when asked for its models.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    /// It took the key and listed these models.
    Models(Vec<String>),
    /// It refused the key (401 or 403), or the key cannot be sent.
    KeyRefused(String),
    /// No answer, or not one that lists models.
    Unreachable(String),
}

impl HttpProvider {
    pub fn new(id: impl Into<String>, config: ProviderConfig) -> Result<HttpProvider, LlmError> {
        let id = id.into();
        let misconfigured = |detail: String| LlmError::Config {
            provider: id.clone(),
            detail,
        };
        let base = reqwest::Url::parse(config.base_url.trim())
            .map_err(|err| misconfigured(format!("base URL `{}`: {err}", config.base_url)))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(misconfigured(format!(
                "base URL `{}` is not http or https",
                config.base_url
            )));
        }
        let path = match config.format {
            WireFormat::OpenAiChat => "/chat/completions",
            WireFormat::AnthropicMessages => "/v1/messages",
            WireFormat::OllamaChat => "/api/chat",
        };
        let url = format!("{}{path}", base.as_str().trim_end_matches('/'));
        install_crypto_provider();
        let client = reqwest::Client::builder()
            .connect_timeout(config.timeouts.connect)
            .user_agent(concat!("codexos/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| misconfigured(format!("HTTP client: {}", error_chain(&err))))?;
        Ok(HttpProvider {
            id,
            config,
            url,
            client,
        })
    }

    /// The URL requests are posted to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Asks the server which models it serves (`GET /models`, `/v1/models` or `/api/tags`),
    /// with this provider's key: whether it is reachable, takes the key, and what it lists.
    pub async fn probe(&self, timeout: Duration) -> Probe {
        let path = match self.config.format {
            WireFormat::OpenAiChat => "/models",
            WireFormat::AnthropicMessages => "/v1/models",
            WireFormat::OllamaChat => "/api/tags",
        };
        let url = format!(
            "{}{path}",
            self.config.base_url.trim().trim_end_matches('/')
        );
        let headers = match self.headers() {
            Ok(headers) => headers,
            Err(error) => return Probe::KeyRefused(error),
        };
        let asked = async {
            let response = self
                .client
                .get(&url)
                .headers(headers)
                .send()
                .await
                .map_err(|error| Probe::Unreachable(format!("{url}: {}", error_chain(&error))))?;
            let status = response.status();
            let body = response.bytes().await.unwrap_or_default();
            if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                return Err(Probe::KeyRefused(format!(
                    "HTTP {status} from {url}: {}",
                    crate::wire::excerpt(&String::from_utf8_lossy(&body))
                )));
            }
            if !status.is_success() {
                return Err(Probe::Unreachable(format!("HTTP {status} from {url}")));
            }
            let listed: serde_json::Value = serde_json::from_slice(&body).map_err(|_| {
                Probe::Unreachable(format!("{url} did not answer with a JSON model list"))
            })?;
            let (list, field) = match self.config.format {
                WireFormat::OllamaChat => ("models", "name"),
                WireFormat::OpenAiChat | WireFormat::AnthropicMessages => ("data", "id"),
            };
            let models = listed[list]
                .as_array()
                .map(|models| {
                    models
                        .iter()
                        .filter_map(|model| model[field].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            Ok(models)
        };
        match tokio::time::timeout(timeout, asked).await {
            Ok(Ok(models)) => Probe::Models(models),
            Ok(Err(probe)) => probe,
            Err(_) => Probe::Unreachable(format!("{url}: no answer within {timeout:?}")),
        }
    }

    fn headers(&self) -> Result<HeaderMap, String> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let key = self.config.api_key.as_deref().filter(|key| !key.is_empty());
        let secret = |value: String| {
            let mut value = HeaderValue::from_str(&value).map_err(|_| {
                "the API key contains characters not allowed in a header".to_owned()
            })?;
            value.set_sensitive(true);
            Ok::<_, String>(value)
        };
        match self.config.format {
            WireFormat::AnthropicMessages => {
                headers.insert(
                    HeaderName::from_static("anthropic-version"),
                    HeaderValue::from_static(anthropic::API_VERSION),
                );
                if let Some(key) = key {
                    headers.insert(
                        HeaderName::from_static("x-api-key"),
                        secret(key.to_owned())?,
                    );
                }
            }
            WireFormat::OpenAiChat | WireFormat::OllamaChat => {
                if let Some(key) = key {
                    headers.insert(AUTHORIZATION, secret(format!("Bearer {key}"))?);
                }
            }
        }
        Ok(headers)
    }

    fn body(&self, request: &ChatRequest) -> Result<Vec<u8>, String> {
        let body = match self.config.format {
            WireFormat::OpenAiChat => openai::request_body(request, self.config.max_tokens_field),
            WireFormat::AnthropicMessages => anthropic::request_body(request)?,
            WireFormat::OllamaChat => ollama::request_body(request),
        };
        serde_json::to_vec(&body).map_err(|err| format!("cannot encode the request: {err}"))
    }
}

impl Provider for HttpProvider {
    fn chat(&self, request: ChatRequest, cancel: CancellationToken) -> ChatStream {
        let target = ModelRef::new(&self.id, &request.model);
        let prepared = self
            .headers()
            .and_then(|headers| Ok((headers, self.body(&request)?)));
        let (headers, body) = match prepared {
            Ok(prepared) => prepared,
            Err(detail) => {
                return Box::pin(stream::once(async move {
                    Err(LlmError::InvalidRequest { target, detail })
                }));
            }
        };
        let exchange = Exchange {
            request: Some(RequestParts {
                client: self.client.clone(),
                headers,
                body,
                retry: self.config.retry.clone(),
            }),
            url: self.url.clone(),
            api_key: self.config.api_key.clone().filter(|key| !key.is_empty()),
            target,
            stall: self.config.timeouts.stall,
            cancel,
            response: None,
            decoder: wire::decoder(self.config.format),
            pending: VecDeque::new(),
            ended: false,
        };
        Box::pin(stream::unfold(exchange, |mut exchange| async move {
            let item = exchange.next_event().await?;
            Some((item, exchange))
        }))
    }
}

struct RequestParts {
    client: reqwest::Client,
    headers: HeaderMap,
    body: Vec<u8>,
    retry: RetryPolicy,
}

/// One request and its streamed response. Owning the `reqwest::Response` is what keeps the
/// connection open: every way out (error, cancellation, drop) drops it and closes it.
struct Exchange {
    /// What to send; taken when the request is made.
    request: Option<RequestParts>,
    url: String,
    api_key: Option<String>,
    target: ModelRef,
    stall: Duration,
    cancel: CancellationToken,
    response: Option<reqwest::Response>,
    decoder: Box<dyn StreamDecoder>,
    pending: VecDeque<StreamEvent>,
    ended: bool,
}

impl Exchange {
    async fn next_event(&mut self) -> Option<Result<StreamEvent, LlmError>> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(Ok(event));
            }
            if self.ended {
                return None;
            }
            if let Some(request) = self.request.take() {
                match self.open(request).await {
                    Ok((response, warnings)) => {
                        self.response = Some(response);
                        self.pending
                            .extend(warnings.into_iter().map(StreamEvent::Warning));
                        continue;
                    }
                    Err(err) => return Some(Err(self.fail(err))),
                }
            }
            let response = self.response.as_mut()?;
            let next = tokio::select! {
                biased;
                () = self.cancel.cancelled() => None,
                chunk = tokio::time::timeout(self.stall, response.chunk()) => Some(chunk),
            };
            let Some(chunk) = next else {
                let err = LlmError::Cancelled {
                    target: self.target.clone(),
                };
                return Some(Err(self.fail(err)));
            };
            let decoded = match chunk {
                Err(_elapsed) => return Some(Err(self.fail(self.stalled()))),
                Ok(Err(err)) => {
                    let err = LlmError::Transport {
                        target: self.target.clone(),
                        url: self.url.clone(),
                        detail: error_chain(&err),
                    };
                    return Some(Err(self.fail(err)));
                }
                Ok(Ok(Some(bytes))) => self.decoder.push(&bytes),
                Ok(Ok(None)) => {
                    self.ended = true;
                    self.decoder.finish()
                }
            };
            match decoded {
                Ok(events) => self.pending.extend(events),
                Err(err) => {
                    let err = self.wire_error(err);
                    return Some(Err(self.fail(err)));
                }
            }
            if self.decoder.is_done() {
                // The answer is complete; what follows (if anything) is not needed.
                self.ended = true;
                self.response = None;
            }
        }
    }

    /// Ends the exchange, closing the connection, and passes `err` on.
    fn fail(&mut self, err: LlmError) -> LlmError {
        self.ended = true;
        self.response = None;
        self.pending.clear();
        err
    }

    fn stalled(&self) -> LlmError {
        LlmError::Stalled {
            target: self.target.clone(),
            url: self.url.clone(),
            after: self.stall,
        }
    }

    fn wire_error(&self, err: WireError) -> LlmError {
        match err {
            WireError::Invalid(detail) => LlmError::InvalidResponse {
                target: self.target.clone(),
                url: self.url.clone(),
                detail: self.redact(detail),
            },
            WireError::Provider(message) => LlmError::Provider {
                target: self.target.clone(),
                message: self.redact(message),
            },
        }
    }

    /// Removes the API key from text quoted from a response, in case a server echoes it.
    fn redact(&self, text: String) -> String {
        match &self.api_key {
            Some(key) if text.contains(key.as_str()) => text.replace(key.as_str(), "[redacted]"),
            _ => text,
        }
    }

    /// Sends the request, retrying 429 and 5xx answers as the policy allows. Returns the
    /// streaming response and a warning per retry.
    async fn open(
        &self,
        request: RequestParts,
    ) -> Result<(reqwest::Response, Vec<String>), LlmError> {
        let mut warnings = Vec::new();
        let mut retries = 0;
        loop {
            let send = request
                .client
                .post(&self.url)
                .headers(request.headers.clone())
                .body(request.body.clone())
                .send();
            let response = tokio::select! {
                biased;
                () = self.cancel.cancelled() => {
                    return Err(LlmError::Cancelled { target: self.target.clone() });
                }
                sent = tokio::time::timeout(self.stall, send) => match sent {
                    Err(_elapsed) => return Err(self.stalled()),
                    Ok(Err(err)) => return Err(self.send_error(&err)),
                    Ok(Ok(response)) => response,
                },
            };
            let status = response.status();
            if status.is_success() {
                if content_type(&response).starts_with("text/html") {
                    let body = self.read_error_body(response).await;
                    return Err(LlmError::InvalidResponse {
                        target: self.target.clone(),
                        url: self.url.clone(),
                        detail: format!("expected a stream of events, got {body}"),
                    });
                }
                return Ok((response, warnings));
            }
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_owned)
            };
            let delay = retry_delay(
                &request.retry,
                retries,
                header("retry-after-ms").as_deref(),
                header("retry-after").as_deref(),
            );
            let mut message = self.read_error_body(response).await;
            let retryable = status.as_u16() == 429 || status.is_server_error();
            if retryable && retries < request.retry.max_retries {
                match delay {
                    Ok(delay) => {
                        retries += 1;
                        warnings.push(format!(
                            "{}: HTTP {} ({message}); retry {retries} of {} in {:.1} s",
                            self.target,
                            status.as_u16(),
                            request.retry.max_retries,
                            delay.as_secs_f64()
                        ));
                        tokio::select! {
                            biased;
                            () = self.cancel.cancelled() => {
                                return Err(LlmError::Cancelled { target: self.target.clone() });
                            }
                            () = tokio::time::sleep(delay) => continue,
                        }
                    }
                    Err(asked) => {
                        message = format!(
                            "{message} (the provider asked to retry after {:.0} s, longer than the {:.0} s this client waits)",
                            asked.as_secs_f64(),
                            request.retry.max_retry_after.as_secs_f64()
                        );
                    }
                }
            }
            return Err(LlmError::Status {
                target: self.target.clone(),
                url: self.url.clone(),
                status: status.as_u16(),
                message,
                retries,
            });
        }
    }

    fn send_error(&self, err: &reqwest::Error) -> LlmError {
        let detail = error_chain(err);
        if err.is_connect() || err.is_timeout() {
            LlmError::Connect {
                target: self.target.clone(),
                url: self.url.clone(),
                detail,
            }
        } else {
            LlmError::Transport {
                target: self.target.clone(),
                url: self.url.clone(),
                detail,
            }
        }
    }

    /// The body of a response that is not a stream, described for an error message.
    async fn read_error_body(&self, mut response: reqwest::Response) -> String {
        let content_type = content_type(&response);
        let mut body = Vec::new();
        let mut note = None;
        while body.len() < ERROR_BODY_LIMIT {
            match tokio::time::timeout(self.stall, response.chunk()).await {
                Ok(Ok(Some(bytes))) => body.extend_from_slice(&bytes),
                Ok(Ok(None)) => break,
                Ok(Err(err)) => {
                    note = Some(format!(" (reading it failed: {})", error_chain(&err)));
                    break;
                }
                Err(_elapsed) => {
                    note = Some(" (the body stalled)".to_owned());
                    break;
                }
            }
        }
        let described = describe_body(&content_type, &body);
        self.redact(described + note.as_deref().unwrap_or_default())
    }
}

/// How long to wait before retry number `retry` (0-based): what the server asked for in
/// `retry-after-ms` or `retry-after` (seconds), else exponential backoff. `Err` carries a
/// server's ask that is longer than the policy waits.
pub fn retry_delay(
    policy: &RetryPolicy,
    retry: u32,
    retry_after_ms: Option<&str>,
    retry_after: Option<&str>,
) -> Result<Duration, Duration> {
    let seconds = |text: &str, scale: f64| {
        text.trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && *n >= 0.0)
            .map(|n| Duration::from_secs_f64(n / scale))
    };
    let asked = retry_after_ms
        .and_then(|ms| seconds(ms, 1000.0))
        .or_else(|| retry_after.and_then(|s| seconds(s, 1.0)));
    match asked {
        Some(asked) if asked > policy.max_retry_after => Err(asked),
        Some(asked) => Ok(asked),
        None => {
            let factor = 2u32.saturating_pow(retry);
            Ok(policy
                .initial_backoff
                .saturating_mul(factor)
                .min(policy.max_backoff))
        }
    }
}

/// A short description of a non-stream body: the provider's error message when it is JSON,
/// the title when it is an HTML page, else its start.
pub fn describe_body(content_type: &str, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return "an empty body".to_owned();
    }
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(trimmed) {
        return match wire::error_message(&json) {
            Some(message) => message,
            None => wire::excerpt(trimmed),
        };
    }
    let lower = trimmed.to_ascii_lowercase();
    if content_type.starts_with("text/html")
        || lower.starts_with("<!doctype html")
        || lower.starts_with("<html")
    {
        let title = lower.find("<title>").and_then(|start| {
            let start = start + "<title>".len();
            let end = start + lower[start..].find("</title>")?;
            Some(trimmed.get(start..end)?.trim().to_owned())
        });
        return match title {
            Some(title) if !title.is_empty() => {
                format!("an HTML page titled `{}`", wire::excerpt(&title))
            }
            _ => format!("an HTML page: `{}`", wire::excerpt(trimmed)),
        };
    }
    format!("`{}`", wire::excerpt(trimmed))
}

fn content_type(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// An error and its causes on one line (reqwest's own message alone hides the cause).
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

/// reqwest is built without a bundled crypto backend; TLS uses rustls with *ring*, installed
/// as the process default once (a backend installed earlier by someone else is kept).
fn install_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let _already_installed = rustls::crypto::ring::default_provider().install_default();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_retries: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
            max_retry_after: Duration::from_secs(10),
        }
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let delays: Vec<_> = (0..4)
            .map(|retry| {
                retry_delay(&policy(), retry, None, None)
                    .unwrap()
                    .as_millis()
            })
            .collect();
        assert_eq!(delays, vec![100, 200, 350, 350]);
    }

    #[test]
    fn retry_after_headers_override_the_backoff() {
        assert_eq!(
            retry_delay(&policy(), 0, None, Some("2")),
            Ok(Duration::from_secs(2))
        );
        assert_eq!(
            retry_delay(&policy(), 0, Some("1500"), Some("2")),
            Ok(Duration::from_millis(1500))
        );
        assert_eq!(
            retry_delay(&policy(), 0, None, Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            Ok(Duration::from_millis(100))
        );
        assert_eq!(
            retry_delay(&policy(), 0, None, Some("60")),
            Err(Duration::from_secs(60))
        );
    }

    #[test]
    fn error_bodies_are_described_by_their_message_or_title() {
        let openai = br#"{"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","code":"invalid_api_key"}}"#;
        assert_eq!(
            describe_body("application/json", openai),
            "invalid_request_error: Incorrect API key provided."
        );
        let anthropic =
            br#"{"type":"error","error":{"type":"not_found_error","message":"model: claude-9"}}"#;
        assert_eq!(
            describe_body("application/json", anthropic),
            "not_found_error: model: claude-9"
        );
        let html = b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>";
        assert_eq!(
            describe_body("text/html", html),
            "an HTML page titled `502 Bad Gateway`"
        );
        assert_eq!(describe_body("text/plain", b"  "), "an empty body");
        assert_eq!(
            describe_body("text/plain", b"upstream\nreset"),
            "`upstream reset`"
        );
    }
}
