//! Inline agent actions on a selection of any source file — "Explain", "Refactor…", "Write
//! tests", "Fix this diagnostic" — as pure steps around a flow run:
//!
//! 1. [`ActionRequest::input`] frames the selection for the action's flow (its `{{input}}`):
//!    the file, its language, the lines, the instruction or the diagnostic, and the code in a
//!    fence; the whole file is the run's `{{context}}` ([`ActionRequest::context`]).
//! 2. The flow runs (see [`crate::builtin`] for which flow).
//! 3. [`ActionRequest::changes`] turns the flow's output into file changes: the first fenced
//!    code block of the answer replaces the selection (refactor, fix) or is added where the
//!    language keeps its tests ([`tests_file`]). An answer without a usable block is an
//!    [`ActionError`] and changes nothing.
//!
//! Changes are plain data ([`FileChange`]); the language server shows them as a
//! `WorkspaceEdit` the user previews and can undo, so nothing here touches the disk.

pub mod answer;
pub mod language;
pub mod tests_file;

use std::ops::Range;
use std::path::{Path, PathBuf};

use codexos_agent::{ContextFile, RunRequest};
pub use codexos_tools::{FileWrite, WriteSink};

pub use answer::AnswerError;
pub use language::{Language, language_of};

use crate::builtin::BuiltinFlowError;
use crate::workspace::Workspace;

/// The instruction "Refactor…" follows when the user gave none.
pub const DEFAULT_REFACTOR_INSTRUCTION: &str =
    "Make it simpler and easier to read, without changing what it does.";

/// The largest selection an action takes: past it, the prompt would not fit a model's context.
pub const MAX_SELECTION_BYTES: usize = 64 * 1024;

/// An inline action; each runs the built-in flow of the same name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Explain,
    Refactor,
    Tests,
    Fix,
}

impl Action {
    pub const ALL: [Action; 4] = [
        Action::Explain,
        Action::Refactor,
        Action::Tests,
        Action::Fix,
    ];

    /// `explain`, `refactor`, `tests`, `fix`: the flow's and the command's last word.
    pub fn name(self) -> &'static str {
        match self {
            Action::Explain => "explain",
            Action::Refactor => "refactor",
            Action::Tests => "tests",
            Action::Fix => "fix",
        }
    }

    /// What the editor shows.
    pub fn title(self) -> &'static str {
        match self {
            Action::Explain => "Explain",
            Action::Refactor => "Refactor…",
            Action::Tests => "Write tests",
            Action::Fix => "Fix this diagnostic",
        }
    }

    /// `codexos.action.<name>`.
    pub fn command(self) -> String {
        format!("codexos.action.{}", self.name())
    }

    pub fn from_command(command: &str) -> Option<Action> {
        let name = command.strip_prefix("codexos.action.")?;
        Action::ALL.into_iter().find(|action| action.name() == name)
    }

    /// Whether the action's answer becomes an edit.
    pub fn edits(self) -> bool {
        !matches!(self, Action::Explain)
    }
}

/// The text of files as the user sees them: an editor's unsaved buffer, else the disk.
pub trait FileTexts {
    /// `None` when there is no such file.
    fn text(&self, path: &Path) -> Option<String>;

    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }
}

/// Files as they are on disk.
#[derive(Clone, Copy, Debug, Default)]
pub struct DiskTexts;

impl FileTexts for DiskTexts {
    fn text(&self, path: &Path) -> Option<String> {
        std::fs::read_to_string(path).ok()
    }
}

/// One change to one file, for the user to review.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileChange {
    /// Replaces the bytes `range` of the file's text (as [`FileTexts`] gave it) with `new_text`.
    Edit {
        path: PathBuf,
        range: Range<usize>,
        new_text: String,
    },
    /// A new file.
    Create { path: PathBuf, text: String },
}

impl FileChange {
    pub fn path(&self) -> &Path {
        match self {
            FileChange::Edit { path, .. } | FileChange::Create { path, .. } => path,
        }
    }
}

/// A request that cannot run, or an answer that cannot be applied. Nothing was changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    #[error("{}: the selection {}..{} is not inside the file ({} bytes)", path.display(), range.start, range.end, len)]
    SelectionOutside {
        path: PathBuf,
        range: Range<usize>,
        len: usize,
    },
    #[error("{}: there is no code to {action} at the selection", path.display())]
    EmptySelection { path: PathBuf, action: &'static str },
    #[error("\"Fix this diagnostic\" needs the diagnostic to fix")]
    NoDiagnostic,
    #[error("{}: the selection is {len} bytes, more than a model can take at once ({max}); select less", path.display())]
    SelectionTooLarge {
        path: PathBuf,
        len: usize,
        max: usize,
    },
    #[error("{action} on {}: {source}", path.display())]
    Answer {
        action: &'static str,
        path: PathBuf,
        source: AnswerError,
    },
}

