//! Run traces: one JSON-lines file per run under `<workspace>/.codexos/runs/<run_id>.jsonl`.
//!
//! The first line is the [`RunHeader`] (`"event": "run"`: the flow, the input, the context), then
//! one line per [`RunEvent`] except streamed tokens (a finished node carries its whole output),
//! each with `t_ms`, the time since the run started. Every line is redacted before it is
//! written, and written whole with one `write` call, so a killed process leaves a readable prefix.
//! That is enough to inspect a run, to retry it from the node that failed and to replay it from
//! any top-level node ([`crate::replay`]).
//!
//! Traces hold a run's input, context and outputs: each file is 0600 in a 0700 `runs/`, and a
//! `runs/` that other users can enter (made by an older CodexOS) is made private with a log line.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use codexos_vault::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::events::{RunEvent, RunStatus};
use crate::replay::ForkedFrom;

/// `<workspace>/.codexos/runs`.
pub fn runs_dir(workspace_root: &Path) -> PathBuf {
    workspace_root.join(".codexos").join("runs")
}

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error(
        "`{0}` is not a run id: run ids look like 20261126T071606Z-3f2a (see `codexos runs list`)"
    )]
    InvalidRunId(String),
    #[error("no run `{run_id}` in {}: see `codexos runs list`", .dir.display())]
    NotFound { run_id: String, dir: PathBuf },
    #[error(
        "`{prefix}` names {} runs in {}: {}; give more of the id",
        .candidates.len(),
        .dir.display(),
        .candidates.join(", ")
    )]
    Ambiguous {
        prefix: String,
        candidates: Vec<String>,
        dir: PathBuf,
    },
    #[error("cannot read {}: {detail}", .path.display())]
    Read { path: PathBuf, detail: String },
    #[error("{}:{line}: not a trace line: {detail}", .path.display())]
    Damaged {
        path: PathBuf,
        line: usize,
        detail: String,
    },
    #[error("cannot write the trace {}: {detail}", .path.display())]
    Write { path: PathBuf, detail: String },
}

/// A context file as the run saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextFile {
    pub path: String,
    pub text: String,
}

/// The first line of a trace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunHeader {
    pub run_id: String,
    pub flow_id: String,
    /// The flow file, absolute, when the flow came from a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_path: Option<PathBuf>,
    /// The flow itself, when it was given inline (a file is read again on retry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_text: Option<String>,
    pub input: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<ContextFile>,
    /// Unix seconds.
    pub started_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_of: Option<String>,
    /// The run and node this run replays (with its edits, for a fork).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forked_from: Option<ForkedFrom>,
    /// The caller's name for the agent (the seed's `agent_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
}

/// Appends redacted lines to one run's trace file.
pub struct TraceWriter {
    path: PathBuf,
    file: File,
}

