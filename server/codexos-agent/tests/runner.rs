//! The runner end to end in process: real flows, real tool processes, the LLM router against
//! the fake provider on loopback, a real vault on disk.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use codexos_agent::{
    Caller, CancellationToken, EventSink, Limits, NodeStatus, ReplayRequest, Retriever, RunError,
    RunEvent, RunRequest, RunResult, RunStatus, Runner, SearchHit, ToolBox,
};
use codexos_llm::testing::{FakeProvider, FakeResponse, ScriptedReply};
use codexos_llm::{Router, ToolDefinition, WireFormat};
use codexos_vault::{MasterKey, SecretString, Vault};
use futures_util::future::BoxFuture;
use serde_json::Value;
use tokio::sync::Notify;

/// Tools for tests: `echo` returns `args.text`; `count` returns `v1`, `v2`… per call; `flaky`
/// fails while `failures` says so; `sleep` starts a real `sleep 30` process.
/// `meet` returns `args.text` once two calls are waiting in it: only parallel branches pass.
struct TestTools {
    calls: Mutex<Vec<String>>,
    counts: Mutex<HashMap<String, u32>>,
    failures: Mutex<u32>,
    pids: Mutex<Vec<u32>>,
    sleeping: Notify,
    meeting: tokio::sync::Barrier,
}

impl Default for TestTools {
    fn default() -> TestTools {
        TestTools {
            calls: Mutex::default(),
            counts: Mutex::default(),
            failures: Mutex::default(),
            pids: Mutex::default(),
            sleeping: Notify::new(),
            meeting: tokio::sync::Barrier::new(2),
        }
    }
}

impl TestTools {
    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

impl ToolBox for TestTools {
    fn call<'a>(
        &'a self,
        name: &'a str,
        args: Value,
        caller: Caller,
    ) -> BoxFuture<'a, Result<Value, String>> {
        Box::pin(async move {
            let text = args.get("text").and_then(Value::as_str).unwrap_or_default();
            self.calls.lock().unwrap().push(format!("{name}({text})"));
            match name {
                "echo" => Ok(Value::from(text)),
                "meet" => {
                    self.meeting.wait().await;
                    Ok(Value::from(text))
                }
                "count" => {
                    let mut counts = self.counts.lock().unwrap();
                    let n = counts.entry(text.to_owned()).or_default();
                    *n += 1;
                    Ok(Value::from(format!("v{n}")))
                }
                "flaky" => {
                    let mut failures = self.failures.lock().unwrap();
                    if *failures > 0 {
                        *failures -= 1;
                        return Err("the service is down".to_owned());
                    }
                    Ok(Value::from(format!("fixed {text}")))
                }
                "sleep" => {
                    let mut child = tokio::process::Command::new("sleep")
                        .arg("30")
                        .kill_on_drop(true)
                        .spawn()
                        .map_err(|e| e.to_string())?;
                    self.pids
                        .lock()
                        .unwrap()
                        .push(child.id().unwrap_or_default());
                    self.sleeping.notify_one();
                    tokio::select! {
                        status = child.wait() => Ok(Value::from(format!("{status:?}"))),
                        () = caller.cancel.cancelled() => Err("cancelled".to_owned()),
                    }
                }
                other => Err(format!("unknown tool `{other}`")),
            }
        })
    }

    fn definitions<'a>(
        &'a self,
        _names: &'a [String],
        _caller: Caller,
    ) -> BoxFuture<'a, Vec<ToolDefinition>> {
        Box::pin(async { Vec::new() })
    }
}

struct Events(Arc<Mutex<Vec<RunEvent>>>);

impl Events {
    fn new() -> (Events, EventSink) {
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&events);
        (
            Events(events),
            Arc::new(move |event: &RunEvent| sink.lock().unwrap().push(event.clone())),
        )
    }

    fn all(&self) -> Vec<RunEvent> {
        self.0.lock().unwrap().clone()
    }

    /// `started:x`, `finished:x`, `failed:x` lines, in order.
    fn steps(&self) -> Vec<String> {
        self.all()
            .iter()
            .filter_map(|event| match event {
                RunEvent::NodeStarted {
                    node, iteration, ..
                } if *iteration > 0 => Some(format!("started:{node}#{iteration}")),
                RunEvent::NodeStarted { node, .. } => Some(format!("started:{node}")),
                RunEvent::NodeFinished { node, .. } => Some(format!("finished:{node}")),
                RunEvent::NodeFailed { node, .. } => Some(format!("failed:{node}")),
                _ => None,
            })
            .collect()
    }
}

async fn run_text(runner: &Runner, flow: &str, input: &str) -> (RunResult, Events) {
    let (events, sink) = Events::new();
    let request = RunRequest {
        flow_text: flow.to_owned(),
        input: input.to_owned(),
        ..RunRequest::default()
    };
    let result = runner
        .run(request, sink, CancellationToken::new())
        .await
        .unwrap_or_else(|error| panic!("the run did not start: {error}"));
    (result, events)
}

async fn run_file(runner: &Runner, path: &Path, input: &str) -> (RunResult, Events) {
    let (events, sink) = Events::new();
    let request = RunRequest::from_file(path, input).expect("flow file");
    let result = runner
        .run(request, sink, CancellationToken::new())
        .await
        .unwrap_or_else(|error| panic!("the run did not start: {error}"));
    (result, events)
}

fn tools_runner(tools: &Arc<TestTools>) -> Runner {
    Runner::new().with_tools(Arc::clone(tools) as Arc<dyn ToolBox>)
}

fn process_is_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // A zombie has been killed and only waits to be reaped.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}

