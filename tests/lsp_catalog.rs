//! The catalog from the editor: `codexos.catalog` gives the Flow Editor the names completion and
//! the checks use (models served by the providers `codexos.toml` declares, plug-ins with their
//! schemas, vault key names, providers and whether each can answer), `codexos.flow.templates` the
//! templates; a model whose provider lacks its vault key is a warning until the key is stored.

use std::path::Path;

use codexos_test_support::{LspClient, file_uri};
use serde_json::{Value, json};

const CONFIG: &str = r#"
[llm.providers.anthropic]
api_key = "vault:ANTHROPIC_API_KEY"

[llm.providers.gpu]
kind = "vllm"
models = ["qwen-big"]
"#;

const PLUGIN: &str = r#"{ "description": "Runs the linter", "command": ["true"],
  "input_schema": { "type": "object", "properties": { "level": { "enum": ["warn", "deny"] } } } }"#;

const FLOW: &str = r#"{
  "id": "ask",
  "nodes": [
    { "id": "start", "type": "entry", "next": "ask" },
    { "id": "ask", "type": "llm", "model": ["anthropic/claude-3-5-haiku", "qwen-big"], "prompt": "{{input}}", "next": "end" },
    { "id": "end", "type": "exit" }
  ]
}
"#;

fn command(client: &mut LspClient, command: &str, argument: Value) -> Value {
    client
        .request(
            "workspace/executeCommand",
            json!({ "command": command, "arguments": [argument] }),
        )
        .unwrap_or_else(|error| panic!("{command}: {error:?}"))
}

fn named<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .and_then(|items| items.iter().find(|item| item["name"] == name))
        .unwrap_or_else(|| panic!("no `{name}` in {list}"))
}

#[test]
fn the_catalog_and_templates_come_from_the_server_and_a_providers_missing_key_is_a_warning_until_stored()
 {
    let dir = tempfile::tempdir().expect("a temporary workspace");
    let home = tempfile::tempdir().expect("a temporary home");
    std::fs::write(dir.path().join("codexos.toml"), CONFIG).expect("codexos.toml");
    std::fs::create_dir_all(dir.path().join("tools")).expect("tools/");
    std::fs::write(dir.path().join("tools/lint.tool.json"), PLUGIN).expect("plug-in");
    let path = dir.path().join("ask.flow.json");
    std::fs::write(&path, FLOW).expect("the flow");
    let uri = file_uri(&path);
    let mut client = LspClient::start_with(
        Path::new(env!("CARGO_BIN_EXE_codexos")),
        dir.path(),
        |command| {
            command
                .env("HOME", home.path())
                .env_remove("XDG_CONFIG_HOME")
                .env_remove("ANTHROPIC_API_KEY")
                .env("VAULT_MASTER_KEY", "an-example-master-key-for-tests-only");
        },
    );
    client.initialize(dir.path(), json!({}));
    client.open(&uri, FLOW);
    let diagnostics = client.diagnostics(&uri, 1);
    let [warning] = diagnostics.as_slice() else {
        panic!("one warning: {diagnostics:#?}");
    };
    assert_eq!(warning["code"], "provider-unavailable");

    let catalog = command(&mut client, "codexos.catalog", json!({ "uri": uri }));
    assert!(
        named(&catalog["models"], "qwen-big")["detail"]
            .as_str()
            .is_some_and(|detail| detail.starts_with("served by model provider `gpu`")),
        "{catalog}"
    );
    assert_eq!(named(&catalog["models"], "local")["name"], "local");
    assert_eq!(
        named(&catalog["tools"], "lint")["schema"]["properties"]["level"]["enum"],
        json!(["warn", "deny"])
    );
    assert!(named(&catalog["tools"], "read_file")["schema"].is_object());
    assert_eq!(
        named(&catalog["providers"], "anthropic")["unavailable"],
        "no API key (store it: codexos vault put ANTHROPIC_API_KEY)"
    );
    assert_eq!(
        named(&catalog["providers"], "gpu")["models"],
        json!(["qwen-big"])
    );

    let templates = command(&mut client, "codexos.flow.templates", json!({}));
    let names: Vec<&str> = templates
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|template| template["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "explain-code",
            "write-tests",
            "review-diff",
            "summarise-folder",
            "triage-issue",
            "research"
        ]
    );

    command(
        &mut client,
        "codexos.vault.put",
        json!({ "key": "ANTHROPIC_API_KEY", "value": "sk-ant-test" }),
    );
    client.wait_for_notification("textDocument/publishDiagnostics", |params| {
        params["uri"] == json!(uri) && params["diagnostics"] == json!([])
    });
    let catalog = command(&mut client, "codexos.catalog", json!({ "uri": uri }));
    assert_eq!(
        named(&catalog["providers"], "anthropic")["unavailable"],
        Value::Null
    );
    assert_eq!(catalog["vaultKeys"], json!(["ANTHROPIC_API_KEY"]));
}

#[test]
fn the_editor_checks_a_tool_nodes_args_against_an_approved_mcp_servers_schema() {
    // The MCP server is `codexos mcp` itself, serving a second workspace.
    let served = tempfile::tempdir().expect("the served workspace");
    let dir = tempfile::tempdir().expect("a temporary workspace");
    let home = tempfile::tempdir().expect("a temporary home");
    let config = format!(
        "[[mcp.servers]]\nname = \"inner\"\ncommand = {:?}\nargs = [\"mcp\", \"--root\", {:?}]\n",
        env!("CARGO_BIN_EXE_codexos"),
        served.path().display().to_string()
    );
    std::fs::write(dir.path().join("codexos.toml"), config).expect("codexos.toml");
    let approved = std::process::Command::new(env!("CARGO_BIN_EXE_codexos"))
        .args(["trust", "allow", "mcp", "inner"])
        .current_dir(dir.path())
        .env("HOME", home.path())
        .env_remove("XDG_CONFIG_HOME")
        .output()
        .expect("codexos trust runs");
    assert!(approved.status.success(), "{approved:?}");
    let flow = r#"{
  "id": "checks",
  "nodes": [
    { "id": "start", "type": "entry", "next": "check" },
    { "id": "check", "type": "tool", "tool": "inner.check_flow", "args": { "pth": "a.flow.json" }, "next": "end" },
    { "id": "end", "type": "exit" }
  ]
}
"#;
    let path = dir.path().join("checks.flow.json");
    std::fs::write(&path, flow).expect("the flow");
    let uri = file_uri(&path);
    let mut client = LspClient::start_with(
        Path::new(env!("CARGO_BIN_EXE_codexos")),
        dir.path(),
        |command| {
            command
                .env("HOME", home.path())
                .env_remove("XDG_CONFIG_HOME");
        },
    );
    client.initialize(dir.path(), json!({}));
    client.open(&uri, flow);
    let published = client.wait_for_notification("textDocument/publishDiagnostics", |params| {
        params["uri"] == json!(uri)
            && params["diagnostics"].as_array().is_some_and(|diagnostics| {
                diagnostics.iter().any(|d| {
                    d["code"] == "invalid-tool-args"
                        && d["message"]
                            .as_str()
                            .is_some_and(|m| m.contains("did you mean `path`?"))
                })
            })
    });
    assert!(published["diagnostics"].is_array());
}
