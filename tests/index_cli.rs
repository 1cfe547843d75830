//! `codexos index` and `codexos search` through the real binary: a `kill -9` mid-index,
//! two writers at once, search output, `--commit` on a git repository, skipped files.

use codexos_test_support::git;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_codexos");

fn codexos(root: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .current_dir(root)
        .env_remove("CODEXOS_INDEX_BATCH_DELAY_MS");
    command
}

fn run(root: &Path, args: &[&str]) -> Output {
    codexos(root, args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A workspace of `files` small Rust files, committed to the index `commit_chunks` at a time.
fn workspace(files: usize, commit_chunks: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("codexos.toml"),
        format!("[index]\ncommit_chunks = {commit_chunks}\n"),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    for number in 0..files {
        std::fs::write(
            dir.path().join(format!("src/module_{number:03}.rs")),
            format!("/// Returns {number}.\npub fn value_{number}() -> u32 {{\n    {number}\n}}\n"),
        )
        .unwrap();
    }
    dir
}

/// Starts a slow `codexos index` (it sleeps after each committed batch).
fn spawn_slow_index(root: &Path) -> Child {
    codexos(root, &["index"])
        .env("CODEXOS_INDEX_BATCH_DELAY_MS", "150")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// `--status` lines as `key: value`.
fn status(root: &Path) -> String {
    let output = run(root, &["index", "--status"]);
    text(&output.stdout)
}

fn status_number(status: &str, key: &str) -> usize {
    status
        .lines()
        .find_map(|line| {
            line.strip_prefix(key)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no {key} in status:\n{status}"))
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn kill_9_mid_index_leaves_a_consistent_index_and_the_next_run_finishes_without_redoing_committed_files()
 {
    let dir = workspace(120, 10);
    let mut child = spawn_slow_index(dir.path());
    wait_until("some batches are committed", || {
        dir.path().join(".codexos/index/lmdb/data.mdb").exists() && {
            let status = status(dir.path());
            status.contains("files:") && status_number(&status, "files:") >= 20
        }
    });
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let after_kill = status(dir.path());
    assert!(after_kill.contains("consistent: yes"), "{after_kill}");
    let committed = status_number(&after_kill, "files:");
    assert!(
        (20..120).contains(&committed),
        "{committed} files committed before the kill:\n{after_kill}"
    );
    assert_eq!(
        status_number(&after_kill, "chunks:"),
        status_number(&after_kill, "vectors:") + status_number(&after_kill, "waiting:"),
        "every chunk has its vector or waits for it:\n{after_kill}"
    );

    let rerun = run(dir.path(), &["index"]);
    assert!(rerun.status.success(), "{}", text(&rerun.stderr));
    let summary = text(&rerun.stdout);
    assert!(
        summary.contains(&format!(
            "indexed {} files ({committed} unchanged",
            121 - committed
        )),
        "the rerun indexes only what the killed run had not committed:\n{summary}"
    );
    let finished = status(dir.path());
    assert!(finished.contains("consistent: yes"), "{finished}");
    assert!(finished.contains("codes:      current"), "{finished}");
    assert_eq!(status_number(&finished, "waiting:"), 0, "{finished}");
    assert_eq!(
        status_number(&finished, "chunks:"),
        status_number(&finished, "vectors:"),
        "{finished}"
    );
    assert_eq!(status_number(&finished, "files:"), 121, "{finished}");

    let search = run(dir.path(), &["search", "--json", "-k", "1", "value_77"]);
    assert!(
        text(&search.stdout).contains("src/module_077.rs"),
        "{}",
        text(&search.stdout)
    );
}

#[test]
fn a_second_indexer_gets_a_clear_error_naming_the_pid_that_holds_the_index() {
    let dir = workspace(200, 10);
    let mut first = spawn_slow_index(dir.path());
    wait_until("the first indexer holds the lock", || {
        std::fs::read_to_string(dir.path().join(".codexos/index/lock"))
            .is_ok_and(|pid| !pid.is_empty())
    });
    let second = run(dir.path(), &["index"]);
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(second.status.code(), Some(2));
    let stderr = text(&second.stderr);
    let expected = format!("is in use by pid {}", first.id());
    assert!(
        stderr.contains(".codexos/index") && stderr.contains(&expected),
        "{stderr}"
    );
}

#[test]
fn a_second_indexer_told_to_wait_runs_once_the_first_has_finished() {
    let dir = workspace(40, 10);
    let mut first = spawn_slow_index(dir.path());
    wait_until("the first indexer holds the lock", || {
        std::fs::read_to_string(dir.path().join(".codexos/index/lock"))
            .is_ok_and(|pid| !pid.is_empty())
    });
    let second = run(dir.path(), &["index", "--wait", "60"]);
    let first_status = first.wait().unwrap();
    assert!(first_status.success(), "the first run finishes undisturbed");
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert!(
        text(&second.stdout).contains("indexed 0 files (41 unchanged"),
        "the second run starts after the first and finds its work done:\n{}",
        text(&second.stdout)
    );
    let finished = status(dir.path());
    assert!(finished.contains("consistent: yes"), "{finished}");
    assert_eq!(status_number(&finished, "files:"), 41, "{finished}");
}

#[test]
fn search_prints_json_lines_with_path_lines_score_and_symbol() {
    let dir = workspace(5, 2048);
    std::fs::write(
        dir.path().join("src/walk.rs"),
        "/// Walks the directory tree, honouring gitignore rules.\npub fn walk_directory_tree() {}\n",
    )
    .unwrap();
    assert!(run(dir.path(), &["index"]).status.success());
    let output = run(
        dir.path(),
        &[
            "search",
            "--json",
            "-k",
            "2",
            "--files",
            "walk the directory tree",
        ],
    );
    let stdout = text(&output.stdout);
    let first: serde_json::Value =
        serde_json::from_str(stdout.lines().next().unwrap_or_default()).unwrap();
    assert_eq!(first["path"], "src/walk.rs", "{stdout}");
    assert_eq!(
        (first["start_line"].as_u64(), first["end_line"].as_u64()),
        (Some(1), Some(2)),
        "{stdout}"
    );
    assert_eq!(first["symbol"], "walk::walk_directory_tree", "{stdout}");
    assert!(
        first["score"].as_f64().is_some_and(|score| score > 0.0),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
}

#[test]
fn index_upgrade_moves_search_to_minilm_vectors_and_status_shows_how_far_it_got() {
    let minilm = codexos_embed::default_models_dir()
        .map(|models| models.join(codexos_embed::MINILM_DIR_NAME))
        .filter(|dir| dir.join("model.safetensors").is_file());
    if minilm.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs the MiniLM weights: run scripts/fetch-models"
        );
        eprintln!("no MiniLM weights (run scripts/fetch-models); this test checks nothing here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(
        root.join("codexos.toml"),
        "[index]\nembedder = \"builtin\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(
        root.join("src/pets.rs"),
        "/// The cat sleeps on the sofa all afternoon.\npub fn nap() {}\n",
    )
    .unwrap();
    std::fs::write(
        root.join("src/kitchen.rs"),
        "/// Sets the timer of the kitchen oven.\npub fn set_kitchen_timer(minutes: u32) {}\n",
    )
    .unwrap();
    let top_file = || {
        let output = run(
            root,
            &[
                "search",
                "--files",
                "--json",
                "--mode",
                "vector",
                "a kitten resting",
            ],
        );
        assert!(output.status.success(), "{}", text(&output.stderr));
        let first: serde_json::Value =
            serde_json::from_str(text(&output.stdout).lines().next().unwrap()).unwrap();
        first["path"].as_str().unwrap().to_owned()
    };

    assert!(run(root, &["index"]).status.success());
    assert!(!status(root).contains("upgrade:"));
    assert_eq!(top_file(), "src/kitchen.rs");

    let upgraded = run(root, &["index", "--upgrade"]);
    assert!(upgraded.status.success(), "{}", text(&upgraded.stderr));
    let stdout = text(&upgraded.stdout);
    assert!(
        stdout.contains("upgraded 3 chunks to all-MiniLM-L6-v2"),
        "{stdout}"
    );
    let status = status(root);
    assert!(
        status.contains("3/3 chunks (searches use these vectors)"),
        "{status}"
    );
    assert_eq!(top_file(), "src/pets.rs");
    let again = text(&run(root, &["index", "--upgrade"]).stdout);
    assert!(again.contains("upgraded 0 chunks"), "{again}");

    // A rag node of `codexos run` reads the same vectors as `codexos search`.
    std::fs::write(
        root.join("kitten.flow.json"),
        r#"{"id": "kitten", "nodes": [
{"id": "start", "type": "entry", "next": "find"},
{"id": "find", "type": "rag", "query": "{{input}}", "k": 1, "next": "done"},
{"id": "done", "type": "exit", "output": "{{nodes.find.output}}"}
]}"#,
    )
    .unwrap();
    let rag = run(
        root,
        &["run", "kitten.flow.json", "--input", "a kitten resting"],
    );
    assert!(rag.status.success(), "{}", text(&rag.stderr));
    assert!(
        text(&rag.stdout).starts_with("src/pets.rs:"),
        "{}",
        text(&rag.stdout)
    );
}

/// The paths `codexos search --json` prints for `args`, in order.
fn searched_paths(root: &Path, args: &[&str]) -> Vec<String> {
    let output = run(
        root,
        &[&["search", "--json", "--mode", "bm25"], args].concat(),
    );
    text(&output.stdout)
        .lines()
        .map(|line| {
            let hit: serde_json::Value = serde_json::from_str(line).unwrap();
            hit["path"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[test]
fn search_commit_finds_only_what_changed_since_that_commit() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("src")).unwrap();
    let ledger = |name: &str, body: &str| {
        std::fs::write(
            root.join(format!("src/{name}.rs")),
            format!("/// Balances the ledger.\npub fn {name}_ledger() {{\n    {body}\n}}\n"),
        )
        .unwrap();
    };
    ledger("stock", "1");
    ledger("cash", "2");
    ledger("bank", "3");
    git(root, &["init", "--quiet", "--initial-branch", "main"]);
    git(root, &["add", "."]);
    git(root, &["commit", "--quiet", "-m", "first"]);
    assert!(
        run(root, &["index", "--embedder", "builtin"])
            .status
            .success()
    );
    // The second commit changes one file; another is edited after it, not committed; a third
    // is new and untracked.
    ledger("cash", "20");
    git(root, &["commit", "--quiet", "-am", "second"]);
    ledger("bank", "30");
    ledger("audit", "4");
    assert!(
        run(root, &["index", "--embedder", "builtin"])
            .status
            .success()
    );

    let mut all = searched_paths(root, &["balances ledger"]);
    all.sort();
    assert_eq!(
        all,
        ["src/audit.rs", "src/bank.rs", "src/cash.rs", "src/stock.rs"]
    );
    let mut since_first = searched_paths(root, &["--commit", "HEAD~1", "balances ledger"]);
    since_first.sort();
    assert_eq!(since_first, ["src/audit.rs", "src/bank.rs", "src/cash.rs"]);
    let mut since_second = searched_paths(root, &["--commit", "main", "balances ledger"]);
    since_second.sort();
    assert_eq!(
        since_second,
        ["src/audit.rs", "src/bank.rs"],
        "the committed change is older than `main`"
    );

    // Changed by a commit after the second, but not re-indexed since: the index's text of it is
    // from the first commit, so it is no answer to "what changed since the second".
    ledger("stock", "10");
    git(root, &["commit", "--quiet", "-am", "third"]);
    let mut stale = searched_paths(root, &["--commit", "main~1", "balances ledger"]);
    stale.sort();
    assert_eq!(
        stale,
        ["src/audit.rs", "src/bank.rs"],
        "stock.rs is not re-indexed yet"
    );

    let unknown = run(root, &["search", "--commit", "no-such-rev", "ledger"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        text(&unknown.stderr).contains("commit `no-such-rev`: not a commit"),
        "{}",
        text(&unknown.stderr)
    );
}

#[test]
fn skipped_files_are_counted_by_reason_on_one_line_and_listed_only_at_debug_level() {
    let dir = workspace(2, 2048);
    for number in 0..5 {
        std::fs::write(
            dir.path().join(format!("image_{number}.png")),
            b"\x89PNG\r\n\x1a\n\0\0\0",
        )
        .unwrap();
    }
    std::fs::write(dir.path().join("latin1.py"), b"name = '\xe9t\xe9'\n").unwrap();
    let output = run(dir.path(), &["index", "--embedder", "builtin"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    let skipped: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("skipped"))
        .collect();
    assert_eq!(skipped.len(), 1, "{stderr}");
    assert!(
        skipped[0].contains("skipped 6 files, not indexed: 5 binary, 1 not UTF-8"),
        "{stderr}"
    );
    assert!(!stderr.contains("image_0.png"), "{stderr}");

    let debug = codexos(dir.path(), &["index", "--embedder", "builtin"])
        .env("CODEXOS_LOG", "codexos_index=debug")
        .output()
        .unwrap();
    let stderr = text(&debug.stderr);
    for number in 0..5 {
        assert!(stderr.contains(&format!("image_{number}.png")), "{stderr}");
    }
}