async fn wait_until_gone(pid: u32) -> bool {
    for _ in 0..100 {
        if process_is_gone(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

const FAN_OUT: &str = r#"{"id": "fan", "nodes": [
{"id": "start", "type": "entry", "next": ["left", "right"]},
{"id": "left", "type": "tool", "tool": "meet", "args": {"text": "L({{input}})"}, "next": "left2"},
{"id": "left2", "type": "tool", "tool": "echo", "args": {"text": "{{nodes.left.output}}+"}, "next": "join"},
{"id": "right", "type": "tool", "tool": "meet", "args": {"text": "R({{input}})"}, "next": "join"},
{"id": "join", "type": "tool", "tool": "echo", "args": {"text": "{{nodes.left2.output}} & {{nodes.right.output}}"}, "next": "end"},
{"id": "end", "type": "exit"}
]}"#;

#[tokio::test]
async fn fan_out_branches_run_in_parallel_and_join_before_the_exit() {
    let tools = Arc::new(TestTools::default());
    let runner = tools_runner(&tools);
    let run = run_text(&runner, FAN_OUT, "x");
    let (result, events) = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("both branches reach `meet` together");
    assert_eq!(result.status, RunStatus::Succeeded, "{:?}", result.errors);
    assert_eq!(result.output.as_deref(), Some("L(x)+ & R(x)"));
    let steps = events.steps();
    let position = |step: &str| steps.iter().position(|s| s == step).unwrap_or(usize::MAX);
    assert!(position("started:join") > position("finished:left2"));
    assert!(position("started:join") > position("finished:right"));
    assert_eq!(
        tools
            .calls()
            .iter()
            .filter(|c| c.starts_with("echo(L(x)+ &"))
            .count(),
        1,
        "the join runs once"
    );
}

const TRIAGE: &str = r#"{"id": "triage", "nodes": [
{"id": "start", "type": "entry", "next": "is_bug"},
{"id": "is_bug", "type": "condition", "if": "{{input}} contains \"bug\" and not {{input}} matches \"(?i)^feature\"", "then": "fix", "else": "reply"},
{"id": "fix", "type": "tool", "tool": "echo", "args": {"text": "fixing {{input}}"}, "next": "done"},
{"id": "reply", "type": "tool", "tool": "echo", "args": {"text": "thanks for {{input}}"}, "next": "done"},
{"id": "done", "type": "exit"}
]}"#;

#[tokio::test]
async fn a_condition_takes_the_then_branch_when_it_holds() {
    let tools = Arc::new(TestTools::default());
    let (result, events) = run_text(&tools_runner(&tools), TRIAGE, "a bug in parsing").await;
    assert_eq!(result.output.as_deref(), Some("fixing a bug in parsing"));
    assert!(!events.steps().contains(&"started:reply".to_owned()));
}

#[tokio::test]
async fn a_condition_takes_the_else_branch_when_it_does_not_hold() {
    let tools = Arc::new(TestTools::default());
    let (result, events) =
        run_text(&tools_runner(&tools), TRIAGE, "Feature: fix the bug label").await;
    assert_eq!(
        result.output.as_deref(),
        Some("thanks for Feature: fix the bug label")
    );
    assert!(!events.steps().contains(&"started:fix".to_owned()));
}

const REFLECT: &str = r#"{"id": "reflect", "nodes": [
{"id": "start", "type": "entry", "next": "draft"},
{"id": "draft", "type": "tool", "tool": "count", "args": {"text": "draft"}, "next": "improve"},
{"id": "improve", "type": "reflect", "target": "draft", "max_iterations": 3, "until": "UNTIL", "next": "end"},
{"id": "end", "type": "exit"}
]}"#;

#[tokio::test]
async fn reflection_stops_at_its_bound_with_a_warning() {
    let tools = Arc::new(TestTools::default());
    let flow = REFLECT.replace("UNTIL", r#"{{nodes.draft.output}} == \"never\""#);
    let (result, events) = run_text(&tools_runner(&tools), &flow, "").await;
    assert_eq!(result.status, RunStatus::Succeeded);
    assert_eq!(result.output.as_deref(), Some("v4"), "1 run + 3 re-runs");
    assert_eq!(result.node("draft").map(|n| n.runs), Some(4));
    assert!(events.steps().contains(&"started:draft#3".to_owned()));
    assert!(
        result
            .warnings
            .iter()
            .any(|w| w.message
                == "`until` still did not hold after 3 re-runs of `draft` (the bound)"),
        "{:?}",
        result.warnings
    );
}

#[tokio::test]
async fn reflection_stops_as_soon_as_until_holds() {
    let tools = Arc::new(TestTools::default());
    let flow = REFLECT.replace("UNTIL", r#"{{nodes.draft.output}} == \"v2\""#);
    let (result, _) = run_text(&tools_runner(&tools), &flow, "").await;
    assert_eq!(result.output.as_deref(), Some("v2"));
    assert_eq!(result.node("draft").map(|n| n.runs), Some(2));
    assert!(result.warnings.is_empty(), "{:?}", result.warnings);
}

const ENDLESS: &str = r#"{"id": "endless", "nodes": [
{"id": "start", "type": "entry", "next": "again"},
{"id": "again", "type": "condition", "if": "true", "then": "work", "else": "end"},
{"id": "work", "type": "tool", "tool": "count", "args": {"text": "loop"}, "next": "again"},
{"id": "end", "type": "exit"}
]}"#;

#[tokio::test]
async fn the_step_bound_stops_a_loop_that_never_leaves() {
    let tools = Arc::new(TestTools::default());
    let runner = tools_runner(&tools).with_limits(Limits {
        max_steps: 41,
        ..Limits::default()
    });
    let (result, _) = run_text(&runner, ENDLESS, "").await;
    assert_eq!(result.status, RunStatus::Failed);
    assert_eq!(tools.calls().len(), 20);
    let error = &result.errors[0];
    assert_eq!(error.node.as_deref(), Some("again"));
    assert!(
        error
            .message
            .starts_with("the run reached its bound of 41 steps"),
        "{error}"
    );
}

const NAP: &str = r#"{"id": "nap", "nodes": [
{"id": "start", "type": "entry", "next": "nap"},
{"id": "nap", "type": "tool", "tool": "sleep", "next": "end"},
{"id": "end", "type": "exit"}
]}"#;

