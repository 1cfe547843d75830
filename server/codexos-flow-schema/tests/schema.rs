//! The published flow schema against the flows we ship and against broken ones.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use codexos_flow_schema::{FLOW_SCHEMA_JSON, FLOW_SCHEMA_PATH};
use expect_test::{Expect, expect};
use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn schema() -> Value {
    serde_json::from_str(FLOW_SCHEMA_JSON)
        .unwrap_or_else(|error| panic!("{FLOW_SCHEMA_PATH} is not JSON: {error}"))
}

fn validator() -> jsonschema::Validator {
    jsonschema::draft202012::new(&schema())
        .unwrap_or_else(|error| panic!("{FLOW_SCHEMA_PATH} does not compile: {error}"))
}

/// Every schema violation of `flow` as `instance path: keyword: message`, one a line.
fn violations(flow: &Value) -> String {
    let validator = validator();
    let mut lines: Vec<String> = validator
        .iter_errors(flow)
        .map(|error| {
            format!(
                "{}: {}: {}",
                error.instance_path().as_str(),
                error.kind().keyword(),
                error
            )
        })
        .collect();
    lines.sort();
    lines.iter().fold(String::new(), |mut out, line| {
        let _ = writeln!(out, "{line}");
        out
    })
}

fn assert_violations(flow: &str, expected: Expect) {
    let flow: Value = serde_json::from_str(flow).expect("the fixture is JSON");
    expected.assert_eq(&violations(&flow));
}

/// Every `*.flow.json` under `dir`, recursively, sorted.
fn flow_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|error| panic!("read {}: {error}", dir.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.to_string_lossy().ends_with(".flow.json") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

#[test]
fn the_schema_is_a_valid_draft_2020_12_schema() {
    if let Err(error) = jsonschema::meta::validate(&schema()) {
        panic!("{FLOW_SCHEMA_PATH} breaks the 2020-12 meta-schema: {error}");
    }
}

#[test]
fn every_shipped_flow_matches_the_schema() {
    let flows = flow_files(&repo_root().join("flows"));
    assert!(
        flows.len() >= 5,
        "expected the seed example and the examples under flows/, found {flows:?}"
    );
    let mut report = String::new();
    for path in &flows {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|error| panic!("read {}: {error}", path.display()));
        let flow: Value = serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("{} is not JSON: {error}", path.display()));
        let found = violations(&flow);
        if !found.is_empty() {
            let _ = write!(report, "{}:\n{found}", path.display());
        }
    }
    assert!(report.is_empty(), "flows that break the schema:\n{report}");
}

/// The "Agent Execution Flow" of the seed blueprint, character for character.
const SEED_EXAMPLE: &str = r#"{
  "id": "agent-1",
  "nodes": [
    { "id": "start", "type": "entry", "next": "planner" },
    { "id": "planner", "type": "llm", "model": "gpt-4", "next": "tool_selector" },
    { "id": "tool_selector", "type": "tool", "tool": "WebSearch", "next": "summarizer" },
    { "id": "summarizer", "type": "llm", "model": "claude-3-opus", "next": "end" },
    { "id": "end", "type": "exit" }
  ]
}
"#;

#[test]
fn the_seed_example_ships_verbatim_and_matches_the_schema() {
    let shipped = std::fs::read_to_string(repo_root().join("flows/examples/seed-agent.flow.json"))
        .expect("read flows/examples/seed-agent.flow.json");
    assert_eq!(shipped, SEED_EXAMPLE);
    assert_violations(SEED_EXAMPLE, expect![""]);
}

