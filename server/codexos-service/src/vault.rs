//! The workspace's vault (`.codexos/vault.age`): open it with the key from `VAULT_MASTER_KEY` or
//! the user's identity file, and list its secret names for the catalog without creating anything.

use std::path::Path;

use codexos_vault::{Vault, VaultConfig, VaultError, default_vault_path};

use crate::workspace::Workspace;

impl Workspace {
    /// Opens (creating on first write) this workspace's vault.
    pub fn open_vault(&self) -> Result<Vault, VaultError> {
        Vault::open_with(&VaultConfig::from_env(self.root())?)
    }
}

/// The names of the secrets in `root`'s vault; none when there is no vault yet or it cannot be
/// read (a wrong key is reported where a secret is actually needed, not while checking flows).
pub fn key_names(root: &Path) -> Vec<String> {
    if !default_vault_path(root).is_file() {
        return Vec::new();
    }
    let listed = VaultConfig::from_env(root)
        .and_then(|config| Vault::open_with(&config))
        .and_then(|vault| vault.list());
    match listed {
        Ok(secrets) => secrets.into_iter().map(|secret| secret.key).collect(),
        Err(error) => {
            tracing::info!("vault names unavailable for flow checks: {error}");
            Vec::new()
        }
    }
}
