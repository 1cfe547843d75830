//! `codexos init [PATH]`: makes a folder a CodexOS workspace. Writes a commented `codexos.toml`
//! (the languages found, folders worth excluding from the index, the provider chain that ends on
//! the local model), `flows/explain-code.flow.json` when the workspace has no flow yet, and
//! `.codexos/` in `.gitignore`. Idempotent: what exists is kept and said so, never overwritten;
//! every file is written whole (temporary file, fsync, rename).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use codexos_service::{CONFIG_FILE, Workspace};
use codexos_tools::{AtomicWriteSink, WriteSink};

#[derive(clap::Args)]
pub struct Args {
    /// The workspace's folder (default: the repository the current folder is in, else the
    /// current folder).
    path: Option<PathBuf>,
}

/// Files looked at to name the workspace's languages: enough to see what a tree is made of.
const FILES_SAMPLED: usize = 20_000;

/// Folders that usually hold generated or downloaded files: excluded when present and not
/// already ignored by `.gitignore`.
const GENERATED_FOLDERS: &[&str] = &[
    "node_modules",
    "target",
    "dist",
    "build",
    "vendor",
    ".venv",
    "venv",
    "__pycache__",
    "coverage",
];

/// The example flow: explains code from what the index finds around it, on any model.
const EXAMPLE_TEMPLATE: &str = "explain-code";

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the current folder")?;
    let root = match args.path {
        Some(path) => {
            // Without `.` components, so the paths it prints read cleanly.
            let path: PathBuf = cwd.join(path).components().collect();
            std::fs::create_dir_all(&path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            path
        }
        None => super::discover_workspace(&cwd)?.root().to_owned(),
    };
    for line in init(&root)? {
        println!("{line}");
    }
    let workspace = super::discover_workspace(&root)?;
    println!(
        "{} is a CodexOS workspace: `codexos index` indexes it, `codexos check` checks its flows",
        workspace.root().display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Does what is missing in `root`; one line per step saying what was done or kept.
fn init(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut report = Vec::new();
    let config = root.join(CONFIG_FILE);
    if config.exists() {
        report.push(format!("kept     {} (it exists)", config.display()));
    } else {
        let text = config_text(&languages(root), &excludable_folders(root));
        super::flow::write_new(&config, &text)?;
        report.push(format!("created  {}", config.display()));
    }

    let flows = root.join("flows");
    match first_flow(&flows) {
        Some(flow) => report.push(format!("kept     {} (a flow exists)", flow.display())),
        None => {
            let workspace = Workspace::load(root)?;
            let (templates, _) = codexos_service::templates::templates(&workspace);
            let template = templates
                .iter()
                .find(|template| template.name == EXAMPLE_TEMPLATE)
                .context("the example template is not offered")?;
            let target = flows.join(format!("{EXAMPLE_TEMPLATE}.flow.json"));
            let text = codexos_service::templates::fork(&template.text, EXAMPLE_TEMPLATE)
                .map_err(|reason| anyhow::anyhow!(reason))?;
            super::flow::write_new(&target, &text)?;
            report.push(format!("created  {}", target.display()));
        }
    }

    let gitignore = root.join(".gitignore");
    let existing = match std::fs::read_to_string(&gitignore) {
        Ok(text) => Some(text),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => {
            return Err(error).with_context(|| format!("cannot read {}", gitignore.display()));
        }
    };
    if existing.as_deref().is_some_and(ignores_codexos_folder) {
        report.push(format!(
            "kept     {} (it ignores .codexos/)",
            gitignore.display()
        ));
    } else {
        let mut text = existing.clone().unwrap_or_default();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str("# CodexOS: the index, run traces and logs of this machine\n.codexos/\n");
        AtomicWriteSink
            .write(&gitignore, &text)
            .with_context(|| format!("cannot write {}", gitignore.display()))?;
        let verb = if existing.is_some() {
            "updated "
        } else {
            "created "
        };
        report.push(format!("{verb} {} (.codexos/ added)", gitignore.display()));
    }
    Ok(report)
}

/// Whether a `.gitignore` already keeps `.codexos/` out (at the root or at any depth).
fn ignores_codexos_folder(text: &str) -> bool {
    text.lines().map(str::trim).any(|line| {
        matches!(
            line,
            ".codexos" | ".codexos/" | "/.codexos" | "/.codexos/" | "**/.codexos" | "**/.codexos/"
        )
    })
}

fn first_flow(flows: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = ignore::WalkBuilder::new(flows)
        .build()
        .flatten()
        .map(|entry| entry.into_path())
        .filter(|path| codexos_service::is_flow_path(path))
        .collect();
    found.sort();
    found.into_iter().next()
}

/// The languages of the files `.gitignore` leaves in, most files first.
fn languages(root: &Path) -> Vec<(&'static str, usize)> {
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    let files = ignore::WalkBuilder::new(root)
        .build()
        .flatten()
        .filter(|entry| entry.file_type().is_some_and(|kind| kind.is_file()))
        .take(FILES_SAMPLED);
    for entry in files {
        if let Some(language) = language_of(entry.path()) {
            *counts.entry(language).or_default() += 1;
        }
    }
    let mut languages: Vec<(&'static str, usize)> = counts.into_iter().collect();
    languages.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    languages
}

fn language_of(path: &Path) -> Option<&'static str> {
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match extension.as_str() {
        "rs" => "Rust",
        "py" | "pyi" => "Python",
        "ts" | "tsx" | "mts" | "cts" => "TypeScript",
        "js" | "jsx" | "mjs" | "cjs" => "JavaScript",
        "go" => "Go",
        "java" => "Java",
        "c" | "h" => "C",
        "cc" | "cpp" | "cxx" | "hpp" | "hh" | "hxx" => "C++",
        "cs" => "C#",
        "rb" => "Ruby",
        "php" => "PHP",
        "lua" => "Lua",
        "md" | "markdown" => "Markdown",
        _ => return None,
    })
}

/// The generated-looking folders at the root that `.gitignore` does not already leave out.
fn excludable_folders(root: &Path) -> Vec<&'static str> {
    let walked: Vec<PathBuf> = ignore::WalkBuilder::new(root)
        .max_depth(Some(1))
        .hidden(false)
        .build()
        .flatten()
        .map(|entry| entry.into_path())
        .collect();
    GENERATED_FOLDERS
        .iter()
        .copied()
        .filter(|folder| walked.contains(&root.join(folder)) && root.join(folder).is_dir())
        .collect()
}

