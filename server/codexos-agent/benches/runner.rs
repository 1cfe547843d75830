//! Runner overhead per node, without any model: a chain of 1,000 `tool` nodes whose tool box
//! answers at once. Each node renders a template argument, emits its events and, in the
//! recorded variant, writes its trace lines. Divide the median by 1,000 for the per-node cost.
//! The replay variant runs a recorded chain again from its last node: reading the trace,
//! planning, and putting 1,000 recorded outputs in place (each written to the new trace) cost
//! what a replay costs before its first node runs.

use std::sync::Arc;

use codexos_agent::{
    Caller, CancellationToken, ReplayRequest, RunRequest, Runner, ToolBox, ignore_events,
};
use codexos_llm::ToolDefinition;
use futures_util::future::BoxFuture;
use serde_json::{Value, json};

const CHAIN: usize = 1_000;

fn main() {
    divan::main();
}

struct Echo;

impl ToolBox for Echo {
    fn call<'a>(
        &'a self,
        _name: &'a str,
        args: Value,
        _caller: Caller,
    ) -> BoxFuture<'a, Result<Value, String>> {
        Box::pin(async move { Ok(args["text"].clone()) })
    }

    fn definitions<'a>(
        &'a self,
        _names: &'a [String],
        _caller: Caller,
    ) -> BoxFuture<'a, Vec<ToolDefinition>> {
        Box::pin(async { Vec::new() })
    }
}

fn chain_flow(length: usize) -> String {
    let mut nodes = vec![json!({"id": "start", "type": "entry", "next": "n0"})];
    for i in 0..length {
        let next = if i + 1 == length {
            "end".to_owned()
        } else {
            format!("n{}", i + 1)
        };
        let previous = if i == 0 {
            "{{input}}".to_owned()
        } else {
            format!("{{{{nodes.n{}.output}}}}", i - 1)
        };
        nodes.push(json!({
            "id": format!("n{i}"), "type": "tool", "tool": "echo",
            "args": {"text": previous}, "next": next
        }));
    }
    nodes.push(json!({"id": "end", "type": "exit"}));
    json!({"id": "chain", "nodes": nodes}).to_string()
}

fn run(runner: &Runner, flow: &str, runtime: &tokio::runtime::Runtime) {
    let request = RunRequest {
        flow_text: flow.to_owned(),
        input: "hello".to_owned(),
        ..RunRequest::default()
    };
    let result = runtime
        .block_on(runner.run(request, ignore_events(), CancellationToken::new()))
        .expect("the chain runs");
    assert_eq!(result.output.as_deref(), Some("hello"));
}

#[divan::bench(sample_count = 20)]
fn chain_of_1000_nodes(bencher: divan::Bencher) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let flow = chain_flow(CHAIN);
    let runner = Runner::new().with_tools(Arc::new(Echo));
    bencher.bench_local(|| run(&runner, &flow, &runtime));
}

#[divan::bench(sample_count = 20)]
fn chain_of_1000_nodes_with_trace(bencher: divan::Bencher) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let flow = chain_flow(CHAIN);
    let dir = tempfile::tempdir().expect("temp dir");
    let runner = Runner::new()
        .with_tools(Arc::new(Echo))
        .record_traces(dir.path());
    bencher.bench_local(|| run(&runner, &flow, &runtime));
}

#[divan::bench(sample_count = 20)]
fn replay_of_a_1000_node_chain_from_its_last_node(bencher: divan::Bencher) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let runner = Runner::new()
        .with_tools(Arc::new(Echo))
        .record_traces(dir.path());
    let request = RunRequest {
        flow_text: chain_flow(CHAIN),
        input: "hello".to_owned(),
        ..RunRequest::default()
    };
    let recorded = runtime
        .block_on(runner.run(request, ignore_events(), CancellationToken::new()))
        .expect("the chain runs");
    bencher.bench_local(|| {
        let request = ReplayRequest {
            run_id: recorded.run_id.clone(),
            from: format!("n{}", CHAIN - 1),
            set: Default::default(),
        };
        let result = runtime
            .block_on(runner.replay(request, ignore_events(), CancellationToken::new()))
            .expect("the replay runs");
        assert_eq!(result.output.as_deref(), Some("hello"));
    });
}