/// Runs [`NAP`] (a `sleep 30` tool) under `limits`; returns the run's first error once the
/// sleep process is gone.
async fn nap_error(limits: Limits) -> String {
    let tools = Arc::new(TestTools::default());
    let (result, _) = run_text(&tools_runner(&tools).with_limits(limits), NAP, "").await;
    assert_eq!(result.status, RunStatus::Failed);
    let pid = tools.pids.lock().unwrap()[0];
    assert!(wait_until_gone(pid).await, "sleep {pid} still runs");
    result.errors[0].to_string()
}

#[tokio::test]
async fn the_run_timeout_stops_a_run_and_kills_its_tool() {
    let limits = Limits {
        timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    assert_eq!(
        nap_error(limits).await,
        "the run did not finish within its time limit of 0.3 s"
    );
}

#[tokio::test]
async fn a_hanging_tool_is_killed_at_its_timeout() {
    let limits = Limits {
        tool_timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    assert_eq!(
        nap_error(limits).await,
        "node `nap`: tool `sleep` did not finish within 0.2 s and was stopped"
    );
}

#[tokio::test]
async fn cancelling_a_run_halfway_kills_its_child_process_and_records_what_it_did() {
    let tools = Arc::new(TestTools::default());
    let dir = tempfile::tempdir().expect("temp dir");
    let runner = tools_runner(&tools).record_traces(dir.path());
    let flow = r#"{"id": "cancel", "nodes": [
{"id": "start", "type": "entry", "next": "first"},
{"id": "first", "type": "tool", "tool": "echo", "args": {"text": "done"}, "next": "nap"},
{"id": "nap", "type": "tool", "tool": "sleep", "next": "end"},
{"id": "end", "type": "exit"}
]}"#;
    let cancel = CancellationToken::new();
    let (events, sink) = Events::new();
    let request = RunRequest {
        flow_text: flow.to_owned(),
        ..RunRequest::default()
    };
    let cancelling = {
        let tools = Arc::clone(&tools);
        let cancel = cancel.clone();
        async move {
            tools.sleeping.notified().await;
            cancel.cancel();
        }
    };
    let (result, ()) = tokio::join!(runner.run(request, sink, cancel.clone()), cancelling);
    let result = result.expect("started");
    assert_eq!(result.status, RunStatus::Cancelled);
    assert_eq!(
        result.node("first").map(|n| n.status),
        Some(NodeStatus::Succeeded)
    );
    assert_eq!(
        result.node("nap").map(|n| n.status),
        Some(NodeStatus::Stopped)
    );
    assert!(events.steps().contains(&"failed:nap".to_owned()));
    let pid = tools.pids.lock().unwrap()[0];
    assert!(wait_until_gone(pid).await, "sleep {pid} still runs");
    let trace = std::fs::read_to_string(result.trace.expect("recorded")).expect("trace");
    let last = trace.lines().last().unwrap_or_default();
    assert!(
        last.contains(r#""status":"cancelled""#) && last.contains(r#""frontier":["nap"]"#),
        "{last}"
    );
}

#[tokio::test]
async fn retry_runs_again_from_the_failed_node_with_the_earlier_outputs() {
    let tools = Arc::new(TestTools::default());
    *tools.failures.lock().unwrap() = 1;
    let dir = tempfile::tempdir().expect("temp dir");
    let runner = tools_runner(&tools).record_traces(dir.path());
    let flow = r#"{"id": "retry", "nodes": [
{"id": "start", "type": "entry", "next": "a"},
{"id": "a", "type": "tool", "tool": "count", "args": {"text": "a"}, "next": "b"},
{"id": "b", "type": "tool", "tool": "flaky", "args": {"text": "{{nodes.a.output}}"}, "next": "end"},
{"id": "end", "type": "exit", "output": "{{nodes.a.output}} then {{nodes.b.output}}"}
]}"#;
    let path = dir.path().join("retry.flow.json");
    std::fs::write(&path, flow).expect("write flow");
    let (failed, _) = run_file(&runner, &path, "in").await;
    assert_eq!(failed.status, RunStatus::Failed);
    assert_eq!(
        failed.errors[0].to_string(),
        "node `b`: tool `flaky`: the service is down"
    );

    let (events, sink) = Events::new();
    let retried = runner
        .retry(&failed.run_id, sink, CancellationToken::new())
        .await
        .expect("retry starts");
    assert_eq!(retried.status, RunStatus::Succeeded, "{:?}", retried.errors);
    assert_eq!(retried.output.as_deref(), Some("v1 then fixed v1"));
    assert_eq!(retried.retry_of.as_deref(), Some(failed.run_id.as_str()));
    assert_eq!(
        retried.node("a").map(|n| n.status),
        Some(NodeStatus::Replayed)
    );
    assert_eq!(
        events.steps(),
        ["started:b", "finished:b", "started:end", "finished:end"]
    );
    assert_eq!(tools.calls(), ["count(a)", "flaky(v1)", "flaky(v1)"]);

    let again = runner
        .retry(
            &retried.run_id,
            codexos_agent::ignore_events(),
            CancellationToken::new(),
        )
        .await
        .map(|_| ())
        .expect_err("a succeeded run has nothing to retry");
    assert!(matches!(again, RunError::NothingToRetry(_)), "{again}");
}

