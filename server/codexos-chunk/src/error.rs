use std::path::PathBuf;

/// Why a file was not chunked. Everything else (syntax errors, invalid JSON, odd bytes)
/// still yields chunks, through a simpler strategy if need be.
#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    #[error(
        "{path}: {bytes} bytes is over the chunker's limit of {limit} bytes \
         (ChunkConfig::max_file_bytes); the file is not chunked"
    )]
    FileTooLarge {
        path: PathBuf,
        bytes: usize,
        limit: usize,
    },
}

/// Why a [`crate::Chunker`] could not be built: a bad config or a bad grammar folder.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("chunk config: `{field}` {message}")]
    InvalidConfig {
        field: &'static str,
        message: String,
    },
    #[error("grammar folder {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("grammar manifest {path}: {message}")]
    Manifest { path: PathBuf, message: String },
    #[error(
        "grammar manifest {path}: parser `{parser}` is not linked into this build (linked: {linked}); \
         adding a parser means adding its tree-sitter crate to codexos-chunk"
    )]
    UnknownParser {
        path: PathBuf,
        parser: String,
        linked: String,
    },
    #[error("grammar query {path}:{line}:{column}: {message}")]
    Query {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
}
