//! The file-system moves that keep a secret file whole: a temporary file beside the target,
//! fsync, then an atomic rename (or a no-clobber hard link), then fsync of the directory; and an
//! advisory lock with a deadline, so a stuck process gives an error instead of a hang.

use std::fs::{self, File, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::VaultError;

/// Replaces `target` with `contents` so that a reader sees the old file or the new one, never a
/// mix, and a crash leaves the old file in place.
pub(crate) fn replace_atomically(target: &Path, contents: &[u8]) -> Result<(), VaultError> {
    let temp = TempFile::write_beside(target, contents)?;
    fs::rename(&temp.path, target)
        .map_err(|source| VaultError::io(target, "replace the file", source))?;
    temp.mark_renamed();
    sync_parent_dir(target)
}

/// Creates `target` with `contents` unless it already exists; returns whether this call created
/// it. Two processes racing here agree on one winner, and no reader ever sees a partial file.
pub(crate) fn create_without_replacing(target: &Path, contents: &[u8]) -> Result<bool, VaultError> {
    let temp = TempFile::write_beside(target, contents)?;
    let created = match fs::hard_link(&temp.path, target) {
        Ok(()) => true,
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => false,
        Err(source) => return Err(VaultError::io(target, "create the file", source)),
    };
    drop(temp);
    sync_parent_dir(target)?;
    Ok(created)
}

/// Creates `dir` and its parents; new directories are private to the user (0700) because they
/// hold key material.
pub(crate) fn create_private_dir_all(dir: &Path) -> Result<(), VaultError> {
    crate::create_private_dir_all(dir)
        .map_err(|source| VaultError::io(dir, "create the directory", source))
}

/// An exclusive advisory lock on `lock_path`, released when the returned file is dropped.
/// Waits at most `timeout` for another holder.
pub(crate) fn lock_exclusive(
    vault_path: &Path,
    lock_path: &Path,
    timeout: Duration,
) -> Result<File, VaultError> {
    let file = crate::private_file_options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(lock_path)
        .map_err(|source| VaultError::io(lock_path, "open the lock file", source))?;
    let started = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(TryLockError::WouldBlock) if started.elapsed() < timeout => {
                thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(VaultError::Locked {
                    path: vault_path.to_owned(),
                    lock_path: lock_path.to_owned(),
                    waited_ms: started.elapsed().as_millis(),
                });
            }
            Err(TryLockError::Error(source)) => {
                return Err(VaultError::io(lock_path, "lock the file", source));
            }
        }
    }
}

fn sync_parent_dir(target: &Path) -> Result<(), VaultError> {
    #[cfg(unix)]
    {
        let dir = parent_dir(target);
        File::open(dir)
            .and_then(|dir_handle| dir_handle.sync_all())
            .map_err(|source| VaultError::io(dir, "sync the directory", source))?;
    }
    #[cfg(not(unix))]
    let _ = target;
    Ok(())
}

fn parent_dir(target: &Path) -> &Path {
    match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// A fully written, fsynced temporary file beside its target; removed on drop unless
/// [`TempFile::mark_renamed`] says it was renamed into place.
struct TempFile {
    path: PathBuf,
    renamed: bool,
}

impl TempFile {
    fn write_beside(target: &Path, contents: &[u8]) -> Result<Self, VaultError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let file_name = target
            .file_name()
            .map_or_else(|| "file".into(), |name| name.to_string_lossy());
        let path = parent_dir(target).join(format!(
            ".{file_name}.tmp-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let mut file = crate::private_file_options()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|source| VaultError::io(&path, "create a temporary file", source))?;
        let temp = Self {
            path,
            renamed: false,
        };
        file.write_all(contents)
            .and_then(|()| file.sync_all())
            .map_err(|source| VaultError::io(&temp.path, "write the temporary file", source))?;
        Ok(temp)
    }

    fn mark_renamed(mut self) {
        self.renamed = true;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.renamed {
            return;
        }
        // Best effort: the file holds only ciphertext or a copy of what is being published.
        let _ = fs::remove_file(&self.path);
    }
}
