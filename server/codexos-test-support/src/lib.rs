//! Test helpers (dev-only): [`LspClient`], a small stdio JSON-RPC client that starts the real
//! `codexos lsp` binary and speaks the protocol to it, as an editor does.
//!
//! Every wait has a timeout, so a server that hangs fails the test instead of hanging it;
//! failures panic with what was expected and what the server said instead (this is test code).
//! Requests the server sends to the client (`client/registerCapability`,
//! `window/workDoneProgress/create`, ...) are answered with `null` (`workspace/applyEdit` with
//! `{"applied": true}`) and kept for inspection.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod agent_workspace;
mod chroma;
mod git;
mod serve;
mod sse;

pub use agent_workspace::AgentWorkspace;
pub use chroma::ChromaServer;
pub use git::git;
pub use serve::serve_address;
pub use sse::take_sse_events;

/// How long any single wait lasts before the test fails: generous for a cold, busy 2-core CI
/// machine, short enough that a hung server is reported quickly.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// A workspace in a temporary folder with `codexos lsp` started and initialized on it: what an
/// editor that opened a folder looks like to the server.
pub struct Editor {
    pub workspace: tempfile::TempDir,
    pub client: LspClient,
    /// The server's `InitializeResult`.
    pub initialized: Value,
}

impl Editor {
    pub fn start(binary: &Path, capabilities: Value) -> Editor {
        let workspace = tempfile::tempdir().expect("temp dir");
        let mut client = LspClient::start(binary, workspace.path());
        let initialized = client.initialize(workspace.path(), capabilities);
        Editor {
            workspace,
            client,
            initialized,
        }
    }

    /// The URI of a file in the workspace.
    pub fn uri(&self, name: &str) -> String {
        file_uri(&self.workspace.path().join(name))
    }

    /// Opens `text` as `name` (version 1) and returns that version's diagnostics.
    pub fn open(&mut self, name: &str, text: &str) -> Vec<Value> {
        let uri = self.uri(name);
        self.client.open(&uri, text);
        self.client.diagnostics(&uri, 1)
    }

    /// `TextDocumentPositionParams` for `name` at `position`.
    pub fn at(&self, name: &str, position: Value) -> Value {
        json!({ "textDocument": { "uri": self.uri(name) }, "position": position })
    }

    /// A request that must succeed: its result.
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        self.client
            .request(method, params)
            .unwrap_or_else(|error| panic!("{method} failed: {error:?}"))
    }
}

/// A JSON-RPC error the server answered with.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
}

pub struct LspClient {
    child: Child,
    stdin: Option<ChildStdin>,
    incoming: Receiver<Value>,
    /// Notifications and server requests received but not yet waited for.
    pending: Vec<Value>,
    /// Every request the server sent us, in order.
    pub server_requests: Vec<Value>,
    next_id: i64,
    stderr: Arc<Mutex<String>>,
}

impl LspClient {
    /// Starts `binary lsp` in `workspace` (its current directory).
    pub fn start(binary: &Path, workspace: &Path) -> LspClient {
        LspClient::start_with(binary, workspace, |_| {})
    }

