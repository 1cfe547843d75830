//! Agent runs as editor commands, through the real `codexos lsp` over stdio against the fake
//! LLM provider on loopback (as `OPENAI_BASE_URL`): `codexos.agent.run` streams `$/progress`
//! and `codexos/runEvent`, `codexos.agent.retry` resumes a failed run from the failed node,
//! `codexos.agent.replay` forks a run from a middle node with an edited prompt,
//! cancelling ends the progress and records the trace, a flow with errors never starts, and
//! flow files carry "▶ Run" / "↻ Retry last failed" code lenses.

use std::path::{Path, PathBuf};
use std::time::Duration;

use codexos_llm::WireFormat;
use codexos_llm::testing::{FakeProvider, FakeResponse, ScriptedReply};
use codexos_test_support::{AgentWorkspace, LspClient, fixtures};
use expect_test::expect;
use serde_json::{Value, json};

const SECRET: &str = "sk-lsp-planted-77312209";

/// A workspace whose server calls the fake provider ([`AgentWorkspace`]), started by a client
/// that shows progress, and the traces its runs leave.
struct Workspace(AgentWorkspace);

impl std::ops::Deref for Workspace {
    type Target = AgentWorkspace;

    fn deref(&self) -> &AgentWorkspace {
        &self.0
    }
}

impl Workspace {
    fn new(files: &[(&str, &str)]) -> Workspace {
        Workspace(AgentWorkspace::new(files))
    }

    /// `codexos lsp` in the workspace, its models at `llm_url`.
    fn start(&self, llm_url: &str) -> LspClient {
        self.0.start(
            Path::new(env!("CARGO_BIN_EXE_codexos")),
            llm_url,
            json!({ "window": { "workDoneProgress": true } }),
        )
    }

    fn traces(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.root().join(".codexos/runs"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "jsonl"))
            .collect()
    }
}

fn send_execute(client: &mut LspClient, command: &str, argument: Value) -> i64 {
    client.send_request(
        "workspace/executeCommand",
        json!({ "command": command, "arguments": [argument] }),
    )
}

/// What a run sent: its `$/progress` values and its `codexos/runEvent`s, once both ended.
struct Notifications {
    token: Value,
    progress: Vec<Value>,
    events: Vec<Value>,
}

fn notifications_of(client: &mut LspClient, run_id: &str) -> Notifications {
    let finished = client.wait_for_notification("codexos/runEvent", |event| {
        event["run_id"] == run_id && event["kind"] == "finished"
    });
    let token = finished["token"].clone();
    let end = client.wait_for_notification("$/progress", |params| {
        params["token"] == token && params["value"]["kind"] == "end"
    });
    let mut progress: Vec<Value> = client
        .take_notifications("$/progress")
        .into_iter()
        .filter(|params| params["token"] == token)
        .map(|params| params["value"].clone())
        .collect();
    progress.push(end["value"].clone());
    let mut events: Vec<Value> = client
        .take_notifications("codexos/runEvent")
        .into_iter()
        .filter(|event| event["run_id"] == run_id)
        .collect();
    events.push(finished);
    Notifications {
        token,
        progress,
        events,
    }
}

/// Times as `‹t›`, so snapshots do not depend on the machine.
fn mask_times(text: &str) -> String {
    let mut masked = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(" s") {
        let before = &rest[..at];
        let number_start = before
            .char_indices()
            .rev()
            .find(|(_, c)| !(c.is_ascii_digit() || *c == '.'))
            .map_or(0, |(i, c)| i + c.len_utf8());
        if number_start < before.len() {
            masked.push_str(&before[..number_start]);
            masked.push_str("‹t›");
        } else {
            masked.push_str(before);
        }
        masked.push_str(" s");
        rest = &rest[at + 2..];
    }
    masked.push_str(rest);
    masked
}

fn is_step(message: &str) -> bool {
    ["▶ ", "✓ ", "✗ ", "warning: "]
        .iter()
        .any(|prefix| message.starts_with(prefix))
}

