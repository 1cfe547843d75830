//! Inline agent actions through the real `codexos lsp` over stdio, against the fake LLM provider
//! on loopback: the actions are offered as code actions on a selection (the fix only with a
//! diagnostic), each runs its built-in flow (or the workspace's own), and edits arrive as one
//! `workspace/applyEdit` — never as a write to disk. `write_file` in a run from the editor
//! becomes an edit too.

use std::path::Path;

use codexos_llm::testing::{FakeProvider, ScriptedReply};
use codexos_test_support::{AgentWorkspace, LspClient};
use serde_json::{Value, json};

const LIB: &str = "pub fn add(a: i32, b: i32) -> i32 {
    return a + b;
}

pub fn twice(x: i32) -> i32 {
    add(x, x)
}
";

const FILES: &[(&str, &str)] = &[
    ("codexos.toml", "[index]\nembedder = \"builtin\"\n"),
    ("src/lib.rs", LIB),
];

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_codexos"))
}

/// The server on `workspace`, its index ready, `src/lib.rs` open at version 1.
fn start(workspace: &AgentWorkspace, fake: &FakeProvider) -> LspClient {
    start_with(workspace, fake, AgentWorkspace::editor_capabilities())
}

fn start_with(workspace: &AgentWorkspace, fake: &FakeProvider, capabilities: Value) -> LspClient {
    let mut client = workspace.start(binary(), &fake.url(), capabilities);
    client.wait_for_notification("codexos/status", |params| params["state"] == "ready");
    client.notify(
        "textDocument/didOpen",
        json!({ "textDocument": {
            "uri": workspace.uri("src/lib.rs"), "languageId": "rust", "version": 1, "text": LIB
        } }),
    );
    client
}

fn range(start: (u32, u32), end: (u32, u32)) -> Value {
    json!({
        "start": { "line": start.0, "character": start.1 },
        "end": { "line": end.0, "character": end.1 }
    })
}

/// Every `workspace/applyEdit` the server sent, as its params.
fn apply_edits(client: &LspClient) -> Vec<Value> {
    client
        .server_requests
        .iter()
        .filter(|request| request["method"] == "workspace/applyEdit")
        .map(|request| request["params"].clone())
        .collect()
}

