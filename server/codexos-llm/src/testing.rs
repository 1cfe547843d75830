//! A fake LLM provider on loopback, for tests: a real HTTP/1.1 server (tokio, written by hand)
//! that serves the providers' real wire formats, records every request and notices when a
//! client hangs up before the response is over.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use codexos_llm::testing::{FakeProvider, ScriptedReply};
//! use codexos_llm::{ChatRequest, Message, Router, WireFormat};
//!
//! // Answers in whichever format the request's path asks for.
//! let fake = FakeProvider::replying(ScriptedReply::text(&["Hel", "lo"]).usage(5, 2)).await?;
//! let router = Router::new(&fake.llm_config(WireFormat::OpenAiChat));
//! let request = ChatRequest::new("fake/any-model", vec![Message::user("Hi")]);
//! let answer = router.chat(request, Default::default()).await.unwrap();
//! assert_eq!(answer.text, "Hello");
//! assert_eq!(fake.requests().len(), 1);
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::AbortHandle;

use crate::config::{LlmConfig, ProviderConfig, RetryPolicy, Timeouts};
use crate::types::{ToolCall, Usage};
use crate::wire::WireFormat;

/// The provider id [`FakeProvider::llm_config`] registers the fake under.
pub const FAKE: &str = "fake";

/// A request as the fake server received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// Header names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub received_at: Instant,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The `model` of a JSON body.
    pub fn model(&self) -> Option<String> {
        Some(self.json()?.get("model")?.as_str()?.to_owned())
    }

    /// The wire format the path belongs to.
    pub fn format(&self) -> Option<WireFormat> {
        let path = self.path.split('?').next().unwrap_or_default();
        if path.ends_with("/chat/completions") {
            Some(WireFormat::OpenAiChat)
        } else if path.ends_with("/v1/messages") {
            Some(WireFormat::AnthropicMessages)
        } else if path.ends_with("/api/chat") {
            Some(WireFormat::OllamaChat)
        } else {
            None
        }
    }
}

/// How an exchange ended, from the server's side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Responding,
    /// The whole response was written.
    Completed,
    /// The client closed the connection before the response was over.
    ClientClosedEarly,
}

#[derive(Clone, Debug)]
pub struct Exchange {
    pub request: RecordedRequest,
    pub outcome: Outcome,
}

/// One piece of a response body.
#[derive(Clone, Debug)]
pub enum BodyPart {
    /// Sent as one HTTP chunk, flushed.
    Bytes(Vec<u8>),
    /// Waits before the next part.
    Pause(Duration),
    /// Sends nothing more, ever, and keeps the connection open until the client leaves.
    Stall,
}

/// A response to serve, sent with chunked transfer encoding and `Connection: close`.
#[derive(Clone, Debug)]
pub struct FakeResponse {
    /// The HTTP status; 0 sends nothing at all, not even the status line (see [`FakeResponse::silent`]).
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<BodyPart>,
}

impl FakeResponse {
    /// A 200 response whose body is `chunks`, each sent (and flushed) on its own.
    pub fn stream(content_type: &str, chunks: Vec<Vec<u8>>) -> FakeResponse {
        FakeResponse {
            status: 200,
            headers: vec![("content-type".to_owned(), content_type.to_owned())],
            body: chunks.into_iter().map(BodyPart::Bytes).collect(),
        }
    }

    /// `reply` in `format`, as the real provider would stream it for `model`.
    pub fn reply(format: WireFormat, reply: &ScriptedReply, model: &str) -> FakeResponse {
        match format {
            WireFormat::OpenAiChat => {
                FakeResponse::stream("text/event-stream", reply.openai_chunks(model))
            }
            WireFormat::AnthropicMessages => {
                FakeResponse::stream("text/event-stream", reply.anthropic_chunks(model))
            }
            WireFormat::OllamaChat => {
                FakeResponse::stream("application/x-ndjson", reply.ollama_chunks(model))
            }
        }
    }