    /// Starts `binary lsp` in `workspace` after `configure` has set up the command (its
    /// environment, say).
    pub fn start_with(
        binary: &Path,
        workspace: &Path,
        configure: impl FnOnce(&mut Command),
    ) -> LspClient {
        let mut command = Command::new(binary);
        command.arg("lsp").current_dir(workspace);
        configure(&mut command);
        command.env("CODEXOS_LOG", "debug");
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {} lsp: {error}", binary.display()));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let (sender, incoming) = channel();
        thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            while let Some(message) = read_message(&mut reader) {
                if sender.send(message).is_err() {
                    break;
                }
            }
        });
        let captured = Arc::new(Mutex::new(String::new()));
        let sink = captured.clone();
        thread::spawn(move || {
            let mut reader = BufReader::new(stderr);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|read| read > 0) {
                sink.lock().expect("stderr buffer").push_str(&line);
                line.clear();
            }
        });
        LspClient {
            child,
            stdin,
            incoming,
            pending: Vec::new(),
            server_requests: Vec::new(),
            next_id: 1,
            stderr: captured,
        }
    }

    /// `initialize` with the given client capabilities and a workspace folder, then
    /// `initialized`; returns the `InitializeResult`.
    pub fn initialize(&mut self, workspace: &Path, capabilities: Value) -> Value {
        let uri = file_uri(workspace);
        let result = self
            .request(
                "initialize",
                json!({
                    "processId": std::process::id(),
                    "rootUri": uri,
                    "capabilities": capabilities,
                    "workspaceFolders": [{ "uri": uri, "name": "workspace" }],
                }),
            )
            .unwrap_or_else(|error| panic!("initialize failed: {error:?}"));
        self.notify("initialized", json!({}));
        result
    }

    pub fn open(&mut self, uri: &str, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": uri, "languageId": "json", "version": 1, "text": text } }),
        );
    }

    /// Sends `didChange` with `changes` (`{"range": ..., "text": ...}` or `{"text": ...}`).
    pub fn change(&mut self, uri: &str, version: i64, changes: Value) {
        self.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri, "version": version }, "contentChanges": changes }),
        );
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    /// Sends a request and waits for its response: the result, or the error the server sent.
    pub fn request(&mut self, method: &str, params: Value) -> Result<Value, RpcError> {
        let id = self.send_request(method, params);
        self.response(id)
    }

    /// Sends a request without waiting for its response; its id, for [`LspClient::response`].
    pub fn send_request(&mut self, method: &str, params: Value) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        id
    }

    /// Waits for the response to the request `id`: the result, or the error the server sent.
    pub fn response(&mut self, id: i64) -> Result<Value, RpcError> {
        let response = self.wait_for(&format!("the response to request {id}"), |message| {
            message.get("id") == Some(&json!(id)) && message.get("method").is_none()
        });
        match response.get("error") {
            Some(error) => Err(RpcError {
                code: error["code"].as_i64().unwrap_or_default(),
                message: error["message"].as_str().unwrap_or_default().to_owned(),
            }),
            None => Ok(response.get("result").cloned().unwrap_or(Value::Null)),
        }
    }

    /// `workspace/executeCommand` with one argument object: the result, or the error as
    /// `"<code> <message>"`.
    pub fn execute(&mut self, command: &str, argument: Value) -> Result<Value, String> {
        self.request(
            "workspace/executeCommand",
            json!({ "command": command, "arguments": [argument] }),
        )
        .map_err(|error| format!("{} {}", error.code, error.message))
    }

    /// Sends raw bytes as one framed message (for malformed-input tests).
    pub fn send_raw(&mut self, body: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        let header = format!("Content-Length: {}\r\n\r\n", body.len());
        let written = stdin
            .write_all(header.as_bytes())
            .and_then(|()| stdin.write_all(body))
            .and_then(|()| stdin.flush());
        if let Err(error) = written {
            panic!(
                "cannot write to the server: {error}; stderr:\n{}",
                self.stderr()
            );
        }
    }

    /// Writes bytes to the server's input as they are, without framing.
    pub fn send_raw_bytes(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        if let Err(error) = stdin.write_all(bytes).and_then(|()| stdin.flush()) {
            panic!(
                "cannot write to the server: {error}; stderr:\n{}",
                self.stderr()
            );
        }
    }

    fn send(&mut self, message: &Value) {
        let body = serde_json::to_vec(message).expect("a JSON value serialises");
        self.send_raw(&body);
    }

    /// Waits for a notification `method` whose params satisfy `predicate`; earlier
    /// notifications that do not match stay available to later waits.
    pub fn wait_for_notification(
        &mut self,
        method: &str,
        predicate: impl Fn(&Value) -> bool,
    ) -> Value {
        let message = self.wait_for(
            &format!("a {method} notification that matches"),
            |message| {
                message.get("id").is_none()
                    && message.get("method") == Some(&json!(method))
                    && predicate(&message["params"])
            },
        );
        message["params"].clone()
    }

    /// Takes every notification `method` received so far and not yet waited for, in order.
    pub fn take_notifications(&mut self, method: &str) -> Vec<Value> {
        while let Ok(message) = self.incoming.try_recv() {
            if message.get("method").is_some() && message.get("id").is_some() {
                self.answer_server_request(&message);
            }
            self.pending.push(message);
        }
        let (taken, kept) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|message| {
                message.get("id").is_none() && message.get("method") == Some(&json!(method))
            });
        self.pending = kept;
        taken
            .into_iter()
            .map(|message: Value| message["params"].clone())
            .collect()
    }

    /// Waits for the diagnostics of `uri` at document version `version`.
    pub fn diagnostics(&mut self, uri: &str, version: i64) -> Vec<Value> {
        let params = self.wait_for_notification("textDocument/publishDiagnostics", |params| {
            params["uri"] == json!(uri) && params["version"] == json!(version)
        });
        params["diagnostics"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Waits for any message from the server that satisfies `matches` (`what` names it in the
    /// failure message).
    pub fn wait_for(&mut self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        if let Some(index) = self.pending.iter().position(&matches) {
            return self.pending.remove(index);
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.incoming.recv_timeout(left) {
                Ok(message) => {
                    if message.get("method").is_some() && message.get("id").is_some() {
                        self.answer_server_request(&message);
                    }
                    if matches(&message) {
                        return message;
                    }
                    self.pending.push(message);
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "timed out after {TIMEOUT:?} waiting for {what}; received meanwhile:\n{}\nstderr:\n{}",
                    self.describe_pending(),
                    self.stderr()
                ),
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "the server closed its output while we waited for {what}; exit: {:?}; stderr:\n{}",
                    self.child.try_wait(),
                    self.stderr()
                ),
            }
        }
    }

    fn answer_server_request(&mut self, request: &Value) {
        self.server_requests.push(request.clone());
        let id = request["id"].clone();
        // As an editor does, `workspace/applyEdit` is accepted (tests read the edit from
        // `server_requests`; nothing is written to disk).
        let result = if request["method"] == "workspace/applyEdit" {
            json!({ "applied": true })
        } else {
            Value::Null
        };
        self.send(&json!({ "jsonrpc": "2.0", "id": id, "result": result }));
    }

    fn describe_pending(&self) -> String {
        self.pending
            .iter()
            .map(|message| {
                let text = message.to_string();
                text.chars().take(400).collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Everything the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .map(|text| text.clone())
            .unwrap_or_default()
    }

    /// The server's process id (to read its memory use in `/proc`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the server process is still running.
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// `shutdown`, `exit`, and the exit status (waiting at most [`TIMEOUT`]).
    pub fn shutdown_and_exit(mut self) -> ExitStatus {
        let answer = self.request("shutdown", Value::Null);
        assert_eq!(answer, Ok(Value::Null), "shutdown answers null");
        self.notify("exit", Value::Null);
        self.stdin = None;
        self.wait_for_exit()
    }

    /// Waits for the process to end by itself (at most [`TIMEOUT`]).
    pub fn wait_for_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return status,
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                Ok(None) => panic!("the server did not exit within {TIMEOUT:?}"),
                Err(error) => panic!("cannot wait for the server: {error}"),
            }
        }
    }

    /// Closes the server's input (as an editor that crashed would).
    pub fn close_input(&mut self) {
        self.stdin = None;
    }
}

