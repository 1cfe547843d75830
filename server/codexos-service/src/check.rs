//! `codexos check`: find flow files, read them and analyse each exactly as the editor does.

use std::fmt;
use std::path::{Path, PathBuf};

use codexos_flow::{Code, Encoding, Finding, FlowFile, LineCol, LineIndex, Severity, TextRange};

use crate::workspace::{Workspace, is_flow_path};

/// The findings of every checked file, and the paths that could not be checked.
#[derive(Debug, Default)]
pub struct CheckReport {
    pub files: Vec<CheckedFile>,
    pub errors: Vec<CheckError>,
}

impl CheckReport {
    pub fn count(&self, severity: Severity) -> usize {
        self.files
            .iter()
            .flat_map(|file| &file.findings)
            .filter(|finding| finding.severity == severity)
            .count()
    }
}

/// One flow file and its findings.
#[derive(Debug)]
pub struct CheckedFile {
    pub path: PathBuf,
    /// The file's text (invalid UTF-8 replaced by U+FFFD, after the finding that reports it).
    pub text: String,
    pub findings: Vec<Finding>,
    line_index: LineIndex,
}

impl CheckedFile {
    /// One-based line and column (counted in characters, as rustc does) of a byte offset.
    pub fn position(&self, offset: u32) -> (u32, u32) {
        let LineCol { line, .. } = self.line_index.line_col(&self.text, offset, Encoding::Utf8);
        let line_start =
            self.line_index
                .offset(&self.text, LineCol { line, col: 0 }, Encoding::Utf8);
        let offset = offset.clamp(line_start, self.text.len() as u32);
        let col = self
            .text
            .get(line_start as usize..offset as usize)
            .map_or(0, |prefix| prefix.chars().count());
        (line + 1, col as u32 + 1)
    }
}

/// A path that could not be checked at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckError {
    pub path: PathBuf,
    pub message: String,
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

pub(crate) fn check_paths(workspace: &Workspace, paths: &[PathBuf]) -> CheckReport {
    let mut report = CheckReport::default();
    for path in paths {
        match std::fs::metadata(path) {
            Ok(metadata) if metadata.is_dir() => {
                walk(workspace, path, &mut report);
            }
            Ok(_) => check_file(workspace, path, &mut report),
            Err(error) => report.errors.push(CheckError {
                path: path.clone(),
                message: format!("cannot read: {error}"),
            }),
        }
    }
    report
}

fn walk(workspace: &Workspace, dir: &Path, report: &mut CheckReport) {
    let mut overrides = ignore::overrides::OverrideBuilder::new(workspace.root());
    for pattern in &workspace.config().config.flows.exclude {
        if let Err(error) = overrides.add(&format!("!{pattern}")) {
            report.errors.push(CheckError {
                path: workspace.root().join(crate::CONFIG_FILE),
                message: format!("bad pattern `{pattern}` in [flows] exclude: {error}"),
            });
        }
    }
    let mut builder = ignore::WalkBuilder::new(dir);
    builder
        .require_git(false)
        .sort_by_file_name(|a, b| a.cmp(b));
    match overrides.build() {
        Ok(overrides) => {
            builder.overrides(overrides);
        }
        Err(error) => report.errors.push(CheckError {
            path: workspace.root().join(crate::CONFIG_FILE),
            message: format!("bad [flows] exclude: {error}"),
        }),
    }
    for entry in builder.build() {
        match entry {
            Ok(entry) => {
                let is_file = entry.file_type().is_some_and(|kind| kind.is_file());
                if is_file && is_flow_path(entry.path()) {
                    check_file(workspace, entry.path(), report);
                }
            }
            Err(error) => report.errors.push(CheckError {
                path: dir.to_owned(),
                message: format!("cannot walk: {error}"),
            }),
        }
    }
}

fn check_file(workspace: &Workspace, path: &Path, report: &mut CheckReport) {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) => {
            report.errors.push(CheckError {
                path: path.to_owned(),
                message: format!("cannot read: {error}"),
            });
            return;
        }
    };
    report.files.push(analyze_bytes(workspace, path, bytes));
}

