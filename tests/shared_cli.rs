//! `codexos index --publish` and a clone's `codexos index` / `codexos search` through the real
//! binary and a real Chroma server (`chroma run`; skipped with a message when chroma is not
//! installed, failed under CI): only changed chunks are sent, a clone indexes only its overlay,
//! and a publish that cannot reach its server fails naming it, writing nothing.

use std::path::Path;
use std::process::{Command, Output};

use codexos_test_support::{ChromaServer, git};

const BIN: &str = env!("CARGO_BIN_EXE_codexos");

fn codexos(root: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(root)
        .env_remove("CODEXOS_INDEX_BATCH_DELAY_MS")
        .output()
        .unwrap()
}

fn succeeds(root: &Path, args: &[&str]) -> String {
    let output = codexos(root, args);
    assert!(output.status.success(), "codexos {args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// A committed repository of three small files whose codexos.toml names `url` as its base.
fn repository(url: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        (
            "codexos.toml",
            format!(
                "[index]\nembedder = \"builtin\"\nupgrade = \"none\"\n\n[index.shared]\nurl = \"{url}\"\n"
            ),
        ),
        (".gitignore", ".codexos/\n".to_owned()),
        (
            "tide.rs",
            "pub fn high_tide_level() -> u32 {\n    7\n}\n".to_owned(),
        ),
        (
            "wind.rs",
            "pub fn wind_speed_knots() -> u32 {\n    12\n}\n".to_owned(),
        ),
        (
            "storm.rs",
            "pub fn storm_warning_flag() -> bool {\n    true\n}\n".to_owned(),
        ),
    ];
    for (path, text) in files {
        std::fs::write(dir.path().join(path), text).unwrap();
    }
    git(dir.path(), &["init", "--quiet"]);
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "--quiet", "-m", "base"]);
    dir
}

/// `(new, removed, kept)` from `published N new, removed N, kept N chunks, …`.
fn published(stdout: &str) -> (usize, usize, usize) {
    let line = stdout
        .lines()
        .find(|line| line.starts_with("published "))
        .unwrap_or_else(|| panic!("no publish line in {stdout}"));
    let numbers: Vec<usize> = line
        .split([' ', ','])
        .filter_map(|word| word.parse().ok())
        .collect();
    (numbers[0], numbers[1], numbers[2])
}

fn change_wind(root: &Path) {
    std::fs::write(
        root.join("wind.rs"),
        "pub fn wind_speed_knots() -> u32 {\n    14\n}\n",
    )
    .unwrap();
    git(root, &["commit", "--quiet", "-am", "stronger wind"]);
}

#[test]
fn a_second_publish_sends_only_the_changed_files_chunks_and_a_clone_indexes_only_its_overlay() {
    let Some(server) = ChromaServer::start_if_installed() else {
        return;
    };
    let url = server.url();
    let main = repository(&url);
    let (first, removed, kept) = published(&succeeds(main.path(), &["index", "--publish", &url]));
    assert!(
        first >= 3 && (removed, kept) == (0, 0),
        "{first} {removed} {kept}"
    );

    change_wind(main.path());
    let second = published(&succeeds(main.path(), &["index", "--publish", &url]));
    assert_eq!(second, (1, 1, first - 1), "only wind.rs's chunk changed");

    let clones = tempfile::tempdir().unwrap();
    let clone = clones.path().join("clone");
    git(
        main.path(),
        &["clone", "--quiet", ".", clone.to_str().unwrap()],
    );
    std::fs::write(
        clone.join("current.rs"),
        "pub fn ocean_current_speed() -> u32 {\n    3\n}\n",
    )
    .unwrap();
    let indexed = succeeds(&clone, &["index"]);
    assert!(
        indexed.starts_with("indexed 1 files"),
        "only current.rs, the overlay: {indexed}"
    );
    let hits = succeeds(&clone, &["search", "--json", "-k", "1", "wind speed knots"]);
    assert!(
        hits.contains("\"path\":\"wind.rs\"") && hits.contains("14"),
        "the base answers for wind.rs as published: {hits}"
    );
}

#[test]
fn a_publish_to_a_bad_url_or_a_stopped_server_fails_naming_it_and_writes_nothing() {
    let Some(mut server) = ChromaServer::start_if_installed() else {
        return;
    };
    let url = server.url();
    let main = repository(&url);

    let bad = "chroma://127.0.0.1:1/x";
    let output = codexos(main.path(), &["index", "--publish", bad]);
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && said.contains(bad), "{said}");
    assert!(
        !main.path().join(".codexos/index").exists(),
        "refused before indexing"
    );

    let (first, _, _) = published(&succeeds(main.path(), &["index", "--publish", &url]));
    server.stop();
    change_wind(main.path());
    let output = codexos(main.path(), &["index", "--publish", &url]);
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && said.contains(&url),
        "the error names the server: {said}"
    );

    // Back up, the base is as the first publish left it: this publish sends the change.
    server.restart();
    let again = published(&succeeds(main.path(), &["index", "--publish", &url]));
    assert_eq!(again, (1, 1, first - 1));
}
