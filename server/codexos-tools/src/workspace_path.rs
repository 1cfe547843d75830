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