impl Drop for LspClient {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Reads one `Content-Length`-framed message; `None` at end of output.
fn read_message(reader: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(value) = line.strip_prefix("Content-Length:") {
            length = value.trim().parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    reader.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

/// The `file://` URI of a local path.
pub fn file_uri(path: &Path) -> String {
    let mut uri = String::from("file://");
    for byte in path.to_string_lossy().bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                uri.push(byte as char)
            }
            _ => uri.push_str(&format!("%{byte:02X}")),
        }
    }
    uri
}

/// A text with a `$0` cursor marker: the text without it, and the marker's LSP position in
/// UTF-16 code units.
pub fn cursor(marked: &str) -> (String, Value) {
    let offset = marked.find("$0").expect("the fixture has a $0 cursor");
    let text = format!("{}{}", &marked[..offset], &marked[offset + 2..]);
    (text, position_utf16(marked, offset))
}

/// The LSP position (UTF-16 columns) of a byte offset.
pub fn position_utf16(text: &str, offset: usize) -> Value {
    let before = &text[..offset];
    let line = before.matches('\n').count();
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let character = before[line_start..].encode_utf16().count();
    json!({ "line": line, "character": character })
}

/// The LSP position (UTF-8 columns) of a byte offset.
pub fn position_utf8(text: &str, offset: usize) -> Value {
    let before = &text[..offset];
    let line = before.matches('\n').count();
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    json!({ "line": line, "character": offset - line_start })
}