    /// Reads the request and never answers, keeping the connection open.
    pub fn silent() -> FakeResponse {
        FakeResponse {
            status: 0,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn json(status: u16, body: &Value) -> FakeResponse {
        FakeResponse {
            status,
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            body: vec![BodyPart::Bytes(body.to_string().into_bytes())],
        }
    }

    /// An HTML error page, as a proxy in front of a provider serves one.
    pub fn html(status: u16, title: &str) -> FakeResponse {
        let page = format!(
            "<!DOCTYPE html>\n<html><head><title>{title}</title></head>\n<body><h1>{title}</h1></body></html>\n"
        );
        FakeResponse {
            status,
            headers: vec![("content-type".to_owned(), "text/html".to_owned())],
            body: vec![BodyPart::Bytes(page.into_bytes())],
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> FakeResponse {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    /// Keeps only the first `count` body parts and then stalls.
    pub fn stall_after(mut self, count: usize) -> FakeResponse {
        self.body.truncate(count);
        self.body.push(BodyPart::Stall);
        self
    }

    /// Keeps only the first `count` body parts and appends `bytes` (garbage, say).
    pub fn replace_after(mut self, count: usize, bytes: &[u8]) -> FakeResponse {
        self.body.truncate(count);
        self.body.push(BodyPart::Bytes(bytes.to_vec()));
        self
    }

    /// Waits `pause` between body parts, as a model producing tokens does.
    pub fn paced(mut self, pause: Duration) -> FakeResponse {
        let parts = std::mem::take(&mut self.body);
        for (position, part) in parts.into_iter().enumerate() {
            if position > 0 {
                self.body.push(BodyPart::Pause(pause));
            }
            self.body.push(part);
        }
        self
    }
}

/// An answer the fake gives, rendered in any provider's format.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScriptedReply {
    /// Text deltas, in order.
    pub text: Vec<String>,
    pub tool_calls: Vec<ToolCall>,
    pub usage: Usage,
}

impl ScriptedReply {
    pub fn text(chunks: &[&str]) -> ScriptedReply {
        ScriptedReply {
            text: chunks.iter().map(|chunk| (*chunk).to_owned()).collect(),
            ..ScriptedReply::default()
        }
    }

    pub fn tool_call(mut self, id: &str, name: &str, arguments: Value) -> ScriptedReply {
        self.tool_calls.push(ToolCall {
            id: id.to_owned(),
            name: name.to_owned(),
            arguments,
        });
        self
    }

    pub fn usage(mut self, prompt_tokens: u32, completion_tokens: u32) -> ScriptedReply {
        self.usage = Usage {
            prompt_tokens,
            completion_tokens,
        };
        self
    }

    /// OpenAI `chat.completion.chunk` events: a role chunk, text chunks, tool-call chunks
    /// (arguments in three fragments), a finish chunk, a usage chunk, `[DONE]`.
    pub fn openai_chunks(&self, model: &str) -> Vec<Vec<u8>> {
        let envelope = |choices: Value, usage: Value| {
            sse(
                None,
                &json!({
                    "id": "chatcmpl-fake",
                    "object": "chat.completion.chunk",
                    "created": 1_700_000_000,
                    "model": model,
                    "system_fingerprint": "fp_fake",
                    "choices": choices,
                    "usage": usage,
                }),
            )
        };
        let chunk = |delta: Value, finish: Value| {
            envelope(
                json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]),
                Value::Null,
            )
        };
        let mut chunks = vec![chunk(
            json!({"role": "assistant", "content": ""}),
            Value::Null,
        )];
        for text in &self.text {
            chunks.push(chunk(json!({"content": text}), Value::Null));
        }
        for (index, call) in self.tool_calls.iter().enumerate() {
            chunks.push(chunk(
                json!({"tool_calls": [{"index": index, "id": call.id, "type": "function",
                    "function": {"name": call.name, "arguments": ""}}]}),
                Value::Null,
            ));
            for piece in thirds(&call.arguments.to_string()) {
                chunks.push(chunk(
                    json!({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}),
                    Value::Null,
                ));
            }
        }
        let finish = if self.tool_calls.is_empty() {
            "stop"
        } else {
            "tool_calls"
        };
        chunks.push(chunk(json!({}), json!(finish)));
        let total = self.usage.prompt_tokens + self.usage.completion_tokens;
        chunks.push(envelope(
            json!([]),
            json!({
                "prompt_tokens": self.usage.prompt_tokens,
                "completion_tokens": self.usage.completion_tokens,
                "total_tokens": total,
            }),
        ));
        chunks.push(b"data: [DONE]\n\n".to_vec());
        chunks
    }

    /// Anthropic Messages events: `message_start`, a text block, one `tool_use` block per
    /// call (input in three `input_json_delta`s), `message_delta`, `message_stop`.
    pub fn anthropic_chunks(&self, model: &str) -> Vec<Vec<u8>> {
        let mut events = vec![json!({"type": "message_start", "message": {
            "id": "msg_fake", "type": "message", "role": "assistant", "content": [],
            "model": model, "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": self.usage.prompt_tokens, "output_tokens": 1}}})];
        let mut blocks = Vec::new();
        if !self.text.is_empty() {
            let deltas = self
                .text
                .iter()
                .map(|text| json!({"type": "text_delta", "text": text}));
            blocks.push((
                json!({"type": "text", "text": ""}),
                deltas.collect::<Vec<_>>(),
            ));
        }
        for call in &self.tool_calls {
            let start = json!({"type": "tool_use", "id": call.id, "name": call.name, "input": {}});
            let deltas = thirds(&call.arguments.to_string())
                .into_iter()
                .map(|piece| json!({"type": "input_json_delta", "partial_json": piece}));
            blocks.push((start, deltas.collect()));
        }
        for (index, (start, deltas)) in blocks.into_iter().enumerate() {
            events.push(
                json!({"type": "content_block_start", "index": index, "content_block": start}),
            );
            if index == 0 {
                events.push(json!({"type": "ping"}));
            }
            events.extend(deltas.into_iter().map(
                |delta| json!({"type": "content_block_delta", "index": index, "delta": delta}),
            ));
            events.push(json!({"type": "content_block_stop", "index": index}));
        }
        let stop = if self.tool_calls.is_empty() {
            "end_turn"
        } else {
            "tool_use"
        };
        events.push(json!({"type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": null},
            "usage": {"output_tokens": self.usage.completion_tokens}}));
        events.push(json!({"type": "message_stop"}));
        events
            .iter()
            .map(|event| sse(event["type"].as_str(), event))
            .collect()
    }

