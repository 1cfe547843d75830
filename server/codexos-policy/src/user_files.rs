//! Files of the user's own CodexOS folder that more than one process changes (the trust store,
//! `codexos serve`'s tokens): each change is made under an advisory lock beside the file and
//! written whole — a temporary file, fsync, rename (readers never see half a file) — with mode
//! 0600 in a 0700 folder.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// What failed, and on which file.
pub type Failure = (&'static str, PathBuf, std::io::Error);

/// Locks `path` for a change (its folder created 0700 if need be): the lock holds until the
/// returned file is dropped.
pub fn lock(path: &Path) -> Result<File, Failure> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|error| ("create its folder", dir.to_owned(), error))?;
    let lock_path = beside(path, "lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&lock_path)
        .map_err(|error| ("open the lock file", lock_path.clone(), error))?;
    lock.lock()
        .map_err(|error| ("lock it", lock_path.clone(), error))?;
    Ok(lock)
}

/// Writes `text` to a temporary file beside `path` (mode 0600), syncs it and renames it over
/// `path`, then syncs the folder.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let temporary = beside(path, &format!("{}.tmp", std::process::id()));
    let written = (|| {
        let mut file: File = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&temporary)?;
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        fs::rename(&temporary, path)?;
        File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    written
}

/// `trust.toml` → `trust.toml.<suffix>`.
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(format!(".{suffix}"));
    path.with_file_name(name)
}
