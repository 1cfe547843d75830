//! The router over real HTTP providers on loopback and an in-process provider in the `local`
//! slot.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use codexos_llm::config::LOCAL;
use codexos_llm::testing::{FakeProvider, FakeResponse, ScriptedReply};
use codexos_llm::{
    AttemptOutcome, CancellationToken, ChatRequest, ChatStream, FinishReason, LlmConfig, LlmError,
    Message, ModelRef, Provider, Role, StreamEvent, Usage, WireFormat,
};
use futures_util::{StreamExt, stream};
use serde_json::json;

/// An in-process provider standing in the `local` slot: it answers with the last user
/// message, one word per event, as the in-process model streams tokens.
struct EchoProvider;

impl Provider for EchoProvider {
    fn chat(&self, request: ChatRequest, cancel: CancellationToken) -> ChatStream {
        let target = ModelRef::new(LOCAL, &request.model);
        let prompt = request
            .messages
            .iter()
            .rev()
            .find(|message| message.role == Role::User)
            .map(|message| message.content.clone())
            .unwrap_or_default();
        let words: Vec<String> = prompt.split_inclusive(' ').map(str::to_owned).collect();
        let count = u32::try_from(words.len()).unwrap_or(u32::MAX);
        let events = words
            .into_iter()
            .map(StreamEvent::TextDelta)
            .chain([
                StreamEvent::Usage(Usage {
                    prompt_tokens: count,
                    completion_tokens: count,
                }),
                StreamEvent::Finished(FinishReason::Stop),
            ])
            .map(move |event| {
                if cancel.is_cancelled() {
                    Err(LlmError::Cancelled {
                        target: target.clone(),
                    })
                } else {
                    Ok(event)
                }
            });
        Box::pin(stream::iter(events))
    }
}

fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn seed_request() -> ChatRequest {
    let mut request = ChatRequest::new("gpt-4", vec![Message::user("plan the release")]);
    request.fallback_models = vec!["claude-3-opus".into()];
    request
}

