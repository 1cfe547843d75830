//! MCP servers from `codexos.toml` as tool sources: a real MCP server over stdio
//! (`codexos-mcp-demo`, written against rmcp's server side) called through the registry.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use codexos_tools::mcp::McpServerConfig;
use codexos_tools::{ToolConfig, ToolRegistry, ToolSource};
use expect_test::expect;
use serde_json::{Value, json};

fn demo(name: &str) -> McpServerConfig {
    McpServerConfig {
        name: name.to_owned(),
        command: env!("CARGO_BIN_EXE_codexos-mcp-demo").to_owned(),
        args: Vec::new(),
        env: BTreeMap::from([("DEMO_GREETING".to_owned(), "hello".to_owned())]),
        cwd: None,
    }
}

/// A registry with `servers`, each started (allowed by the user) as a flow naming one of its
/// tools would start it.
async fn registry_with(root: &Path, servers: &[McpServerConfig]) -> ToolRegistry {
    let registry = ToolRegistry::with_builtins().with_mcp_servers(servers, Duration::from_secs(20));
    let wanted: Vec<String> = servers
        .iter()
        .map(|server| format!("{}.add", server.name))
        .collect();
    registry.prepare(&wanted, &common::approving(root)).await;
    registry
}

fn mcp_tools(registry: &ToolRegistry) -> Vec<String> {
    registry
        .list()
        .into_iter()
        .filter(|info| matches!(info.source, ToolSource::Mcp { .. }))
        .map(|info| format!("{}: {}", info.name, info.description))
        .collect()
}

#[tokio::test]
async fn a_configured_mcp_server_adds_namespaced_tools_that_the_registry_calls() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry_with(dir.path(), &[demo("demo")]).await;
    assert_eq!(registry.problems(), Vec::new());
    expect![[r#"
        [
            "demo.add: Add two numbers",
            "demo.environment: Where the server runs",
            "demo.fail: Always fails",
            "demo.sleep: Wait some seconds",
        ]
    "#]]
    .assert_debug_eq(&mcp_tools(&registry));
    let ctx = common::approving(dir.path());
    let sum = registry
        .call("demo.add", json!({ "a": 2, "b": 3.5 }), &ctx)
        .await
        .unwrap();
    assert_eq!(sum.text, "5.5");
    assert_eq!(sum.data, Some(json!({ "sum": 5.5 })));

    let environment = registry
        .call("demo.environment", json!({}), &ctx)
        .await
        .unwrap();
    let environment: Value = serde_json::from_str(&environment.text).unwrap();
    assert_eq!(environment["greeting"], "hello");
    assert_eq!(
        Path::new(environment["cwd"].as_str().unwrap())
            .canonicalize()
            .unwrap(),
        dir.path().canonicalize().unwrap()
    );
}

#[tokio::test]
async fn mcp_tool_arguments_are_checked_before_they_reach_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry_with(dir.path(), &[demo("demo")]).await;
    let error = registry
        .call(
            "demo.add",
            json!({ "a": "two" }),
            &common::approving(dir.path()),
        )
        .await
        .unwrap_err();
    expect![[r#"demo.add: invalid arguments: "b" is a required property; `/a`: "two" is not of type "number""#]]
        .assert_eq(&error.to_string());
    let failed = registry
        .call("demo.fail", json!({}), &common::approving(dir.path()))
        .await
        .unwrap_err();
    expect!["demo.fail: the demo tool failed on purpose"].assert_eq(&failed.to_string());
}

#[tokio::test]
async fn a_server_that_cannot_start_is_reported_and_the_others_still_join() {
    let dir = tempfile::tempdir().unwrap();
    let missing = McpServerConfig {
        command: "/nonexistent/mcp-server".to_owned(),
        ..demo("missing")
    };
    let not_mcp = McpServerConfig {
        command: "sh".to_owned(),
        args: vec![
            "-c".to_owned(),
            "echo this is not MCP; echo oops >&2".to_owned(),
        ],
        ..demo("not_mcp")
    };
    let registry = registry_with(dir.path(), &[missing, demo("demo"), not_mcp]).await;
    assert_eq!(mcp_tools(&registry).len(), 4);
    let problems: Vec<String> = registry
        .problems()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert_eq!(
        problems[0],
        "codexos.toml [[mcp.servers]] `missing`: cannot start `/nonexistent/mcp-server`: No such file or directory (os error 2)"
    );
    assert!(
        problems[1]
            .starts_with("codexos.toml [[mcp.servers]] `not_mcp`: did not start as an MCP server:"),
        "{}",
        problems[1]
    );
}

#[tokio::test]
async fn a_slow_mcp_call_times_out_and_the_server_keeps_answering() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry_with(dir.path(), &[demo("demo")]).await;
    let ctx = common::approving(dir.path()).with_config(ToolConfig {
        timeout: Duration::from_millis(300),
        ..ToolConfig::default()
    });
    let error = registry
        .call("demo.sleep", json!({ "secs": 60 }), &ctx)
        .await
        .unwrap_err();
    expect!["demo.sleep: timed out after 0.3s"].assert_eq(&error.to_string());
    let sum = registry
        .call("demo.add", json!({ "a": 1, "b": 1 }), &ctx)
        .await
        .unwrap();
    assert_eq!(sum.text, "2");
}

fn is_running(pid: u64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let after_name = &stat[stat.rfind(')').map_or(0, |end| end + 2)..];
        !after_name.starts_with('Z')
    })
}

