//! `codexos run`, `codexos runs` and `codexos vault` through the real binary, against the fake
//! LLM provider on loopback (as `OPENAI_BASE_URL`), in a temporary workspace with a real index
//! and a real vault.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use codexos_llm::WireFormat;
use codexos_llm::testing::{FakeProvider, FakeResponse, ScriptedReply};
use codexos_test_support::fixtures;

const SECRET: &str = "sk-e2e-planted-51504242";

struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new(files: &[(&str, &str)]) -> Workspace {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("codexos.toml"), "").expect("codexos.toml");
        let workspace = Workspace { dir };
        for (path, text) in files {
            workspace.write(path, text);
        }
        workspace
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, path: &str, text: &str) {
        let path = self.root().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
        std::fs::write(path, text).expect("write");
    }

    /// The binary in the workspace, with a clean environment: no keys, a home of its own (so no
    /// local model and no identity file from the machine), the vault keyed by a test key, and
    /// OpenAI-compatible calls going to `llm_url` when given.
    fn codexos(&self, args: &[&str], llm_url: Option<&str>, stdin: &str) -> Output {
        let home = self.root().join(".home");
        let mut command = Command::new(env!("CARGO_BIN_EXE_codexos"));
        command
            .args(args)
            .current_dir(self.root())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("VAULT_MASTER_KEY", "e2e-test-master-key-0123456789")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(url) = llm_url {
            command.env("OPENAI_BASE_URL", format!("{url}/v1"));
        }
        let mut child = command.spawn().expect("codexos starts");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("codexos ends")
    }

    /// Every byte under `.codexos/` (except the encrypted vault itself).
    fn codexos_files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut files = Vec::new();
        let mut pending = vec![self.root().join(".codexos")];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    files.push((path.clone(), std::fs::read(&path).unwrap_or_default()));
                }
            }
        }
        files
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_success(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
}

