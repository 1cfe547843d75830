//! `codexos serve` through the real binary on a loopback port, against the fake LLM provider:
//! every route with every role, runs streamed over SSE and WebSocket to their end, cancel
//! mid-stream, retry, search, checks, the vault (names only back), the audit log, bad tokens
//! and malformed bodies, and the loopback-only default.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use codexos_llm::WireFormat;
use codexos_llm::testing::{FakeProvider, FakeResponse, ScriptedReply};
use codexos_test_support::take_sse_events;
use futures_util::StreamExt;
use serde_json::{Value, json};

const ROLES: [&str; 4] = ["viewer", "executor", "creator", "admin"];

const ANSWER: &str = r#"{"id": "answer", "nodes": [
  {"id": "start", "type": "entry", "next": "think"},
  {"id": "think", "type": "llm", "model": "gpt-4o-mini", "prompt": "{{input}}", "next": "end"},
  {"id": "end", "type": "exit", "output": "{{nodes.think.output}}"}
]}"#;

const BROKEN: &str = r#"{"id": "broken", "nodes": [
  {"id": "start", "type": "entry", "next": "nowhere"}
]}"#;

struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Workspace {
        let dir = tempfile::tempdir().expect("temp dir");
        for (path, text) in [
            ("codexos.toml", ""),
            ("answer.flow.json", ANSWER),
            ("broken.flow.json", BROKEN),
            ("src/tides.rs", "pub fn high_tide_level() -> u32 { 7 }\n"),
        ] {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
            std::fs::write(path, text).expect("write");
        }
        Workspace { dir }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, path: &str, text: &str) {
        std::fs::write(self.root().join(path), text).expect("write");
    }

    /// The binary in the workspace with a clean environment: a home of its own (tokens, trust
    /// store), the vault keyed by a test key, models at `llm_url`.
    fn command(&self, args: &[&str], llm_url: Option<&str>) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_codexos"));
        command
            .args(args)
            .current_dir(self.root())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.root().join(".home"))
            .env("VAULT_MASTER_KEY", "e2e-test-master-key-0123456789")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(url) = llm_url {
            command.env("OPENAI_BASE_URL", format!("{url}/v1"));
        }
        command
    }

    fn codexos(&self, args: &[&str]) -> Output {
        self.command(args, None).output().expect("codexos runs")
    }

    /// A token of `role` named after it.
    fn token(&self, role: &str) -> String {
        let output = self.codexos(&["serve", "token", "create", "--role", role, "--name", role]);
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout)
            .expect("utf-8")
            .trim()
            .to_owned()
    }

    fn serve(&self, llm_url: &str) -> Server {
        let mut child = self
            .command(&["serve", "--bind", "127.0.0.1:0"], Some(llm_url))
            .spawn()
            .expect("codexos serve starts");
        let addr = codexos_test_support::serve_address(&mut child);
        // reqwest wants a TLS provider even for plain HTTP.
        let _already_installed = rustls::crypto::ring::default_provider().install_default();
        Server {
            child,
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
        }
    }

    fn audit_lines(&self) -> Vec<Value> {
        std::fs::read_to_string(self.root().join(".codexos/serve-audit.jsonl"))
            .expect("the audit log")
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON line"))
            .collect()
    }
}

