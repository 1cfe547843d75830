//! `http_fetch`: one HTTP(S) request with a timeout and a cap on the body it reads. The policy
//! decides each request (the host and the method); redirects are not followed, since the gate
//! never saw where they lead: the answer says where, and the model may fetch that URL in turn.

use std::sync::{Arc, OnceLock};

use codexos_policy::{Action, Capabilities, Capability};
use futures::{FutureExt, StreamExt};
use serde::Deserialize;
use serde_json::json;

use super::{Spec, builtin, parse};
use crate::context::ToolContext;
use crate::error::ToolError;
use crate::registry::{Tool, ToolOutput};

const HTTP_FETCH: &str = "http_fetch";

pub(super) fn http_fetch() -> Arc<dyn Tool> {
    builtin(Spec {
        name: HTTP_FETCH,
        description: "Fetch a URL over HTTP(S) (GET by default); returns the body as text, cut at the configured size. Only hosts the user allows, GET unless allowed otherwise; redirects are reported, not followed",
        input_schema: json!({
            "type": "object",
            "properties": {
                "url": { "type": "string", "pattern": "^[hH][tT][tT][pP][sS]?://" },
                "method": { "enum": ["GET", "POST", "HEAD"], "default": "GET" },
                "headers": { "type": "object", "additionalProperties": { "type": "string" } },
                "body": { "type": "string" }
            },
            "required": ["url"],
            "additionalProperties": false
        }),
        capabilities: Capabilities::of(&[Capability::Network]),
        act: |args, _| {
            let FetchArgs { url, method, .. } = parse(HTTP_FETCH, args.clone())?;
            Ok(Action::Fetch {
                method: method.unwrap_or_else(|| "GET".to_owned()),
                url,
            })
        },
        run: |args, ctx| run_http_fetch(args, ctx).boxed(),
    })
}

#[derive(Deserialize)]
struct FetchArgs {
    url: String,
    method: Option<String>,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
    body: Option<String>,
}

fn client() -> Result<&'static reqwest::Client, ToolError> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            // reqwest is built without a default TLS provider; ring is the workspace's choice.
            let _already_installed = rustls::crypto::ring::default_provider().install_default();
            reqwest::Client::builder()
                .user_agent(concat!("codexos/", env!("CARGO_PKG_VERSION")))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|error| error.to_string())
        })
        .as_ref()
        .map_err(|error| {
            ToolError::failed(HTTP_FETCH, format!("cannot start an HTTP client: {error}"))
        })
}

async fn run_http_fetch(
    args: serde_json::Value,
    ctx: &ToolContext,
) -> Result<ToolOutput, ToolError> {
    let args: FetchArgs = parse(HTTP_FETCH, args)?;
    let method = args.method.as_deref().unwrap_or("GET");
    let fetch = fetch(&args, method, ctx);
    let timeout = ctx.config.http_timeout;
    tokio::select! {
        result = tokio::time::timeout(timeout, fetch) => result.unwrap_or(Err(ToolError::Timeout {
            tool: HTTP_FETCH.to_owned(),
            after: timeout,
            killed: false,
        })),
        () = ctx.cancellation.cancelled() => Err(ToolError::Cancelled { tool: HTTP_FETCH.to_owned() }),
    }
}

async fn fetch(args: &FetchArgs, method: &str, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
    let failed = |message: String| {
        ToolError::failed(HTTP_FETCH, format!("{method} {}: {message}", args.url))
    };
    let method = reqwest::Method::from_bytes(method.as_bytes())
        .map_err(|error| failed(error.to_string()))?;
    let mut request = client()?.request(method, &args.url);
    for (name, value) in &args.headers {
        request = request.header(name, value);
    }
    if let Some(body) = &args.body {
        request = request.body(body.clone());
    }
    let response = request
        .send()
        .await
        .map_err(|error| failed(describe(&error)))?;
    let status = response.status();
    let response_location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let cap = ctx.config.http_max_bytes;
    let mut body = Vec::new();
    let mut truncated = false;
    let mut chunks = response.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|error| failed(describe(&error)))?;
        let room = cap - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            truncated = true;
            break;
        }
        body.extend_from_slice(&chunk);
    }
    let text = String::from_utf8_lossy(&body).into_owned();
    if status.is_redirection() {
        let location = response_location.unwrap_or_default();
        return Err(failed(format!(
            "answered {status}, redirecting to `{location}`: redirects are not followed; fetch that URL to follow it (it is decided like any other)"
        )));
    }
    if !status.is_success() {
        let start: String = text.chars().take(500).collect();
        return Err(failed(format!("answered {status}: {start}")));
    }
    Ok(ToolOutput::text(text).with_data(json!({
        "status": status.as_u16(),
        "content_type": content_type,
        "bytes": body.len(),
        "truncated": truncated,
    })))
}

/// reqwest's error with its causes (the top level alone often says only "error sending request").
fn describe(error: &reqwest::Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
