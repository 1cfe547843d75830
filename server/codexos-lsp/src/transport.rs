//! A guard in front of the protocol layer: `tower-lsp-server` stops reading its input at the
//! first malformed message (its framed reader ends on any decode error), which would end the
//! server. Every message is re-framed here first; one that is not JSON-RPC never reaches it:
//! - a message with a usable `id` becomes a request to [`INVALID_REQUEST`], which answers that
//!   id with an `InvalidRequest` error saying what was wrong;
//! - anything else (bad headers, a body that is not JSON or not UTF-8) is dropped with an error
//!   in the log (`window/logMessage` and the log file).

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader, DuplexStream};
use tower_lsp_server::jsonrpc::{Request, Response};

/// The method that answers a malformed request with an error.
pub const INVALID_REQUEST: &str = "$/codexos/invalidRequest";

/// Larger bodies are skipped unread rather than buffered.
const MAX_BODY: usize = 512 * 1024 * 1024;
const PIPE_CAPACITY: usize = 256 * 1024;

/// Returns a stream of well-formed messages read from `input` (re-framed by a background task).
pub fn sanitize<I>(input: I) -> DuplexStream
where
    I: AsyncRead + Unpin + Send + 'static,
{
    let (reader_end, writer_end) = tokio::io::duplex(PIPE_CAPACITY);
    tokio::spawn(pump(BufReader::new(input), writer_end));
    reader_end
}

async fn pump<I: AsyncRead + Unpin>(mut input: BufReader<I>, mut output: DuplexStream) {
    let mut count = 0u64;
    loop {
        count += 1;
        let length = match read_headers(&mut input).await {
            Headers::Length(length) => length,
            Headers::Missing => {
                tracing::error!("message {count}: no valid Content-Length header: ignored");
                continue;
            }
            Headers::End => return,
        };
        if length > MAX_BODY {
            tracing::error!("message {count}: {length} bytes is too large: skipped");
            let skipped = tokio::io::copy(
                &mut (&mut input).take(length as u64),
                &mut tokio::io::sink(),
            )
            .await;
            if skipped.is_err() {
                return;
            }
            continue;
        }
        let mut body = vec![0; length];
        if input.read_exact(&mut body).await.is_err() {
            tracing::info!("the input ended inside a message");
            return;
        }
        let Some(body) = checked(body, count) else {
            continue;
        };
        let header = format!("Content-Length: {}\r\n\r\n", body.len());
        let written = async {
            output.write_all(header.as_bytes()).await?;
            output.write_all(&body).await?;
            output.flush().await
        };
        if written.await.is_err() {
            return;
        }
    }
}

enum Headers {
    Length(usize),
    Missing,
    End,
}

/// Reads one header block (up to its blank line) and returns its Content-Length.
async fn read_headers<I: AsyncRead + Unpin>(input: &mut BufReader<I>) -> Headers {
    let mut length = None;
    let mut seen_a_header = false;
    let mut line = Vec::new();
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return Headers::End,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim();
        if text.is_empty() {
            if !seen_a_header {
                continue;
            }
            return length.map_or(Headers::Missing, Headers::Length);
        }
        seen_a_header = true;
        if let Some((name, value)) = text.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok();
        }
    }
}

/// The body itself when the protocol layer can read it, a substitute request that answers the
/// sender's `id` with an error, or `None` (logged) when nothing can be answered.
fn checked(body: Vec<u8>, count: u64) -> Option<Vec<u8>> {
    let readable = serde_json::from_slice::<Request>(&body).is_ok()
        || serde_json::from_slice::<Response>(&body).is_ok();
    if readable {
        return Some(body);
    }
    let problem = match serde_json::from_slice::<Value>(&body) {
        Err(error) => {
            tracing::error!("message {count} is not JSON ({error}): ignored");
            return None;
        }
        Ok(value) => (
            value,
            "it is not a JSON-RPC 2.0 request, notification or response",
        ),
    };
    let (value, reason) = problem;
    match value.get("id") {
        Some(id @ (Value::Number(_) | Value::String(_))) => {
            tracing::error!("message {count} (id {id}): {reason}");
            let substitute = json!({
                "jsonrpc": "2.0",
                "id": id,
                "method": INVALID_REQUEST,
                "params": { "reason": reason },
            });
            serde_json::to_vec(&substitute).ok()
        }
        _ => {
            tracing::error!("message {count}: {reason}: ignored");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(bodies: &[&[u8]]) -> Vec<u8> {
        let mut input = Vec::new();
        for body in bodies {
            input.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
            input.extend_from_slice(body);
        }
        input
    }

    async fn pass_through(input: Vec<u8>) -> String {
        let mut output = sanitize(std::io::Cursor::new(input));
        let mut text = String::new();
        output
            .read_to_string(&mut text)
            .await
            .expect("read the pipe");
        text
    }

    #[tokio::test]
    async fn well_formed_messages_pass_unchanged() {
        let message = br#"{"jsonrpc":"2.0","id":1,"method":"shutdown"}"#;
        let output = pass_through(framed(&[message])).await;
        assert_eq!(output.as_bytes(), framed(&[message]));
    }

    #[tokio::test]
    async fn malformed_messages_are_dropped_or_answered_and_later_ones_still_pass() {
        let good = br#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#;
        let mut input = framed(&[b"{ not json", b"\xff\xfe", br#"{"id":7,"method":12}"#]);
        input.extend_from_slice(b"X-Junk: 1\r\n\r\n");
        input.extend_from_slice(&framed(&[good]));
        let output = pass_through(input).await;
        let substitute = format!(
            r#"{{"id":7,"jsonrpc":"2.0","method":"{INVALID_REQUEST}","params":{{"reason":"it is not a JSON-RPC 2.0 request, notification or response"}}}}"#
        );
        let expected = framed(&[substitute.as_bytes(), good]);
        assert_eq!(output, String::from_utf8_lossy(&expected));
    }

    #[tokio::test]
    async fn header_names_are_case_insensitive_and_other_headers_are_ignored() {
        let body = br#"{"jsonrpc":"2.0","method":"exit"}"#;
        let mut input = format!(
            "content-length: {}\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n",
            body.len()
        )
        .into_bytes();
        input.extend_from_slice(body);
        assert_eq!(pass_through(input).await.as_bytes(), framed(&[body]));
    }
}
