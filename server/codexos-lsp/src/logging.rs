//! Logging through `tracing`: to the client's `window/logMessage` and to a log file. Never to
//! stdout, which carries the protocol.
//!
//! The file is opened once the workspace is known (`<root>/.codexos/logs/lsp.log`, or the user's
//! cache folder without a root); `CODEXOS_LOG` (an `EnvFilter` directive, default `info`) sets
//! what goes there. The client gets `info` and above from CodexOS itself, errors from anything.
//! The file is 0600 in 0700 folders, as log lines name the workspace's files and quote errors;
//! a log file or `logs/` folder other users could read (made by an older CodexOS) is made
//! private with a log line.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::mpsc;
use tower_lsp_server::Client;
use tower_lsp_server::ls_types::MessageType;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// A log file that grows past this is started afresh when the server starts.
const MAX_LOG_BYTES: u64 = 8 * 1024 * 1024;

/// Where log lines go; cheap to clone, shared by the tracing layers and the server.
#[derive(Clone, Default)]
pub struct LogSinks {
    file: Arc<Mutex<Option<File>>>,
    client: Arc<OnceLock<mpsc::UnboundedSender<(MessageType, String)>>>,
}

impl LogSinks {
    /// Installs the global subscriber (once per process; later calls reuse nothing and return
    /// sinks that stay unused).
    pub fn install() -> LogSinks {
        let sinks = LogSinks::default();
        let filter =
            EnvFilter::try_from_env("CODEXOS_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
        let file_layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(FileWriter(sinks.file.clone()))
            .with_filter(filter);
        let client_layer = ClientLayer(sinks.client.clone());
        let installed = tracing_subscriber::registry()
            .with(file_layer)
            .with(client_layer)
            .try_init();
        if installed.is_err() {
            eprintln!("codexos: a logger was already installed; lsp logs go there");
        }
        sinks
    }

    /// Starts forwarding log lines to the client (from the task this spawns, in order).
    pub fn attach_client(&self, client: Client) {
        let (sender, mut receiver) = mpsc::unbounded_channel::<(MessageType, String)>();
        if self.client.set(sender).is_err() {
            return;
        }
        tokio::spawn(async move {
            while let Some((kind, message)) = receiver.recv().await {
                client.log_message(kind, message).await;
            }
        });
    }

    /// Opens the log file for a workspace root (or the user's cache folder); returns its path.
    pub fn open_file(&self, root: Option<&Path>) -> Option<PathBuf> {
        let path = log_path(root)?;
        let opened = open_log(&path);
        match opened {
            Ok(file) => {
                *self.file.lock().unwrap_or_else(|p| p.into_inner()) = Some(file);
                make_log_private(&path);
                Some(path)
            }
            Err(error) => {
                tracing::warn!("cannot open the log file {}: {error}", path.display());
                None
            }
        }
    }
}

fn log_path(root: Option<&Path>) -> Option<PathBuf> {
    let dir = match root {
        Some(root) => root.join(".codexos").join("logs"),
        None => {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| {
                    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache"))
                })?;
            cache.join("codexos").join("logs")
        }
    };
    Some(dir.join("lsp.log"))
}

fn open_log(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent() {
        codexos_vault::create_private_dir_all(dir)?;
    }
    let too_big = std::fs::metadata(path).is_ok_and(|meta| meta.len() > MAX_LOG_BYTES);
    codexos_vault::private_file_options()
        .create(true)
        .append(!too_big)
        .write(true)
        .truncate(too_big)
        .open(path)
}

/// Takes other users' access away from the log file and its `logs/` folder, which only CodexOS
/// writes to (the folders above may be the user's: they keep their modes).
fn make_log_private(path: &Path) {
    for target in [path.parent(), Some(path)].into_iter().flatten() {
        match codexos_vault::make_private(target) {
            Ok(Some(mode)) => tracing::info!(
                "{} was open to other users (mode {mode:o}); it is now private to you, as logs name the workspace's files and quote errors",
                target.display()
            ),
            Ok(None) => {}
            Err(error) => {
                tracing::warn!("cannot make {} private to you: {error}", target.display());
            }
        }
    }
}

#[derive(Clone)]
struct FileWriter(Arc<Mutex<Option<File>>>);

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for FileWriter {
    type Writer = FileWriter;

    fn make_writer(&'a self) -> FileWriter {
        self.clone()
    }
}

impl Write for FileWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.0.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            Some(file) => file.write(buf),
            None => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.0.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}

/// Sends events to `window/logMessage`.
struct ClientLayer(Arc<OnceLock<mpsc::UnboundedSender<(MessageType, String)>>>);

impl<S: Subscriber> Layer<S> for ClientLayer {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let Some(sender) = self.0.get() else {
            return;
        };
        let metadata = event.metadata();
        let level = *metadata.level();
        let ours = metadata.target().starts_with("codexos");
        if !(level == Level::ERROR || (ours && level <= Level::INFO)) {
            return;
        }
        let kind = match level {
            Level::ERROR => MessageType::ERROR,
            Level::WARN => MessageType::WARNING,
            _ => MessageType::INFO,
        };
        let mut message = MessageText(String::new());
        event.record(&mut message);
        let _ = sender.send((kind, message.0));
    }
}

struct MessageText(String);

impl Visit for MessageText {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write as _;
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs::{self, Permissions};
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn the_log_file_of_a_workspace_is_0600_in_0700_folders() {
        let root = tempfile::tempdir().expect("temp dir");
        let log = LogSinks::default()
            .open_file(Some(root.path()))
            .expect("the log file opens");
        let codexos = root.path().join(".codexos");
        assert_eq!(log, codexos.join("logs/lsp.log"));
        assert_eq!(
            [mode(&codexos), mode(&codexos.join("logs")), mode(&log)],
            [0o700, 0o700, 0o600]
        );
    }

    #[test]
    fn an_old_log_open_to_others_is_made_private_and_the_codexos_folder_left_alone() {
        let root = tempfile::tempdir().expect("temp dir");
        let codexos = root.path().join(".codexos");
        let logs = codexos.join("logs");
        fs::create_dir_all(&logs).expect("mkdir");
        fs::write(logs.join("lsp.log"), "an old line\n").expect("write");
        for (path, mode) in [
            (&codexos, 0o755),
            (&logs, 0o755),
            (&logs.join("lsp.log"), 0o644),
        ] {
            fs::set_permissions(path, Permissions::from_mode(mode)).expect("chmod");
        }
        let log = LogSinks::default()
            .open_file(Some(root.path()))
            .expect("the log file opens");
        assert_eq!(
            [mode(&codexos), mode(&logs), mode(&log)],
            [0o755, 0o700, 0o600]
        );
        assert_eq!(fs::read_to_string(&log).expect("read"), "an old line\n");
    }
}
