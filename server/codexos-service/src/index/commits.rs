//! `commit: REV` (`codexos search --commit REV`, `codexos/search`'s `commit`): what changed
//! since a commit.
//!
//! Every chunk carries a commit tag (`ChunkMeta.commit`, and its file's `FileInfo.commit`):
//! the commit `HEAD` named when the index took the file's current content — at a full run, or
//! when a save or an unsaved buffer re-indexed it. A file whose content does not change keeps
//! its chunks, and so its tag, across runs. A search with `commit: REV` keeps a chunk when both
//! hold:
//!
//! 1. **its file changed after REV**: git lists it as different between REV and the working
//!    tree (`git diff --name-only REV`: later commits, staged and unsaved-to-git edits) or as
//!    untracked and not ignored (`git ls-files --others --exclude-standard`);
//! 2. **the chunk is not older than REV**: its tag is REV itself, a commit REV does not contain
//!    (a later one, or one on another branch), or absent (indexed outside git). A chunk tagged
//!    with a strict ancestor of REV holds text from before REV — the index has not taken the
//!    change yet — and is left out, so every hit shows text written after REV.
//!
//! Renames count as a new file. Git answers (1) for the tree as it is now; the tags keep
//! answers (2) cheap: one `git merge-base --is-ancestor` per distinct tag among the candidates.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// A revision that cannot filter a search, and why.
#[derive(Debug, thiserror::Error)]
#[error("commit `{rev}`: {reason}")]
pub struct CommitError {
    pub rev: String,
    pub reason: String,
}

/// The chunks that changed since one commit, decided per chunk by [`ChangedSince::keeps`].
pub(crate) struct ChangedSince {
    root: PathBuf,
    /// REV resolved to its full sha.
    sha: String,
    /// Workspace-relative paths git lists as changed since REV, or untracked.
    changed: HashSet<String>,
    /// Tag → whether it is a strict ancestor of REV, asked once per tag.
    older: Mutex<HashMap<String, bool>>,
}

impl ChangedSince {
    /// Asks git, in the workspace at `root`, what changed since `rev` (a sha, a branch, a tag,
    /// `HEAD~3`, …).
    pub(crate) fn resolve(root: &Path, rev: &str) -> Result<ChangedSince, CommitError> {
        let error = |reason: String| CommitError {
            rev: rev.to_owned(),
            reason,
        };
        if rev.is_empty() || rev.starts_with('-') {
            return Err(error("not a revision".to_owned()));
        }
        let sha = git(
            root,
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("{rev}^{{commit}}"),
            ],
        )
        .map_err(|reason| {
            error(format!(
                "not a commit of the git repository at {} ({reason})",
                root.display()
            ))
        })?
        .trim()
        .to_owned();
        let mut changed = HashSet::new();
        for listing in [
            git(
                root,
                &[
                    "diff",
                    "--name-only",
                    "--relative",
                    "--no-renames",
                    "-z",
                    &sha,
                    "--",
                ],
            ),
            git(root, &["ls-files", "--others", "--exclude-standard", "-z"]),
        ] {
            changed.extend(
                listing
                    .map_err(error)?
                    .split('\0')
                    .filter(|path| !path.is_empty())
                    // The index's own files (an untracked `.codexos/`) are never searched.
                    .filter(|path| {
                        !Path::new(path)
                            .components()
                            .any(|part| codexos_index::is_tool_state(part.as_os_str()))
                    })
                    .map(str::to_owned),
            );
        }
        Ok(ChangedSince {
            root: root.to_owned(),
            sha,
            changed,
            older: Mutex::default(),
        })
    }

    /// Whether git lists `path` as changed since REV or untracked (rule 1 alone: what a shared
    /// base leaves to the local index, whatever the local index holds of it).
    pub(crate) fn lists(&self, path: &str) -> bool {
        self.changed.contains(path)
    }

    /// Every path git lists as changed since REV or untracked.
    pub(crate) fn paths(&self) -> impl Iterator<Item = &str> {
        self.changed.iter().map(String::as_str)
    }

    /// Whether the chunk of `path` tagged `tag` changed since REV (the module's two rules).
    pub(crate) fn keeps(&self, path: &str, tag: Option<&str>) -> bool {
        self.changed.contains(path) && !tag.is_some_and(|tag| self.is_older(tag))
    }

    /// Whether `tag` is a strict ancestor of REV. A tag git does not know (a commit gone since,
    /// or a clone's) is not known to be older, so its chunks stay.
    fn is_older(&self, tag: &str) -> bool {
        if tag == self.sha {
            return false;
        }
        let mut older = self
            .older
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *older.entry(tag.to_owned()).or_insert_with(|| {
            Command::new("git")
                .arg("-C")
                .arg(&self.root)
                .args(["merge-base", "--is-ancestor", tag, &self.sha])
                .output()
                .is_ok_and(|output| output.status.success())
        })
    }
}

