//! The workspace index, live in the editor: `codexos lsp` indexes the workspace folder in the
//! background after `initialized` (with `$/progress` and `codexos/status`), answers
//! `codexos/search`, `workspace/symbol` and `codexos.rag.query`, and re-indexes a file on
//! `didSave`.

use std::path::Path;

use codexos_test_support::{LspClient, file_uri};
use serde_json::{Value, json};

fn capabilities() -> Value {
    json!({
        "window": { "workDoneProgress": true },
        "workspace": { "didChangeWatchedFiles": { "dynamicRegistration": true } }
    })
}

/// Writes `text` to `name` under `root`, creating its folders.
fn write_fixture(root: &Path, name: &str, text: &str) {
    let path = root.join(name);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("create folders");
    std::fs::write(path, text).expect("write a fixture file");
}

fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary workspace");
    let write = |name: &str, text: &str| write_fixture(dir.path(), name, text);
    write(
        "src/payment.rs",
        "/// Retries a failed payment with exponential backoff.\npub fn retry_payment(attempts: u32) -> bool {\n    attempts < 3\n}\n",
    );
    write(
        "src/invoice.py",
        "def invoice_total(lines, tax_rate):\n    \"\"\"Sum the invoice lines and add tax.\"\"\"\n    return sum(lines) * (1 + tax_rate)\n",
    );
    write("README.md", "# Shop\n\nPayments and invoices.\n");
    dir
}

fn ready(client: &mut LspClient) -> Value {
    client.wait_for_notification("codexos/status", |params| params["state"] == "ready")
}

#[test]
fn the_server_indexes_the_workspace_in_the_background_and_reports_progress() {
    let dir = workspace();
    let mut client = LspClient::start(Path::new(env!("CARGO_BIN_EXE_codexos")), dir.path());
    client.initialize(dir.path(), capabilities());
    let status = ready(&mut client);
    assert!(
        status["message"]
            .as_str()
            .is_some_and(|m| m.contains("3 files")),
        "the summary counts the files: {status}"
    );
    let begin = client.wait_for_notification("$/progress", |params| {
        params["value"]["kind"] == "begin" && params["value"]["title"] == "Indexing workspace"
    });
    let token = begin["token"].clone();
    client.wait_for_notification("$/progress", |params| {
        params["token"] == token && params["value"]["kind"] == "end"
    });
    assert!(
        dir.path().join(".codexos/index").is_dir(),
        "the index lives under .codexos/"
    );
    assert!(client.shutdown_and_exit().success());
}

#[test]
fn search_symbols_and_rag_query_answer_from_the_index() {
    let dir = workspace();
    let mut client = LspClient::start(Path::new(env!("CARGO_BIN_EXE_codexos")), dir.path());
    client.initialize(dir.path(), capabilities());
    ready(&mut client);

    let results = client
        .request(
            "codexos/search",
            json!({ "query": "retry payment backoff", "k": 5 }),
        )
        .expect("codexos/search answers");
    let first = &results[0];
    assert_eq!(
        first["uri"],
        json!(file_uri(&dir.path().join("src/payment.rs")))
    );
    assert!(
        first["snippet"]
            .as_str()
            .is_some_and(|s| s.contains("fn retry_payment"))
    );
    assert!(first["score"].as_f64().is_some_and(|s| s > 0.0));
    assert_eq!(first["range"]["start"]["line"], json!(0));

    let symbols = client
        .request("workspace/symbol", json!({ "query": "invoice total" }))
        .expect("workspace/symbol answers");
    let names: Vec<&str> = symbols
        .as_array()
        .expect("a list of symbols")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert!(names.contains(&"invoice_total"), "symbols: {names:?}");

    let rag = client
        .request(
            "workspace/executeCommand",
            json!({ "command": "codexos.rag.query", "arguments": [{ "query": "invoice tax", "project_id": "shop" }] }),
        )
        .expect("codexos.rag.query answers");
    assert_eq!(rag["project_id"], json!("shop"));
    assert_eq!(rag["results"][0]["path"], json!("src/invoice.py"));
    assert!(
        rag["results"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("tax_rate"))
    );

    let bad = client
        .request(
            "workspace/executeCommand",
            json!({ "command": "codexos.rag.query", "arguments": [{ "k": 3 }] }),
        )
        .expect_err("a query without `query` is refused");
    assert!(
        bad.message.contains("codexos.rag.query") && bad.message.contains("query"),
        "{}",
        bad.message
    );
    assert!(client.shutdown_and_exit().success());
}

