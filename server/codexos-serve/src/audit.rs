//! The audit log: one JSON line per request — who (the token's name and role), what (method and
//! route), when, and the outcome (status, time to answer) — appended to
//! `.codexos/serve-audit.jsonl` in the workspace. It lives beside the run traces it points to,
//! in a folder agents may never write (a protected path, docs/security.md); the file is opened
//! for appending only and each line is one write.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::auth::Role;

/// One request, as the log records it.
#[derive(Debug, Serialize)]
pub(crate) struct Entry<'a> {
    /// Unix milliseconds.
    pub at_ms: u64,
    /// The token's name; `None` when the request had no valid token.
    pub who: Option<&'a str>,
    pub role: Option<Role>,
    pub method: &'a str,
    /// The route (`/v1/runs/{id}`), or the path asked for when no route matched.
    pub route: &'a str,
    /// The run the request named or started, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<&'a str>,
    pub status: u16,
    pub ms: u64,
}

pub(crate) struct AuditLog {
    path: PathBuf,
    file: Mutex<File>,
}

impl AuditLog {
    pub fn open(path: &Path) -> std::io::Result<AuditLog> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        Ok(AuditLog {
            path: path.to_owned(),
            file: Mutex::new(file),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn record(&self, entry: &Entry<'_>) {
        let mut line = match serde_json::to_vec(entry) {
            Ok(line) => line,
            Err(error) => {
                tracing::error!("an audit entry does not serialise: {error}");
                return;
            }
        };
        line.push(b'\n');
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if let Err(error) = file.write_all(&line) {
            tracing::error!(
                "cannot write the audit log {}: {error}",
                self.path.display()
            );
        }
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}
