//! The flows CodexOS ships under `flows/` pass `codexos check` (the real binary, as CI would run
//! it) with no error, and with only the warnings a fresh machine must give.

use std::path::{Path, PathBuf};
use std::process::Command;

use expect_test::expect;
use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn every_shipped_flow_passes_codexos_check_with_only_fresh_machine_warnings() {
    let output = Command::new(env!("CARGO_BIN_EXE_codexos"))
        .args(["check", "flows", "--format", "json"])
        .current_dir(repo_root())
        .output()
        .expect("run codexos check");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "codexos check flows exited with {}\n{stdout}\n{stderr}",
        output.status
    );
    // `--format json` prints JSON lines: one finding a line.
    let findings: Vec<String> = stdout
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str::<Value>(line)
                .unwrap_or_else(|error| panic!("not a JSON finding ({error}): {line}\n{stdout}"))
        })
        .map(|finding| {
            format!(
                "{} {}:{} {}[{}]",
                finding["path"].as_str().unwrap_or("?"),
                finding["line"],
                finding["column"],
                finding["severity"].as_str().unwrap_or("?"),
                finding["code"].as_str().unwrap_or("?"),
            )
        })
        .collect();
    // The seed's `WebSearch` is no built-in tool, and no vault holds `github_token` yet.
    expect![[r#"
        flows/examples/release-notes.flow.json 13:14 warning[missing-secret]
        flows/examples/release-notes.flow.json 22:47 warning[missing-secret]
        flows/examples/seed-agent.flow.json 6:54 warning[unknown-tool]"#]]
    .assert_eq(&findings.join("\n"));
}

#[test]
fn every_template_forks_into_a_workspace_flow_that_passes_codexos_check() {
    let workspace = tempfile::tempdir().expect("temp dir");
    let codexos = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_codexos"))
            .args(args)
            .current_dir(workspace.path())
            .output()
            .expect("run codexos");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(
            output.status.success(),
            "codexos {args:?} exited with {}\n{stdout}\n{stderr}",
            output.status
        );
        assert_eq!(stderr, "", "codexos {args:?} warned");
        stdout
    };
    let listed: Value =
        serde_json::from_str(&codexos(&["flow", "templates", "--json"])).expect("JSON templates");
    let names: Vec<&str> = listed
        .as_array()
        .expect("a list of templates")
        .iter()
        .filter_map(|template| template["name"].as_str())
        .collect();
    assert_eq!(names.len(), 6, "{listed}");
    for name in &names {
        let path = format!("flows/my-{name}.flow.json");
        assert_eq!(
            codexos(&["flow", "new", "--template", name, &path]).trim(),
            path
        );
        let forked: Value = serde_json::from_str(
            &std::fs::read_to_string(workspace.path().join(&path)).expect("the new flow"),
        )
        .expect("the new flow is JSON");
        assert_eq!(forked["id"], format!("my-{name}"));
        assert!(forked.get("$schema").is_none());
    }
    let checked = codexos(&["check", "flows"]);
    assert!(
        checked.starts_with("Checked 6 flows"),
        "codexos check on the forked flows: {checked}"
    );
}