/// Fixture workspaces shared by the end-to-end tests of the command line and the editor.
pub mod fixtures {
    /// A flow with every node type: entry, vault, tool and rag in parallel, llm, reflect,
    /// condition, a sub-flow and two exits. Needs the vault secret `api_token`, an index and a
    /// model answering `gpt-4o-mini`.
    pub const EVERY_NODE_FLOW: &str = r#"{
  "id": "every-node",
  "nodes": [
    { "id": "start", "type": "entry", "next": "key" },
    { "id": "key", "type": "vault", "key": "api_token", "as": "token", "next": ["notes", "search"] },
    { "id": "notes", "type": "tool", "tool": "read_file", "args": { "path": "notes.txt" }, "next": "draft" },
    { "id": "search", "type": "rag", "query": "{{input}}", "k": 2, "next": "draft" },
    {
      "id": "draft",
      "type": "llm",
      "model": ["gpt-4o-mini"],
      "system": "You plan releases.",
      "prompt": "Notes: {{nodes.notes.output}}\nCode: {{nodes.search.output}}\nToken: {{vars.token}}\nTask: {{input}}",
      "next": "review"
    },
    { "id": "review", "type": "reflect", "target": "draft", "max_iterations": 1, "until": "{{nodes.draft.output}} contains \"NEVER\"", "next": "ok" },
    { "id": "ok", "type": "condition", "if": "{{nodes.draft.output}} contains \"LGTM\"", "then": "summary", "else": "rejected" },
    { "id": "summary", "type": "flow", "flow": "agents/summary.flow.json", "input": "{{nodes.draft.output}}", "next": "done" },
    { "id": "done", "type": "exit", "output": "{{nodes.summary.output}}" },
    { "id": "rejected", "type": "exit", "output": "rejected" }
  ]
}"#;

    /// The sub-flow [`EVERY_NODE_FLOW`] calls.
    pub const SUMMARY_FLOW: &str = r#"{
  "id": "summary",
  "nodes": [
    { "id": "in", "type": "entry", "next": "out" },
    { "id": "out", "type": "exit", "output": "Summary: {{input}}" }
  ]
}"#;

    /// Five nodes in a line, for replays from the middle: `read` fails until `notes.txt`
    /// exists, so a first run stops there and `end` never runs. Needs a model answering
    /// `gpt-4o-mini`.
    pub const FIVE_NODE_FLOW: &str = r#"{"id": "five", "nodes": [
  {"id": "start", "type": "entry", "next": "plan"},
  {"id": "plan", "type": "llm", "model": "gpt-4o-mini", "prompt": "Plan: {{input}}", "next": "draft"},
  {"id": "draft", "type": "llm", "model": "gpt-4o-mini", "prompt": "Draft: {{nodes.plan.output}}", "next": "read"},
  {"id": "read", "type": "tool", "tool": "read_file", "args": {"path": "notes.txt"}, "next": "end"},
  {"id": "end", "type": "exit", "output": "{{nodes.draft.output}} / {{nodes.read.output}}"}
]}"#;

    /// The files [`EVERY_NODE_FLOW`] runs in: `release.flow.json`, its sub-flow, the notes
    /// its tool reads and the code its `rag` node finds.
    pub const EVERY_NODE_WORKSPACE: &[(&str, &str)] = &[
        ("release.flow.json", EVERY_NODE_FLOW),
        ("agents/summary.flow.json", SUMMARY_FLOW),
        ("notes.txt", "Ship the parser fix first."),
        (
            "src/parser.rs",
            "/// Parses release notes.\npub fn parse_release_notes(text: &str) -> Vec<String> {\n    text.lines().map(str::to_owned).collect()\n}\n",
        ),
    ];
}