    /// Ollama `/api/chat` lines: one per text delta, one with the tool calls, a `done` line.
    pub fn ollama_chunks(&self, model: &str) -> Vec<Vec<u8>> {
        let line = |value: Value| format!("{value}\n").into_bytes();
        let created_at = "2024-08-04T08:52:19.385406455Z";
        let mut chunks: Vec<Vec<u8>> = self
            .text
            .iter()
            .map(|text| {
                line(json!({"model": model, "created_at": created_at,
                    "message": {"role": "assistant", "content": text}, "done": false}))
            })
            .collect();
        if !self.tool_calls.is_empty() {
            let calls: Vec<Value> = self
                .tool_calls
                .iter()
                .map(|call| json!({"function": {"name": call.name, "arguments": call.arguments}}))
                .collect();
            chunks.push(line(json!({"model": model, "created_at": created_at,
                "message": {"role": "assistant", "content": "", "tool_calls": calls}, "done": false})));
        }
        chunks.push(line(json!({"model": model, "created_at": created_at,
            "message": {"role": "assistant", "content": ""}, "done": true, "done_reason": "stop",
            "total_duration": 4_883_583_458_u64, "load_duration": 1_334_875,
            "prompt_eval_count": self.usage.prompt_tokens, "prompt_eval_duration": 342_546_000,
            "eval_count": self.usage.completion_tokens, "eval_duration": 4_535_599_000_u64})));
        chunks
    }
}

fn sse(event: Option<&str>, data: &Value) -> Vec<u8> {
    match event {
        Some(event) => format!("event: {event}\ndata: {data}\n\n").into_bytes(),
        None => format!("data: {data}\n\n").into_bytes(),
    }
}

/// `text` in three pieces, cut at character boundaries.
fn thirds(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let third = chars.len().div_ceil(3).max(1);
    chars
        .chunks(third)
        .map(|piece| piece.iter().collect())
        .collect()
}

type Responder = Box<dyn Fn(&RecordedRequest) -> FakeResponse + Send + Sync>;

