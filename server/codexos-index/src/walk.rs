//! Which files of the workspace are indexed: `.gitignore`, `.ignore` and git excludes
//! (even outside a git repository), `codexos.toml` excludes, hidden files and `.codexos/`
//! left out; symlinks followed while they stay inside the workspace, loops and links that lead
//! out skipped with a log line. One walker decides for the whole workspace ([`walk`]) and for
//! one changed file ([`walk_lists`]).

use std::path::{Path, PathBuf};

use ignore::overrides::OverrideBuilder;

use crate::error::{IndexError, Result};
use crate::settings::IndexSettings;

/// A file the walk found: absolute path and workspace-relative, `/`-separated path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundFile {
    pub absolute: PathBuf,
    pub relative: String,
}

/// Every candidate file under `root`, sorted by relative path.
pub fn walk(root: &Path, settings: &IndexSettings) -> Result<Vec<FoundFile>> {
    let mut found: Vec<FoundFile> = walker(root, settings, None)?
        .filter_map(|entry| candidate(root, settings, entry))
        .collect();
    found.sort_by(|a, b| a.relative.cmp(&b.relative));
    Ok(found)
}

/// Whether [`walk`] would list `file`: a save, a watched change or an unsaved buffer is
/// indexed by the same rules as the workspace. The same walker goes down only the folders on
/// the way to `file`, reading their ignore files as a full walk does, so it costs a few
/// directory reads rather than a walk of the workspace. A file not on disk is never listed.
pub fn walk_lists(root: &Path, settings: &IndexSettings, file: &FoundFile) -> Result<bool> {
    let target = root.join(&file.relative);
    Ok(walker(root, settings, Some(target))?
        .filter_map(|entry| candidate(root, settings, entry))
        .any(|found| found.relative == file.relative))
}

/// Folders of tools' state, never part of the workspace: the index, run traces and logs
/// (`.codexos`) and git's objects (`.git`). A watcher can skip their changes by this test too.
pub fn is_tool_state(name: &std::ffi::OsStr) -> bool {
    name == ".codexos" || name == ".git"
}

/// Why a symbolic link of the workspace is not followed.
#[derive(Debug)]
pub(crate) enum LinkEscape {
    /// Its real target lies outside the workspace.
    Outside {
        target: PathBuf,
    },
    /// Its real target lies in tools' state (`.codexos/`, `.git/`), which the walk never
    /// enters by name either.
    IntoToolState {
        target: PathBuf,
    },
    Unresolvable(std::io::Error),
}

impl std::fmt::Display for LinkEscape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkEscape::Outside { target } => {
                write!(f, "it leads out of the workspace, to {}", target.display())
            }
            LinkEscape::IntoToolState { target } => {
                write!(f, "it leads into tools' state, to {}", target.display())
            }
            LinkEscape::Unresolvable(error) => write!(f, "cannot resolve it: {error}"),
        }
    }
}

/// Whether the symbolic link `link` may be followed: its real target must lie inside the
/// workspace whose canonical root is `real_root` (the rule of the tools'
/// `resolve_in_workspace`), and outside tools' state. A link is canonicalized once; plain files
/// and folders cost nothing here.
pub(crate) fn check_link(real_root: &Path, link: &Path) -> std::result::Result<(), LinkEscape> {
    let target = link.canonicalize().map_err(LinkEscape::Unresolvable)?;
    match target.strip_prefix(real_root) {
        Ok(inside) if inside.iter().any(is_tool_state) => Err(LinkEscape::IntoToolState { target }),
        Ok(_) => Ok(()),
        Err(_) => Err(LinkEscape::Outside { target }),
    }
}

/// The one walker behind [`walk`] and [`walk_lists`]; with `toward`, it enters only the folders
/// that lead there. It never leaves `root`: a symbolic link whose real target lies outside
/// (a file or a folder) is skipped with a log line.
fn walker(root: &Path, settings: &IndexSettings, toward: Option<PathBuf>) -> Result<ignore::Walk> {
    let real_root = root.canonicalize().map_err(|source| IndexError::Read {
        path: root.to_path_buf(),
        source,
    })?;
    let mut overrides = OverrideBuilder::new(root);
    for glob in &settings.exclude {
        overrides
            .add(&format!("!{glob}"))
            .map_err(|error| IndexError::Glob {
                glob: glob.clone(),
                message: error.to_string(),
            })?;
    }
    let overrides = overrides.build().map_err(|error| IndexError::Glob {
        glob: settings.exclude.join(", "),
        message: error.to_string(),
    })?;
    Ok(ignore::WalkBuilder::new(root)
        .standard_filters(settings.use_ignore_files)
        .follow_links(true)
        .require_git(false)
        .overrides(overrides)
        .filter_entry(move |entry| {
            !is_tool_state(entry.file_name())
                && toward
                    .as_ref()
                    .is_none_or(|target| target.starts_with(entry.path()))
                && (!entry.path_is_symlink() || follows(&real_root, entry.path()))
        })
        .build())
}

/// Whether the walk follows the symbolic link `link`; logs why not.
fn follows(real_root: &Path, link: &Path) -> bool {
    match check_link(real_root, link) {
        Ok(()) => true,
        Err(escape) => {
            tracing::warn!(link = %link.display(), "skipped a symbolic link while walking the workspace: {escape}");
            false
        }
    }
}

/// A walked entry that the index considers: a file (or a link to one) under `root` whose name
/// has one of `[index] extensions`, when set. Walk errors (a symlink loop, a folder that
/// vanished) are logged and skipped.
fn candidate(
    root: &Path,
    settings: &IndexSettings,
    entry: std::result::Result<ignore::DirEntry, ignore::Error>,
) -> Option<FoundFile> {
    let entry = match entry {
        Ok(entry) => entry,
        Err(error) => {
            tracing::warn!(root = %root.display(), %error, "skipped while walking the workspace");
            return None;
        }
    };
    if !entry.file_type().is_some_and(|kind| kind.is_file()) {
        return None;
    }
    let relative = relative_path(root, entry.path())?;
    if let Some(extensions) = &settings.extensions
        && !extensions
            .iter()
            .any(|extension| relative.ends_with(extension.as_str()))
    {
        return None;
    }
    Some(FoundFile {
        absolute: entry.into_path(),
        relative,
    })
}

/// `path` relative to `root`, with `/` separators; `None` outside `root` or not UTF-8.
pub fn relative_path(root: &Path, path: &Path) -> Option<String> {
    let relative = path.strip_prefix(root).ok()?;
    let parts: Option<Vec<&str>> = relative
        .components()
        .map(|component| component.as_os_str().to_str())
        .collect();
    Some(parts?.join("/"))
}