#[test]
fn a_saved_file_is_reindexed_and_found_by_its_new_content() {
    let dir = workspace();
    let mut client = LspClient::start(Path::new(env!("CARGO_BIN_EXE_codexos")), dir.path());
    client.initialize(dir.path(), capabilities());
    ready(&mut client);
    let path = dir.path().join("src/shipping.rs");
    std::fs::write(
        &path,
        "pub fn quote_parcel_shipping(weight_grams: u32) -> u32 {\n    weight_grams / 100\n}\n",
    )
    .expect("write a new file");
    client.notify(
        "textDocument/didSave",
        json!({ "textDocument": { "uri": file_uri(&path) } }),
    );
    let uri = json!(file_uri(&path));
    let mut found = false;
    for _ in 0..50 {
        let results = client
            .request(
                "codexos/search",
                json!({ "query": "parcel shipping quote", "k": 3 }),
            )
            .expect("codexos/search answers");
        if results[0]["uri"] == uri {
            found = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(found, "the saved file is found after didSave");
    assert!(client.shutdown_and_exit().success());
}

/// Waits until the server's log (`.codexos/logs/lsp.log`, debug lines on in the harness) has a
/// line containing `needle`.
fn wait_for_log_line(root: &Path, needle: &str) -> String {
    let log = root.join(".codexos/logs/lsp.log");
    let deadline = std::time::Instant::now() + codexos_test_support::TIMEOUT;
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(line) = text.lines().find(|line| line.contains(needle)) {
            return line.to_owned();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no log line with {needle:?} in {}:\n{text}",
            log.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn saving_a_gitignored_file_leaves_it_out_of_search() {
    let dir = workspace();
    std::fs::write(dir.path().join(".gitignore"), "build/\n").expect("write .gitignore");
    let mut client = LspClient::start(Path::new(env!("CARGO_BIN_EXE_codexos")), dir.path());
    client.initialize(dir.path(), capabilities());
    ready(&mut client);
    let ignored = dir.path().join("build/generated.rs");
    std::fs::create_dir_all(ignored.parent().expect("a parent")).expect("create build/");
    std::fs::write(
        &ignored,
        "pub fn reconcile_quokka_ledger(entries: u32) -> u32 {\n    entries\n}\n",
    )
    .expect("write a generated file");
    client.notify(
        "textDocument/didSave",
        json!({ "textDocument": { "uri": file_uri(&ignored) } }),
    );
    let line = wait_for_log_line(dir.path(), "build/generated.rs: ");
    assert!(line.contains("Skipped(Excluded)"), "{line}");
    let results = client
        .request(
            "codexos/search",
            json!({ "query": "reconcile quokka ledger", "k": 10 }),
        )
        .expect("codexos/search answers");
    let uris: Vec<&Value> = results
        .as_array()
        .expect("a list of results")
        .iter()
        .map(|result| &result["uri"])
        .collect();
    assert!(
        !uris.contains(&&json!(file_uri(&ignored))),
        "the gitignored file is not found: {uris:?}"
    );
    assert!(client.shutdown_and_exit().success());
}

#[test]
fn an_unsaved_edit_is_indexed_once_typing_pauses() {
    let dir = workspace();
    let mut client = LspClient::start(Path::new(env!("CARGO_BIN_EXE_codexos")), dir.path());
    client.initialize(dir.path(), capabilities());
    ready(&mut client);
    let path = dir.path().join("src/payment.rs");
    let uri = file_uri(&path);
    let saved = std::fs::read_to_string(&path).expect("read the fixture");
    client.open(&uri, &saved);
    let edited = format!(
        "{saved}\npub fn apply_coupon_discount(price: u32) -> u32 {{\n    price * 9 / 10\n}}\n"
    );
    client.change(&uri, 2, json!([{ "text": edited }]));
    let mut found = false;
    for _ in 0..50 {
        let results = client
            .request(
                "codexos/search",
                json!({ "query": "apply coupon discount", "k": 3 }),
            )
            .expect("codexos/search answers");
        if results[0]["snippet"]
            .as_str()
            .is_some_and(|s| s.contains("apply_coupon_discount"))
        {
            found = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(found, "the unsaved buffer's new function is found");
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        saved,
        "nothing was written to disk"
    );
    assert!(client.shutdown_and_exit().success());
}

/// Whether the neural model is installed where the server looks for it; CI installs it with
/// scripts/fetch-models, so there a missing model fails the test instead of skipping it.
fn minilm_installed() -> bool {
    let dir = codexos_embed::default_models_dir()
        .map(|models| models.join(codexos_embed::MINILM_DIR_NAME));
    let installed = dir
        .as_ref()
        .is_some_and(|dir| dir.join("model.safetensors").is_file());
    assert!(
        installed || std::env::var_os("CI").is_none(),
        "CI needs the MiniLM weights at {dir:?}: run scripts/fetch-models"
    );
    if !installed {
        eprintln!(
            "no MiniLM weights at {dir:?} (run scripts/fetch-models); this test checks nothing here"
        );
    }
    installed
}

fn top_uri(client: &mut LspClient, query: &str) -> Value {
    let results = client
        .request(
            "codexos/search",
            json!({ "query": query, "k": 3, "files": true }),
        )
        .expect("codexos/search answers");
    results[0]["uri"].clone()
}

#[test]
fn searches_answer_while_vectors_upgrade_in_the_background_then_find_by_meaning() {
    if !minilm_installed() {
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary workspace");
    let write = |name: &str, text: &str| write_fixture(dir.path(), name, text);
    // The fast vectors are the built-in ones here, so what the neural ones add is known.
    write(
        "codexos.toml",
        "[index]\nembedder = \"builtin\"\nupgrade = \"minilm\"\nupgrade_after_idle_ms = 0\n",
    );
    write(
        "src/pets.rs",
        "/// The cat sleeps on the sofa all afternoon.\npub fn nap() {}\n",
    );
    write(
        "src/kitchen.rs",
        "/// Sets the timer of the kitchen oven.\npub fn set_kitchen_timer(minutes: u32) {}\n",
    );
    for number in 0..60 {
        write(
            &format!("src/filler_{number}.rs"),
            &format!("pub fn filler_{number}() -> u32 {{\n    {number}\n}}\n"),
        );
    }
    let pets = json!(file_uri(&dir.path().join("src/pets.rs")));
    let mut client = LspClient::start(Path::new(env!("CARGO_BIN_EXE_codexos")), dir.path());
    client.initialize(dir.path(), capabilities());
    ready(&mut client);
    assert_ne!(top_uri(&mut client, "a kitten resting"), pets);

    let begin = client.wait_for_notification("$/progress", |params| {
        params["value"]["kind"] == "begin" && params["value"]["title"] == "Upgrading search vectors"
    });
    assert_eq!(begin["value"]["cancellable"], json!(true), "{begin}");
    let token = begin["token"].clone();
    assert_eq!(
        top_uri(&mut client, "filler 7"),
        json!(file_uri(&dir.path().join("src/filler_7.rs")))
    );
    let upgrade_ended =
        |progress: &Value| progress["token"] == token && progress["value"]["kind"] == "end";
    assert!(
        !client
            .take_notifications("$/progress")
            .iter()
            .any(upgrade_ended),
        "the search was answered before the upgrade ended"
    );

    let end = client.wait_for_notification("$/progress", upgrade_ended);
    // One chunk a file, codexos.toml's included.
    assert!(
        end["value"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("63 chunks upgraded")
                && message.contains("searches use the neural vectors")),
        "{end}"
    );
    assert_eq!(top_uri(&mut client, "a kitten resting"), pets);
    assert!(client.shutdown_and_exit().success());
}

#[test]
fn the_upgrade_progress_ends_before_the_server_shuts_down_on_a_tiny_workspace() {
    if !minilm_installed() {
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary workspace");
    // A long idle wait keeps the upgrade under way when the session ends, as in a short
    // session on a tiny workspace.
    std::fs::write(
        dir.path().join("codexos.toml"),
        "[index]\nembedder = \"builtin\"\nupgrade = \"minilm\"\nupgrade_after_idle_ms = 60000\n",
    )
    .expect("write codexos.toml");
    std::fs::write(dir.path().join("nap.rs"), "pub fn nap() {}\n").expect("write a source");
    let mut client = LspClient::start(Path::new(env!("CARGO_BIN_EXE_codexos")), dir.path());
    client.initialize(dir.path(), capabilities());
    ready(&mut client);
    let begin = client.wait_for_notification("$/progress", |params| {
        params["value"]["kind"] == "begin" && params["value"]["title"] == "Upgrading search vectors"
    });
    client
        .request("shutdown", Value::Null)
        .expect("shutdown answers");
    let ends: Vec<Value> = client
        .take_notifications("$/progress")
        .into_iter()
        .filter(|progress| {
            progress["token"] == begin["token"] && progress["value"]["kind"] == "end"
        })
        .collect();
    assert_eq!(
        ends.len(),
        1,
        "the upgrade's progress ended before the shutdown answer: {ends:?}"
    );
    client.notify("exit", Value::Null);
    client.close_input();
    assert!(client.wait_for_exit().success());
}

/// A workspace of `files` small Rust files, indexed 10 files a batch.
fn many_files(files: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary workspace");
    write_fixture(
        dir.path(),
        "codexos.toml",
        "[index]\ncommit_chunks = 10\nembedder = \"builtin\"\nupgrade = \"none\"\n",
    );
    for number in 0..files {
        write_fixture(
            dir.path(),
            &format!("src/module_{number:03}.rs"),
            &format!(
                "/// Returns {number}.\npub fn value_{number}() -> u32 {{\n    {number}\n}}\n"
            ),
        );
    }
    dir
}

/// `codexos lsp` in `root`, sleeping after each committed batch so a test can act mid-run.
fn slow_server(root: &Path) -> LspClient {
    let mut client =
        LspClient::start_with(Path::new(env!("CARGO_BIN_EXE_codexos")), root, |command| {
            command.env("CODEXOS_INDEX_BATCH_DELAY_MS", "300");
        });
    client.initialize(root, capabilities());
    client
}

fn top_path(client: &mut LspClient, query: &str) -> Option<String> {
    let results = client
        .request("codexos/search", json!({ "query": query, "k": 1 }))
        .expect("codexos/search answers");
    results[0]["uri"]
        .as_str()
        .map(|uri| uri.rsplit('/').next().unwrap_or_default().to_owned())
}

#[test]
fn cancelling_the_index_progress_pauses_indexing_searches_answer_and_resume_goes_on() {
    let dir = many_files(200);
    let mut client = slow_server(dir.path());
    let begin = client.wait_for_notification("$/progress", |params| {
        params["value"]["kind"] == "begin" && params["value"]["title"] == "Indexing workspace"
    });
    assert_eq!(begin["value"]["cancellable"], json!(true), "{begin}");
    let token = begin["token"].clone();
    // Once a batch is committed.
    client.wait_for_notification("$/progress", |params| {
        params["token"] == token && params["value"]["percentage"].as_u64() > Some(0)
    });
    client.notify("window/workDoneProgress/cancel", json!({ "token": token }));
    let end = client.wait_for_notification("$/progress", |params| {
        params["token"] == token && params["value"]["kind"] == "end"
    });
    let message = end["value"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.starts_with("paused after "), "{end}");
    client.wait_for_notification("codexos/status", |params| params["state"] == "paused");
    assert_eq!(
        top_path(&mut client, "value_0").as_deref(),
        Some("module_000.rs"),
        "a paused index answers from what it committed"
    );
    assert_ne!(
        top_path(&mut client, "value_199").as_deref(),
        Some("module_199.rs"),
        "the last file was never reached"
    );

    client
        .execute("codexos.index.resume", json!({}))
        .expect("codexos.index.resume answers");
    let ready = client.wait_for_notification("codexos/status", |params| params["state"] == "ready");
    let summary = ready["message"].as_str().unwrap_or_default();
    let unchanged: usize = summary
        .split(" unchanged")
        .next()
        .and_then(|head| head.rsplit(' ').next())
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("no unchanged count in {summary}"));
    assert!(
        unchanged > 0 && summary.starts_with("201 files"),
        "the resumed run keeps what the paused one committed: {summary}"
    );
    assert_eq!(
        top_path(&mut client, "value_199").as_deref(),
        Some("module_199.rs")
    );
    assert!(client.shutdown_and_exit().success());
}

#[test]
fn the_pause_and_resume_commands_stop_and_restart_indexing() {
    let dir = many_files(200);
    let mut client = slow_server(dir.path());
    client.wait_for_notification("codexos/status", |params| params["state"] == "indexing");
    client
        .execute("codexos.index.pause", json!({}))
        .expect("codexos.index.pause answers");
    let paused =
        client.wait_for_notification("codexos/status", |params| params["state"] == "paused");
    assert!(
        paused["message"]
            .as_str()
            .is_some_and(|message| message.contains("codexos.index.resume")),
        "{paused}"
    );
    let end = client.wait_for_notification("$/progress", |params| {
        params["value"]["kind"] == "end"
            && params["value"]["message"]
                .as_str()
                .is_some_and(|message| message.starts_with("paused after "))
    });
    assert!(end["token"].is_string(), "{end}");
    assert!(
        client
            .take_notifications("codexos/status")
            .iter()
            .all(|status| status["state"] != "ready"),
        "nothing finished while paused"
    );
    client
        .execute("codexos.index.resume", json!({}))
        .expect("codexos.index.resume answers");
    client.wait_for_notification("codexos/status", |params| params["state"] == "ready");
    assert_eq!(
        top_path(&mut client, "value_150").as_deref(),
        Some("module_150.rs")
    );
    assert!(client.shutdown_and_exit().success());
}

#[test]
fn every_folder_of_a_multi_root_workspace_is_indexed_and_searched() {
    let first = workspace();
    let second = tempfile::tempdir().expect("a second folder");
    write_fixture(
        second.path(),
        "lib/weather.py",
        "def forecast_rainfall(days):\n    \"\"\"Predicts the rainfall of the coming days.\"\"\"\n    return [0] * days\n",
    );
    let mut client = LspClient::start(Path::new(env!("CARGO_BIN_EXE_codexos")), first.path());
    let folder = |path: &Path, name: &str| json!({ "uri": file_uri(path), "name": name });
    client
        .request(
            "initialize",
            json!({
                "processId": std::process::id(),
                "rootUri": file_uri(first.path()),
                "capabilities": capabilities(),
                "workspaceFolders": [folder(first.path(), "shop"), folder(second.path(), "weather")],
            }),
        )
        .expect("initialize answers");
    client.notify("initialized", json!({}));
    let ready = ready(&mut client);
    let first_name = first
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let second_name = second
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let summary = ready["message"].as_str().unwrap_or_default();
    assert!(
        summary.contains(&format!("{first_name}: 3 files"))
            && summary.contains(&format!("{second_name}: 1 files")),
        "{summary}"
    );
    assert!(second.path().join(".codexos/index").is_dir());

    for (query, file) in [
        ("rainfall forecast", second.path().join("lib/weather.py")),
        ("retry payment backoff", first.path().join("src/payment.rs")),
    ] {
        let results = client
            .request("codexos/search", json!({ "query": query, "k": 3 }))
            .expect("codexos/search answers");
        assert_eq!(results[0]["uri"], json!(file_uri(&file)), "{results}");
    }
    assert!(client.shutdown_and_exit().success());
}
