//! Turning a path an agent wrote into a file inside the workspace, or a clear refusal.

use std::path::{Component, Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkspacePathError {
    #[error("absolute paths are not allowed; give a path relative to the workspace root")]
    Absolute,
    #[error("`..` is not allowed")]
    ParentComponent,
    #[error("the path is empty")]
    Empty,
    #[error("it goes through the symbolic link `{link}`, which points outside the workspace")]
    SymlinkEscape { link: String },
    #[error("cannot resolve it: {0}")]
    Unresolvable(String),
}

/// Resolves `relative` against `root`, refusing absolute paths, `..` and symbolic links that lead
/// outside the workspace. The result is the real (symlink-free) path: what exists of it is
/// canonical, the rest are plain names below it.
pub fn resolve_in_workspace(root: &Path, relative: &str) -> Result<PathBuf, WorkspacePathError> {
    let path = Path::new(relative);
    if relative.is_empty() {
        return Err(WorkspacePathError::Empty);
    }
    let mut names = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(name) => names.push(name.to_owned()),
            Component::CurDir => {}
            Component::ParentDir => return Err(WorkspacePathError::ParentComponent),
            Component::RootDir | Component::Prefix(_) => return Err(WorkspacePathError::Absolute),
        }
    }
    if names.is_empty() {
        return Err(WorkspacePathError::Empty);
    }
    let real_root = root.canonicalize().map_err(|error| {
        WorkspacePathError::Unresolvable(format!("{}: {error}", root.display()))
    })?;
    // Follow the path while it exists; every existing prefix is canonicalized so a symbolic link
    // anywhere along it is seen for where it really points.
    let mut real = real_root.clone();
    let mut walked = PathBuf::new();
    let mut rest = names.into_iter();
    for name in rest.by_ref() {
        walked.push(&name);
        let next = real.join(&name);
        match next.symlink_metadata() {
            Ok(_) => {
                real = next.canonicalize().map_err(|error| {
                    WorkspacePathError::Unresolvable(format!("{}: {error}", walked.display()))
                })?;
                if !real.starts_with(&real_root) {
                    return Err(WorkspacePathError::SymlinkEscape {
                        link: walked.display().to_string(),
                    });
                }
            }
            Err(_) => {
                real = next;
                break;
            }
        }
    }
    for name in rest {
        real.push(name);
    }
    Ok(real)
}

/// `real` (a path [`resolve_in_workspace`] returned) relative to the real root, `/`-separated:
/// how the policy names a file.
pub fn relative_to_workspace(root: &Path, real: &Path) -> Result<String, WorkspacePathError> {
    let real_root = root.canonicalize().map_err(|error| {
        WorkspacePathError::Unresolvable(format!("{}: {error}", root.display()))
    })?;
    let relative = real.strip_prefix(&real_root).map_err(|_| {
        WorkspacePathError::Unresolvable(format!("{} is not below the root", real.display()))
    })?;
    let names: Vec<String> = relative
        .components()
        .map(|component| component.as_os_str().to_string_lossy().into_owned())
        .collect();
    if names.is_empty() {
        return Err(WorkspacePathError::Empty);
    }
    Ok(names.join("/"))
}

/// Where a path written in a file of the workspace leads (a sub-flow's `flow`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placement {
    /// A file of the workspace, at this real path.
    Found(PathBuf),
    Missing,
    /// It leads outside the workspace.
    Outside,
}

/// `path` without symbolic links when it exists, else made absolute as written. The empty path
/// (the folder of a bare file name) is the current folder.
fn real_path(path: &Path) -> PathBuf {
    let path = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    path.canonicalize()
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_owned())
}

/// Where `path`, written in a file of the folder `dir`, leads in the workspace at `root` (both
/// made real first). The path is judged as written first (`..` past the root, or an absolute
/// path, leaves it, whether or not the file exists), then, when the file exists, by where it
/// really is (a symbolic link out leaves it): the rule of [`resolve_in_workspace`]. A file that
/// itself lies outside the workspace is only asked whether its path exists: where it may lead
/// is its own workspace's business.
pub fn place_relative(root: &Path, dir: &Path, path: &str) -> Placement {
    let (real_root, real_dir) = (real_path(root), real_path(dir));
    let target = real_dir.join(path);
    let exists = |target: &Path| {
        if target.is_file() {
            Placement::Found(target.to_owned())
        } else {
            Placement::Missing
        }
    };
    let Ok(dir_in_root) = real_dir.strip_prefix(&real_root) else {
        return exists(&target);
    };
    let mut depth = dir_in_root.components().count();
    for component in Path::new(path).components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir if depth > 0 => depth -= 1,
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Placement::Outside;
            }
        }
    }
    match target.canonicalize() {
        Ok(real_target) if !real_target.starts_with(&real_root) => Placement::Outside,
        Ok(real_target) => exists(&real_target),
        Err(_) => Placement::Missing,
    }
}