#[tokio::test]
async fn a_fork_keeps_its_edited_prompt_when_it_is_retried() {
    let fake = FakeProvider::replying(ScriptedReply::text(&["answer"]))
        .await
        .expect("fake provider");
    let tools = Arc::new(TestTools::default());
    *tools.failures.lock().unwrap() = 2;
    let dir = tempfile::tempdir().expect("temp dir");
    let router = Router::new(&fake.llm_config(WireFormat::OpenAiChat));
    let runner = tools_runner(&tools)
        .with_router(Arc::new(router))
        .record_traces(dir.path());
    let flow = r#"{"id": "fork", "nodes": [
{"id": "start", "type": "entry", "next": "b"},
{"id": "b", "type": "tool", "tool": "flaky", "args": {"text": "{{input}}"}, "next": "ask"},
{"id": "ask", "type": "llm", "model": "fake/small", "prompt": "Say {{nodes.b.output}}", "next": "end"},
{"id": "end", "type": "exit"}
]}"#;
    let path = dir.path().join("fork.flow.json");
    std::fs::write(&path, flow).expect("write flow");
    let (failed, _) = run_file(&runner, &path, "in").await;
    assert_eq!(failed.status, RunStatus::Failed);

    let fork = ReplayRequest {
        run_id: failed.run_id.clone(),
        from: "b".into(),
        set: [(
            "ask.prompt".to_owned(),
            "Shout {{nodes.b.output}}".to_owned(),
        )]
        .into(),
    };
    let forked = runner
        .replay(
            fork,
            codexos_agent::ignore_events(),
            CancellationToken::new(),
        )
        .await
        .expect("the fork starts");
    assert_eq!(forked.status, RunStatus::Failed, "b fails once more");
    assert_eq!(
        forked.forked_from.as_ref().map(|f| f.node.as_str()),
        Some("b")
    );

    let retried = runner
        .retry(
            &forked.run_id,
            codexos_agent::ignore_events(),
            CancellationToken::new(),
        )
        .await
        .expect("the retry starts");
    assert_eq!(retried.status, RunStatus::Succeeded, "{:?}", retried.errors);
    assert_eq!(retried.retry_of.as_deref(), Some(forked.run_id.as_str()));
    assert_eq!(
        retried.forked_from, forked.forked_from,
        "a retry of a fork is that fork still"
    );
    let body = fake.requests()[0].json().expect("json body");
    assert_eq!(body["messages"][0]["content"], "Shout fixed in");
}

#[tokio::test]
async fn a_sub_flow_runs_next_to_its_parent_with_prefixed_events() {
    let tools = Arc::new(TestTools::default());
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("agents")).expect("dir");
    std::fs::write(
        dir.path().join("agents/shout.flow.json"),
        r#"{"id": "shout", "nodes": [
{"id": "in", "type": "entry", "next": "say"},
{"id": "say", "type": "tool", "tool": "echo", "args": {"text": "{{input}}!"}, "next": "out"},
{"id": "out", "type": "exit"}
]}"#,
    )
    .expect("child");
    let parent = dir.path().join("parent.flow.json");
    std::fs::write(
        &parent,
        r#"{"id": "parent", "nodes": [
{"id": "start", "type": "entry", "next": "child"},
{"id": "child", "type": "flow", "flow": "agents/shout.flow.json", "input": "hey {{input}}", "next": "end"},
{"id": "end", "type": "exit"}
]}"#,
    )
    .expect("parent");
    let (result, events) = run_file(&tools_runner(&tools), &parent, "you").await;
    assert_eq!(result.output.as_deref(), Some("hey you!"));
    assert!(events.steps().contains(&"finished:child/say".to_owned()));
}

#[tokio::test]
async fn a_flow_that_calls_itself_never_starts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("self.flow.json");
    std::fs::write(
        &path,
        r#"{"id": "self", "nodes": [
{"id": "start", "type": "entry", "next": "again"},
{"id": "again", "type": "flow", "flow": "self.flow.json", "next": "end"},
{"id": "end", "type": "exit"}
]}"#,
    )
    .expect("flow");
    let request = RunRequest::from_file(&path, "").expect("flow file");
    let refused = Runner::new()
        .run(
            request,
            codexos_agent::ignore_events(),
            CancellationToken::new(),
        )
        .await
        .err()
        .map(|error| {
            error
                .to_string()
                .replace(&path.display().to_string(), "self.flow.json")
        });
    expect_test::expect![[r#"
        Some(
            "self.flow.json has errors, so nothing ran:\n  3:41: error[sub-flow-cycle]: `flow` of node `again`: sub-flows lead back to a flow that is already running (self.flow.json): a run would nest them until its depth bound (8) stops it",
        )
    "#]]
    .assert_debug_eq(&refused);
}

#[tokio::test]
async fn sub_flows_nested_deeper_than_the_runners_bound_stop_the_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let calls = |id: &str, sub: &str| {
        format!(
            r#"{{"id": "{id}", "nodes": [
{{"id": "start", "type": "entry", "next": "down"}},
{{"id": "down", "type": "flow", "flow": "{sub}", "next": "end"}},
{{"id": "end", "type": "exit"}}
]}}"#
        )
    };
    std::fs::write(dir.path().join("a.flow.json"), calls("a", "b.flow.json")).expect("flow");
    std::fs::write(dir.path().join("b.flow.json"), calls("b", "c.flow.json")).expect("flow");
    std::fs::write(
        dir.path().join("c.flow.json"),
        r#"{"id": "c", "nodes": [{"id": "start", "type": "entry", "next": "end"}, {"id": "end", "type": "exit"}]}"#,
    )
    .expect("flow");
    let runner = Runner::new().with_limits(Limits {
        max_depth: 1,
        ..Limits::default()
    });
    let (result, _) = run_file(&runner, &dir.path().join("a.flow.json"), "").await;
    assert_eq!(result.status, RunStatus::Failed);
    expect_test::expect![[r#"node `down`: sub-flow b.flow.json: node `down/down`: `flow`: sub-flows nest deeper than 1 levels, the bound of this run"#]]
    .assert_eq(&result.errors[0].to_string());
}

const BAD_EXPRESSION: &str = r#"{"id": "bad", "nodes": [
{"id": "start", "type": "entry", "next": "check"},
{"id": "check", "type": "condition", "if": "{{input}} contains bug", "then": "end", "else": "end"},
{"id": "end", "type": "exit"}
]}"#;

/// Why `runner` refuses to start `flow`.
async fn refusal(runner: &Runner, flow: &str) -> String {
    let request = RunRequest {
        flow_text: flow.to_owned(),
        ..RunRequest::default()
    };
    let started = runner
        .run(
            request,
            codexos_agent::ignore_events(),
            CancellationToken::new(),
        )
        .await;
    match started {
        Ok(result) => panic!("the flow ran: {:?}", result.status),
        Err(error) => error.to_string(),
    }
}

