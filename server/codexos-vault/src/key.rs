//! Where the vault's key comes from and how it becomes an age x25519 identity.
//!
//! Resolution order (see [`VaultConfig::from_env`]):
//! 1. `VAULT_MASTER_KEY` (the seed's variable), if set and not blank:
//!    - an age identity (`AGE-SECRET-KEY-1…`, as printed by `age-keygen`) is used as is, so the
//!      vault file can also be opened with the `age` command-line tool;
//!    - any other string is key material: HKDF-SHA256 (salt and info fixed below) turns it into
//!      the 32 bytes of an x25519 identity. This is deliberately fast (no scrypt, no second of
//!      waiting per command), so the string must be high-entropy: at least 16 characters, and the
//!      seed's `.env` placeholder is refused.
//! 2. Otherwise an identity file, `$XDG_DATA_HOME/codexos/vault.key` or
//!    `~/.local/share/codexos/vault.key`, generated on first use with mode 0600 in the format of
//!    `age-keygen` (so `age -d -i vault.key vault.age` works as a recovery path).

use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use age::x25519;
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::files;
use crate::{SecretString, Timestamp, VaultError};

/// The environment variable holding the master key (the seed's name).
pub const MASTER_KEY_VAR: &str = "VAULT_MASTER_KEY";
/// The `.env` template value in the seed; a vault keyed by a published string would be no vault.
const SEED_PLACEHOLDER: &str = "auto-generate-or-paste";
const MIN_MASTER_KEY_CHARS: usize = 16;
/// Changing these orphans every vault keyed by a derived master key: they are part of the format.
const HKDF_SALT: &[u8] = b"codexos-vault/v1";
const HKDF_INFO: &[u8] = b"age x25519 identity";
const IDENTITY_PREFIX: &str = "AGE-SECRET-KEY-";
pub(crate) const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// The key that opens one vault: an age x25519 identity. `Debug` shows only its public recipient.
#[derive(Clone)]
pub struct MasterKey {
    identity: x25519::Identity,
}

impl MasterKey {
    /// A fresh random key (for tests and for [`MasterKey::load_or_create_identity_file`]).
    pub fn generate() -> Self {
        Self {
            identity: x25519::Identity::generate(),
        }
    }

    /// The key named by a `VAULT_MASTER_KEY` value: an age identity string, or key material that
    /// is run through HKDF-SHA256. Surrounding whitespace is ignored.
    pub fn from_master_key(value: &SecretString) -> Result<Self, VaultError> {
        let value = value.expose().trim();
        let invalid = |reason: String| VaultError::InvalidMasterKey { reason };
        if value.is_empty() {
            return Err(invalid("it is empty".to_owned()));
        }
        if value.len() >= IDENTITY_PREFIX.len()
            && value[..IDENTITY_PREFIX.len()].eq_ignore_ascii_case(IDENTITY_PREFIX)
        {
            return parse_identity(value)
                .map(|identity| Self { identity })
                .map_err(|problem| {
                    invalid(format!(
                        "it starts like an age identity but is not a valid one ({problem})"
                    ))
                });
        }
        if value == SEED_PLACEHOLDER {
            return Err(invalid(format!(
                "it still holds the template placeholder {SEED_PLACEHOLDER:?}; unset it to use a \
                 generated identity file, or paste the output of `age-keygen`"
            )));
        }
        let chars = value.chars().count();
        if chars < MIN_MASTER_KEY_CHARS {
            return Err(invalid(format!(
                "it is {chars} characters long; use at least {MIN_MASTER_KEY_CHARS} random \
                 characters, or an age identity from `age-keygen`"
            )));
        }
        Ok(Self::derive(value.as_bytes()))
    }

    fn derive(material: &[u8]) -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        Hkdf::<Sha256>::new(Some(HKDF_SALT), material)
            .expand(HKDF_INFO, bytes.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        let encoded = Zeroizing::new(
            bech32::encode::<bech32::Bech32>(
                bech32::Hrp::parse_unchecked("age-secret-key-"),
                bytes.as_ref(),
            )
            .expect("a 32-byte age identity fits in a Bech32 string")
            .to_uppercase(),
        );
        let identity = parse_identity(&encoded)
            .expect("a Bech32-encoded 32-byte key with age's prefix parses as an age identity");
        Self { identity }
    }

    /// Reads the identity file at `path`, or creates it (mode 0600, parent directories 0700) with
    /// a fresh identity if it does not exist. Refuses a file that other users can read.
    pub fn load_or_create_identity_file(path: &Path) -> Result<Self, VaultError> {
        match fs::read_to_string(path) {
            Ok(text) => {
                let text = Zeroizing::new(text);
                check_private_permissions(path)?;
                parse_identity_file(path, &text)
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                Self::create_identity_file(path)
            }
            Err(source) => Err(VaultError::io(path, "read the identity file", source)),
        }
    }