/// An action on a selection of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionRequest {
    pub action: Action,
    /// The file (absolute).
    pub path: PathBuf,
    /// Its text as the user sees it (unsaved changes included).
    pub text: String,
    /// Byte range of the selection in `text`. An empty one stands for its whole line; "Fix"
    /// always takes whole lines.
    pub selection: Range<usize>,
    /// What "Refactor…" should do ([`DEFAULT_REFACTOR_INSTRUCTION`] when `None`).
    pub instruction: Option<String>,
    /// The diagnostic "Fix this diagnostic" fixes.
    pub diagnostic: Option<String>,
}

impl ActionRequest {
    /// Checks the request and widens an empty selection to its line.
    pub fn new(
        action: Action,
        path: PathBuf,
        text: String,
        selection: Range<usize>,
        instruction: Option<String>,
        diagnostic: Option<String>,
    ) -> Result<ActionRequest, ActionError> {
        let inside = selection.start <= selection.end
            && selection.end <= text.len()
            && text.is_char_boundary(selection.start)
            && text.is_char_boundary(selection.end);
        if !inside {
            return Err(ActionError::SelectionOutside {
                path,
                range: selection,
                len: text.len(),
            });
        }
        let selection = if action == Action::Fix {
            // The model sees whole statements, not the token a diagnostic points at.
            whole_lines(&text, selection)
        } else if selection.is_empty() {
            whole_lines(&text, selection.start..selection.start)
        } else {
            selection
        };
        if selection.len() > MAX_SELECTION_BYTES {
            return Err(ActionError::SelectionTooLarge {
                path,
                len: selection.len(),
                max: MAX_SELECTION_BYTES,
            });
        }
        if text[selection.clone()].trim().is_empty() {
            return Err(ActionError::EmptySelection {
                path,
                action: action.name(),
            });
        }
        let diagnostic = diagnostic.filter(|message| !message.trim().is_empty());
        if action == Action::Fix && diagnostic.is_none() {
            return Err(ActionError::NoDiagnostic);
        }
        Ok(ActionRequest {
            action,
            path,
            text,
            selection,
            instruction: instruction.filter(|text| !text.trim().is_empty()),
            diagnostic,
        })
    }

    pub fn language(&self) -> Option<Language> {
        language_of(&self.path)
    }

    pub fn selected(&self) -> &str {
        &self.text[self.selection.clone()]
    }

    /// The flow's `{{input}}`: short and framed, so even a small local model knows what it has.
    ///
    /// ```text
    /// File: src/lib.rs (rust), lines 3-5
    /// Instruction: Make it simpler and easier to read, without changing what it does.
    /// ```rust
    /// fn add(a: i32, b: i32) -> i32 { return a + b; }
    /// ```
    /// ```
    pub fn input(&self, root: &Path) -> String {
        let first = line_number(&self.text, self.selection.start);
        let last = line_number(
            &self.text,
            self.selection
                .end
                .saturating_sub(1)
                .max(self.selection.start),
        );
        let lines = if first == last {
            format!("line {first}")
        } else {
            format!("lines {first}-{last}")
        };
        let language = self.language();
        let mut input = format!("File: {}", self.relative(root).display());
        if let Some(language) = language {
            input.push_str(&format!(" ({})", language.name));
        }
        input.push_str(&format!(", {lines}\n"));
        match self.action {
            Action::Explain => {}
            Action::Refactor => {
                let instruction = self
                    .instruction
                    .as_deref()
                    .unwrap_or(DEFAULT_REFACTOR_INSTRUCTION);
                input.push_str(&format!("Instruction: {}\n", one_line(instruction)));
            }
            Action::Tests => {
                if let Some(instruction) = &self.instruction {
                    input.push_str(&format!("Instruction: {}\n", one_line(instruction)));
                }
                input.push_str(&format!("Tests: {}\n", tests_file::hint(language)));
            }
            Action::Fix => {
                let diagnostic = self.diagnostic.as_deref().unwrap_or_default();
                input.push_str(&format!("Problem: {}\n", one_line(diagnostic)));
                if let Some(instruction) = &self.instruction {
                    input.push_str(&format!("Instruction: {}\n", one_line(instruction)));
                }
            }
        }
        let selected = self.selected();
        let fence = fence_for(selected);
        input.push_str(&format!(
            "{fence}{}\n{}{}{fence}",
            language.map_or("", |language| language.name),
            selected,
            if selected.ends_with('\n') { "" } else { "\n" },
        ));
        input
    }

    /// The flow's `{{context}}`: the whole file, named by its workspace-relative path.
    pub fn context(&self, root: &Path) -> (String, String) {
        (self.relative(root).display().to_string(), self.text.clone())
    }