#[tokio::test]
async fn a_flow_with_errors_never_starts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let runner = Runner::new().record_traces(dir.path());
    let flow = BAD_EXPRESSION.replace(r#""next": "check""#, r#""next": "nowhere""#);
    expect_test::expect![[r#"
        the flow has errors, so nothing ran:
          2:42: error[unknown-node]: `next` names `nowhere`, but no node has that id
          3:64: error[invalid-expression]: `if` of node `check`: `bug` is not a value: write text in double quotes ("bug") or a template ({{...}})"#]]
    .assert_eq(&refusal(&runner, &flow).await);
    assert!(std::fs::read_dir(dir.path()).expect("dir").next().is_none());
}

#[tokio::test]
async fn a_malformed_expression_stops_the_run_before_any_node() {
    expect_test::expect![[r#"
        the flow has errors, so nothing ran:
          3:64: error[invalid-expression]: `if` of node `check`: `bug` is not a value: write text in double quotes ("bug") or a template ({{...}})"#]]
    .assert_eq(&refusal(&Runner::new(), BAD_EXPRESSION).await);
}

#[tokio::test]
async fn a_reference_to_a_branch_that_did_not_run_names_the_node_and_field() {
    let tools = Arc::new(TestTools::default());
    let flow = r#"{"id": "branch", "nodes": [
{"id": "start", "type": "entry", "next": "pick"},
{"id": "pick", "type": "condition", "if": "false", "then": "yes", "else": "no"},
{"id": "yes", "type": "tool", "tool": "echo", "args": {"text": "y"}, "next": "end"},
{"id": "no", "type": "tool", "tool": "echo", "args": {"text": "n"}, "next": "end"},
{"id": "end", "type": "exit", "output": "{{nodes.yes.output}}"}
]}"#;
    let (result, _) = run_text(&tools_runner(&tools), flow, "").await;
    assert_eq!(
        result.errors[0].to_string(),
        "node `end`: `output` at column 1: `{{nodes.yes.output}}`: node `yes` has not run in this run"
    );
}

const RAG: &str = r#"{"id": "rag", "nodes": [
{"id": "start", "type": "entry", "next": "search"},
{"id": "search", "type": "rag", "query": "where is {{input}}", "k": 2, "next": "end"},
{"id": "end", "type": "exit"}
]}"#;

#[tokio::test]
async fn a_rag_node_without_an_index_says_how_to_build_one() {
    let (result, _) = run_text(&Runner::new(), RAG, "main").await;
    assert_eq!(
        result.errors[0].to_string(),
        "node `search`: index not built: run `codexos index`"
    );
}

struct OneChunk;

impl Retriever for OneChunk {
    fn retrieve<'a>(
        &'a self,
        query: &'a str,
        k: usize,
    ) -> BoxFuture<'a, Result<Vec<SearchHit>, String>> {
        Box::pin(async move {
            Ok(vec![SearchHit {
                path: "src/main.rs".into(),
                start_line: 1,
                end_line: 3,
                text: format!("fn main() {{}} // {query} k={k}"),
                score: 1.0,
                symbol: "main".into(),
            }])
        })
    }
}

#[tokio::test]
async fn a_rag_node_outputs_its_chunks_and_records_their_sources() {
    let runner = Runner::new().with_retriever(Arc::new(OneChunk));
    let (result, _) = run_text(&runner, RAG, "main").await;
    assert_eq!(
        result.output.as_deref(),
        Some("src/main.rs:1-3\nfn main() {} // where is main k=2")
    );
    assert_eq!(result.sources.len(), 1);
    assert_eq!(result.sources[0].path, "src/main.rs");
    assert_eq!(result.sources[0].symbol, "main");
}

const LLM: &str = r#"{"id": "llm", "nodes": [
{"id": "start", "type": "entry", "next": "planner"},
{"id": "planner", "type": "llm", "model": ["gpt-4", "fake/small"], "system": "Be brief.", "prompt": "Plan: {{input}}", "next": "end"},
{"id": "end", "type": "exit"}
]}"#;

#[tokio::test]
async fn an_llm_node_streams_tokens_and_records_the_model_that_answered() {
    let fake =
        FakeProvider::replying(ScriptedReply::text(&["Step one. ", "Step two."]).usage(7, 4))
            .await
            .expect("fake provider");
    let router = Router::new(&fake.llm_config(WireFormat::OpenAiChat));
    let runner = Runner::new().with_router(Arc::new(router));
    let (result, events) = run_text(&runner, LLM, "ship it").await;
    assert_eq!(result.status, RunStatus::Succeeded, "{:?}", result.errors);
    assert_eq!(result.output.as_deref(), Some("Step one. Step two."));
    let planner = result.node("planner").expect("planner record");
    assert_eq!(planner.model.as_deref(), Some("fake/small"));
    assert_eq!(
        (planner.usage.prompt_tokens, planner.usage.completion_tokens),
        (7, 4)
    );
    let tokens: Vec<String> = events
        .all()
        .into_iter()
        .filter_map(|e| match e {
            RunEvent::Token { text, .. } => Some(text),
            _ => None,
        })
        .collect();
    assert_eq!(tokens.first().map(String::as_str), Some("Step one. "));
    assert_eq!(tokens.concat(), "Step one. Step two.");
    // The node's own chain named `fake/small`: taking over from `gpt-4` is what it asked for.
    assert!(result.warnings.is_empty(), "{:?}", result.warnings);
    let body = fake.requests()[0].json().expect("json body");
    assert_eq!(body["messages"][1]["content"], "Plan: ship it");
}

