//! The flows behind the editor's chat and inline actions, shipped in `flows/builtin/` and built
//! into the binary. A workspace overrides one by holding its own file at the same place,
//! `flows/builtin/<name>.flow.json` under its root: committed with the project, checked by
//! `codexos check` like any flow, and picked up on the next run without a restart.

use std::path::{Path, PathBuf};

use codexos_agent::{RunResult, RunStatus};

use crate::workspace::Workspace;

/// Where built-in flows live, in CodexOS's repository and in a workspace that overrides them.
pub const BUILTIN_DIR: &str = "flows/builtin";

/// The shipped flows by name: `chat` and one per inline action.
pub const BUILTIN_FLOWS: &[(&str, &str)] = &[
    (
        "chat",
        include_str!("../../../flows/builtin/chat.flow.json"),
    ),
    (
        "explain",
        include_str!("../../../flows/builtin/explain.flow.json"),
    ),
    (
        "refactor",
        include_str!("../../../flows/builtin/refactor.flow.json"),
    ),
    (
        "tests",
        include_str!("../../../flows/builtin/tests.flow.json"),
    ),
    ("fix", include_str!("../../../flows/builtin/fix.flow.json")),
];

/// The flow to run for a built-in name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuiltinFlow {
    pub text: String,
    /// The workspace's override file; `None` for the shipped flow.
    pub path: Option<PathBuf>,
}

/// A built-in name CodexOS does not ship, or an override that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BuiltinFlowError {
    #[error("no built-in flow is called `{0}`")]
    Unknown(String),
    #[error("{}: cannot read this workspace's `{name}` flow: {reason}", path.display())]
    Unreadable {
        name: String,
        path: PathBuf,
        reason: String,
    },
}

/// A run of a built-in flow that did not reach its exit.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the `{flow}` run {run_id} {status}: {reason}")]
pub struct RunFailed {
    pub flow: String,
    pub run_id: String,
    pub status: &'static str,
    pub reason: String,
}

/// The output of a run that succeeded, else why it did not.
pub fn run_output(result: &RunResult) -> Result<String, RunFailed> {
    match (&result.status, &result.output) {
        (RunStatus::Succeeded, Some(output)) => Ok(output.clone()),
        (status, _) => Err(RunFailed {
            flow: result.flow_id.clone(),
            run_id: result.run_id.clone(),
            status: status.as_str(),
            reason: result
                .error_text()
                .unwrap_or_else(|| "no exit was reached".to_owned()),
        }),
    }
}

/// `<root>/flows/builtin/<name>.flow.json`.
pub fn override_path(root: &Path, name: &str) -> PathBuf {
    root.join(BUILTIN_DIR).join(format!("{name}.flow.json"))
}

impl Workspace {
    /// The flow `name` runs: the workspace's own `flows/builtin/<name>.flow.json` when it has one
    /// (its text from `open_text` when the editor holds unsaved changes), else the shipped one.
    pub fn builtin_flow(
        &self,
        name: &str,
        open_text: &dyn Fn(&Path) -> Option<String>,
    ) -> Result<BuiltinFlow, BuiltinFlowError> {
        let shipped = BUILTIN_FLOWS
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, text)| *text)
            .ok_or_else(|| BuiltinFlowError::Unknown(name.to_owned()))?;
        let path = override_path(self.root(), name);
        if let Some(text) = open_text(&path) {
            return Ok(BuiltinFlow {
                text,
                path: Some(path),
            });
        }
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(BuiltinFlow {
                text,
                path: Some(path),
            }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(BuiltinFlow {
                text: shipped.to_owned(),
                path: None,
            }),
            Err(error) => Err(BuiltinFlowError::Unreadable {
                name: name.to_owned(),
                path,
                reason: error.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use codexos_flow::{FlowFile, Severity, StaticCatalog};

    use super::*;
    use crate::actions::Action;

    #[test]
    fn every_shipped_flow_has_no_finding_and_every_action_has_one() {
        for (name, text) in BUILTIN_FLOWS {
            let findings = FlowFile::parse(text).findings(&StaticCatalog::builtin());
            assert_eq!(
                findings.iter().map(|f| &f.message).collect::<Vec<_>>(),
                Vec::<&String>::new(),
                "flows/builtin/{name}.flow.json"
            );
            assert!(findings.iter().all(|f| f.severity != Severity::Error));
        }
        for action in Action::ALL {
            assert!(BUILTIN_FLOWS.iter().any(|(name, _)| *name == action.name()));
        }
    }

    #[test]
    fn a_workspace_file_overrides_the_shipped_flow_and_an_open_buffer_overrides_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let workspace = Workspace::with_config(dir.path(), Default::default());
        let closed = |_: &Path| None;
        let shipped = workspace
            .builtin_flow("refactor", &closed)
            .expect("shipped");
        assert_eq!(shipped.path, None);
        assert!(shipped.text.contains("\"id\": \"refactor\""));

        let path = override_path(dir.path(), "refactor");
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
        std::fs::write(&path, "{\"id\": \"ours\"}").expect("write");
        let ours = workspace
            .builtin_flow("refactor", &closed)
            .expect("override");
        assert_eq!(ours.text, "{\"id\": \"ours\"}");
        assert_eq!(ours.path.as_deref(), Some(path.as_path()));

        let unsaved = |p: &Path| (p == path).then(|| "{\"id\": \"unsaved\"}".to_owned());
        let open = workspace.builtin_flow("refactor", &unsaved).expect("open");
        assert_eq!(open.text, "{\"id\": \"unsaved\"}");

        assert_eq!(
            workspace.builtin_flow("poem", &closed),
            Err(BuiltinFlowError::Unknown("poem".to_owned()))
        );
    }
}
