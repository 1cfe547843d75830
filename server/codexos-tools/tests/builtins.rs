//! The built-in tools through the registry, on a real temporary workspace.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use codexos_policy::{Approval, GateConfig, PolicyGate, WorkspaceRequests};
use codexos_tools::{RecordingWriteSink, ToolConfig, ToolContext, ToolError, ToolRegistry};
use expect_test::expect;
use serde_json::{Value, json};

fn call(
    ctx: &ToolContext,
    name: &str,
    args: Value,
) -> Result<codexos_tools::ToolOutput, ToolError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(ToolRegistry::with_builtins().call(name, args, ctx))
}

fn error_text(result: Result<codexos_tools::ToolOutput, ToolError>) -> String {
    match result {
        Ok(output) => format!("unexpected success: {}", output.text),
        Err(error) => error.to_string(),
    }
}

/// A context whose workspace asks for `shell` and `python` and whose user says yes to
/// everything the policy asks about (as `codexos run --yes` does).
fn allowing(root: &Path, config: impl FnOnce(&mut ToolConfig)) -> ToolContext {
    let mut settings = ToolConfig::default();
    config(&mut settings);
    let gate = PolicyGate::new(GateConfig {
        root: root.to_owned(),
        requests: WorkspaceRequests {
            allow_shell: true,
            allow_python: true,
            offline: false,
        },
        offline: false,
        trust: None,
        approval: Approval::Yes,
    });
    ToolContext::new(root)
        .with_config(settings)
        .with_gate(Arc::new(gate))
}

#[test]
fn bad_arguments_name_the_field_and_the_tool_never_runs() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = ToolContext::new(dir.path());
    let wrong_type = call(&ctx, "write_file", json!({ "path": "a.txt", "content": 5 }));
    expect![[r#"write_file: invalid arguments: `/content`: 5 is not of type "string""#]]
        .assert_eq(&error_text(wrong_type));
    let missing_and_unknown = call(
        &ctx,
        "write_file",
        json!({ "content": "x", "pth": "a.txt" }),
    );
    expect![[r#"write_file: invalid arguments: "path" is a required property; Additional properties are not allowed ('pth' was unexpected)"#]]
        .assert_eq(&error_text(missing_and_unknown));
    let nested = call(
        &ctx,
        "read_file",
        json!({ "path": "a.txt", "start_line": 0 }),
    );
    expect![[r#"read_file: invalid arguments: `/start_line`: 0 is less than the minimum of 1"#]]
        .assert_eq(&error_text(nested));
    assert!(
        !dir.path().join("a.txt").exists(),
        "a rejected call wrote a file"
    );
}

#[test]
fn unknown_tool_suggests_the_closest_name() {
    let dir = tempfile::tempdir().unwrap();
    let result = call(&ToolContext::new(dir.path()), "read_fiel", json!({}));
    expect!["unknown tool `read_fiel` (did you mean `read_file`?)"].assert_eq(&error_text(result));
}

#[test]
fn write_file_refuses_paths_that_leave_the_workspace() {
    let outside = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
    let ctx = ToolContext::new(dir.path());
    let mut messages = Vec::new();
    for path in [
        "../escape.txt",
        "sub/../../escape.txt",
        "/tmp/escape.txt",
        "link/escape.txt",
    ] {
        messages.push(error_text(call(
            &ctx,
            "write_file",
            json!({ "path": path, "content": "no" }),
        )));
    }
    expect![[r#"
        write_file: `../escape.txt` is outside the workspace: `..` is not allowed
        write_file: `sub/../../escape.txt` is outside the workspace: `..` is not allowed
        write_file: `/tmp/escape.txt` is outside the workspace: absolute paths are not allowed; give a path relative to the workspace root
        write_file: `link/escape.txt` is outside the workspace: it goes through the symbolic link `link`, which points outside the workspace"#]]
    .assert_eq(&messages.join("\n"));
    assert!(!outside.path().join("escape.txt").exists());
    assert!(!dir.path().parent().unwrap().join("escape.txt").exists());
}

#[test]
fn write_file_replaces_the_file_whole_and_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.md"), "old text that is longer").unwrap();
    let ctx = ToolContext::new(dir.path());
    let output = call(
        &ctx,
        "write_file",
        json!({ "path": "docs/../notes.md", "content": "x" }),
    );
    assert!(
        output.is_err(),
        "`..` must be refused even when it stays inside"
    );
    let output = call(
        &ctx,
        "write_file",
        json!({ "path": "notes.md", "content": "new" }),
    )
    .unwrap();
    assert_eq!(output.text, "wrote 3 bytes to notes.md");
    call(
        &ctx,
        "write_file",
        json!({ "path": "deep/er/file.txt", "content": "made" }),
    )
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("notes.md")).unwrap(),
        "new"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("deep/er/file.txt")).unwrap(),
        "made"
    );
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["deep", "notes.md"]);
}

#[test]
fn the_editor_collects_writes_instead_of_touching_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(RecordingWriteSink::default());
    let ctx = ToolContext::new(dir.path()).with_write_sink(sink.clone());
    call(
        &ctx,
        "write_file",
        json!({ "path": "src/lib.rs", "content": "fn main() {}\n" }),
    )
    .unwrap();
    let writes = sink.take();
    assert_eq!(writes.len(), 1);
    assert_eq!(
        writes[0].path,
        dir.path().canonicalize().unwrap().join("src/lib.rs")
    );
    assert_eq!(writes[0].contents, "fn main() {}\n");
    assert!(!dir.path().join("src").exists());
}

#[test]
fn read_file_returns_a_range_of_lines_and_caps_the_output() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "one\ntwo\nthree\nfour\n").unwrap();
    let ctx = allowing(dir.path(), |config| config.max_output_bytes = 6);
    let range = call(
        &ctx,
        "read_file",
        json!({ "path": "a.txt", "start_line": 2, "end_line": 3 }),
    )
    .unwrap();
    assert_eq!(range.text, "two\nth");
    assert_eq!(
        range.data,
        Some(json!({ "path": "a.txt", "total_lines": 4, "truncated": true }))
    );
    let missing = call(&ctx, "read_file", json!({ "path": "nope.txt" }));
    expect!["read_file: nope.txt: No such file or directory (os error 2)"]
        .assert_eq(&error_text(missing));
}