#[tokio::test]
async fn a_provider_returning_garbage_fails_with_an_error_naming_the_node() {
    let fake = FakeProvider::start(|_| {
        FakeResponse::stream(
            "text/event-stream",
            vec![b"data: {not json at all\n\n".to_vec()],
        )
    })
    .await
    .expect("fake provider");
    let router = Router::new(&fake.llm_config(WireFormat::OpenAiChat));
    let runner = Runner::new().with_router(Arc::new(router));
    let flow = LLM.replace(r#"["gpt-4", "fake/small"]"#, r#""fake/small""#);
    let (result, events) = run_text(&runner, &flow, "x").await;
    assert_eq!(result.status, RunStatus::Failed);
    let error = result.errors[0].to_string();
    assert!(error.starts_with("node `planner`: "), "{error}");
    assert!(error.contains("invalid response"), "{error}");
    assert!(events.steps().contains(&"failed:planner".to_owned()));
}

#[tokio::test]
async fn a_planted_vault_secret_never_leaves_in_events_results_or_traces() {
    const SECRET: &str = "sk-planted-7f3a9c21e4";
    let dir = tempfile::tempdir().expect("temp dir");
    let vault = Vault::open(dir.path().join("vault.age"), MasterKey::generate()).expect("vault");
    vault
        .put("api_token", SecretString::from(SECRET), ["test"])
        .expect("put");
    let redactor = vault.redactor().expect("redactor");
    // The model repeats the secret, split over two tokens.
    let fake = FakeProvider::replying(ScriptedReply::text(&[
        "token is sk-planted",
        "-7f3a9c21e4 ok",
    ]))
    .await
    .expect("fake provider");
    let router = Router::new(&fake.llm_config(WireFormat::OpenAiChat));
    let tools = Arc::new(TestTools::default());
    let runs = dir.path().join("runs");
    let runner = tools_runner(&tools)
        .with_router(Arc::new(router))
        .with_secrets(Arc::new(vault), redactor)
        .record_traces(&runs);
    let flow = r#"{"id": "secret", "nodes": [
{"id": "start", "type": "entry", "next": "key"},
{"id": "key", "type": "vault", "key": "api_token", "as": "token", "next": "use"},
{"id": "use", "type": "tool", "tool": "echo", "args": {"text": "Bearer {{vars.token}}"}, "next": "ask"},
{"id": "ask", "type": "llm", "model": "fake/m", "prompt": "{{nodes.use.output}} / {{vault.api_token}}", "next": "broken"},
{"id": "broken", "type": "tool", "tool": "nope", "args": {"text": "{{vars.token}}"}, "next": "end"},
{"id": "end", "type": "exit", "output": "{{nodes.ask.output}} {{vars.token}}"}
]}"#;
    let (result, events) = run_text(&runner, flow, SECRET).await;
    assert_eq!(result.status, RunStatus::Failed, "the unknown tool fails");
    assert!(
        tools.calls().contains(&format!("echo(Bearer {SECRET})")),
        "the tool got the value"
    );
    let sent = String::from_utf8_lossy(&fake.requests()[0].body).into_owned();
    assert!(sent.contains(SECRET), "the model got the value");

    let mut written = serde_json::to_string(&result).expect("result json");
    for event in events.all() {
        written.push_str(&serde_json::to_string(&event).expect("event json"));
    }
    for entry in std::fs::read_dir(&runs).expect("runs") {
        written.push_str(&std::fs::read_to_string(entry.expect("entry").path()).expect("trace"));
    }
    assert!(!written.contains(SECRET), "the secret leaked:\n{written}");
    assert!(
        !written.contains("7f3a9c21e4"),
        "part of the secret leaked:\n{written}"
    );
    assert!(written.contains("[secret:api_token]"));
}

#[tokio::test]
async fn a_vault_secret_the_model_streams_encoded_and_split_across_chunks_is_hidden_in_every_form()
{
    const SECRET: &str = "sk-planted-7f3a9c21e4";
    let dir = tempfile::tempdir().expect("temp dir");
    let vault = Vault::open(dir.path().join("vault.age"), MasterKey::generate()).expect("vault");
    vault
        .put("api_token", SecretString::from(SECRET), ["test"])
        .expect("put");
    let redactor = vault.redactor().expect("redactor");
    // Percent-encoded with its case changed, inside a Basic auth blob in base64, in hex and in
    // upper case; every one of them cut between two chunks.
    let fake = FakeProvider::replying(ScriptedReply::text(&[
        "fetching https://x.test/?k=sk%2Dplanted%2D7f",
        "3A9C21E4&x=1 Basic dXNlcjpzay1wbGFu",
        "dGVkLTdmM2E5YzIxZTQ= hex 736b2d706c616e746564",
        "2d37663361396332316534 and SK-PLANTED-7F3A9C21E4 done",
    ]))
    .await
    .expect("fake provider");
    let runs = dir.path().join("runs");
    let runner = Runner::new()
        .with_router(Arc::new(Router::new(
            &fake.llm_config(WireFormat::OpenAiChat),
        )))
        .with_secrets(Arc::new(vault), redactor)
        .record_traces(&runs);
    let flow = r#"{"id": "stream", "nodes": [
{"id": "start", "type": "entry", "next": "ask"},
{"id": "ask", "type": "llm", "model": "fake/m", "prompt": "Fetch https://x.test/?k={{vault.api_token}}", "next": "end"},
{"id": "end", "type": "exit", "output": "{{nodes.ask.output}}"}
]}"#;
    let (result, events) = run_text(&runner, flow, "").await;
    assert_eq!(result.status, RunStatus::Succeeded, "{:?}", result.errors);
    expect_test::expect!["fetching https://x.test/?k=[secret:api_token]&x=1 Basic [secret:api_token] hex [secret:api_token] and [secret:api_token] done"]
        .assert_eq(result.output.as_deref().unwrap_or_default());

    let mut written = serde_json::to_string(&result).expect("result json");
    for event in events.all() {
        written.push_str(&serde_json::to_string(&event).expect("event json"));
    }
    for entry in std::fs::read_dir(&runs).expect("runs") {
        written.push_str(&std::fs::read_to_string(entry.expect("entry").path()).expect("trace"));
    }
    let lower = written.to_ascii_lowercase();
    for form in [SECRET, "7f3a9c21e4", "%2dplanted", "dxnlcjpz", "736b2d70"] {
        assert!(!lower.contains(form), "`{form}` leaked:\n{written}");
    }
    let streamed: String = events
        .all()
        .into_iter()
        .filter_map(|event| match event {
            RunEvent::Token { text, .. } => Some(text),
            _ => None,
        })
        .collect();
    assert_eq!(
        streamed,
        result.output.clone().unwrap_or_default(),
        "the tokens streamed, redacted"
    );
}

