//! Index errors: each names the workspace, file or setting it is about.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(transparent)]
    Store(#[from] codexos_store::StoreError),
    #[error("embedding chunks of {path}: {source}")]
    Embed {
        path: String,
        #[source]
        source: codexos_embed::EmbedError,
    },
    #[error("embedding the query: {0}")]
    EmbedQuery(#[source] codexos_embed::EmbedError),
    #[error("chunker setup: {0}")]
    ChunkerSetup(#[from] codexos_chunk::SetupError),
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid path glob {glob:?}: {message}")]
    Glob { glob: String, message: String },
    #[error("{path} is outside the workspace {root}")]
    OutsideWorkspace { path: PathBuf, root: PathBuf },
    /// `[index.http]` names a server the user has not allowed: indexing would send it the
    /// workspace's code (and the key `api_key_env` names).
    #[error("{path}: [index.http] url `{url}`: {reason}")]
    NotAllowed {
        path: PathBuf,
        url: String,
        reason: String,
    },
    #[error("indexing of {root} was cancelled")]
    Cancelled { root: PathBuf },
}

pub type Result<T, E = IndexError> = std::result::Result<T, E>;
