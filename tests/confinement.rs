//! Nothing outside the workspace gets in through the real binary: symbolic links out of it are
//! not indexed (so `codexos search` never finds their text), sub-flow paths that leave it are
//! errors of `codexos check`, and a `codexos.toml` above the project's VCS root is not adopted.

use std::path::Path;
use std::process::{Command, Output};

fn codexos(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_codexos"))
        .args(args)
        .current_dir(cwd)
        .env_remove("CODEXOS_INDEX_BATCH_DELAY_MS")
        .output()
        .expect("codexos starts")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("folders");
    std::fs::write(path, text).expect("write");
}

#[test]
fn search_never_finds_the_text_of_a_file_linked_from_outside_the_workspace() {
    let outside = tempfile::tempdir().expect("temp dir");
    let workspace = tempfile::tempdir().expect("temp dir");
    let root = workspace.path();
    write(outside.path(), "id_rsa", "zanzibar private key material\n");
    write(
        outside.path(),
        "sibling/notes.md",
        "zanzibar sibling notes\n",
    );
    write(
        root,
        "src/lib.rs",
        "/// Adds two numbers.\npub fn add() {}\n",
    );
    std::os::unix::fs::symlink(outside.path().join("id_rsa"), root.join("src/key.txt"))
        .expect("file link");
    std::os::unix::fs::symlink(outside.path().join("sibling"), root.join("sibling"))
        .expect("folder link");

    let indexed = codexos(root, &["index"]);
    assert!(indexed.status.success(), "{}", text(&indexed.stderr));
    let stderr = text(&indexed.stderr);
    for link in ["src/key.txt", "sibling"] {
        assert!(
            stderr.contains(&root.join(link).display().to_string()),
            "no warning names {link}:\n{stderr}"
        );
    }
    for mode in ["bm25", "hybrid"] {
        let found = codexos(root, &["search", "--json", "--mode", mode, "zanzibar"]);
        let stdout = text(&found.stdout);
        assert!(
            !stdout.contains("key.txt") && !stdout.contains("sibling"),
            "{mode}: {stdout}"
        );
    }
}

#[test]
fn check_reports_sub_flow_paths_that_leave_the_workspace_where_they_are_written() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("project");
    let sub_flow = r#"{ "id": "sub", "nodes": [
  { "id": "start", "type": "entry", "next": "end" },
  { "id": "end", "type": "exit" }
] }
"#;
    write(dir.path(), "elsewhere.flow.json", sub_flow);
    write(&root, "codexos.toml", "");
    write(&root, "helpers/ok.flow.json", sub_flow);
    write(
        &root,
        "flows/main.flow.json",
        r#"{ "id": "main", "nodes": [
  { "id": "start", "type": "entry", "next": "up" },
  { "id": "up", "type": "flow", "flow": "../../elsewhere.flow.json", "next": "absolute" },
  { "id": "absolute", "type": "flow", "flow": "/etc/elsewhere.flow.json", "next": "linked" },
  { "id": "linked", "type": "flow", "flow": "linked.flow.json", "next": "inside" },
  { "id": "inside", "type": "flow", "flow": "../helpers/ok.flow.json", "next": "end" },
  { "id": "end", "type": "exit" }
] }
"#,
    );
    std::os::unix::fs::symlink(
        dir.path().join("elsewhere.flow.json"),
        root.join("flows/linked.flow.json"),
    )
    .expect("link");

    let checked = codexos(&root, &["check", "flows/main.flow.json"]);
    assert_eq!(checked.status.code(), Some(1), "{}", text(&checked.stderr));
    expect_test::expect![[r#"
        flows/main.flow.json:3:41: error[flow-outside-workspace]: sub-flow paths must stay inside the workspace: `../../elsewhere.flow.json` leads outside it
        flows/main.flow.json:4:47: error[flow-outside-workspace]: sub-flow paths must stay inside the workspace: `/etc/elsewhere.flow.json` is absolute; write it relative to this file
        flows/main.flow.json:5:45: error[flow-outside-workspace]: sub-flow paths must stay inside the workspace: `linked.flow.json` leads outside it
        Checked 1 flow: 3 error(s), 0 warning(s).
    "#]]
    .assert_eq(&text(&checked.stdout));
}

#[test]
fn a_codexos_toml_above_the_projects_repository_is_ignored_with_a_warning_and_runs_stay_in_the_project()
 {
    let parent = tempfile::tempdir().expect("temp dir");
    let project = parent.path().join("project");
    let pwned = parent.path().join("pwned");
    write(
        parent.path(),
        "codexos.toml",
        "[tools]\nallow_shell = true\n",
    );
    std::fs::create_dir_all(project.join(".git")).expect("repository");
    write(
        &project,
        "flows/shell.flow.json",
        &format!(
            r#"{{ "id": "shell", "nodes": [
  {{ "id": "start", "type": "entry", "next": "touch" }},
  {{ "id": "touch", "type": "tool", "tool": "shell", "args": {{ "command": "touch {}" }}, "next": "end" }},
  {{ "id": "end", "type": "exit" }}
] }}"#,
            pwned.display()
        ),
    );

    let ran = Command::new(env!("CARGO_BIN_EXE_codexos"))
        .args(["run", "flows/shell.flow.json"])
        .current_dir(&project)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", parent.path().join("home"))
        .output()
        .expect("codexos starts");
    let stderr = text(&ran.stderr);
    let config = parent
        .path()
        .canonicalize()
        .expect("real")
        .join("codexos.toml");
    assert!(
        stderr.contains(&format!("warning: {} is ignored", config.display())),
        "{stderr}"
    );
    assert!(!ran.status.success(), "the shell is not allowed:\n{stderr}");
    assert!(!pwned.exists(), "the shell ran:\n{stderr}");
    let traces: Vec<_> = std::fs::read_dir(project.join(".codexos/runs"))
        .expect("the project's runs")
        .flatten()
        .filter(|entry| entry.path().extension().is_some_and(|e| e == "jsonl"))
        .collect();
    assert_eq!(traces.len(), 1, "{stderr}");
    assert!(!parent.path().join(".codexos").exists());
}
