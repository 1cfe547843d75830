use std::path::PathBuf;

/// Why an embedder could not be built or could not embed. Every message names the file, the
/// provider or the model it is about.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error(
        "model file {path} is missing (run `codexos models install`, or set CODEXOS_MODELS_DIR)"
    )]
    MissingModelFile { path: PathBuf },

    #[error("model file {path} cannot be used: {reason}")]
    BadModelFile { path: PathBuf, reason: String },

    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{model}: {reason}")]
    Model { model: String, reason: String },

    #[error("embedding provider {provider} at {url}: {reason}")]
    Http {
        provider: String,
        url: String,
        reason: String,
    },

    #[error("embedder {embedder} returned {got} vectors for {expected} texts")]
    WrongCount {
        embedder: String,
        expected: usize,
        got: usize,
    },

    #[error("embedder configuration: {0}")]
    Config(String),
}
