//! Several `codexos serve` processes, one team: two servers on two copies of a workspace (two
//! hosts) write their runs to one real Chroma server (`chroma run` on loopback, as
//! `codexos_test_support::ChromaServer` starts it) and sit behind a round-robin
//! proxy written here. A run started through the proxy is listed, shown, followed and
//! cancelled through the other server; pages come newest first; a server whose store is down
//! says so and writes its runs' records once the store is back. Skipped with a message when
//! chroma is not installed, failed under CI.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use codexos_llm::WireFormat;
use codexos_llm::testing::{FakeProvider, FakeResponse, ScriptedReply};
use codexos_test_support::{ChromaServer, take_sse_events};
use futures_util::StreamExt;
use serde_json::{Value, json};

const ANSWER: &str = r#"{"id": "answer", "nodes": [
  {"id": "start", "type": "entry", "next": "think"},
  {"id": "think", "type": "llm", "model": "gpt-4o-mini", "prompt": "{{input}}", "next": "end"},
  {"id": "end", "type": "exit", "output": "{{nodes.think.output}}"}
]}"#;

/// The team: one home (the token file every server reads, as a team shares its tokens) and a
/// copy of the workspace per host.
struct Team {
    home: tempfile::TempDir,
}

impl Team {
    fn new() -> Team {
        Team {
            home: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn host(&self) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        for (path, text) in [("codexos.toml", ""), ("answer.flow.json", ANSWER)] {
            std::fs::write(dir.path().join(path), text).expect("write");
        }
        dir
    }

    fn command(&self, root: &Path, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_codexos"));
        command
            .args(args)
            .current_dir(root)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("VAULT_MASTER_KEY", "e2e-test-master-key-0123456789")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    fn token(&self, root: &Path) -> String {
        let output = self
            .command(root, &["serve", "token", "create", "--role", "executor"])
            .output()
            .expect("codexos runs");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout)
            .expect("utf-8")
            .trim()
            .to_owned()
    }

    /// `codexos serve` on `root` with the run store `runs`, named `name`; its address.
    fn serve(&self, root: &Path, llm_url: &str, runs: &str, name: &str) -> Served {
        let mut child = self
            .command(
                root,
                &[
                    "serve",
                    "--bind",
                    "127.0.0.1:0",
                    "--runs",
                    runs,
                    "--name",
                    name,
                ],
            )
            .env("OPENAI_BASE_URL", format!("{llm_url}/v1"))
            .spawn()
            .expect("codexos serve starts");
        let addr = codexos_test_support::serve_address(&mut child);
        Served { child, addr }
    }
}

struct Served {
    child: Child,
    addr: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A load balancer as small as can be: each connection goes to the next backend in turn, its
/// bytes copied both ways as they come (SSE streams too).
async fn round_robin(backends: Vec<String>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("the proxy listens");
    let addr = listener.local_addr().expect("an address");
    let turn = AtomicUsize::new(0);
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let backend = backends[turn.fetch_add(1, Ordering::Relaxed) % backends.len()].clone();
            tokio::spawn(async move {
                if let Ok(mut server) = tokio::net::TcpStream::connect(backend).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    addr.to_string()
}

/// An HTTP client for one address that opens a connection per request, so a proxy in front
/// sees each request as a new connection.
struct Client {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Client {
    fn new(addr: &str, token: &str) -> Client {
        let _already_installed = rustls::crypto::ring::default_provider().install_default();
        Client {
            base: format!("http://{addr}"),
            token: token.to_owned(),
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .expect("a client"),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let text = response.text().await.expect("a body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn start_run(&self, input: &str) -> String {
        let (status, started) = self
            .post(
                "/v1/runs",
                json!({ "flow": "answer.flow.json", "input": input }),
            )
            .await;
        assert_eq!(status, 202, "{started}");
        started["run_id"].as_str().expect("a run id").to_owned()
    }

    /// The run's events over SSE until the stream ends; `on_event` sees each as it comes.
    async fn sse(&self, run_id: &str, on_event: impl AsyncFnMut(&Value)) -> Vec<Value> {
        self.sse_after(run_id, None, on_event).await
    }

    /// The same, resuming after the event numbered `last` as a reconnecting client does.
    async fn sse_after(
        &self,
        run_id: &str,
        last: Option<usize>,
        mut on_event: impl AsyncFnMut(&Value),
    ) -> Vec<Value> {
        let mut request = self
            .http
            .get(format!("{}/v1/runs/{run_id}/events", self.base))
            .bearer_auth(&self.token);
        if let Some(last) = last {
            request = request.header("last-event-id", last.to_string());
        }
        let response = request.send().await.expect("the stream opens");
        assert_eq!(response.status().as_u16(), 200);
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

    /// The ids of every page of `GET /v1/runs?limit=N`, following `next`.
    async fn pages(&self, limit: usize) -> Vec<Vec<String>> {
        let mut pages = Vec::new();
        let mut path = format!("/v1/runs?limit={limit}");
        loop {
            let (status, page) = self.get(&path).await;
            assert_eq!(status, 200, "{page}");
            pages.push(
                page["runs"]
                    .as_array()
                    .expect("runs")
                    .iter()
                    .map(|run| run["run_id"].as_str().expect("an id").to_owned())
                    .collect(),
            );
            match page["next"].as_str() {
                Some(next) => path = format!("/v1/runs?limit={limit}&cursor={next}"),
                None => return pages,
            }
        }
    }
}

/// A model that answers "tide" twenty times, a word every 50 ms; to an input saying "stall" it
/// says two words and then nothing, ever.
async fn model() -> FakeProvider {
    FakeProvider::start(|request| {
        let model = request.model().unwrap_or_default();
        let stall = request
            .json()
            .is_some_and(|body| body.to_string().contains("stall"));
        let reply = ScriptedReply::text(&["tide "; 20]);
        let response = FakeResponse::reply(WireFormat::OpenAiChat, &reply, &model)
            .paced(Duration::from_millis(50));
        match stall {
            true => response.stall_after(2),
            false => response,
        }
    })
    .await
    .expect("fake provider")
}

fn kinds(events: &[Value]) -> Vec<&str> {
    let mut kinds: Vec<&str> = events
        .iter()
        .map(|event| event["kind"].as_str().unwrap_or("?"))
        .collect();
    kinds.dedup();
    kinds
}

#[tokio::test(flavor = "multi_thread")]
async fn two_servers_behind_a_proxy_list_show_follow_and_cancel_each_others_runs() {
    let Some(store) = ChromaServer::start_if_installed() else {
        return;
    };
    let runs = store.url();
    let team = Team::new();
    let (host_a, host_b) = (team.host(), team.host());
    let token = team.token(host_a.path());
    let fake = model().await;
    let a = team.serve(host_a.path(), &fake.url(), &runs, "a");
    let b = team.serve(host_b.path(), &fake.url(), &runs, "b");
    let proxy = round_robin(vec![a.addr.clone(), b.addr.clone()]).await;
    let (via_a, via_b, via_proxy) = (
        Client::new(&a.addr, &token),
        Client::new(&b.addr, &token),
        Client::new(&proxy, &token),
    );

    // Four runs through the proxy, each followed to its end through the proxy (by the server
    // that runs it or the other); a list in between moves the next start to the other server.
    let mut started = Vec::new();
    for input in ["one", "two", "three", "four"] {
        if input == "three" {
            assert_eq!(via_proxy.get("/v1/runs?limit=1").await.0, 200);
        }
        let run_id = via_proxy.start_run(input).await;
        let events = via_proxy.sse(&run_id, async |_| {}).await;
        assert_eq!(
            events.last().expect("an end")["status"],
            "succeeded",
            "{events:?}"
        );
        started.push(run_id);
    }
    let mut newest_first = started.clone();
    newest_first.sort_by(|x, y| y.cmp(x));
    for client in [&via_a, &via_b] {
        let pages = client.pages(3).await;
        assert_eq!(pages.len(), 2, "{pages:?}");
        assert_eq!(pages.concat(), newest_first, "newest first, each once");
    }
    let (status, page) = via_b.get("/v1/runs").await;
    assert_eq!(status, 200, "{page}");
    let mut servers: Vec<&str> = page["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|run| run["server"].as_str().unwrap_or("?"))
        .collect();
    servers.sort();
    assert_eq!(servers, ["a", "a", "b", "b"], "{page}");
    let started_by = page["runs"][0]["started_by"].as_str().unwrap_or_default();
    assert!(started_by.starts_with("executor"), "{page}");

    // A run on A, shown and followed through B as it goes: every event A's followers get.
    let run_id = via_a.start_run("follow me").await;
    let through_b = via_b.sse(&run_id, async |_| {}).await;
    let through_a = via_a.sse(&run_id, async |_| {}).await;
    assert_eq!(through_b, through_a);
    let kinds = kinds(&through_b);
    assert!(
        kinds.first() == Some(&"started") && kinds.contains(&"token"),
        "{kinds:?}"
    );
    assert_eq!(through_b.last().expect("an end")["status"], "succeeded");
    // A client reconnecting through the other server goes on where it was.
    let resumed = via_b.sse_after(&run_id, Some(2), async |_| {}).await;
    assert_eq!(resumed, through_a[3..]);
    let (status, shown) = via_b.get(&format!("/v1/runs/{run_id}")).await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["run"]["server"], "a");
    assert_eq!(shown["run"]["status"], "succeeded");
    assert_eq!(shown["header"]["input"], "follow me");

    // A run on A that never ends, cancelled through B: A cancels it, both streams say so.
    let run_id = via_a.start_run("stall").await;
    let (cancel_b, stream_a) = (
        async {
            // Once B sees it going.
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let (_, shown) = via_b.get(&format!("/v1/runs/{run_id}")).await;
                if shown["run"]["status"] == "running" {
                    break;
                }
                assert!(Instant::now() < deadline, "B never saw the run: {shown}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            via_b
                .post(&format!("/v1/runs/{run_id}/cancel"), json!({}))
                .await
        },
        via_a.sse(&run_id, async |_| {}),
    );
    let ((status, cancelled), events) = tokio::join!(cancel_b, stream_a);
    assert_eq!(status, 202, "{cancelled}");
    assert_eq!(cancelled["server"], "a");
    assert_eq!(events.last().expect("an end")["status"], "cancelled");
    let through_b = via_b.sse(&run_id, async |_| {}).await;
    assert_eq!(through_b.last().expect("an end")["status"], "cancelled");
    let (status, again) = via_b
        .post(&format!("/v1/runs/{run_id}/cancel"), json!({}))
        .await;
    assert_eq!(status, 409, "{again}");

    // Its retry belongs where its trace is.
    let (status, refused) = via_b
        .post(&format!("/v1/runs/{run_id}/retry"), json!({}))
        .await;
    assert_eq!(status, 409, "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .unwrap_or_default()
            .contains("`a`"),
        "{refused}"
    );
    let (status, retried) = via_a
        .post(&format!("/v1/runs/{run_id}/retry"), json!({}))
        .await;
    assert_eq!(status, 202, "{retried}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_whose_run_store_is_down_says_so_runs_anyway_and_writes_the_record_once_it_is_back()
 {
    let Some(mut store) = ChromaServer::start_if_installed() else {
        return;
    };
    store.stop();
    let runs = store.url();
    let team = Team::new();
    let host = team.host();
    let token = team.token(host.path());
    let fake = model().await;
    let server = team.serve(host.path(), &fake.url(), &runs, "alone");
    let client = Client::new(&server.addr, &token);

    let (status, refused) = client.get("/v1/runs").await;
    assert_eq!(status, 503, "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .unwrap_or_default()
            .contains(&runs),
        "{refused}"
    );
    let run_id = client.start_run("regardless").await;
    let events = client.sse(&run_id, async |_| {}).await;
    assert_eq!(events.last().expect("an end")["status"], "succeeded");

    store.restart();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, page) = client.get("/v1/runs").await;
        if status == 200 && page["runs"][0]["run_id"] == run_id.as_str() {
            assert_eq!(page["runs"][0]["status"], "succeeded");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the record never reached the store: {status} {page}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
