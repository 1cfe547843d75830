//! `http_fetch` against a real HTTP server on loopback.

mod common;

use std::time::Duration;

use codexos_tools::{ToolConfig, ToolContext, ToolError, ToolOutput, ToolRegistry};
use expect_test::expect;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves one canned response per connection; `None` accepts and then never answers.
async fn serve(response: Option<String>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let response = response.clone();
            tokio::spawn(async move {
                let mut request = vec![0u8; 4096];
                let _read = socket.read(&mut request).await;
                match response {
                    Some(response) => {
                        let _written = socket.write_all(response.as_bytes()).await;
                    }
                    None => tokio::time::sleep(Duration::from_secs(300)).await,
                }
            });
        }
    });
    format!("http://{address}/page")
}

fn response(status: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

async fn fetch(config: ToolConfig, args: Value) -> Result<ToolOutput, ToolError> {
    let dir = tempfile::tempdir().unwrap();
    let ctx = common::approving(dir.path()).with_config(config);
    ToolRegistry::with_builtins()
        .call("http_fetch", args, &ctx)
        .await
}

#[tokio::test]
async fn a_page_is_fetched_with_its_status_and_type() {
    let url = serve(Some(response("200 OK", "hello from loopback"))).await;
    let output = fetch(ToolConfig::default(), json!({ "url": url }))
        .await
        .unwrap();
    assert_eq!(output.text, "hello from loopback");
    assert_eq!(
        output.data,
        Some(
            json!({ "status": 200, "content_type": "text/plain", "bytes": 19, "truncated": false })
        )
    );
}

#[tokio::test]
async fn a_body_over_the_size_cap_is_cut_and_flagged() {
    let url = serve(Some(response("200 OK", &"x".repeat(100_000)))).await;
    let config = ToolConfig {
        http_max_bytes: 1000,
        ..ToolConfig::default()
    };
    let output = fetch(config, json!({ "url": url })).await.unwrap();
    assert_eq!(output.text.len(), 1000);
    assert_eq!(output.data.unwrap()["truncated"], json!(true));
}

#[tokio::test]
async fn an_error_status_is_an_error_quoting_the_body() {
    let url = serve(Some(response("404 Not Found", "no such page"))).await;
    let error = fetch(ToolConfig::default(), json!({ "url": url.clone() }))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("http_fetch: GET {url}: answered 404 Not Found: no such page")
    );
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let url = serve(None).await;
    let config = ToolConfig {
        http_timeout: Duration::from_millis(300),
        ..ToolConfig::default()
    };
    let error = fetch(config, json!({ "url": url })).await.unwrap_err();
    expect!["http_fetch: timed out after 0.3s"].assert_eq(&error.to_string());
}

#[tokio::test]
async fn only_http_urls_are_accepted() {
    let error = fetch(
        ToolConfig::default(),
        json!({ "url": "file:///etc/passwd" }),
    )
    .await
    .unwrap_err();
    expect![[r#"http_fetch: invalid arguments: `/url`: "file:///etc/passwd" does not match "^[hH][tT][tT][pP][sS]?://""#]]
        .assert_eq(&error.to_string());
}

#[tokio::test]
async fn nothing_is_sent_to_a_host_the_user_did_not_allow() {
    let received = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let counter = received.clone();
    tokio::spawn(async move {
        while let Ok((_socket, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let error = ToolRegistry::with_builtins()
        .call(
            "http_fetch",
            json!({ "url": format!("http://{address}/collect"), "method": "POST", "body": "workspace text" }),
            &ToolContext::new(dir.path()),
        )
        .await
        .unwrap_err();
    assert!(
        error.to_string().starts_with(
            "http_fetch: refused: agents send POST requests only to hosts you allow for POST"
        ),
        "{error}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(received.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_redirect_is_reported_and_not_followed() {
    let target = serve(Some(response("200 OK", "the other host"))).await;
    let redirect = format!(
        "HTTP/1.1 302 Found\r\nlocation: {target}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    );
    let url = serve(Some(redirect)).await;
    let error = fetch(ToolConfig::default(), json!({ "url": url.clone() }))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "http_fetch: GET {url}: answered 302 Found, redirecting to `{target}`: redirects are not followed; fetch that URL to follow it (it is decided like any other)"
        )
    );
}
