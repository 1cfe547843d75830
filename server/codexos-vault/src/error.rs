//! Everything that can go wrong with a vault. No variant ever carries a secret value: messages
//! name the file, the secret's name and what is wrong, never what a secret holds.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error(
        "vault {path}: cannot be decrypted with this key (it was encrypted for a different key, \
         or its header is damaged); check VAULT_MASTER_KEY or the identity file. \
         The vault was left untouched"
    )]
    WrongKey { path: PathBuf },

    #[error("vault {path} is damaged: {reason}. The vault was left untouched")]
    Damaged { path: PathBuf, reason: String },

    #[error(
        "vault {path} uses format version {found}, this build reads version {supported}; \
         update CodexOS. The vault was left untouched"
    )]
    UnsupportedFormat {
        path: PathBuf,
        found: u32,
        supported: u32,
    },

    #[error(
        "vault {path}: another process has held the lock {lock_path} for {waited_ms} ms; try again"
    )]
    Locked {
        path: PathBuf,
        lock_path: PathBuf,
        waited_ms: u128,
    },

    #[error("{path}: cannot {action}: {source}")]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: io::Error,
    },

    #[error("invalid secret name {name:?}: {reason}")]
    InvalidKeyName { name: String, reason: String },

    #[error("invalid tag {tag:?} on secret {key:?}: {reason}")]
    InvalidTag {
        key: String,
        tag: String,
        reason: String,
    },

    #[error("secret {key:?}: the value is empty; an empty secret cannot be stored")]
    EmptyValue { key: String },

    #[error("VAULT_MASTER_KEY: {reason}")]
    InvalidMasterKey { reason: String },

    #[error("identity file {path}: {reason}")]
    InvalidIdentityFile { path: PathBuf, reason: String },

    #[error(
        "no place for the vault's identity file: set VAULT_MASTER_KEY, XDG_DATA_HOME or HOME, \
         or name an identity file in the configuration"
    )]
    NoIdentityLocation,
}

impl VaultError {
    pub(crate) fn io(path: impl Into<PathBuf>, action: &'static str, source: io::Error) -> Self {
        Self::Io {
            path: path.into(),
            action,
            source,
        }
    }
}