pub(crate) fn check_text(workspace: &Workspace, path: &Path, text: String) -> CheckedFile {
    analyze_bytes(workspace, path, text.into_bytes())
}

/// Analyses a file's bytes: text that is not UTF-8 is reported as `invalid-json` at the first
/// bad byte (the rest of the file cannot be trusted as a flow).
fn analyze_bytes(workspace: &Workspace, path: &Path, bytes: Vec<u8>) -> CheckedFile {
    let (text, findings) = match String::from_utf8(bytes) {
        Ok(text) => {
            let findings = workspace.findings(Some(path), &FlowFile::parse(&text));
            (text, findings)
        }
        Err(error) => {
            let valid_up_to = error.utf8_error().valid_up_to();
            let bad_byte = error.as_bytes()[valid_up_to];
            let text = String::from_utf8_lossy(error.as_bytes()).into_owned();
            let start = valid_up_to as u32;
            let finding = Finding {
                range: TextRange::new(start, start + char::REPLACEMENT_CHARACTER.len_utf8() as u32),
                code: Code::InvalidJson,
                severity: Severity::Error,
                message: format!(
                    "the file is not valid UTF-8: byte 0x{bad_byte:02x} at offset {valid_up_to}"
                ),
                related: Vec::new(),
                fixes: Vec::new(),
            };
            (text, vec![finding])
        }
    };
    CheckedFile {
        path: path.to_owned(),
        line_index: LineIndex::new(&text),
        text,
        findings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, LoadedConfig};

    fn workspace(dir: &Path) -> Workspace {
        Workspace::with_config(dir, LoadedConfig::default())
    }

    #[test]
    fn invalid_utf8_is_an_invalid_json_finding_at_the_bad_byte() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("bad.flow.json");
        std::fs::write(&path, b"{\n  \"id\": \"caf\xe9\"\n}\n").expect("write");
        let report = workspace(dir.path()).check_paths(&[path]);
        let file = &report.files[0];
        let finding = &file.findings[0];
        assert_eq!(finding.code, Code::InvalidJson);
        assert_eq!(
            finding.message,
            "the file is not valid UTF-8: byte 0xe9 at offset 14"
        );
        assert_eq!(file.position(finding.range.start), (2, 13));
    }

    #[test]
    fn folders_are_walked_for_flow_files_only_honouring_excludes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("flows/drafts")).expect("mkdir");
        for file in [
            "flows/a.flow.json",
            "flows/drafts/b.flow.json",
            "flows/c.json",
        ] {
            std::fs::write(root.join(file), "{}").expect("write");
        }
        let config = Config::parse("[flows]\nexclude = [\"flows/drafts/**\"]\n", Path::new("t"));
        let loaded = config.expect("valid config");
        let report = Workspace::with_config(root, loaded).check_paths(&[root.to_owned()]);
        let checked: Vec<_> = report
            .files
            .iter()
            .map(|file| {
                file.path
                    .strip_prefix(root)
                    .unwrap_or(&file.path)
                    .to_owned()
            })
            .collect();
        assert_eq!(checked, vec![PathBuf::from("flows/a.flow.json")]);
        assert!(report.errors.is_empty(), "{:?}", report.errors);
    }

    #[test]
    fn a_missing_path_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = dir.path().join("nope.flow.json");
        let report = workspace(dir.path()).check_paths(std::slice::from_ref(&missing));
        assert_eq!(report.errors.len(), 1);
        assert_eq!(report.errors[0].path, missing);
        assert!(report.errors[0].message.starts_with("cannot read: "));
    }

    #[test]
    fn columns_count_characters_and_start_at_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("x.flow.json");
        std::fs::write(&path, "{\"é😀\": \n  1}").expect("write");
        let file = analyze_bytes(
            &workspace(dir.path()),
            &path,
            std::fs::read(&path).expect("read"),
        );
        assert_eq!(file.position(0), (1, 1));
        assert_eq!(file.position(8), (1, 5));
        assert_eq!(file.position(14), (2, 3));
        assert_eq!(file.position(9999), (2, 5));
    }
}
