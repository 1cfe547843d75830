//! `codexos serve`: the workspace's service over HTTP and WebSocket for clients that are not
//! editors (CI, dashboards, bots). Its one job is translation: each route reads its request,
//! calls `codexos-service` as the editor and the CLI do (runs through the workspace's runner,
//! search through the index's front door, the vault, the checks), and shapes the answer; it
//! holds no business logic of its own.
//!
//! Every request passes one guard ([`routes`]): a bearer token ([`TokenFile`]) whose role
//! ([`Role`]) the route's entry in the route table allows, or a 401/403; every request, refused
//! or not, is a line of the audit log (`.codexos/serve-audit.jsonl`). The server binds to the
//! loopback interface unless told otherwise ([`ServeOptions::allow_remote`]); TLS belongs to a
//! reverse proxy in front of it (docs/serve.md).

mod audit;
mod auth;
mod error;
mod handlers;
mod routes;
mod runs;
mod store;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use codexos_service::Workspace;

pub use auth::{Role, TokenError, TokenFile, TokenInfo};

/// What every handler reaches.
#[derive(Clone)]
pub(crate) struct AppState(Arc<Shared>);

pub(crate) struct Shared {
    pub workspace: Arc<Workspace>,
    pub tokens: TokenFile,
    pub audit: audit::AuditLog,
    pub index: Arc<runs::IndexCell>,
    pub runs: runs::Runs,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// How to serve.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub bind: SocketAddr,
    /// Whether an address other than loopback may be bound (the API is then reachable from
    /// the network: put TLS in front of it).
    pub allow_remote: bool,
    pub tokens: TokenFile,
    /// Wall time of one run.
    pub run_timeout: Duration,
    /// The team's run store, `chroma://HOST:PORT/NAME` (its collection `NAME-runs`), where
    /// this server writes its runs and reads every server's; `None`: this machine's traces.
    pub runs: Option<String>,
    /// This server's name in the run store (default: the host's name and the port).
    pub name: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "{0} is not a loopback address: the API would be reachable from the network; pass --allow-remote \
         (and put TLS in front of it, docs/serve.md) if that is what you want"
    )]
    Remote(SocketAddr),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot open the audit log {}: {source}", .path.display())]
    Audit {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("--runs: {0}")]
    Runs(codexos_shared::SharedError),
    #[error("the server stopped: {0}")]
    Stopped(std::io::Error),
}

/// How long a stopping server waits for its runs' last records to reach the team's store.
const FLUSH_PATIENCE: Duration = Duration::from_secs(5);

/// The audit log of `workspace`.
pub fn audit_log_path(workspace: &Workspace) -> PathBuf {
    workspace.root().join(".codexos").join("serve-audit.jsonl")
}

/// Serves `workspace` until `shutdown` completes; `listening` is told the address bound (with
/// the port chosen when `bind` asked for port 0). Runs still going at shutdown are cancelled
/// (their traces record where they stopped).
pub async fn serve(
    workspace: Workspace,
    options: ServeOptions,
    listening: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    if !options.bind.ip().is_loopback() && !options.allow_remote {
        return Err(ServeError::Remote(options.bind));
    }
    let path = audit_log_path(&workspace);
    let audit = audit::AuditLog::open(&path).map_err(|source| ServeError::Audit {
        path: path.clone(),
        source,
    })?;
    let store_url = options
        .runs
        .as_deref()
        .map(str::parse::<codexos_shared::SharedUrl>)
        .transpose()
        .map_err(ServeError::Runs)?;
    let listener = tokio::net::TcpListener::bind(options.bind)
        .await
        .map_err(|source| ServeError::Bind {
            addr: options.bind,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: options.bind,
        source,
    })?;
    let team = match store_url {
        Some(url) => {
            let name = options
                .name
                .clone()
                .unwrap_or_else(|| format!("{}:{}", host_name(), addr.port()));
            tracing::info!("run store: {} (this server is `{name}` there)", url.url);
            Some(Arc::new(
                store::TeamStore::new(url, name).map_err(ServeError::Runs)?,
            ))
        }
        None => None,
    };
    let workspace = Arc::new(workspace);
    let index = Arc::new(runs::IndexCell::new(workspace.clone()));
    let runs = runs::Runs::new(workspace.clone(), index.clone(), options.run_timeout, team);
    let state = AppState(Arc::new(Shared {
        workspace,
        tokens: options.tokens,
        audit,
        index,
        runs,
    }));
    tracing::info!("audit log: {}", state.audit.path().display());
    let polling = tokio::spawn(runs::take_cancel_requests(state.clone()));
    listening(addr);
    let stopping = state.clone();
    let (stopped, on_stop) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        shutdown.await;
        // Streams end once their runs do.
        stopping.runs.cancel_all();
        let _ = stopped.send(());
    });
    axum::serve(listener, routes::router(state.clone()))
        .with_graceful_shutdown(async move {
            let _ = on_stop.await;
        })
        .await
        .map_err(ServeError::Stopped)?;
    polling.abort();
    state.runs.flush(FLUSH_PATIENCE).await;
    Ok(())
}

/// This host's name (Linux's, else `$HOSTNAME`, else `localhost`): what names a server in the
/// run store, with its port.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}