#[test]
fn a_broken_flow_is_reported_field_by_field() {
    assert_violations(
        r#"{
"id": "broken",
"owner": "me",
"nodes": [
{"id": "start", "type": "entry", "next": 3},
{"id": "plan", "type": "llm", "modle": "gpt-4", "temperature": 3, "next": ["a", "a"]},
{"id": "search", "type": "tool", "args": {"q": "{{input}}"}},
{"id": "context", "type": "rag", "query": "{{input}}", "k": 0},
{"id": "branch", "type": "condition", "if": "{{input}} contains \"x\"", "then": "plan", "next": "end"},
{"id": "again", "type": "reflect", "target": "plan"},
{"id": "sub", "type": "flow", "input": 5},
{"id": "has space", "type": "planner"},
{"id": "end", "type": "exit", "ui": {"x": 1}}
]
}"#,
        expect![[r#"
            /nodes/0/next: oneOf: 3 is not valid under any of the schemas listed in the 'oneOf' keyword
            /nodes/1/next: oneOf: ["a","a"] is not valid under any of the schemas listed in the 'oneOf' keyword
            /nodes/1/temperature: maximum: 3 is greater than the maximum of 2
            /nodes/1: additionalProperties: Additional properties are not allowed ('modle' was unexpected)
            /nodes/1: required: "model" is a required property
            /nodes/2: required: "tool" is a required property
            /nodes/3/k: minimum: 0 is less than the minimum of 1
            /nodes/4: additionalProperties: Additional properties are not allowed ('next' was unexpected)
            /nodes/4: required: "else" is a required property
            /nodes/5: required: "max_iterations" is a required property
            /nodes/6/input: type: 5 is not of type "string"
            /nodes/6: required: "flow" is a required property
            /nodes/7/id: pattern: "has space" does not match "^[A-Za-z_][A-Za-z0-9_-]*$"
            /nodes/7/type: enum: "planner" is not one of "entry", "llm" or 7 other candidates
            /nodes/8/ui: required: "y" is a required property
            : additionalProperties: Additional properties are not allowed ('owner' was unexpected)
        "#]],
    );
}

#[test]
fn fields_of_one_node_type_are_unknown_on_another() {
    assert_violations(
        r#"{
"id": "mixed",
"nodes": [
{"id": "start", "type": "entry", "next": "end", "model": "gpt-4"},
{"id": "end", "type": "exit", "next": "start"}
]
}"#,
        expect![[r#"
            /nodes/0: additionalProperties: Additional properties are not allowed ('model' was unexpected)
            /nodes/1: additionalProperties: Additional properties are not allowed ('next' was unexpected)
        "#]],
    );
}

#[test]
fn the_schema_knows_exactly_the_node_types_of_the_language_reference() {
    let reference = std::fs::read_to_string(repo_root().join("flows/README.md"))
        .expect("flows/README.md is the language reference");
    let nodes_section = reference
        .split("\n## ")
        .find(|section| section.starts_with("Nodes"))
        .expect("flows/README.md has a `## Nodes` section");
    let documented: Vec<&str> = nodes_section
        .lines()
        .filter_map(|line| line.strip_prefix("| `")?.split_once("` |"))
        .map(|(node_type, _)| node_type)
        .collect();
    let schema = schema();
    let in_schema: Vec<&str> = schema["$defs"]["node"]["properties"]["type"]["enum"]
        .as_array()
        .expect("the node type is an enum")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(in_schema, documented);
}

/// Every field the schema declares, with the path it is declared at.
fn declared_fields<'a>(schema: &'a Value, path: &str, out: &mut Vec<(String, &'a Value)>) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::Object(properties)) = map.get("properties") {
                for (name, field) in properties {
                    out.push((format!("{path}/properties/{name}"), field));
                }
            }
            for (key, child) in map {
                declared_fields(child, &format!("{path}/{key}"), out);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                declared_fields(item, &format!("{path}/{index}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_field_carries_a_description_and_hover_documentation() {
    let schema = schema();
    let mut fields = Vec::new();
    declared_fields(&schema, "#", &mut fields);
    let undocumented: Vec<&str> = fields
        .iter()
        .filter(|(path, _)| !path.contains("/if/"))
        .filter(|(_, field)| {
            let names_the_field_only = field.as_bool() == Some(true);
            let is_reference_only =
                field.get("$ref").is_some() && field.as_object().is_some_and(|f| f.len() == 1);
            let documented = field.get("description").is_some()
                && field
                    .pointer("/x-codexos/doc")
                    .and_then(Value::as_str)
                    .is_some();
            !names_the_field_only && !is_reference_only && !documented
        })
        .map(|(path, _)| path.as_str())
        .collect();
    assert!(
        undocumented.is_empty(),
        "fields without description and x-codexos.doc: {undocumented:#?}"
    );
}