struct Shared {
    responder: Responder,
    exchanges: Mutex<Vec<Exchange>>,
    changed: Notify,
    tasks: Mutex<Vec<AbortHandle>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not hide what the server recorded.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The fake server; it stops when dropped.
pub struct FakeProvider {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: AbortHandle,
}

impl FakeProvider {
    /// Starts a server on 127.0.0.1 (a free port) that answers each request with `responder`.
    pub async fn start(
        responder: impl Fn(&RecordedRequest) -> FakeResponse + Send + Sync + 'static,
    ) -> io::Result<FakeProvider> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            responder: Box::new(responder),
            exchanges: Mutex::new(Vec::new()),
            changed: Notify::new(),
            tasks: Mutex::new(Vec::new()),
        });
        let accepting = Arc::clone(&shared);
        let accept = tokio::spawn(async move {
            while let Ok((connection, _)) = listener.accept().await {
                let serving = Arc::clone(&accepting);
                let task = tokio::spawn(serve(connection, serving));
                let mut tasks = lock(&accepting.tasks);
                tasks.retain(|task| !task.is_finished());
                tasks.push(task.abort_handle());
            }
        })
        .abort_handle();
        Ok(FakeProvider {
            addr,
            shared,
            accept,
        })
    }

    /// A server on a runtime (and a thread) of its own that streams every chat request an
    /// OpenAI-style answer of `tokens` words, one every `pause`: what the concurrency benches
    /// put 100 streamed runs against, so the provider's streams never delay their client.
    pub fn paced_chat(
        tokens: usize,
        pause: Duration,
    ) -> io::Result<(tokio::runtime::Runtime, FakeProvider)> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let provider = runtime.block_on(FakeProvider::start(move |request| {
            let model = request.model().unwrap_or_default();
            let words: Vec<String> = (0..tokens).map(|i| format!("word{i} ")).collect();
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            FakeResponse::reply(WireFormat::OpenAiChat, &ScriptedReply::text(&words), &model)
                .paced(pause)
        }))?;
        Ok((runtime, provider))
    }

    /// Serves `responses` in order, one per request; past the end, a 500 that says so.
    pub async fn scripted(responses: Vec<FakeResponse>) -> io::Result<FakeProvider> {
        let queue = Mutex::new(VecDeque::from(responses));
        FakeProvider::start(move |request| {
            lock(&queue).pop_front().unwrap_or_else(|| {
                FakeResponse::json(
                    500,
                    &json!({"error": {"message": format!(
                        "fake provider: no scripted response left for {} {}",
                        request.method, request.path
                    )}}),
                )
            })
        })
        .await
    }

    /// Answers every chat with `reply`, in the format of the path requested (OpenAI, Anthropic
    /// or Ollama), echoing the requested model.
    pub async fn replying(reply: ScriptedReply) -> io::Result<FakeProvider> {
        FakeProvider::start(move |request| match request.format() {
            Some(format) => {
                let model = request.model().unwrap_or_else(|| "fake-model".to_owned());
                FakeResponse::reply(format, &reply, &model)
            }
            None => FakeResponse::json(
                404,
                &json!({"error": {"message": format!("fake provider: no API at {}", request.path)}}),
            ),
        })
        .await
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A provider pointing here in `format`, with a key, short timeouts and quick retries.
    pub fn provider_config(&self, format: WireFormat) -> ProviderConfig {
        let base_url = match format {
            WireFormat::OpenAiChat => format!("{}/v1", self.url()),
            WireFormat::AnthropicMessages | WireFormat::OllamaChat => self.url(),
        };
        ProviderConfig {
            api_key: Some("fake-key".to_owned()),
            timeouts: Timeouts {
                connect: Duration::from_secs(2),
                stall: Duration::from_secs(5),
            },
            retry: RetryPolicy {
                max_retries: 2,
                initial_backoff: Duration::from_millis(20),
                max_backoff: Duration::from_millis(200),
                max_retry_after: Duration::from_secs(5),
            },
            ..ProviderConfig::new(format, base_url)
        }
    }

    /// A router configuration with only this fake, as provider [`FAKE`], which also takes
    /// every bare model name: `fake/anything` and `anything` both come here.
    pub fn llm_config(&self, format: WireFormat) -> LlmConfig {
        LlmConfig {
            providers: BTreeMap::from([(FAKE.to_owned(), self.provider_config(format))]),
            fallbacks: Vec::new(),
            default_provider: FAKE.to_owned(),
        }
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.exchanges().into_iter().map(|e| e.request).collect()
    }

    pub fn exchanges(&self) -> Vec<Exchange> {
        lock(&self.shared.exchanges).clone()
    }

    /// Waits until `done` holds for the exchanges so far, or `timeout` passes; says which.
    pub async fn wait_for(&self, timeout: Duration, done: impl Fn(&[Exchange]) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.shared.changed.notified();
            if done(&lock(&self.shared.exchanges)) {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return false;
            }
        }
    }

    /// Waits until some client closed its connection before its response was over.
    pub async fn wait_for_client_to_close_early(&self, timeout: Duration) -> bool {
        self.wait_for(timeout, |exchanges| {
            exchanges
                .iter()
                .any(|e| e.outcome == Outcome::ClientClosedEarly)
        })
        .await
    }
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        self.accept.abort();
        for task in lock(&self.shared.tasks).drain(..) {
            task.abort();
        }
    }
}

