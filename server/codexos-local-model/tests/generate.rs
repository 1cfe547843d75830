//! The real SmolLM2-135M-Instruct file (fetched by scripts/fetch-models): its tokenizer rebuilt
//! from the GGUF metadata, a greedy answer, streaming and cancellation through the provider.

use std::path::PathBuf;

use codexos_llm::{CancellationToken, ChatRequest, Message, Provider, StreamEvent};
use codexos_local_model::{DEFAULT_MODEL_FILE, GenerationParams, LocalModel, LocalProvider};
use futures_util::StreamExt;

fn model_path() -> Option<PathBuf> {
    let dir = std::env::var_os("CODEXOS_MODELS_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share/codexos/models"))
        })?;
    let path = dir.join(DEFAULT_MODEL_FILE);
    if path.is_file() {
        return Some(path);
    }
    let in_ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    assert!(
        !in_ci,
        "{} is missing: CI must run scripts/fetch-models",
        path.display()
    );
    eprintln!(
        "skipped outside CI: no {} (run scripts/fetch-models)",
        path.display()
    );
    None
}

#[test]
fn the_tokenizer_from_gguf_metadata_round_trips_text_and_keeps_control_tokens_whole() {
    let Some(path) = model_path() else { return };
    let model = LocalModel::load(&path).expect("the model loads");
    let text = "fn main() { println!(\"héllo 42\"); }";
    let ids = model.encode(text).unwrap();
    assert_eq!(model.decode(&ids).unwrap(), text);
    assert_eq!(
        model.encode("<|im_start|>user").unwrap()[0],
        1,
        "<|im_start|> is one token"
    );
    let digits = model.encode("2024").unwrap();
    assert_eq!(
        digits.len(),
        4,
        "digits are split one by one like SmolLM's own tokenizer"
    );
}

#[test]
fn a_greedy_answer_names_the_capital_of_france() {
    let Some(path) = model_path() else { return };
    let mut model = LocalModel::load(&path).expect("the model loads");
    let mut pieces = Vec::new();
    let generation = model
        .generate(
            &[Message::user(
                "What is the capital of France? Answer in one word.",
            )],
            &GenerationParams {
                max_tokens: 12,
                ..GenerationParams::default()
            },
            |text| {
                pieces.push(text.to_owned());
                true
            },
        )
        .expect("generation succeeds");
    assert!(
        generation.text.contains("Paris"),
        "answer: {:?}",
        generation.text
    );
    assert_eq!(
        pieces.concat(),
        generation.text,
        "streamed pieces add up to the answer"
    );
    assert!(generation.completion_tokens <= 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provider_streams_text_then_usage_and_stops_when_cancelled() {
    let Some(path) = model_path() else { return };
    let provider = LocalProvider::new(path);
    let mut request = ChatRequest::new("default", vec![Message::user("Count from one to twenty.")]);
    request.max_tokens = Some(24);
    let mut stream = provider.chat(request.clone(), CancellationToken::new());
    let mut text = String::new();
    let mut usage = None;
    while let Some(event) = stream.next().await {
        match event.expect("no error") {
            StreamEvent::TextDelta(t) => text.push_str(&t),
            StreamEvent::Usage(u) => usage = Some(u),
            _ => {}
        }
    }
    assert!(!text.is_empty());
    assert!(usage.is_some_and(|u| u.completion_tokens > 0 && u.prompt_tokens > 0));

    let cancel = CancellationToken::new();
    request.max_tokens = Some(200);
    let mut stream = provider.chat(request, cancel.clone());
    let status = stream.next().await.expect("an event").expect("no error");
    assert_eq!(
        status,
        StreamEvent::Status("the local model is reading the prompt…".to_owned()),
        "the model, loaded by the first request, says what it does before its first word"
    );
    let first = stream.next().await.expect("an event").expect("no error");
    assert!(matches!(first, StreamEvent::TextDelta(_)));
    cancel.cancel();
    let mut last = None;
    while let Some(event) = stream.next().await {
        last = Some(event);
    }
    assert!(
        matches!(last, Some(Err(codexos_llm::LlmError::Cancelled { .. }))),
        "a cancelled stream ends with Cancelled: {last:?}"
    );
}

#[test]
fn a_missing_or_broken_file_is_a_clear_error_naming_it() {
    let missing = LocalModel::load(std::path::Path::new("/nonexistent/model.gguf"))
        .err()
        .unwrap();
    assert!(
        missing.to_string().contains("/nonexistent/model.gguf"),
        "{missing}"
    );
    let dir = std::env::temp_dir().join(format!("codexos-local-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let garbage = dir.join("garbage.gguf");
    std::fs::write(&garbage, b"not a gguf file at all").unwrap();
    let error = LocalModel::load(&garbage).err().unwrap();
    assert!(
        error.to_string().contains("garbage.gguf")
            && error.to_string().contains("not a usable GGUF"),
        "{error}"
    );
}
