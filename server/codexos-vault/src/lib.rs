//! The CodexOS vault: secrets (LLM keys, OAuth tokens, tool credentials) in one age-encrypted
//! file, by default `<workspace>/.codexos/vault.age`.
//!
//! - The key is an age x25519 identity from `VAULT_MASTER_KEY` or from an identity file created on
//!   first use (see [`VaultConfig::from_env`] and the `key` module docs for the exact rules).
//! - Changes are read-modify-write under an advisory lock, written to a temporary file, fsynced
//!   and renamed into place: concurrent writers all land, a crash or a failure leaves the old
//!   file, and a wrong key or a damaged file stops before anything is written.
//! - Values live in [`SecretString`] (its `Debug` prints `***`); errors never carry values; a
//!   [`Redactor`] hides values in any text that leaves the process.
//! - What CodexOS writes beside the vault is private too: [`create_private_dir_all`] (0700),
//!   [`private_file_options`] (0600) and [`make_private`] for what exists with wider modes.
//!
//! Library only: no environment is read except by [`VaultConfig::from_env`].

mod error;
mod files;
mod key;
mod names;
mod private_files;
mod redact;
mod secret;
mod timestamp;
mod vault;

pub use error::VaultError;
pub use key::{KeySource, MASTER_KEY_VAR, MasterKey, VaultConfig, default_vault_path};
pub use names::validate_key_name;
pub use private_files::{create_private_dir_all, make_private, private_file_options};
pub use redact::Redactor;
pub use secret::SecretString;
pub use timestamp::Timestamp;
pub use vault::{PutOutcome, PutRequest, Secret, SecretInfo, Vault};
