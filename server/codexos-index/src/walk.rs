//! Which files of the workspace are indexed: `.gitignore`, `.ignore` and git excludes
//! (even outside a git repository), `codexos.toml` excludes, hidden files and `.codexos/`
//! left out; symlinks followed, loops skipped with a log line.

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
    let walker = ignore::WalkBuilder::new(root)
        .standard_filters(settings.use_ignore_files)
        .follow_links(true)
        .require_git(false)
        .overrides(overrides)
        .filter_entry(|entry| entry.file_name() != ".codexos" && entry.file_name() != ".git")
        .build();
    let mut found = Vec::new();
    for entry in walker {
        let entry = match entry {
            Ok(entry) => entry,
            Err(error) => {
                tracing::warn!(root = %root.display(), %error, "skipped while walking the workspace");
                continue;
            }
        };
        if !entry.file_type().is_some_and(|kind| kind.is_file()) {
            continue;
        }
        let Some(relative) = relative_path(root, entry.path()) else {
            continue;
        };
        if let Some(extensions) = &settings.extensions
            && !extensions
                .iter()
                .any(|extension| relative.ends_with(extension.as_str()))
        {
            continue;
        }
        found.push(FoundFile {
            absolute: entry.into_path(),
            relative,
        });
    }
    found.sort_by(|a, b| a.relative.cmp(&b.relative));
    Ok(found)
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
