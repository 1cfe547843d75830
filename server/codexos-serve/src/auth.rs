//! Who may call `codexos serve`: bearer tokens, each with a name and a role, kept in the user's
//! own folder (`serve-tokens.json` beside the trust store, outside every workspace, so no agent
//! and no clone of the repository can read or add one). Only a token's SHA-256 is stored: a
//! token is 32 random bytes from the operating system, shown once when it is created.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use codexos_policy::user_files;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a token may do; each role may do everything the roles before it may.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read runs and their events, search the index.
    Viewer,
    /// Also run the workspace's flows, cancel and retry runs.
    Executor,
    /// Also check flows (and write flows and tools).
    Creator,
    /// Also write to the vault and manage tokens.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Executor, Role::Creator, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Executor => "executor",
            Role::Creator => "creator",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(name: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == name)
            .ok_or_else(|| format!("unknown role `{name}`: viewer, executor, creator or admin"))
    }
}

/// A token as stored: never the token itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenInfo {
    pub name: String,
    pub role: Role,
    /// Unix seconds.
    pub created_at: u64,
    /// Hex SHA-256 of the token.
    sha256: String,
}

#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    #[serde(default)]
    tokens: Vec<TokenInfo>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("no place for tokens: neither XDG_CONFIG_HOME nor HOME is set")]
    NoHome,
    #[error("{}: cannot {action}: {source}", .path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        source: std::io::Error,
    },
    #[error("{}: not a token file: {message}", .path.display())]
    Invalid { path: PathBuf, message: String },
    #[error("a token named `{0}` exists already (revoke it first, or choose another --name)")]
    Exists(String),
    #[error("bad token name `{0}`: use 1 to 64 letters, digits, `.`, `_` or `-`")]
    BadName(String),
}

/// The file of tokens.
#[derive(Clone, Debug)]
pub struct TokenFile {
    path: PathBuf,
}

/// What tokens look like, so a leaked one is recognisable (secret scanners, logs).
const PREFIX: &str = "cxs_";

impl TokenFile {
    /// `serve-tokens.json` in the user's CodexOS folder (`~/.config/codexos/`).
    pub fn user() -> Result<TokenFile, TokenError> {
        let dir = codexos_policy::user_config_dir().ok_or(TokenError::NoHome)?;
        Ok(TokenFile::at(dir.join("serve-tokens.json")))
    }

    pub fn at(path: impl Into<PathBuf>) -> TokenFile {
        TokenFile { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every token, oldest first; no file is no tokens.
    pub fn list(&self) -> Result<Vec<TokenInfo>, TokenError> {
        Ok(self.load()?.tokens)
    }

    /// The token `secret` stands for, if it is one.
    pub fn verify(&self, secret: &str) -> Result<Option<TokenInfo>, TokenError> {
        let hash = hash(secret);
        Ok(self
            .load()?
            .tokens
            .into_iter()
            .find(|token| token.sha256 == hash))
    }

    /// A new token for `role`: the secret (shown once, never stored) and what is stored.
    pub fn create(
        &self,
        role: Role,
        name: Option<&str>,
    ) -> Result<(String, TokenInfo), TokenError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|error| TokenError::Io {
            path: self.path.clone(),
            action: "draw random bytes for a token",
            source: std::io::Error::other(error.to_string()),
        })?;
        let secret = format!("{PREFIX}{}", hex(&bytes));
        let sha256 = hash(&secret);
        let name = match name {
            Some(name) => valid_name(name)?,
            None => format!("{role}-{}", &sha256[..8]),
        };
        let info = TokenInfo {
            name,
            role,
            created_at: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_secs()),
            sha256,
        };
        let stored = info.clone();
        self.update(move |tokens| {
            if tokens.iter().any(|token| token.name == stored.name) {
                return Err(TokenError::Exists(stored.name));
            }
            tokens.push(stored);
            Ok(())
        })??;
        Ok((secret, info))
    }

    /// Removes the token named `name`; `false` when there is none.
    pub fn revoke(&self, name: &str) -> Result<bool, TokenError> {
        self.update(|tokens| {
            let before = tokens.len();
            tokens.retain(|token| token.name != name);
            tokens.len() != before
        })
    }

    fn load(&self) -> Result<Stored, TokenError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Stored::default());
            }
            Err(source) => {
                return Err(TokenError::Io {
                    path: self.path.clone(),
                    action: "read it",
                    source,
                });
            }
        };
        serde_json::from_str(&text).map_err(|error| TokenError::Invalid {
            path: self.path.clone(),
            message: error.to_string(),
        })
    }

    /// Applies `change` under a lock and writes the file whole, atomically, readable by the
    /// user alone (as the trust store is).
    fn update<T>(&self, change: impl FnOnce(&mut Vec<TokenInfo>) -> T) -> Result<T, TokenError> {
        let failed = |(action, path, source): user_files::Failure| TokenError::Io {
            path,
            action,
            source,
        };
        let lock = user_files::lock(&self.path).map_err(failed)?;
        let mut stored = self.load()?;
        let answer = change(&mut stored.tokens);
        let mut text = serde_json::to_string_pretty(&stored).map_err(|error| TokenError::Io {
            path: self.path.clone(),
            action: "write it",
            source: std::io::Error::other(error.to_string()),
        })?;
        text.push('\n');
        user_files::write_atomically(&self.path, &text)
            .map_err(|error| failed(("write it", self.path.clone(), error)))?;
        drop(lock);
        Ok(answer)
    }
}

fn valid_name(name: &str) -> Result<String, TokenError> {
    let fine = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    match fine {
        true => Ok(name.to_owned()),
        false => Err(TokenError::BadName(name.to_owned())),
    }
}

fn hash(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn a_created_token_verifies_and_only_its_hash_is_stored_readable_by_the_user_alone() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = TokenFile::at(dir.path().join("codexos/serve-tokens.json"));
        let (secret, info) = file.create(Role::Executor, Some("ci")).expect("created");
        assert!(
            secret.starts_with("cxs_") && secret.len() == 4 + 64,
            "{secret}"
        );
        assert_eq!(file.verify(&secret).expect("read"), Some(info));
        assert_eq!(file.verify("cxs_not-a-token").expect("read"), None);
        let text = fs::read_to_string(file.path()).expect("stored");
        assert!(!text.contains(&secret[4..]), "{text}");
        let mode = fs::metadata(file.path())
            .expect("file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_revoked_token_no_longer_verifies_and_names_are_unique() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = TokenFile::at(dir.path().join("serve-tokens.json"));
        let (secret, _) = file.create(Role::Admin, Some("ops")).expect("created");
        assert!(matches!(
            file.create(Role::Viewer, Some("ops")),
            Err(TokenError::Exists(_))
        ));
        assert!(matches!(
            file.create(Role::Viewer, Some("no spaces")),
            Err(TokenError::BadName(_))
        ));
        assert!(file.revoke("ops").expect("revoked"));
        assert!(!file.revoke("ops").expect("nothing left"));
        assert_eq!(file.verify(&secret).expect("read"), None);
    }
}
