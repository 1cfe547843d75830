//! Flows on the real in-process local model (SmolLM2-135M, installed by scripts/fetch-models),
//! through the real binary with no key and no network: the README's main job (index a workspace,
//! answer a question with `rag` + `llm`, stream it, name the model, list the sources) and each of
//! the six shipped templates forked and run to the end.
//!
//! The model is found like the local model's own tests find it: `CODEXOS_MODELS_DIR` (scripts/test
//! points it at `.tools/models`), else `~/.local/share/codexos/models`. Without it these tests
//! say so and pass outside CI; in CI (`CI` set) they fail.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// A tiny project: a parser, its test, a vault module and notes, enough for `rag` to find
/// something relevant to every question below.
const FILES: &[(&str, &str)] = &[
    (
        "src/parse.rs",
        r#"/// Splits a `key=value` line into its two halves; `None` when there is no `=`.
pub fn parse_pair(line: &str) -> Option<(&str, &str)> {
    let (key, value) = line.split_once('=')?;
    Some((key.trim(), value.trim()))
}

/// Reads every `key=value` line of a config file, skipping blank lines and `#` comments.
pub fn parse_config(text: &str) -> Vec<(&str, &str)> {
    text.lines()
        .filter(|line| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
        .filter_map(parse_pair)
        .collect()
}
"#,
    ),
    (
        "src/vault.rs",
        r#"/// Secrets are kept encrypted on disk and replaced by `[redacted]` in every log line.
pub struct Vault {
    secrets: Vec<(String, String)>,
}

impl Vault {
    /// Hides every known secret value in `line` before it is logged.
    pub fn redact(&self, line: &str) -> String {
        let mut line = line.to_owned();
        for (_, value) in &self.secrets {
            line = line.replace(value.as_str(), "[redacted]");
        }
        line
    }
}
"#,
    ),
    (
        "tests/parse.rs",
        r#"#[test]
fn a_pair_is_split_at_the_first_equals_sign() {
    assert_eq!(demo::parse_pair("a = b=c"), Some(("a", "b=c")));
}
"#,
    ),
    (
        "NOTES.md",
        "# Demo\n\nThe parser reads `key=value` config files. The vault redacts secrets from logs.\n\
         Conventions: functions have doc comments; tests are named as sentences.\n",
    ),
];

/// The models folder, or `None` (after saying why) when the local model is not installed and
/// this is not CI.
fn models_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("CODEXOS_MODELS_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share/codexos/models"))
        })?;
    if dir.join(MODEL_FILE).is_file() {
        return Some(dir);
    }
    let in_ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    assert!(
        !in_ci,
        "{} is missing: CI must run scripts/fetch-models",
        dir.join(MODEL_FILE).display()
    );
    eprintln!(
        "skipped outside CI: no {} (run scripts/fetch-models)",
        dir.join(MODEL_FILE).display()
    );
    None
}

struct Workspace {
    dir: tempfile::TempDir,
    models: PathBuf,
}

