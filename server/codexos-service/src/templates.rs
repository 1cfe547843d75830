//! Flow templates: the ones CodexOS ships (`flows/templates/`, built into the binary) and those in
//! the folders a workspace lists under `[flows] template_dirs` in `codexos.toml` (a workspace
//! template with a shipped template's name replaces it). A template is offered only when the same
//! checks as `codexos check` find no error in it; the others are reported with their first error.
//! Forking writes the template's text with its `id` renamed (and its `$schema` link, which points
//! into the CodexOS repository, removed), so comments on layout, `ui` positions and unknown fields
//! come along untouched. `codexos flow` and the editor's `codexos.flow.templates` both use this.

use std::path::{Path, PathBuf};

use codexos_flow::syntax::{Member, ValueKind};
use codexos_flow::{FlowFile, Severity};
use serde::Serialize;

use crate::workspace::Workspace;

/// The templates built into the binary: `flows/templates/` at build time.
const BUILT_IN: &[(&str, &str)] = &[
    (
        "explain-code",
        include_str!("../../../flows/templates/explain-code.flow.json"),
    ),
    (
        "write-tests",
        include_str!("../../../flows/templates/write-tests.flow.json"),
    ),
    (
        "review-diff",
        include_str!("../../../flows/templates/review-diff.flow.json"),
    ),
    (
        "summarise-folder",
        include_str!("../../../flows/templates/summarise-folder.flow.json"),
    ),
    (
        "triage-issue",
        include_str!("../../../flows/templates/triage-issue.flow.json"),
    ),
    (
        "research",
        include_str!("../../../flows/templates/research.flow.json"),
    ),
];

#[derive(Debug, Clone, Serialize)]
pub struct Template {
    /// The file name without `.flow.json`: what `--template` takes.
    pub name: String,
    pub id: String,
    /// The flow's `name` field, or its id.
    pub title: String,
    pub description: String,
    pub tags: Vec<String>,
    /// `built-in`, or the template file's path.
    pub source: String,
    #[serde(skip)]
    pub text: String,
}

/// A template file that was not offered, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub source: String,
    pub reason: String,
}

/// Every template that passes the checks (shipped first, then the workspace's, by name), and
/// the ones that do not.
pub fn templates(workspace: &Workspace) -> (Vec<Template>, Vec<Rejected>) {
    let mut rejected = Vec::new();
    let mut candidates: Vec<Candidate> = BUILT_IN
        .iter()
        .map(|(name, text)| Candidate {
            name: (*name).to_owned(),
            text: (*text).to_owned(),
            path: None,
            source: "built-in".to_owned(),
        })
        .collect();
    for dir in &workspace.config().config.flows.template_dirs {
        let dir = workspace.root().join(dir);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) => {
                rejected.push(Rejected {
                    source: dir.display().to_string(),
                    reason: format!(
                        "cannot read the template folder ([flows] template_dirs): {error}"
                    ),
                });
                continue;
            }
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| crate::is_flow_path(path))
            .collect();
        files.sort();
        for path in files {
            let source = path.display().to_string();
            match std::fs::read_to_string(&path) {
                Ok(text) => candidates.push(Candidate {
                    name: template_name(&path),
                    text,
                    path: Some(path),
                    source,
                }),
                Err(error) => rejected.push(Rejected {
                    source,
                    reason: format!("cannot read: {error}"),
                }),
            }
        }
    }
    let mut offered: Vec<Template> = Vec::new();
    for candidate in candidates {
        let source = candidate.source.clone();
        match validate(workspace, candidate) {
            Ok(template) => {
                offered.retain(|t| t.name != template.name);
                offered.push(template);
            }
            Err(reason) => rejected.push(Rejected { source, reason }),
        }
    }
    (offered, rejected)
}

/// A template file before its checks.
struct Candidate {
    name: String,
    text: String,
    path: Option<PathBuf>,
    source: String,
}

/// `flows/my-review.flow.json` → `my-review`.
pub fn template_name(path: &Path) -> String {
    let file = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    file.strip_suffix(codexos_flow::FLOW_SUFFIX)
        .unwrap_or(file)
        .to_owned()
}

fn validate(workspace: &Workspace, candidate: Candidate) -> Result<Template, String> {
    let Candidate {
        name,
        text,
        path,
        source,
    } = candidate;
    let file = FlowFile::parse(&text);
    if let Some(error) = workspace
        .findings(path.as_deref(), &file)
        .into_iter()
        .find(|finding| finding.severity == Severity::Error)
    {
        return Err(format!("{}: {}", error.code.as_str(), error.message));
    }
    let members = file.json().root.as_ref().and_then(|root| root.as_object());
    let string = |key: &str| {
        members
            .and_then(|members| members.iter().find(|m| m.key.name == key))
            .and_then(|member| member.value.as_ref())
            .and_then(|value| value.as_str())
            .map(str::to_owned)
    };
    let id = string("id").ok_or("the template has no `id`")?;
    let tags = members
        .and_then(|members| members.iter().find(|m| m.key.name == "tags"))
        .and_then(|member| member.value.as_ref())
        .and_then(|value| value.as_array())
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Ok(Template {
        name,
        title: string("name").unwrap_or_else(|| id.clone()),
        id,
        description: string("description").unwrap_or_default(),
        tags,
        source,
        text,
    })
}