    fn relative<'a>(&'a self, root: &Path) -> &'a Path {
        self.path.strip_prefix(root).unwrap_or(&self.path)
    }

    /// The changes the flow's `answer` asks for: none for "Explain"; for the others, from the
    /// answer's code block. `files` gives other files' text (an existing test file).
    pub fn changes(
        &self,
        root: &Path,
        answer: &str,
        files: &dyn FileTexts,
    ) -> Result<Vec<FileChange>, ActionError> {
        if !self.action.edits() {
            return Ok(Vec::new());
        }
        let language = self.language();
        let refused = |source| ActionError::Answer {
            action: self.action.name(),
            path: self.path.clone(),
            source,
        };
        let blocks = answer::code_blocks(answer, language).map_err(refused)?;
        Ok(match self.action {
            Action::Explain => Vec::new(),
            Action::Refactor | Action::Fix => {
                let new_text = fit_replacement(&self.text, self.selection.clone(), &blocks[0]);
                if new_text == self.selected() {
                    Vec::new()
                } else {
                    vec![FileChange::Edit {
                        path: self.path.clone(),
                        range: self.selection.clone(),
                        new_text,
                    }]
                }
            }
            Action::Tests => {
                // Models often repeat the code before the tests: take the first block of tests.
                let code = blocks
                    .iter()
                    .find(|code| tests_file::holds_tests(language, code))
                    .ok_or_else(|| {
                        refused(AnswerError::NoTests {
                            marker: tests_file::test_marker(language),
                        })
                    })?;
                vec![tests_file::change(
                    root, &self.path, &self.text, language, code, files,
                )]
            }
        })
    }
}

impl Workspace {
    /// The run of `request`'s flow: the workspace's `flows/builtin/<action>.flow.json` or the
    /// shipped one, with the framed selection as `{{input}}` and the file as `{{context}}`.
    pub fn action_run_request(
        &self,
        request: &ActionRequest,
        open_text: &dyn Fn(&Path) -> Option<String>,
    ) -> Result<RunRequest, BuiltinFlowError> {
        let flow = self.builtin_flow(request.action.name(), open_text)?;
        let (path, text) = request.context(self.root());
        Ok(RunRequest {
            flow_text: flow.text,
            flow_path: flow.path,
            input: request.input(self.root()),
            context: vec![ContextFile { path, text }],
            agent_id: Some(request.action.name().to_owned()),
        })
    }
}

/// `write_file` calls, as changes for the user to review: the last write to a path wins, an
/// existing file's whole text is replaced, a missing file is created.
pub fn changes_from_writes(writes: &[FileWrite], files: &dyn FileTexts) -> Vec<FileChange> {
    let mut changes: Vec<FileChange> = Vec::new();
    for write in writes {
        changes.retain(|change| change.path() != write.path);
        changes.push(match files.text(&write.path) {
            Some(current) => FileChange::Edit {
                path: write.path.clone(),
                range: 0..current.len(),
                new_text: write.contents.clone(),
            },
            None => FileChange::Create {
                path: write.path.clone(),
                text: write.contents.clone(),
            },
        });
    }
    changes
}

/// The model's `code` shaped to stand where `selection` was: re-indented to the selection's
/// line (models often answer flush left), ending with a line break exactly when the selection
/// did.
fn fit_replacement(text: &str, selection: Range<usize>, code: &str) -> String {
    let indentation = |line: &str| line.len() - line.trim_start_matches([' ', '\t']).len();
    let line_start = text[..selection.start].rfind('\n').map_or(0, |i| i + 1);
    let rest = &text[line_start..];
    let base = &rest[..indentation(rest)];
    let common = code
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(indentation)
        .min()
        .unwrap_or(0);
    let mut fitted = String::new();
    for (index, line) in code.lines().enumerate() {
        if index > 0 {
            fitted.push('\n');
        }
        if line.trim().is_empty() {
            continue;
        }
        let own = &line[common.min(indentation(line))..];
        if index == 0 && selection.start > line_start {
            // The selection starts after its line's indentation (or mid-line): the first line
            // continues there.
            fitted.push_str(own.trim_start());
        } else {
            fitted.push_str(base);
            fitted.push_str(own);
        }
    }
    if text[selection].ends_with('\n') {
        fitted.push('\n');
    }
    fitted
}

/// `range` widened to the start of its first line and past the line break of its last line.
fn whole_lines(text: &str, range: Range<usize>) -> Range<usize> {
    let start = text[..range.start].rfind('\n').map_or(0, |i| i + 1);
    let last = if range.end > range.start && text[..range.end].ends_with('\n') {
        range.end - 1
    } else {
        range.end
    };
    let end = text[last..].find('\n').map_or(text.len(), |i| last + i + 1);
    start..end
}

/// One-based line number of a byte offset.
fn line_number(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A backtick fence longer than any run of backticks in `code`.
fn fence_for(code: &str) -> String {
    let longest = code.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

#[cfg(test)]
mod tests;
