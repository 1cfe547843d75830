//! The vault file: one age file whose plaintext is a small JSON document
//! `{"format": 1, "secrets": {"<key>": {"value", "tags", "created", "updated"}}}`.
//!
//! Reads need no lock (writers replace the file with an atomic rename, so a reader sees a whole
//! old or a whole new file). Every change is a read-modify-write under an exclusive lock on the
//! sidecar `<vault>.lock`, so concurrent writers never lose each other's secrets. Anything that
//! cannot be read and decrypted stops the change before a byte is written.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Write};
use std::iter;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::files;
use crate::key::DEFAULT_LOCK_TIMEOUT;
use crate::names::{normalize_tags, validate_key_name};
use crate::{MasterKey, Redactor, SecretString, Timestamp, VaultConfig, VaultError};

const FORMAT_VERSION: u32 = 1;

/// An open vault: a path and the key for it. Cheap to share (`&self` everywhere, `Send + Sync`);
/// each call reads the file afresh, so several processes can use one vault.
#[derive(Debug)]
pub struct Vault {
    path: PathBuf,
    lock_path: PathBuf,
    key: MasterKey,
    lock_timeout: Duration,
}

/// One secret with its value (from [`Vault::get`]). `Debug` hides the value.
#[derive(Clone, Debug)]
pub struct Secret {
    pub key: String,
    pub value: SecretString,
    pub tags: Vec<String>,
    pub created: Timestamp,
    pub updated: Timestamp,
}

/// What [`Vault::list`] shows: names, tags and times, never values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SecretInfo {
    pub key: String,
    pub tags: Vec<String>,
    /// Unix seconds.
    pub created: Timestamp,
    /// Unix seconds.
    pub updated: Timestamp,
}

/// The seed's `/vault/put` body, `{key, value, tags}`: the arguments of the
/// `codexos.vault.put` editor command. `Debug` hides the value.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutRequest {
    pub key: String,
    pub value: SecretString,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Whether [`Vault::put`] added a secret or replaced one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    Created,
    Updated,
}

impl Vault {
    /// Opens the vault at `path` with `key`. A missing file is an empty vault (it is created by
    /// the first [`Vault::put`]); an existing one is decrypted now, so a wrong key or a damaged
    /// file is reported at once.
    pub fn open(path: impl Into<PathBuf>, key: MasterKey) -> Result<Self, VaultError> {
        let path = path.into();
        let mut lock_name = path.file_name().unwrap_or_default().to_owned();
        lock_name.push(".lock");
        let vault = Self {
            lock_path: path.with_file_name(lock_name),
            path,
            key,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        };
        vault.read()?;
        Ok(vault)
    }

    /// Loads the key from `config.key_source` (creating the identity file on first use) and
    /// opens `config.vault_path`.
    pub fn open_with(config: &VaultConfig) -> Result<Self, VaultError> {
        let key = config.key_source.load()?;
        Ok(Self::open(&config.vault_path, key)?.with_lock_timeout(config.lock_timeout))
    }