/// The real path and the text of the file `path`, written in a file of the folder `dir`, leads
/// to, when it is a file inside the workspace at `root` (by the rule of [`place_relative`]).
pub fn read_relative(root: &Path, dir: &Path, path: &str) -> Option<(PathBuf, String)> {
    let Placement::Found(real) = place_relative(root, dir, path) else {
        return None;
    };
    let text = std::fs::read_to_string(&real).ok()?;
    Some((real, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_relative_paths_resolve_below_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let resolved = resolve_in_workspace(dir.path(), "./src/new/file.rs").unwrap();
        assert_eq!(
            resolved,
            dir.path().canonicalize().unwrap().join("src/new/file.rs")
        );
    }

    #[test]
    fn parent_components_and_absolute_paths_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            resolve_in_workspace(dir.path(), "src/../../etc/passwd"),
            Err(WorkspacePathError::ParentComponent)
        );
        assert_eq!(
            resolve_in_workspace(dir.path(), "/etc/passwd"),
            Err(WorkspacePathError::Absolute)
        );
        assert_eq!(
            resolve_in_workspace(dir.path(), "."),
            Err(WorkspacePathError::Empty)
        );
    }

    #[test]
    fn a_relative_path_is_placed_as_written_and_then_where_it_really_leads() {
        let outside = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("flows/sub")).unwrap();
        std::fs::write(root.join("flows/sub/a.flow.json"), "{}").unwrap();
        std::fs::write(outside.path().join("x.flow.json"), "{}").unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("x.flow.json"),
            root.join("flows/link.flow.json"),
        )
        .unwrap();
        let flows = root.join("flows");
        let placed = |path: &str| place_relative(root, &flows, path);
        assert!(matches!(placed("sub/a.flow.json"), Placement::Found(_)));
        assert_eq!(placed("sub/none.flow.json"), Placement::Missing);
        assert_eq!(placed("../../x.flow.json"), Placement::Outside);
        assert_eq!(placed("/etc/passwd"), Placement::Outside);
        assert_eq!(placed("link.flow.json"), Placement::Outside);
        assert_eq!(
            placed("../../ws/flows/sub/a.flow.json"),
            Placement::Outside,
            "`..` past the root leaves it even when the path comes back"
        );
        assert!(matches!(
            place_relative(root, outside.path(), "x.flow.json"),
            Placement::Found(_)
        ));
    }

    #[test]
    fn a_link_to_a_protected_file_is_named_by_where_it_leads() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        std::fs::write(dir.path().join(".git/config"), "").unwrap();
        std::os::unix::fs::symlink(dir.path().join(".git/config"), dir.path().join("notes.txt"))
            .unwrap();
        let real = resolve_in_workspace(dir.path(), "notes.txt").unwrap();
        assert_eq!(
            relative_to_workspace(dir.path(), &real).as_deref(),
            Ok(".git/config")
        );
        let new = resolve_in_workspace(dir.path(), "src/new.rs").unwrap();
        assert_eq!(
            relative_to_workspace(dir.path(), &new).as_deref(),
            Ok("src/new.rs")
        );
    }

    #[test]
    fn a_symlink_leading_outside_is_refused_and_one_staying_inside_is_followed() {
        let outside = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("real")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("escape")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("alias")).unwrap();
        assert_eq!(
            resolve_in_workspace(dir.path(), "escape/secret.txt"),
            Err(WorkspacePathError::SymlinkEscape {
                link: "escape".to_owned()
            })
        );
        assert_eq!(
            resolve_in_workspace(dir.path(), "alias/file.txt").unwrap(),
            dir.path().canonicalize().unwrap().join("real/file.txt")
        );
    }
}
