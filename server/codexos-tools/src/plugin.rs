//! Plug-in tools: every `*.tool.json` in the workspace's `tools/` folder describes a command.
//!
//! ```json
//! {
//!   "description": "Count the words of a file",
//!   "command": ["python3", "./word_count.py", "{{path}}"],
//!   "stdin": "json",
//!   "input_schema": { "type": "object", "properties": { "path": { "type": "string" } }, "required": ["path"] },
//!   "timeout_secs": 10
//! }
//! ```
//!
//! The tool's name is the file name without `.tool.json`. `command` is an argv (no shell):
//! `{{field}}` in an element is replaced by that argument (strings as they are, other values as
//! JSON, absent optional fields as nothing); an element starting with `./` or `../` names a file
//! next to the tool file (a script shipped with it), and is not templated. With `"stdin": "json"`
//! (the default) the arguments object is also written to the command's stdin; `"none"` gives it
//! no input. The command runs in the workspace root, in its own process group, killed at
//! `timeout_secs` (default: `[tools] timeout_secs`). Its stdout is the tool's text (and its data,
//! when stdout is JSON); a non-zero exit is an error quoting stderr.
//!
//! A plug-in runs a command, so the policy pins it: [`crate::Tool::action`] names it with a hash
//! of the tool file as loaded and of every file its command names (a script beside it, `./x.py`,
//! or a workspace file such as `scripts/x.sh`), and the gate runs it only while that hash is the
//! one the user approved.
//!
//! A broken file is reported ([`ToolProblem`], naming the file and the field) and skipped; the
//! others still load.
//!
//! Hot reload: every [`crate::ToolRegistry::list`] and `call` compares the folder's `*.tool.json`
//! names, sizes and modification times with the last look and reloads when they differ. That is
//! one `readdir` and a `stat` per file (microseconds for a folder of tool files), needs no watcher
//! thread, inotify budget or event debouncing, and is exact: the next call after a save sees it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use codexos_policy::{Action, Capabilities, Capability};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::builtin::{CommandSpec, command_result, run_command};
use crate::context::ToolContext;
use crate::error::ToolError;
use crate::mcp::shell_word;
use crate::registry::{AsyncTool, Registered, ToolInfo, ToolOutput, ToolProblem, ToolSource};
use crate::schema::ArgumentSchema;

/// The suffix that marks a plug-in tool file.
pub const TOOL_FILE_SUFFIX: &str = ".tool.json";

/// The shape of a tool file, checked before anything else so errors name the field.
fn tool_file_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "$schema": { "type": "string" },
            "description": { "type": "string", "minLength": 1 },
            "command": { "type": "array", "items": { "type": "string" }, "minItems": 1 },
            "stdin": { "enum": ["json", "none"] },
            "input_schema": { "type": ["object", "boolean"] },
            "timeout_secs": { "type": "number", "exclusiveMinimum": 0 }
        },
        "required": ["description", "command", "input_schema"],
        "additionalProperties": false
    })
}

#[derive(Deserialize)]
struct ToolFile {
    description: String,
    command: Vec<String>,
    #[serde(default)]
    stdin: Option<String>,
    input_schema: Value,
    timeout_secs: Option<f64>,
}

/// A command described by a tool file.
struct PluginTool {
    info: ToolInfo,
    file: PathBuf,
    folder: PathBuf,
    command: Vec<String>,
    json_on_stdin: bool,
    timeout: Option<Duration>,
    /// blake3 of the tool file's bytes this tool was loaded from.
    file_hash: blake3::Hash,
}

impl PluginTool {
    /// The command line for `args`.
    fn argv(&self, args: &Value) -> Vec<String> {
        self.command
            .iter()
            .map(|part| {
                if part.starts_with("./") || part.starts_with("../") {
                    self.folder.join(part).display().to_string()
                } else {
                    fill(part, args)
                }
            })
            .collect()
    }

    /// The tool file as loaded, then every file its command names (by `./`, `../` or a
    /// workspace-relative path), each with its name, so editing any of them changes the hash.
    fn hash(&self, workspace_root: &Path) -> String {
        let mut hasher = blake3::Hasher::new();
        hasher.update(self.file_hash.as_bytes());
        for part in self.command.iter().filter(|part| !part.contains("{{")) {
            let named = if part.starts_with("./") || part.starts_with("../") {
                self.folder.join(part)
            } else {
                workspace_root.join(part)
            };
            if let Ok(bytes) = std::fs::read(&named) {
                hasher.update(part.as_bytes());
                hasher.update(&(bytes.len() as u64).to_le_bytes());
                hasher.update(&bytes);
            }
        }
        format!("blake3:{}", hasher.finalize().to_hex())
    }
}