fn titles(actions: &Value) -> Vec<String> {
    actions
        .as_array()
        .map(|actions| {
            actions
                .iter()
                .map(|action| action["title"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_actions_are_offered_on_a_selection_and_the_fix_only_with_a_diagnostic() {
    let fake = FakeProvider::replying(ScriptedReply::text(&["unused"]))
        .await
        .expect("fake provider");
    let workspace = AgentWorkspace::new(FILES);
    let mut client = start(&workspace, &fake);
    let uri = workspace.uri("src/lib.rs");
    let mut code_actions = |range: Value, diagnostics: Value| {
        client
            .request(
                "textDocument/codeAction",
                json!({
                    "textDocument": { "uri": uri },
                    "range": range,
                    "context": { "diagnostics": diagnostics }
                }),
            )
            .expect("code actions")
    };

    let selection = code_actions(range((0, 0), (3, 0)), json!([]));
    assert_eq!(titles(&selection), ["Explain", "Refactor…", "Write tests"]);
    assert_eq!(
        selection[1]["command"]["command"],
        "codexos.action.refactor"
    );
    assert_eq!(
        selection[1]["command"]["arguments"][0]["range"],
        range((0, 0), (3, 0))
    );

    let cursor = code_actions(range((1, 5), (1, 5)), json!([]));
    assert_eq!(cursor, Value::Null, "nothing to offer on a bare cursor");

    let diagnostic = json!({
        "range": range((1, 11), (1, 16)),
        "message": "needless `return`",
        "source": "clippy"
    });
    let on_diagnostic = code_actions(range((1, 5), (1, 5)), json!([diagnostic]));
    assert_eq!(titles(&on_diagnostic), ["Fix this diagnostic"]);
    let fix = &on_diagnostic[0]["command"];
    assert_eq!(fix["command"], "codexos.action.fix");
    assert_eq!(
        fix["arguments"][0]["diagnostic"]["message"],
        "needless `return`"
    );
    assert!(fake.requests().is_empty(), "offering runs no model");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refactor_sends_exactly_the_expected_edit_and_leaves_the_file_on_disk_alone() {
    let fake = FakeProvider::replying(ScriptedReply::text(&[
        "Sure, without the `return`:\n\n```rust\npub fn add(a: i32, b: i32) -> i32 {\n",
        "    a + b\n}\n```\n",
        "It reads better.",
    ]))
    .await
    .expect("fake provider");
    let workspace = AgentWorkspace::new(FILES);
    let mut client = start(&workspace, &fake);
    let uri = workspace.uri("src/lib.rs");

    let answer = client
        .execute(
            "codexos.action.refactor",
            json!({ "uri": uri, "range": range((0, 0), (3, 0)), "instruction": "drop the return" }),
        )
        .expect("the refactor runs");
    assert!(
        answer["answer"]
            .as_str()
            .is_some_and(|text| text.starts_with("Sure, without the `return`:")),
        "{answer}"
    );
    assert_eq!(answer["applied"], true);

    assert_eq!(
        apply_edits(&client),
        vec![json!({
            "label": "CodexOS: Refactor…",
            "edit": { "documentChanges": [{
                "textDocument": { "uri": uri, "version": 1 },
                "edits": [{
                    "range": range((0, 0), (3, 0)),
                    "newText": "pub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n"
                }]
            }] }
        })]
    );
    assert_eq!(
        workspace.read("src/lib.rs").as_deref(),
        Some(LIB),
        "the server never writes the file"
    );
    let prompt = fake.requests()[0].json().expect("a JSON request")["messages"].to_string();
    assert!(prompt.contains("Instruction: drop the return"), "{prompt}");
    assert!(
        prompt.contains("File: src/lib.rs (rust), lines 1-3"),
        "{prompt}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_garbage_answer_is_a_clear_error_and_no_edit() {
    let fake = FakeProvider::replying(ScriptedReply::text(&["I think ", "the code is fine."]))
        .await
        .expect("fake provider");
    let workspace = AgentWorkspace::new(FILES);
    let mut client = start(&workspace, &fake);

    let error = client
        .execute(
            "codexos.action.refactor",
            json!({ "uri": workspace.uri("src/lib.rs"), "range": range((0, 0), (3, 0)) }),
        )
        .expect_err("no code to apply");
    assert_eq!(
        error,
        format!(
            "-32003 codexos.action.refactor: refactor on {}: the model's answer has no fenced code block (```), so there is nothing to apply",
            workspace.root().join("src/lib.rs").display()
        )
    );
    assert_eq!(apply_edits(&client), Vec::<Value>::new());
    assert_eq!(workspace.read("src/lib.rs").as_deref(), Some(LIB));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fix_rewrites_the_lines_of_its_diagnostic_and_tests_go_where_the_language_keeps_them() {
    let fake = FakeProvider::start(|request| {
        let body = String::from_utf8_lossy(&request.body).into_owned();
        let reply = if body.contains("Problem: needless `return`") {
            "```rust\na + b\n```"
        } else {
            "```rust\n#[test]\nfn adds() {\n    assert_eq!(add(2, 3), 5);\n}\n```"
        };
        let model = request.model().unwrap_or_default();
        codexos_llm::testing::FakeResponse::reply(
            codexos_llm::WireFormat::OpenAiChat,
            &ScriptedReply::text(&[reply]),
            &model,
        )
    })
    .await
    .expect("fake provider");
    let workspace = AgentWorkspace::new(FILES);
    let mut client = start(&workspace, &fake);
    let uri = workspace.uri("src/lib.rs");

    client
        .execute(
            "codexos.action.fix",
            json!({
                "uri": uri,
                "range": range((1, 11), (1, 16)),
                "diagnostic": { "range": range((1, 11), (1, 16)), "message": "needless `return`" }
            }),
        )
        .expect("the fix runs");
    client
        .execute(
            "codexos.action.tests",
            json!({ "uri": uri, "range": range((0, 0), (3, 0)) }),
        )
        .expect("write tests runs");

    let edits = apply_edits(&client);
    assert_eq!(edits.len(), 2, "{edits:?}");
    assert_eq!(
        edits[0]["edit"]["documentChanges"][0]["edits"],
        json!([{ "range": range((1, 0), (2, 0)), "newText": "    a + b\n" }])
    );
    assert_eq!(
        edits[1]["edit"]["documentChanges"][0]["edits"],
        json!([{
            "range": range((7, 0), (7, 0)),
            "newText": "\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn adds() {\n        assert_eq!(add(2, 3), 5);\n    }\n}\n"
        }])
    );
    assert_eq!(workspace.read("src/lib.rs").as_deref(), Some(LIB));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_flow_overrides_the_built_in_one() {
    let fake = FakeProvider::replying(ScriptedReply::text(&["Arr, it adds two numbers."]))
        .await
        .expect("fake provider");
    let workspace = AgentWorkspace::new(FILES);
    workspace.write(
        "flows/builtin/explain.flow.json",
        r#"{
  "id": "explain-like-a-pirate",
  "nodes": [
    { "id": "in", "type": "entry", "next": "pirate" },
    { "id": "pirate", "type": "llm", "model": "gpt-4o-mini", "prompt": "Explain like a pirate:\n{{input}}", "next": "out" },
    { "id": "out", "type": "exit" }
  ]
}"#,
    );
    let mut client = start(&workspace, &fake);

    let answer = client
        .execute(
            "codexos.action.explain",
            json!({ "uri": workspace.uri("src/lib.rs"), "range": range((4, 0), (6, 1)) }),
        )
        .expect("explain runs");
    assert_eq!(answer["answer"], "Arr, it adds two numbers.");
    let prompt = fake.requests()[0].json().expect("a JSON request")["messages"].to_string();
    assert!(prompt.contains("Explain like a pirate:"), "{prompt}");
    assert!(
        prompt.contains("add(x, x)"),
        "the selection reached the prompt: {prompt}"
    );
    assert_eq!(
        apply_edits(&client),
        Vec::<Value>::new(),
        "explain never edits"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_file_in_a_run_from_the_editor_becomes_an_edit_instead_of_a_write() {
    let fake = FakeProvider::replying(ScriptedReply::text(&["unused"]))
        .await
        .expect("fake provider");
    let workspace = AgentWorkspace::new(FILES);
    let mut client = start(&workspace, &fake);
    let flow = json!({
        "id": "writer",
        "nodes": [
            { "id": "start", "type": "entry", "next": "todo" },
            { "id": "todo", "type": "tool", "tool": "write_file",
              "args": { "path": "notes/todo.md", "content": "- ship it\n" }, "next": "lib" },
            { "id": "lib", "type": "tool", "tool": "write_file",
              "args": { "path": "src/lib.rs", "content": "pub fn one() -> i32 { 1 }\n" }, "next": "end" },
            { "id": "end", "type": "exit" }
        ]
    });

    let run = client
        .execute("codexos.agent.run", json!({ "flow": flow, "input": "" }))
        .expect("the run answers");
    assert_eq!(run["status"], "succeeded", "{run}");

    let todo = workspace.uri("notes/todo.md");
    let lib = workspace.uri("src/lib.rs");
    assert_eq!(
        apply_edits(&client),
        vec![
            json!({
                "label": format!("write_file {}", workspace.root().join("notes/todo.md").display()),
                "edit": { "documentChanges": [
                    { "kind": "create", "uri": todo, "options": { "overwrite": false, "ignoreIfExists": false } },
                    { "textDocument": { "uri": todo, "version": null },
                      "edits": [{ "range": range((0, 0), (0, 0)), "newText": "- ship it\n" }] }
                ] }
            }),
            json!({
                "label": format!("write_file {}", workspace.root().join("src/lib.rs").display()),
                "edit": { "documentChanges": [
                    { "textDocument": { "uri": lib, "version": 1 },
                      "edits": [{ "range": range((0, 0), (7, 0)), "newText": "pub fn one() -> i32 { 1 }\n" }] }
                ] }
            }),
        ]
    );
    assert!(
        !workspace.root().join("notes/todo.md").exists(),
        "nothing was written to disk"
    );
    assert_eq!(workspace.read("src/lib.rs").as_deref(), Some(LIB));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_editor_that_shows_annotated_edits_is_asked_to_confirm_the_agents_edit() {
    let fake = FakeProvider::replying(ScriptedReply::text(&["```rust\nfn add() {}\n```"]))
        .await
        .expect("fake provider");
    let workspace = AgentWorkspace::new(FILES);
    let mut capabilities = AgentWorkspace::editor_capabilities();
    capabilities["workspace"]["workspaceEdit"]["changeAnnotationSupport"] =
        json!({ "groupsOnLabel": true });
    let mut client = start_with(&workspace, &fake, capabilities);

    client
        .execute(
            "codexos.action.refactor",
            json!({ "uri": workspace.uri("src/lib.rs"), "range": range((0, 0), (3, 0)) }),
        )
        .expect("the refactor runs");
    let edits = apply_edits(&client);
    let edit = &edits[0]["edit"];
    assert_eq!(
        edit["changeAnnotations"],
        json!({ "codexos": {
            "label": "CodexOS: Refactor…",
            "needsConfirmation": true,
            "description": "proposed by a CodexOS agent"
        } })
    );
    assert_eq!(
        edit["documentChanges"][0]["edits"][0],
        json!({ "range": range((0, 0), (3, 0)), "newText": "fn add() {}\n", "annotationId": "codexos" })
    );
}
