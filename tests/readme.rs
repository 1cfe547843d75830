//! Every `codexos` command in the README's shell blocks runs as written, in order, on a clone of
//! this repository (indexed first, as `scripts/try` does), with no API key: a command that fails
//! here fails for a reader. The few that cannot run here are listed with the reason, and a test
//! keeps that list exact, so a new command in the README runs by default.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const README: &str = include_str!("../README.md");

/// Commands the test does not run, each for a reason a reader would accept.
const NOT_RUN: &[(&str, &str)] = &[
    (
        "scripts/try",
        "the README's main job, run by hand and by tests/local_model.rs",
    ),
    ("scripts/test", "what CI itself runs"),
    (
        "codexos models install",
        "downloads 190 MB and distils for minutes: tests/models.rs installs from a local index",
    ),
    (
        "codexos models remove",
        "would remove the models the other commands use",
    ),
    (
        "codexos serve --bind",
        "serves until stopped: tests/serve.rs starts it on a loopback port",
    ),
    (
        "| gh ",
        "pipes a secret into GitHub's CLI, which is not installed here",
    ),
];

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The shell lines of the README's ```sh blocks that run `codexos` (or build and run it with
/// `cargo run --bin codexos --`), without their comments.
fn commands() -> Vec<String> {
    let mut commands = Vec::new();
    let mut in_sh = false;
    for line in README.lines() {
        if line.starts_with("```") {
            in_sh = !in_sh && line.trim() == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        let command = match line.find("  #") {
            Some(comment) => &line[..comment],
            None => line,
        }
        .trim();
        if command.contains("codexos") || command.starts_with("scripts/") {
            commands.push(command.to_owned());
        }
    }
    commands
}

/// A word in capitals stands for something the reader fills in (`FLOW`, `RUN_ID`); so do the
/// README's example names.
fn placeholder(command: &str) -> bool {
    let shell_variable = |word: &str| word.starts_with("\"$") || word.starts_with('$');
    command.split_whitespace().any(|word| {
        let bare = word.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '_');
        !shell_variable(word)
            && bare.len() >= 3
            && bare.chars().all(|c| c.is_ascii_uppercase() || c == '_')
    }) || command.contains("flows/x.flow.json")
        || command.contains("mirror.example")
        || command.contains("~/wheels")
}

fn skipped(command: &str) -> Option<&'static str> {
    NOT_RUN
        .iter()
        .find(|(pattern, _)| command.contains(pattern))
        .map(|(_, reason)| *reason)
}

fn clone_of_this_repository(into: &Path) -> PathBuf {
    let repository = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let clone = into.join("codexos");
    let cloned = Command::new("git")
        .args(["clone", "--quiet", "--no-local"])
        .arg(format!(
            "file://{}",
            repository.canonicalize().expect("repo").display()
        ))
        .arg(&clone)
        .output()
        .expect("git runs");
    assert!(
        cloned.status.success(),
        "git clone: {}",
        text(&cloned.stderr)
    );
    // The README's `--commit main~3` needs a `main` three commits deep: a CI checkout may be
    // detached or shallow, so the clone gets a `main` at its HEAD and, when its history is
    // shorter, three empty commits on top.
    let git = |args: &[&str]| {
        Command::new("git")
            .args([
                "-c",
                "user.name=readme",
                "-c",
                "user.email=readme@example.invalid",
            ])
            .args(args)
            .current_dir(&clone)
            .output()
            .expect("git runs")
    };
    assert!(git(&["checkout", "--quiet", "-B", "main"]).status.success());
    if !git(&["rev-parse", "--verify", "--quiet", "main~3"])
        .status
        .success()
    {
        for _ in 0..3 {
            let committed = git(&["commit", "--quiet", "--allow-empty", "-m", "deepen"]);
            assert!(committed.status.success(), "{}", text(&committed.stderr));
        }
    }
    clone
}

fn shell(dir: &Path, home: &Path, command: &str) -> Output {
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_codexos"));
    let path = std::env::join_paths(
        std::iter::once(binary.parent().expect("bin dir").to_path_buf()).chain(
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
        ),
    )
    .expect("PATH");
    let command = command.replace("cargo run --bin codexos --", &binary.display().to_string());
    Command::new("sh")
        .args(["-c", &command])
        .current_dir(dir)
        .env("PATH", path)
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("OPENAI_API_KEY")
        .env_remove("ANTHROPIC_API_KEY")
        .env("GITHUB_TOKEN", "ghp-readme-test-token")
        .env("VAULT_MASTER_KEY", "readme-test-master-key-0123456789")
        .output()
        .expect("sh runs")
}

#[test]
fn every_codexos_command_of_the_readme_runs_as_written_on_a_clone_of_this_repository() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let home = scratch.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let clone = clone_of_this_repository(scratch.path());
    let index = shell(&clone, &home, "codexos index .");
    assert!(
        index.status.success(),
        "codexos index .: {}",
        text(&index.stderr)
    );

    let mut ran = 0;
    for command in commands() {
        if placeholder(&command) || skipped(&command).is_some() {
            continue;
        }
        let output = shell(&clone, &home, &command);
        assert!(
            output.status.success(),
            "`{command}` failed ({:?}):\nstdout:\n{}\nstderr:\n{}",
            output.status,
            text(&output.stdout),
            text(&output.stderr)
        );
        ran += 1;
    }
    assert!(ran >= 10, "only {ran} README commands ran");
}

#[test]
fn every_command_the_readme_test_does_not_run_is_a_placeholder_or_named_with_its_reason() {
    let commands = commands();
    for (pattern, _) in NOT_RUN {
        assert!(
            commands.iter().any(|command| command.contains(pattern)),
            "`{pattern}` is no longer in the README: remove it from NOT_RUN"
        );
    }
    let placeholders: Vec<&String> = commands
        .iter()
        .filter(|command| placeholder(command) && skipped(command).is_none())
        .collect();
    for command in &placeholders {
        assert!(
            command.contains("FLOW")
                || command.contains("RUN_ID")
                || command.contains("x.flow.json")
                || command.contains("mirror.example")
                || command.contains("~/wheels"),
            "`{command}` is taken for a placeholder: name what the reader fills in in capitals"
        );
    }
}
