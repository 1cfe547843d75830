//! Files and folders that only their owner may read. What CodexOS keeps under `.codexos/` (the
//! vault, run traces with each run's input and outputs, logs, the index of the workspace's text)
//! is nobody else's business on a shared machine.

use std::fs::{self, DirBuilder, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Creates `dir` and its missing parents, each new one with mode 0700. Folders that exist keep
/// their mode (see [`make_private`]).
pub fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Options that create files with mode 0600; a file that exists keeps its mode.
pub fn private_file_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.mode(0o600);
    options
}

/// Takes group and other users' permissions away from `path` (a file becomes 0600 from 0644, a
/// folder 0700 from 0755) and returns the mode it had, or `None` when it was private already.
/// A symbolic link is left alone: where it points is the user's choice, not ours to change.
pub fn make_private(path: &Path) -> io::Result<Option<u32>> {
    let metadata = fs::symlink_metadata(path)?;
    let mode = metadata.permissions().mode() & 0o777;
    if metadata.file_type().is_symlink() || mode & 0o077 == 0 {
        return Ok(None);
    }
    fs::set_permissions(path, Permissions::from_mode(mode & 0o700))?;
    Ok(Some(mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn new_folders_are_0700_and_new_files_0600() {
        let root = tempfile::tempdir().expect("temp dir");
        let runs = root.path().join(".codexos/runs");
        create_private_dir_all(&runs).expect("create");
        let trace = runs.join("r.jsonl");
        private_file_options()
            .write(true)
            .create_new(true)
            .open(&trace)
            .expect("create the file");
        let modes = [root.path().join(".codexos"), runs, trace].map(|path| mode(&path));
        assert_eq!(modes, [0o700, 0o700, 0o600]);
    }

    #[test]
    fn an_existing_folder_keeps_its_mode_until_made_private() {
        let root = tempfile::tempdir().expect("temp dir");
        let runs = root.path().join("runs");
        fs::create_dir(&runs).expect("mkdir");
        fs::set_permissions(&runs, Permissions::from_mode(0o755)).expect("chmod");
        create_private_dir_all(&runs).expect("exists already");
        assert_eq!(mode(&runs), 0o755);
        assert_eq!(make_private(&runs).expect("chmod"), Some(0o755));
        assert_eq!(mode(&runs), 0o700);
        assert_eq!(make_private(&runs).expect("nothing to do"), None);
    }

    #[test]
    fn a_file_open_to_others_loses_their_permissions_only() {
        let root = tempfile::tempdir().expect("temp dir");
        let log = root.path().join("lsp.log");
        fs::write(&log, "").expect("write");
        fs::set_permissions(&log, Permissions::from_mode(0o664)).expect("chmod");
        assert_eq!(make_private(&log).expect("chmod"), Some(0o664));
        assert_eq!(mode(&log), 0o600);
    }

    #[test]
    fn a_symbolic_link_and_what_it_points_to_are_left_alone() {
        let root = tempfile::tempdir().expect("temp dir");
        let elsewhere = root.path().join("shared-traces");
        fs::create_dir(&elsewhere).expect("mkdir");
        fs::set_permissions(&elsewhere, Permissions::from_mode(0o755)).expect("chmod");
        let runs = root.path().join("runs");
        std::os::unix::fs::symlink(&elsewhere, &runs).expect("symlink");
        assert_eq!(make_private(&runs).expect("nothing to do"), None);
        assert_eq!(mode(&elsewhere), 0o755);
    }
}
