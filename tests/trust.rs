//! `codexos trust` through the real binary: what a workspace asks for, what the user allowed, in a
//! trust store outside the workspace (`$HOME/.config/codexos/trust.toml` here, under a temporary
//! home), and a run that follows it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use expect_test::expect;

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(files: &[(&str, &str)]) -> Setup {
        let setup = Setup {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        std::fs::create_dir_all(setup.workspace().join(".git")).expect(".git");
        for (path, text) in files {
            let path = setup.workspace().join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
            std::fs::write(path, text).expect("write");
        }
        setup
    }

    fn workspace(&self) -> PathBuf {
        self.dir.path().join("project")
    }

    fn trust_file(&self) -> PathBuf {
        self.dir.path().join("home/.config/codexos/trust.toml")
    }

    fn codexos(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_codexos"))
            .args(args)
            .current_dir(self.workspace())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path().join("home"))
            .output()
            .expect("codexos runs")
    }

    /// stdout with the temporary folders replaced by `<tmp>`.
    fn stdout(&self, output: &Output) -> String {
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let real = self.dir.path().canonicalize().expect("real temp dir");
        String::from_utf8_lossy(&output.stdout)
            .replace(&real.display().to_string(), "<tmp>")
            .replace(&self.dir.path().display().to_string(), "<tmp>")
    }
}

const PLUGIN: &str = r#"{"description": "Write a proof", "command": ["sh", "./proof.sh"], "stdin": "none",
"input_schema": {"type": "object", "properties": {}}}"#;

const FLOW: &str = r#"{"id": "proof", "nodes": [
{"id": "start", "type": "entry", "next": "prove"},
{"id": "prove", "type": "tool", "tool": "proof", "args": {}, "next": "end"},
{"id": "end", "type": "exit"}
]}"#;

fn project() -> Setup {
    Setup::new(&[
        ("codexos.toml", "[tools]\nallow_shell = true\n"),
        ("tools/proof.tool.json", PLUGIN),
        ("tools/proof.sh", "echo ran > proof.txt\n"),
        ("proof.flow.json", FLOW),
    ])
}

#[test]
fn trust_lists_what_the_workspace_asks_for_and_what_is_not_approved_yet() {
    let setup = project();
    let listed = setup.codexos(&["trust"]);
    expect![[r#"
        workspace <tmp>/project
        trust store <tmp>/home/.config/codexos/trust.toml
        codexos.toml asks for: the shell tool (each command asks you)

        plug-ins and MCP servers (they run commands):
          ✗ run the plug-in `proof` (tools/proof.tool.json): `sh tools/proof.sh`  [not approved]  → codexos trust allow plugin proof

        agents never write (unless opened with `codexos trust allow write PATH`): codexos.toml, tools/, flows/builtin/, .codexos/, .git/, .vscode/, .github/workflows/, .envrc, .cargo/config.toml, .cargo/config, .pre-commit-config.yaml, .devcontainer/
    "#]]
    .assert_eq(&setup.stdout(&listed));
    assert!(!setup.trust_file().exists(), "listing writes nothing");
}

#[test]
fn an_approved_plugin_runs_until_it_changes_and_a_revoked_one_never() {
    let setup = project();
    let run = |setup: &Setup| setup.codexos(&["run", "proof.flow.json"]);
    let refused = run(&setup);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("⛔ prove: proof refused by policy: run the plug-in `proof`")
            && stderr.contains("to allow it: codexos trust allow plugin proof"),
        "{stderr}"
    );
    assert!(!setup.workspace().join("proof.txt").exists());

    expect![[r#"
        allowed the plug-in `proof` as it is now in <tmp>/project
    "#]]
    .assert_eq(&setup.stdout(&setup.codexos(&["trust", "allow", "plugin", "proof"])));
    let ran = run(&setup);
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    assert!(setup.workspace().join("proof.txt").exists());
    assert!(
        String::from_utf8_lossy(&ran.stderr)
            .contains("✔ prove: proof allowed by trust store: run the plug-in `proof`")
    );

    std::fs::remove_file(setup.workspace().join("proof.txt")).expect("remove proof");
    std::fs::write(
        setup.workspace().join("tools/proof.sh"),
        "echo changed > proof.txt\n",
    )
    .expect("change the script");
    let changed = run(&setup);
    assert!(!changed.status.success());
    assert!(
        String::from_utf8_lossy(&changed.stderr)
            .contains("this plug-in changed since you approved it")
    );
    assert!(!setup.workspace().join("proof.txt").exists());

    expect![[r#"
        revoked the plug-in `proof` in <tmp>/project
    "#]]
    .assert_eq(&setup.stdout(&setup.codexos(&["trust", "revoke", "plugin", "proof"])));
    assert!(!run(&setup).status.success());
}

#[test]
fn grants_are_kept_private_outside_the_workspace_and_shown_by_trust() {
    let setup = project();
    for args in [
        &["trust", "allow", "command", "cargo test*"][..],
        &["trust", "allow", "host", "Docs.rs"],
        &[
            "trust",
            "allow",
            "host",
            "api.example.com",
            "--method",
            "post",
        ],
        &["trust", "allow", "write", ".vscode/"],
        &["trust", "protect", "deploy/"],
    ] {
        setup.stdout(&setup.codexos(args));
    }
    let mode = |path: &Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .map(|meta| meta.permissions().mode() & 0o777)
            .ok()
    };
    assert_eq!(mode(&setup.trust_file()), Some(0o600));
    assert!(
        !std::fs::read_dir(setup.workspace())
            .expect("workspace")
            .flatten()
            .any(|entry| entry.file_name().to_string_lossy().contains("trust")),
        "nothing about trust is written into the workspace"
    );
    let listed = setup.stdout(&setup.codexos(&["trust"]));
    let allowed: Vec<&str> = listed
        .lines()
        .skip_while(|line| *line != "you allowed:")
        .take_while(|line| !line.is_empty())
        .collect();
    expect![[r#"
        [
            "you allowed:",
            "  commands that run without asking: cargo test*",
            "  hosts agents may reach: docs.rs, POST api.example.com",
            "  protected paths opened for agents: .vscode/",
            "  paths you protected: deploy/",
        ]
    "#]]
    .assert_debug_eq(&allowed);
    let bad = setup.codexos(&["trust", "allow", "host", "https://docs.rs/serde"]);
    assert!(!bad.status.success());
    expect![[r#"
        error: `https://docs.rs/serde` is not a host name (give `docs.rs` or `*.example.com`, without scheme or path)
    "#]]
    .assert_eq(&String::from_utf8_lossy(&bad.stderr));
}

#[test]
fn a_broken_trust_store_is_an_error_naming_its_line_and_is_left_as_it_is() {
    let setup = project();
    std::fs::create_dir_all(setup.trust_file().parent().expect("dir")).expect("dir");
    std::fs::write(setup.trust_file(), "[workspaces]\nx = [\n").expect("broken");
    let failed = setup.codexos(&["trust", "allow", "command", "ls"]);
    assert!(!failed.status.success());
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains("trust.toml:2:6: invalid trust store:"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(setup.trust_file()).ok().as_deref(),
        Some("[workspaces]\nx = [\n")
    );
}
