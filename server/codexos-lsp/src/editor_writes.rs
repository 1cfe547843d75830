//! `write_file` inside the editor: each write a flow's tool makes becomes a
//! `workspace/applyEdit` the user sees (a new file, or the whole text of an existing one
//! replaced in its buffer) instead of bytes on disk. The tool's call ends when the editor
//! answers: applied, or an error that tells the model the user declined.

use std::path::Path;
use std::sync::{Arc, Weak};

use codexos_service::actions::{FileWrite, WriteSink, changes_from_writes};

use crate::file_changes::{EditorTexts, apply};
use crate::session::Session;

/// The write sink of the language server's runner.
pub struct EditorWrites {
    session: Weak<Session>,
    runtime: tokio::runtime::Handle,
}

impl EditorWrites {
    /// A sink sending edits to `session`'s client on `runtime` (the server's).
    pub fn new(session: &Arc<Session>, runtime: tokio::runtime::Handle) -> EditorWrites {
        EditorWrites {
            session: Arc::downgrade(session),
            runtime,
        }
    }
}

impl WriteSink for EditorWrites {
    /// Called on a blocking thread (`write_file` runs its sink there), so it may wait for the
    /// editor's answer.
    fn write(&self, path: &Path, contents: &str) -> std::io::Result<()> {
        let session = self
            .session
            .upgrade()
            .ok_or_else(|| std::io::Error::other("the editor has closed"))?;
        let texts = EditorTexts::new(session.clone());
        let write = FileWrite {
            path: path.to_owned(),
            contents: contents.to_owned(),
        };
        let changes = changes_from_writes(&[write], &texts);
        let label = format!("write_file {}", path.display());
        self.runtime
            .block_on(apply(&session, &texts, &label, &changes))
            .map_err(std::io::Error::other)
    }
}