fn every_node_workspace() -> Workspace {
    Workspace::new(fixtures::EVERY_NODE_WORKSPACE)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flow_with_every_node_type_runs_from_the_cli_and_never_prints_the_secret() {
    let workspace = every_node_workspace();
    let fake = FakeProvider::replying(
        ScriptedReply::text(&[
            "Plan: rotate sk-e2e-",
            "planted-51504242 then ship. ",
            "LGTM",
        ])
        .usage(20, 9),
    )
    .await
    .expect("fake provider");

    let put = workspace.codexos(
        &["vault", "put", "api_token", "--tag", "ci"],
        None,
        &format!("{SECRET}\n"),
    );
    assert_success(&put, "vault put");
    let index = workspace.codexos(&["index", "--embedder", "builtin"], None, "");
    assert_success(&index, "index");

    let run = workspace.codexos(
        &[
            "run",
            "release.flow.json",
            "--input",
            "release parser notes",
        ],
        Some(&fake.url()),
        "",
    );
    assert_success(&run, "run");
    let stdout = text(&run.stdout);
    let stderr = text(&run.stderr);
    assert_eq!(
        stdout,
        "Summary: Plan: rotate [secret:api_token] then ship. LGTM\n"
    );
    for line in [
        "▶ start (entry)",
        "▶ key (vault)",
        "▶ notes (tool)",
        "▶ search (rag)",
        "▶ draft (llm)",
        "▶ review (reflect)",
        "▶ draft (llm, re-run 1)",
        "▶ ok (condition)",
        "▶ summary (flow)",
        "▶ summary/out (exit)",
        "▶ done (exit)",
    ] {
        assert!(stderr.contains(line), "no `{line}` in stderr:\n{stderr}");
    }
    assert!(stderr.contains("✓ draft · "), "{stderr}");
    assert!(
        stderr.contains("fake/gpt-4o-mini") || stderr.contains("openai/gpt-4o-mini"),
        "{stderr}"
    );
    assert!(
        stderr.contains("src/parser.rs") || stderr.contains("chunks for"),
        "{stderr}"
    );

    let requests = fake.requests();
    assert_eq!(requests.len(), 2, "the draft and its one re-run");
    let first = text(&requests[0].body);
    assert!(first.contains(SECRET), "the model was given the secret");
    assert!(
        first.contains("Ship the parser fix first."),
        "the tool's output reached the prompt"
    );
    assert!(
        first.contains("parse_release_notes"),
        "the index's chunk reached the prompt"
    );
    let second = requests[1].json().expect("json");
    assert_eq!(
        second["messages"].as_array().map(Vec::len),
        Some(4),
        "critique appended"
    );

    let files = workspace.codexos_files();
    let traces: Vec<&(PathBuf, Vec<u8>)> = files
        .iter()
        .filter(|(path, _)| path.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    assert_eq!(traces.len(), 1, "one trace");
    assert!(text(&traces[0].1).contains(r#""status":"succeeded""#));
    let mut written = vec![
        ("stdout".to_owned(), run.stdout.clone()),
        ("stderr".to_owned(), run.stderr.clone()),
    ];
    written.extend(
        files
            .into_iter()
            .map(|(path, bytes)| (path.display().to_string(), bytes)),
    );
    for (place, bytes) in written {
        assert!(
            !text(&bytes).contains(SECRET) && !text(&bytes).contains("planted-51504242"),
            "the secret is in {place}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_run_is_listed_under_its_agent_and_retried_from_the_failed_node() {
    let workspace = Workspace::new(&[(
        "flaky.flow.json",
        r#"{"id": "flaky", "nodes": [
  {"id": "start", "type": "entry", "next": "ask"},
  {"id": "ask", "type": "llm", "model": "gpt-4o-mini", "prompt": "{{input}}", "next": "read"},
  {"id": "read", "type": "tool", "tool": "read_file", "args": {"path": "later.txt"}, "next": "end"},
  {"id": "end", "type": "exit", "output": "{{nodes.ask.output}} / {{nodes.read.output}}"}
]}"#,
    )]);
    let fake = FakeProvider::replying(ScriptedReply::text(&["answer"]))
        .await
        .expect("fake provider");
    let run = workspace.codexos(
        &[
            "run",
            "flaky.flow.json",
            "--input",
            "q",
            "--agent-id",
            "release-bot",
        ],
        Some(&fake.url()),
        "",
    );
    assert_eq!(run.status.code(), Some(1), "{}", text(&run.stderr));
    let stderr = text(&run.stderr);
    assert!(stderr.contains("✗ read: tool `read_file`: "), "{stderr}");
    let run_id = stderr
        .lines()
        .find_map(|line| line.strip_prefix("retry from where it stopped: codexos runs retry "))
        .expect("a retry hint")
        .to_owned();

    let list = workspace.codexos(&["runs", "list"], None, "");
    assert_success(&list, "runs list");
    let listed = text(&list.stdout);
    assert!(
        listed.starts_with(&run_id)
            && listed.contains("failed")
            && listed.trim_end().ends_with("read"),
        "{listed}"
    );
    let mine = workspace.codexos(&["runs", "list", "--agent", "release-bot"], None, "");
    assert_eq!(text(&mine.stdout), listed, "the agent's runs");
    let others = workspace.codexos(&["runs", "list", "--agent", "docs-bot", "--json"], None, "");
    assert_success(&others, "runs list --agent docs-bot");
    assert_eq!(text(&others.stdout), "", "another agent has no runs");

    let show = workspace.codexos(&["runs", "show", &run_id], None, "");
    assert_success(&show, "runs show");
    let shown = text(&show.stdout);
    assert!(
        shown.contains("✓ ask · ")
            && shown.contains("✗ read: ")
            && shown.contains("stopped at: read"),
        "{shown}"
    );

    workspace.write("later.txt", "now here");
    let retry = workspace.codexos(&["runs", "retry", &run_id, "--json"], Some(&fake.url()), "");
    assert_success(&retry, "runs retry");
    let result: serde_json::Value = serde_json::from_slice(&retry.stdout).expect("json result");
    assert_eq!(result["output"], "answer / now here");
    assert_eq!(result["retry_of"], run_id.as_str());
    assert_eq!(result["agent_id"], "release-bot", "a retry keeps its agent");
    assert_eq!(result["nodes"][1]["status"], "replayed", "{result}");
    assert_eq!(fake.requests().len(), 1, "the model was not asked again");

    let again = workspace.codexos(
        &[
            "runs",
            "retry",
            result["run_id"].as_str().unwrap_or_default(),
        ],
        None,
        "",
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again.stderr).contains("succeeded: there is nothing to retry"));
}

#[test]
fn a_flow_with_errors_does_not_run_and_exits_non_zero() {
    let workspace = Workspace::new(&[(
        "broken.flow.json",
        r#"{"id": "broken", "nodes": [
  {"id": "start", "type": "entry", "next": "missing"},
  {"id": "end", "type": "exit"}
]}"#,
    )]);
    let run = workspace.codexos(&["run", "broken.flow.json"], None, "");
    assert_eq!(run.status.code(), Some(1));
    assert_eq!(text(&run.stdout), "");
    let stderr = text(&run.stderr);
    assert!(stderr.contains("has errors, so nothing ran:"), "{stderr}");
    assert!(stderr.contains("error[unknown-node]"), "{stderr}");
    assert!(!workspace.root().join(".codexos/runs").exists());
}

#[test]
fn vault_values_go_in_through_stdin_and_out_only_into_a_pipe() {
    let workspace = Workspace::new(&[]);
    let put = workspace.codexos(
        &["vault", "put", "deploy_key", "--tag", "prod"],
        None,
        "s3cret-value\n",
    );
    assert_success(&put, "vault put");
    assert!(!text(&put.stderr).contains("s3cret-value"));

    let get = workspace.codexos(&["vault", "get", "deploy_key"], None, "");
    assert_success(&get, "vault get");
    assert_eq!(text(&get.stdout), "s3cret-value");

    let list = workspace.codexos(&["vault", "list"], None, "");
    assert_success(&list, "vault list");
    let listed = text(&list.stdout);
    assert!(
        listed.starts_with("deploy_key") && listed.contains("prod"),
        "{listed}"
    );
    assert!(!listed.contains("s3cret-value"));

    let rm = workspace.codexos(&["vault", "rm", "deploy_key"], None, "");
    assert_success(&rm, "vault rm");
    let gone = workspace.codexos(&["vault", "get", "deploy_key"], None, "");
    assert_eq!(gone.status.code(), Some(1));
    assert!(text(&gone.stderr).contains("no secret `deploy_key`"));
}

/// Whether some process runs `sleep <marker>`.
fn sleep_is_running(marker: &str) -> bool {
    let wanted = format!("sleep\0{marker}\0");
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
        .any(|cmdline| cmdline == wanted.as_bytes())
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..250 {
        if done() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn ctrl_c_stops_a_run_kills_its_tool_processes_and_records_where_it_stopped() {
    let marker = format!("41.{}", std::process::id());
    let workspace = Workspace::new(&[(
        "nap.flow.json",
        &format!(
            r#"{{"id": "nap", "nodes": [
  {{"id": "start", "type": "entry", "next": "nap"}},
  {{"id": "nap", "type": "tool", "tool": "shell", "args": {{"command": "sleep {marker}; echo done"}}, "next": "end"}},
  {{"id": "end", "type": "exit"}}
]}}"#
        ),
    )]);
    workspace.write("codexos.toml", "[tools]\nallow_shell = true\n");
    let child = Command::new(env!("CARGO_BIN_EXE_codexos"))
        .args(["run", "nap.flow.json", "--yes"])
        .current_dir(workspace.root())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", workspace.root().join(".home"))
        .env("VAULT_MASTER_KEY", "e2e-test-master-key-0123456789")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("codexos starts");
    wait_for("the tool's sleep to start", || sleep_is_running(&marker));
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(interrupted.success());
    let output = child.wait_with_output().expect("codexos ends");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("run") && stderr.contains("cancelled"),
        "{stderr}"
    );
    wait_for("the sleep to be killed", || !sleep_is_running(&marker));
    let traces = workspace.codexos_files();
    let trace = text(
        &traces
            .iter()
            .find(|(p, _)| p.extension().is_some_and(|e| e == "jsonl"))
            .expect("a trace")
            .1,
    );
    let last = trace.lines().last().unwrap_or_default();
    assert!(
        last.contains(r#""status":"cancelled""#) && last.contains(r#""frontier":["nap"]"#),
        "{last}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn providers_declared_in_codexos_toml_with_keys_in_the_vault_answer_in_each_wire_format() {
    let refusing = FakeProvider::start(|_| {
        FakeResponse::json(
            401,
            &serde_json::json!({"error": {"message": "invalid key"}}),
        )
    })
    .await
    .expect("fake provider");
    let claude = FakeProvider::replying(ScriptedReply::text(&["from claude"]))
        .await
        .expect("fake provider");
    let ollama = FakeProvider::replying(ScriptedReply::text(&["from ollama"]))
        .await
        .expect("fake provider");
    let vllm = FakeProvider::replying(ScriptedReply::text(&["from vllm"]))
        .await
        .expect("fake provider");
    let config = format!(
        r#"
[llm.providers.broken]
kind = "openai-compatible"
base_url = "{refusing}/v1"
api_key = "vault:BROKEN_KEY"

[llm.providers.claude]
kind = "anthropic"
base_url = "{claude}"
api_key = "vault:CLAUDE_KEY"

[llm.providers.team-ollama]
kind = "ollama"
base_url = "{ollama}"

[llm.providers.gpu]
kind = "vllm"
base_url = "{vllm}/v1"
models = ["qwen2.5-coder"]
"#,
        refusing = refusing.url(),
        claude = claude.url(),
        ollama = ollama.url(),
        vllm = vllm.url(),
    );
    let workspace = Workspace::new(&[
        ("codexos.toml", &config),
        (
            "three.flow.json",
            r#"{"id": "three", "nodes": [
  {"id": "start", "type": "entry", "next": "first"},
  {"id": "first", "type": "llm", "model": ["broken/gpt-x", "claude/claude-3-5-haiku"], "prompt": "{{input}}", "next": "second"},
  {"id": "second", "type": "llm", "model": "team-ollama/llama3.2", "prompt": "{{input}}", "next": "third"},
  {"id": "third", "type": "llm", "model": "qwen2.5-coder", "prompt": "{{input}}", "next": "end"},
  {"id": "end", "type": "exit", "output": "{{nodes.first.output}} / {{nodes.second.output}} / {{nodes.third.output}}"}
]}"#,
        ),
    ]);
    for (name, value) in [("BROKEN_KEY", "sk-broken-1"), ("CLAUDE_KEY", "sk-claude-2")] {
        let put = workspace.codexos(&["vault", "put", name], None, &format!("{value}\n"));
        assert_success(&put, "vault put");
    }

    let run = workspace.codexos(&["run", "three.flow.json", "--input", "hi"], None, "");
    assert_success(&run, "run");
    assert_eq!(
        text(&run.stdout).trim(),
        "from claude / from ollama / from vllm"
    );
    let stderr = text(&run.stderr);
    for line in [
        "· claude/claude-3-5-haiku",
        "· team-ollama/llama3.2",
        "· gpu/qwen2.5-coder",
    ] {
        assert!(stderr.contains(line), "`{line}` in:\n{stderr}");
    }
    assert!(
        stderr.contains(
            "warning: first: claude/claude-3-5-haiku answered in place of `broken/gpt-x`: \
             broken/gpt-x: HTTP 401"
        ),
        "the failing link is said once, the chain named the fallback: {stderr}"
    );
    assert!(!stderr.contains("sk-broken-1") && !stderr.contains("sk-claude-2"));

    let sent = |fake: &FakeProvider, header: &str| {
        fake.requests()
            .first()
            .and_then(|request| request.header(header).map(str::to_owned))
    };
    assert_eq!(
        sent(&refusing, "authorization").as_deref(),
        Some("Bearer sk-broken-1")
    );
    assert_eq!(sent(&claude, "x-api-key").as_deref(), Some("sk-claude-2"));
    assert_eq!(ollama.requests()[0].path, "/api/chat");
    assert_eq!(vllm.requests()[0].path, "/v1/chat/completions");
    assert_eq!(vllm.requests()[0].model().as_deref(), Some("qwen2.5-coder"));
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_show_is_concise_names_runs_by_last_or_an_id_prefix_and_full_shows_everything() {
    let long_answer = format!("{}\nsecond line\nthird line", "word ".repeat(40));
    let workspace = Workspace::new(&[(
        "ask.flow.json",
        r#"{"id": "ask", "nodes": [
  {"id": "start", "type": "entry", "next": "ask"},
  {"id": "ask", "type": "llm", "model": "gpt-4o-mini", "prompt": "{{input}}", "next": "shout"},
  {"id": "shout", "type": "llm", "model": "gpt-4o-mini", "prompt": "{{nodes.ask.output}}", "next": "end"},
  {"id": "end", "type": "exit", "output": "{{nodes.shout.output}} (shouted)"}
]}"#,
    )]);
    let fake = FakeProvider::replying(ScriptedReply::text(&[long_answer.as_str()]))
        .await
        .expect("fake provider");
    let mut ids = Vec::new();
    for _ in 0..2 {
        let run = workspace.codexos(
            &["run", "ask.flow.json", "--input", "q", "--json"],
            Some(&fake.url()),
            "",
        );
        assert_success(&run, "run");
        let result: serde_json::Value = serde_json::from_slice(&run.stdout).expect("json");
        ids.push(result["run_id"].as_str().expect("run id").to_owned());
    }

    let last = workspace.codexos(&["runs", "show", "last"], None, "");
    assert_success(&last, "runs show last");
    let shown = text(&last.stdout);
    assert!(
        shown.starts_with(&format!("run {} of ask", ids[1])),
        "{shown}"
    );
    // `ask`'s and `shout`'s outputs are previewed on one line each; `end`'s is the run's
    // output, printed once, whole, at the end.
    let preview = format!("    {}…  (+2 lines)\n", "word ".repeat(20).trim_end());
    assert_eq!(shown.matches(&preview).count(), 2, "{shown}");
    assert_eq!(shown.matches("second line").count(), 1, "{shown}");

    let full = workspace.codexos(&["runs", "show", &ids[0], "--full"], None, "");
    assert_success(&full, "runs show --full");
    assert_eq!(text(&full.stdout).matches("second line").count(), 4);

    let prefix = &ids[0][..ids[0].len() - 2];
    let by_prefix = workspace.codexos(&["runs", "show", prefix], None, "");
    if ids[1].starts_with(prefix) {
        assert_eq!(by_prefix.status.code(), Some(2));
        assert!(text(&by_prefix.stderr).contains("give more of the id"));
    } else {
        assert_success(&by_prefix, "runs show PREFIX");
        assert!(text(&by_prefix.stdout).starts_with(&format!("run {} of ask", ids[0])));
    }
    let unknown = workspace.codexos(&["runs", "show", "1999"], None, "");
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        text(&unknown.stderr).contains("no run `1999` in "),
        "{}",
        text(&unknown.stderr)
    );
}