impl TraceWriter {
    /// Creates `<dir>/<run_id>.jsonl` for a new run, choosing an id no other run has.
    pub fn create(dir: &Path) -> Result<(String, TraceWriter), TraceError> {
        codexos_vault::create_private_dir_all(dir).map_err(|error| TraceError::Write {
            path: dir.to_owned(),
            detail: error.to_string(),
        })?;
        make_runs_dir_private(dir);
        let mut attempt = 0u32;
        loop {
            let run_id = new_run_id(attempt);
            let path = dir.join(format!("{run_id}.jsonl"));
            let created = codexos_vault::private_file_options()
                .append(true)
                .create_new(true)
                .open(&path);
            match created {
                Ok(file) => return Ok((run_id, TraceWriter { path, file })),
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists && attempt < 64 => {
                    attempt += 1;
                }
                Err(error) => {
                    return Err(TraceError::Write {
                        path,
                        detail: error.to_string(),
                    });
                }
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes one line (already redacted by the caller).
    pub fn write_line(&mut self, line: &str) -> Result<(), TraceError> {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        self.file
            .write_all(&bytes)
            .map_err(|error| TraceError::Write {
                path: self.path.clone(),
                detail: error.to_string(),
            })
    }

    /// Flushes the trace to disk at the end of a run.
    pub fn sync(&mut self) {
        // A failed fsync loses nothing already written to the page cache; the run result
        // matters more than this.
        let _ = self.file.sync_all();
    }
}

/// Takes other users' access away from the traces folder. Only CodexOS writes there, so this
/// surprises no one; a failure (a folder owned by someone else) leaves it as it is, and each
/// trace is 0600 anyway.
fn make_runs_dir_private(dir: &Path) {
    match codexos_vault::make_private(dir) {
        Ok(Some(mode)) => tracing::info!(
            "{} was open to other users (mode {mode:o}); it is now 0700, as run traces hold each run's input and outputs",
            dir.display()
        ),
        Ok(None) => {}
        Err(error) => tracing::warn!(
            "cannot make {} private to you: {error}; each trace in it is still 0600",
            dir.display()
        ),
    }
}

/// The line of a header.
pub fn header_line(header: &RunHeader) -> String {
    let mut value = serde_json::to_value(header).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.insert("event".to_owned(), Value::from("run"));
        map.insert("t_ms".to_owned(), Value::from(0));
    }
    value.to_string()
}

/// The line of an event.
pub fn event_line(event: &RunEvent, t_ms: u64) -> String {
    let mut value = serde_json::to_value(event).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.insert("t_ms".to_owned(), Value::from(t_ms));
    }
    value.to_string()
}

/// `20261126T071606Z-3f2a`: the UTC start time, so ids sort by time, and a suffix that keeps
/// runs started in the same second apart.
fn new_run_id(attempt: u32) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let time: String = Timestamp::from_unix_seconds(now.as_secs())
        .to_string()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let mix =
        now.subsec_nanos() ^ std::process::id().rotate_left(16) ^ attempt.wrapping_mul(0x9E37);
    format!("{time}-{:04x}", (mix ^ (mix >> 16)) & 0xffff)
}

/// `2026-11-26T07:16:06Z` from Unix seconds.
pub fn format_utc(seconds: u64) -> String {
    Timestamp::from_unix_seconds(seconds).to_string()
}

/// Whether `id` can name a trace file (no separators, no dots).
pub fn is_run_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A trace read back.
#[derive(Clone, Debug)]
pub struct RecordedRun {
    pub path: PathBuf,
    pub header: RunHeader,
    pub events: Vec<RunEvent>,
}

impl RecordedRun {
    pub fn finished(&self) -> Option<&RunEvent> {
        self.events
            .iter()
            .rev()
            .find(|event| matches!(event, RunEvent::Finished { .. }))
    }

    /// The run's status; `None` when the trace stops before the end (the process was killed).
    pub fn status(&self) -> Option<RunStatus> {
        match self.finished() {
            Some(RunEvent::Finished { status, .. }) => Some(*status),
            _ => None,
        }
    }

    /// The last output of every node that finished, in finishing order (top-level nodes only).
    pub fn outputs(&self) -> Vec<(String, String)> {
        let mut outputs: Vec<(String, String)> = Vec::new();
        for event in &self.events {
            if let RunEvent::NodeFinished { node, output, .. } = event
                && !node.contains('/')
            {
                outputs.retain(|(id, _)| id != node);
                outputs.push((node.clone(), output.clone()));
            }
        }
        outputs
    }

    /// Where a retry starts: the frontier the run recorded, or, for a trace cut short, the
    /// top-level nodes that started and never finished.
    pub fn frontier(&self) -> Vec<String> {
        if let Some(RunEvent::Finished { frontier, .. }) = self.finished() {
            return frontier.clone();
        }
        let mut open: Vec<String> = Vec::new();
        for event in &self.events {
            match event {
                RunEvent::NodeStarted { node, .. }
                    if !node.contains('/') && !open.contains(node) =>
                {
                    open.push(node.clone());
                }
                RunEvent::NodeFinished { node, .. } => open.retain(|id| id != node),
                _ => {}
            }
        }
        open
    }

    /// The first node that failed, and why.
    pub fn failure(&self) -> Option<(String, String)> {
        self.events.iter().find_map(|event| match event {
            RunEvent::NodeFailed { node, error, .. } => Some((node.clone(), error.clone())),
            _ => None,
        })
    }

    pub fn elapsed_ms(&self) -> Option<u64> {
        match self.finished() {
            Some(RunEvent::Finished { elapsed_ms, .. }) => Some(*elapsed_ms),
            _ => None,
        }
    }
}

/// What names the newest run wherever a run id is asked for.
pub const LAST_RUN: &str = "last";

