//! `codexos init` through the real binary: on an empty folder, again on the same folder (nothing
//! changes), and on a clone of this repository; `codexos check` passes on what it writes.

use std::path::Path;
use std::process::{Command, Output};

fn codexos(dir: &Path, args: &[&str]) -> Output {
    let home = tempfile::tempdir().expect("temp home");
    Command::new(env!("CARGO_BIN_EXE_codexos"))
        .args(args)
        .current_dir(dir)
        .env("HOME", home.path())
        .env_remove("XDG_CONFIG_HOME")
        .output()
        .expect("codexos runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_success(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
}

fn read(dir: &Path, path: &str) -> String {
    std::fs::read_to_string(dir.join(path)).unwrap_or_else(|error| panic!("{path}: {error}"))
}

#[test]
fn init_makes_an_empty_folder_a_workspace_that_checks_clean_and_a_second_run_changes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("src")).expect("src");
    std::fs::write(dir.path().join("src/app.py"), "def main():\n    pass\n").expect("app.py");
    std::fs::create_dir_all(dir.path().join("node_modules/left-pad")).expect("node_modules");

    let first = codexos(dir.path(), &["init", "."]);
    assert_success(&first, "init");
    let said = text(&first.stdout);
    for line in [
        "created  ",
        "codexos.toml\n",
        "flows/explain-code.flow.json\n",
        ".gitignore (.codexos/ added)\n",
    ] {
        assert!(said.contains(line), "`{line}` in:\n{said}");
    }
    let config = read(dir.path(), "codexos.toml");
    assert!(
        config.contains("# Files by language found here: Python (1)."),
        "{config}"
    );
    assert!(
        config.contains("exclude = [\"node_modules/**\"]"),
        "{config}"
    );
    assert!(read(dir.path(), ".gitignore").contains("\n.codexos/\n"));

    let check = codexos(dir.path(), &["check", "."]);
    assert_success(&check, "check");

    let before: Vec<String> = ["codexos.toml", "flows/explain-code.flow.json", ".gitignore"]
        .iter()
        .map(|path| read(dir.path(), path))
        .collect();
    let second = codexos(dir.path(), &["init", "."]);
    assert_success(&second, "init again");
    let said = text(&second.stdout);
    assert_eq!(said.matches("kept     ").count(), 3, "{said}");
    assert!(!said.contains("created"), "{said}");
    let after: Vec<String> = ["codexos.toml", "flows/explain-code.flow.json", ".gitignore"]
        .iter()
        .map(|path| read(dir.path(), path))
        .collect();
    assert_eq!(before, after, "a second init changes nothing");
}

#[test]
fn init_on_a_clone_of_this_repository_keeps_what_it_has_and_writes_a_config_that_checks_clean() {
    let repository = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile::tempdir().expect("temp dir");
    let clone = dir.path().join("codexos");
    let cloned = Command::new("git")
        .args(["clone", "--quiet", "--depth", "1", "--no-local"])
        .arg(format!(
            "file://{}",
            repository.canonicalize().expect("repo").display()
        ))
        .arg(&clone)
        .output()
        .expect("git runs");
    assert_success(&cloned, "git clone");

    let kept = codexos(&clone, &["init"]);
    assert_success(&kept, "init");
    let said = text(&kept.stdout);
    assert_eq!(said.matches("kept     ").count(), 3, "{said}");

    std::fs::remove_file(clone.join("codexos.toml")).expect("remove codexos.toml");
    let written = codexos(&clone, &["init"]);
    assert_success(&written, "init without codexos.toml");
    let config = read(&clone, "codexos.toml");
    let languages = config
        .lines()
        .find(|line| line.starts_with("# Files by language found here: "))
        .expect("the languages line");
    for language in ["Rust (", "TypeScript (", "Lua (", "Markdown ("] {
        assert!(languages.contains(language), "{languages}");
    }
    // The repository's own test fixtures are broken flows on purpose (its codexos.toml, removed
    // above, excluded them): the flows a user runs are under flows/.
    let check = codexos(&clone, &["check", "flows"]);
    assert_success(&check, "check");
}
