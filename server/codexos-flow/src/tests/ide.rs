//! Completion, hover, navigation, rename, outline and formatting, each at a `$0` cursor.

use expect_test::{Expect, expect};

use super::{apply, catalog, cursor};
use crate::{FlowFile, RenameError};

fn complete(fixture: &str, expect: Expect) {
    let (src, offset) = cursor(fixture);
    let file = FlowFile::parse(&src);
    let rendered: Vec<String> = file
        .completions(offset, &catalog())
        .iter()
        .map(|c| {
            let replaced = &src[c.edit.range.as_usize()];
            format!(
                "{} [{:?}] `{}` -> `{}`",
                c.label, c.kind, replaced, c.edit.new_text
            )
        })
        .collect();
    expect.assert_eq(&(rendered.join("\n") + "\n"));
}

fn hover(fixture: &str, expect: Expect) {
    let (src, offset) = cursor(fixture);
    let file = FlowFile::parse(&src);
    let actual = match file.hover(offset, &catalog()) {
        Some(h) => format!("`{}`\n{}\n", &src[h.range.as_usize()], h.markdown),
        None => "no hover\n".into(),
    };
    expect.assert_eq(&actual);
}

const FLOW: &str = r#"{
  "id": "demo",
  "nodes": [
    { "id": "start", "type": "entry", "next": "plan" },
    { "id": "plan", "type": "llm", "model": "gpt-4", "prompt": "{{input}}", "next": "act" },
    { "id": "act", "type": "tool", "tool": "read_file", "args": { "path": "{{nodes.plan.output}}" }, "next": "end" },
    { "id": "end", "type": "exit", "output": "{{nodes.act.output}}" }
  ]
}"#;

/// FLOW with `$0` placed right after the first occurrence of `needle`.
fn at(needle: &str) -> String {
    let i = FLOW.find(needle).expect("needle in FLOW") + needle.len();
    format!("{}$0{}", &FLOW[..i], &FLOW[i..])
}