const TOOL_LOOP: &str = r#"{"id": "loop", "nodes": [
{"id": "start", "type": "entry", "next": "agent"},
{"id": "agent", "type": "llm", "model": "fake/small", "prompt": "{{input}}", "tools": ["echo"], "next": "end"},
{"id": "end", "type": "exit"}
]}"#;

/// The decisions a run recorded, one line each.
fn decisions(events: &Events) -> Vec<String> {
    events
        .all()
        .into_iter()
        .filter_map(|event| match event {
            RunEvent::Decision { node, decision } => Some(format!(
                "{}: {}: {decision}",
                node.unwrap_or_default(),
                decision.tool
            )),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_model_may_call_only_the_tools_its_node_lists_and_is_told_when_it_tries_another() {
    let answer =
        |reply: &ScriptedReply| FakeResponse::reply(WireFormat::OpenAiChat, reply, "small");
    let fake = FakeProvider::scripted(vec![
        answer(
            &ScriptedReply::default()
                .tool_call("c1", "write_file", serde_json::json!({"path": "codexos.toml", "content": "[tools]\nallow_shell = true\n"}))
                .tool_call("c2", "echo", serde_json::json!({"text": "listed"})),
        ),
        answer(&ScriptedReply::text(&["done"])),
    ])
    .await
    .expect("fake provider");
    let tools = Arc::new(TestTools::default());
    let runner = tools_runner(&tools).with_router(Arc::new(Router::new(
        &fake.llm_config(WireFormat::OpenAiChat),
    )));
    let (result, events) = run_text(&runner, TOOL_LOOP, "set things up").await;
    assert_eq!(result.status, RunStatus::Succeeded, "{:?}", result.errors);
    assert_eq!(
        tools.calls(),
        ["echo(listed)"],
        "write_file never reached the tool box"
    );
    expect_test::expect![[r#"
        [
            "agent: write_file: refused by policy: call a tool its node does not list (it lists `echo`): a model may call only the tools its node lists in `tools`",
        ]
    "#]]
    .assert_debug_eq(&decisions(&events));
    let second = fake.requests()[1].json().expect("json body");
    let told: Vec<String> = second["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|message| message["role"] == "tool")
        .map(|message| message["content"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        told,
        [
            "error: refused: `write_file` is not one of this node's tools (a model may call only the tools its node lists in `tools`); its tools: echo",
            "listed"
        ]
    );
}

#[tokio::test]
async fn a_flow_whose_sub_flow_leads_outside_the_workspace_never_starts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let workspace = dir.path().join("workspace");
    std::fs::create_dir(&workspace).expect("workspace");
    std::fs::write(
        dir.path().join("outside.flow.json"),
        r#"{"id": "outside", "nodes": [
{"id": "in", "type": "entry", "next": "out"},
{"id": "out", "type": "exit", "output": "ran outside"}
]}"#,
    )
    .expect("outside flow");
    let parent = workspace.join("parent.flow.json");
    std::fs::write(
        &parent,
        r#"{"id": "parent", "nodes": [
{"id": "start", "type": "entry", "next": "child"},
{"id": "child", "type": "flow", "flow": "../outside.flow.json", "next": "end"},
{"id": "end", "type": "exit"}
]}"#,
    )
    .expect("parent");
    let runner = Runner::new().within_workspace(&workspace);
    let (events, sink) = Events::new();
    let request = RunRequest::from_file(&parent, "").expect("flow file");
    let refused = runner
        .run(request, sink, CancellationToken::new())
        .await
        .expect_err("a flow whose sub-flow leads outside never starts");
    let message = refused
        .to_string()
        .replace(&dir.path().display().to_string(), "<tmp>");
    expect_test::expect![[r#"
        <tmp>/workspace/parent.flow.json has errors, so nothing ran:
          3:41: error[flow-outside-workspace]: sub-flow paths must stay inside the workspace: `../outside.flow.json` leads outside it"#]].assert_eq(&message);
    assert!(events.steps().is_empty(), "no node ran");
}

#[tokio::test]
async fn an_answer_cut_at_max_tokens_says_so_on_its_node() {
    let chunk = |delta: Value, finish: Value| {
        let body = serde_json::json!({
            "id": "cut", "object": "chat.completion.chunk", "model": "small",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        });
        format!("data: {body}\n\n").into_bytes()
    };
    let chunks = vec![
        chunk(serde_json::json!({"content": "half an ans"}), Value::Null),
        chunk(serde_json::json!({}), serde_json::json!("length")),
        b"data: [DONE]\n\n".to_vec(),
    ];
    let fake =
        FakeProvider::start(move |_| FakeResponse::stream("text/event-stream", chunks.clone()))
            .await
            .expect("fake provider");
    let router = Router::new(&fake.llm_config(WireFormat::OpenAiChat));
    let runner = Runner::new().with_router(Arc::new(router));
    let flow = r#"{"id": "cut", "nodes": [
{"id": "start", "type": "entry", "next": "ask"},
{"id": "ask", "type": "llm", "model": "fake/small", "prompt": "{{input}}", "max_tokens": 5, "next": "end"},
{"id": "end", "type": "exit"}
]}"#;
    let (result, _) = run_text(&runner, flow, "tell me").await;
    assert_eq!(result.status, RunStatus::Succeeded, "{:?}", result.errors);
    assert_eq!(result.output.as_deref(), Some("half an ans"));
    let warnings: Vec<(Option<&str>, &str)> = result
        .warnings
        .iter()
        .map(|warning| (warning.node.as_deref(), warning.message.as_str()))
        .collect();
    assert_eq!(
        warnings,
        [(
            Some("ask"),
            "the answer was cut at max_tokens (5): raise the node's `max_tokens` for a longer one"
        )]
    );
}

/// A flow whose `plan` node asks `fake/small`, with `calls` (`retry`, `timeout_ms`) added to it.
fn retrying_llm(calls: &str) -> String {
    format!(
        r#"{{"id": "retrying", "nodes": [
{{"id": "start", "type": "entry", "next": "plan"}},
{{"id": "plan", "type": "llm", "model": "fake/small", "prompt": "{{{{input}}}}", {calls}, "next": "end"}},
{{"id": "end", "type": "exit"}}
]}}"#
    )
}

