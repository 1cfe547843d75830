//! The HTTP providers against the fake provider: real HTTP on loopback, real wire formats.

use std::time::Duration;

use codexos_llm::testing::{FakeProvider, FakeResponse, Outcome, ScriptedReply};
use codexos_llm::{
    CancellationToken, ChatRequest, ChatResponse, FinishReason, HttpProvider, LlmError, Message,
    ModelRef, Provider, ProviderConfig, StreamEvent, Usage, WireFormat, collect,
};
use futures_util::StreamExt;
use serde_json::json;

fn weather_reply() -> ScriptedReply {
    ScriptedReply::text(&["Let me ", "check ✓"])
        .tool_call(
            "call_1",
            "get_weather",
            json!({"city": "Paris", "unit": "C"}),
        )
        .usage(31, 12)
}

fn request(model: &str) -> ChatRequest {
    ChatRequest::new(
        model,
        vec![
            Message::system("Be brief."),
            Message::user("Weather in Paris?"),
        ],
    )
}

fn provider(config: ProviderConfig) -> HttpProvider {
    HttpProvider::new("fake", config).expect("the fake's config is valid")
}

async fn ask(config: ProviderConfig, model: &str) -> Result<ChatResponse, LlmError> {
    let stream = provider(config).chat(request(model), CancellationToken::new());
    collect(stream, ModelRef::new("fake", model)).await
}

fn assert_weather_answer(answer: &ChatResponse) {
    assert_eq!(answer.text, "Let me check ✓");
    assert_eq!(answer.tool_calls.len(), 1);
    assert!(!answer.tool_calls[0].id.is_empty());
    assert_eq!(answer.tool_calls[0].name, "get_weather");
    assert_eq!(
        answer.tool_calls[0].arguments,
        json!({"city": "Paris", "unit": "C"})
    );
    assert_eq!(
        answer.usage,
        Some(Usage {
            prompt_tokens: 31,
            completion_tokens: 12
        })
    );
    assert_eq!(answer.finish_reason, FinishReason::ToolCalls);
}

#[tokio::test]
async fn openai_sse_streams_text_tool_calls_and_usage() {
    let fake = FakeProvider::replying(weather_reply()).await.unwrap();
    let answer = ask(fake.provider_config(WireFormat::OpenAiChat), "gpt-4o")
        .await
        .unwrap();
    assert_weather_answer(&answer);
    assert_eq!(answer.tool_calls[0].id, "call_1");

    let sent = &fake.requests()[0];
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("POST", "/v1/chat/completions")
    );
    assert_eq!(sent.header("authorization"), Some("Bearer fake-key"));
    let body = sent.json().unwrap();
    assert_eq!(body["model"], "gpt-4o");
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    assert_eq!(
        body["messages"][0],
        json!({"role": "system", "content": "Be brief."})
    );
}

#[tokio::test]
async fn anthropic_events_stream_text_tool_use_and_usage() {
    let fake = FakeProvider::replying(weather_reply()).await.unwrap();
    let answer = ask(
        fake.provider_config(WireFormat::AnthropicMessages),
        "claude-3-5-sonnet-latest",
    )
    .await
    .unwrap();
    assert_weather_answer(&answer);

    let sent = &fake.requests()[0];
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some("fake-key"));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(sent.header("authorization"), None);
    let body = sent.json().unwrap();
    assert_eq!(body["system"], "Be brief.");
    assert_eq!(body["max_tokens"], 4096);
}

#[tokio::test]
async fn ollama_ndjson_streams_text_tool_calls_and_usage() {
    let fake = FakeProvider::replying(weather_reply()).await.unwrap();
    let answer = ask(fake.provider_config(WireFormat::OllamaChat), "llama3.2")
        .await
        .unwrap();
    assert_weather_answer(&answer);
    assert_eq!(fake.requests()[0].path, "/api/chat");
}