impl Workspace {
    /// The demo project, indexed.
    fn indexed(models: PathBuf) -> Workspace {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("codexos.toml"), "").expect("codexos.toml");
        for (path, text) in FILES {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
            std::fs::write(path, text).expect("write");
        }
        let workspace = Workspace { dir, models };
        let indexed = workspace.codexos(&["index", "."]);
        assert!(
            indexed.status.success(),
            "codexos index: {}",
            text(&indexed)
        );
        workspace
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The binary in the workspace with no key, no provider address and a home of its own: only
    /// the local model (from the models folder) can answer.
    fn codexos(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_codexos"))
            .args(args)
            .current_dir(self.root())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.root().join(".home"))
            .env("CODEXOS_MODELS_DIR", &self.models)
            .output()
            .expect("codexos runs")
    }

    /// Forks `template` to `flows/NAME.flow.json` with every model call capped at `max_tokens` and
    /// every `reflect` loop at one round: the small model never tells a critic "DONE", so the
    /// research template's loop would otherwise always run its three rounds, each re-reading a
    /// longer prompt.
    fn fork(&self, template: &str, max_tokens: u64) -> String {
        let path = format!("flows/{template}.flow.json");
        let forked = self.codexos(&["flow", "new", "--template", template, &path]);
        assert!(forked.status.success(), "flow new: {}", text(&forked));
        let file = self.root().join(&path);
        let mut flow: Value =
            serde_json::from_str(&std::fs::read_to_string(&file).expect("forked")).expect("json");
        for node in flow["nodes"].as_array_mut().expect("nodes") {
            if matches!(node["type"].as_str(), Some("llm" | "reflect")) {
                node["max_tokens"] = max_tokens.into();
            }
            if node["type"] == "reflect" {
                node["max_iterations"] = 1.into();
            }
        }
        std::fs::write(&file, serde_json::to_string_pretty(&flow).expect("json")).expect("write");
        path
    }
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// What the progress printer streamed for `node`: the indented lines between its start (and the
/// warnings and statuses printed as it starts) and its finish line.
fn streamed(stderr: &str, node: &str) -> String {
    stderr
        .lines()
        .skip_while(|line| !line.starts_with(&format!("▶ {node} ")))
        .skip(1)
        .take_while(|line| !line.starts_with(&format!("✓ {node} ")))
        .filter(|line| !line.starts_with("warning: ") && !line.starts_with("  … "))
        .map(|line| line.strip_prefix("  ").unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_readme_example_answers_from_the_index_on_the_local_model_streaming_and_citing_sources() {
    let Some(models) = models_dir() else { return };
    let workspace = Workspace::indexed(models);
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../flows/examples/repo-question.flow.json");
    let flow = std::fs::read_to_string(example).expect("the example flow");
    std::fs::create_dir_all(workspace.root().join("flows")).expect("flows/");
    std::fs::write(workspace.root().join("flows/repo-question.flow.json"), flow).expect("write");

    let output = workspace.codexos(&[
        "run",
        "flows/repo-question.flow.json",
        "--input",
        "How does the vault keep secrets out of logs?",
    ]);
    let report = text(&output);
    assert!(output.status.success(), "{report}");
    let answer = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!answer.is_empty(), "an answer on stdout: {report}");
    assert_eq!(
        streamed(&stderr, "answer").trim(),
        answer,
        "the answer streamed on stderr as it was written: {report}"
    );
    let substituted = stderr
        .find("warning: answer: local/default answered in place of `gpt-4o-mini`: openai/gpt-4o-mini skipped: no API key (set OPENAI_API_KEY)\n")
        .unwrap_or_else(|| panic!("the run log names the model that answered and why: {report}"));
    let loading = stderr
        .find("  … loading the local model (SmolLM2-135M-Instruct.Q4_1.gguf) and reading the prompt…\n")
        .unwrap_or_else(|| panic!("the run log says the local model is loading: {report}"));
    let first_word = stderr
        .find(&format!(
            "\n  {}",
            answer.chars().take(8).collect::<String>()
        ))
        .unwrap_or_else(|| panic!("the answer streamed: {report}"));
    assert!(
        substituted < loading && loading < first_word,
        "the missing key and the loading are said before the first word: {report}"
    );
    let sources: Vec<&str> = stderr
        .lines()
        .skip_while(|line| *line != "sources:")
        .skip(1)
        .collect();
    assert!(
        sources.iter().any(|line| line.contains("src/vault.rs:")),
        "the sources list the vault module it was given: {report}"
    );
}

/// Forks `template`, runs it on `input` with short answers and checks it ends well.
fn a_forked_template_runs_to_the_end(template: &str, input: &str) {
    let Some(models) = models_dir() else { return };
    let workspace = Workspace::indexed(models);
    let flow = workspace.fork(template, 24);
    // `--input=`: a diff starts with `---`, which would read as an option.
    let output = workspace.codexos(&["run", &flow, &format!("--input={input}"), "--json"]);
    let report = text(&output);
    assert!(output.status.success(), "{template}: {report}");
    let result: Value = serde_json::from_slice(&output.stdout).expect("the result as JSON");
    assert_eq!(result["status"], "succeeded", "{template}: {report}");
    assert!(
        result["output"]
            .as_str()
            .is_some_and(|out| !out.trim().is_empty()),
        "{template} has an output: {report}"
    );
    let models: Vec<&str> = result["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|node| node["model"].as_str())
        .collect();
    assert!(
        !models.is_empty() && models.iter().all(|model| *model == "local/default"),
        "{template}'s model calls were answered by the local model: {models:?}"
    );
}

#[test]
fn the_explain_code_template_runs_on_the_local_model() {
    a_forked_template_runs_to_the_end("explain-code", FILES[0].1);
}

#[test]
fn the_write_tests_template_runs_on_the_local_model() {
    a_forked_template_runs_to_the_end("write-tests", "src/parse.rs");
}

#[test]
fn the_review_diff_template_runs_on_the_local_model() {
    a_forked_template_runs_to_the_end(
        "review-diff",
        "--- a/src/parse.rs\n+++ b/src/parse.rs\n@@ -1,3 +1,3 @@\n-    let (key, value) = line.split_once('=')?;\n+    let (key, value) = line.split_once(':')?;\n",
    );
}

#[test]
fn the_summarise_folder_template_runs_on_the_local_model() {
    a_forked_template_runs_to_the_end("summarise-folder", "src");
}

#[test]
fn the_triage_issue_template_runs_on_the_local_model() {
    a_forked_template_runs_to_the_end(
        "triage-issue",
        "parse_config panics on a line with only `=`",
    );
}

#[test]
fn the_research_template_runs_on_the_local_model() {
    a_forked_template_runs_to_the_end("research", "How are config files parsed?");
}
