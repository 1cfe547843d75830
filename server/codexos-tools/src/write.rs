//! Where `write_file` puts its text: the command line writes the disk, the editor collects the
//! writes and shows them to the user as one workspace edit.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// One file write a tool asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileWrite {
    /// Resolved, inside the workspace.
    pub path: PathBuf,
    pub contents: String,
}

/// Receives `write_file`'s writes. `path` is already checked to be inside the workspace.
pub trait WriteSink: Send + Sync {
    fn write(&self, path: &Path, contents: &str) -> std::io::Result<()>;
}

/// Writes the disk atomically: a temporary file beside the target, fsync, rename, so a reader
/// sees the old or the new file and never half of one.
#[derive(Clone, Copy, Debug, Default)]
pub struct AtomicWriteSink;

impl WriteSink for AtomicWriteSink {
    fn write(&self, path: &Path, contents: &str) -> std::io::Result<()> {
        let dir = path.parent().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path has no parent")
        })?;
        std::fs::create_dir_all(dir)?;
        let mut temporary = tempfile::NamedTempFile::new_in(dir)?;
        temporary.write_all(contents.as_bytes())?;
        temporary.as_file().sync_all()?;
        if let Ok(metadata) = std::fs::metadata(path) {
            temporary
                .as_file()
                .set_permissions(metadata.permissions())?;
        }
        temporary.persist(path).map_err(|error| error.error)?;
        if let Ok(directory) = std::fs::File::open(dir) {
            directory.sync_all()?;
        }
        Ok(())
    }
}

/// Keeps the writes instead of touching the disk (the editor turns them into a `WorkspaceEdit`).
#[derive(Debug, Default)]
pub struct RecordingWriteSink {
    writes: Mutex<Vec<FileWrite>>,
}

impl RecordingWriteSink {
    /// The writes so far, oldest first; the sink is empty afterwards.
    pub fn take(&self) -> Vec<FileWrite> {
        std::mem::take(
            &mut *self
                .writes
                .lock()
                .unwrap_or_else(|poison| poison.into_inner()),
        )
    }
}

impl WriteSink for RecordingWriteSink {
    fn write(&self, path: &Path, contents: &str) -> std::io::Result<()> {
        self.writes
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .push(FileWrite {
                path: path.to_owned(),
                contents: contents.to_owned(),
            });
        Ok(())
    }
}