struct Server {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    async fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_owned());
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let text = response.text().await.expect("a body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Starts a run; its id.
    async fn start_run(&self, token: &str, body: Value) -> String {
        let (status, started) = self.post("/v1/runs", token, body).await;
        assert_eq!(status, 202, "{started}");
        started["run_id"].as_str().expect("a run id").to_owned()
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.request("POST", path, Some(token), Some(&body.to_string()))
            .await
    }

    async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.request("GET", path, Some(token), None).await
    }

    /// Every event of the run over SSE, until the stream ends; `on_event` sees each as it
    /// comes.
    async fn sse(
        &self,
        run_id: &str,
        token: &str,
        mut on_event: impl AsyncFnMut(&Value),
    ) -> Vec<Value> {
        let response = self
            .http
            .get(format!("{}/v1/runs/{run_id}/events", self.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("the stream opens");
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(
            response.headers()["content-type"].to_str().ok(),
            Some("text/event-stream")
        );
        let mut body = response.bytes_stream();
        let mut buffer = String::new();
        let mut events = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while let Ok(Some(chunk)) = tokio::time::timeout_at(deadline, body.next()).await {
            buffer.push_str(&String::from_utf8_lossy(&chunk.expect("a chunk")));
            for event in take_sse_events(&mut buffer) {
                on_event(&event).await;
                events.push(event);
            }
        }
        events
    }

    /// Every event of the run over a WebSocket; the token in the header, or offered as a
    /// subprotocol as a browser must.
    async fn websocket(&self, run_id: &str, token: &str, as_browser: bool) -> Vec<Value> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let url = format!(
            "{}/v1/runs/{run_id}/ws",
            self.base.replacen("http", "ws", 1)
        );
        let mut request = url.into_client_request().expect("a request");
        let (header, value) = match as_browser {
            true => (
                "sec-websocket-protocol",
                format!("codexos.v1, codexos.bearer.{token}"),
            ),
            false => ("authorization", format!("Bearer {token}")),
        };
        request
            .headers_mut()
            .insert(header, value.parse().expect("header"));
        let (mut socket, response) = tokio_tungstenite::connect_async(request)
            .await
            .expect("the WebSocket opens");
        if as_browser {
            let chosen = response.headers().get("sec-websocket-protocol");
            assert_eq!(
                chosen.and_then(|value| value.to_str().ok()),
                Some("codexos.v1")
            );
        }
        let mut events = Vec::new();
        while let Ok(Some(message)) =
            tokio::time::timeout(Duration::from_secs(60), socket.next()).await
        {
            match message.expect("a message") {
                tokio_tungstenite::tungstenite::Message::Text(text) => {
                    events.push(serde_json::from_str(&text).expect("a JSON event"));
                }
                tokio_tungstenite::tungstenite::Message::Close(_) => break,
                _ => {}
            }
        }
        let _ = socket.close(None).await;
        events
    }
}

fn kinds(events: &[Value]) -> Vec<&str> {
    let mut kinds: Vec<&str> = events
        .iter()
        .map(|event| event["kind"].as_str().unwrap_or("?"))
        .collect();
    kinds.dedup();
    kinds
}

async fn replying(chunks: &[&str]) -> FakeProvider {
    FakeProvider::replying(ScriptedReply::text(chunks).usage(5, 3))
        .await
        .expect("fake provider")
}

/// A model whose first `stalled` answers stream their first words, then nothing, ever; the
/// ones after answer "Thinking very hard".
async fn stalling(stalled: usize) -> FakeProvider {
    let calls = std::sync::atomic::AtomicUsize::new(0);
    FakeProvider::start(move |request| {
        let model = request.model().unwrap_or_default();
        let reply = ScriptedReply::text(&["Thinking ", "very ", "hard"]);
        let response = FakeResponse::reply(WireFormat::OpenAiChat, &reply, &model);
        match calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < stalled {
            true => response.stall_after(2),
            false => response,
        }
    })
    .await
    .expect("fake provider")
}

/// (method, path, least role) of every route, as docs/serve.md lists them.
const ROUTES: &[(&str, &str, &str)] = &[
    ("GET", "/v1/openapi.json", "viewer"),
    ("GET", "/v1/runs", "viewer"),
    ("POST", "/v1/runs", "executor"),
    ("GET", "/v1/runs/nosuchrun", "viewer"),
    ("GET", "/v1/runs/nosuchrun/events", "viewer"),
    ("GET", "/v1/runs/nosuchrun/ws", "viewer"),
    ("POST", "/v1/runs/nosuchrun/cancel", "executor"),
    ("POST", "/v1/runs/nosuchrun/retry", "executor"),
    ("POST", "/v1/rag/query", "viewer"),
    ("POST", "/v1/flows/check", "creator"),
    ("PUT", "/v1/flows", "creator"),
    ("PUT", "/v1/tools", "creator"),
    ("POST", "/v1/vault/put", "admin"),
    ("GET", "/v1/tokens", "admin"),
    ("POST", "/v1/tokens", "admin"),
    ("DELETE", "/v1/tokens/nobody", "admin"),
    ("GET", "/v1/trust", "admin"),
    ("POST", "/v1/trust", "admin"),
];