#[test]
fn search_workspace_without_an_index_says_it_is_not_built() {
    let dir = tempfile::tempdir().unwrap();
    let result = call(
        &ToolContext::new(dir.path()),
        "search_workspace",
        json!({ "query": "main" }),
    );
    expect!["search_workspace: the workspace index is not built yet (run `codexos index`)"]
        .assert_eq(&error_text(result));
}

#[test]
fn shell_and_python_are_refused_until_codexos_toml_asks_for_them() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = ToolContext::new(dir.path());
    expect!["shell: refused: `shell` is off in this workspace: it exists only when codexos.toml sets `[tools] allow_shell = true`, and even then runs only what you approve"]
        .assert_eq(&error_text(call(
            &ctx,
            "shell",
            json!({ "command": "touch ran" }),
        )));
    expect!["python: refused: `python` is off in this workspace: it exists only when codexos.toml sets `[tools] allow_python = true`, and even then runs only what you approve"]
        .assert_eq(&error_text(call(
            &ctx,
            "python",
            json!({ "code": "open('ran', 'w')" }),
        )));
    assert!(!dir.path().join("ran").exists());
}

#[test]
fn a_requested_shell_still_runs_nothing_that_nobody_approved() {
    let dir = tempfile::tempdir().unwrap();
    let gate = PolicyGate::new(GateConfig {
        root: dir.path().to_owned(),
        requests: WorkspaceRequests {
            allow_shell: true,
            ..WorkspaceRequests::default()
        },
        offline: false,
        trust: None,
        approval: Approval::Nobody {
            why: "nobody can be asked here".to_owned(),
        },
    });
    let decisions = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = decisions.clone();
    let ctx = ToolContext::new(dir.path())
        .with_gate(Arc::new(gate))
        .with_audit(Arc::new(move |decision| {
            seen.lock().unwrap().push(decision.to_string());
        }));
    expect!["shell: refused: agents run commands only with your approval, and nobody can be asked here; to allow it: codexos trust allow command 'touch ran'"]
        .assert_eq(&error_text(call(
            &ctx,
            "shell",
            json!({ "command": "touch ran" }),
        )));
    assert!(!dir.path().join("ran").exists());
    expect![[r#"
        [
            "refused by policy: run the shell command `touch ran`: agents run commands only with your approval, and nobody can be asked here; to allow it: codexos trust allow command 'touch ran'",
        ]
    "#]]
    .assert_debug_eq(&decisions.lock().unwrap());
}

#[test]
fn writes_to_protected_paths_are_refused_even_through_a_symbolic_link() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    std::fs::write(dir.path().join(".git/config"), "[core]\n").unwrap();
    std::os::unix::fs::symlink(dir.path().join(".git/config"), dir.path().join("notes.txt"))
        .unwrap();
    let ctx = allowing(dir.path(), |_| {});
    for path in [
        "codexos.toml",
        "tools/helper.tool.json",
        ".git/config",
        "notes.txt",
    ] {
        let result = call(
            &ctx,
            "write_file",
            json!({ "path": path, "content": "[core]\nfsmonitor = touch pwned\n" }),
        );
        let error = error_text(result);
        assert!(
            error.starts_with("write_file: refused: `"),
            "{path}: {error}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".git/config")).unwrap(),
        "[core]\n"
    );
    assert!(!dir.path().join("codexos.toml").exists());
    assert!(!dir.path().join("tools").exists());
}

#[test]
fn shell_runs_in_the_workspace_and_a_failing_command_quotes_its_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = allowing(dir.path(), |_| {});
    let output = call(
        &ctx,
        "shell",
        json!({ "command": "echo hi > made.txt; ls" }),
    )
    .unwrap();
    assert_eq!(output.text, "made.txt\n");
    let failed = call(
        &ctx,
        "shell",
        json!({ "command": "echo broken >&2; exit 3" }),
    );
    expect!["shell: the command exited with status 3: broken"].assert_eq(&error_text(failed));
}

#[test]
fn python_runs_a_program_given_on_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = allowing(dir.path(), |_| {});
    let output = call(
        &ctx,
        "python",
        json!({ "code": "import os\nprint(sorted(os.listdir('.')), 6 * 7)" }),
    )
    .unwrap();
    assert_eq!(output.text, "[] 42\n");
}

