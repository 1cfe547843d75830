//! Decoding cost of streamed answers, the work done on every chunk a provider sends.
//!
//! `cargo bench -p codexos-llm` — a 2,000-token answer (plus one tool call) arriving in 1 KiB
//! network reads, per wire format. Decoding should stay far below the providers' own pace
//! (tens of ms per token), so well under 10 ms per answer.

use codexos_llm::testing::ScriptedReply;
use codexos_llm::wire::{self, WireFormat};
use serde_json::json;

fn main() {
    divan::main();
}

fn answer_body(format: WireFormat) -> Vec<u8> {
    let tokens: Vec<String> = (0..2000).map(|i| format!("tok{i} ")).collect();
    let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
    let reply = ScriptedReply::text(&tokens)
        .tool_call(
            "call_1",
            "write_file",
            json!({"path": "src/lib.rs", "content": "fn main() {}\n".repeat(50)}),
        )
        .usage(1200, 2000);
    let chunks = match format {
        WireFormat::OpenAiChat => reply.openai_chunks("bench"),
        WireFormat::AnthropicMessages => reply.anthropic_chunks("bench"),
        WireFormat::OllamaChat => reply.ollama_chunks("bench"),
    };
    chunks.concat()
}

#[divan::bench(args = [WireFormat::OpenAiChat, WireFormat::AnthropicMessages, WireFormat::OllamaChat])]
fn decode_a_2000_token_answer_in_1_kib_reads(bencher: divan::Bencher, format: WireFormat) {
    let body = answer_body(format);
    bencher.bench(|| {
        let mut decoder = wire::decoder(format);
        let mut events = 0;
        for read in divan::black_box(&body).chunks(1024) {
            events += decoder.push(read).map_or(0, |decoded| decoded.len());
        }
        events + decoder.finish().map_or(0, |decoded| decoded.len())
    });
}
