//! Store errors: each names the index folder or the file it is about.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("index at {path} is in use by pid {pid}")]
    InUse { path: PathBuf, pid: String },
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("LMDB error in the index at {path}: {source}")]
    Lmdb {
        path: PathBuf,
        #[source]
        source: heed::Error,
    },
    #[error("full-text index error at {path}: {source}")]
    FullText {
        path: PathBuf,
        #[source]
        source: tantivy::TantivyError,
    },
    #[error("vector for chunk of {path} has {got} dimensions, the space {space} has {expected}")]
    WrongDimension {
        path: String,
        space: String,
        expected: usize,
        got: usize,
    },
    #[error("the index at {path} was opened read-only; {action} needs `Store::open`")]
    ReadOnly { path: PathBuf, action: &'static str },
    #[error("the index at {path} is damaged: {message}")]
    Damaged { path: PathBuf, message: String },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Attaches the index folder to the errors of the libraries underneath.
pub(crate) trait Context<T> {
    fn at(self, path: &std::path::Path) -> Result<T>;
}

impl<T> Context<T> for Result<T, heed::Error> {
    fn at(self, path: &std::path::Path) -> Result<T> {
        self.map_err(|source| StoreError::Lmdb {
            path: path.to_path_buf(),
            source,
        })
    }
}

impl<T> Context<T> for Result<T, tantivy::TantivyError> {
    fn at(self, path: &std::path::Path) -> Result<T> {
        self.map_err(|source| StoreError::FullText {
            path: path.to_path_buf(),
            source,
        })
    }
}