#[tokio::test]
async fn with_no_keys_and_no_ollama_the_seed_models_fall_back_to_local_with_warnings() {
    let port = closed_port();
    let env = HashMap::from([
        ("OLLAMA_MODEL".to_owned(), "llama3".to_owned()),
        ("OLLAMA_HOST".to_owned(), format!("127.0.0.1:{port}")),
    ]);
    let mut router = codexos_llm::Router::new(&LlmConfig::from_env(&env));
    router.register(LOCAL, Arc::new(EchoProvider), None);

    let answer = router
        .chat(seed_request(), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(answer.answered_by, ModelRef::new("local", "default"));
    assert_eq!(answer.text, "plan the release");
    let [warning] = answer.warnings.as_slice() else {
        panic!(
            "one warning for the one substitution: {:#?}",
            answer.warnings
        );
    };
    let expected = format!(
        "local/default answered in place of `gpt-4`: \
         openai/gpt-4 skipped: no API key (set OPENAI_API_KEY); \
         anthropic/claude-3-opus skipped: no API key (set ANTHROPIC_API_KEY); \
         ollama/llama3: cannot connect to http://127.0.0.1:{port}/api/chat"
    );
    assert!(warning.starts_with(&expected), "{warning}");
}

#[tokio::test]
async fn a_fallback_the_request_named_answers_without_a_warning() {
    let env = HashMap::new();
    let mut router = codexos_llm::Router::new(&LlmConfig::from_env(&env));
    router.register(LOCAL, Arc::new(EchoProvider), None);
    let mut request = seed_request();
    request.fallback_models = vec!["claude-3-opus".into(), "local".into()];
    let answer = router
        .chat(request, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(answer.answered_by, ModelRef::new("local", "default"));
    assert_eq!(answer.warnings, Vec::<String>::new());
}

#[tokio::test]
async fn the_plan_shows_skipped_links_and_why_before_anything_runs() {
    let env = HashMap::from([("OPENAI_BASE_URL".to_owned(), "localhost:8000".to_owned())]);
    let router = codexos_llm::Router::new(&LlmConfig::from_env(&env));
    let plan = router.plan(&seed_request());
    let skips: Vec<Option<&str>> = plan.iter().map(|link| link.skip.as_deref()).collect();
    assert_eq!(
        skips,
        vec![
            Some(
                "provider `openai` is misconfigured: base URL `localhost:8000` is not http or https"
            ),
            Some("no API key (set ANTHROPIC_API_KEY)"),
            Some("no local model is registered"),
        ]
    );
}

/// A configuration with one provider per fake, `first` and `second`, both OpenAI-compatible.
fn two_providers(first: &FakeProvider, second: &FakeProvider) -> LlmConfig {
    LlmConfig {
        providers: BTreeMap::from([
            (
                "first".to_owned(),
                first.provider_config(WireFormat::OpenAiChat),
            ),
            (
                "second".to_owned(),
                second.provider_config(WireFormat::AnthropicMessages),
            ),
        ]),
        fallbacks: vec!["second/backup".to_owned()],
        default_provider: "first".to_owned(),
    }
}

#[tokio::test]
async fn a_provider_failing_before_its_first_token_hands_over_to_the_configured_fallback() {
    let overloaded = FakeResponse::json(503, &json!({"error": {"message": "overloaded"}}));
    let first = FakeProvider::scripted(vec![overloaded; 3]).await.unwrap();
    let second = FakeProvider::replying(ScriptedReply::text(&["from ", "backup"]))
        .await
        .unwrap();
    let router = codexos_llm::Router::new(&two_providers(&first, &second));

    let mut routed = router
        .stream(
            ChatRequest::new("first/main", vec![Message::user("hi")]),
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(routed.answered_by, ModelRef::new("second", "backup"));
    assert_eq!(routed.attempts.len(), 1);
    let AttemptOutcome::Failed(reason) = &routed.attempts[0].outcome else {
        panic!("expected a failed attempt, got {:?}", routed.attempts[0]);
    };
    assert!(
        reason.starts_with("first/main: HTTP 503 from")
            && reason.contains("after 2 retries: overloaded"),
        "{reason}"
    );
    assert_eq!(
        routed.next().await.unwrap().unwrap(),
        StreamEvent::TextDelta("from ".into())
    );
    let answer = routed.collect().await.unwrap();
    assert_eq!(answer.text, "backup");
    assert_eq!(first.requests().len(), 3);
    assert_eq!(second.requests()[0].model().as_deref(), Some("backup"));
}

#[tokio::test]
async fn when_no_model_answers_every_attempt_is_listed() {
    let unauthorized = FakeResponse::json(401, &json!({"error": {"message": "bad key"}}));
    let first = FakeProvider::scripted(vec![unauthorized.clone()])
        .await
        .unwrap();
    let second = FakeProvider::scripted(vec![unauthorized]).await.unwrap();
    let router = codexos_llm::Router::new(&two_providers(&first, &second));
    let err = router
        .chat(
            ChatRequest::new("main", vec![Message::user("hi")]),
            CancellationToken::new(),
        )
        .await
        .unwrap_err();
    let LlmError::NoModelAnswered { attempts } = &err else {
        panic!("expected NoModelAnswered, got {err:?}");
    };
    assert_eq!(attempts.len(), 3);
    let message = err.to_string();
    let lines: Vec<&str> = message.lines().collect();
    assert_eq!(lines[0], "no model in the chain could answer:");
    assert!(
        lines[1].starts_with("  - first/main: HTTP 401 from ") && lines[1].ends_with(": bad key"),
        "{message}"
    );
    assert!(
        lines[2].starts_with("  - second/backup: HTTP 401 from ")
            && lines[2].ends_with(": bad key"),
        "{message}"
    );
    assert_eq!(
        lines[3],
        "  - local/default skipped: no local model is registered"
    );
}

#[tokio::test]
async fn an_error_after_the_first_token_ends_the_answer_instead_of_switching_models() {
    let garbage = FakeResponse::reply(
        WireFormat::OpenAiChat,
        &ScriptedReply::text(&["partial ", "answer"]),
        "main",
    )
    .replace_after(2, b"<html>oops</html>\n");
    let first = FakeProvider::scripted(vec![garbage]).await.unwrap();
    let second = FakeProvider::replying(ScriptedReply::text(&["unused"]))
        .await
        .unwrap();
    let router = codexos_llm::Router::new(&two_providers(&first, &second));
    let routed = router
        .stream(
            ChatRequest::new("main", vec![Message::user("hi")]),
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(routed.answered_by, ModelRef::new("first", "main"));
    let err = routed.collect().await.unwrap_err();
    assert!(
        err.to_string()
            .ends_with("line 5 is not an event-stream line: `<html>oops</html>`"),
        "{err}"
    );
    assert!(second.requests().is_empty());
}

#[tokio::test]
async fn cancelling_while_waiting_for_the_first_token_stops_the_whole_chain() {
    let first = FakeProvider::scripted(vec![FakeResponse::silent()])
        .await
        .unwrap();
    let second = FakeProvider::replying(ScriptedReply::text(&["unused"]))
        .await
        .unwrap();
    let router = codexos_llm::Router::new(&two_providers(&first, &second));
    let cancel = CancellationToken::new();
    let cancelling = cancel.clone();
    let started = first.wait_for(Duration::from_secs(5), |exchanges| !exchanges.is_empty());
    let request = ChatRequest::new("main", vec![Message::user("hi")]);
    let (result, ()) = tokio::join!(router.stream(request, cancel), async {
        started.await;
        cancelling.cancel();
    });
    let err = result.err().unwrap();
    assert_eq!(err.to_string(), "first/main: cancelled");
    assert!(
        first
            .wait_for_client_to_close_early(Duration::from_secs(5))
            .await
    );
    assert!(second.requests().is_empty());
}