/// A router to `fake` that makes no HTTP retries of its own, so each failure reaches the node.
fn router_without_http_retries(fake: &FakeProvider) -> Arc<Router> {
    let mut config = fake.llm_config(WireFormat::OpenAiChat);
    for provider in config.providers.values_mut() {
        provider.retry.max_retries = 0;
    }
    Arc::new(Router::new(&config))
}

/// The `attempt_failed` events of a trace, one line each: node, attempt, failure, wait.
fn attempts_in_trace(trace: &Path) -> Vec<String> {
    std::fs::read_to_string(trace)
        .expect("trace")
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| event["event"] == "attempt_failed")
        .map(|event| {
            format!(
                "{} attempt {} of {} failed ({}), next in {} ms",
                event["node"].as_str().unwrap_or_default(),
                event["attempt"],
                event["attempts"],
                event["failure"].as_str().unwrap_or_default(),
                event["retry_in_ms"]
            )
        })
        .collect()
}

#[tokio::test]
async fn a_provider_that_fails_twice_answers_the_third_attempt_and_the_trace_has_each_attempt() {
    let fake = FakeProvider::scripted(vec![
        FakeResponse::json(
            500,
            &serde_json::json!({"error": {"message": "overloaded"}}),
        ),
        FakeResponse::json(429, &serde_json::json!({"error": {"message": "slow down"}})),
        FakeResponse::reply(
            WireFormat::OpenAiChat,
            &ScriptedReply::text(&["the plan"]),
            "small",
        ),
    ])
    .await
    .expect("fake provider");
    let dir = tempfile::tempdir().expect("temp dir");
    let runner = Runner::new()
        .with_router(router_without_http_retries(&fake))
        .record_traces(dir.path());
    let flow = retrying_llm(r#""retry": {"attempts": 3, "backoff_ms": 10}"#);
    let (result, events) = run_text(&runner, &flow, "go").await;
    assert_eq!(result.status, RunStatus::Succeeded, "{:?}", result.errors);
    assert_eq!(result.output.as_deref(), Some("the plan"));
    assert_eq!(fake.requests().len(), 3);
    assert_eq!(
        attempts_in_trace(result.trace.as_deref().expect("recorded")),
        [
            "plan attempt 1 of 3 failed (server), next in 10 ms",
            "plan attempt 2 of 3 failed (rate_limit), next in 20 ms",
        ]
    );
    assert_eq!(
        events.steps(),
        [
            "started:start",
            "finished:start",
            "started:plan",
            "finished:plan",
            "started:end",
            "finished:end"
        ]
    );
}

#[tokio::test]
async fn a_failure_retry_does_not_name_fails_the_node_at_once() {
    let fake = FakeProvider::scripted(vec![FakeResponse::json(
        401,
        &serde_json::json!({"error": {"message": "bad key"}}),
    )])
    .await
    .expect("fake provider");
    let runner = Runner::new().with_router(router_without_http_retries(&fake));
    let flow = retrying_llm(r#""retry": {"attempts": 3, "backoff_ms": 10}"#);
    let (result, _) = run_text(&runner, &flow, "go").await;
    assert_eq!(result.status, RunStatus::Failed);
    assert_eq!(fake.requests().len(), 1);
    let error = result.errors[0].to_string();
    assert!(error.starts_with("node `plan`: "), "{error}");
    assert!(error.ends_with("(attempt 1 of 3)"), "{error}");
}

#[tokio::test]
async fn a_provider_that_stalls_is_stopped_at_the_nodes_timeout_and_tried_again() {
    let fake = FakeProvider::start(|_| FakeResponse::silent())
        .await
        .expect("fake provider");
    let dir = tempfile::tempdir().expect("temp dir");
    let runner = Runner::new()
        .with_router(router_without_http_retries(&fake))
        .record_traces(dir.path());
    let flow = retrying_llm(
        r#""timeout_ms": 200, "retry": {"attempts": 2, "backoff_ms": 10, "on": ["timeout"]}"#,
    );
    let started = std::time::Instant::now();
    let (result, _) = run_text(&runner, &flow, "go").await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(result.status, RunStatus::Failed);
    assert_eq!(
        result.errors[0].to_string(),
        "node `plan`: `timeout_ms`: the attempt did not finish within 0.2 s and was stopped (attempt 2 of 2)"
    );
    assert_eq!(fake.requests().len(), 2);
    assert_eq!(
        attempts_in_trace(result.trace.as_deref().expect("recorded")),
        ["plan attempt 1 of 2 failed (timeout), next in 10 ms"]
    );
}

#[tokio::test]
async fn a_tool_node_retries_a_tool_error_when_retry_names_it_and_its_timeout_replaces_the_tools() {
    let tools = Arc::new(TestTools::default());
    *tools.failures.lock().unwrap() = 2;
    let flow = r#"{"id": "tools", "nodes": [
{"id": "start", "type": "entry", "next": "fix"},
{"id": "fix", "type": "tool", "tool": "flaky", "args": {"text": "it"}, "retry": {"attempts": 3, "backoff_ms": 0, "on": ["error"]}, "next": "wait"},
{"id": "wait", "type": "tool", "tool": "sleep", "timeout_ms": 100, "next": "end"},
{"id": "end", "type": "exit"}
]}"#;
    let (result, events) = run_text(&tools_runner(&tools), flow, "").await;
    assert_eq!(
        result.node("fix").map(|n| n.status),
        Some(NodeStatus::Succeeded)
    );
    assert_eq!(
        result.errors[0].to_string(),
        "node `wait`: `timeout_ms`: tool `sleep` did not finish within 0.1 s and was stopped"
    );
    let failed: Vec<String> = events
        .all()
        .iter()
        .filter_map(|event| match event {
            RunEvent::AttemptFailed { node, error, .. } => Some(format!("{node}: {error}")),
            _ => None,
        })
        .collect();
    assert_eq!(
        failed,
        [
            "fix: tool `flaky`: the service is down",
            "fix: tool `flaky`: the service is down"
        ]
    );
}