impl AsyncTool for PluginTool {
    fn info(&self) -> &ToolInfo {
        &self.info
    }

    fn action(&self, args: &Value, ctx: &ToolContext) -> Result<Action, ToolError> {
        let file = self
            .file
            .strip_prefix(&ctx.workspace_root)
            .unwrap_or(&self.file)
            .display()
            .to_string();
        // Shown as the user reads the folder: scripts by their workspace path (`tools/x.py`).
        let command = self
            .argv(args)
            .iter()
            .zip(&self.command)
            .map(|(word, part)| {
                if part.starts_with("./") || part.starts_with("../") {
                    let script = normalized(&self.folder.join(part));
                    let shown = script.strip_prefix(&ctx.workspace_root).unwrap_or(&script);
                    shell_word(&shown.display().to_string())
                } else {
                    shell_word(word)
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        Ok(Action::Plugin {
            name: self.info.name.clone(),
            file,
            command,
            hash: self.hash(&ctx.workspace_root),
        })
    }

    async fn run(&self, args: Value, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let name = &self.info.name;
        let argv = self.argv(&args);
        let stdin = self
            .json_on_stdin
            .then(|| serde_json::to_vec(&args).unwrap_or_default());
        let output = run_command(CommandSpec {
            tool: name,
            argv: &argv,
            cwd: &ctx.workspace_root,
            stdin,
            timeout: self.timeout.unwrap_or(ctx.config.timeout),
            max_output_bytes: ctx.config.max_output_bytes,
            cancellation: &ctx.cancellation,
        })
        .await?;
        let mut result = command_result(name, output)?;
        result.data = serde_json::from_str(&result.text).ok();
        Ok(result)
    }
}

/// `path` with `.` and `..` resolved by name.
fn normalized(path: &Path) -> PathBuf {
    let mut normal = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                normal.pop();
            }
            other => normal.push(other),
        }
    }
    normal
}

/// `part` with each `{{field}}` replaced by that argument.
fn fill(part: &str, args: &Value) -> String {
    let mut filled = String::new();
    let mut rest = part;
    while let Some((before, after)) = rest.split_once("{{") {
        filled.push_str(before);
        let Some((field, after)) = after.split_once("}}") else {
            filled.push_str("{{");
            rest = after;
            continue;
        };
        match args.get(field.trim()) {
            Some(Value::String(text)) => filled.push_str(text),
            Some(Value::Null) | None => {}
            Some(other) => filled.push_str(&other.to_string()),
        }
        rest = after;
    }
    filled.push_str(rest);
    filled
}

/// The `{{field}}` names used in `part`.
fn placeholders(part: &str) -> impl Iterator<Item = &str> {
    part.split("{{")
        .skip(1)
        .filter_map(|after| after.split_once("}}").map(|(field, _)| field.trim()))
}

/// Loads one tool file; the error names the file's field.
fn load(path: &Path, name: &str) -> Result<Registered, ToolProblem> {
    let bytes = std::fs::read(path).map_err(|error| ToolProblem {
        origin: path.display().to_string(),
        field: String::new(),
        message: error.to_string(),
    })?;
    parse(path, name, bytes)
}

/// Whether `text` is a tool file the registry would load as the tool `name` from `path`,
/// before it is written there (`codexos serve`'s `PUT /v1/tools`); the problem names the field.
pub fn check_tool_file(path: &Path, name: &str, text: &str) -> Result<(), ToolProblem> {
    parse(path, name, text.as_bytes().to_vec()).map(drop)
}