    /// How long a change waits for another writer before [`VaultError::Locked`] (default 10 s).
    pub fn with_lock_timeout(mut self, lock_timeout: Duration) -> Self {
        self.lock_timeout = lock_timeout;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The public recipient (`age1…`) the file is encrypted to.
    pub fn recipient(&self) -> String {
        self.key.recipient()
    }

    /// Stores `value` under `key` with `tags` (the seed's `/vault/put`), replacing the value and
    /// tags of an existing secret and keeping its creation time.
    pub fn put<S: AsRef<str>>(
        &self,
        key: &str,
        value: SecretString,
        tags: impl IntoIterator<Item = S>,
    ) -> Result<PutOutcome, VaultError> {
        validate_key_name(key)?;
        let tags = normalize_tags(key, tags)?;
        if value.is_empty() {
            return Err(VaultError::EmptyValue {
                key: key.to_owned(),
            });
        }
        self.change(|contents| {
            let now = Timestamp::now();
            let (created, outcome) = match contents.secrets.get(key) {
                Some(existing) => (existing.created, PutOutcome::Updated),
                None => (now, PutOutcome::Created),
            };
            let stored = StoredSecret {
                value: value.expose().to_owned(),
                tags,
                created,
                updated: now,
            };
            contents.secrets.insert(key.to_owned(), stored);
            (outcome, true)
        })
    }

    /// [`Vault::put`] with the seed's `{key, value, tags}`.
    pub fn put_request(&self, request: PutRequest) -> Result<PutOutcome, VaultError> {
        self.put(&request.key, request.value, request.tags)
    }

    /// The secret named `key`, or `None`.
    pub fn get(&self, key: &str) -> Result<Option<Secret>, VaultError> {
        validate_key_name(key)?;
        Ok(self
            .read()?
            .secrets
            .get(key)
            .map(|stored| stored.to_secret(key)))
    }

    /// Every secret's name, tags and times, sorted by name.
    pub fn list(&self) -> Result<Vec<SecretInfo>, VaultError> {
        Ok(self
            .read()?
            .secrets
            .iter()
            .map(|(key, stored)| SecretInfo {
                key: key.clone(),
                tags: stored.tags.clone(),
                created: stored.created,
                updated: stored.updated,
            })
            .collect())
    }

    /// Removes the secret named `key`; returns whether it was there.
    pub fn remove(&self, key: &str) -> Result<bool, VaultError> {
        validate_key_name(key)?;
        if !self.path.exists() {
            return Ok(false);
        }
        self.change(|contents| {
            let removed = contents.secrets.remove(key).is_some();
            (removed, removed)
        })
    }

    /// A [`Redactor`] that hides every value in the vault now.
    pub fn redactor(&self) -> Result<Redactor, VaultError> {
        let contents = self.read()?;
        let mut redactor = Redactor::new();
        for (key, stored) in &contents.secrets {
            redactor.add(key, &SecretString::from(stored.value.as_str()));
        }
        Ok(redactor)
    }

    /// Read-modify-write under the lock. `edit` returns its answer and whether it changed
    /// anything; nothing is written when it did not.
    fn change<T>(&self, edit: impl FnOnce(&mut Contents) -> (T, bool)) -> Result<T, VaultError> {
        if let Some(dir) = self.path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            files::create_private_dir_all(dir)?;
        }
        let _lock = files::lock_exclusive(&self.path, &self.lock_path, self.lock_timeout)?;
        let mut contents = self.read()?;
        let (answer, changed) = edit(&mut contents);
        if changed {
            let ciphertext = self.encrypt(&contents)?;
            files::replace_atomically(&self.path, &ciphertext)?;
        }
        Ok(answer)
    }

