//! `codexos mcp` answers a real MCP client: rmcp's client spawns the real binary over stdio.

use std::path::Path;

use expect_test::expect;
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::TokioChildProcess;
use serde_json::{Value, json};

const GOOD: &str = r#"{
  "id": "greeter",
  "name": "Greeter",
  "nodes": [
    { "id": "start", "type": "entry", "next": "end" },
    { "id": "end", "type": "exit", "output": "hello {{input}}" }
  ]
}
"#;

const BROKEN: &str = r#"{
  "id": "broken",
  "nodes": [
    { "id": "start", "type": "entry", "next": "planer" },
    { "id": "planner", "type": "llm", "model": "gpt-4", "next": "end" },
    { "id": "end", "type": "exit" }
  ]
}
"#;

fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let write = |relative: &str, text: &str| {
        let path = dir.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("codexos.toml", "");
    write("flows/greeter.flow.json", GOOD);
    write("flows/broken.flow.json", BROKEN);
    dir
}

async fn connect(root: &Path) -> RunningService<RoleClient, ()> {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_codexos"));
    // The runner looks for a vault and models under HOME: keep it inside the test's folder.
    command
        .arg("mcp")
        .current_dir(root)
        .env("HOME", root)
        .env("CODEXOS_MODELS_DIR", root.join("models"))
        .env_remove("VAULT_MASTER_KEY");
    ().serve(TokioChildProcess::new(command).unwrap())
        .await
        .unwrap()
}

async fn call(client: &RunningService<RoleClient, ()>, name: &str, args: Value) -> CallToolResult {
    let Value::Object(args) = args else {
        unreachable!("arguments are objects")
    };
    client
        .call_tool(CallToolRequestParams::new(name.to_owned()).with_arguments(args))
        .await
        .unwrap()
}

fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|block| match block {
            ContentBlock::Text(text) => Some(text.text.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn codexos_mcp_lists_its_tools_to_an_mcp_client() {
    let root = workspace();
    let client = connect(root.path()).await;
    let info = client.peer_info().unwrap();
    assert_eq!(
        info.server_info.as_ref().map(|server| server.name.as_str()),
        Some("codexos")
    );
    let tools = client.list_all_tools().await.unwrap();
    let names: Vec<String> = tools.iter().map(|tool| tool.name.to_string()).collect();
    assert_eq!(
        names,
        ["list_flows", "check_flow", "search_workspace", "run_flow"]
    );
    // Each tool says what it can do: all but `run_flow` only read; a flow can do what its
    // tools can (each step under the workspace's policy).
    let hints: Vec<(String, Option<bool>, Option<bool>)> = tools
        .iter()
        .map(|tool| {
            let hints = tool.annotations.clone().unwrap_or_default();
            (
                tool.name.to_string(),
                hints.read_only_hint,
                hints.open_world_hint,
            )
        })
        .collect();
    assert_eq!(
        hints,
        [
            ("list_flows".to_owned(), Some(true), Some(false)),
            ("check_flow".to_owned(), Some(true), Some(false)),
            ("search_workspace".to_owned(), Some(true), Some(false)),
            ("run_flow".to_owned(), Some(false), Some(true)),
        ]
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn list_flows_and_check_flow_answer_over_mcp() {
    let root = workspace();
    let client = connect(root.path()).await;
    let flows = call(&client, "list_flows", json!({})).await;
    expect![[r#"
        flows/broken.flow.json (broken): 1 error(s), 2 warning(s)
        flows/greeter.flow.json (greeter — Greeter): 0 error(s), 0 warning(s)"#]]
    .assert_eq(&text(&flows));

    let saved = call(
        &client,
        "check_flow",
        json!({ "path": "flows/broken.flow.json" }),
    )
    .await;
    expect![[r#"
        flows/broken.flow.json:4:47: error[unknown-node]: `next` names `planer`, but no node has that id: did you mean `planner`?
        flows/broken.flow.json:5:13: warning[unreachable-node]: node `planner` is never reached from the entry
        flows/broken.flow.json:6:13: warning[unreachable-node]: node `end` is never reached from the entry
        flows/broken.flow.json: 1 error(s), 2 warning(s)"#]]
    .assert_eq(&text(&saved));
    assert_eq!(saved.structured_content.unwrap()["errors"], 1);

    let draft = call(
        &client,
        "check_flow",
        json!({ "text": "{ \"id\": \"x\", \"nodes\": [" }),
    )
    .await;
    assert!(text(&draft).starts_with("<text>:1:"), "{}", text(&draft));
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn bad_arguments_and_escaping_paths_come_back_as_tool_errors_naming_the_field() {
    let root = workspace();
    let client = connect(root.path()).await;
    let misspelt = call(
        &client,
        "check_flow",
        json!({ "pth": "flows/broken.flow.json" }),
    )
    .await;
    assert_eq!(misspelt.is_error, Some(true));
    expect![[r#"check_flow: invalid arguments: Additional properties are not allowed ('pth' was unexpected); {"pth":"flows/broken.flow.json"} is not valid under any of the schemas listed in the 'anyOf' keyword"#]]
        .assert_eq(&text(&misspelt));
    let escaping = call(
        &client,
        "check_flow",
        json!({ "path": "../outside.flow.json" }),
    )
    .await;
    expect!["check_flow: `../outside.flow.json` is outside the workspace: `..` is not allowed"]
        .assert_eq(&text(&escaping));
    let unknown = client
        .call_tool(CallToolRequestParams::new("run_flw"))
        .await
        .unwrap_err();
    assert!(
        unknown.to_string().contains("unknown tool `run_flw`"),
        "{unknown}"
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn run_flow_runs_a_flow_and_records_it() {
    let root = workspace();
    let client = connect(root.path()).await;
    let result = call(
        &client,
        "run_flow",
        json!({ "path": "flows/greeter.flow.json", "input": "world" }),
    )
    .await;
    assert_ne!(result.is_error, Some(true), "{}", text(&result));
    assert_eq!(text(&result), "hello world");
    let run = result.structured_content.unwrap();
    assert_eq!(run["status"], "succeeded");
    let run_id = run["run_id"].as_str().unwrap();
    assert!(
        root.path()
            .join(format!(".codexos/runs/{run_id}.jsonl"))
            .is_file()
    );

    let broken = call(
        &client,
        "run_flow",
        json!({ "path": "flows/broken.flow.json" }),
    )
    .await;
    assert_eq!(broken.is_error, Some(true));
    assert!(
        text(&broken).starts_with("run_flow: ")
            && text(&broken).contains("has errors, so nothing ran"),
        "{}",
        text(&broken)
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn search_workspace_before_indexing_says_how_to_build_the_index() {
    let root = workspace();
    let client = connect(root.path()).await;
    let result = call(&client, "search_workspace", json!({ "query": "greeter" })).await;
    assert_eq!(result.is_error, Some(true));
    expect!["search_workspace: index not built: run `codexos index`"].assert_eq(&text(&result));
    client.cancel().await.unwrap();
}

/// `codexos.toml` naming one MCP server, `inner`: `codexos mcp` itself serving `served`.
fn inner_server(served: &Path) -> String {
    format!(
        "[[mcp.servers]]\nname = \"inner\"\ncommand = {:?}\nargs = [\"mcp\", \"--root\", {:?}]\n",
        env!("CARGO_BIN_EXE_codexos"),
        served.display().to_string()
    )
}

/// The binary in `root`, with `root` as its home (its own trust store) and no local models.
fn codexos_in(root: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_codexos"))
        .args(args)
        .current_dir(root)
        .env("HOME", root)
        .env_remove("XDG_CONFIG_HOME")
        .env("CODEXOS_MODELS_DIR", root.join("models"))
        .env_remove("VAULT_MASTER_KEY")
        .output()
        .unwrap()
}

#[test]
fn a_flow_calls_a_tool_of_an_mcp_server_listed_in_codexos_toml() {
    // The MCP server is `codexos mcp` itself, serving a second workspace: a real stdio server.
    let served = workspace();
    let root = tempfile::tempdir().unwrap();
    std::fs::write(
        root.path().join("codexos.toml"),
        inner_server(served.path()),
    )
    .unwrap();
    std::fs::write(
        root.path().join("uses_mcp.flow.json"),
        r#"{
  "id": "uses-mcp",
  "nodes": [
    { "id": "start", "type": "entry", "next": "list" },
    { "id": "list", "type": "tool", "tool": "inner.list_flows", "args": {}, "next": "end" },
    { "id": "end", "type": "exit", "output": "{{nodes.list.output}}" }
  ]
}
"#,
    )
    .unwrap();
    let codexos = |args: &[&str]| codexos_in(root.path(), args);
    // An MCP server runs a command: it starts only once the user approved its entry.
    let refused = codexos(&["run", "uses_mcp.flow.json", "--input", "x"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("an MCP server runs commands, and you have not approved this one")
            && stderr.contains("codexos trust allow mcp inner"),
        "{stderr}"
    );
    let approved = codexos(&["trust", "allow", "mcp", "inner"]);
    assert!(
        approved.status.success(),
        "{}",
        String::from_utf8_lossy(&approved.stderr)
    );
    let output = codexos(&["run", "uses_mcp.flow.json", "--input", "x"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    expect![[r#"
        flows/broken.flow.json (broken): 1 error(s), 2 warning(s)
        flows/greeter.flow.json (greeter — Greeter): 0 error(s), 0 warning(s)
    "#]]
    .assert_eq(&stdout);
}

#[test]
fn check_holds_a_tool_nodes_args_to_the_schema_an_approved_mcp_server_lists() {
    let served = workspace();
    let root = tempfile::tempdir().unwrap();
    std::fs::write(
        root.path().join("codexos.toml"),
        inner_server(served.path()),
    )
    .unwrap();
    std::fs::write(
        root.path().join("checks.flow.json"),
        r#"{
  "id": "checks",
  "nodes": [
    { "id": "start", "type": "entry", "next": "check" },
    { "id": "check", "type": "tool", "tool": "inner.check_flow", "args": { "pth": "a.flow.json" }, "next": "end" },
    { "id": "end", "type": "exit" }
  ]
}
"#,
    )
    .unwrap();
    let codexos = |args: &[&str]| codexos_in(root.path(), args);
    // Not approved: the server is never started, and the check says why it cannot look.
    let unapproved = codexos(&["check", "checks.flow.json"]);
    assert!(unapproved.status.success(), "{unapproved:?}");
    let stderr = String::from_utf8_lossy(&unapproved.stderr);
    assert!(
        stderr.contains("MCP server `inner` is not approved, so it was not started")
            && stderr.contains("codexos trust allow mcp inner"),
        "{stderr}"
    );
    assert_eq!(
        String::from_utf8_lossy(&unapproved.stdout),
        "Checked 1 flow: no problems.\n"
    );

    let approved = codexos(&["trust", "allow", "mcp", "inner"]);
    assert!(approved.status.success(), "{approved:?}");
    let checked = codexos(&["check", "checks.flow.json"]);
    assert_eq!(checked.status.code(), Some(1), "{checked:?}");
    expect![[r#"
        checks.flow.json:5:74: error[invalid-tool-args]: `args` of tool `inner.check_flow` (node `check`): {"pth":"a.flow.json"} is not valid under any of the schemas listed in the 'anyOf' keyword
        checks.flow.json:5:76: error[invalid-tool-args]: `args` of tool `inner.check_flow` (node `check`): `pth` is not an argument of `inner.check_flow`: did you mean `path`?
        Checked 1 flow: 2 error(s), 0 warning(s).
    "#]]
    .assert_eq(&String::from_utf8_lossy(&checked.stdout));
}