/// Reads the trace `reference` names in `dir`: a whole run id, `last` (the newest run), or the
/// start of exactly one run's id (`20261207T1359`, as `git` takes a commit's).
pub fn load(dir: &Path, reference: &str) -> Result<RecordedRun, TraceError> {
    let run_id = resolve(dir, reference)?;
    read(&dir.join(format!("{run_id}.jsonl")))
}

/// The run id `reference` names in `dir` (see [`load`]).
pub fn resolve(dir: &Path, reference: &str) -> Result<String, TraceError> {
    if !is_run_id(reference) {
        return Err(TraceError::InvalidRunId(reference.to_owned()));
    }
    if dir.join(format!("{reference}.jsonl")).is_file() {
        return Ok(reference.to_owned());
    }
    let not_found = || TraceError::NotFound {
        run_id: reference.to_owned(),
        dir: dir.to_owned(),
    };
    // Run ids start with their UTC start time, so the newest sorts last.
    let mut ids: Vec<String> = fs::read_dir(dir)
        .map_err(|_| not_found())?
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let id = name.strip_suffix(".jsonl")?;
            is_run_id(id).then(|| id.to_owned())
        })
        .collect();
    ids.sort_unstable();
    if reference == LAST_RUN {
        // Runs started in the same second share their time; the file made last is the newest.
        let newest_second = ids
            .last()
            .ok_or_else(not_found)?
            .split('-')
            .next()
            .unwrap_or("");
        let made = |id: &String| {
            fs::metadata(dir.join(format!("{id}.jsonl")))
                .and_then(|metadata| metadata.created().or_else(|_| metadata.modified()))
                .ok()
        };
        return ids
            .iter()
            .filter(|id| id.split('-').next() == Some(newest_second))
            .max_by_key(|id| (made(id), (*id).clone()))
            .cloned()
            .ok_or_else(not_found);
    }
    let mut candidates: Vec<String> = ids
        .into_iter()
        .rev()
        .filter(|id| id.starts_with(reference))
        .collect();
    match candidates.len() {
        0 => Err(not_found()),
        1 => Ok(candidates.remove(0)),
        _ => {
            candidates.truncate(5);
            Err(TraceError::Ambiguous {
                prefix: reference.to_owned(),
                candidates,
                dir: dir.to_owned(),
            })
        }
    }
}

/// Reads one trace file. A last line cut short (the process died mid-write) is ignored; any
/// other line that does not parse is an error naming the line.
pub fn read(path: &Path) -> Result<RecordedRun, TraceError> {
    let text = fs::read_to_string(path).map_err(|error| TraceError::Read {
        path: path.to_owned(),
        detail: error.to_string(),
    })?;
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    let damaged = |line: usize, detail: String| TraceError::Damaged {
        path: path.to_owned(),
        line,
        detail,
    };
    let Some(first) = lines.first() else {
        return Err(damaged(1, "the file is empty".to_owned()));
    };
    let header: RunHeader =
        serde_json::from_str(first).map_err(|error| damaged(1, error.to_string()))?;
    let mut events = Vec::new();
    let complete_text = text.ends_with('\n');
    for (index, line) in lines.iter().enumerate().skip(1) {
        match serde_json::from_str::<RunEvent>(line) {
            Ok(event) => events.push(event),
            Err(_) if index + 1 == lines.len() && !complete_text => {}
            Err(error) => return Err(damaged(index + 1, error.to_string())),
        }
    }
    Ok(RecordedRun {
        path: path.to_owned(),
        header,
        events,
    })
}

