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
    write(outside.path(), "sibling/notes.md", "zanzibar sibling notes\n");
    write(root, "src/lib.rs", "/// Adds two numbers.\npub fn add() {}\n");
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
