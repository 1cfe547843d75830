//! Flows and plug-in tool files written by a person through a front end other than the editor
//! (`codexos serve`'s creator routes): checked as `codexos check` and the tool registry check
//! them, written whole (a temporary file, fsync, rename) or not at all.
//!
//! Writing a tool file grants nothing: a plug-in runs only once the user's trust store approves
//! it as it is (hash-pinned), so a creator can propose a tool and only an admin or the user can
//! let it run. Flows go where an agent's `write_file` may go: the workspace's protected paths
//! stay closed unless the user opened them.

use std::path::{Path, PathBuf};

use codexos_flow::Severity;
use codexos_policy::{Action, Evaluation, Policy, TrustFile};
use codexos_tools::plugin::{TOOL_FILE_SUFFIX, check_tool_file};
use codexos_tools::{AtomicWriteSink, WriteSink};

use crate::check::CheckedFile;
use crate::workspace::{Workspace, is_flow_path};

/// Why a flow or a tool file was not written (nothing was).
#[derive(Debug, thiserror::Error)]
pub enum AuthoringError {
    /// The request names no place a flow or a tool can be written.
    #[error("{0}")]
    Invalid(String),
    /// The workspace's policy keeps the path closed.
    #[error("{0}")]
    Refused(String),
    /// `codexos check` found errors in the flow: its findings are in the checked file.
    #[error("`{path}` has {errors} error(s); nothing was written")]
    FlowErrors {
        path: String,
        errors: usize,
        checked: Box<CheckedFile>,
    },
    #[error("{path}: cannot write it: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Workspace {
    /// Checks `text` as the flow at `relative` (a `*.flow.json` path of the workspace) and writes
    /// it when it has no error; the checked file (warnings included) either way.
    pub fn save_flow(&self, relative: &str, text: String) -> Result<CheckedFile, AuthoringError> {
        let path = self.writable_path(relative)?;
        if !is_flow_path(&path) {
            return Err(AuthoringError::Invalid(format!(
                "`{relative}` is not a flow file: its name must end in .flow.json"
            )));
        }
        let checked = self.check_text(&path, text);
        let errors = checked
            .findings
            .iter()
            .filter(|finding| finding.severity == Severity::Error)
            .count();
        if errors > 0 {
            return Err(AuthoringError::FlowErrors {
                path: relative.to_owned(),
                errors,
                checked: Box::new(checked),
            });
        }
        write(&path, &checked.text)?;
        Ok(checked)
    }

    /// Checks `text` as the plug-in `tools/NAME.tool.json` and writes it: the tool is then
    /// listed, and runs once the user's trust store approves it as it is.
    pub fn save_tool(&self, name: &str, text: &str) -> Result<PathBuf, AuthoringError> {
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(AuthoringError::Invalid(format!(
                "`{name}` is not a tool name: use letters, digits, `_` and `-`"
            )));
        }
        let relative = format!("tools/{name}{TOOL_FILE_SUFFIX}");
        let path = codexos_tools::resolve_in_workspace(self.root(), &relative)
            .map_err(|error| AuthoringError::Invalid(format!("`{relative}`: {error}")))?;
        check_tool_file(&path, name, text)
            .map_err(|problem| AuthoringError::Invalid(problem.to_string()))?;
        write(&path, text)?;
        Ok(path)
    }

    /// `relative` inside the workspace, where the policy lets agents write.
    fn writable_path(&self, relative: &str) -> Result<PathBuf, AuthoringError> {
        let path = codexos_tools::resolve_in_workspace(self.root(), relative)
            .map_err(|error| AuthoringError::Invalid(format!("`{relative}`: {error}")))?;
        let requests = self
            .requests()
            .map_err(|error| AuthoringError::Refused(error.to_string()))?;
        // No home folder means no trust store: nothing opened, as for the gate.
        let trust = match TrustFile::user() {
            Ok(file) => file
                .load()
                .map_err(|error| AuthoringError::Refused(error.to_string()))?
                .workspace(&self.trust_key()),
            Err(_) => Default::default(),
        };
        let shown = path
            .strip_prefix(self.root())
            .unwrap_or(&path)
            .to_string_lossy()
            .into_owned();
        let policy = Policy {
            requests: &requests,
            trust: &trust,
            offline: false,
        };
        match policy.evaluate(&Action::Write { path: shown }) {
            Evaluation::Refused { reason } => Err(AuthoringError::Refused(reason)),
            _ => Ok(path),
        }
    }
}

fn write(path: &Path, text: &str) -> Result<(), AuthoringError> {
    AtomicWriteSink
        .write(path, text)
        .map_err(|source| AuthoringError::Io {
            path: path.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace() -> (tempfile::TempDir, Workspace) {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("codexos.toml"), "").expect("config");
        let workspace = Workspace::load(dir.path()).expect("workspace");
        (dir, workspace)
    }

    const FLOW: &str = r#"{"id": "hello", "name": "hello", "nodes": [
{"id": "start", "type": "entry", "next": "done"},
{"id": "done", "type": "exit"}
]}
"#;

    #[test]
    fn a_flow_without_errors_is_written_and_one_with_errors_is_not() {
        let (dir, workspace) = workspace();
        workspace
            .save_flow("flows/hello.flow.json", FLOW.to_owned())
            .expect("saved");
        let written = std::fs::read_to_string(dir.path().join("flows/hello.flow.json"));
        assert_eq!(written.ok().as_deref(), Some(FLOW));

        let broken = FLOW.replace("\"next\": \"done\"", "\"next\": \"nowhere\"");
        let refused = workspace.save_flow("flows/hello.flow.json", broken);
        assert!(
            matches!(&refused, Err(AuthoringError::FlowErrors { errors, .. }) if *errors > 0),
            "{:?}",
            refused.map(|_| ())
        );
        let kept = std::fs::read_to_string(dir.path().join("flows/hello.flow.json"));
        assert_eq!(kept.ok().as_deref(), Some(FLOW), "the old flow stays");
    }

    #[test]
    fn flows_go_only_where_agents_may_write() {
        let (dir, workspace) = workspace();
        let protected = workspace.save_flow(".github/workflows/x.flow.json", FLOW.to_owned());
        assert!(
            matches!(&protected, Err(AuthoringError::Refused(reason)) if reason.contains("protected")),
            "{:?}",
            protected.map(|_| ())
        );
        let outside = workspace.save_flow("../x.flow.json", FLOW.to_owned());
        assert!(matches!(outside, Err(AuthoringError::Invalid(_))));
        let not_a_flow = workspace.save_flow("notes.json", FLOW.to_owned());
        assert!(matches!(not_a_flow, Err(AuthoringError::Invalid(_))));
        assert!(!dir.path().join(".github").exists());
    }

    #[test]
    fn a_tool_file_is_checked_as_the_registry_loads_it_before_it_is_written() {
        let (dir, workspace) = workspace();
        let tool = r#"{"description": "Count words", "command": ["wc", "-w", "{{path}}"],
"input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}}"#;
        let path = workspace.save_tool("count", tool).expect("saved");
        assert_eq!(path, dir.path().join("tools/count.tool.json"));

        let unknown_field = tool.replace("{{path}}", "{{file}}");
        let refused = workspace.save_tool("lines", &unknown_field);
        assert!(
            matches!(&refused, Err(AuthoringError::Invalid(message)) if message.contains("command/2")),
            "{refused:?}"
        );
        assert!(!dir.path().join("tools/lines.tool.json").exists());
        assert!(matches!(
            workspace.save_tool("../evil", tool),
            Err(AuthoringError::Invalid(_))
        ));
    }
}