fn config_text(languages: &[(&str, usize)], exclude: &[&str]) -> String {
    let found = if languages.is_empty() {
        "none yet".to_owned()
    } else {
        languages
            .iter()
            .map(|(language, files)| format!("{language} ({files})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let exclude: Vec<String> = exclude
        .iter()
        .map(|folder| format!("\"{folder}/**\""))
        .collect();
    format!(
        r#"# CodexOS settings for this workspace, written by `codexos init`: edit freely.
# Every key, its default and an example: docs/configuration.md in the CodexOS repository.

[index]
# Files by language found here: {found}.
# Indexed: every file .gitignore leaves in, each language cut along its syntax.
# Never indexed, on top of .gitignore (gitignore-style globs from this folder):
exclude = [{exclude}]
# Files larger than this are skipped (bytes):
# max_file_bytes = 1048576

[llm]
# The chain an llm node falls back through after its own models. The local model (no key, no
# network) always ends it, so flows run offline from the first day.
# fallbacks = ["openai/gpt-4o-mini", "ollama/llama3.2"]
# A provider: keys are named, never written here (`codexos vault put OPENAI_API_KEY`).
# [llm.providers.openai]
# api_key = "vault:OPENAI_API_KEY"
# [llm.providers.ollama]
# default_model = "llama3.2"

[flows]
# Flows `codexos check` skips:
# exclude = ["flows/drafts/**"]

[tools]
# The shell and python tools are off unless turned on here; each command still asks you.
# allow_shell = false
"#,
        exclude = exclude.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gitignore_line_for_the_codexos_folder_is_recognised_in_its_usual_spellings() {
        for text in [".codexos/\n", "target\n/.codexos\n", "  **/.codexos/  \n"] {
            assert!(ignores_codexos_folder(text), "{text:?}");
        }
        for text in ["", ".codexos-old/\n", "# .codexos/\n"] {
            assert!(!ignores_codexos_folder(text), "{text:?}");
        }
    }
}
