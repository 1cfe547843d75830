//! Which files of the workspace are indexed: `.gitignore`, `.ignore` and git excludes
//! (even outside a git repository), `codexos.toml` excludes, hidden files and `.codexos/`
//! left out; symlinks followed, loops skipped with a log line. One walker decides for the
//! whole workspace ([`walk`]) and for one changed file ([`walk_lists`]).

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

/// The one walker behind [`walk`] and [`walk_lists`]; with `toward`, it enters only the folders
/// that lead there.
fn walker(root: &Path, settings: &IndexSettings, toward: Option<PathBuf>) -> Result<ignore::Walk> {
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
        })
        .build())
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
