//! `codexos lsp` end to end: the real binary over stdio, driven as an editor drives it.

use std::path::Path;

use codexos_test_support::{Editor, cursor, file_uri, position_utf8, position_utf16};
use serde_json::{Value, json};

/// A flow with a typo in a `next` (`sumarizer`), so `summarizer` and `end` are unreachable.
const BROKEN: &str = r#"{
  "id": "demo",
  "nodes": [
    { "id": "start", "type": "entry", "next": "planner" },
    { "id": "planner", "type": "llm", "model": "gpt-4", "prompt": "{{input}}", "next": "sumarizer" },
    { "id": "summarizer", "type": "llm", "model": "claude-3-opus", "prompt": "{{nodes.planner.output}}", "next": "end" },
    { "id": "end", "type": "exit", "output": "{{nodes.summarizer.output}}" }
  ]
}
"#;

fn capabilities(utf8: bool, snippets: bool) -> Value {
    let encodings = if utf8 {
        json!(["utf-8", "utf-16"])
    } else {
        json!(["utf-16"])
    };
    json!({
        "general": { "positionEncodings": encodings },
        "window": { "workDoneProgress": true },
        "workspace": {
            "workspaceEdit": { "documentChanges": true },
            "didChangeWatchedFiles": { "dynamicRegistration": true },
            "configuration": true
        },
        "textDocument": {
            "completion": { "completionItem": { "snippetSupport": snippets } },
            "documentSymbol": { "hierarchicalDocumentSymbolSupport": true },
            "publishDiagnostics": { "relatedInformation": true, "versionSupport": true }
        }
    })
}

fn start(utf8: bool, snippets: bool) -> Editor {
    let binary = Path::new(env!("CARGO_BIN_EXE_codexos"));
    Editor::start(binary, capabilities(utf8, snippets))
}

fn with_code<'a>(diagnostics: &'a [Value], code: &str) -> Vec<&'a Value> {
    diagnostics.iter().filter(|d| d["code"] == code).collect()
}

/// The UTF-16 range of the first `needle` in `text`.
fn range_of(text: &str, needle: &str) -> Value {
    let start = text.find(needle).expect("needle in text");
    json!({ "start": position_utf16(text, start), "end": position_utf16(text, start + needle.len()) })
}

fn range_at(text: &str, start: usize, len: usize) -> Value {
    json!({ "start": position_utf16(text, start), "end": position_utf16(text, start + len) })
}

fn range_of_utf8(text: &str, needle: &str) -> Value {
    let start = text.find(needle).expect("needle in text");
    json!({ "start": position_utf8(text, start), "end": position_utf8(text, start + needle.len()) })
}

/// Applies LSP text edits (UTF-16 positions, non-overlapping) to a text.
fn apply(text: &str, edits: &[Value]) -> String {
    let offset = |position: &Value| {
        let line = position["line"].as_u64().unwrap_or_default() as usize;
        let character = position["character"].as_u64().unwrap_or_default() as usize;
        let line_start: usize = text.split_inclusive('\n').take(line).map(str::len).sum();
        let mut units = 0;
        for (index, ch) in text[line_start..].char_indices() {
            if units >= character || ch == '\n' {
                return line_start + index;
            }
            units += ch.len_utf16();
        }
        text.len()
    };
    let mut edits: Vec<(usize, usize, &str)> = edits
        .iter()
        .map(|edit| {
            let range = &edit["range"];
            let new_text = edit["newText"].as_str().unwrap_or_default();
            (offset(&range["start"]), offset(&range["end"]), new_text)
        })
        .collect();
    edits.sort_by_key(|&(start, _, _)| std::cmp::Reverse(start));
    let mut text = text.to_owned();
    for (start, end, new_text) in edits {
        text.replace_range(start..end, new_text);
    }
    text
}

