//! Records the commit the binary was built from, for `codexos --version`: a bug report then
//! names the exact source. Outside a git checkout (a source archive) the version stands alone.

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    (output.status.success() && !text.trim().is_empty()).then(|| text.trim().to_owned())
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]);
    let version = env!("CARGO_PKG_VERSION");
    let long = match commit {
        Some(commit) => format!("{version} ({commit})"),
        None => version.to_owned(),
    };
    println!("cargo:rustc-env=CODEXOS_LONG_VERSION={long}");
    // Rebuilt when HEAD moves: a checkout changes HEAD, a commit changes the ref it names.
    if let Some(git_dir) = git(&["rev-parse", "--absolute-git-dir"]).map(PathBuf::from) {
        println!("cargo:rerun-if-changed={}", git_dir.join("HEAD").display());
        if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"]) {
            // Worktrees keep their branches' refs in the main repository's folder.
            let common = git(&["rev-parse", "--path-format=absolute", "--git-common-dir"])
                .map_or_else(|| git_dir.clone(), PathBuf::from);
            println!(
                "cargo:rerun-if-changed={}",
                common.join(reference).display()
            );
            println!(
                "cargo:rerun-if-changed={}",
                common.join("packed-refs").display()
            );
        }
    }
}
