//! Reading model files: every failure names the file, and a cheap fingerprint of the weights
//! becomes part of the vector space's version, so changed weights never mix with old vectors.

use std::path::{Path, PathBuf};

use crate::EmbedError;

/// Environment variable that overrides the models directory.
pub const MODELS_DIR_ENV: &str = "CODEXOS_MODELS_DIR";

/// `$CODEXOS_MODELS_DIR`, else `~/.local/share/codexos/models` (where `codexos models install`
/// unpacks them), else `None` when neither the variable nor a home directory is known.
pub fn default_models_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(MODELS_DIR_ENV).filter(|dir| !dir.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let home = std::env::var_os("HOME").filter(|home| !home.is_empty())?;
    Some(PathBuf::from(home).join(".local/share/codexos/models"))
}

/// The bytes of a model file; a missing file and an unreadable one get different errors.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, EmbedError> {
    std::fs::read(path).map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => EmbedError::MissingModelFile {
            path: path.to_path_buf(),
        },
        _ => EmbedError::BadModelFile {
            path: path.to_path_buf(),
            reason: error.to_string(),
        },
    })
}

pub(crate) fn bad_file(path: &Path, reason: impl ToString) -> EmbedError {
    EmbedError::BadModelFile {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// A 64-bit fingerprint of a file's bytes: its length, its first 64 KiB (headers) and 64 blocks
/// sampled across it. Reading every byte of a 90 MB model on each start would cost more than the
/// chance it guards against (an edit that leaves all sampled blocks alone).
pub(crate) fn fingerprint(bytes: &[u8]) -> u64 {
    const BLOCK: usize = 4096;
    const SAMPLES: usize = 64;
    let mut hash = Fnv::new();
    hash.write(&(bytes.len() as u64).to_le_bytes());
    hash.write(&bytes[..bytes.len().min(64 * 1024)]);
    let stride = (bytes.len() / SAMPLES).max(1);
    for start in (0..bytes.len()).step_by(stride) {
        hash.write(&bytes[start..(start + BLOCK).min(bytes.len())]);
    }
    hash.finish()
}

/// FNV-1a: a small, fast hash for fingerprints and for the static model's string tables.
pub(crate) struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Self::new()
    }
}

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        Fnv::write(self, bytes);
    }
}

impl Fnv {
    pub(crate) fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    pub(crate) fn finish(&self) -> u64 {
        self.0
    }
}