    fn create_identity_file(path: &Path) -> Result<Self, VaultError> {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            files::create_private_dir_all(dir)?;
        }
        let key = Self::generate();
        let contents = Zeroizing::new(format!(
            "# created: {}\n# CodexOS vault identity; keep it secret and back it up.\n\
             # public key: {}\n{}\n",
            Timestamp::now(),
            key.recipient(),
            key.identity.to_string().expose_secret_str(),
        ));
        if files::create_without_replacing(path, contents.as_bytes())? {
            Ok(key)
        } else {
            // Another process created it first; everyone must use that one.
            Self::load_or_create_identity_file(path)
        }
    }

    /// The public half (`age1…`): safe to show, and what the vault file is encrypted to.
    pub fn recipient(&self) -> String {
        self.identity.to_public().to_string()
    }

    /// The identity as `AGE-SECRET-KEY-1…`, for a user who wants to back up a derived key.
    pub fn to_identity_string(&self) -> SecretString {
        SecretString::from(self.identity.to_string().expose_secret_str())
    }

    pub(crate) fn identity(&self) -> &x25519::Identity {
        &self.identity
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("recipient", &self.recipient())
            .finish_non_exhaustive()
    }
}

/// Reads age's own secret string without naming the `secrecy` crate.
trait ExposeSecretStr {
    fn expose_secret_str(&self) -> &str;
}

impl ExposeSecretStr for age::secrecy::SecretString {
    fn expose_secret_str(&self) -> &str {
        age::secrecy::ExposeSecret::expose_secret(self)
    }
}

fn parse_identity(text: &str) -> Result<x25519::Identity, &'static str> {
    x25519::Identity::from_str(&Zeroizing::new(text.to_ascii_uppercase()))
}

fn parse_identity_file(path: &Path, text: &str) -> Result<MasterKey, VaultError> {
    let invalid = |reason: String| VaultError::InvalidIdentityFile {
        path: path.to_owned(),
        reason,
    };
    let (line_number, line) = text
        .lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.trim()))
        .find(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .ok_or_else(|| {
            invalid("it holds no identity (only blank lines and comments)".to_owned())
        })?;
    let identity = parse_identity(line).map_err(|problem| {
        invalid(format!(
            "line {line_number} is not an age x25519 identity (AGE-SECRET-KEY-1…): {problem}"
        ))
    })?;
    Ok(MasterKey { identity })
}