#[test]
fn completion_offers_node_ids_inside_next_without_the_node_itself() {
    complete(
        &at(r#""next": "a"#),
        expect![[r#"
            start [NodeId] `act` -> `start`
            act [NodeId] `act` -> `act`
            end [NodeId] `act` -> `end`
        "#]],
    );
}

#[test]
fn completion_offers_node_types_in_an_unterminated_string() {
    complete(
        r#"{ "id": "x", "nodes": [
  { "id": "a", "type": "ll$0
] }"#,
        expect![[r#"
            entry [NodeType] `ll` -> `entry"`
            llm [NodeType] `ll` -> `llm"`
            tool [NodeType] `ll` -> `tool"`
            rag [NodeType] `ll` -> `rag"`
            vault [NodeType] `ll` -> `vault"`
            condition [NodeType] `ll` -> `condition"`
            reflect [NodeType] `ll` -> `reflect"`
            flow [NodeType] `ll` -> `flow"`
            exit [NodeType] `ll` -> `exit"`
        "#]],
    );
}

#[test]
fn completion_offers_the_missing_fields_of_the_node_type() {
    complete(
        r#"{ "id": "x", "nodes": [
  { "id": "a", "type": "rag", $0 }
] }"#,
        expect![[r#"
            description [Field] `` -> `"description": "$1"`
            query [Field] `` -> `"query": "$1"`
            k [Field] `` -> `"k": ${1:1}`
            retry [Field] `` -> `"retry": { "attempts": ${1:3}, "backoff_ms": ${2:500} }`
            timeout_ms [Field] `` -> `"timeout_ms": ${1:1}`
            next [Field] `` -> `"next": "$1"`
            ui [Field] `` -> `"ui": { "x": ${1:0}, "y": ${2:0} }`
        "#]],
    );
}

#[test]
fn completion_inside_a_key_replaces_the_whole_key() {
    complete(
        r#"{ "id": "x", "nodes": [
  { "id": "a", "type": "vault", "ke$0": "x" }
] }"#,
        expect![[r#"
            description [Field] `"ke"` -> `"description"`
            key [Field] `"ke"` -> `"key"`
            as [Field] `"ke"` -> `"as"`
            next [Field] `"ke"` -> `"next"`
            ui [Field] `"ke"` -> `"ui"`
        "#]],
    );
}

#[test]
fn completion_offers_tools_models_and_vault_keys() {
    complete(
        &at(r#""tool": "re"#),
        expect![[r#"
            read_file [Tool] `read_file` -> `read_file`
            write_file [Tool] `read_file` -> `write_file`
            search_workspace [Tool] `read_file` -> `search_workspace`
            shell [Tool] `read_file` -> `shell`
            python [Tool] `read_file` -> `python`
            http_fetch [Tool] `read_file` -> `http_fetch`
        "#]],
    );
    let models = FlowFile::parse(FLOW);
    let offset = FLOW.find("gpt-4").unwrap() as u32;
    let labels: Vec<String> = models
        .completions(offset, &catalog())
        .into_iter()
        .map(|c| c.label)
        .collect();
    assert!(labels.contains(&"claude-3-opus".to_owned()) && labels.contains(&"local".to_owned()));
    complete(
        r#"{ "id": "x", "nodes": [ { "id": "k", "type": "vault", "key": "$0" } ] }"#,
        expect![[r#"
            openai_key [VaultKey] `` -> `openai_key`
        "#]],
    );
}

#[test]
fn completion_inside_a_template_offers_what_runs_before() {
    complete(
        &at(r#""output": "{{nodes."#),
        expect![[r#"
            input [TemplateRef] `nodes.act.output` -> `input`
            context [TemplateRef] `nodes.act.output` -> `context`
            nodes.start.output [TemplateRef] `nodes.act.output` -> `nodes.start.output`
            nodes.plan.output [TemplateRef] `nodes.act.output` -> `nodes.plan.output`
            nodes.act.output [TemplateRef] `nodes.act.output` -> `nodes.act.output`
            vault.openai_key [TemplateRef] `nodes.act.output` -> `vault.openai_key`
        "#]],
    );
    complete(
        r#"{ "id": "x", "nodes": [ { "id": "a", "type": "entry", "next": "b" }, { "id": "b", "type": "rag", "query": "{{ in$0", "next": "a" } ] }"#,
        expect![[r#"
            input [TemplateRef] `in` -> `input}}`
            context [TemplateRef] `in` -> `context}}`
            nodes.a.output [TemplateRef] `in` -> `nodes.a.output}}`
            nodes.b.output [TemplateRef] `in` -> `nodes.b.output}}`
            vault.openai_key [TemplateRef] `in` -> `vault.openai_key}}`
        "#]],
    );
}

#[test]
fn completion_in_the_nodes_list_offers_whole_nodes() {
    let (src, offset) = cursor(r#"{ "id": "x", "nodes": [ $0 ] }"#);
    let items = FlowFile::parse(&src).completions(offset, &catalog());
    let reflect = items.iter().find(|c| c.label == "reflect node").unwrap();
    assert!(reflect.snippet);
    expect![[r#"{ "id": "${1:reflect}", "type": "reflect", "target": "$3", "max_iterations": ${4:1}, "next": "$2" }"#]]
        .assert_eq(&reflect.edit.new_text);
}

#[test]
fn hover_explains_node_types_fields_tools_and_references() {
    hover(
        &at(r#""type": "ll"#),
        expect![[r#"
            `"llm"`
            **llm** node

            Calls a language model with `system` and `prompt` (templates). `model` may be a list: a fallback chain, tried in order. `tools` lets the model call the flow's tools.
        "#]],
    );
    hover(
        &at(r#""mod"#),
        expect![[r#"
            `"model"`
            **`model`** (llm node, required)

            The model to call, or a list: a fallback chain tried in order. The local model ends every default chain.
        "#]],
    );
    hover(
        &at(r#""tool": "read_"#),
        expect![[r#"
            `"read_file"`
            **tool `read_file`**

            Read a file inside the workspace
        "#]],
    );
    hover(
        &at(r#"{{nodes.pl"#),
        expect![[r#"
            `{{nodes.plan.output}}`
            **`plan`** — llm node

            `model`: "gpt-4"

            → act
        "#]],
    );
}

#[test]
fn hover_explains_retry_and_timeout_and_the_members_of_retry() {
    let src = r#"{ "id": "a", "nodes": [
  { "id": "plan", "type": "llm", "model": "local", "timeout_ms": 30000,
    "retry": { "attempts": 3, "backoff_ms": 500, "on": ["server"] } }
] }"#;
    let at = |needle: &str| {
        let i = src.find(needle).expect("needle in src") + 2;
        format!("{}$0{}", &src[..i], &src[i..])
    };
    hover(
        &at(r#""timeout_ms""#),
        expect![[r#"
            `"timeout_ms"`
            **`timeout_ms`** (llm node)

            How long one attempt of the node may take, in milliseconds (1 to 3,600,000); a slower attempt is stopped and fails with `timeout` (which `retry` may try again). Without it, only the run's own limits apply.
        "#]],
    );
    hover(
        &at(r#""retry""#),
        expect![[r#"
            `"retry"`
            **`retry`** (llm node)

            Tries the node again when an attempt fails for a passing reason: `{"attempts": 3, "backoff_ms": 500, "on": ["timeout", "rate_limit", "server", "network"]}` (those are the defaults). The wait doubles after each failed attempt; every attempt is in the run's trace.
        "#]],
    );
    hover(
        &at(r#""backoff_ms""#),
        expect![[r#"
            `"backoff_ms"`
            **`backoff_ms`** (`retry`)

            The wait before the second attempt, in milliseconds (0 to 60,000, default 500); it doubles before each further attempt.
        "#]],
    );
}

#[test]
fn definition_jumps_from_a_reference_or_a_template_to_the_id() {
    let file = FlowFile::parse(FLOW);
    let plan_decl = FLOW.find(r#""plan", "type""#).unwrap() as u32;
    let from_next = FLOW.find(r#""next": "plan""#).unwrap() as u32 + 10;
    let target = file.definition(from_next).unwrap();
    assert_eq!(
        (target.start, &FLOW[target.as_usize()]),
        (plan_decl, "\"plan\"")
    );
    let from_template = FLOW.find("nodes.plan.output").unwrap() as u32 + 7;
    assert_eq!(file.definition(from_template), Some(target));
    assert_eq!(file.definition(FLOW.find("gpt-4").unwrap() as u32), None);
}

#[test]
fn references_list_every_use_of_a_node_id() {
    let file = FlowFile::parse(FLOW);
    let offset = FLOW.find(r#""id": "plan""#).unwrap() as u32 + 8;
    let found: Vec<&str> = file
        .references(offset, true)
        .iter()
        .map(|r| &FLOW[r.as_usize()])
        .collect();
    assert_eq!(found, ["\"plan\"", "\"plan\"", "plan"]);
    assert_eq!(file.references(offset, false).len(), 2);
}

#[test]
fn rename_changes_the_id_its_edges_and_its_templates() {
    let file = FlowFile::parse(FLOW);
    let offset = FLOW.find("nodes.plan.output").unwrap() as u32 + 7;
    assert_eq!(
        file.prepare_rename(offset).map(|r| &FLOW[r.as_usize()]),
        Some("plan")
    );
    let edits = file.rename(offset, "planner").unwrap();
    expect![[r#"
        {
          "id": "demo",
          "nodes": [
            { "id": "start", "type": "entry", "next": "planner" },
            { "id": "planner", "type": "llm", "model": "gpt-4", "prompt": "{{input}}", "next": "act" },
            { "id": "act", "type": "tool", "tool": "read_file", "args": { "path": "{{nodes.planner.output}}" }, "next": "end" },
            { "id": "end", "type": "exit", "output": "{{nodes.act.output}}" }
          ]
        }"#]]
    .assert_eq(&apply(FLOW, &edits));
    assert_eq!(
        file.rename(offset, "act"),
        Err(RenameError::AlreadyExists("act".into()))
    );
    assert_eq!(
        file.rename(offset, "no spaces"),
        Err(RenameError::InvalidName("no spaces".into()))
    );
    let on_model = FLOW.find("gpt-4").unwrap() as u32;
    assert_eq!(file.rename(on_model, "x"), Err(RenameError::NotANodeId));
}

#[test]
fn symbols_outline_the_graph() {
    let symbols = FlowFile::parse(FLOW).symbols();
    let outline: Vec<String> = symbols[0]
        .children
        .iter()
        .map(|s| format!("{} ({})", s.name, s.detail.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(symbols[0].name, "demo");
    expect![[r#"start (entry → plan), plan (llm → act), act (tool → end), end (exit)"#]]
        .assert_eq(&outline.join(", "));
}

#[test]
fn formatting_orders_keys_and_indents_by_two_spaces() {
    let src = r#"{"nodes":[{"next":"b","type":"entry","id":"a"},{"ui":{"y":2,"x":1},"model":["gpt-4","local"],"id":"b","type":"llm","custom":true,"next":"c","prompt":"hi \"there\" {{input}}"},{"type":"exit","id":"c"}],"id":"f","extra":{"z":1}}"#;
    let formatted = FlowFile::parse(src).format().unwrap();
    expect![[r#"
        {
          "id": "f",
          "nodes": [
            {
              "id": "a",
              "type": "entry",
              "next": "b"
            },
            {
              "id": "b",
              "type": "llm",
              "model": ["gpt-4", "local"],
              "prompt": "hi \"there\" {{input}}",
              "next": "c",
              "ui": { "y": 2, "x": 1 },
              "custom": true
            },
            {
              "id": "c",
              "type": "exit"
            }
          ],
          "extra": { "z": 1 }
        }
    "#]]
    .assert_eq(&formatted);
    assert_eq!(
        FlowFile::parse(&formatted).format().unwrap(),
        formatted,
        "formatting is idempotent"
    );
    assert!(FlowFile::parse(r#"{"id": }"#).format().is_err());
}

#[test]
fn folding_ranges_cover_multiline_objects_and_arrays() {
    let ranges = FlowFile::parse(FLOW).folding_ranges();
    assert_eq!(
        ranges.len(),
        2,
        "the root and the nodes list span lines; each node is one line"
    );
}