async fn serve(connection: TcpStream, shared: Arc<Shared>) {
    let (mut reader, mut writer) = connection.into_split();
    let Ok(Some(request)) = read_request(&mut reader).await else {
        return;
    };
    let response = (shared.responder)(&request);
    let index = {
        let mut exchanges = lock(&shared.exchanges);
        exchanges.push(Exchange {
            request,
            outcome: Outcome::Responding,
        });
        exchanges.len() - 1
    };
    shared.changed.notify_waiters();
    let client_closed = async {
        let mut buffer = [0u8; 1024];
        while let Ok(read) = reader.read(&mut buffer).await {
            if read == 0 {
                break;
            }
        }
    };
    let outcome = tokio::select! {
        biased;
        written = write_response(&mut writer, &response) => match written {
            Ok(()) => Outcome::Completed,
            Err(_) => Outcome::ClientClosedEarly,
        },
        () = client_closed => Outcome::ClientClosedEarly,
    };
    lock(&shared.exchanges)[index].outcome = outcome;
    shared.changed.notify_waiters();
}

/// Reads one request (head and `Content-Length` body); `None` if the client sent nothing.
async fn read_request(
    reader: &mut (impl AsyncReadExt + Unpin),
) -> io::Result<Option<RecordedRequest>> {
    const HEAD_LIMIT: usize = 64 * 1024;
    let mut data = Vec::new();
    let mut buffer = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        if data.len() > HEAD_LIMIT {
            return Err(io::Error::other("request head too large"));
        }
        let read = reader.read(&mut buffer).await?;
        if read == 0 {
            return Ok(None);
        }
        data.extend_from_slice(&buffer[..read]);
    };
    let received_at = Instant::now();
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_owned();
    let path = request_line.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let length = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .and_then(|(_, value)| value.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = data[head_end + 4..].to_vec();
    while body.len() < length {
        let read = reader.read(&mut buffer).await?;
        if read == 0 {
            break;
        }
        body.extend_from_slice(&buffer[..read]);
    }
    body.truncate(length);
    Ok(Some(RecordedRequest {
        method,
        path,
        headers,
        body,
        received_at,
    }))
}

async fn write_response(
    writer: &mut (impl AsyncWriteExt + Unpin),
    response: &FakeResponse,
) -> io::Result<()> {
    if response.status == 0 {
        std::future::pending::<()>().await;
    }
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    );
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("transfer-encoding: chunked\r\nconnection: close\r\n\r\n");
    writer.write_all(head.as_bytes()).await?;
    writer.flush().await?;
    for part in &response.body {
        match part {
            BodyPart::Bytes(bytes) if bytes.is_empty() => {}
            BodyPart::Bytes(bytes) => {
                let mut frame = format!("{:x}\r\n", bytes.len()).into_bytes();
                frame.extend_from_slice(bytes);
                frame.extend_from_slice(b"\r\n");
                writer.write_all(&frame).await?;
                writer.flush().await?;
            }
            BodyPart::Pause(pause) => tokio::time::sleep(*pause).await,
            BodyPart::Stall => std::future::pending::<()>().await,
        }
    }
    writer.write_all(b"0\r\n\r\n").await?;
    writer.flush().await?;
    writer.shutdown().await
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        529 => "Overloaded",
        _ => "Status",
    }
}