#[cfg(unix)]
fn check_private_permissions(path: &Path) -> Result<(), VaultError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(path)
        .map_err(|source| VaultError::io(path, "read the identity file's permissions", source))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(VaultError::InvalidIdentityFile {
            path: path.to_owned(),
            reason: format!(
                "other users can access it (mode {:o}); run `chmod 600 {}`",
                mode & 0o777,
                path.display()
            ),
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private_permissions(_path: &Path) -> Result<(), VaultError> {
    Ok(())
}

/// Where the vault's key comes from.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// A `VAULT_MASTER_KEY` value (see [`MasterKey::from_master_key`]).
    MasterKey(SecretString),
    /// An identity file, created with a fresh identity on first use.
    IdentityFile(PathBuf),
}

impl KeySource {
    pub fn load(&self) -> Result<MasterKey, VaultError> {
        match self {
            Self::MasterKey(value) => MasterKey::from_master_key(value),
            Self::IdentityFile(path) => MasterKey::load_or_create_identity_file(path),
        }
    }
}

/// Everything needed to open a vault. Build it with [`VaultConfig::from_env`] in the binary, or
/// by hand (tests, `codexos.toml` overrides); nothing below reads the environment.
#[derive(Clone, Debug)]
pub struct VaultConfig {
    pub vault_path: PathBuf,
    pub key_source: KeySource,
    /// How long a writer waits for another writer before giving up with [`VaultError::Locked`].
    pub lock_timeout: Duration,
}

impl VaultConfig {
    pub fn new(vault_path: PathBuf, key_source: KeySource) -> Self {
        Self {
            vault_path,
            key_source,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        }
    }

    /// The vault of `workspace_root` (`<root>/.codexos/vault.age`) with the key source the
    /// process environment names: `VAULT_MASTER_KEY`, else the default identity file.
    pub fn from_env(workspace_root: &Path) -> Result<Self, VaultError> {
        Self::from_env_with(workspace_root, |name| std::env::var_os(name))
    }

    /// [`VaultConfig::from_env`] with an explicit environment lookup.
    pub fn from_env_with(
        workspace_root: &Path,
        env: impl Fn(&str) -> Option<OsString>,
    ) -> Result<Self, VaultError> {
        Ok(Self::new(
            default_vault_path(workspace_root),
            key_source_from_env(&env)?,
        ))
    }
}

/// `<workspace_root>/.codexos/vault.age`.
pub fn default_vault_path(workspace_root: &Path) -> PathBuf {
    workspace_root.join(".codexos").join("vault.age")
}

fn key_source_from_env(env: &impl Fn(&str) -> Option<OsString>) -> Result<KeySource, VaultError> {
    if let Some(value) = env(MASTER_KEY_VAR) {
        let value = value
            .into_string()
            .map_err(|_| VaultError::InvalidMasterKey {
                reason: "it is not valid UTF-8".to_owned(),
            })?;
        if !value.trim().is_empty() {
            return Ok(KeySource::MasterKey(SecretString::new(value)));
        }
    }
    default_identity_path(env)
        .map(KeySource::IdentityFile)
        .ok_or(VaultError::NoIdentityLocation)
}

/// `$XDG_DATA_HOME/codexos/vault.key`, else `$HOME/.local/share/codexos/vault.key`.
fn default_identity_path(env: &impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let absolute = |name: &str| {
        env(name)
            .map(PathBuf::from)
            .filter(|path| path.is_absolute())
    };
    let data_home = absolute("XDG_DATA_HOME")
        .or_else(|| absolute("HOME").map(|home| home.join(".local").join("share")))?;
    Some(data_home.join("codexos").join("vault.key"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(known, _)| known == name)
                .map(|(_, value)| OsString::from(value))
        }
    }

    #[test]
    fn a_master_key_string_always_derives_the_same_identity() {
        let value = SecretString::from("correct horse battery staple 42");
        let first = MasterKey::from_master_key(&value).unwrap();
        let second = MasterKey::from_master_key(&value).unwrap();
        assert_eq!(first.recipient(), second.recipient());
        // Pinned (checked against an independent HKDF-SHA256 + X25519 computation): a change here
        // would lock every user out of a vault keyed this way.
        expect!["age12qumtk8pxdy579my2pqt37e6ugnn3gdwrlryjh7p5k6g3wu8l5qs0c4g6p"]
            .assert_eq(&first.recipient());
    }

    #[test]
    fn different_master_key_strings_derive_different_identities() {
        let one = MasterKey::from_master_key(&"correct horse battery staple 42".into()).unwrap();
        let other = MasterKey::from_master_key(&"correct horse battery staple 43".into()).unwrap();
        assert_ne!(one.recipient(), other.recipient());
    }

    #[test]
    fn an_age_identity_string_is_used_as_is() {
        let key = MasterKey::generate();
        let pasted = SecretString::from(format!("  {}\n", key.to_identity_string().expose()));
        assert_eq!(
            MasterKey::from_master_key(&pasted).unwrap().recipient(),
            key.recipient()
        );
    }

    #[test]
    fn a_broken_age_identity_string_is_rejected_without_echoing_it() {
        let broken = SecretString::from("AGE-SECRET-KEY-1QQQQSECRETPART");
        let message = MasterKey::from_master_key(&broken).unwrap_err().to_string();
        assert!(!message.contains("SECRETPART"), "{message}");
        expect!["VAULT_MASTER_KEY: it starts like an age identity but is not a valid one (invalid Bech32 encoding)"]
            .assert_eq(&message);
    }

    #[test]
    fn a_short_master_key_or_the_seed_placeholder_is_refused() {
        expect!["VAULT_MASTER_KEY: it is 6 characters long; use at least 16 random characters, or an age identity from `age-keygen`"]
            .assert_eq(&MasterKey::from_master_key(&"hunter".into()).unwrap_err().to_string());
        let placeholder = MasterKey::from_master_key(&SEED_PLACEHOLDER.into()).unwrap_err();
        assert!(placeholder.to_string().contains("template placeholder"));
    }

    #[test]
    fn the_environment_master_key_wins_over_the_identity_file() {
        let env = env_of(&[
            (MASTER_KEY_VAR, "0123456789abcdef0123"),
            ("HOME", "/home/ada"),
        ]);
        let config = VaultConfig::from_env_with(Path::new("/work/project"), env).unwrap();
        assert_eq!(
            config.vault_path,
            Path::new("/work/project/.codexos/vault.age")
        );
        assert!(matches!(config.key_source, KeySource::MasterKey(_)));
    }

    #[test]
    fn without_a_master_key_the_identity_file_lives_in_the_user_data_dir() {
        let from_xdg = env_of(&[("XDG_DATA_HOME", "/data"), ("HOME", "/home/ada")]);
        let from_home = env_of(&[(MASTER_KEY_VAR, "  "), ("HOME", "/home/ada")]);
        let path_of = |env| match VaultConfig::from_env_with(Path::new("/w"), env)
            .unwrap()
            .key_source
        {
            KeySource::IdentityFile(path) => path,
            KeySource::MasterKey(_) => panic!("expected an identity file"),
        };
        assert_eq!(path_of(from_xdg), Path::new("/data/codexos/vault.key"));
        assert_eq!(
            path_of(from_home),
            Path::new("/home/ada/.local/share/codexos/vault.key")
        );
    }

    #[test]
    fn without_any_home_the_error_says_what_to_set() {
        let error = VaultConfig::from_env_with(Path::new("/w"), env_of(&[("HOME", "relative")]))
            .unwrap_err();
        assert!(matches!(error, VaultError::NoIdentityLocation));
    }

    #[test]
    fn debug_of_a_master_key_shows_only_the_public_recipient() {
        let key = MasterKey::generate();
        let debug = format!("{key:?}");
        assert!(debug.contains(&key.recipient()));
        assert!(!debug.contains(key.to_identity_string().expose()));
    }
}