#[tokio::test(flavor = "multi_thread")]
async fn every_route_allows_the_roles_that_may_call_it_and_refuses_the_others() {
    let workspace = Workspace::new();
    let tokens: Vec<(&str, String)> = ROLES
        .iter()
        .map(|role| (*role, workspace.token(role)))
        .collect();
    let fake = replying(&["unused"]).await;
    let server = workspace.serve(&fake.url());
    let rank = |role: &str| ROLES.iter().position(|r| *r == role).expect("a role");
    let mut table = Vec::new();
    for (method, path, least) in ROUTES {
        // An empty object: allowed requests are refused for their body or their unknown run,
        // so nothing happens either way.
        let body = (*method == "POST").then_some("{}");
        for (role, token) in &tokens {
            let (status, answer) = server.request(method, path, Some(token), body).await;
            let allowed = rank(role) >= rank(least);
            match allowed {
                true => assert!(
                    ![401, 403].contains(&status),
                    "{role} {method} {path}: {status} {answer}"
                ),
                false => {
                    assert_eq!(status, 403, "{role} {method} {path}: {answer}");
                    let message = answer["error"].as_str().unwrap_or_default();
                    assert!(message.contains(&format!("needs {least}")), "{message}");
                }
            }
            table.push(format!("{role} {method} {path} {status}"));
        }
        for token in [None, Some("cxs_0000"), Some("")] {
            let (status, answer) = server.request(method, path, token, body).await;
            assert_eq!(status, 401, "{token:?} {method} {path}: {answer}");
        }
    }
    // Who asked what and how it ended, one line per request, refused ones too.
    let audit = workspace.audit_lines();
    assert_eq!(audit.len(), ROUTES.len() * (ROLES.len() + 3), "{audit:?}");
    let refused = audit
        .iter()
        .find(|line| line["who"] == "viewer" && line["route"] == "/v1/vault/put")
        .expect("the viewer's vault put is audited");
    assert_eq!(refused["status"], 403);
    assert_eq!(refused["method"], "POST");
    assert!(
        refused["at_ms"]
            .as_u64()
            .is_some_and(|at| at > 1_700_000_000_000)
    );
    let anonymous = audit
        .iter()
        .find(|line| line["who"].is_null())
        .expect("requests without a token are audited");
    assert_eq!(anonymous["status"], 401);
    let named = audit
        .iter()
        .find(|line| line["route"] == "/v1/runs/{id}/cancel" && line["who"] == "admin")
        .expect("a cancel by the admin");
    assert_eq!(named["run_id"], "nosuchrun");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_streams_over_sse_and_over_websocket_to_its_end() {
    let workspace = Workspace::new();
    let executor = workspace.token("executor");
    let viewer = workspace.token("viewer");
    let fake = replying(&["High tide ", "is at ", "seven."]).await;
    let server = workspace.serve(&fake.url());

    let body = json!({ "flow": "answer.flow.json", "input": "when?", "agent_id": "bot" });
    let (status, started) = server.post("/v1/runs", &executor, body).await;
    assert_eq!(status, 202, "{started}");
    let run_id = started["run_id"].as_str().expect("a run id").to_owned();
    assert_eq!(started["events"], format!("/v1/runs/{run_id}/events"));
    assert_eq!(started["ws"], format!("/v1/runs/{run_id}/ws"));

    let events = server.sse(&run_id, &viewer, async |_| {}).await;
    assert_eq!(
        kinds(&events),
        [
            "started",
            "node_started",
            "node_finished",
            "node_started",
            "token",
            "node_finished",
            "node_started",
            "node_finished",
            "finished"
        ],
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .all(|event| event["run_id"] == run_id.as_str())
    );
    let streamed: String = events
        .iter()
        .filter(|event| event["kind"] == "token")
        .filter_map(|event| event["text"].as_str())
        .collect();
    assert_eq!(streamed, "High tide is at seven.");
    let finished = events.last().expect("an end");
    assert_eq!(finished["status"], "succeeded");
    assert_eq!(finished["text"], "High tide is at seven.");

    // A client that reconnects gets what follows the last event it saw.
    let resumed = server
        .http
        .get(format!("{}/v1/runs/{run_id}/events", server.base))
        .bearer_auth(&viewer)
        .header("last-event-id", (events.len() - 2).to_string())
        .send()
        .await
        .expect("the stream opens")
        .text()
        .await
        .expect("the stream ends");
    let last = format!("id: {}\n", events.len() - 1);
    assert!(resumed.contains(&last), "{resumed}");
    assert_eq!(resumed.matches("data: ").count(), 1, "{resumed}");

    // The same run over a WebSocket, from its first event, after it ended.
    assert_eq!(server.websocket(&run_id, &viewer, false).await, events);
    assert_eq!(server.websocket(&run_id, &viewer, true).await, events);

    // A second run followed live over a WebSocket.
    let second_id = server
        .start_run(
            &executor,
            json!({ "flow": "answer.flow.json", "input": "again" }),
        )
        .await;
    let live = server.websocket(&second_id, &viewer, false).await;
    assert_eq!(kinds(&live).first(), Some(&"started"));
    assert_eq!(live.last().expect("an end")["status"], "succeeded");

    let (status, list) = server.get("/v1/runs", &viewer).await;
    assert_eq!(status, 200, "{list}");
    let runs = list["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 2, "{list}");
    let first = runs
        .iter()
        .find(|run| run["run_id"] == run_id.as_str())
        .expect("the first run is listed");
    assert_eq!(first["status"], "succeeded");
    assert_eq!(first["agent_id"], "bot");
    let (status, shown) = server.get(&format!("/v1/runs/{run_id}"), &viewer).await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["run"]["status"], "succeeded");
    assert_eq!(shown["header"]["input"], "when?");

    let audit = workspace.audit_lines();
    let start = audit
        .iter()
        .find(|line| line["route"] == "/v1/runs" && line["method"] == "POST")
        .expect("the start is audited");
    assert_eq!(start["who"], "executor");
    assert_eq!(start["role"], "executor");
    assert_eq!(start["status"], 202);
    assert_eq!(start["run_id"], run_id.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_cancelled_mid_stream_ends_cancelled_and_retries_from_where_it_stopped() {
    let workspace = Workspace::new();
    let executor = workspace.token("executor");
    let fake = stalling(1).await;
    let server = workspace.serve(&fake.url());

    let run_id = server
        .start_run(
            &executor,
            json!({ "flow": "answer.flow.json", "input": "ponder" }),
        )
        .await;
    let mut cancelled = None;
    let events = server
        .sse(&run_id, &executor, async |event| {
            if event["kind"] == "token" && cancelled.is_none() {
                cancelled = Some(
                    server
                        .post(&format!("/v1/runs/{run_id}/cancel"), &executor, json!({}))
                        .await,
                );
            }
        })
        .await;
    let (status, answer) = cancelled.expect("a token came before the cancel");
    assert_eq!(status, 202, "{answer}");
    let finished = events.last().expect("an end");
    assert_eq!(finished["kind"], "finished", "{events:?}");
    assert_eq!(finished["status"], "cancelled");
    let (status, again) = server
        .post(&format!("/v1/runs/{run_id}/cancel"), &executor, json!({}))
        .await;
    assert_eq!(status, 409, "{again}");

    let (status, retried) = server
        .post(&format!("/v1/runs/{run_id}/retry"), &executor, json!({}))
        .await;
    assert_eq!(status, 202, "{retried}");
    let retry_id = retried["run_id"].as_str().expect("a run id");
    assert_ne!(retry_id, run_id);
    let events = server.sse(retry_id, &executor, async |_| {}).await;
    let finished = events.last().expect("an end");
    assert_eq!(finished["status"], "succeeded", "{events:?}");
    assert_eq!(finished["text"], "Thinking very hard");
    let (_, shown) = server.get(&format!("/v1/runs/{retry_id}"), &executor).await;
    assert_eq!(shown["run"]["retry_of"], run_id.as_str(), "{shown}");
}

#[tokio::test(flavor = "multi_thread")]
async fn stopping_the_server_cancels_its_runs_ends_their_streams_and_records_where_they_stopped() {
    let workspace = Workspace::new();
    let executor = workspace.token("executor");
    let fake = stalling(usize::MAX).await;
    let mut server = workspace.serve(&fake.url());
    let run_id = server
        .start_run(
            &executor,
            json!({ "flow": "answer.flow.json", "input": "ponder" }),
        )
        .await;
    let pid = server.child.id().to_string();
    let mut stopped = false;
    let events = server
        .sse(&run_id, &executor, async |event| {
            if event["kind"] == "token" && !stopped {
                stopped = true;
                let status = Command::new("kill")
                    .args(["-TERM", &pid])
                    .status()
                    .expect("kill");
                assert!(status.success());
            }
        })
        .await;
    assert!(stopped, "{events:?}");
    assert_eq!(
        events.last().expect("an end")["status"],
        "cancelled",
        "{events:?}"
    );
    let exit = server.child.wait().expect("the server stops");
    assert!(exit.success(), "{exit:?}");
    let trace = std::fs::read_to_string(
        workspace
            .root()
            .join(format!(".codexos/runs/{run_id}.jsonl")),
    )
    .expect("the run's trace");
    let last = trace.lines().last().unwrap_or_default();
    assert!(last.contains(r#""status":"cancelled""#), "{last}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_bodies_are_refused_naming_what_is_wrong_and_change_nothing() {
    let workspace = Workspace::new();
    let admin = workspace.token("admin");
    let fake = replying(&["unused"]).await;
    let server = workspace.serve(&fake.url());
    let cases: &[(&str, &str, u16, &str)] = &[
        ("/v1/runs", "{\"flow\": ", 400, "malformed JSON body"),
        ("/v1/runs", "[1, 2]", 400, "invalid body"),
        (
            "/v1/runs",
            "{\"flow\": \"answer.flow.json\", \"bogus\": 1}",
            400,
            "unknown field `bogus`",
        ),
        (
            "/v1/runs",
            "{\"input\": \"x\"}",
            400,
            "missing field `flow`",
        ),
        (
            "/v1/runs",
            "{\"flow\": 7}",
            400,
            "invalid type: integer `7`",
        ),
        (
            "/v1/runs",
            "{\"flow\": \"../outside.flow.json\"}",
            422,
            "outside.flow.json",
        ),
        (
            "/v1/runs",
            "{\"flow\": \"broken.flow.json\"}",
            422,
            "has errors, so nothing ran",
        ),
        (
            "/v1/vault/put",
            "{\"key\": \"api\", \"value\": \"s3cr3t-value\", \"extra\": true}",
            400,
            "unknown field `extra`",
        ),
        ("/v1/vault/put", "", 400, "needs a JSON body"),
        (
            "/v1/rag/query",
            "{\"query\": \"tide\", \"k\": \"many\"}",
            400,
            "invalid type: string \"many\"",
        ),
        (
            "/v1/flows/check",
            "{\"paths\": \"x\"}",
            400,
            "unknown field `paths`",
        ),
    ];
    for (path, body, status, says) in cases {
        let (got, answer) = server.request("POST", path, Some(&admin), Some(body)).await;
        let message = answer["error"].as_str().unwrap_or_default();
        assert_eq!(got, *status, "{path} {body}: {answer}");
        assert!(message.contains(says), "{path} {body}: {message}");
        assert!(!message.contains("s3cr3t"), "{message}");
    }
    // Over the body limit (2 MB): refused from its Content-Length, before it is read (sent by
    // hand, since the server answers and closes while a client would still be sending it).
    let refused = {
        use std::io::{Read, Write};
        let address = server.base.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(address).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("a timeout");
        write!(
            stream,
            "POST /v1/runs HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {admin}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            3 << 20
        )
        .expect("send the headers");
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
    };
    assert!(refused.starts_with("HTTP/1.1 413"), "{refused}");
    assert!(refused.contains("over the limit of 2 MB"), "{refused}");
    // Nothing ran and nothing was stored.
    assert!(
        !workspace.root().join(".codexos/runs").exists()
            || std::fs::read_dir(workspace.root().join(".codexos/runs"))
                .expect("dir")
                .next()
                .is_none()
    );
    let (status, list) = server.get("/v1/runs", &admin).await;
    assert_eq!((status, list["runs"].clone()), (200, json!([])));
    let keys = workspace.codexos(&["vault", "list"]);
    assert!(
        !String::from_utf8_lossy(&keys.stdout).contains("api"),
        "{keys:?}"
    );
    // A path no route has.
    let (status, answer) = server.get("/v1/nothing", &admin).await;
    assert_eq!(status, 404, "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn search_checks_and_the_vault_answer_as_in_the_editor_and_the_vault_gives_back_names_only() {
    let workspace = Workspace::new();
    let admin = workspace.token("admin");
    let fake = replying(&["unused"]).await;
    let server = workspace.serve(&fake.url());

    let (status, answer) = server
        .post(
            "/v1/rag/query",
            &admin,
            json!({ "query": "high tide level", "project_id": "p1" }),
        )
        .await;
    assert_eq!(status, 503, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|error| error.contains("codexos index")),
        "{answer}"
    );
    let indexed = workspace.codexos(&["index"]);
    assert!(indexed.status.success(), "{indexed:?}");
    let (status, answer) = server
        .post(
            "/v1/rag/query",
            &admin,
            json!({ "query": "high tide level", "project_id": "p1", "k": 3 }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["project_id"], "p1");
    assert_eq!(answer["results"][0]["path"], "src/tides.rs", "{answer}");
    assert_eq!(answer["results"][0]["start_line"], 1);

    let (status, checked) = server
        .post(
            "/v1/flows/check",
            &admin,
            json!({ "path": "broken.flow.json" }),
        )
        .await;
    assert_eq!(status, 200, "{checked}");
    assert!(
        checked["errors"].as_u64().is_some_and(|errors| errors > 0),
        "{checked}"
    );
    assert_eq!(checked["findings"][0]["severity"], "error");
    let (status, draft) = server
        .post("/v1/flows/check", &admin, json!({ "text": ANSWER }))
        .await;
    assert_eq!(status, 200, "{draft}");
    assert_eq!(
        (draft["errors"].clone(), draft["path"].clone()),
        (json!(0), json!("draft.flow.json"))
    );

    let (status, put) = server
        .post(
            "/v1/vault/put",
            &admin,
            json!({ "key": "deploy_token", "value": "s3cr3t-value-42", "tags": ["ci"] }),
        )
        .await;
    assert_eq!(status, 200, "{put}");
    assert_eq!(put, json!({ "key": "deploy_token", "created": true }));
    let (_, again) = server
        .post(
            "/v1/vault/put",
            &admin,
            json!({ "key": "deploy_token", "value": "s3cr3t-value-43" }),
        )
        .await;
    assert_eq!(again["created"], false);
    let listed = workspace.codexos(&["vault", "list"]);
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains("deploy_token"),
        "{listed:?}"
    );
    let audit = std::fs::read_to_string(workspace.root().join(".codexos/serve-audit.jsonl"))
        .expect("audit");
    assert!(!audit.contains("s3cr3t"), "{audit}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_token_is_refused_from_its_next_request() {
    let workspace = Workspace::new();
    let viewer = workspace.token("viewer");
    let admin = workspace.token("admin");
    let fake = replying(&["unused"]).await;
    let server = workspace.serve(&fake.url());
    assert_eq!(server.get("/v1/runs", &viewer).await.0, 200);
    let listed = workspace.codexos(&["serve", "token", "list", "--json"]);
    let first: Value =
        serde_json::from_slice(listed.stdout.split(|b| *b == b'\n').next().expect("a line"))
            .expect("one JSON line");
    assert_eq!(
        (first["name"].clone(), first["role"].clone()),
        (json!("viewer"), json!("viewer"))
    );
    let stored = std::fs::read_to_string(
        workspace
            .root()
            .join(".home/.config/codexos/serve-tokens.json"),
    )
    .expect("tokens");
    assert!(!stored.contains(&viewer[4..]), "{stored}");
    assert!(
        workspace
            .codexos(&["serve", "token", "revoke", "viewer"])
            .status
            .success()
    );
    let (status, answer) = server.get("/v1/runs", &viewer).await;
    assert_eq!(status, 401, "{answer}");

    // An admin manages tokens over HTTP too.
    let (status, created) = server
        .post(
            "/v1/tokens",
            &admin,
            json!({ "role": "executor", "name": "bot" }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let bot = created["token"].as_str().expect("the token, this once");
    assert_eq!(server.get("/v1/runs", bot).await.0, 200);
    let (status, taken) = server
        .post(
            "/v1/tokens",
            &admin,
            json!({ "role": "viewer", "name": "bot" }),
        )
        .await;
    assert_eq!(status, 409, "{taken}");
    let (status, unknown) = server
        .post("/v1/tokens", &admin, json!({ "role": "boss" }))
        .await;
    assert_eq!(status, 400, "{unknown}");
    assert!(
        unknown["error"]
            .as_str()
            .is_some_and(|error| error.contains("unknown variant `boss`")),
        "{unknown}"
    );
    let (_, tokens) = server.get("/v1/tokens", &admin).await;
    let names: Vec<&str> = tokens["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .filter_map(|token| token["name"].as_str())
        .collect();
    assert_eq!(names, ["admin", "bot"], "{tokens}");
    assert!(!tokens.to_string().contains(&bot[4..]), "{tokens}");
    let (status, _) = server
        .request("DELETE", "/v1/tokens/bot", Some(&admin), None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(server.get("/v1/runs", bot).await.0, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_over_http_may_do_only_what_the_trust_store_allows_since_nobody_can_be_asked() {
    let workspace = Workspace::new();
    workspace.write("codexos.toml", "[tools]\nallow_shell = true\n");
    workspace.write(
        "touch.flow.json",
        r#"{"id": "touch", "nodes": [
  {"id": "start", "type": "entry", "next": "touch"},
  {"id": "touch", "type": "tool", "tool": "shell", "args": {"command": "touch proof.txt"}, "next": "end"},
  {"id": "end", "type": "exit"}
]}"#,
    );
    let executor = workspace.token("executor");
    let fake = replying(&["unused"]).await;
    let server = workspace.serve(&fake.url());
    let run = async || {
        let run_id = server
            .start_run(&executor, json!({ "flow": "touch.flow.json" }))
            .await;
        server.sse(&run_id, &executor, async |_| {}).await
    };

    let refused = run().await;
    let decision = refused
        .iter()
        .find(|event| event["kind"] == "decision")
        .expect("the gate decided");
    assert_eq!(decision["decision"]["verdict"], "refused", "{decision}");
    assert!(
        decision["text"]
            .as_str()
            .is_some_and(|text| text.contains("codexos serve")),
        "{decision}"
    );
    assert_eq!(refused.last().expect("an end")["status"], "failed");
    assert!(!workspace.root().join("proof.txt").exists());

    let allowed = workspace.codexos(&["trust", "allow", "command", "touch proof.txt"]);
    assert!(allowed.status.success(), "{allowed:?}");
    let ran = run().await;
    let decision = ran
        .iter()
        .find(|event| event["kind"] == "decision")
        .expect("the gate decided");
    assert_eq!(decision["decision"]["verdict"], "allowed", "{decision}");
    assert_eq!(
        ran.last().expect("an end")["status"],
        "succeeded",
        "{ran:?}"
    );
    assert!(workspace.root().join("proof.txt").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_creator_writes_flows_and_tools_that_run_only_as_far_as_an_admin_allows() {
    let workspace = Workspace::new();
    let creator = workspace.token("creator");
    let admin = workspace.token("admin");
    let executor = workspace.token("executor");
    let fake = replying(&["unused"]).await;
    let server = workspace.serve(&fake.url());
    let put = async |path: &str, token: &str, body: Value| {
        server
            .request("PUT", path, Some(token), Some(&body.to_string()))
            .await
    };

    // A flow with an error is refused with its findings, and nothing is written.
    let broken = r#"{"id": "count", "nodes": [
  {"id": "start", "type": "entry", "next": "nowhere"},
  {"id": "end", "type": "exit"}
]}"#;
    let (status, answer) = put(
        "/v1/flows",
        &creator,
        json!({ "path": "flows/count.flow.json", "text": broken }),
    )
    .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["written"], false);
    assert!(answer["errors"].as_u64() > Some(0), "{answer}");
    assert!(!workspace.root().join("flows/count.flow.json").exists());
    // Protected paths stay closed, as for agents.
    let (status, answer) = put(
        "/v1/flows",
        &creator,
        json!({ "path": ".github/workflows/count.flow.json", "text": broken }),
    )
    .await;
    assert_eq!(status, 403, "{answer}");
    assert!(!workspace.root().join(".github").exists());

    // A tool the registry would not load is refused naming the field.
    let tool = json!({
        "description": "Count the words of a file",
        "command": ["wc", "-w", "{{path}}"],
        "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
        "stdin": "none"
    });
    let mut wrong = tool.clone();
    wrong["command"][2] = json!("{{file}}");
    let (status, answer) = put(
        "/v1/tools",
        &creator,
        json!({ "name": "count", "definition": wrong }),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|error| error.contains("command/2")),
        "{answer}"
    );
    assert!(!workspace.root().join("tools/count.tool.json").exists());

    // Written, the tool and a flow that calls it; the run is refused until an admin approves it.
    let (status, answer) = put(
        "/v1/tools",
        &creator,
        json!({ "name": "count", "definition": tool }),
    )
    .await;
    assert_eq!(
        (status, &answer["approved"]),
        (200, &json!(false)),
        "{answer}"
    );
    workspace.write("notes.txt", "one two three\n");
    let flow = r#"{"id": "count", "nodes": [
  {"id": "start", "type": "entry", "next": "count"},
  {"id": "count", "type": "tool", "tool": "count", "args": {"path": "notes.txt"}, "next": "end"},
  {"id": "end", "type": "exit"}
]}"#;
    let (status, answer) = put(
        "/v1/flows",
        &creator,
        json!({ "path": "flows/count.flow.json", "text": flow }),
    )
    .await;
    assert_eq!(
        (status, &answer["written"]),
        (200, &json!(true)),
        "{answer}"
    );
    let run = async || {
        let run_id = server
            .start_run(&executor, json!({ "flow": "flows/count.flow.json" }))
            .await;
        server.sse(&run_id, &executor, async |_| {}).await
    };
    assert_eq!(run().await.last().expect("an end")["status"], "failed");

    let (status, report) = server.request("GET", "/v1/trust", Some(&admin), None).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["items"][0]["state"], "not approved", "{report}");
    let (status, answer) = server
        .request(
            "POST",
            "/v1/trust",
            Some(&creator),
            Some(r#"{"change": "allow", "what": {"kind": "plugin", "name": "count"}}"#),
        )
        .await;
    assert_eq!(
        status, 403,
        "a creator cannot approve what it wrote: {answer}"
    );
    let (status, answer) = server
        .request(
            "POST",
            "/v1/trust",
            Some(&admin),
            Some(r#"{"change": "allow", "what": {"kind": "plugin", "name": "count"}}"#),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["outcomes"][0]["changed"], true, "{answer}");
    let ran = run().await;
    assert_eq!(
        ran.last().expect("an end")["status"],
        "succeeded",
        "{ran:?}"
    );
    // The approval is the user's, in the trust store outside the workspace, as `codexos trust` shows.
    let listed = workspace.codexos(&["trust", "list", "--json"]);
    let listed: Value = serde_json::from_slice(&listed.stdout).expect("json");
    assert_eq!(listed["items"][0]["state"], "approved", "{listed}");

    // A rewritten tool needs approving again.
    let mut changed = tool.clone();
    changed["command"] = json!(["wc", "-l", "{{path}}"]);
    let (status, _) = put(
        "/v1/tools",
        &creator,
        json!({ "name": "count", "definition": changed }),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(run().await.last().expect("an end")["status"], "failed");
    let (status, answer) = server
        .request(
            "POST",
            "/v1/trust",
            Some(&admin),
            Some(r#"{"change": "allow", "what": {"kind": "plugin", "name": "nosuch"}}"#),
        )
        .await;
    assert_eq!(status, 404, "{answer}");
}

#[test]
fn a_non_loopback_address_is_refused_without_allow_remote() {
    let workspace = Workspace::new();
    let output = workspace.codexos(&["serve", "--bind", "0.0.0.0:0"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("not a loopback address") && stderr.contains("--allow-remote"),
        "{stderr}"
    );
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// A measurement as much as a test: search latency with the server idle and while `N` runs
/// stream their tokens to SSE clients (`SERVE_BENCH_RUNS`, 20 by default); printed on stderr.
#[tokio::test(flavor = "multi_thread")]
async fn search_answers_while_many_runs_stream() {
    let runs: usize = std::env::var("SERVE_BENCH_RUNS")
        .ok()
        .and_then(|runs| runs.parse().ok())
        .unwrap_or(20);
    let workspace = Workspace::new();
    let admin = workspace.token("admin");
    assert!(workspace.codexos(&["index"]).status.success());
    let fake = FakeProvider::start(|request| {
        let model = request.model().unwrap_or_default();
        let reply = ScriptedReply::text(&["tide "; 100]);
        FakeResponse::reply(WireFormat::OpenAiChat, &reply, &model).paced(Duration::from_millis(50))
    })
    .await
    .expect("fake provider");
    let server = std::sync::Arc::new(workspace.serve(&fake.url()));
    let query = json!({ "query": "high tide level", "k": 5 });
    let search = async || {
        let started = std::time::Instant::now();
        let (status, answer) = server.post("/v1/rag/query", &admin, query.clone()).await;
        assert_eq!(status, 200, "{answer}");
        started.elapsed()
    };
    // The first search opens the index.
    search().await;
    let mut idle = Vec::new();
    for _ in 0..50 {
        idle.push(search().await);
    }
    idle.sort();

    let starting = std::time::Instant::now();
    let mut streams = Vec::new();
    for _ in 0..runs {
        let (status, started) = server
            .post(
                "/v1/runs",
                &admin,
                json!({ "flow": "answer.flow.json", "input": "go" }),
            )
            .await;
        assert_eq!(status, 202, "{started}");
        let run_id = started["run_id"].as_str().expect("a run id").to_owned();
        let (server, token) = (server.clone(), admin.clone());
        streams.push(tokio::spawn(async move {
            server.sse(&run_id, &token, async |_| {}).await
        }));
    }
    let started_all = starting.elapsed();
    // Searches for as long as every run still streams.
    let mut busy = Vec::new();
    while busy.len() < 30 || streams.iter().all(|stream| !stream.is_finished()) {
        busy.push(search().await);
    }
    busy.sort();
    let mut events = 0;
    for stream in streams {
        let stream = stream.await.expect("a stream");
        assert_eq!(stream.last().expect("an end")["status"], "succeeded");
        events += stream.len();
    }
    eprintln!(
        "POST /v1/rag/query: idle p50 {:?} p99 {:?}; while {runs} runs stream ({events} SSE events, \
         all started in {started_all:?}): p50 {:?} p99 {:?} over {} searches",
        percentile(&idle, 0.5),
        percentile(&idle, 0.99),
        percentile(&busy, 0.5),
        percentile(&busy, 0.99),
        busy.len(),
    );
}
