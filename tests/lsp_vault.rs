//! The vault from the editor: the `missing-secret` quick fix's command `codexos.vault.put`
//! stores the secret (the seed's `{key, value, tags}`), the flow then checks clean, and
//! `codexos.vault.list` shows names only. The value never appears in anything the server writes.

use std::path::Path;

use codexos_test_support::{LspClient, file_uri};
use serde_json::json;

const FLOW: &str = r#"{
  "id": "needs-token",
  "nodes": [
    { "id": "start", "type": "entry", "next": "token" },
    { "id": "token", "type": "vault", "key": "github_token", "as": "gh", "next": "end" },
    { "id": "end", "type": "exit", "output": "done" }
  ]
}
"#;

const SECRET: &str = "ghp-planted-secret-value-9f8e7d";

fn every_byte_under(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read a folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            bytes.extend(every_byte_under(&path));
        } else if let Ok(content) = std::fs::read(&path) {
            bytes.extend(content);
        }
    }
    bytes
}

#[test]
fn the_missing_secret_fix_stores_the_secret_and_the_flow_checks_clean() {
    // The server inherits the key: no identity file in the user's home.
    // SAFETY: this test binary runs this one test; nothing else reads the environment meanwhile.
    unsafe { std::env::set_var("VAULT_MASTER_KEY", "an-example-master-key-for-tests-only") };
    let dir = tempfile::tempdir().expect("a temporary workspace");
    let path = dir.path().join("token.flow.json");
    std::fs::write(&path, FLOW).expect("write the flow");
    let uri = file_uri(&path);
    let mut client = LspClient::start(Path::new(env!("CARGO_BIN_EXE_codexos")), dir.path());
    client.initialize(
        dir.path(),
        json!({ "window": { "workDoneProgress": true } }),
    );
    client.open(&uri, FLOW);
    let diagnostics = client.diagnostics(&uri, 1);
    assert!(
        diagnostics.iter().any(|d| d["code"] == "missing-secret"),
        "{diagnostics:?}"
    );

    let stored = client
        .request(
            "workspace/executeCommand",
            json!({ "command": "codexos.vault.put", "arguments": [{ "key": "github_token", "value": SECRET, "tags": ["api"] }] }),
        )
        .expect("codexos.vault.put answers");
    assert_eq!(stored, json!({ "key": "github_token", "created": true }));
    client.wait_for_notification("textDocument/publishDiagnostics", |params| {
        params["uri"] == json!(uri)
            && params["diagnostics"]
                .as_array()
                .is_some_and(|d| !d.iter().any(|d| d["code"] == "missing-secret"))
    });

    let listed = client
        .request(
            "workspace/executeCommand",
            json!({ "command": "codexos.vault.list", "arguments": [{}] }),
        )
        .expect("codexos.vault.list answers");
    assert_eq!(listed[0]["key"], json!("github_token"));
    assert_eq!(listed[0]["tags"], json!(["api"]));
    assert!(
        !listed.to_string().contains(SECRET),
        "names and tags only: {listed}"
    );

    let refused = client
        .request(
            "workspace/executeCommand",
            json!({ "command": "codexos.vault.put", "arguments": [{ "key": "bad key!", "value": "x" }] }),
        )
        .expect_err("an invalid key name is refused");
    assert!(
        refused.message.contains("codexos.vault.put"),
        "{}",
        refused.message
    );

    let stderr = client.stderr();
    assert!(client.shutdown_and_exit().success());
    assert!(!stderr.contains(SECRET), "stderr leaks the secret");
    let written = every_byte_under(&dir.path().join(".codexos"));
    assert!(
        !written.is_empty(),
        "the vault and the logs are under .codexos/"
    );
    assert!(
        !written
            .windows(SECRET.len())
            .any(|w| w == SECRET.as_bytes()),
        "a file under .codexos/ holds the secret in plain text"
    );
}