/// One line per progress value, streamed tokens joined into one line (how they are cut
/// depends on timing).
fn render_progress(progress: &[Value], run_ids: &[(&str, &str)]) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut streaming = false;
    for value in progress {
        let kind = value["kind"].as_str().unwrap_or_default();
        let mask = |text: &str| {
            run_ids
                .iter()
                .fold(text.to_owned(), |text, (id, name)| text.replace(id, name))
        };
        let message = mask(value["message"].as_str().unwrap_or_default());
        if kind == "report" && !is_step(&message) {
            match lines.last_mut() {
                Some(last) if streaming => last.push_str(&message),
                _ => lines.push(format!("report (tokens) {message}")),
            }
            streaming = true;
            continue;
        }
        streaming = false;
        let line = match kind {
            "begin" => format!(
                "begin {} · {message} · cancellable: {}",
                mask(value["title"].as_str().unwrap_or_default()),
                value["cancellable"]
            ),
            other => format!("{other} {}", mask_times(&message)),
        };
        lines.push(line);
    }
    lines.join("\n") + "\n"
}

/// Parallel branches run in any order: the lines after the one starting with `after` and
/// before the one starting with `before` are sorted.
fn branches_in_any_order(rendered: &str, after: &str, before: &str) -> String {
    let mut lines: Vec<&str> = rendered.lines().collect();
    let start = lines.iter().position(|line| line.starts_with(after));
    let end = lines.iter().position(|line| line.starts_with(before));
    if let (Some(start), Some(end)) = (start, end)
        && start < end
    {
        lines[start + 1..end].sort();
    }
    lines.join("\n") + "\n"
}

fn short(text: &str) -> String {
    let line = text.replace('\n', "⏎");
    match line.char_indices().nth(48) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line,
    }
}

/// One line per run event, streamed tokens of a node joined into one line.
fn render_events(events: &[Value]) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut streaming: Option<String> = None;
    for event in events {
        let kind = event["kind"].as_str().unwrap_or_default();
        let node = event["node"].as_str().unwrap_or_default();
        let text = event["text"].as_str().unwrap_or_default();
        if kind == "token" {
            match lines.last_mut() {
                Some(last) if streaming.as_deref() == Some(node) => last.push_str(text),
                _ => lines.push(format!("token {node} {text}")),
            }
            streaming = Some(node.to_owned());
            continue;
        }
        streaming = None;
        let mut line = format!("{kind} {node}").trim_end().to_owned();
        if kind != "token" && !text.is_empty() {
            line.push_str(&format!(" {:?}", short(text)));
        }
        if event.get("ms").is_some() {
            line.push_str(" ‹ms›");
        }
        if let Some(model) = event["model"].as_str() {
            line.push_str(&format!(" model={model}"));
        }
        if let Some(status) = event["status"].as_str() {
            line.push_str(&format!(" status={status}"));
        }
        lines.push(line);
    }
    lines.join("\n") + "\n"
}

