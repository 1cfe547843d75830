//! Workspace-aware chat in the editor: `codexos.chat` through the real `codexos lsp` over stdio,
//! against the fake LLM provider on loopback, in a workspace the server indexes itself. The
//! answer streams token by token (`$/progress` reports and `codexos/runEvent` `token` events)
//! and comes back with the model that wrote it and the workspace code it was given.

use std::path::Path;

use codexos_llm::testing::{FakeProvider, ScriptedReply};
use codexos_test_support::{AgentWorkspace, LspClient};
use serde_json::json;

const FILES: &[(&str, &str)] = &[
    ("codexos.toml", "[index]\nembedder = \"builtin\"\n"),
    (
        "src/payment.rs",
        "/// Retries a failed payment with exponential backoff.\npub fn retry_payment(attempts: u32) -> bool {\n    attempts < 3\n}\n",
    ),
    (
        "src/invoice.py",
        "def invoice_total(lines, tax_rate):\n    \"\"\"Sum the invoice lines and add tax.\"\"\"\n    return sum(lines) * (1 + tax_rate)\n",
    ),
    ("README.md", "# Shop\n\nPayments and invoices.\n"),
];

fn start(workspace: &AgentWorkspace, fake: &FakeProvider) -> LspClient {
    let mut client = workspace.start(
        Path::new(env!("CARGO_BIN_EXE_codexos")),
        &fake.url(),
        AgentWorkspace::editor_capabilities(),
    );
    client.wait_for_notification("codexos/status", |params| params["state"] == "ready");
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_streams_its_answer_and_returns_it_with_the_indexed_code_it_used() {
    let fake = FakeProvider::replying(ScriptedReply::text(&[
        "Payments are ",
        "retried up to ",
        "three times by retry_payment.",
    ]))
    .await
    .expect("fake provider");
    let workspace = AgentWorkspace::new(FILES);
    let mut client = start(&workspace, &fake);

    let answer = client.execute(
        "codexos.chat",
        json!({ "messages": [{ "role": "user", "content": "How often is a failed payment retried?" }] }),
    )
    .expect("codexos.chat answers");

    assert_eq!(
        answer["answer"],
        "Payments are retried up to three times by retry_payment."
    );
    assert!(
        answer["model"]
            .as_str()
            .is_some_and(|model| model.ends_with("gpt-4o-mini")),
        "the model that answered: {answer}"
    );
    let first = &answer["sources"][0];
    assert_eq!(first["path"], "src/payment.rs", "sources: {answer}");
    assert_eq!(first["symbol"], "payment::retry_payment");
    assert_eq!(first["start_line"], 1);
    assert!(first["end_line"].as_u64().is_some_and(|end| end >= 3));

    let streamed: String = client
        .take_notifications("codexos/runEvent")
        .iter()
        .filter(|event| event["kind"] == "token")
        .map(|event| event["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        streamed.trim(),
        "Payments are retried up to three times by retry_payment."
    );
    let reports: String = client
        .take_notifications("$/progress")
        .iter()
        .filter(|params| params["value"]["kind"] == "report")
        .map(|params| {
            params["value"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert!(
        reports.contains("retried up to"),
        "tokens stream as $/progress reports: {reports}"
    );

    let prompt = String::from_utf8_lossy(&fake.requests()[0].body).into_owned();
    assert!(
        prompt.contains("pub fn retry_payment(attempts: u32)"),
        "the indexed code reached the prompt: {prompt}"
    );
    assert!(prompt.contains("How often is a failed payment retried?"));
    assert!(client.shutdown_and_exit().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_up_question_carries_the_conversation_and_the_model_asked_for() {
    let fake = FakeProvider::replying(ScriptedReply::text(&["It adds tax."]))
        .await
        .expect("fake provider");
    let workspace = AgentWorkspace::new(FILES);
    let mut client = start(&workspace, &fake);

    let answer = client
        .execute(
            "codexos.chat",
            json!({
                "messages": [
                    { "role": "user", "content": "Where are invoices summed?" },
                    { "role": "assistant", "content": "In invoice_total, in src/invoice.py." },
                    { "role": "user", "content": "What does it do with tax_rate?" }
                ],
                "model": "gpt-4.1-mini"
            }),
        )
        .expect("codexos.chat answers");
    assert_eq!(answer["answer"], "It adds tax.");
    assert!(
        answer["model"]
            .as_str()
            .is_some_and(|model| model.ends_with("gpt-4.1-mini")),
        "{answer}"
    );
    assert_eq!(answer["sources"][0]["path"], "src/invoice.py", "{answer}");

    let request = fake.requests()[0].json().expect("a JSON request");
    assert_eq!(request["model"], "gpt-4.1-mini");
    let prompt = request["messages"].to_string();
    assert!(
        prompt.contains("Assistant: In invoice_total, in src/invoice.py."),
        "the conversation so far reached the prompt: {prompt}"
    );
    assert!(prompt.contains("What does it do with tax_rate?"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_without_a_question_or_with_a_failing_model_is_a_clear_error() {
    let fake = FakeProvider::replying(ScriptedReply::text(&["unused"]))
        .await
        .expect("fake provider");
    let workspace = AgentWorkspace::new(FILES);
    let mut client = start(&workspace, &fake);

    let error = client
        .execute(
            "codexos.chat",
            json!({ "messages": [{ "role": "assistant", "content": "Hello!" }] }),
        )
        .expect_err("no question");
    assert_eq!(
        error,
        "-32602 codexos.chat: `messages` has no user message to answer"
    );

    // A model name the router sends to Ollama, which does not run here: no provider answers.
    let error = client
        .execute(
            "codexos.chat",
            json!({ "messages": [{ "role": "user", "content": "hi" }], "model": "ollama/none" }),
        )
        .expect_err("no model answers");
    assert!(
        error.starts_with("-32003 codexos.chat: the `chat` run ")
            && error.contains(" failed: node `answer`: "),
        "{error}"
    );
    assert!(fake.requests().is_empty(), "the fake was never asked");
}