#[test]
fn shell_output_beyond_the_cap_is_cut_and_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = allowing(dir.path(), |config| config.max_output_bytes = 1000);
    let output = call(&ctx, "shell", json!({ "command": "yes | head -c 1000000" })).unwrap();
    assert_eq!(output.text.len(), 1000);
    assert_eq!(output.data.unwrap()["truncated"], json!(true));
}

/// Processes still alive (not zombies) whose process group is `group`.
fn live_members(group: u32) -> Vec<u32> {
    let mut members = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the parenthesised command name: state ppid pgrp ...
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = after_name.split(' ').collect();
        if fields[0] != "Z" && fields[2] == group.to_string() {
            members.push(pid);
        }
    }
    members
}

fn assert_group_gone(group_file: &Path) {
    let group: u32 = std::fs::read_to_string(group_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !live_members(group).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        live_members(group),
        Vec::<u32>::new(),
        "processes of group {group} survived"
    );
}

#[test]
fn a_shell_command_past_its_timeout_is_killed_with_its_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = allowing(dir.path(), |_| {});
    let started = Instant::now();
    let result = call(
        &ctx,
        "shell",
        json!({ "command": "echo $$ > group; sleep 300 & sleep 301 & wait", "timeout_secs": 0.5 }),
    );
    expect!["shell: timed out after 0.5s (its process group was killed)"]
        .assert_eq(&error_text(result));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_group_gone(&dir.path().join("group"));
}

#[test]
fn background_children_do_not_outlive_a_finished_command() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = allowing(dir.path(), |_| {});
    let output = call(
        &ctx,
        "shell",
        json!({ "command": "echo $$ > group; sleep 300 > /dev/null 2>&1 & echo done" }),
    )
    .unwrap();
    assert_eq!(output.text, "done\n");
    assert_group_gone(&dir.path().join("group"));
}

#[test]
fn cancelling_a_call_kills_the_running_command() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = allowing(dir.path(), |_| {});
    let cancel = ctx.cancellation.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = runtime.block_on(async {
        let registry = ToolRegistry::with_builtins();
        let call = registry.call(
            "shell",
            json!({ "command": "echo $$ > group; sleep 300 & sleep 300" }),
            &ctx,
        );
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            cancel.cancel();
        });
        call.await
    });
    expect!["shell: cancelled"].assert_eq(&error_text(result));
    assert_group_gone(&dir.path().join("group"));
}

#[test]
fn the_python_interpreter_codexos_toml_names_is_part_of_what_the_user_approved() {
    let dir = tempfile::tempdir().unwrap();
    let trust = codexos_policy::TrustFile::at(dir.path().join("trust.toml"));
    trust
        .update(|store| {
            store
                .workspace_mut(dir.path())
                .commands
                .push("python3 - <<'EOF'\nprint(6 * 7)\nEOF".to_owned())
        })
        .unwrap();
    let context = |python: &str| {
        let gate = PolicyGate::new(GateConfig {
            root: dir.path().to_owned(),
            requests: WorkspaceRequests {
                allow_python: true,
                ..WorkspaceRequests::default()
            },
            offline: false,
            trust: Some(trust.clone()),
            approval: Approval::Nobody {
                why: "nobody can be asked here".to_owned(),
            },
        });
        ToolContext::new(dir.path())
            .with_config(ToolConfig {
                python: python.to_owned(),
                ..ToolConfig::default()
            })
            .with_gate(Arc::new(gate))
    };
    let code = json!({ "code": "print(6 * 7)" });
    assert_eq!(
        call(&context("python3"), "python", code.clone())
            .unwrap()
            .text,
        "42\n"
    );
    let swapped = error_text(call(&context("./evil.sh"), "python", code));
    assert!(
        swapped.starts_with("python: refused: agents run commands only with your approval"),
        "{swapped}"
    );
}
