//! The commit a workspace is at, read from `.git` without running git: `HEAD` → ref →
//! sha (loose ref file, then `packed-refs`), a detached `HEAD` holding the sha itself, and
//! a `.git` file pointing elsewhere (worktrees, submodules).

use std::path::{Path, PathBuf};

/// The sha `HEAD` resolves to, or `None` outside a repository or on an unborn branch.
pub fn head_commit(workspace_root: &Path) -> Option<String> {
    let git_dir = git_dir(workspace_root)?;
    let head = std::fs::read_to_string(git_dir.join("HEAD")).ok()?;
    let head = head.trim();
    let Some(reference) = head.strip_prefix("ref:") else {
        return is_sha(head).then(|| head.to_owned());
    };
    let reference = reference.trim();
    // Worktrees keep their HEAD locally but share refs with the main repository.
    let common = std::fs::read_to_string(git_dir.join("commondir"))
        .ok()
        .map(|relative| git_dir.join(relative.trim()))
        .unwrap_or_else(|| git_dir.clone());
    for dir in [&git_dir, &common] {
        if let Ok(sha) = std::fs::read_to_string(dir.join(reference)) {
            let sha = sha.trim();
            if is_sha(sha) {
                return Some(sha.to_owned());
            }
        }
    }
    let packed = std::fs::read_to_string(common.join("packed-refs")).ok()?;
    packed.lines().find_map(|line| {
        let (sha, name) = line.split_once(' ')?;
        (name.trim() == reference && is_sha(sha)).then(|| sha.to_owned())
    })
}

fn git_dir(workspace_root: &Path) -> Option<PathBuf> {
    let dot_git = workspace_root.join(".git");
    if dot_git.is_dir() {
        return Some(dot_git);
    }
    let pointer = std::fs::read_to_string(&dot_git).ok()?;
    let target = pointer.trim().strip_prefix("gitdir:")?.trim();
    Some(workspace_root.join(target))
}

fn is_sha(text: &str) -> bool {
    matches!(text.len(), 40 | 64) && text.bytes().all(|byte| byte.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "3fce3b5bb0236da2df6d99672afb8a719642eca7";

    #[test]
    fn head_resolves_a_loose_branch_ref() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".git/refs/heads")).unwrap();
        std::fs::write(dir.path().join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
        std::fs::write(dir.path().join(".git/refs/heads/main"), format!("{SHA}\n")).unwrap();
        assert_eq!(head_commit(dir.path()).as_deref(), Some(SHA));
    }

    #[test]
    fn head_resolves_a_packed_ref_and_a_detached_head() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".git")).unwrap();
        std::fs::write(dir.path().join(".git/HEAD"), "ref: refs/heads/dev\n").unwrap();
        std::fs::write(
            dir.path().join(".git/packed-refs"),
            format!("# pack-refs\n{SHA} refs/heads/dev\n"),
        )
        .unwrap();
        assert_eq!(head_commit(dir.path()).as_deref(), Some(SHA));
        std::fs::write(dir.path().join(".git/HEAD"), format!("{SHA}\n")).unwrap();
        assert_eq!(head_commit(dir.path()).as_deref(), Some(SHA));
    }

    #[test]
    fn no_repository_and_unborn_branch_have_no_commit() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(head_commit(dir.path()), None);
        std::fs::create_dir_all(dir.path().join(".git")).unwrap();
        std::fs::write(dir.path().join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
        assert_eq!(head_commit(dir.path()), None);
    }
}