/// Where `HEAD` points and when git's index file last changed, in the repository at `root`:
/// what a commit, a checkout, a reset or staging a file changes. `None` outside git.
pub(crate) fn head_state(root: &Path) -> Option<(String, Option<std::time::SystemTime>)> {
    let answer = git(root, &["rev-parse", "--absolute-git-dir", "HEAD"]).ok()?;
    let mut lines = answer.lines();
    let git_dir = PathBuf::from(lines.next()?);
    let head = lines.next()?.to_owned();
    let index = std::fs::metadata(git_dir.join("index"))
        .and_then(|meta| meta.modified())
        .ok();
    Some((head, index))
}

/// What a publish of the shared base takes from git: the commit `HEAD` names and the files it
/// tracks. Refused when tracked files differ from `HEAD`, since clients compare their clone
/// with that commit and would trust text it does not hold.
pub(crate) fn clean_head(root: &Path) -> Result<(String, HashSet<String>), CommitError> {
    let error = |reason: String| CommitError {
        rev: "HEAD".to_owned(),
        reason,
    };
    let sha = git(root, &["rev-parse", "--verify", "HEAD^{commit}"])
        .map_err(error)?
        .trim()
        .to_owned();
    let dirty = git(root, &["diff", "--name-only", "HEAD", "--"]).map_err(error)?;
    if let Some(first) = dirty.lines().next() {
        return Err(error(format!(
            "{first} and maybe more differ from the commit: publish from a clean checkout"
        )));
    }
    let tracked = tracked_files(root).map_err(error)?;
    Ok((sha, tracked))
}

/// The files git tracks in the repository at `root` (its index), workspace-relative.
pub(crate) fn tracked_files(root: &Path) -> Result<HashSet<String>, String> {
    Ok(git(root, &["ls-files", "-z"])?
        .split('\0')
        .filter(|path| !path.is_empty())
        .map(str::to_owned)
        .collect())
}

/// Runs git in `root`: its standard output, or what it said went wrong.
fn git(root: &Path, args: &[&str]) -> Result<String, String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .map_err(|error| format!("cannot run git: {error}"))?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        return Err(if said.is_empty() {
            format!("git {} failed", args.first().copied().unwrap_or_default())
        } else {
            said
        });
    }
    String::from_utf8(output.stdout).map_err(|_| "git printed a path that is not UTF-8".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(root: &Path, args: &[&str]) -> String {
        codexos_test_support::git(root, args).trim().to_owned()
    }

    #[test]
    fn a_chunk_changed_since_rev_is_one_git_lists_whose_tag_is_not_older_than_rev() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        let write = |name: &str, text: &str| std::fs::write(root.join(name), text).expect("write");
        write("a.rs", "1");
        write("b.rs", "1");
        git(root, &["init", "--quiet"]);
        git(root, &["add", "."]);
        git(root, &["commit", "--quiet", "-m", "first"]);
        let first = git(root, &["rev-parse", "HEAD"]);
        write("a.rs", "2");
        git(root, &["commit", "--quiet", "-am", "second"]);
        let second = git(root, &["rev-parse", "HEAD"]);
        write("b.rs", "2");
        write("new.rs", "1");

        let since_first = ChangedSince::resolve(root, &first[..8]).expect("a short sha resolves");
        let kept = |changed: &ChangedSince, path: &str, tag: Option<&str>| changed.keeps(path, tag);
        assert!(
            kept(&since_first, "a.rs", Some(&second)),
            "committed after REV"
        );
        assert!(
            kept(&since_first, "b.rs", Some(&first)),
            "edited after REV, tagged REV"
        );
        assert!(
            kept(&since_first, "new.rs", None),
            "untracked, indexed outside git"
        );
        assert!(
            kept(
                &since_first,
                "b.rs",
                Some("0123456789abcdef0123456789abcdef01234567")
            ),
            "a tag git does not know is not known to be older"
        );
        let since_second = ChangedSince::resolve(root, "HEAD").expect("HEAD resolves");
        assert!(
            !kept(&since_second, "a.rs", Some(&second)),
            "unchanged since REV"
        );
        assert!(
            !kept(&since_second, "b.rs", Some(&first)),
            "changed since REV, but the index holds its text from before REV"
        );
        assert!(kept(&since_second, "b.rs", Some(&second)));

        for (rev, reason) in [("nope", "not a commit"), ("--all", "not a revision")] {
            let error = ChangedSince::resolve(root, rev).err().expect("refused");
            assert!(error.to_string().contains(reason), "{error}");
        }
        let outside = tempfile::tempdir().expect("temp dir");
        let error = ChangedSince::resolve(outside.path(), "HEAD")
            .err()
            .expect("no repository");
        assert!(
            error.to_string().contains("not a git repository"),
            "{error}"
        );
    }
}