/// The text of every message the fake was sent in its `index`th request.
fn prompt_of(fake: &FakeProvider, index: usize) -> String {
    let body = fake.requests()[index].json().unwrap_or_default();
    body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|message| message["content"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

fn trace_count(workspace: &Workspace) -> usize {
    std::fs::read_dir(workspace.root().join(".codexos/runs"))
        .map(|entries| entries.count())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_is_replayed_and_forked_from_a_middle_node_without_asking_the_nodes_before_it() {
    let workspace = Workspace::new(&[("five.flow.json", fixtures::FIVE_NODE_FLOW)]);
    let fake = FakeProvider::replying(ScriptedReply::text(&["answer"]))
        .await
        .expect("fake provider");
    let first = workspace.codexos(
        &["run", "five.flow.json", "--input", "q", "--json"],
        Some(&fake.url()),
        "",
    );
    assert_eq!(first.status.code(), Some(1), "{}", text(&first.stderr));
    let first: serde_json::Value = serde_json::from_slice(&first.stdout).expect("json");
    let parent = first["run_id"].as_str().expect("run id").to_owned();
    assert_eq!(fake.requests().len(), 2, "plan and draft asked");

    workspace.write("notes.txt", "notes");
    let replay = workspace.codexos(
        &["runs", "replay", &parent, "--from", "draft", "--json"],
        Some(&fake.url()),
        "",
    );
    assert_success(&replay, "runs replay");
    assert!(
        text(&replay.stderr).contains(&format!("(replay of {parent} from draft)")),
        "{}",
        text(&replay.stderr)
    );
    let replayed: serde_json::Value = serde_json::from_slice(&replay.stdout).expect("json");
    assert_eq!(replayed["output"], "answer / notes");
    assert_eq!(replayed["forked_from"]["run_id"], parent.as_str());
    assert_eq!(replayed["forked_from"]["node"], "draft");
    assert_eq!(replayed["nodes"][1]["id"], "plan");
    assert_eq!(replayed["nodes"][1]["status"], "replayed");
    assert_eq!(fake.requests().len(), 3, "only draft was asked again");
    assert_eq!(prompt_of(&fake, 2), "Draft: answer");

    let fork = workspace.codexos(
        &[
            "runs",
            "replay",
            &parent,
            "--from",
            "draft",
            "--set",
            "draft.prompt=Shorter: {{nodes.plan.output}} for {{input}}",
            "--set",
            "draft.model=gpt-4o",
            "--set",
            "input=another question",
            "--set",
            "nodes.plan.output=a better plan",
            "--json",
        ],
        Some(&fake.url()),
        "",
    );
    assert_success(&fork, "runs replay --set");
    let forked: serde_json::Value = serde_json::from_slice(&fork.stdout).expect("json");
    let fork_id = forked["run_id"].as_str().expect("run id").to_owned();
    assert_eq!(fake.requests().len(), 4, "only draft was asked again");
    assert_eq!(
        prompt_of(&fake, 3),
        "Shorter: a better plan for another question"
    );
    assert_eq!(fake.requests()[3].model().as_deref(), Some("gpt-4o"));

    let shown = workspace.codexos(&["runs", "show", &fork_id, "--json"], None, "");
    assert_success(&shown, "runs show --json");
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).expect("json");
    let header = &shown["header"];
    assert_eq!(header["forked_from"]["run_id"], parent.as_str());
    assert_eq!(header["forked_from"]["node"], "draft");
    assert_eq!(header["forked_from"]["set"]["draft.model"], "gpt-4o");
    assert_eq!(header["input"], "another question");
    let concise = workspace.codexos(&["runs", "show", &fork_id], None, "");
    let concise = text(&concise.stdout);
    assert!(
        concise.contains(&format!(
            "fork of {parent} from draft (set draft.model, draft.prompt, input, nodes.plan.output)"
        )) && concise.contains("✓ plan · 0 ms · set by this fork"),
        "{concise}"
    );
    let list = workspace.codexos(&["runs", "list"], None, "");
    let listed = text(&list.stdout);
    assert!(
        listed.lines().any(|line| line.starts_with(&fork_id)
            && line.ends_with(&format!(
                "(fork of {parent} from draft (set draft.model, draft.prompt, input, nodes.plan.output))"
            ))),
        "{listed}"
    );
    let list_json = workspace.codexos(&["runs", "list", "--json"], None, "");
    let listed_fork: serde_json::Value = text(&list_json.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|run| run["run_id"] == fork_id.as_str())
        .expect("the fork is listed");
    assert_eq!(listed_fork["forked_from"]["run_id"], parent.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replay_of_an_unknown_run_node_or_key_is_refused_and_nothing_runs() {
    let workspace = Workspace::new(&[("five.flow.json", fixtures::FIVE_NODE_FLOW)]);
    let fake = FakeProvider::replying(ScriptedReply::text(&["answer"]))
        .await
        .expect("fake provider");
    let first = workspace.codexos(&["run", "five.flow.json"], Some(&fake.url()), "");
    assert_eq!(first.status.code(), Some(1), "{}", text(&first.stderr));
    let asked = fake.requests().len();
    let traces = trace_count(&workspace);
    let refused = |args: &[&str], expected: &str| {
        let mut all = vec!["runs", "replay"];
        all.extend_from_slice(args);
        let output = workspace.codexos(&all, Some(&fake.url()), "");
        assert_eq!(output.status.code(), Some(2), "{all:?}");
        let stderr = text(&output.stderr);
        assert!(stderr.contains(expected), "{all:?}: {stderr}");
    };
    refused(&["1999", "--from", "draft"], "no run `1999` in ");
    refused(
        &["last", "--from", "drfat"],
        "no node `drfat` in flow `five`: did you mean `draft`?",
    );
    refused(&["last", "--from", "end"], "node `end` never ran in run ");
    refused(
        &["last", "--from", "draft", "--set", "draft.promt=x"],
        "`draft.promt` is not an edit (did you mean `draft.prompt`?)",
    );
    refused(
        &["last", "--from", "draft", "--set", "plan.prompt=x"],
        "`plan` ran before `draft`, so its recorded output is used",
    );
    refused(
        &[
            "last",
            "--from",
            "draft",
            "--set",
            "draft.prompt={{nodes.nope.output}}",
        ],
        "the flow with these edits has errors, so nothing ran:\n  error[unknown-template-ref]: `{{nodes.nope.output}}`: no node has the id `nope`",
    );
    assert_eq!(fake.requests().len(), asked, "no model was asked");
    assert_eq!(trace_count(&workspace), traces, "no run was recorded");
}

#[test]
fn check_warns_of_a_declared_provider_without_its_key_and_offers_to_store_it() {
    let config = r#"
[llm.providers.claude]
kind = "anthropic"
api_key = "vault:ANTHROPIC_API_KEY"

[llm.providers.gpu]
kind = "vllm"
models = ["qwen2.5-coder-32b"]
"#;
    let workspace = Workspace::new(&[
        ("codexos.toml", config),
        (
            "ask.flow.json",
            r#"{"id": "ask", "nodes": [
  {"id": "start", "type": "entry", "next": "ask"},
  {"id": "ask", "type": "llm", "model": ["claude/claude-3-5-haiku", "qwen2.5-coder-32b", "gpu/other", "local"], "prompt": "{{input}}", "next": "end"},
  {"id": "end", "type": "exit"}
]}"#,
        ),
    ]);
    let check = workspace.codexos(&["check", "--format", "json", "ask.flow.json"], None, "");
    assert_success(&check, "check");
    let findings: Vec<serde_json::Value> = text(&check.stdout)
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).expect("a JSON finding"))
        .collect();
    let [finding] = findings.as_slice() else {
        panic!("one finding: {findings:#?}");
    };
    assert_eq!(finding["code"], "provider-unavailable");
    assert_eq!(
        finding["message"],
        "`claude/claude-3-5-haiku` goes to provider `claude`, which cannot answer now: no API key \
         (store it: codexos vault put ANTHROPIC_API_KEY); a run skips it and tries the next model"
    );
    assert_eq!(
        finding["fixes"],
        serde_json::json!(["Add `ANTHROPIC_API_KEY` to the vault…"])
    );

    let put = workspace.codexos(&["vault", "put", "ANTHROPIC_API_KEY"], None, "sk-claude\n");
    assert_success(&put, "vault put");
    let clean = workspace.codexos(&["check", "ask.flow.json"], None, "");
    assert_success(&clean, "check");
    assert_eq!(text(&clean.stdout), "Checked 1 flow: no problems.\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn codexos_models_asks_each_configured_provider_for_its_models_with_its_key() {
    let live = FakeProvider::start(|request| {
        if request.path == "/v1/models" && request.header("authorization") == Some("Bearer sk-live")
        {
            FakeResponse::json(
                200,
                &serde_json::json!({"data": [{"id": "qwen2.5-coder"}, {"id": "other"}]}),
            )
        } else {
            FakeResponse::json(404, &serde_json::json!({"error": "no"}))
        }
    })
    .await
    .expect("fake provider");
    let refusing = FakeProvider::start(|_| {
        FakeResponse::json(
            401,
            &serde_json::json!({"error": {"message": "invalid key"}}),
        )
    })
    .await
    .expect("fake provider");
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let config = format!(
        r#"
[llm.providers.gpu]
kind = "vllm"
base_url = "{live}/v1"
api_key = "vault:GPU_KEY"
models = ["qwen2.5-coder", "missing-model"]

[llm.providers.team]
kind = "openai-compatible"
base_url = "{refusing}/v1"
api_key = "vault:TEAM_KEY"

[llm.providers.ollama]
base_url = "http://127.0.0.1:{dead_port}"
"#,
        live = live.url(),
        refusing = refusing.url(),
    );
    let workspace = Workspace::new(&[("codexos.toml", &config)]);
    for (name, value) in [("GPU_KEY", "sk-live"), ("TEAM_KEY", "sk-wrong")] {
        let put = workspace.codexos(&["vault", "put", name], None, &format!("{value}\n"));
        assert_success(&put, "vault put");
    }
    let models = workspace.codexos(&["models", "list", "--json"], None, "");
    assert_success(&models, "models list");
    let listed: serde_json::Value = serde_json::from_slice(&models.stdout).expect("json");
    let state = |id: &str| {
        let provider = listed["providers"]
            .as_array()
            .and_then(|providers| providers.iter().find(|provider| provider["id"] == id))
            .unwrap_or_else(|| panic!("no provider {id}: {listed}"));
        (
            provider["state"].as_str().unwrap_or_default().to_owned(),
            provider["detail"].as_str().unwrap_or_default().to_owned(),
        )
    };
    assert_eq!(state("gpu"), ("ready".into(), "2 models listed".into()));
    let gpu = listed["providers"]
        .as_array()
        .and_then(|providers| providers.iter().find(|provider| provider["id"] == "gpu"))
        .expect("gpu");
    assert_eq!(
        gpu["expected_models"],
        serde_json::json!([
            {"model": "qwen2.5-coder", "listed": true},
            {"model": "missing-model", "listed": false}
        ])
    );
    let (team, why) = state("team");
    assert_eq!(team, "key_refused");
    assert!(
        why.contains("HTTP 401") && why.contains("invalid key"),
        "{why}"
    );
    assert_eq!(state("ollama").0, "unreachable");
    assert_eq!(
        state("openai"),
        ("skipped".into(), "no API key (set OPENAI_API_KEY)".into())
    );
    assert!(
        !text(&models.stdout).contains("sk-live"),
        "keys are never printed"
    );

    let table = workspace.codexos(&["models"], None, "");
    assert_success(&table, "models");
    let table = text(&table.stdout);
    assert!(
        table.contains("✓ answers (2 models listed); `missing-model` is not among them"),
        "{table}"
    );
    assert!(table.contains("✗ key refused: HTTP 401"), "{table}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_model_calls_its_listed_tools_over_three_rounds_reads_the_results_and_answers() {
    let workspace = Workspace::new(&[
        ("notes/plan.md", "Ship the parser on Friday.\n"),
        ("notes/owner.md", "Ada owns the parser.\n"),
        (
            "agent.flow.json",
            r#"{"id": "agent", "nodes": [
  {"id": "start", "type": "entry", "next": "ask"},
  {"id": "ask", "type": "llm", "model": "gpt-4o-mini", "tools": ["read_file"], "prompt": "{{input}}", "next": "end"},
  {"id": "end", "type": "exit", "output": "{{nodes.ask.output}}"}
]}"#,
        ),
    ]);
    let reply =
        |reply: ScriptedReply| FakeResponse::reply(WireFormat::OpenAiChat, &reply, "gpt-4o-mini");
    let fake = FakeProvider::scripted(vec![
        reply(ScriptedReply::text(&[]).tool_call(
            "call-1",
            "read_file",
            serde_json::json!({"path": "notes/plan.md"}),
        )),
        reply(ScriptedReply::text(&["Now the owner. "]).tool_call(
            "call-2",
            "read_file",
            serde_json::json!({"path": "notes/owner.md"}),
        )),
        reply(ScriptedReply::text(&["Ada ships the parser on Friday."])),
    ])
    .await
    .expect("fake provider");

    let run = workspace.codexos(
        &["run", "agent.flow.json", "--input", "who ships what, when?"],
        Some(&fake.url()),
        "",
    );
    assert_success(&run, "run");
    assert_eq!(text(&run.stdout).trim(), "Ada ships the parser on Friday.");
    let requests = fake.requests();
    assert_eq!(requests.len(), 3, "three rounds");
    let messages = |round: usize| requests[round].json().expect("json body")["messages"].clone();
    let tool_result = |round: usize| {
        messages(round)
            .as_array()
            .and_then(|messages| {
                messages
                    .iter()
                    .rev()
                    .find(|message| message["role"] == "tool")
                    .cloned()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        requests[0].json().expect("json")["tools"][0]["function"]["name"],
        "read_file"
    );
    assert_eq!(tool_result(1)["tool_call_id"], "call-1");
    assert!(
        tool_result(1)["content"]
            .as_str()
            .is_some_and(|content| content.contains("Ship the parser on Friday.")),
        "{}",
        tool_result(1)
    );
    assert_eq!(tool_result(2)["tool_call_id"], "call-2");
    assert!(
        tool_result(2)["content"]
            .as_str()
            .is_some_and(|content| content.contains("Ada owns the parser.")),
        "{}",
        tool_result(2)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_show_lists_each_failed_attempt_a_node_retried() {
    let workspace = Workspace::new(&[(
        "retry.flow.json",
        r#"{"id": "retry", "nodes": [
  {"id": "start", "type": "entry", "next": "ask"},
  {"id": "ask", "type": "llm", "model": "gpt-4o-mini", "prompt": "{{input}}", "retry": {"attempts": 2, "backoff_ms": 10, "on": ["error"]}, "next": "end"},
  {"id": "end", "type": "exit", "output": "{{nodes.ask.output}}"}
]}"#,
    )]);
    let fake = FakeProvider::scripted(vec![
        FakeResponse::json(
            400,
            &serde_json::json!({"error": {"message": "bad request once"}}),
        ),
        FakeResponse::reply(
            WireFormat::OpenAiChat,
            &ScriptedReply::text(&["second time"]),
            "gpt-4o-mini",
        ),
    ])
    .await
    .expect("fake provider");
    let run = workspace.codexos(
        &["run", "retry.flow.json", "--input", "q"],
        Some(&fake.url()),
        "",
    );
    assert_success(&run, "run");
    assert_eq!(text(&run.stdout).trim(), "second time");
    let shown = workspace.codexos(&["runs", "show", "last"], None, "");
    assert_success(&shown, "runs show last");
    let shown = text(&shown.stdout);
    assert!(
        shown.contains("↻ ask: attempt 1 of 2 failed (error): ")
            && shown.contains("bad request once"),
        "{shown}"
    );
}
