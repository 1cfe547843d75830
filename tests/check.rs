//! `codexos check` end to end: the real binary on flow files in a temporary workspace.

use std::path::Path;
use std::process::{Command, Output};

use expect_test::expect;
use serde_json::Value;

const VALID: &str = r#"{
  "id": "ok",
  "nodes": [
    { "id": "start", "type": "entry", "next": "answer" },
    { "id": "answer", "type": "llm", "model": "gpt-4", "prompt": "{{input}}", "next": "end" },
    { "id": "end", "type": "exit", "output": "{{nodes.answer.output}}" }
  ]
}
"#;

const BROKEN: &str = r#"{
  "id": "broken",
  "nodes": [
    { "id": "start", "type": "entry", "next": "answr" },
    { "id": "answer", "type": "llm", "model": "gpt-4", "prompt": "{{input}}", "next": "end" },
    { "id": "end", "type": "exit" }
  ]
}
"#;

/// Only warnings: an unknown tool and an unknown model.
const WARNINGS_ONLY: &str = r#"{
  "id": "warn",
  "nodes": [
    { "id": "start", "type": "entry", "next": "search" },
    { "id": "search", "type": "tool", "tool": "WebSearch", "next": "end" },
    { "id": "end", "type": "exit" }
  ]
}
"#;

fn workspace(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, content) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, content).expect("write fixture");
    }
    dir
}

fn check(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_codexos"))
        .arg("check")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run codexos check")
}