#[tokio::test]
async fn text_arrives_as_deltas_before_the_stream_finishes() {
    let fake = FakeProvider::start(|_| {
        FakeResponse::reply(
            WireFormat::OpenAiChat,
            &ScriptedReply::text(&["one ", "two ", "three"]),
            "m",
        )
        .paced(Duration::from_millis(20))
    })
    .await
    .unwrap();
    let stream = provider(fake.provider_config(WireFormat::OpenAiChat))
        .chat(request("m"), CancellationToken::new());
    let events: Vec<StreamEvent> = stream.map(|event| event.unwrap()).collect().await;
    let deltas: Vec<&StreamEvent> = events
        .iter()
        .filter(|event| matches!(event, StreamEvent::TextDelta(_)))
        .collect();
    assert_eq!(deltas.len(), 3);
    assert_eq!(
        events.last(),
        Some(&StreamEvent::Finished(FinishReason::Stop))
    );
}

#[tokio::test]
async fn a_429_is_retried_after_the_wait_the_server_asked_for() {
    let fake = FakeProvider::scripted(vec![
        FakeResponse::json(
            429,
            &json!({"error": {"message": "Rate limit reached", "type": "requests"}}),
        )
        .with_header("retry-after", "1"),
        FakeResponse::reply(WireFormat::OpenAiChat, &weather_reply(), "gpt-4o"),
    ])
    .await
    .unwrap();
    let answer = ask(fake.provider_config(WireFormat::OpenAiChat), "gpt-4o")
        .await
        .unwrap();
    assert_weather_answer(&answer);

    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    let waited = requests[1].received_at - requests[0].received_at;
    assert!(waited >= Duration::from_secs(1), "retried after {waited:?}");
    assert_eq!(answer.warnings.len(), 1);
    assert!(
        answer.warnings[0].starts_with(
            "fake/gpt-4o: HTTP 429 (requests: Rate limit reached); retry 1 of 2 in 1.0 s"
        ),
        "{:?}",
        answer.warnings
    );
}

#[tokio::test]
async fn repeated_500s_fail_after_the_bounded_retries_with_the_server_message() {
    let error = FakeResponse::json(500, &json!({"error": {"message": "upstream exploded"}}));
    let fake = FakeProvider::scripted(vec![error; 5]).await.unwrap();
    let config = fake.provider_config(WireFormat::OpenAiChat);
    let url = format!("{}/v1/chat/completions", fake.url());
    let err = ask(config, "gpt-4o").await.unwrap_err();
    assert_eq!(fake.requests().len(), 3, "one try and two retries");
    assert_eq!(
        err.to_string(),
        format!("fake/gpt-4o: HTTP 500 from {url} after 2 retries: upstream exploded")
    );
}