/// The tool a tool file's `bytes` describe, as if read from `path`.
fn parse(path: &Path, name: &str, bytes: Vec<u8>) -> Result<Registered, ToolProblem> {
    let problem = |field: &str, message: String| ToolProblem {
        origin: path.display().to_string(),
        field: field.to_owned(),
        message,
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(problem(
            "",
            format!(
                "`{name}` is not a tool name: use letters, digits, `_` and `-` in the file name"
            ),
        ));
    }
    let file_hash = blake3::hash(&bytes);
    let text = String::from_utf8(bytes)
        .map_err(|error| problem("", format!("not UTF-8 text: {error}")))?;
    let value: Value =
        serde_json::from_str(&text).map_err(|error| problem("", format!("not JSON: {error}")))?;
    if let Err(ToolError::InvalidArguments { errors, .. }) =
        ArgumentSchema::compile(&tool_file_schema())
            .map_err(|error| ToolError::failed(name, error))
            .and_then(|schema| schema.check(name, &value))
    {
        let first = &errors[0];
        return Err(problem(
            first.field.trim_start_matches('/'),
            errors
                .iter()
                .map(|error| error.message.clone())
                .collect::<Vec<_>>()
                .join("; "),
        ));
    }
    let file: ToolFile =
        serde_json::from_value(value).map_err(|error| problem("", error.to_string()))?;
    let properties = file
        .input_schema
        .get("properties")
        .and_then(Value::as_object);
    for (index, part) in file.command.iter().enumerate() {
        for field in placeholders(part) {
            if !properties.is_some_and(|properties| properties.contains_key(field)) {
                return Err(problem(
                    &format!("command/{index}"),
                    format!("`{{{{{field}}}}}` names no property of input_schema"),
                ));
            }
        }
    }
    let tool = PluginTool {
        info: ToolInfo {
            name: name.to_owned(),
            description: file.description,
            input_schema: file.input_schema,
            source: ToolSource::Plugin {
                path: path.to_owned(),
            },
            // A command can do anything its program does.
            capabilities: Capabilities::of(&Capability::ALL),
        },
        file: path.to_owned(),
        file_hash,
        folder: path.parent().map(Path::to_owned).unwrap_or_default(),
        command: file.command,
        json_on_stdin: file.stdin.as_deref() != Some("none"),
        timeout: file
            .timeout_secs
            .and_then(|secs| Duration::try_from_secs_f64(secs).ok()),
    };
    Registered::new(Arc::new(tool))
        .map_err(|error| problem("input_schema", format!("not a valid JSON Schema: {error}")))
}

/// What a look at the folder found, and when each file was last changed.
#[derive(Default)]
struct Loaded {
    fingerprint: Vec<(PathBuf, Option<SystemTime>, u64)>,
    tools: Vec<Arc<Registered>>,
    problems: Vec<ToolProblem>,
}

/// The `tools/` folder, reloaded whenever its tool files change.
pub(crate) struct PluginFolder {
    dir: PathBuf,
    loaded: Mutex<Loaded>,
}

impl PluginFolder {
    pub(crate) fn new(dir: PathBuf) -> PluginFolder {
        PluginFolder {
            dir,
            loaded: Mutex::new(Loaded::default()),
        }
    }

    /// The current tools and problems, after reloading if any tool file changed. `taken` says
    /// whether a name already belongs to a tool of another source.
    pub(crate) fn current(
        &self,
        taken: &dyn Fn(&str) -> bool,
    ) -> (Vec<Arc<Registered>>, Vec<ToolProblem>) {
        let fingerprint = self.fingerprint();
        let mut loaded = self
            .loaded
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if loaded.fingerprint != fingerprint {
            let mut tools = Vec::new();
            let mut problems = Vec::new();
            for (path, _, _) in &fingerprint {
                let file_name = path
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let name = file_name
                    .strip_suffix(TOOL_FILE_SUFFIX)
                    .unwrap_or(&file_name);
                if taken(name) {
                    problems.push(ToolProblem {
                        origin: path.display().to_string(),
                        field: String::new(),
                        message: format!("a tool named `{name}` already exists; rename the file"),
                    });
                    continue;
                }
                match load(path, name) {
                    Ok(registered) => tools.push(Arc::new(registered)),
                    Err(problem) => problems.push(problem),
                }
            }
            *loaded = Loaded {
                fingerprint,
                tools,
                problems,
            };
        }
        (loaded.tools.clone(), loaded.problems.clone())
    }

    /// Every tool file with its modification time and size, sorted by path.
    fn fingerprint(&self) -> Vec<(PathBuf, Option<SystemTime>, u64)> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut files: Vec<_> = entries
            .flatten()
            .filter(|entry| {
                entry
                    .file_name()
                    .to_string_lossy()
                    .ends_with(TOOL_FILE_SUFFIX)
            })
            .map(|entry| {
                let metadata = std::fs::metadata(entry.path()).ok();
                (
                    entry.path(),
                    metadata
                        .as_ref()
                        .and_then(|metadata| metadata.modified().ok()),
                    metadata.map_or(0, |metadata| metadata.len()),
                )
            })
            .collect();
        files.sort();
        files
    }
}