/// Every readable run in `dir`, newest first, and the files that could not be read.
pub fn list(dir: &Path) -> (Vec<RecordedRun>, Vec<TraceError>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return (Vec::new(), Vec::new());
    };
    let mut runs = Vec::new();
    let mut errors = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|ext| ext == "jsonl") {
            match read(&path) {
                Ok(run) => runs.push(run),
                Err(error) => errors.push(error),
            }
        }
    }
    runs.sort_by(|a, b| {
        (b.header.started_at, &b.header.run_id).cmp(&(a.header.started_at, &a.header.run_id))
    });
    (runs, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_named_by_its_id_by_last_or_by_the_start_of_one_id() {
        let dir = tempfile::tempdir().expect("temp dir");
        for id in [
            "20261207T135956Z-3b04",
            "20261207T140102Z-aa01",
            "20261207T140102Z-ab02",
        ] {
            fs::write(dir.path().join(format!("{id}.jsonl")), "").expect("trace");
        }
        let named = |reference: &str| match resolve(dir.path(), reference) {
            Ok(id) => id,
            Err(error) => error
                .to_string()
                .replace(&dir.path().display().to_string(), "<runs>"),
        };
        assert_eq!(named("20261207T135956Z-3b04"), "20261207T135956Z-3b04");
        assert_eq!(named("last"), "20261207T140102Z-ab02");
        assert_eq!(named("20261207T1359"), "20261207T135956Z-3b04");
        assert_eq!(named("20261207T140102Z-aa"), "20261207T140102Z-aa01");
        assert_eq!(
            named("20261207T1401"),
            "`20261207T1401` names 2 runs in <runs>: 20261207T140102Z-ab02, \
             20261207T140102Z-aa01; give more of the id"
        );
        assert_eq!(
            named("2025"),
            "no run `2025` in <runs>: see `codexos runs list`"
        );
        assert_eq!(
            named("../x"),
            "`../x` is not a run id: run ids look like 20261126T071606Z-3f2a (see `codexos runs list`)"
        );
    }

    #[test]
    fn last_in_a_folder_without_runs_is_not_found() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = dir.path().join("runs");
        assert!(matches!(
            resolve(&missing, "last"),
            Err(TraceError::NotFound { .. })
        ));
    }

    #[test]
    fn run_ids_are_safe_file_names() {
        assert!(is_run_id(&new_run_id(0)));
        assert!(!is_run_id("../etc/passwd"));
        assert!(!is_run_id("a.b"));
        assert!(!is_run_id(""));
    }

    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn a_trace_is_private_to_its_owner_in_private_folders() {
        let root = tempfile::tempdir().expect("temp dir");
        let (_, writer) = TraceWriter::create(&runs_dir(root.path())).expect("create");
        let modes = [
            root.path().join(".codexos"),
            runs_dir(root.path()),
            writer.path().to_owned(),
        ]
        .map(|path| mode(&path));
        assert_eq!(modes, [0o700, 0o700, 0o600]);
    }

    #[test]
    fn a_runs_folder_open_to_others_is_made_private_and_its_parent_left_alone() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().expect("temp dir");
        let codexos = root.path().join(".codexos");
        let runs = runs_dir(root.path());
        fs::create_dir_all(&runs).expect("mkdir");
        for dir in [&codexos, &runs] {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let (_, writer) = TraceWriter::create(&runs).expect("create");
        assert_eq!(
            [mode(&codexos), mode(&runs), mode(writer.path())],
            [0o755, 0o700, 0o600]
        );
    }

    #[test]
    fn a_trace_cut_mid_line_reads_up_to_the_cut() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("r.jsonl");
        let header = RunHeader {
            run_id: "r".into(),
            flow_id: "f".into(),
            flow_path: None,
            flow_text: None,
            input: "hi".into(),
            context: Vec::new(),
            started_at: 1,
            retry_of: None,
            forked_from: None,
            agent_id: None,
        };
        let started = RunEvent::NodeStarted {
            node: "a".into(),
            node_type: "tool".into(),
            iteration: 0,
        };
        let text = format!(
            "{}\n{}\n{{\"event\":\"node_fin",
            header_line(&header),
            event_line(&started, 3)
        );
        fs::write(&path, text).expect("write");
        let run = read(&path).expect("readable");
        assert_eq!(run.events, vec![started]);
        assert_eq!(run.status(), None);
        assert_eq!(run.frontier(), vec!["a".to_owned()]);
    }

    #[test]
    fn a_damaged_line_in_the_middle_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("r.jsonl");
        fs::write(
            &path,
            "{\"run_id\":\"r\",\"flow_id\":\"f\",\"input\":\"\",\"started_at\":1}\nnot json\n{}\n",
        )
        .expect("write");
        let error = read(&path).map(|_| ()).expect_err("damaged");
        assert!(
            error
                .to_string()
                .ends_with("r.jsonl:2: not a trace line: expected ident at line 1 column 2"),
            "{error}"
        );
    }
}
