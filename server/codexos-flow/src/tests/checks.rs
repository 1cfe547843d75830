//! One broken flow per finding code, with the exact range each finding points at.

use expect_test::{Expect, expect};

use super::{apply, catalog, render_findings};
use crate::{Code, FlowFile, StaticCatalog};

fn check(src: &str, expect: Expect) {
    let file = FlowFile::parse(src);
    expect.assert_eq(&render_findings(src, &file.findings(&catalog())));
}

fn fix(src: &str, code: Code, expect: Expect) {
    let file = FlowFile::parse(src);
    let findings = file.findings(&catalog());
    let finding = findings
        .iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| panic!("no {code} finding in {findings:#?}"));
    let fix = finding.fixes.first().expect("the finding has a fix");
    expect.assert_eq(&format!("{}\n{}", fix.title, apply(src, &fix.edits)));
}

#[test]
fn the_seed_example_has_only_warnings() {
    check(
        r#"{
  "id": "agent-1",
  "nodes": [
    { "id": "start", "type": "entry", "next": "planner" },
    { "id": "planner", "type": "llm", "model": "gpt-4", "next": "tool_selector" },
    { "id": "tool_selector", "type": "tool", "tool": "WebSearch", "next": "summarizer" },
    { "id": "summarizer", "type": "llm", "model": "claude-3-opus", "next": "end" },
    { "id": "end", "type": "exit" }
  ]
}"#,
        expect![[r#"
            6:54-6:65 warning[unknown-tool] `"WebSearch"`: no known tool is called `WebSearch` (it must come from `tools/` or an MCP server at run time)
        "#]],
    );
}

#[test]
fn invalid_json_points_at_the_parser_position() {
    check(
        r#"{
  "id": "a",
  "nodes": [
    { "id": "start" "type": "entry" }
  ]
}"#,
        expect![[r#"
            3:3-3:10 error[missing-exit] `"nodes"`: the flow has no `exit` node: a run can never finish
            4:13-4:20 error[dead-end] `"start"`: entry node `start` leads nowhere: give it a `next` (only exit nodes may end a run)
            4:21-4:21 error[invalid-json] ``: expected `,` between members
        "#]],
    );
}

#[test]
fn schema_reports_missing_and_mistyped_and_unknown_fields() {
    check(
        r#"{
  "id": "a",
  "nodes": [
    { "id": "start", "type": "entry", "next": "think" },
    { "id": "think", "type": "llm", "temperature": "hot", "max_tokens": 0, "next": "end", "promt": "hi" },
    { "id": "end", "type": "exit" },
    { "type": "tol", "id": "x" }
  ]
}"#,
        expect![[r#"
            5:13-5:20 error[schema] `"think"`: llm node `think` is missing `model`
            5:52-5:57 error[schema] `"hot"`: `temperature` must be a number, found a string
            5:73-5:74 error[schema] `0`: `max_tokens` must be between 1 and 1000000, found 0
            5:91-5:98 warning[schema] `"promt"`: unknown field `promt` in a llm node: did you mean `prompt`?
            7:15-7:20 error[schema] `"tol"`: unknown node type `tol`: expected one of entry, llm, tool, rag, vault, condition, reflect, flow, exit (did you mean `tool`?)
            7:28-7:31 warning[unreachable-node] `"x"`: node `x` is never reached from the entry
        "#]],
    );
}

#[test]
fn a_flow_that_is_not_an_object_is_a_schema_error() {
    check(
        "[1, 2]",
        expect![[r#"
            1:1-1:7 error[schema] `[1, 2]`: a flow is a JSON object with `id` and `nodes`, found an array
        "#]],
    );
}

#[test]
fn duplicate_ids_point_at_the_second_and_relate_to_the_first() {
    let src = r#"{
  "id": "a",
  "nodes": [
    { "id": "start", "type": "entry", "next": "end" },
    { "id": "end", "type": "exit" },
    { "id": "end", "type": "exit" }
  ]
}"#;
    check(
        src,
        expect![[r#"
            6:13-6:18 error[duplicate-id] `"end"`: duplicate node id `end`: ids must be unique in a flow
              related 5:13-5:18: `end` is first defined here
            6:13-6:18 warning[unreachable-node] `"end"`: node `end` is never reached from the entry
        "#]],
    );
    fix(
        src,
        Code::DuplicateId,
        expect![[r#"
            Rename this node to `end_2`
            {
              "id": "a",
              "nodes": [
                { "id": "start", "type": "entry", "next": "end" },
                { "id": "end", "type": "exit" },
                { "id": "end_2", "type": "exit" }
              ]
            }"#]],
    );
}

#[test]
fn unknown_node_suggests_the_closest_id() {
    let src = r#"{
  "id": "a",
  "nodes": [
    { "id": "start", "type": "entry", "next": "planer" },
    { "id": "planner", "type": "llm", "model": "gpt-4", "next": ["end", "nowhere", ""] },
    { "id": "end", "type": "exit" }
  ]
}"#;
    check(
        src,
        expect![[r#"
            4:47-4:55 error[unknown-node] `"planer"`: `next` names `planer`, but no node has that id: did you mean `planner`?
            5:13-5:22 warning[unreachable-node] `"planner"`: node `planner` is never reached from the entry
            5:73-5:82 error[unknown-node] `"nowhere"`: `next` names `nowhere`, but no node has that id
            5:84-5:86 error[unknown-node] `""`: `next` is empty: name the node that runs next
            6:13-6:18 warning[unreachable-node] `"end"`: node `end` is never reached from the entry
        "#]],
    );
    fix(
        src,
        Code::UnknownNode,
        expect![[r#"
            Change to `planner`
            {
              "id": "a",
              "nodes": [
                { "id": "start", "type": "entry", "next": "planner" },
                { "id": "planner", "type": "llm", "model": "gpt-4", "next": ["end", "nowhere", ""] },
                { "id": "end", "type": "exit" }
              ]
            }"#]],
    );
}

#[test]
fn a_flow_without_entry_or_exit_says_so_on_nodes() {
    check(
        r#"{ "id": "a", "nodes": [] }"#,
        expect![[r#"
            1:14-1:21 error[missing-entry] `"nodes"`: the flow has no `entry` node: a run has nowhere to start
            1:14-1:21 error[missing-exit] `"nodes"`: the flow has no `exit` node: a run can never finish
        "#]],
    );
}

#[test]
fn a_second_entry_is_reported_with_the_first() {
    check(
        r#"{ "id": "a", "nodes": [
  { "id": "one", "type": "entry", "next": "end" },
  { "id": "two", "type": "entry", "next": "end" },
  { "id": "end", "type": "exit" }
] }"#,
        expect![[r#"
            3:11-3:16 error[multiple-entry] `"two"`: a second `entry` node, `two`: a flow has exactly one entry
              related 2:11-2:16: the first entry is here
        "#]],
    );
}

#[test]
fn missing_exit_fix_adds_an_exit_and_wires_dead_ends() {
    let src = r#"{
  "id": "a",
  "nodes": [
    { "id": "start", "type": "entry", "next": "answer" },
    {
      "id": "answer",
      "type": "llm",
      "model": "local"
    }
  ]
}"#;
    check(
        src,
        expect![[r#"
            3:3-3:10 error[missing-exit] `"nodes"`: the flow has no `exit` node: a run can never finish
            6:13-6:21 error[dead-end] `"answer"`: llm node `answer` leads nowhere: give it a `next` (only exit nodes may end a run)
        "#]],
    );
    fix(
        src,
        Code::MissingExit,
        expect![[r#"
            Add an exit node `end` and connect dead ends to it
            {
              "id": "a",
              "nodes": [
                { "id": "start", "type": "entry", "next": "answer" },
                {
                  "id": "answer",
                  "type": "llm",
                  "model": "local",
                  "next": "end"
                },
                { "id": "end", "type": "exit" }
              ]
            }"#]],
    );
}

#[test]
fn dead_end_fix_connects_the_node_to_the_exit() {
    let src = r#"{ "id": "a", "nodes": [
  { "id": "start", "type": "entry", "next": "search" },
  { "id": "search", "type": "rag", "query": "{{input}}" },
  { "id": "done", "type": "exit" }
] }"#;
    check(
        src,
        expect![[r#"
            3:11-3:19 error[dead-end] `"search"`: rag node `search` leads nowhere: give it a `next` (only exit nodes may end a run)
            4:11-4:17 warning[unreachable-node] `"done"`: node `done` is never reached from the entry
        "#]],
    );
    fix(
        src,
        Code::DeadEnd,
        expect![[r#"
            Continue with `done`
            { "id": "a", "nodes": [
              { "id": "start", "type": "entry", "next": "search" },
              { "id": "search", "type": "rag", "query": "{{input}}", "next": "done" },
              { "id": "done", "type": "exit" }
            ] }"#]],
    );
}

#[test]
fn a_loop_without_a_decision_never_ends() {
    check(
        r#"{ "id": "a", "nodes": [
  { "id": "start", "type": "entry", "next": "a1" },
  { "id": "a1", "type": "llm", "model": "local", "next": "a2" },
  { "id": "a2", "type": "llm", "model": "local", "next": ["a1", "end"] },
  { "id": "end", "type": "exit" }
] }"#,
        expect![[r#"
            3:11-3:15 error[cycle-without-exit] `"a1"`: the loop `a1` → `a2` never ends: no `condition` or `reflect` node in it can decide to leave
              related 4:11-4:15: `a2` is part of the loop
        "#]],
    );
}

#[test]
fn a_loop_with_no_way_out_never_ends_even_with_a_condition() {
    check(
        r#"{ "id": "a", "nodes": [
  { "id": "start", "type": "entry", "next": "ask" },
  { "id": "ask", "type": "condition", "if": "{{input}} == \"x\"", "then": "ask", "else": "ask" },
  { "id": "end", "type": "exit" }
] }"#,
        expect![[r#"
            3:11-3:16 error[cycle-without-exit] `"ask"`: the loop `ask` never ends: no edge leads out of it to an exit
            4:11-4:16 warning[unreachable-node] `"end"`: node `end` is never reached from the entry
        "#]],
    );
}

#[test]
fn a_reflect_loop_is_a_bounded_way_out() {
    check(
        r#"{ "id": "a", "nodes": [
  { "id": "start", "type": "entry", "next": "draft" },
  { "id": "draft", "type": "llm", "model": "local", "prompt": "{{input}}", "next": "critic" },
  { "id": "critic", "type": "reflect", "target": "draft", "max_iterations": 3, "until": "{{nodes.draft.output}} contains \"OK\"", "next": "end" },
  { "id": "end", "type": "exit", "output": "{{nodes.draft.output}}" }
] }"#,
        expect![""],
    );
}

#[test]
fn unknown_tool_and_model_suggest_close_names() {
    let src = r#"{ "id": "a", "nodes": [
  { "id": "start", "type": "entry", "next": "t" },
  { "id": "t", "type": "tool", "tool": "read_fil", "next": "m" },
  { "id": "m", "type": "llm", "model": ["gpt4", "ollama/llama3.2", "mystery"], "next": "end" },
  { "id": "end", "type": "exit" }
] }"#;
    check(
        src,
        expect![[r#"
            3:40-3:50 warning[unknown-tool] `"read_fil"`: no known tool is called `read_fil`: did you mean `read_file`?
            4:41-4:47 warning[unknown-model] `"gpt4"`: no configured provider knows the model `gpt4`: did you mean `gpt-4`?
            4:68-4:77 warning[unknown-model] `"mystery"`: no configured provider knows the model `mystery` (write `provider/model`, e.g. `ollama/llama3.2`, to route it)
        "#]],
    );
    fix(
        src,
        Code::UnknownTool,
        expect![[r#"
            Change to `read_file`
            { "id": "a", "nodes": [
              { "id": "start", "type": "entry", "next": "t" },
              { "id": "t", "type": "tool", "tool": "read_file", "next": "m" },
              { "id": "m", "type": "llm", "model": ["gpt4", "ollama/llama3.2", "mystery"], "next": "end" },
              { "id": "end", "type": "exit" }
            ] }"#]],
    );
}

#[test]
fn missing_secret_offers_to_add_it_to_the_vault() {
    let src = r#"{ "id": "a", "nodes": [
  { "id": "start", "type": "entry", "next": "k" },
  { "id": "k", "type": "vault", "key": "github_token", "as": "gh", "next": "call" },
  { "id": "call", "type": "tool", "tool": "http_fetch", "args": { "auth": "{{vars.gh}} {{vault.openai_key}} {{vault.nope}}" }, "next": "end" },
  { "id": "end", "type": "exit" }
] }"#;
    check(
        src,
        expect![[r#"
            3:40-3:54 warning[missing-secret] `"github_token"`: the vault has no secret `github_token`: the run will fail at this node until it is added
            4:109-4:123 warning[missing-secret] `{{vault.nope}}`: the vault has no secret `nope`: the run will fail at this node until it is added
        "#]],
    );
    let file = crate::FlowFile::parse(src);
    let findings = file.findings(&catalog());
    let command = findings[0].fixes[0].command.as_ref().unwrap();
    assert_eq!(command.command, "codexos.vault.put");
    assert_eq!(
        command.arguments,
        vec![serde_json::json!({"key": "github_token"})]
    );
}

#[test]
fn template_refs_must_name_nodes_that_run_before() {
    check(
        r#"{ "id": "a", "nodes": [
  { "id": "start", "type": "entry", "next": "first" },
  { "id": "first", "type": "llm", "model": "local", "prompt": "{{nodes.second.output}} {{nodes.frist.output}}", "next": "second" },
  { "id": "second", "type": "llm", "model": "local", "prompt": "{{ nodes.first.output }} {{vars.x}} {{oops}} {{input", "next": "end" },
  { "id": "end", "type": "exit", "output": "{{nodes.second.output}}" }
] }"#,
        expect![[r#"
            3:64-3:87 error[unknown-template-ref] `{{nodes.second.output}}`: `{{nodes.second.output}}`: node `second` does not run before `first`, so it has no output yet
              related 4:11-4:19: `second` is defined here
            3:88-3:110 error[unknown-template-ref] `{{nodes.frist.output}}`: `{{nodes.frist.output}}`: no node has the id `frist`: did you mean `first`?
            4:90-4:100 error[unknown-template-ref] `{{vars.x}}`: `{{vars.x}}`: no vault node defines `x` (set `"as": "x"` on one)
            4:101-4:109 error[unknown-template-ref] `{{oops}}`: unknown template reference `oops`: expected `input`, `context`, `nodes.<id>.output`, `vault.<key>` or `vars.<name>`
            4:110-4:117 error[unknown-template-ref] `{{input`: `{{` is never closed with `}}`
        "#]],
    );
}

/// A catalog that knows one flow file, `helper.flow.json`, and a workspace whose root is the
/// flow's folder's parent.
struct Files;

impl crate::Catalog for Files {
    fn tools(&self) -> &[crate::Entry] {
        &[]
    }
    fn models(&self) -> &[crate::Entry] {
        &[]
    }
    fn vault_keys(&self) -> &[crate::Entry] {
        &[]
    }
    fn flow_file(&self, path: &str) -> crate::FlowFileStatus {
        match path {
            "helper.flow.json" => crate::FlowFileStatus::Found,
            _ if path.starts_with("../..") => crate::FlowFileStatus::OutsideWorkspace,
            _ => crate::FlowFileStatus::Missing,
        }
    }
}

#[test]
fn unknown_flow_is_reported_when_the_catalog_knows_the_files() {
    let src = r#"{ "id": "a", "nodes": [
  { "id": "start", "type": "entry", "next": "sub" },
  { "id": "sub", "type": "flow", "flow": "helpr.flow.json", "next": "sub2" },
  { "id": "sub2", "type": "flow", "flow": "helper.flow.json", "next": "end" },
  { "id": "end", "type": "exit" }
] }"#;
    let file = FlowFile::parse(src);
    expect![[r#"
        3:42-3:59 error[unknown-flow] `"helpr.flow.json"`: no flow file at `helpr.flow.json` (relative to this file)
    "#]]
    .assert_eq(&render_findings(src, &file.findings(&Files)));
}

#[test]
fn sub_flow_paths_that_are_absolute_or_lead_out_of_the_workspace_are_errors() {
    let src = r#"{ "id": "a", "nodes": [
  { "id": "start", "type": "entry", "next": "up" },
  { "id": "up", "type": "flow", "flow": "../../x.flow.json", "next": "unix" },
  { "id": "unix", "type": "flow", "flow": "/etc/x.flow.json", "next": "windows" },
  { "id": "windows", "type": "flow", "flow": "C:\\flows\\x.flow.json", "next": "inside" },
  { "id": "inside", "type": "flow", "flow": "helper.flow.json", "next": "end" },
  { "id": "end", "type": "exit" }
] }"#;
    let file = FlowFile::parse(src);
    expect![[r#"
        3:41-3:60 error[flow-outside-workspace] `"../../x.flow.json"`: sub-flow paths must stay inside the workspace: `../../x.flow.json` leads outside it
        4:43-4:61 error[flow-outside-workspace] `"/etc/x.flow.json"`: sub-flow paths must stay inside the workspace: `/etc/x.flow.json` is absolute; write it relative to this file
        5:46-5:70 error[flow-outside-workspace] `"C:\\flows\\x.flow.json"`: sub-flow paths must stay inside the workspace: `C:\flows\x.flow.json` is absolute; write it relative to this file
    "#]]
    .assert_eq(&render_findings(src, &file.findings(&Files)));
}

#[test]
fn an_absolute_sub_flow_path_is_an_error_even_when_the_catalog_knows_no_files() {
    let src = r#"{ "id": "a", "nodes": [
  { "id": "start", "type": "entry", "next": "sub" },
  { "id": "sub", "type": "flow", "flow": "/home/me/x.flow.json", "next": "end" },
  { "id": "end", "type": "exit" }
] }"#;
    let file = FlowFile::parse(src);
    expect![[r#"
        3:42-3:64 error[flow-outside-workspace] `"/home/me/x.flow.json"`: sub-flow paths must stay inside the workspace: `/home/me/x.flow.json` is absolute; write it relative to this file
    "#]]
    .assert_eq(&render_findings(src, &file.findings(&StaticCatalog::default())));
}

#[test]
fn a_bad_expression_is_an_error_at_its_exact_place_inside_the_string() {
    check(
        r#"{ "id": "a", "nodes": [
  { "id": "start", "type": "entry", "next": "route" },
  { "id": "route", "type": "condition", "if": "{{input}} == bug", "then": "end", "else": "end" },
  { "id": "end", "type": "exit" }
] }"#,
        expect![[r#"
            3:61-3:64 error[invalid-expression] `bug`: `if` of node `route`: `bug` is not a value: write text in double quotes ("bug") or a template ({{...}})
        "#]],
    );
}

#[test]
fn a_bad_regex_is_an_error_on_its_pattern_with_escapes_counted_as_written() {
    check(
        r#"{ "id": "a", "nodes": [
  { "id": "start", "type": "entry", "next": "draft" },
  { "id": "draft", "type": "llm", "model": "local", "next": "improve" },
  { "id": "improve", "type": "reflect", "target": "draft", "max_iterations": 2,
    "until": "\"é\" == \"é\" and {{nodes.draft.output}} matches \"(unclosed\"", "next": "end" },
  { "id": "end", "type": "exit" }
] }"#,
        expect![[r#"
            5:67-5:80 error[invalid-expression] `\"(unclosed\"`: `until` of node `improve`: the pattern is not a valid regular expression: regex parse error:
                (unclosed
                ^
            error: unclosed group
        "#]],
    );
}

#[test]
fn an_unknown_reference_or_variable_suggests_the_closest_one() {
    let src = r#"{ "id": "a", "nodes": [
  { "id": "start", "type": "entry", "next": "key" },
  { "id": "key", "type": "vault", "key": "openai_key", "as": "token", "next": "plan" },
  { "id": "plan", "type": "llm", "model": "local", "prompt": "{{inputs}} {{vars.tokn}}", "next": "end" },
  { "id": "end", "type": "exit" }
] }"#;
    check(
        src,
        expect![[r#"
            4:63-4:73 error[unknown-template-ref] `{{inputs}}`: unknown template reference `inputs`: did you mean `input`?
            4:74-4:87 error[unknown-template-ref] `{{vars.tokn}}`: `{{vars.tokn}}`: no vault node defines `tokn`: did you mean `token`?
        "#]],
    );
    fix(
        src,
        Code::UnknownTemplateRef,
        expect![[r#"
            Change to `{{input}}`
            { "id": "a", "nodes": [
              { "id": "start", "type": "entry", "next": "key" },
              { "id": "key", "type": "vault", "key": "openai_key", "as": "token", "next": "plan" },
              { "id": "plan", "type": "llm", "model": "local", "prompt": "{{input}} {{vars.tokn}}", "next": "end" },
              { "id": "end", "type": "exit" }
            ] }"#]],
    );
}

/// The built-in catalog with two configured providers: `gpu` (serves `qwen-big`) and
/// `claude`, whose vault key is missing.
struct WithProviders {
    names: StaticCatalog,
    providers: Vec<crate::ProviderEntry>,
}

impl crate::Catalog for WithProviders {
    fn tools(&self) -> &[crate::Entry] {
        &self.names.tools
    }
    fn models(&self) -> &[crate::Entry] {
        &self.names.models
    }
    fn vault_keys(&self) -> &[crate::Entry] {
        &self.names.vault_keys
    }
    fn providers(&self) -> &[crate::ProviderEntry] {
        &self.providers
    }
}

#[test]
fn a_model_of_a_provider_that_cannot_answer_is_a_warning_that_offers_to_store_its_key() {
    let catalog = WithProviders {
        names: catalog(),
        providers: vec![
            crate::ProviderEntry {
                name: "gpu".into(),
                models: vec!["qwen-big".into()],
                ..crate::ProviderEntry::default()
            },
            crate::ProviderEntry {
                name: "claude".into(),
                unavailable: Some("no API key (store it: codexos vault put CLAUDE)".into()),
                missing_vault_key: Some("CLAUDE".into()),
                ..crate::ProviderEntry::default()
            },
        ],
    };
    let src = r#"{ "id": "a", "nodes": [
  { "id": "start", "type": "entry", "next": "plan" },
  { "id": "plan", "type": "llm", "model": ["claude/sonnet", "qwen-big", "gpu/any", "claude", "nowhere/x"], "prompt": "{{input}}", "next": "end" },
  { "id": "end", "type": "exit" }
] }"#;
    let findings = FlowFile::parse(src).findings(&catalog);
    expect![[r#"
        3:44-3:59 warning[provider-unavailable] `"claude/sonnet"`: `claude/sonnet` goes to provider `claude`, which cannot answer now: no API key (store it: codexos vault put CLAUDE); a run skips it and tries the next model
        3:84-3:92 warning[provider-unavailable] `"claude"`: `claude` goes to provider `claude`, which cannot answer now: no API key (store it: codexos vault put CLAUDE); a run skips it and tries the next model
        3:94-3:105 warning[unknown-model] `"nowhere/x"`: no configured provider knows the model `nowhere/x` (write `provider/model`, e.g. `ollama/llama3.2`, to route it)
    "#]]
    .assert_eq(&render_findings(src, &findings));
    let fix = findings
        .iter()
        .find(|finding| finding.code == Code::ProviderUnavailable)
        .and_then(|finding| finding.fixes.first())
        .and_then(|fix| fix.command.as_ref())
        .expect("a fix that runs a command");
    assert_eq!(
        (fix.command.as_str(), &fix.arguments),
        (
            "codexos.vault.put",
            &vec![serde_json::json!({"key": "CLAUDE"})]
        )
    );
}

/// The built-in catalog, with a schema for `read_file` (a built-in) and a plug-in `lint`.
fn with_schemas() -> StaticCatalog {
    let mut catalog = catalog();
    let read_file = catalog
        .tools
        .iter_mut()
        .find(|tool| tool.name == "read_file")
        .expect("read_file is built in");
    read_file.schema = Some(serde_json::json!({
        "type": "object",
        "properties": { "path": { "type": "string" }, "max_bytes": { "type": "integer", "minimum": 1 } },
        "required": ["path"],
        "additionalProperties": false
    }));
    catalog.tools.push(
        crate::Entry::new("lint", "a plug-in of tools/").with_schema(serde_json::json!({
            "type": "object",
            "properties": { "level": { "enum": ["warn", "deny"] }, "paths": { "type": "array", "items": { "type": "string" } } }
        })),
    );
    catalog
}

#[test]
fn tool_args_that_break_the_tools_schema_are_errors_where_they_are_written() {
    let src = r#"{ "id": "a", "nodes": [
  { "id": "start", "type": "entry", "next": "read" },
  { "id": "read", "type": "tool", "tool": "read_file", "args": { "pth": "a.rs", "max_bytes": 0 }, "next": "bare" },
  { "id": "bare", "type": "tool", "tool": "read_file", "next": "lint" },
  { "id": "lint", "type": "tool", "tool": "lint", "args": { "level": "strict", "paths": ["src", 3] }, "next": "later" },
  { "id": "later", "type": "tool", "tool": "lint", "args": { "level": "{{input}}", "paths": "{{input}}" }, "next": "end" },
  { "id": "end", "type": "exit" }
] }"#;
    let file = FlowFile::parse(src);
    expect![[r#"
        3:56-3:62 error[invalid-tool-args] `"args"`: `args` of tool `read_file` (node `read`): "path" is a required property
        3:66-3:71 error[invalid-tool-args] `"pth"`: `args` of tool `read_file` (node `read`): `pth` is not an argument of `read_file`: did you mean `path`?
        3:94-3:95 error[invalid-tool-args] `0`: `args` of tool `read_file` (node `read`) at `/max_bytes`: 0 is less than the minimum of 1
        4:43-4:54 error[invalid-tool-args] `"read_file"`: `args` of tool `read_file` (node `bare`): "path" is a required property
        5:70-5:78 error[invalid-tool-args] `"strict"`: `args` of tool `lint` (node `lint`) at `/level`: "strict" is not one of "warn" or "deny"
        5:97-5:98 error[invalid-tool-args] `3`: `args` of tool `lint` (node `lint`) at `/paths/1`: 3 is not of type "string"
        6:93-6:104 error[invalid-tool-args] `"{{input}}"`: `args` of tool `lint` (node `later`) at `/paths`: "{{input}}" is not of type "array"
    "#]]
    .assert_eq(&render_findings(src, &file.findings(&with_schemas())));
}

/// A workspace of flow files by name, all in one folder, for sub-flow checks.
struct Folder(&'static [(&'static str, &'static str)]);

impl crate::Catalog for Folder {
    fn tools(&self) -> &[crate::Entry] {
        &[]
    }
    fn models(&self) -> &[crate::Entry] {
        &[]
    }
    fn vault_keys(&self) -> &[crate::Entry] {
        &[]
    }
    fn flow_key(&self) -> Option<String> {
        Some("main.flow.json".to_owned())
    }
    fn read_flow(&self, _from: Option<&str>, path: &str) -> Option<crate::FlowSource> {
        let (key, text) = self.0.iter().find(|(name, _)| *name == path)?;
        Some(crate::FlowSource {
            key: (*key).to_owned(),
            text: (*text).to_owned(),
        })
    }
}

/// A flow that runs each of `paths` as a sub-flow, in order.
macro_rules! runs {
    () => {
        r#"{ "id": "leaf", "nodes": [ { "id": "s", "type": "entry", "next": "e" }, { "id": "e", "type": "exit" } ] }"#
    };
    ($path:literal) => {
        concat!(
            r#"{ "id": "f", "nodes": [ { "id": "s", "type": "entry", "next": "sub" }, { "id": "sub", "type": "flow", "flow": ""#,
            $path,
            r#"", "next": "e" }, { "id": "e", "type": "exit" } ] }"#
        )
    };
}

#[test]
fn a_sub_flow_cycle_is_found_before_anything_runs() {
    let src = r#"{ "id": "main", "nodes": [
  { "id": "start", "type": "entry", "next": "review" },
  { "id": "review", "type": "flow", "flow": "review.flow.json", "next": "loop" },
  { "id": "loop", "type": "flow", "flow": "a.flow.json", "next": "end" },
  { "id": "end", "type": "exit" }
] }"#;
    let folder = Folder(&[
        ("review.flow.json", runs!("main.flow.json")),
        ("main.flow.json", ""),
        ("a.flow.json", runs!("b.flow.json")),
        ("b.flow.json", runs!("a.flow.json")),
    ]);
    let file = FlowFile::parse(src);
    expect![[r#"
        3:45-3:63 error[sub-flow-cycle] `"review.flow.json"`: `flow` of node `review`: sub-flows lead back to a flow that is already running (review.flow.json → main.flow.json): a run would nest them until its depth bound (8) stops it
        4:43-4:56 error[sub-flow-cycle] `"a.flow.json"`: `flow` of node `loop`: sub-flows lead back to a flow that is already running (a.flow.json → b.flow.json → a.flow.json): a run would nest them until its depth bound (8) stops it
    "#]]
    .assert_eq(&render_findings(src, &file.findings(&folder)));
}

#[test]
fn sub_flows_nested_deeper_than_a_run_allows_are_an_error() {
    let src = r#"{ "id": "main", "nodes": [
  { "id": "start", "type": "entry", "next": "deep" },
  { "id": "deep", "type": "flow", "flow": "1.flow.json", "next": "fine" },
  { "id": "fine", "type": "flow", "flow": "8.flow.json", "next": "end" },
  { "id": "end", "type": "exit" }
] }"#;
    let folder = Folder(&[
        ("1.flow.json", runs!("2.flow.json")),
        ("2.flow.json", runs!("3.flow.json")),
        ("3.flow.json", runs!("4.flow.json")),
        ("4.flow.json", runs!("5.flow.json")),
        ("5.flow.json", runs!("6.flow.json")),
        ("6.flow.json", runs!("7.flow.json")),
        ("7.flow.json", runs!("8.flow.json")),
        ("8.flow.json", runs!("9.flow.json")),
        ("9.flow.json", runs!()),
    ]);
    let file = FlowFile::parse(src);
    expect![[r#"
        3:43-3:56 error[sub-flow-too-deep] `"1.flow.json"`: `flow` of node `deep`: sub-flows nest 9 levels deep here (1.flow.json → 2.flow.json → 3.flow.json → 4.flow.json → 5.flow.json → 6.flow.json → 7.flow.json → 8.flow.json → 9.flow.json), deeper than a run allows (8)
    "#]]
    .assert_eq(&render_findings(src, &file.findings(&folder)));
}

#[test]
fn bad_retry_and_timeout_values_are_errors_on_the_value() {
    check(
        r#"{ "id": "a", "nodes": [
  { "id": "start", "type": "entry", "next": "plan" },
  { "id": "plan", "type": "llm", "model": "local", "timeout_ms": 0,
    "retry": { "attempts": 11, "backof_ms": 500, "on": ["servr", 5] }, "next": "look" },
  { "id": "look", "type": "rag", "query": "q", "timeout_ms": "30s", "retry": 3, "next": "cond" },
  { "id": "cond", "type": "condition", "if": "true", "then": "end", "else": "end", "retry": {} },
  { "id": "end", "type": "exit" }
] }"#,
        expect![[r#"
            3:66-3:67 error[schema] `0`: `timeout_ms` must be between 1 and 3600000, found 0
            4:28-4:30 error[schema] `11`: `retry` of node `plan`: `attempts` must be between 1 and 10, found 11
            4:32-4:43 warning[schema] `"backof_ms"`: unknown field `backof_ms` in `retry` of node `plan`: did you mean `backoff_ms`?
            4:57-4:64 error[schema] `"servr"`: `retry.on` of node `plan`: unknown failure `servr`: expected one of timeout, rate_limit, server, network, error (did you mean `server`?)
            4:66-4:67 error[schema] `5`: `retry.on` of node `plan`: lists failures by name, found an integer
            5:62-5:67 error[schema] `"30s"`: `timeout_ms` must be an integer, found a string
            5:78-5:79 error[schema] `3`: `retry` must be an object such as {"attempts": 3}, found an integer
            6:84-6:91 warning[schema] `"retry"`: unknown field `retry` in a condition node
        "#]],
    );
}

#[test]
fn every_code_is_covered_by_a_test_above() {
    let source = include_str!("checks.rs");
    for code in Code::ALL {
        let tag = format!("[{}]", code.as_str());
        assert!(source.contains(&tag), "no test shows {code}");
    }
}

proptest::proptest! {
    /// Whatever is written in an `if` (escapes, quotes, braces, multibyte text), checking never
    /// panics and every finding's range lies on character boundaries of the document.
    #[test]
    fn any_expression_is_checked_without_panicking_and_ranges_stay_on_characters(
        raw in r#"(\{\{|\}\}|\\"|\\\\|\\u00e9|\\n|[a-z ]|==|\(|\)|"|é|😀|\\)*"#
    ) {
        let src = format!(
            r#"{{ "id": "a", "nodes": [
  {{ "id": "start", "type": "entry", "next": "c" }},
  {{ "id": "c", "type": "condition", "if": "{raw}", "then": "end", "else": "end" }},
  {{ "id": "end", "type": "exit" }}
] }}"#
        );
        let file = FlowFile::parse(&src);
        for finding in file.findings(&catalog()) {
            proptest::prop_assert!(finding.range.start <= finding.range.end);
            proptest::prop_assert!(src.get(finding.range.as_usize()).is_some(), "{finding:?}");
        }
    }
}
