//! Does `codexos serve` keep answering searches while it streams many runs? The server runs in
//! process (`codexos_serve::serve`, on a multi-threaded runtime as `codexos serve` builds it) on
//! a loopback port, over a workspace whose index is built first; a fake OpenAI-compatible
//! provider on loopback streams 300 tokens per answer, 10 ms apart (3 s per run). A wave starts
//! 100 concurrent runs (`POST /v1/runs`), each followed to its end by an SSE client
//! (`GET /v1/runs/{id}/events`), and meanwhile a client sends `POST /v1/rag/query`, one every
//! ~2 ms, measuring each round trip; the same searches are measured first with the server idle.
//! The followers, the searching client and the provider each have a runtime (and threads) of
//! their own, so the clients' own work does not count as the server's.
//!
//! `cargo bench -p codexos-serve --bench concurrent_runs` prints p50 / p99 / max for idle and
//! each wave, what the wave streamed, and the machine's load average (the machine is shared).
//!
//! Measured on the shared 2-core machine at load average 7 (other builds running): idle p50
//! 0.65 ms, p99 4.9 ms, max 10 ms (300 samples); while 100 runs streamed (each wave 30,800 SSE
//! events in 3.6 s, the 100 runs started in ~0.1 s, all succeeded) p50 0.83 / 0.93 ms, p99
//! 4.6 / 5.0 ms, max 8.7 / 8.9 ms (~820 samples a wave): the tail is the machine's, not the
//! streams'.

use std::sync::Arc;
use std::time::{Duration, Instant};

use codexos_llm::testing::FakeProvider;
use codexos_serve::{Role, ServeOptions, TokenFile};
use codexos_service::Workspace;
use codexos_service::index::{IndexMode, WriteOptions};
use codexos_test_support::take_sse_events;
use futures_util::StreamExt;
use serde_json::{Value, json};

const RUNS: usize = 100;
const WAVES: usize = 2;
const TOKENS_PER_ANSWER: usize = 300;
const TOKEN_PAUSE: Duration = Duration::from_millis(10);
const IDLE_SAMPLES: usize = 300;
const SAMPLE_PAUSE: Duration = Duration::from_millis(2);

const STREAMING_FLOW: &str = r#"{"id": "stream", "nodes": [
  {"id": "start", "type": "entry", "next": "answer"},
  {"id": "answer", "type": "llm", "model": "gpt-4o-mini", "prompt": "{{input}}", "next": "end"},
  {"id": "end", "type": "exit", "output": "{{nodes.answer.output}}"}
]}"#;

fn main() {
    let workspace = tempfile::tempdir().expect("a temporary workspace");
    let home = tempfile::tempdir().expect("a temporary home");
    std::fs::write(workspace.path().join("codexos.toml"), "").expect("codexos.toml");
    std::fs::write(workspace.path().join("stream.flow.json"), STREAMING_FLOW).expect("flow");
    std::fs::create_dir(workspace.path().join("src")).expect("src");
    // Something to search: 200 small modules.
    for i in 0..200 {
        let text = format!(
            "/// Tide table {i}: the water level at each hour.\npub fn tide_level_{i}(hour: u32) -> u32 {{\n    (hour * {i}) % 12\n}}\n"
        );
        std::fs::write(workspace.path().join(format!("src/tide_{i}.rs")), text).expect("a module");
    }

    // The runtime serves the provider's streams for as long as it is held.
    let (_provider_runtime, fake) =
        FakeProvider::paced_chat(TOKENS_PER_ANSWER, TOKEN_PAUSE).expect("the fake provider");
    // SAFETY: no other thread runs yet that reads the environment (the provider's worker only
    // waits for connections).
    unsafe {
        for name in [
            "OPENAI_API_KEY",
            "ANTHROPIC_API_KEY",
            "OLLAMA_HOST",
            "OLLAMA_MODEL",
        ] {
            std::env::remove_var(name);
        }
        std::env::set_var("OPENAI_BASE_URL", format!("{}/v1", fake.url()));
        std::env::set_var("HOME", home.path());
        std::env::set_var("VAULT_MASTER_KEY", "bench-master-key-0123456789");
    }

    {
        let workspace = Workspace::load(workspace.path()).expect("the workspace");
        let index = workspace
            .open_index(IndexMode::Write(WriteOptions::default()))
            .expect("the index opens");
        let summary = index.index_all(&mut |_| {}).expect("the workspace indexes");
        println!("index: {summary:?}");
    }
    let tokens = TokenFile::at(home.path().join("serve-tokens.json"));
    let (token, _) = tokens.create(Role::Admin, None).expect("a token");

    let (listening, address) = std::sync::mpsc::channel();
    let root = workspace.path().to_owned();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("the server's runtime");
        let workspace = Workspace::load(&root).expect("the workspace");
        let options = ServeOptions {
            bind: "127.0.0.1:0".parse().expect("an address"),
            allow_remote: false,
            tokens,
            run_timeout: Duration::from_secs(120),
            runs: None,
            name: None,
        };
        let served = codexos_serve::serve(
            workspace,
            options,
            move |addr| {
                let _ = listening.send(addr);
            },
            std::future::pending(),
        );
        runtime.block_on(served).expect("the server runs");
    });
    let addr = address.recv().expect("the server listens");
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
    let client = Client {
        base: format!("http://{addr}"),
        token,
        http: reqwest::Client::new(),
    };
    let followers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("the followers' runtime");
    let searching = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("the searching client's runtime");
    searching.block_on(measure(Arc::new(client), followers.handle().clone()));
    std::process::exit(0);
}