#[test]
fn initialize_announces_the_features_and_picks_utf16_by_default() {
    let editor = start(false, true);
    let capabilities = &editor.initialized["capabilities"];
    assert_eq!(capabilities["positionEncoding"], "utf-16");
    assert_eq!(
        capabilities["textDocumentSync"]["change"], 2,
        "incremental sync"
    );
    assert_eq!(capabilities["renameProvider"]["prepareProvider"], true);
    for provider in [
        "completionProvider",
        "hoverProvider",
        "definitionProvider",
        "referencesProvider",
        "documentSymbolProvider",
        "documentFormattingProvider",
        "foldingRangeProvider",
        "codeActionProvider",
    ] {
        assert!(
            !capabilities[provider].is_null(),
            "{provider} in {capabilities}"
        );
    }
    assert_eq!(editor.initialized["serverInfo"]["name"], "codexos");
}

#[test]
fn initialize_picks_utf8_when_the_client_offers_it() {
    let editor = start(true, true);
    assert_eq!(
        editor.initialized["capabilities"]["positionEncoding"],
        "utf-8"
    );
}

#[test]
fn opening_a_broken_flow_publishes_diagnostics_with_codes_and_exact_ranges() {
    let mut editor = start(false, true);
    let diagnostics = editor.open("demo.flow.json", BROKEN);
    let unknown = with_code(&diagnostics, "unknown-node");
    assert_eq!(unknown.len(), 1, "{diagnostics:?}");
    assert_eq!(unknown[0]["range"], range_of(BROKEN, r#""sumarizer""#));
    assert_eq!(unknown[0]["severity"], 1);
    assert_eq!(unknown[0]["source"], "codexos");
    assert!(
        unknown[0]["message"]
            .as_str()
            .is_some_and(|message| message.contains("did you mean `summarizer`")),
        "{}",
        unknown[0]
    );
    let unreachable = with_code(&diagnostics, "unreachable-node");
    assert_eq!(unreachable.len(), 2, "{diagnostics:?}");
    assert_eq!(unreachable[0]["severity"], 2);
    assert_eq!(
        unreachable[0]["tags"],
        json!([1]),
        "unreachable code is greyed out"
    );
    let template = with_code(&diagnostics, "unknown-template-ref");
    let related = &template[0]["relatedInformation"][0];
    assert_eq!(related["location"]["uri"], editor.uri("demo.flow.json"));
    assert_eq!(
        related["location"]["range"]["start"],
        range_of(BROKEN, r#""planner", "type""#)["start"]
    );
}

#[test]
fn an_incremental_change_republishes_diagnostics_for_its_version() {
    let mut editor = start(false, true);
    let uri = editor.uri("demo.flow.json");
    editor.open("demo.flow.json", BROKEN);
    let typo = BROKEN.find("sumarizer").expect("typo") + 2;
    let insert_at = position_utf16(BROKEN, typo);
    editor.client.change(
        &uri,
        2,
        json!([{ "range": { "start": insert_at, "end": insert_at }, "text": "m" }]),
    );
    let diagnostics = editor.client.diagnostics(&uri, 2);
    assert_eq!(diagnostics, Vec::<Value>::new(), "the fixed flow is clean");
    // Two quick edits: break it again, then fix it again; the last version's diagnostics win.
    let typo_range = range_of(
        &BROKEN.replace("sumarizer", "summarizer"),
        "\"summarizer\" }",
    );
    editor.client.change(
        &uri,
        3,
        json!([{ "range": typo_range, "text": "\"nowhere\" }" }]),
    );
    let diagnostics = editor.client.diagnostics(&uri, 3);
    assert_eq!(
        with_code(&diagnostics, "unknown-node").len(),
        1,
        "{diagnostics:?}"
    );
}

#[test]
fn multi_byte_characters_before_a_token_shift_utf16_columns_correctly() {
    let text = r#"{ "id": "émoji", "nodes": [
  { "id": "start", "type": "entry", "description": "é😀中文", "next": "nowhere" },
  { "id": "end", "type": "exit" }
] }"#;
    let mut editor = start(false, true);
    let diagnostics = editor.open("multi.flow.json", text);
    let unknown = with_code(&diagnostics, "unknown-node");
    assert_eq!(unknown.len(), 1, "{diagnostics:?}");
    let range = range_of(text, r#""nowhere""#);
    // 63 ASCII characters, then é (1 unit) 😀 (2 units) 中文 (2 units): 68 UTF-16 units, while
    // the line holds 67 characters and 75 bytes before the token.
    assert_eq!(range["start"], json!({ "line": 1, "character": 68 }));
    assert_eq!(unknown[0]["range"], range);
    let definition = editor.request(
        "textDocument/definition",
        editor.at(
            "multi.flow.json",
            position_utf16(text, text.find("\"start\"").expect("id") + 1),
        ),
    );
    assert_eq!(definition["range"], range_of(text, r#""start""#));
}

#[test]
fn multi_byte_characters_use_byte_columns_when_utf8_is_negotiated() {
    let text = "{ \"id\": \"x\", \"nodes\": [\n  { \"id\": \"start\", \"description\": \"é😀中文\", \"type\": \"entry\", \"next\": \"nowhere\" },\n  { \"id\": \"end\", \"type\": \"exit\" }\n] }";
    let mut editor = start(true, true);
    let diagnostics = editor.open("multi.flow.json", text);
    let unknown = with_code(&diagnostics, "unknown-node");
    assert_eq!(unknown.len(), 1, "{diagnostics:?}");
    assert_eq!(unknown[0]["range"], range_of_utf8(text, r#""nowhere""#));
    assert_ne!(
        range_of_utf8(text, r#""nowhere""#),
        range_of(text, r#""nowhere""#)
    );
    // An incremental edit in UTF-8 columns after the multi-byte characters lands in the right place.
    let uri = editor.uri("multi.flow.json");
    let fixed = range_of_utf8(text, "nowhere");
    editor
        .client
        .change(&uri, 2, json!([{ "range": fixed, "text": "end" }]));
    assert_eq!(editor.client.diagnostics(&uri, 2), Vec::<Value>::new());
}

#[test]
fn completion_offers_node_ids_inside_next_with_a_text_edit() {
    let (text, position) =
        cursor(&BROKEN.replace(r#""next": "planner""#, r#""next": "pl$0anner""#));
    let mut editor = start(false, true);
    editor.open("demo.flow.json", &text);
    let list = editor.request(
        "textDocument/completion",
        editor.at("demo.flow.json", position),
    );
    let items = list["items"].as_array().cloned().unwrap_or_default();
    let labels: Vec<&str> = items
        .iter()
        .filter_map(|item| item["label"].as_str())
        .collect();
    assert!(
        labels.contains(&"planner") && labels.contains(&"end"),
        "{labels:?}"
    );
    assert!(
        !labels.contains(&"start"),
        "a node does not continue to itself: {labels:?}"
    );
    let planner = items
        .iter()
        .find(|item| item["label"] == "planner")
        .expect("planner");
    let typed = text.find(r#""next": "planner""#).expect("next") + r#""next": ""#.len();
    assert_eq!(
        planner["textEdit"]["range"],
        range_at(&text, typed, "planner".len()),
        "replaces the whole id"
    );
    assert_eq!(planner["textEdit"]["newText"], "planner");
}

#[test]
fn completion_sends_snippets_only_to_clients_that_support_them() {
    let (text, position) = cursor("{ \"id\": \"x\", \"nodes\": [ $0 ] }");
    for snippets in [true, false] {
        let mut editor = start(false, snippets);
        editor.open("new.flow.json", &text);
        let list = editor.request(
            "textDocument/completion",
            editor.at("new.flow.json", position.clone()),
        );
        let items = list["items"].as_array().cloned().unwrap_or_default();
        let reflect = items
            .iter()
            .find(|item| item["label"] == "reflect node")
            .unwrap_or_else(|| panic!("a reflect node template in {list}"));
        let new_text = reflect["textEdit"]["newText"].as_str().unwrap_or_default();
        if snippets {
            assert_eq!(reflect["insertTextFormat"], 2);
            assert!(new_text.contains("${1:reflect}"), "{new_text}");
        } else {
            assert_eq!(reflect["insertTextFormat"], 1);
            assert_eq!(
                new_text,
                r#"{ "id": "reflect", "type": "reflect", "target": "", "max_iterations": 1, "next": "" }"#
            );
        }
    }
}

#[test]
fn hover_explains_what_is_under_the_cursor() {
    let mut editor = start(false, true);
    editor.open("demo.flow.json", BROKEN);
    let position = position_utf16(BROKEN, BROKEN.find("claude-3-opus").expect("model") + 3);
    let hover = editor.request("textDocument/hover", editor.at("demo.flow.json", position));
    assert_eq!(hover["contents"]["kind"], "markdown");
    let markdown = hover["contents"]["value"].as_str().unwrap_or_default();
    assert!(markdown.contains("Claude 3 Opus"), "{markdown}");
    assert_eq!(hover["range"], range_of(BROKEN, "\"claude-3-opus\""));
}

#[test]
fn definition_jumps_from_a_next_to_the_node_id() {
    let mut editor = start(false, true);
    editor.open("demo.flow.json", BROKEN);
    let reference = BROKEN.find(r#""next": "planner""#).expect("next") + 11;
    let definition = editor.request(
        "textDocument/definition",
        editor.at("demo.flow.json", position_utf16(BROKEN, reference)),
    );
    assert_eq!(definition["uri"], editor.uri("demo.flow.json"));
    let id = BROKEN.find(r#""planner", "type""#).expect("id");
    assert_eq!(
        definition["range"],
        range_at(BROKEN, id, r#""planner""#.len())
    );
}

#[test]
fn references_list_the_declaration_and_every_use() {
    let mut editor = start(false, true);
    editor.open("demo.flow.json", BROKEN);
    let declaration = BROKEN.find(r#""planner", "type""#).expect("id") + 2;
    let mut params = editor.at("demo.flow.json", position_utf16(BROKEN, declaration));
    params["context"] = json!({ "includeDeclaration": true });
    let references = editor.request("textDocument/references", params);
    let references = references.as_array().cloned().unwrap_or_default();
    // The id, the `next` of `start`, and the template in `summarizer`.
    assert_eq!(references.len(), 3, "{references:?}");
    assert!(
        references
            .iter()
            .all(|location| location["uri"] == editor.uri("demo.flow.json"))
    );
}

#[test]
fn rename_updates_every_reference_in_one_workspace_edit() {
    let mut editor = start(false, true);
    editor.open("demo.flow.json", BROKEN);
    let position = position_utf16(BROKEN, BROKEN.find(r#""planner", "type""#).expect("id") + 3);
    let prepared = editor.request(
        "textDocument/prepareRename",
        editor.at("demo.flow.json", position.clone()),
    );
    assert_eq!(prepared["placeholder"], "planner");
    let mut params = editor.at("demo.flow.json", position.clone());
    params["newName"] = json!("thinker");
    let edit = editor.request("textDocument/rename", params);
    let changes = edit["documentChanges"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(changes.len(), 1, "{edit}");
    assert_eq!(changes[0]["textDocument"]["version"], 1);
    let edits = changes[0]["edits"].as_array().cloned().unwrap_or_default();
    let renamed = apply(BROKEN, &edits);
    assert_eq!(renamed, BROKEN.replace("planner", "thinker"));

    let mut clash = editor.at("demo.flow.json", position);
    clash["newName"] = json!("end");
    let error = editor
        .client
        .request("textDocument/rename", clash)
        .expect_err("a clash is refused");
    assert!(error.message.contains("`end` already exists"), "{error:?}");
}

#[test]
fn the_quick_fix_for_an_unknown_node_replaces_it_with_the_closest_id() {
    let mut editor = start(false, true);
    let diagnostics = editor.open("demo.flow.json", BROKEN);
    let unknown = with_code(&diagnostics, "unknown-node")[0].clone();
    let actions = editor.request(
        "textDocument/codeAction",
        json!({
            "textDocument": { "uri": editor.uri("demo.flow.json") },
            "range": unknown["range"],
            "context": { "diagnostics": [unknown], "only": ["quickfix"] }
        }),
    );
    let actions = actions.as_array().cloned().unwrap_or_default();
    let fix = actions
        .iter()
        .find(|action| action["kind"] == "quickfix.codexos.unknown-node")
        .unwrap_or_else(|| panic!("an unknown-node fix in {actions:?}"));
    assert_eq!(fix["title"], "Change to `summarizer`");
    assert_eq!(fix["isPreferred"], true);
    assert_eq!(fix["diagnostics"][0]["code"], "unknown-node");
    let change = &fix["edit"]["documentChanges"][0];
    assert_eq!(change["textDocument"]["version"], 1);
    let fixed = apply(
        BROKEN,
        change["edits"].as_array().map_or(&[][..], Vec::as_slice),
    );
    assert_eq!(fixed, BROKEN.replace("sumarizer", "summarizer"));
}

#[test]
fn formatting_returns_one_whole_document_edit_or_none_when_formatted() {
    let mut editor = start(false, true);
    let messy = r#"{"nodes":[{"type":"entry","id":"start","next":"end"},{"id":"end","type":"exit"}],"id":"tidy"}"#;
    editor.open("tidy.flow.json", messy);
    let params = json!({
        "textDocument": { "uri": editor.uri("tidy.flow.json") },
        "options": { "tabSize": 2, "insertSpaces": true }
    });
    let edits = editor.request("textDocument/formatting", params.clone());
    let edits = edits.as_array().cloned().unwrap_or_default();
    assert_eq!(edits.len(), 1);
    assert_eq!(
        edits[0]["range"]["start"],
        json!({ "line": 0, "character": 0 })
    );
    let formatted = apply(messy, &edits);
    assert!(
        formatted.starts_with("{\n  \"id\": \"tidy\",\n  \"nodes\": [\n"),
        "{formatted}"
    );

    let uri = editor.uri("tidy.flow.json");
    editor
        .client
        .change(&uri, 2, json!([{ "text": formatted }]));
    assert_eq!(
        editor.request("textDocument/formatting", params.clone()),
        Value::Null
    );
    editor
        .client
        .change(&uri, 3, json!([{ "text": "{ not json" }]));
    assert_eq!(
        editor.request("textDocument/formatting", params),
        Value::Null
    );
}

#[test]
fn document_symbols_outline_the_graph_and_objects_fold() {
    let mut editor = start(false, true);
    editor.open("demo.flow.json", BROKEN);
    let document = json!({ "textDocument": { "uri": editor.uri("demo.flow.json") } });
    let symbols = editor.request("textDocument/documentSymbol", document.clone());
    let flow = &symbols[0];
    assert_eq!(flow["name"], "demo");
    let nodes: Vec<&str> = flow["children"]
        .as_array()
        .map(|children| {
            children
                .iter()
                .filter_map(|child| child["name"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(nodes, ["start", "planner", "summarizer", "end"]);
    let folds = editor.request("textDocument/foldingRange", document);
    let folds = folds.as_array().cloned().unwrap_or_default();
    assert!(
        folds
            .iter()
            .any(|fold| fold["startLine"] == 0 && fold["endLine"] == 8),
        "the whole flow folds: {folds:?}"
    );
}

#[test]
fn closing_a_document_clears_its_diagnostics() {
    let mut editor = start(false, true);
    let uri = editor.uri("demo.flow.json");
    editor.open("demo.flow.json", BROKEN);
    editor.client.notify(
        "textDocument/didClose",
        json!({ "textDocument": { "uri": uri } }),
    );
    let cleared = editor
        .client
        .wait_for_notification("textDocument/publishDiagnostics", |params| {
            params["uri"] == json!(uri) && params["diagnostics"] == json!([])
        });
    assert!(cleared.get("version").is_none_or(Value::is_null));
}

#[test]
fn a_changed_codexos_toml_rechecks_open_flows_with_progress() {
    let flow = r#"{ "id": "w", "nodes": [
  { "id": "start", "type": "entry", "next": "search" },
  { "id": "search", "type": "tool", "tool": "WebSearch", "next": "end" },
  { "id": "end", "type": "exit" }
] }"#;
    let mut editor = start(false, true);
    let uri = editor.uri("w.flow.json");
    let diagnostics = editor.open("w.flow.json", flow);
    assert_eq!(
        with_code(&diagnostics, "unknown-tool").len(),
        1,
        "{diagnostics:?}"
    );
    let config = editor.workspace.path().join("codexos.toml");
    std::fs::write(
        &config,
        "[tools.declared]\nWebSearch = \"Search the web\"\n",
    )
    .expect("write config");
    editor.client.notify(
        "workspace/didChangeWatchedFiles",
        json!({ "changes": [{ "uri": file_uri(&config), "type": 1 }] }),
    );
    // Earlier runs may still publish the old findings; the re-check publishes none.
    editor
        .client
        .wait_for_notification("textDocument/publishDiagnostics", |params| {
            params["uri"] == json!(uri) && params["diagnostics"] == json!([])
        });
    let progress = editor
        .client
        .wait_for_notification("$/progress", |params| params["value"]["kind"] == "end");
    assert!(
        progress["value"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("1 open flow"))
    );
    assert!(
        editor
            .client
            .server_requests
            .iter()
            .any(|request| request["method"] == "client/registerCapability"),
        "the server watches codexos.toml"
    );

    std::fs::write(&config, "[tools\n").expect("write a broken config");
    editor.client.notify(
        "workspace/didChangeConfiguration",
        json!({ "settings": {} }),
    );
    let message = editor
        .client
        .wait_for_notification("window/showMessage", |params| params["type"] == 1);
    let text = message["message"].as_str().unwrap_or_default();
    assert!(
        text.contains("codexos.toml:1:7: invalid configuration"),
        "{text}"
    );
}

#[test]
fn a_new_plug_in_tool_file_makes_flows_using_it_check_clean() {
    let flow = r#"{ "id": "p", "nodes": [
  { "id": "start", "type": "entry", "next": "lint" },
  { "id": "lint", "type": "tool", "tool": "lint", "next": "end" },
  { "id": "end", "type": "exit" }
] }"#;
    let mut editor = start(false, true);
    let uri = editor.uri("p.flow.json");
    let diagnostics = editor.open("p.flow.json", flow);
    assert_eq!(
        with_code(&diagnostics, "unknown-tool").len(),
        1,
        "{diagnostics:?}"
    );
    let tool = editor.workspace.path().join("tools/lint.tool.json");
    std::fs::create_dir_all(tool.parent().expect("tools folder")).expect("mkdir tools");
    std::fs::write(
        &tool,
        r#"{ "description": "Runs the linter", "command": ["true"], "input_schema": {} }"#,
    )
    .expect("write tool");
    editor.client.notify(
        "workspace/didChangeWatchedFiles",
        json!({ "changes": [{ "uri": file_uri(&tool), "type": 1 }] }),
    );
    editor
        .client
        .wait_for_notification("textDocument/publishDiagnostics", |params| {
            params["uri"] == json!(uri) && params["diagnostics"] == json!([])
        });
}

#[test]
fn the_server_logs_to_the_client_and_to_a_file_under_the_workspace() {
    let mut editor = start(false, true);
    let uri = editor.uri("never-opened.flow.json");
    editor.client.change(&uri, 2, json!([{ "text": "{}" }]));
    let log = editor
        .client
        .wait_for_notification("window/logMessage", |params| {
            params["message"]
                .as_str()
                .is_some_and(|m| m.contains("which is not open"))
        });
    assert_eq!(log["type"], 2, "a warning");
    let file = editor.workspace.path().join(".codexos/logs/lsp.log");
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        text.contains("codexos") && text.contains("starting"),
        "log file: {text}"
    );
    assert!(text.contains("which is not open"), "log file: {text}");
}

#[test]
fn shutdown_then_exit_ends_the_process_with_status_0() {
    let mut editor = start(false, true);
    editor.open("demo.flow.json", BROKEN);
    let status = editor.client.shutdown_and_exit();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn exit_without_shutdown_ends_the_process_with_status_1() {
    let mut editor = start(false, true);
    editor.client.notify("exit", Value::Null);
    assert_eq!(editor.client.wait_for_exit().code(), Some(1));
}

#[test]
fn fix_all_applies_every_preferred_fix_in_one_edit() {
    let text = BROKEN.replace(r#""next": "end""#, r#""next": "edn""#);
    let mut editor = start(false, true);
    let diagnostics = editor.open("demo.flow.json", &text);
    assert_eq!(
        with_code(&diagnostics, "unknown-node").len(),
        2,
        "{diagnostics:?}"
    );
    let whole =
        json!({ "start": { "line": 0, "character": 0 }, "end": { "line": 99, "character": 0 } });
    let actions = editor.request(
        "textDocument/codeAction",
        json!({
            "textDocument": { "uri": editor.uri("demo.flow.json") },
            "range": whole,
            "context": { "diagnostics": [], "only": ["source.fixAll"] }
        }),
    );
    let actions = actions.as_array().cloned().unwrap_or_default();
    assert_eq!(actions.len(), 1, "only the fix-all action: {actions:?}");
    assert_eq!(actions[0]["kind"], "source.fixAll.codexos");
    let edits = actions[0]["edit"]["documentChanges"][0]["edits"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        apply(&text, &edits),
        BROKEN.replace("sumarizer", "summarizer")
    );
}

#[test]
fn switching_workspace_folders_reads_the_new_roots_codexos_toml() {
    let flow = r#"{ "id": "w", "nodes": [
  { "id": "start", "type": "entry", "next": "search" },
  { "id": "search", "type": "tool", "tool": "WebSearch", "next": "end" },
  { "id": "end", "type": "exit" }
] }"#;
    let mut editor = start(false, true);
    let uri = editor.uri("w.flow.json");
    let diagnostics = editor.open("w.flow.json", flow);
    assert_eq!(with_code(&diagnostics, "unknown-tool").len(), 1);
    let other = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        other.path().join("codexos.toml"),
        "[tools.declared]\nWebSearch = \"Search the web\"\n",
    )
    .expect("write config");
    let event = json!({
        "event": {
            "added": [{ "uri": file_uri(other.path()), "name": "other" }],
            "removed": [{ "uri": file_uri(editor.workspace.path()), "name": "workspace" }]
        }
    });
    editor
        .client
        .notify("workspace/didChangeWorkspaceFolders", event);
    editor
        .client
        .wait_for_notification("textDocument/publishDiagnostics", |params| {
            params["uri"] == json!(uri) && params["diagnostics"] == json!([])
        });
}

#[test]
fn the_fix_for_a_missing_secret_is_a_command_to_add_it_to_the_vault() {
    let flow = r#"{ "id": "s", "nodes": [
  { "id": "start", "type": "entry", "next": "key" },
  { "id": "key", "type": "vault", "key": "github_token", "as": "token", "next": "end" },
  { "id": "end", "type": "exit" }
] }"#;
    let mut editor = start(false, true);
    let diagnostics = editor.open("s.flow.json", flow);
    let missing = with_code(&diagnostics, "missing-secret");
    assert_eq!(missing.len(), 1, "{diagnostics:?}");
    let actions = editor.request(
        "textDocument/codeAction",
        json!({
            "textDocument": { "uri": editor.uri("s.flow.json") },
            "range": missing[0]["range"],
            "context": { "diagnostics": [missing[0]] }
        }),
    );
    let action = &actions[0];
    assert_eq!(action["kind"], "quickfix.codexos.missing-secret");
    assert_eq!(action["command"]["command"], "codexos.vault.put");
    assert_eq!(
        action["command"]["arguments"],
        json!([{ "key": "github_token" }])
    );
    assert!(action["edit"].is_null(), "a command, not an edit: {action}");
}