fn code_lenses(client: &mut LspClient, uri: &str) -> Vec<(String, String, Value)> {
    let lenses = client
        .request(
            "textDocument/codeLens",
            json!({ "textDocument": { "uri": uri } }),
        )
        .expect("codeLens answers");
    lenses
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|lens| {
            let command = &lens["command"];
            (
                command["title"].as_str().unwrap_or_default().to_owned(),
                command["command"].as_str().unwrap_or_default().to_owned(),
                command["arguments"][0].clone(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flow_with_every_node_type_runs_over_lsp_streaming_progress_and_run_events() {
    let workspace = Workspace::new(fixtures::EVERY_NODE_WORKSPACE);
    let fake = FakeProvider::replying(
        ScriptedReply::text(&[
            "Plan: rotate sk-lsp-",
            "planted-77312209 then ship. ",
            "LGTM",
        ])
        .usage(20, 9),
    )
    .await
    .expect("fake provider");
    let mut client = workspace.start(&fake.url());
    client
        .execute(
            "codexos.vault.put",
            json!({ "key": "api_token", "value": SECRET, "tags": ["ci"] }),
        )
        .expect("vault put");
    client.wait_for_notification("codexos/status", |status| status["state"] == "ready");

    let result = client
        .execute(
            "codexos.agent.run",
            json!({
                "agent_id": "release-bot",
                "flow": "release.flow.json",
                "context": ["notes.txt"],
                "input": "release parser notes",
            }),
        )
        .expect("the run answers");
    let run_id = result["run_id"].as_str().expect("a run id").to_owned();
    assert_eq!(result["status"], "succeeded", "{result}");
    assert_eq!(result["agent_id"], "release-bot", "{result}");
    assert_eq!(
        result["output"],
        "Summary: Plan: rotate [secret:api_token] then ship. LGTM"
    );
    assert_eq!(result["nodes"]["draft"]["type"], "llm");
    assert_eq!(result["nodes"]["search"]["status"], "succeeded");
    assert_eq!(result["usage"]["completion_tokens"], 18, "two answers of 9");
    assert!(
        result["sources"]
            .as_array()
            .is_some_and(|sources| sources.iter().any(|s| s["path"] == "src/parser.rs")),
        "{result}"
    );

    let run = notifications_of(&mut client, &run_id);
    expect![[r#"
        begin Running every-node · run ‹run› · cancellable: true
        report ▶ start (entry)
        report ✓ start · ‹t› s
        report ▶ key (vault)
        report ✓ key · ‹t› s · secret `api_token` is available as {{vars.token}}
        report ▶ notes (tool)
        report ▶ search (rag)
        report ✓ notes · ‹t› s
        report ✓ search · ‹t› s · 2 chunks for "release parser notes"
        report ▶ draft (llm)
        report (tokens) Plan: rotate [secret:api_token] then ship. LGTM
        report ✓ draft · ‹t› s · openai/gpt-4o-mini · 29 tokens
        report ▶ review (reflect)
        report ▶ draft (llm, re-run 1)
        report (tokens) Plan: rotate [secret:api_token] then ship. LGTM
        report ✓ draft · ‹t› s · openai/gpt-4o-mini · 29 tokens
        report warning: review: `until` still did not hold after 1 re-runs of `draft` (the bound)
        report ✓ review · ‹t› s · `until` still did not hold after 1 re-runs of `draft` (the bound)
        report ▶ ok (condition)
        report ✓ ok · ‹t› s · `if` held: going to `summary`
        report ▶ summary (flow)
        report ▶ summary/in (entry)
        report ✓ summary/in · ‹t› s
        report ▶ summary/out (exit)
        report ✓ summary/out · ‹t› s
        report ✓ summary · ‹t› s
        report ▶ done (exit)
        report ✓ done · ‹t› s
        end ✓ succeeded in ‹t› s
    "#]]
    .assert_eq(&branches_in_any_order(
        &render_progress(&run.progress, &[(&run_id, "‹run›")]),
        "report ✓ key",
        "report ▶ draft",
    ));
    expect![[r#"
        started "every-node"
        node_started start "entry"
        node_finished start "release parser notes" ‹ms›
        node_started key "vault"
        node_finished key "release parser notes" ‹ms›
        decision notes "allowed by policy: read `notes.txt`: agents may …"
        node_finished notes "Ship the parser fix first." ‹ms›
        node_finished search "src/parser.rs:1-4⏎/// Parses release notes.⏎pub …" ‹ms›
        node_started notes "tool"
        node_started search "rag"
        node_started draft "llm"
        token draft Plan: rotate [secret:api_token] then ship. LGTM
        node_finished draft "Plan: rotate [secret:api_token] then ship. LGTM" ‹ms› model=openai/gpt-4o-mini
        node_started review "reflect"
        node_started draft "llm"
        token draft Plan: rotate [secret:api_token] then ship. LGTM
        node_finished draft "Plan: rotate [secret:api_token] then ship. LGTM" ‹ms› model=openai/gpt-4o-mini
        warning review "`until` still did not hold after 1 re-runs of `d…"
        node_finished review "Plan: rotate [secret:api_token] then ship. LGTM" ‹ms›
        node_started ok "condition"
        node_finished ok "Plan: rotate [secret:api_token] then ship. LGTM" ‹ms›
        node_started summary "flow"
        decision summary "allowed by policy: run the sub-flow `agents/summ…"
        node_started summary/in "entry"
        node_finished summary/in "Plan: rotate [secret:api_token] then ship. LGTM" ‹ms›
        node_started summary/out "exit"
        node_finished summary/out "Summary: Plan: rotate [secret:api_token] then sh…" ‹ms›
        node_finished summary "Summary: Plan: rotate [secret:api_token] then sh…" ‹ms›
        node_started done "exit"
        node_finished done "Summary: Plan: rotate [secret:api_token] then sh…" ‹ms›
        finished "Summary: Plan: rotate [secret:api_token] then sh…" ‹ms› status=succeeded
    "#]]
    .assert_eq(&branches_in_any_order(
        &render_events(&run.events),
        "node_finished key",
        "node_started draft",
    ));
    assert!(
        run.events.iter().all(|event| event["token"] == run.token),
        "every run event names the run's progress token"
    );
    assert!(
        client
            .server_requests
            .iter()
            .any(
                |request| request["method"] == "window/workDoneProgress/create"
                    && request["params"]["token"] == run.token
            ),
        "the server created the run's progress token"
    );

    let requests = fake.requests();
    assert_eq!(requests.len(), 2, "the draft and its one re-run");
    let prompt = String::from_utf8_lossy(&requests[0].body).into_owned();
    assert!(prompt.contains(SECRET), "the model was given the secret");
    assert!(
        prompt.contains("parse_release_notes"),
        "the open index's chunk reached the prompt"
    );

    let everything = format!(
        "{result}\n{:?}\n{:?}\n{}",
        run.progress,
        run.events,
        client.stderr()
    );
    assert!(
        !everything.contains("planted-77312209"),
        "the secret leaked into what the server sent"
    );
    let traces = workspace.traces();
    assert_eq!(traces.len(), 1, "one trace");
    let trace = std::fs::read_to_string(&traces[0]).expect("trace");
    assert!(!trace.contains("planted-77312209"));
    assert!(client.shutdown_and_exit().success());
}

const FLAKY: &str = r#"{"id": "flaky", "nodes": [
  {"id": "start", "type": "entry", "next": "ask"},
  {"id": "ask", "type": "llm", "model": "gpt-4o-mini", "prompt": "{{input}}", "next": "read"},
  {"id": "read", "type": "tool", "tool": "read_file", "args": {"path": "later.txt"}, "next": "end"},
  {"id": "end", "type": "exit", "output": "{{nodes.ask.output}} / {{nodes.read.output}}"}
]}"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_run_offers_retry_and_the_retry_resumes_from_the_failed_node() {
    let workspace = Workspace::new(&[("flaky.flow.json", FLAKY)]);
    let fake = FakeProvider::replying(ScriptedReply::text(&["answer"]))
        .await
        .expect("fake provider");
    let mut client = workspace.start(&fake.url());
    let uri = workspace.uri("flaky.flow.json");
    let run_lens = (
        "▶ Run".to_owned(),
        "codexos.agent.run".to_owned(),
        json!({ "flow": "flaky.flow.json" }),
    );
    assert_eq!(code_lenses(&mut client, &uri), vec![run_lens.clone()]);

    let failed = client
        .execute(
            "codexos.agent.run",
            json!({ "flow": "flaky.flow.json", "input": "q" }),
        )
        .expect("a failed run still answers");
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["nodes"]["read"]["status"], "failed");
    let error = failed["error"].as_str().unwrap_or_default();
    assert!(error.contains("node `read`: tool `read_file`"), "{error}");
    let failed_id = failed["run_id"].as_str().expect("run id").to_owned();
    let run = notifications_of(&mut client, &failed_id);
    let end = &run.progress[run.progress.len() - 1];
    assert!(
        end["message"]
            .as_str()
            .is_some_and(|message| message.starts_with("✗ failed after")),
        "{end}"
    );

    let retry_lens = (
        "↻ Retry last failed".to_owned(),
        "codexos.agent.retry".to_owned(),
        json!({ "run_id": failed_id }),
    );
    assert_eq!(
        code_lenses(&mut client, &uri),
        vec![run_lens.clone(), retry_lens.clone()]
    );

    workspace.write("later.txt", "now here");
    let retried = client
        .execute(&retry_lens.1, retry_lens.2.clone())
        .expect("retry");
    assert_eq!(retried["status"], "succeeded", "{retried}");
    assert_eq!(retried["output"], "answer / now here");
    assert_eq!(retried["retry_of"], failed_id.as_str());
    assert_eq!(retried["nodes"]["ask"]["status"], "replayed");
    assert_eq!(fake.requests().len(), 1, "the model was not asked again");
    let retried_id = retried["run_id"].as_str().expect("run id").to_owned();
    let run = notifications_of(&mut client, &retried_id);
    expect![[r#"
        begin Retrying flaky (run ‹failed›) · run ‹run› · cancellable: true
        report ▶ read (tool)
        report ✓ read · ‹t› s
        report ▶ end (exit)
        report ✓ end · ‹t› s
        end ✓ succeeded in ‹t› s
    "#]]
    .assert_eq(&render_progress(
        &run.progress,
        &[(&retried_id, "‹run›"), (&failed_id, "‹failed›")],
    ));

    assert_eq!(code_lenses(&mut client, &uri), vec![run_lens]);
    let again = client.execute("codexos.agent.retry", json!({ "run_id": retried_id }));
    assert!(
        again
            .as_ref()
            .is_err_and(|error| error.contains("succeeded: there is nothing to retry")),
        "{again:?}"
    );
    assert!(client.shutdown_and_exit().success());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replay_forks_a_run_from_a_middle_node_with_an_edited_prompt_streaming_progress() {
    let workspace = Workspace::new(&[("five.flow.json", fixtures::FIVE_NODE_FLOW)]);
    let fake = FakeProvider::replying(ScriptedReply::text(&["answer"]))
        .await
        .expect("fake provider");
    let mut client = workspace.start(&fake.url());
    let failed = client
        .execute(
            "codexos.agent.run",
            json!({ "flow": "five.flow.json", "input": "q" }),
        )
        .expect("a failed run still answers");
    assert_eq!(failed["status"], "failed", "{failed}");
    let failed_id = failed["run_id"].as_str().expect("run id").to_owned();
    notifications_of(&mut client, &failed_id);
    assert_eq!(fake.requests().len(), 2);
    let traces = workspace.traces().len();

    for (argument, expected) in [
        (
            json!({ "run_id": "1999", "from": "draft" }),
            "codexos.agent.replay: no run `1999` in ",
        ),
        (
            json!({ "run_id": failed_id, "from": "drfat" }),
            "no node `drfat` in flow `five`: did you mean `draft`?",
        ),
        (
            json!({ "run_id": failed_id, "from": "end" }),
            "node `end` never ran in run ",
        ),
        (
            json!({ "run_id": failed_id, "from": "draft", "set": { "draft.modle": "x" } }),
            "`draft.modle` is not an edit (did you mean `draft.model`?)",
        ),
        (
            json!({ "run_id": failed_id, "set": {} }),
            "codexos.agent.replay: invalid argument: missing field `from`",
        ),
    ] {
        let refused = client.execute("codexos.agent.replay", argument.clone());
        assert!(
            refused
                .as_ref()
                .is_err_and(|error| error.contains(expected)),
            "{argument}: {refused:?}"
        );
    }
    assert_eq!(fake.requests().len(), 2, "no model was asked");
    assert_eq!(workspace.traces().len(), traces, "no run was recorded");

    workspace.write("notes.txt", "notes");
    let forked = client
        .execute(
            "codexos.agent.replay",
            json!({
                "run_id": "last",
                "from": "draft",
                "set": { "draft.prompt": "Shorter: {{nodes.plan.output}}" }
            }),
        )
        .expect("replay");
    assert_eq!(forked["status"], "succeeded", "{forked}");
    assert_eq!(forked["output"], "answer / notes");
    assert_eq!(forked["nodes"]["plan"]["status"], "replayed");
    assert_eq!(
        forked["forked_from"],
        json!({ "run_id": failed_id, "node": "draft", "set": { "draft.prompt": "Shorter: {{nodes.plan.output}}" } })
    );
    let requests = fake.requests();
    assert_eq!(requests.len(), 3, "only draft was asked again");
    let body = requests[2].json().unwrap_or_default();
    assert_eq!(body["messages"][0]["content"], "Shorter: answer", "{body}");
    let forked_id = forked["run_id"].as_str().expect("run id").to_owned();
    let run = notifications_of(&mut client, &forked_id);
    expect![[r#"
        begin Running five (fork of ‹failed› from draft (set draft.prompt)) · run ‹run› · cancellable: true
        report ▶ draft (llm)
        report (tokens) answer
        report ✓ draft · ‹t› s · openai/gpt-4o-mini
        report ▶ read (tool)
        report ✓ read · ‹t› s
        report ▶ end (exit)
        report ✓ end · ‹t› s
        end ✓ succeeded in ‹t› s
    "#]]
    .assert_eq(&render_progress(
        &run.progress,
        &[(&forked_id, "‹run›"), (&failed_id, "‹failed›")],
    ));
    assert!(client.shutdown_and_exit().success());
}

const STALLING: &str = r#"{"id": "slow", "nodes": [
  {"id": "start", "type": "entry", "next": "think"},
  {"id": "think", "type": "llm", "model": "gpt-4o-mini", "prompt": "{{input}}", "next": "end"},
  {"id": "end", "type": "exit", "output": "{{nodes.think.output}}"}
]}"#;

/// Sends a run of the stalling flow and waits until its model streams; its run id and token.
fn start_stalling_run(client: &mut LspClient) -> (i64, String, Value) {
    let request = send_execute(
        client,
        "codexos.agent.run",
        json!({ "flow": "slow.flow.json", "input": "ponder" }),
    );
    let streaming = client.wait_for_notification("codexos/runEvent", |event| {
        event["kind"] == "token" && event["node"] == "think"
    });
    let run_id = streaming["run_id"].as_str().expect("run id").to_owned();
    (request, run_id, streaming["token"].clone())
}

fn last_trace_line(workspace: &Workspace, run_id: &str) -> Value {
    let trace = std::fs::read_to_string(
        workspace
            .root()
            .join(format!(".codexos/runs/{run_id}.jsonl")),
    )
    .expect("the run's trace");
    serde_json::from_str(trace.lines().last().unwrap_or_default()).expect("a JSON line")
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelling_a_stalled_run_ends_its_progress_as_cancelled_and_records_the_trace() {
    let workspace = Workspace::new(&[("slow.flow.json", STALLING)]);
    let fake = FakeProvider::start(|request| {
        let model = request.model().unwrap_or_default();
        let reply = ScriptedReply::text(&["Thinking ", "very ", "hard"]);
        // The role chunk and the first words, then nothing, ever.
        FakeResponse::reply(WireFormat::OpenAiChat, &reply, &model).stall_after(2)
    })
    .await
    .expect("fake provider");
    let mut client = workspace.start(&fake.url());

    // From the progress UI: window/workDoneProgress/cancel.
    let (request, run_id, token) = start_stalling_run(&mut client);
    client.notify("window/workDoneProgress/cancel", json!({ "token": token }));
    let result = client.response(request).expect("a cancelled run answers");
    assert_eq!(result["status"], "cancelled", "{result}");
    assert_eq!(result["nodes"]["think"]["status"], "stopped", "{result}");
    let run = notifications_of(&mut client, &run_id);
    let kinds: Vec<&str> = run
        .events
        .iter()
        .filter_map(|event| event["kind"].as_str())
        .filter(|kind| *kind != "token")
        .collect();
    assert_eq!(
        kinds,
        [
            "started",
            "node_started",
            "node_finished",
            "node_started",
            "node_failed",
            "finished"
        ]
    );
    let end = run.progress.last().expect("an end");
    assert!(
        end["kind"] == "end"
            && end["message"]
                .as_str()
                .is_some_and(|message| message.starts_with("cancelled after")),
        "{end}"
    );
    let last = last_trace_line(&workspace, &run_id);
    assert_eq!(last["status"], "cancelled", "{last}");
    assert_eq!(last["frontier"], json!(["think"]));
    assert!(
        fake.wait_for_client_to_close_early(Duration::from_secs(10))
            .await,
        "cancelling closed the model's connection"
    );

    // From a command: codexos.agent.cancel {run_id}.
    let (request, run_id, _) = start_stalling_run(&mut client);
    let cancelled = client.execute("codexos.agent.cancel", json!({ "run_id": run_id }));
    assert_eq!(cancelled, Ok(Value::Null));
    let result = client.response(request).expect("a cancelled run answers");
    assert_eq!(result["status"], "cancelled", "{result}");
    assert_eq!(last_trace_line(&workspace, &run_id)["status"], "cancelled");
    let unknown = client.execute("codexos.agent.cancel", json!({ "run_id": run_id }));
    assert!(
        unknown
            .as_ref()
            .is_err_and(|error| error.contains(&format!("no run `{run_id}` is going"))),
        "{unknown:?}"
    );
    assert!(client.shutdown_and_exit().success());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flow_with_errors_never_starts_and_the_error_names_its_findings() {
    let broken = r#"{"id": "broken", "nodes": [
  {"id": "start", "type": "entry", "next": "missing"},
  {"id": "end", "type": "exit"}
]}"#;
    let workspace = Workspace::new(&[("broken.flow.json", broken)]);
    let fake = FakeProvider::replying(ScriptedReply::text(&["never"]))
        .await
        .expect("fake provider");
    let mut client = workspace.start(&fake.url());
    let from_file = client.execute(
        "codexos.agent.run",
        json!({ "flow": "broken.flow.json", "input": "x" }),
    );
    let error = from_file.expect_err("a flow with errors does not run");
    assert!(
        error.starts_with("-32003 codexos.agent.run: ")
            && error.contains("broken.flow.json has errors, so nothing ran: 2:")
            && error.contains("error[unknown-node]"),
        "{error}"
    );
    let inline: Value = serde_json::from_str(broken).expect("json");
    let from_object = client.execute("codexos.agent.run", json!({ "flow": inline, "input": "x" }));
    assert!(
        from_object.is_err_and(|error| error.contains("error[unknown-node]")),
        "an inline flow is checked too"
    );
    let outside = client.execute(
        "codexos.agent.run",
        json!({ "flow": "../elsewhere.flow.json" }),
    );
    assert!(
        outside.is_err_and(|error| error.contains("flow `../elsewhere.flow.json`")),
        "paths stay inside the workspace"
    );

    let echo = json!({"id": "echo", "nodes": [
        {"id": "start", "type": "entry", "next": "end"},
        {"id": "end", "type": "exit", "output": "echo {{input}}"}
    ]});
    let ran = client
        .execute("codexos.agent.run", json!({ "flow": echo, "input": "hi" }))
        .expect("an inline flow runs");
    assert_eq!(ran["output"], "echo hi");
    let run_ids: Vec<Value> = client
        .take_notifications("codexos/runEvent")
        .into_iter()
        .map(|event| event["run_id"].clone())
        .collect();
    assert!(
        run_ids.iter().all(|id| *id == ran["run_id"]),
        "only the inline run sent events"
    );
    assert_eq!(
        workspace.traces().len(),
        1,
        "only the inline run was recorded"
    );
    assert!(fake.requests().is_empty());
    assert!(client.shutdown_and_exit().success());
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_finishing_together_ask_the_editor_to_refresh_code_lenses_once() {
    let workspace = Workspace::new(&[(
        "echo.flow.json",
        r#"{"id": "echo", "nodes": [
  {"id": "start", "type": "entry", "next": "end"},
  {"id": "end", "type": "exit", "output": "echo {{input}}"}
]}"#,
    )]);
    let fake = FakeProvider::replying(ScriptedReply::text(&["unused"]))
        .await
        .expect("fake provider");
    let mut client = workspace.0.start(
        Path::new(env!("CARGO_BIN_EXE_codexos")),
        &fake.url(),
        json!({ "workspace": { "codeLens": { "refreshSupport": true } } }),
    );
    let runs: Vec<i64> = (0..20)
        .map(|run| {
            send_execute(
                &mut client,
                "codexos.agent.run",
                json!({ "flow": "echo.flow.json", "input": run.to_string() }),
            )
        })
        .collect();
    for id in runs {
        let answer = client.response(id).expect("the run answers");
        assert_eq!(answer["status"], "succeeded", "{answer}");
    }
    client.wait_for("a code lens refresh", |message| {
        message["method"] == "workspace/codeLens/refresh"
    });
    // A later run gets a refresh of its own, so the lenses never miss the newest run.
    let last = client
        .execute(
            "codexos.agent.run",
            json!({ "flow": "echo.flow.json", "input": "last" }),
        )
        .expect("the last run answers");
    assert_eq!(last["output"], "echo last");
    client.wait_for("the last run's code lens refresh", |message| {
        message["method"] == "workspace/codeLens/refresh"
    });
    let refreshes = client
        .server_requests
        .iter()
        .filter(|request| request["method"] == "workspace/codeLens/refresh")
        .count();
    // Without sharing, 21 runs send 21 refreshes; the bound leaves room for a busy machine
    // spreading the twenty over several refresh delays.
    assert!(
        (2..=10).contains(&refreshes),
        "21 runs, {refreshes} refreshes: runs finishing together share one"
    );
}