struct Client {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Client {
    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn search(&self) -> Duration {
        let query = json!({ "query": "tide level at each hour", "k": 8 });
        let started = Instant::now();
        let (status, answer) = self.post("/v1/rag/query", &query).await;
        assert_eq!(status, 200, "{answer}");
        started.elapsed()
    }

    /// How many events the run's SSE stream had, and its last status.
    async fn follow(&self, run_id: &str) -> (usize, String) {
        let response = self
            .http
            .get(format!("{}/v1/runs/{run_id}/events", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("the stream opens");
        let mut body = response.bytes_stream();
        let (mut buffer, mut events, mut status) = (String::new(), 0, String::new());
        while let Some(Ok(chunk)) = body.next().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            for event in take_sse_events(&mut buffer) {
                events += 1;
                if let Some(done) = event["status"].as_str() {
                    status = done.to_owned();
                }
            }
        }
        (events, status)
    }
}

async fn measure(client: Arc<Client>, followers: tokio::runtime::Handle) {
    println!(
        "machine: {} cores; each wave: {RUNS} concurrent runs of {TOKENS_PER_ANSWER} tokens, {} ms apart, each followed over SSE",
        std::thread::available_parallelism().map_or(0, usize::from),
        TOKEN_PAUSE.as_millis(),
    );
    // The first search opens the index.
    client.search().await;
    let mut idle = Vec::new();
    for _ in 0..IDLE_SAMPLES {
        idle.push(client.search().await);
        tokio::time::sleep(SAMPLE_PAUSE).await;
    }
    report("POST /v1/rag/query, idle", &mut idle);

    for wave in 1..=WAVES {
        let starting = Instant::now();
        let mut streams = Vec::new();
        for _ in 0..RUNS {
            let (status, started) = client
                .post(
                    "/v1/runs",
                    &json!({ "flow": "stream.flow.json", "input": "go" }),
                )
                .await;
            assert_eq!(status, 202, "{started}");
            let run_id = started["run_id"].as_str().expect("a run id").to_owned();
            let following = client.clone();
            streams.push(followers.spawn(async move { following.follow(&run_id).await }));
        }
        let started_all = starting.elapsed();
        let mut samples = Vec::new();
        while streams.iter().any(|stream| !stream.is_finished()) {
            samples.push(client.search().await);
            tokio::time::sleep(SAMPLE_PAUSE).await;
        }
        let streamed = starting.elapsed();
        let (mut events, mut succeeded) = (0, 0);
        for stream in streams {
            let (count, status) = stream.await.expect("a follower");
            events += count;
            succeeded += usize::from(status == "succeeded");
        }
        println!(
            "wave {wave}: {RUNS} runs started in {started_all:.2?}, all streamed in {streamed:.2?}: {events} SSE events, {succeeded} succeeded"
        );
        report(
            &format!("POST /v1/rag/query, during wave {wave}"),
            &mut samples,
        );
    }
}

fn report(what: &str, samples: &mut [Duration]) {
    samples.sort();
    let at = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|line| line.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned());
    println!(
        "{what}: {} samples, p50 {:.2?}, p99 {:.2?}, max {:.2?} (load average {load})",
        samples.len(),
        at(0.5),
        at(0.99),
        at(1.0),
    );
}