#[tokio::test]
async fn dropping_the_registry_stops_the_server_process() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry_with(dir.path(), &[demo("demo")]).await;
    let environment = registry
        .call(
            "demo.environment",
            json!({}),
            &common::approving(dir.path()),
        )
        .await
        .unwrap();
    let pid = serde_json::from_str::<Value>(&environment.text).unwrap()["pid"]
        .as_u64()
        .unwrap();
    assert!(is_running(pid));
    drop(registry);
    let deadline = Instant::now() + Duration::from_secs(5);
    while is_running(pid) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !is_running(pid),
        "the MCP server {pid} outlived its registry"
    );
}

#[tokio::test]
async fn a_server_starts_only_once_the_user_allowed_it_and_is_pinned_to_its_entry() {
    let dir = tempfile::tempdir().unwrap();
    let trust = dir.path().join("trust.toml");
    let registry =
        ToolRegistry::with_builtins().with_mcp_servers(&[demo("demo")], Duration::from_secs(20));
    let (ctx, decisions) = common::trusting(dir.path(), &trust);
    let refused = registry
        .call("demo.add", json!({ "a": 1, "b": 2 }), &ctx)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().starts_with(
            "demo: refused: an MCP server runs commands, and you have not approved this one"
        ),
        "{refused}"
    );
    assert_eq!(
        mcp_tools(&registry),
        Vec::<String>::new(),
        "the server never started"
    );
    let hash = match &decisions.lock().unwrap()[0].action {
        codexos_policy::Action::McpServer { hash, .. } => hash.clone(),
        other => panic!("unexpected action {other:?}"),
    };
    codexos_policy::TrustFile::at(&trust)
        .update(|store| {
            store
                .workspace_mut(dir.path())
                .mcp
                .insert("demo".to_owned(), hash)
        })
        .unwrap();
    let sum = registry
        .call("demo.add", json!({ "a": 1, "b": 2 }), &ctx)
        .await
        .unwrap();
    assert_eq!(sum.text, "3");

    let changed = McpServerConfig {
        args: vec!["--anything".to_owned()],
        ..demo("demo")
    };
    let registry =
        ToolRegistry::with_builtins().with_mcp_servers(&[changed], Duration::from_secs(20));
    let refused = registry
        .call("demo.add", json!({ "a": 1, "b": 2 }), &ctx)
        .await
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .starts_with("demo: refused: this MCP server changed since you approved it"),
        "{refused}"
    );
}