#[tokio::test]
async fn a_retry_after_beyond_the_limit_fails_at_once_and_says_why() {
    let fake = FakeProvider::scripted(vec![
        FakeResponse::json(503, &json!({"error": {"message": "overloaded"}}))
            .with_header("retry-after", "600"),
    ])
    .await
    .unwrap();
    let err = ask(fake.provider_config(WireFormat::OpenAiChat), "gpt-4o")
        .await
        .unwrap_err();
    assert_eq!(fake.requests().len(), 1);
    assert!(
        err.to_string().ends_with(
            "overloaded (the provider asked to retry after 600 s, longer than the 5 s this client waits)"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_401_is_not_retried_and_quotes_the_provider_without_the_key() {
    let fake = FakeProvider::scripted(vec![FakeResponse::json(
        401,
        &json!({"type": "error", "error": {"type": "authentication_error",
            "message": "invalid x-api-key: fake-key"}}),
    )])
    .await
    .unwrap();
    let err = ask(
        fake.provider_config(WireFormat::AnthropicMessages),
        "claude-3-opus",
    )
    .await
    .unwrap_err();
    assert_eq!(fake.requests().len(), 1);
    let message = err.to_string();
    assert!(
        message.starts_with("fake/claude-3-opus: HTTP 401 from http://127.0.0.1:"),
        "{message}"
    );
    assert!(
        message.ends_with("/v1/messages: authentication_error: invalid x-api-key: [redacted]"),
        "{message}"
    );
}

#[tokio::test]
async fn an_html_error_page_is_reported_by_its_title() {
    let fake = FakeProvider::scripted(vec![
        FakeResponse::html(502, "502 Bad Gateway"),
        FakeResponse::html(502, "502 Bad Gateway"),
        FakeResponse::html(502, "502 Bad Gateway"),
    ])
    .await
    .unwrap();
    let err = ask(fake.provider_config(WireFormat::OllamaChat), "llama3.2")
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .ends_with("/api/chat after 2 retries: an HTML page titled `502 Bad Gateway`"),
        "{err}"
    );
}

#[tokio::test]
async fn an_html_page_served_as_success_is_not_mistaken_for_a_stream() {
    let fake = FakeProvider::scripted(vec![FakeResponse::html(200, "Sign in to continue")])
        .await
        .unwrap();
    let err = ask(fake.provider_config(WireFormat::OpenAiChat), "gpt-4o")
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::InvalidResponse { .. }), "{err:?}");
    assert!(
        err.to_string().ends_with(
            "expected a stream of events, got an HTML page titled `Sign in to continue`"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_chunk_that_is_not_json_is_a_clear_error_naming_provider_and_model() {
    let garbage = FakeResponse::reply(WireFormat::OpenAiChat, &weather_reply(), "gpt-4o")
        .replace_after(
            2,
            b"data: {\"choices\": [{\"delta\": {\"content\": \"oops\n\n",
        );
    let fake = FakeProvider::scripted(vec![garbage]).await.unwrap();
    let err = ask(fake.provider_config(WireFormat::OpenAiChat), "gpt-4o")
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("fake/gpt-4o: invalid response from http://127.0.0.1:"),
        "{message}"
    );
    assert!(
        message.contains("/v1/chat/completions: chunk 3 is not valid JSON"),
        "{message}"
    );
}

#[tokio::test]
async fn a_body_cut_short_is_an_incomplete_answer_not_a_short_one() {
    let cut = FakeResponse::reply(WireFormat::AnthropicMessages, &weather_reply(), "claude-x")
        .replace_after(4, b"");
    let fake = FakeProvider::scripted(vec![cut]).await.unwrap();
    let err = ask(
        fake.provider_config(WireFormat::AnthropicMessages),
        "claude-x",
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().ends_with(
            "the stream ended after 4 event(s) without message_stop: the answer is incomplete"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_provider_that_stops_sending_times_out_and_the_connection_is_closed() {
    let fake = FakeProvider::scripted(vec![
        FakeResponse::reply(WireFormat::OpenAiChat, &weather_reply(), "gpt-4o").stall_after(2),
    ])
    .await
    .unwrap();
    let mut config = fake.provider_config(WireFormat::OpenAiChat);
    config.timeouts.stall = Duration::from_millis(300);
    let mut stream = provider(config).chat(request("gpt-4o"), CancellationToken::new());
    assert_eq!(
        stream.next().await.unwrap().unwrap(),
        StreamEvent::TextDelta("Let me ".into())
    );
    let err = stream.next().await.unwrap().unwrap_err();
    assert!(matches!(err, LlmError::Stalled { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.starts_with("fake/gpt-4o: no data from http://127.0.0.1:"),
        "{message}"
    );
    assert!(
        message.ends_with("for 0.3 s; the provider stalled"),
        "{message}"
    );
    assert!(stream.next().await.is_none());
    assert!(
        fake.wait_for_client_to_close_early(Duration::from_secs(5))
            .await
    );
}

#[tokio::test]
async fn a_server_that_never_answers_the_request_times_out_too() {
    let fake = FakeProvider::scripted(vec![FakeResponse::silent()])
        .await
        .unwrap();
    let mut config = fake.provider_config(WireFormat::OllamaChat);
    config.timeouts.stall = Duration::from_millis(200);
    let err = ask(config, "llama3.2").await.unwrap_err();
    assert!(matches!(err, LlmError::Stalled { .. }), "{err:?}");
    assert!(
        fake.wait_for_client_to_close_early(Duration::from_secs(5))
            .await
    );
}

#[tokio::test]
async fn dropping_the_stream_closes_the_connection() {
    let fake = FakeProvider::scripted(vec![
        FakeResponse::reply(WireFormat::OpenAiChat, &weather_reply(), "gpt-4o")
            .paced(Duration::from_secs(30)),
    ])
    .await
    .unwrap();
    let mut stream = provider(fake.provider_config(WireFormat::OpenAiChat))
        .chat(request("gpt-4o"), CancellationToken::new());
    // The role chunk carries no text, so the first event needs the second chunk, 30 s away:
    // wait for the server to start responding instead.
    let first = tokio::time::timeout(Duration::from_millis(300), stream.next()).await;
    assert!(first.is_err(), "nothing to yield yet");
    assert!(
        fake.wait_for(Duration::from_secs(5), |exchanges| exchanges.len() == 1)
            .await
    );
    drop(stream);
    assert!(
        fake.wait_for_client_to_close_early(Duration::from_secs(5))
            .await
    );
    assert_eq!(fake.exchanges()[0].outcome, Outcome::ClientClosedEarly);
}

#[tokio::test]
async fn cancelling_ends_the_stream_with_cancelled_and_closes_the_connection() {
    let fake = FakeProvider::scripted(vec![
        FakeResponse::reply(WireFormat::AnthropicMessages, &weather_reply(), "claude-x")
            .stall_after(4),
    ])
    .await
    .unwrap();
    let cancel = CancellationToken::new();
    let mut stream = provider(fake.provider_config(WireFormat::AnthropicMessages))
        .chat(request("claude-x"), cancel.clone());
    assert_eq!(
        stream.next().await.unwrap().unwrap(),
        StreamEvent::TextDelta("Let me ".into())
    );
    cancel.cancel();
    let err = stream.next().await.unwrap().unwrap_err();
    assert_eq!(err.to_string(), "fake/claude-x: cancelled");
    assert!(stream.next().await.is_none());
    assert!(
        fake.wait_for_client_to_close_early(Duration::from_secs(5))
            .await
    );
}

#[tokio::test]
async fn cancelling_during_a_retry_wait_stops_without_another_request() {
    let fake = FakeProvider::scripted(vec![
        FakeResponse::json(429, &json!({"error": "slow down"})).with_header("retry-after", "4"),
    ])
    .await
    .unwrap();
    let cancel = CancellationToken::new();
    let stream = provider(fake.provider_config(WireFormat::OllamaChat))
        .chat(request("llama3.2"), cancel.clone());
    let cancelling = cancel.clone();
    let waiter = async {
        fake.wait_for(Duration::from_secs(5), |exchanges| {
            exchanges
                .first()
                .is_some_and(|e| e.outcome == Outcome::Completed)
        })
        .await;
        cancelling.cancel();
    };
    let (result, ()) = tokio::join!(collect(stream, ModelRef::new("fake", "llama3.2")), waiter);
    assert!(result.unwrap_err().is_cancelled());
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn a_refused_connection_names_the_url() {
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let config = ProviderConfig::new(
        WireFormat::OllamaChat,
        format!("http://127.0.0.1:{closed_port}"),
    );
    let err = ask(config, "llama3").await.unwrap_err();
    assert!(matches!(err, LlmError::Connect { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with(&format!(
            "fake/llama3: cannot connect to http://127.0.0.1:{closed_port}/api/chat: "
        )),
        "{err}"
    );
}

#[tokio::test]
async fn a_bad_base_url_is_a_config_error_not_a_panic() {
    let err = HttpProvider::new(
        "vllm",
        ProviderConfig::new(WireFormat::OpenAiChat, "localhost:8000"),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "provider `vllm` is misconfigured: base URL `localhost:8000` is not http or https"
    );
}

#[tokio::test]
async fn an_https_provider_opens_with_a_tls_handshake_and_reports_its_failure() {
    use tokio::io::AsyncReadExt;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (mut connection, _) = listener.accept().await.unwrap();
        let mut record_header = [0u8; 3];
        connection.read_exact(&mut record_header).await.unwrap();
        record_header
    });
    let config = ProviderConfig::new(
        WireFormat::OpenAiChat,
        format!("https://127.0.0.1:{port}/v1"),
    );
    let err = ask(config, "gpt-4o").await.unwrap_err();
    let record_header = server.await.unwrap();
    assert_eq!(record_header[0], 0x16, "a TLS handshake record");
    assert_eq!(record_header[1], 0x03, "TLS major version 3");
    assert!(
        err.to_string().starts_with(&format!(
            "fake/gpt-4o: cannot connect to https://127.0.0.1:{port}/v1/chat/completions"
        )),
        "{err}"
    );
}