/// `--format json` output: one finding per line.
fn json_lines(output: &Output) -> Vec<Value> {
    stdout(output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}")))
        .collect()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn valid_flows_pass_with_exit_status_0() {
    let dir = workspace(&[("flows/ok.flow.json", VALID.as_bytes())]);
    let output = check(dir.path(), &[]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    expect![[r#"
        Checked 1 flow: no problems.
    "#]]
    .assert_eq(&stdout(&output));
}

#[test]
fn errors_print_path_line_column_and_code_and_exit_1() {
    let dir = workspace(&[
        ("flows/ok.flow.json", VALID.as_bytes()),
        ("flows/broken.flow.json", BROKEN.as_bytes()),
        ("flows/notes.json", b"not a flow, not checked"),
    ]);
    let output = check(dir.path(), &["flows"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    expect![[r#"
        flows/broken.flow.json:4:47: error[unknown-node]: `next` names `answr`, but no node has that id: did you mean `answer`?
        flows/broken.flow.json:5:13: warning[unreachable-node]: node `answer` is never reached from the entry
        flows/broken.flow.json:6:13: warning[unreachable-node]: node `end` is never reached from the entry
        Checked 2 flows: 1 error(s), 2 warning(s).
    "#]]
    .assert_eq(&stdout(&output));
}

#[test]
fn clean_flows_print_no_json_lines() {
    let dir = workspace(&[("ok.flow.json", VALID.as_bytes())]);
    let output = check(dir.path(), &["--format", "json"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(stdout(&output), "");
}

#[test]
fn warnings_alone_exit_0() {
    let dir = workspace(&[("warn.flow.json", WARNINGS_ONLY.as_bytes())]);
    let output = check(dir.path(), &["warn.flow.json"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(
        stdout(&output).contains("warn.flow.json:5:47: warning[unknown-tool]"),
        "{output:?}"
    );
}

#[test]
fn json_output_is_one_finding_per_line_with_one_based_positions() {
    let dir = workspace(&[("broken.flow.json", BROKEN.as_bytes())]);
    let output = check(dir.path(), &["--format", "json", "broken.flow.json"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let findings = json_lines(&output);
    let first = &findings[0];
    assert_eq!(findings.len(), 3);
    assert_eq!(first["path"], "broken.flow.json");
    assert_eq!(first["code"], "unknown-node");
    assert_eq!(first["severity"], "error");
    assert_eq!(
        (&first["line"], &first["column"]),
        (&Value::from(4), &Value::from(47))
    );
    assert_eq!(
        (&first["end_line"], &first["end_column"]),
        (&Value::from(4), &Value::from(54))
    );
    assert_eq!(first["fixes"][0], "Change to `answer`");
}

#[test]
fn invalid_utf8_on_disk_is_reported_at_its_byte_not_a_crash() {
    let dir = workspace(&[(
        "latin1.flow.json",
        b"{\n  \"id\": \"caf\xe9\",\n  \"nodes\": []\n}\n",
    )]);
    let output = check(dir.path(), &[]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    expect![[r#"
        latin1.flow.json:2:13: error[invalid-json]: the file is not valid UTF-8: byte 0xe9 at offset 14
        Checked 1 flow: 1 error(s), 0 warning(s).
    "#]]
    .assert_eq(&stdout(&output));
}

#[test]
fn invalid_json_is_reported_at_the_parsers_position() {
    let dir = workspace(&[("bad.flow.json", b"{\n  \"id\": \"x\",\n  \"nodes\": [\n}\n")]);
    let output = check(dir.path(), &["--format", "json"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let findings = json_lines(&output);
    let invalid = findings
        .iter()
        .find(|finding| finding["code"] == "invalid-json")
        .unwrap_or_else(|| panic!("an invalid-json finding in {findings:?}"));
    assert_eq!(
        (&invalid["line"], &invalid["column"]),
        (&Value::from(3), &Value::from(12))
    );
    assert_eq!(invalid["message"], "this `[` is never closed: missing `]`");
}

#[test]
fn a_missing_path_is_a_usage_error_with_exit_2() {
    let dir = workspace(&[("ok.flow.json", VALID.as_bytes())]);
    let output = check(dir.path(), &["ok.flow.json", "nowhere"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: nowhere: cannot read: "),
        "{stderr}"
    );
}

#[test]
fn an_unknown_flag_is_a_usage_error_with_exit_2() {
    let dir = workspace(&[]);
    let output = check(dir.path(), &["--colour"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
}

#[test]
fn a_broken_codexos_toml_is_an_error_naming_file_line_and_column() {
    let dir = workspace(&[
        ("codexos.toml", b"[flows]\nexclude = 3\n"),
        ("ok.flow.json", VALID.as_bytes()),
    ]);
    let output = check(dir.path(), &[]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let expected = format!(
        "error: {}:2:11: invalid configuration: invalid type: integer `3`, expected a sequence\n",
        dir.path().join("codexos.toml").display()
    );
    assert_eq!(stderr, expected);
}

#[test]
fn declared_tools_in_codexos_toml_are_known_and_unknown_keys_warn() {
    let dir = workspace(&[
        (
            "codexos.toml",
            b"[tools.declared]\nWebSearch = \"Search the web\"\n[flow]\nx = 1\n",
        ),
        ("warn.flow.json", WARNINGS_ONLY.as_bytes()),
    ]);
    let output = check(dir.path(), &[]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(stdout(&output), "Checked 1 flow: no problems.\n");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("codexos.toml:3:2: unknown key `flow` (ignored)"),
        "{stderr}"
    );
}

#[test]
fn plug_in_tools_and_mcp_server_tools_are_known_and_a_typo_still_warns() {
    let flow = r#"{
  "id": "tools",
  "nodes": [
    { "id": "start", "type": "entry", "next": "lint" },
    { "id": "lint", "type": "tool", "tool": "lint", "next": "file" },
    { "id": "file", "type": "tool", "tool": "github.create_issue", "next": "typo" },
    { "id": "typo", "type": "tool", "tool": "gitlab.create_issue", "next": "end" },
    { "id": "end", "type": "exit" }
  ]
}
"#;
    let dir = workspace(&[
        (
            "codexos.toml",
            b"[[mcp.servers]]\nname = \"github\"\ncommand = \"github-mcp-server\"\n",
        ),
        (
            "tools/lint.tool.json",
            br#"{ "description": "Runs the linter", "command": ["true"], "input_schema": {} }"#,
        ),
        ("tools.flow.json", flow.as_bytes()),
    ]);
    let output = check(dir.path(), &["--format", "json"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let codes: Vec<(String, String)> = json_lines(&output)
        .iter()
        .map(|finding| {
            (
                finding["code"].as_str().unwrap_or_default().to_owned(),
                finding["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(codes.len(), 1, "{codes:?}");
    assert_eq!(codes[0].0, "unknown-tool");
    assert!(codes[0].1.contains("gitlab.create_issue"), "{codes:?}");
}

#[test]
fn deeply_nested_json_is_an_error_not_a_stack_overflow() {
    let nested = "[".repeat(100_000);
    let dir = workspace(&[("deep.flow.json", nested.as_bytes())]);
    let output = check(dir.path(), &["--format", "json"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(!json_lines(&output).is_empty());
}

#[test]
fn version_names_the_commit_the_binary_was_built_from() {
    let output = Command::new(env!("CARGO_BIN_EXE_codexos"))
        .arg("--version")
        .output()
        .expect("codexos runs");
    let version = stdout(&output);
    let expected_commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned());
    let expected = match expected_commit {
        Some(commit) => format!("codexos {} ({commit})\n", env!("CARGO_PKG_VERSION")),
        None => format!("codexos {}\n", env!("CARGO_PKG_VERSION")),
    };
    assert_eq!(version, expected);
}

#[test]
fn expressions_tool_args_of_built_ins_and_plug_ins_and_sub_flow_cycles_are_checked_before_a_run() {
    let main = r#"{
  "id": "main",
  "nodes": [
    { "id": "start", "type": "entry", "next": "route" },
    { "id": "route", "type": "condition", "if": "{{input}} == bug", "then": "read", "else": "end" },
    { "id": "read", "type": "tool", "tool": "read_file", "args": { "pth": "a.rs" }, "next": "lint" },
    { "id": "lint", "type": "tool", "tool": "lint", "args": { "level": "loud" }, "next": "review" },
    { "id": "review", "type": "flow", "flow": "review.flow.json", "next": "end" },
    { "id": "end", "type": "exit" }
  ]
}
"#;
    let review = r#"{ "id": "review", "nodes": [
  { "id": "start", "type": "entry", "next": "back" },
  { "id": "back", "type": "flow", "flow": "main.flow.json", "next": "end" },
  { "id": "end", "type": "exit" }
] }
"#;
    let dir = workspace(&[
        (
            "tools/lint.tool.json",
            br#"{ "description": "Runs the linter", "command": ["true"],
  "input_schema": { "type": "object", "properties": { "level": { "enum": ["warn", "deny"] } } } }"#,
        ),
        ("main.flow.json", main.as_bytes()),
        ("review.flow.json", review.as_bytes()),
    ]);
    let output = check(dir.path(), &["main.flow.json"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    expect![[r#"
        main.flow.json:5:63: error[invalid-expression]: `if` of node `route`: `bug` is not a value: write text in double quotes ("bug") or a template ({{...}})
        main.flow.json:6:58: error[invalid-tool-args]: `args` of tool `read_file` (node `read`): "path" is a required property
        main.flow.json:6:68: error[invalid-tool-args]: `args` of tool `read_file` (node `read`): `pth` is not an argument of `read_file`: did you mean `path`?
        main.flow.json:7:72: error[invalid-tool-args]: `args` of tool `lint` (node `lint`) at `/level`: "loud" is not one of "warn" or "deny"
        main.flow.json:8:47: error[sub-flow-cycle]: `flow` of node `review`: sub-flows lead back to a flow that is already running (review.flow.json → main.flow.json): a run would nest them until its depth bound (8) stops it
        Checked 1 flow: 5 error(s), 0 warning(s).
    "#]]
    .assert_eq(&stdout(&output));
}