    fn read(&self) -> Result<Contents, VaultError> {
        let ciphertext = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Contents::empty()),
            Err(source) => return Err(VaultError::io(&self.path, "read the vault", source)),
        };
        if ciphertext.is_empty() {
            return Err(self.damaged("the file is empty (0 bytes)"));
        }
        let plaintext = self.decrypt(&ciphertext)?;
        self.parse(&plaintext)
    }

    fn decrypt(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let decryptor =
            age::Decryptor::new_buffered(ciphertext).map_err(|error| self.decrypt_error(error))?;
        let mut reader = decryptor
            .decrypt(iter::once(self.key.identity() as &dyn age::Identity))
            .map_err(|error| self.decrypt_error(error))?;
        let mut plaintext = Zeroizing::new(Vec::new());
        reader
            .read_to_end(&mut plaintext)
            .map_err(|error| self.payload_error(&error))?;
        Ok(plaintext)
    }

    fn decrypt_error(&self, error: age::DecryptError) -> VaultError {
        use age::DecryptError as E;
        match error {
            E::NoMatchingKeys | E::KeyDecryptionFailed => VaultError::WrongKey {
                path: self.path.clone(),
            },
            E::InvalidHeader => self
                .damaged("it is not an age-encrypted file, or its header is cut short or damaged"),
            E::UnknownFormat => self.damaged("it is in an age format this build does not know"),
            E::InvalidMac => {
                self.damaged("its header was modified (the header MAC does not match)")
            }
            E::DecryptionFailed => self.damaged("its encrypted contents are corrupted"),
            E::Io(error) => self.payload_error(&error),
            other => self.damaged(&format!("it cannot be decrypted: {other}")),
        }
    }

    fn payload_error(&self, error: &io::Error) -> VaultError {
        if error.kind() == io::ErrorKind::UnexpectedEof {
            self.damaged("the file is cut short")
        } else {
            self.damaged(&format!(
                "its encrypted contents are corrupted or cut short ({error})"
            ))
        }
    }

    fn parse(&self, plaintext: &[u8]) -> Result<Contents, VaultError> {
        let header: FormatHeader =
            serde_json::from_slice(plaintext).map_err(|error| self.json_error(&error))?;
        if header.format != FORMAT_VERSION {
            return Err(VaultError::UnsupportedFormat {
                path: self.path.clone(),
                found: header.format,
                supported: FORMAT_VERSION,
            });
        }
        serde_json::from_slice(plaintext).map_err(|error| self.json_error(&error))
    }

    /// serde_json's own messages can quote the offending value, which may be a secret: only its
    /// category and position are kept.
    fn json_error(&self, error: &serde_json::Error) -> VaultError {
        let what = match error.classify() {
            serde_json::error::Category::Io => "could not be read",
            serde_json::error::Category::Syntax => "is not valid JSON",
            serde_json::error::Category::Data => "does not have the vault's structure",
            serde_json::error::Category::Eof => "ends too early",
        };
        self.damaged(&format!(
            "it decrypts, but the decrypted document {what} (line {}, column {})",
            error.line(),
            error.column()
        ))
    }

    fn encrypt(&self, contents: &Contents) -> Result<Vec<u8>, VaultError> {
        let plaintext =
            Zeroizing::new(serde_json::to_vec(contents).map_err(|error| {
                VaultError::io(&self.path, "serialize the vault", error.into())
            })?);
        let recipient = self.key.identity().to_public();
        let encryptor =
            age::Encryptor::with_recipients(iter::once(&recipient as &dyn age::Recipient))
                .map_err(|error| {
                    VaultError::io(
                        &self.path,
                        "encrypt the vault",
                        io::Error::other(error.to_string()),
                    )
                })?;
        let mut ciphertext = Vec::with_capacity(plaintext.len() + 256);
        let mut writer = encryptor
            .wrap_output(&mut ciphertext)
            .map_err(|error| VaultError::io(&self.path, "encrypt the vault", error))?;
        writer
            .write_all(&plaintext)
            .and_then(|()| writer.finish().map(drop))
            .map_err(|error| VaultError::io(&self.path, "encrypt the vault", error))?;
        Ok(ciphertext)
    }

    fn damaged(&self, reason: &str) -> VaultError {
        VaultError::Damaged {
            path: self.path.clone(),
            reason: reason.to_owned(),
        }
    }
}

#[derive(Deserialize)]
struct FormatHeader {
    format: u32,
}

#[derive(Serialize, Deserialize)]
struct Contents {
    format: u32,
    secrets: BTreeMap<String, StoredSecret>,
}

impl Contents {
    fn empty() -> Self {
        Self {
            format: FORMAT_VERSION,
            secrets: BTreeMap::new(),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct StoredSecret {
    value: String,
    #[serde(default)]
    tags: Vec<String>,
    created: Timestamp,
    updated: Timestamp,
}

impl StoredSecret {
    fn to_secret(&self, key: &str) -> Secret {
        Secret {
            key: key.to_owned(),
            value: SecretString::from(self.value.as_str()),
            tags: self.tags.clone(),
            created: self.created,
            updated: self.updated,
        }
    }
}

impl Drop for StoredSecret {
    fn drop(&mut self) {
        self.value.zeroize();
    }
}
