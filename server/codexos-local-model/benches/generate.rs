//! Tokens per second of the local model on this machine's CPU (`cargo bench -p codexos-local-model`):
//! prompt processing and generation apart, since a `rag` prompt is long and an answer is short.

use std::path::PathBuf;

use codexos_llm::Message;
use codexos_local_model::{DEFAULT_MODEL_FILE, GenerationParams, LocalModel};

fn main() {
    // SAFETY: the first thing main does; no other thread exists yet.
    unsafe { codexos_local_model::configure_compute_threads() };
    divan::main();
}

fn model() -> Option<LocalModel> {
    let dir = std::env::var_os("CODEXOS_MODELS_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share/codexos/models"))
        })?;
    LocalModel::load(&dir.join(DEFAULT_MODEL_FILE)).ok()
}

/// Loading the file and converting its weights to the fast format.
#[divan::bench(sample_count = 3)]
fn load(bencher: divan::Bencher) {
    if model().is_none() {
        eprintln!("no local model: run `codexos models install`");
        return;
    }
    bencher.bench_local(model);
}

/// A prompt of about 330 tokens and one new token: divide the prompt's tokens by the median
/// time for prompt tokens/s.
#[divan::bench(sample_count = 3)]
fn process_a_330_token_prompt(bencher: divan::Bencher) {
    let Some(mut model) = model() else {
        eprintln!("no local model: run `codexos models install`");
        return;
    };
    let messages = [Message::user(
        "The quick brown fox jumps over the lazy dog. ".repeat(30),
    )];
    let params = GenerationParams {
        max_tokens: 1,
        ..GenerationParams::default()
    };
    bencher.bench_local(|| {
        let generation = model
            .generate(&messages, &params, |_| true)
            .expect("generation succeeds");
        assert_eq!(generation.prompt_tokens, 331, "the prompt's length");
    });
}

/// 64 new tokens after a short prompt: divide 64 by the median time for tokens/s.
#[divan::bench(sample_count = 5)]
fn generate_64_tokens(bencher: divan::Bencher) {
    let Some(mut model) = model() else {
        eprintln!("no local model: run `codexos models install`");
        return;
    };
    let messages = [Message::user(
        "Write a short story about a robot learning to paint.",
    )];
    let params = GenerationParams {
        max_tokens: 64,
        ..GenerationParams::default()
    };
    bencher.bench_local(|| {
        let generation = model
            .generate(&messages, &params, |_| true)
            .expect("generation succeeds");
        assert_eq!(
            generation.completion_tokens, 64,
            "the answer ran to the token limit"
        );
    });
}