/// The template's text with its `id` set to `id` and its `$schema` member removed; the rest of the
/// text is kept byte for byte.
pub fn fork(template: &str, id: &str) -> Result<String, String> {
    if !codexos_flow::model::is_valid_id(id) {
        return Err(format!(
            "`{id}` is not a valid flow id (letters, digits, `_` and `-`)"
        ));
    }
    let file = FlowFile::parse(template);
    let Some(ValueKind::Object(members)) = file.json().root.as_ref().map(|root| &root.kind) else {
        return Err("the template is not a JSON object".to_owned());
    };
    let id_value = members
        .iter()
        .find(|m| m.key.name == "id")
        .and_then(|m| m.value.as_ref())
        .ok_or("the template has no `id`")?;
    let mut edits = vec![(
        id_value.range.start as usize,
        id_value.range.end as usize,
        serde_json::to_string(id).map_err(|error| error.to_string())?,
    )];
    if let Some(index) = members.iter().position(|m| m.key.name == "$schema") {
        edits.push(member_removal(members, index));
    }
    edits.sort_by_key(|edit| std::cmp::Reverse(edit.0));
    let mut text = template.to_owned();
    for (start, end, content) in edits {
        text.replace_range(start..end, &content);
    }
    Ok(text)
}

/// The byte range that removes a member with its comma and the white space up to the next one.
fn member_removal(members: &[Member], index: usize) -> (usize, usize, String) {
    let range = members[index].range();
    match members.get(index + 1) {
        Some(next) => (
            range.start as usize,
            next.key.range.start as usize,
            String::new(),
        ),
        None => {
            let start = index
                .checked_sub(1)
                .map_or(range.start, |previous| members[previous].range().end);
            (start as usize, range.end as usize, String::new())
        }
    }
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;
    use crate::Config;

    fn workspace(root: &Path, toml: &str) -> Workspace {
        let loaded = Config::parse(toml, &root.join("codexos.toml")).expect("valid config");
        Workspace::with_config(root, loaded)
    }

    #[test]
    fn every_shipped_template_passes_the_checks_and_says_what_it_is_for() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (offered, rejected) = templates(&workspace(dir.path(), ""));
        assert_eq!(rejected, Vec::new());
        let listed: Vec<String> = offered
            .iter()
            .map(|t| format!("{} ({}) [{}]", t.name, t.title, t.tags.join(", ")))
            .collect();
        expect![[r#"
            [
                "explain-code (Explain code with workspace context) [explain, rag, local]",
                "write-tests (Write tests for a file) [tests, tool, rag]",
                "review-diff (Review a diff) [review, diff, rag]",
                "summarise-folder (Summarise a folder) [summary, onboarding, tool]",
                "triage-issue (Triage an issue) [triage, condition, rag]",
                "research (Research a question) [research, parallel, reflect]",
            ]
        "#]]
        .assert_debug_eq(&listed);
        assert!(offered.iter().all(|t| !t.description.is_empty()));
    }

    #[test]
    fn a_workspace_template_folder_adds_templates_and_a_broken_one_is_not_offered() {
        let dir = tempfile::tempdir().expect("temp dir");
        let folder = dir.path().join("my-templates");
        std::fs::create_dir(&folder).expect("mkdir");
        std::fs::write(
            folder.join("hello.flow.json"),
            r#"{"id": "hello", "description": "Says hello", "nodes": [
  {"id": "s", "type": "entry", "next": "e"}, {"id": "e", "type": "exit"}]}"#,
        )
        .expect("write");
        std::fs::write(
            folder.join("broken.flow.json"),
            r#"{"id": "broken", "nodes": [{"id": "s", "type": "entry", "next": "nowhere"}, {"id": "e", "type": "exit"}]}"#,
        )
        .expect("write");
        let ws = workspace(dir.path(), "[flows]\ntemplate_dirs = [\"my-templates\"]\n");
        let (offered, rejected) = templates(&ws);
        assert!(
            offered
                .iter()
                .any(|t| t.name == "hello" && t.description == "Says hello")
        );
        assert_eq!(rejected.len(), 1, "{rejected:?}");
        assert!(rejected[0].source.ends_with("broken.flow.json"));
        assert!(
            rejected[0].reason.starts_with("unknown-node:"),
            "{}",
            rejected[0].reason
        );
    }

    #[test]
    fn a_missing_template_folder_is_reported_by_name() {
        let dir = tempfile::tempdir().expect("temp dir");
        let ws = workspace(dir.path(), "[flows]\ntemplate_dirs = [\"nope\"]\n");
        let (offered, rejected) = templates(&ws);
        assert_eq!(offered.len(), BUILT_IN.len());
        assert!(rejected[0].source.ends_with("nope"));
        assert!(rejected[0].reason.contains("template_dirs"));
    }

    #[test]
    fn forking_renames_the_id_drops_the_schema_link_and_keeps_everything_else() {
        let template = r#"{
  "$schema": "../schema/flow.schema.json",
  "id": "review-diff",
  "x-custom":   {"keep": true},
  "nodes": [ { "id": "s", "type": "entry", "next": "e", "ui": { "x": 1, "y": 2 } }, { "id": "e", "type": "exit" } ]
}"#;
        expect![[r#"
            {
              "id": "my-review",
              "x-custom":   {"keep": true},
              "nodes": [ { "id": "s", "type": "entry", "next": "e", "ui": { "x": 1, "y": 2 } }, { "id": "e", "type": "exit" } ]
            }"#]]
        .assert_eq(&fork(template, "my-review").expect("fork"));
    }

    #[test]
    fn forking_to_an_invalid_id_says_which_characters_are_allowed() {
        let error = fork(BUILT_IN[0].1, "my review").map_err(|e| e.to_string());
        assert_eq!(
            error,
            Err("`my review` is not a valid flow id (letters, digits, `_` and `-`)".to_owned())
        );
    }
}
