//! Paths agents never write: the files that decide what runs and who the workspace says it is.
//!
//! A pattern is a workspace-relative path. `dir/` covers the folder and everything below it
//! (and a file of that name: `.git` is a file in a git worktree); anything else names one file.
//! A leading `**/` makes it match at any depth (`**/.git/` also covers a vendored repository's
//! `.git`). Matching ignores ASCII case, because on a case-insensitive file system (macOS,
//! Windows) `.GIT/config` is `.git/config`.

/// Protected in every workspace; the user can open one for a workspace (`codexos trust allow
/// write PATH`) and protect more (`codexos trust protect PATH`).
pub const DEFAULT_PROTECTED: &[&str] = &[
    // CodexOS's own configuration, plug-ins, built-in flow overrides and state (traces, vault).
    "**/codexos.toml",
    "tools/",
    "flows/builtin/",
    "**/.codexos/",
    // Git runs what its config and hooks say (`core.fsmonitor`, `core.hooksPath`, hooks/).
    "**/.git/",
    // Editor tasks and settings (`terminal.integrated.*`, tasks that run on folder open).
    "**/.vscode/",
    // CI that runs on the next push.
    ".github/workflows/",
    // direnv runs it on `cd`.
    "**/.envrc",
    // Cargo runs what its config says (`[target] runner`, aliases) on the next build.
    "**/.cargo/config.toml",
    "**/.cargo/config",
    // Hooks that run on the next commit once pre-commit is installed.
    ".pre-commit-config.yaml",
    // Commands a dev container runs when it is opened.
    ".devcontainer/",
];

/// Whether `path` (workspace-relative, `/`-separated) is covered by `pattern`.
pub(crate) fn covers(pattern: &str, path: &str) -> bool {
    let (anywhere, pattern) = match pattern.strip_prefix("**/") {
        Some(rest) => (true, rest),
        None => (false, pattern),
    };
    let pattern = pattern.trim_start_matches("./");
    let path = path.trim_start_matches("./");
    if pattern.is_empty() {
        return false;
    }
    let matches_at = |start: &str| {
        match pattern.strip_suffix('/') {
            // A folder: the folder itself (or a file of that name) and everything below.
            Some(folder) => {
                eq_ignore_case_prefix(start, folder)
                    && (start.len() == folder.len() || start.as_bytes()[folder.len()] == b'/')
            }
            None => start.eq_ignore_ascii_case(pattern),
        }
    };
    if matches_at(path) {
        return true;
    }
    anywhere
        && path
            .match_indices('/')
            .any(|(slash, _)| matches_at(&path[slash + 1..]))
}

fn eq_ignore_case_prefix(text: &str, prefix: &str) -> bool {
    text.len() >= prefix.len()
        && text.is_char_boundary(prefix.len())
        && text[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// The first pattern of `patterns` that covers `path`.
pub(crate) fn first_cover<'a>(
    patterns: impl IntoIterator<Item = &'a str>,
    path: &str,
) -> Option<&'a str> {
    patterns.into_iter().find(|pattern| covers(pattern, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn protected(path: &str) -> Option<&'static str> {
        first_cover(DEFAULT_PROTECTED.iter().copied(), path)
    }

    #[test]
    fn the_files_that_decide_execution_are_protected() {
        for path in [
            "codexos.toml",
            "tools/helper.tool.json",
            "tools/scripts/run.py",
            "flows/builtin/chat.flow.json",
            ".codexos/runs/x.jsonl",
            ".git/config",
            ".git/hooks/pre-commit",
            ".git",
            ".vscode/tasks.json",
            ".github/workflows/ci.yml",
            ".envrc",
            ".cargo/config.toml",
        ] {
            assert!(protected(path).is_some(), "{path} should be protected");
        }
    }

    #[test]
    fn anywhere_patterns_match_at_any_depth_and_others_only_at_the_root() {
        assert_eq!(protected("vendor/lib/.git/config"), Some("**/.git/"));
        assert_eq!(
            protected("sub/project/codexos.toml"),
            Some("**/codexos.toml")
        );
        assert_eq!(protected("crates/x/.envrc"), Some("**/.envrc"));
        assert_eq!(protected("src/tools/mod.rs"), None);
        assert_eq!(protected("docs/.github/workflows/ci.yml"), None);
    }

    #[test]
    fn case_does_not_open_a_protected_path() {
        assert_eq!(protected(".GIT/config"), Some("**/.git/"));
        assert_eq!(protected("Tools/x.tool.json"), Some("tools/"));
        assert_eq!(protected("CodexOS.toml"), Some("**/codexos.toml"));
    }

    #[test]
    fn ordinary_files_and_look_alikes_are_not_protected() {
        for path in [
            "src/main.rs",
            "README.md",
            "toolsets/x.json",
            ".gitignore",
            ".github/ISSUE_TEMPLATE.md",
            "codexos.toml.bak",
            "flows/builtin-ideas.md",
            "flows/my.flow.json",
        ] {
            assert_eq!(protected(path), None, "{path} should not be protected");
        }
    }

    #[test]
    fn a_user_pattern_for_one_file_matches_only_that_file() {
        assert!(covers("secrets.env", "secrets.env"));
        assert!(!covers("secrets.env", "config/secrets.env"));
        assert!(covers("**/secrets.env", "config/secrets.env"));
        assert!(covers("./deploy/", "deploy/prod.sh"));
        assert!(!covers("", "anything"));
    }
}
