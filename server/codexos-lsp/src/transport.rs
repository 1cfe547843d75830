//! A guard in front of the protocol layer: `tower-lsp-server` stops reading its input at the
//! first malformed message (its framed reader ends on any decode error), which would end the
//! server. Every message is re-framed here first, and one that is not JSON-RPC never reaches it:
//! - a body that is not JSON (not even UTF-8, nested deeper than serde_json's recursion limit)
//!   is answered with a `-32700` parse error for the id `null`, as JSON-RPC 2.0 asks;
//! - JSON with a usable `id` that is not a JSON-RPC message is answered with `-32600` for that id;
//! - anything else (headers without a usable `Content-Length`, bytes between messages) is
//!   dropped.
//!
//! Every one is logged as an error naming the message (`window/logMessage` and the log file).
//!
//! A wrong `Content-Length` must not make the server deaf: a length that is too long swallows
//! the next messages, and one longer than what the client sends leaves the reader waiting for
//! bytes that never come. A body cannot hold a `Content-Length: <digits>` line (a raw line
//! break is never part of valid JSON), so one found in a body marks where the next message
//! starts: reading resumes there. A body is searched only before waiting for more of it and
//! after it failed to parse, so a message that arrives whole and parses costs nothing more than
//! the one parse that decides it is readable; the search only looks at line breaks, which
//! compact JSON has none of. Header lines and bodies are capped ([`Limits`]); over-long ones are
//! skipped in bounded chunks, never buffered, and a skipped body is searched too.
//!
//! Answers go through the server: the guard passes on a substitute request to
//! [`ANSWER_MALFORMED`] with the message's id (or `null`), and [`answer_malformed`] answers it
//! with the error. The protocol layer then writes the answer in order with every other message,
//! which a second writer on stdout could not promise. (As for any request, an answer before
//! `initialize` is "server not initialized", and the protocol layer answers a second `null` id
//! in flight with `-32600`.)

use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, DuplexStream};
use tower_lsp_server::jsonrpc::{self, Error, ErrorCode, Request, Response};

/// The method that answers a malformed message with an error (see [`answer_malformed`]).
pub const ANSWER_MALFORMED: &str = "$/codexos/answerMalformed";

const PIPE_CAPACITY: usize = 256 * 1024;
/// Bytes read at a time.
const READ_CHUNK: usize = 64 * 1024;

/// What the guard accepts.
#[derive(Clone, Copy, Debug)]
struct Limits {
    /// The longest header line. LSP has two headers, each a few dozen bytes; 8 KiB is the
    /// usual limit of HTTP servers.
    header_line: usize,
    /// The largest body read. VS Code sends no document over 50 MB to a language server, and a
    /// message is held about four times over on its way in (here, in the protocol layer's
    /// buffer, as parsed JSON, as the document), so 64 MiB keeps room for escaping and keeps a
    /// message's cost in the hundreds of MiB.
    body: usize,
}

impl Limits {
    const DEFAULT: Limits = Limits {
        header_line: 8 * 1024,
        body: 64 * 1024 * 1024,
    };
}

/// Returns a stream of well-formed messages read from `input` (re-framed by a background task).
pub fn sanitize<I>(input: I) -> DuplexStream
where
    I: AsyncRead + Unpin + Send + 'static,
{
    let (reader_end, writer_end) = tokio::io::duplex(PIPE_CAPACITY);
    tokio::spawn(pump(Framer::new(input, Limits::DEFAULT), writer_end));
    reader_end
}

/// The error a substitute request stands for.
#[derive(Debug, Deserialize)]
pub struct Malformed {
    code: i64,
    message: String,
}

/// Answers a substitute request from [`sanitize`] with the error it carries.
pub async fn answer_malformed<S>(_server: &S, malformed: Malformed) -> jsonrpc::Result<()> {
    Err(Error {
        code: ErrorCode::from(malformed.code),
        message: malformed.message.into(),
        data: None,
    })
}

async fn pump<I: AsyncRead + Unpin>(mut framer: Framer<I>, mut output: DuplexStream) {
    loop {
        let frame = framer.next().await;
        for problem in framer.problems.drain(..) {
            tracing::error!("{problem}");
        }
        let body = match &frame {
            Frame::Message(length) => &framer.input.unread()[..*length],
            Frame::Substitute(body) => body.as_slice(),
            Frame::Dropped => continue,
            Frame::End => return,
        };
        let header = format!("Content-Length: {}\r\n\r\n", body.len());
        let written = async {
            output.write_all(header.as_bytes()).await?;
            output.write_all(body).await?;
            output.flush().await
        };
        if written.await.is_err() {
            return;
        }
    }
}

enum Frame {
    /// A well-formed message: the first `length` unread bytes.
    Message(usize),
    /// A request that answers a malformed message.
    Substitute(Vec<u8>),
    /// A malformed message that cannot be answered (its problems say why).
    Dropped,
    End,
}

/// Reads messages one at a time, resynchronising after malformed ones.
struct Framer<R> {
    input: Input<R>,
    limits: Limits,
    /// The number of the message being read, from 1, for the log.
    number: u64,
    /// The length of the message last handed out, consumed when the next is read.
    handed_out: usize,
    /// What was wrong since the last call to [`Framer::next`], one line each.
    problems: Vec<String>,
}

impl<R: AsyncRead + Unpin> Framer<R> {
    fn new(reader: R, limits: Limits) -> Framer<R> {
        Framer {
            input: Input::new(reader),
            limits,
            number: 0,
            handed_out: 0,
            problems: Vec::new(),
        }
    }

    /// The next message, read up to its end (so that its problems are logged without waiting
    /// for the one after).
    async fn next(&mut self) -> Frame {
        self.input.consume(std::mem::take(&mut self.handed_out));
        self.number += 1;
        let declared = match self.read_headers().await {
            Headers::Length(length) => length,
            Headers::Unusable => return Frame::Dropped,
            Headers::End => return Frame::End,
        };
        if declared > self.limits.body {
            return match self.skip_body(declared).await {
                true => Frame::Dropped,
                false => Frame::End,
            };
        }
        match self.read_body(declared).await {
            Body::Message => {
                self.handed_out = declared;
                Frame::Message(declared)
            }
            Body::Malformed { length } => {
                let substitute = self.reject(length, declared);
                self.input.consume(length);
                substitute.map_or(Frame::Dropped, Frame::Substitute)
            }
            Body::End => Frame::End,
        }
    }

    /// Reads one header block, up to its blank line.
    async fn read_headers(&mut self) -> Headers {
        let mut length = None;
        let mut in_block = false;
        // Bytes of lines that are not headers.
        let mut stray = 0;
        let ended = loop {
            let (line, skipped) = match self.input.read_line(self.limits.header_line).await {
                Line::Complete(line) => (line, 0),
                Line::TooLong { tail, skipped } => {
                    self.problem(format!(
                        "a header line of {} bytes is over the {} byte limit: skipped",
                        skipped + tail.len(),
                        self.limits.header_line
                    ));
                    (tail, skipped)
                }
                Line::End => break true,
            };
            let too_long = skipped > 0;
            let trimmed = line.trim_ascii();
            if trimmed.is_empty() && !too_long {
                if in_block {
                    break false;
                }
                continue;
            }
            if let Some((start, value)) = trailing_length_header(trimmed)
                && (start > 0 || too_long)
            {
                // The end of a message whose Content-Length was wrong, glued to the next
                // message's first header: a new block starts there.
                let leading = line.len() - line.trim_ascii_start().len();
                stray += skipped + leading + start;
                length = Some(Ok(value));
                in_block = true;
                continue;
            }
            if too_long {
                in_block = true;
                continue;
            }
            match header(trimmed) {
                Some((name, value)) if name.eq_ignore_ascii_case(b"content-length") => {
                    length = Some(
                        byte_count(value)
                            .ok_or_else(|| String::from_utf8_lossy(value).into_owned()),
                    );
                    in_block = true;
                }
                Some(_) => in_block = true,
                None => stray += line.len() + 1,
            }
        };
        if stray > 0 {
            self.problem(format!(
                "{stray} bytes that are not headers were skipped (did the Content-Length of the message before not match its body?)"
            ));
        }
        if ended {
            return Headers::End;
        }
        match length {
            Some(Ok(length)) => Headers::Length(length),
            Some(Err(value)) => {
                self.problem(format!(
                    "its Content-Length `{value}` is not a number of bytes: skipped up to the next Content-Length header"
                ));
                Headers::Unusable
            }
            None => {
                self.problem("it has no Content-Length header: ignored".to_owned());
                Headers::Unusable
            }
        }
    }

    /// Reads a body of `declared` bytes without consuming it.
    async fn read_body(&mut self, declared: usize) -> Body {
        self.input.reserve(declared);
        // Line breaks before this offset were already looked at.
        let mut searched = 0;
        loop {
            let unread = self.input.unread();
            if unread.len() >= declared {
                let body = &unread[..declared];
                if is_json_rpc(body) {
                    return Body::Message;
                }
                let length = next_message_start(body, searched)
                    .or_else(|| unfinished_length_header(body))
                    .unwrap_or(declared);
                return Body::Malformed { length };
            }
            // About to wait for more: if the next message has started, the Content-Length was
            // too long and the rest may never come.
            if let Some(length) = next_message_start(unread, searched) {
                return Body::Malformed { length };
            }
            searched = unread.len();
            if !self.input.fill().await {
                tracing::info!("the input ended inside message {}", self.number);
                return Body::End;
            }
        }
    }

    /// Skips a body over the size limit in bounded chunks, or up to the next message if one
    /// starts inside it. False at the end of the input.
    async fn skip_body(&mut self, declared: usize) -> bool {
        let limit = self.limits.body;
        let mut left = declared;
        let mut searched = 0;
        loop {
            let unread = self.input.unread();
            let window = &unread[..unread.len().min(left)];
            if let Some(start) = next_message_start(window, searched) {
                self.problem(format!(
                    "its Content-Length ({declared}) is over the {limit} byte limit, and a new message starts after {} bytes: skipped up to there",
                    declared - left + start
                ));
                self.input.consume(start);
                return true;
            }
            if window.len() == left {
                let end = unfinished_length_header(window).unwrap_or(left);
                self.problem(format!(
                    "its {declared} bytes are over the {limit} byte limit: skipped"
                ));
                self.input.consume(end);
                return true;
            }
            // Keep what could be the start of a Content-Length header cut by the chunk's end.
            let keep = window.len().min(LONGEST_LENGTH_HEADER);
            let dropped = window.len() - keep;
            self.input.consume(dropped);
            left -= dropped;
            searched = keep;
            if !self.input.fill().await {
                tracing::info!("the input ended inside message {}", self.number);
                return false;
            }
        }
    }

    /// The problem with the first `length` bytes of a message of `declared` bytes that the
    /// protocol layer cannot read, logged, and the substitute request that answers it, if it can
    /// be answered.
    fn reject(&mut self, length: usize, declared: usize) -> Option<Vec<u8>> {
        let body = &self.input.unread()[..length];
        let parsed = serde_json::from_slice::<Value>(body);
        let id = parsed
            .as_ref()
            .ok()
            .and_then(|value| match value.get("id") {
                Some(id @ (Value::Number(_) | Value::String(_))) => Some(id.clone()),
                _ => None,
            });
        if length < declared {
            self.problem(format!(
                "its Content-Length ({declared}) is longer than the message, and a new message starts after {length} bytes: read on from there"
            ));
            let reason = format!(
                "its Content-Length ({declared}) is longer than the message ({length} bytes)"
            );
            return Some(match id {
                Some(id) => substitute(&id, ErrorCode::InvalidRequest, &reason),
                None => substitute(&Value::Null, ErrorCode::ParseError, &reason),
            });
        }
        match (parsed, id) {
            (Err(error), _) => {
                self.problem(format!(
                    "it is not JSON ({error}): answered with a parse error"
                ));
                let reason = format!("the message is not JSON: {error}");
                Some(substitute(&Value::Null, ErrorCode::ParseError, &reason))
            }
            (Ok(_), Some(id)) => {
                self.problem(format!(
                    "{NOT_JSON_RPC}: answered (id {id}) with an invalid request error"
                ));
                Some(substitute(&id, ErrorCode::InvalidRequest, NOT_JSON_RPC))
            }
            (Ok(_), None) => {
                self.problem(format!("{NOT_JSON_RPC}: ignored"));
                None
            }
        }
    }

    fn problem(&mut self, what: String) {
        self.problems
            .push(format!("message {}: {what}", self.number));
    }
}

const NOT_JSON_RPC: &str = "it is not a JSON-RPC 2.0 request, notification or response";

enum Headers {
    Length(usize),
    /// A header block without a usable Content-Length (logged).
    Unusable,
    End,
}

enum Body {
    /// The body is a message the protocol layer reads.
    Message,
    /// The first `length` bytes are a malformed message; the next one starts after them.
    Malformed {
        length: usize,
    },
    End,
}

/// Whether the protocol layer can read `body`.
fn is_json_rpc(body: &[u8]) -> bool {
    serde_json::from_slice::<Request>(body).is_ok()
        || serde_json::from_slice::<Response>(body).is_ok()
}

/// A request to [`ANSWER_MALFORMED`] that answers `id` with an error.
fn substitute(id: &Value, code: ErrorCode, reason: &str) -> Vec<u8> {
    let kind = match code {
        ErrorCode::ParseError => "parse error",
        _ => "invalid request",
    };
    let request = json!({
        "jsonrpc": "2.0",
        "id": id,
        "method": ANSWER_MALFORMED,
        "params": { "code": code.code(), "message": format!("{kind}: {reason}") },
    });
    request.to_string().into_bytes()
}

/// `name: value` when `line` is a header (a name of token characters, a colon, a value).
fn header(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = line.iter().position(|&byte| byte == b':')?;
    let name = &line[..colon];
    let token = |byte: &u8| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(byte);
    (!name.is_empty() && name.iter().all(token)).then(|| (name, line[colon + 1..].trim_ascii()))
}

const CONTENT_LENGTH: &[u8] = b"content-length:";
/// Digits in the longest length a Content-Length header can give (`usize::MAX` on 64 bits).
const MAX_DIGITS: usize = 20;
/// Spaces or tabs allowed on each side of the value when looking for a header in a body.
const MAX_SPACES: usize = 16;
/// The longest `Content-Length: <digits>` line, without its `\n`.
const LONGEST_LENGTH_HEADER: usize = CONTENT_LENGTH.len() + 2 * MAX_SPACES + MAX_DIGITS + 1;

/// Where `line` (without its `\n`) ends with a `Content-Length: <digits>` header, and the
/// length it gives (saturated: an absurd length is then over the limit).
fn trailing_length_header(line: &[u8]) -> Option<(usize, usize)> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let spaces = |bytes: &[u8]| {
        bytes
            .iter()
            .rev()
            .take_while(|byte| matches!(byte, b' ' | b'\t'))
            .count()
    };
    let before_spaces = line.len() - spaces(line).min(MAX_SPACES);
    let line = &line[..before_spaces];
    let digits = line
        .iter()
        .rev()
        .take_while(|byte| byte.is_ascii_digit())
        .count();
    if digits == 0 || digits > MAX_DIGITS {
        return None;
    }
    let value = &line[line.len() - digits..];
    let line = &line[..line.len() - digits];
    let line = &line[..line.len() - spaces(line).min(MAX_SPACES)];
    let start = line.len().checked_sub(CONTENT_LENGTH.len())?;
    if !line[start..].eq_ignore_ascii_case(CONTENT_LENGTH) {
        return None;
    }
    Some((start, byte_count(value)?))
}

/// The number `digits` spell, saturated: an absurd length is then over the limit, and skipped.
fn byte_count(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0usize, |count, digit| {
        count
            .saturating_mul(10)
            .saturating_add(usize::from(digit - b'0'))
    }))
}

/// Where the first `Content-Length: <digits>` line ending at a line break at or after offset
/// `from` of `bytes` starts. Valid JSON holds no raw line break inside a string and no such
/// text outside one, so a body that holds it runs into the next message.
fn next_message_start(bytes: &[u8], from: usize) -> Option<usize> {
    let mut offset = from;
    while let Some(newline) = find_newline(&bytes[offset..]) {
        let end = offset + newline;
        let line_start = end.saturating_sub(LONGEST_LENGTH_HEADER);
        if let Some((start, _)) = trailing_length_header(&bytes[line_start..end]) {
            return Some(line_start + start);
        }
        offset = end + 1;
    }
    None
}

/// Where `body` ends with the start of a `Content-Length` header cut off by the body's end
/// (the declared length ran a few bytes into the next message). Valid JSON cannot end so.
fn unfinished_length_header(body: &[u8]) -> Option<usize> {
    let tail_start = body.len().saturating_sub(LONGEST_LENGTH_HEADER);
    (tail_start..body.len()).find(|&start| could_start_length_header(&body[start..]))
}

/// Whether `bytes` are the first bytes of a `Content-Length: <digits>\r\n` line.
fn could_start_length_header(bytes: &[u8]) -> bool {
    let name = bytes.len().min(CONTENT_LENGTH.len());
    if !bytes[..name].eq_ignore_ascii_case(&CONTENT_LENGTH[..name]) {
        return false;
    }
    let rest = &bytes[name..];
    let spaces = rest
        .iter()
        .take_while(|byte| matches!(byte, b' ' | b'\t'))
        .count();
    let rest = &rest[spaces..];
    let digits = rest.iter().take_while(|byte| byte.is_ascii_digit()).count();
    let rest = &rest[digits..];
    let spaces = rest
        .iter()
        .take_while(|byte| matches!(byte, b' ' | b'\t'))
        .count();
    matches!(&rest[spaces..], b"" | b"\r")
}

fn find_newline(bytes: &[u8]) -> Option<usize> {
    // Searched a block at a time: `contains` on bytes is a vectorised `memchr`.
    const BLOCK: usize = 4096;
    let mut offset = 0;
    for block in bytes.chunks(BLOCK) {
        if block.contains(&b'\n') {
            return block
                .iter()
                .position(|&byte| byte == b'\n')
                .map(|at| offset + at);
        }
        offset += block.len();
    }
    None
}

enum Line {
    /// A line without its `\n`.
    Complete(Vec<u8>),
    /// A line over the limit: its last bytes (enough to hold a Content-Length header glued to
    /// its end), after `skipped` bytes that were dropped unread.
    TooLong {
        tail: Vec<u8>,
        skipped: usize,
    },
    End,
}

/// The input and the bytes read from it but not yet consumed.
struct Input<R> {
    reader: R,
    buffer: Vec<u8>,
    /// Where the unread bytes start in `buffer`.
    start: usize,
}

impl<R: AsyncRead + Unpin> Input<R> {
    fn new(reader: R) -> Input<R> {
        Input {
            reader,
            buffer: Vec::new(),
            start: 0,
        }
    }

    fn unread(&self) -> &[u8] {
        &self.buffer[self.start..]
    }

    fn consume(&mut self, length: usize) {
        self.start += length;
    }

    /// Makes room for `length` unread bytes, so that a body is read into one allocation.
    fn reserve(&mut self, length: usize) {
        let unread = self.buffer.len() - self.start;
        self.buffer.reserve(length.saturating_sub(unread));
    }

    /// Reads more bytes; false at the end of the input.
    async fn fill(&mut self) -> bool {
        if self.start > 0 {
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        // Give back what a large message took once it is read.
        if self.buffer.capacity() > 4 * READ_CHUNK && self.buffer.len() < READ_CHUNK {
            self.buffer.shrink_to(2 * READ_CHUNK);
        }
        self.buffer.reserve(READ_CHUNK);
        match self.reader.read_buf(&mut self.buffer).await {
            Ok(read) => read > 0,
            Err(error) => {
                tracing::info!("cannot read the input: {error}");
                false
            }
        }
    }

    /// Reads one line, holding at most `limit` bytes of it.
    async fn read_line(&mut self, limit: usize) -> Line {
        let mut searched = 0;
        loop {
            let unread = self.unread();
            let newline = find_newline(&unread[searched..]).map(|at| searched + at);
            if newline.unwrap_or(unread.len()) > limit {
                return self.skip_line().await;
            }
            if let Some(end) = newline {
                let line = unread[..end].to_vec();
                self.consume(end + 1);
                return Line::Complete(line);
            }
            searched = unread.len();
            if !self.fill().await {
                return Line::End;
            }
        }
    }

    /// Drops the rest of an over-long line but for its last bytes.
    async fn skip_line(&mut self) -> Line {
        const TAIL: usize = LONGEST_LENGTH_HEADER;
        let mut skipped = 0;
        loop {
            let unread = self.unread();
            let newline = find_newline(unread);
            let end = newline.unwrap_or(unread.len());
            let drop = end.saturating_sub(TAIL);
            skipped += drop;
            if newline.is_some() {
                let tail = unread[drop..end].to_vec();
                self.consume(end + 1);
                return Line::TooLong { tail, skipped };
            }
            self.consume(drop);
            if !self.fill().await {
                return Line::End;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use expect_test::{Expect, expect};
    use proptest::prelude::*;
    use tokio::io::ReadBuf;

    use super::*;

    /// Small limits, so that a test shows what happens past them with little input.
    const SMALL: Limits = Limits {
        header_line: 100,
        body: 1000,
    };

    const PING: &[u8] = br#"{"jsonrpc":"2.0","id":2,"method":"shutdown"}"#;

    fn framed(bodies: &[&[u8]]) -> Vec<u8> {
        let mut input = Vec::new();
        for body in bodies {
            input.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
            input.extend_from_slice(body);
        }
        input
    }

    fn with_length(length: &str, body: &[u8]) -> Vec<u8> {
        let mut input = format!("Content-Length: {length}\r\n\r\n").into_bytes();
        input.extend_from_slice(body);
        input
    }

    /// What the framer makes of `input`, a line for each error logged, message passed on and
    /// substitute request.
    async fn frames(input: impl AsyncRead + Unpin, limits: Limits) -> String {
        let mut framer = Framer::new(input, limits);
        let mut out = String::new();
        loop {
            let frame = framer.next().await;
            for problem in framer.problems.drain(..) {
                out.push_str(&format!("error: {problem}\n"));
            }
            let (kind, body) = match &frame {
                Frame::Message(length) => ("message", &framer.input.unread()[..*length]),
                Frame::Substitute(body) => ("answer", body.as_slice()),
                Frame::Dropped => continue,
                Frame::End => return out,
            };
            let body = String::from_utf8_lossy(body);
            let shown: String = body.chars().take(200).collect();
            out.push_str(&format!("{kind}: {shown}\n"));
        }
    }

    async fn check(input: Vec<u8>, expected: Expect) {
        expected.assert_eq(&frames(std::io::Cursor::new(input), SMALL).await);
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
        let output = pass_through(framed(&[message, PING])).await;
        assert_eq!(output.as_bytes(), framed(&[message, PING]));
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

    #[tokio::test]
    async fn a_body_that_is_not_json_is_answered_with_a_parse_error_for_a_null_id() {
        let deep = "[".repeat(100_000);
        let input = framed(&[b"{ not json", b"\xff\xfe", deep.as_bytes(), PING]);
        let output = frames(std::io::Cursor::new(input), Limits::DEFAULT).await;
        expect![[r#"
            error: message 1: it is not JSON (key must be a string at line 1 column 3): answered with a parse error
            answer: {"id":null,"jsonrpc":"2.0","method":"$/codexos/answerMalformed","params":{"code":-32700,"message":"parse error: the message is not JSON: key must be a string at line 1 column 3"}}
            error: message 2: it is not JSON (expected value at line 1 column 1): answered with a parse error
            answer: {"id":null,"jsonrpc":"2.0","method":"$/codexos/answerMalformed","params":{"code":-32700,"message":"parse error: the message is not JSON: expected value at line 1 column 1"}}
            error: message 3: it is not JSON (recursion limit exceeded at line 1 column 128): answered with a parse error
            answer: {"id":null,"jsonrpc":"2.0","method":"$/codexos/answerMalformed","params":{"code":-32700,"message":"parse error: the message is not JSON: recursion limit exceeded at line 1 column 128"}}
            message: {"jsonrpc":"2.0","id":2,"method":"shutdown"}
        "#]].assert_eq(&output);
    }

    #[tokio::test]
    async fn json_that_is_not_json_rpc_is_answered_for_its_id_or_else_ignored() {
        let mut input = framed(&[br#"{"id":7,"method":12}"#, br#"{"method":12}"#]);
        input.extend_from_slice(b"X-Junk: 1\r\n\r\n");
        input.extend_from_slice(&framed(&[PING]));
        check(
            input,
            expect![[r#"
                error: message 1: it is not a JSON-RPC 2.0 request, notification or response: answered (id 7) with an invalid request error
                answer: {"id":7,"jsonrpc":"2.0","method":"$/codexos/answerMalformed","params":{"code":-32600,"message":"invalid request: it is not a JSON-RPC 2.0 request, notification or response"}}
                error: message 2: it is not a JSON-RPC 2.0 request, notification or response: ignored
                error: message 3: it has no Content-Length header: ignored
                message: {"jsonrpc":"2.0","id":2,"method":"shutdown"}
            "#]],
        )
        .await;
    }

    #[tokio::test]
    async fn a_content_length_that_runs_into_the_next_message_is_cut_where_that_message_starts() {
        let first = br#"{"jsonrpc":"2.0","id":1,"method":"shutdown"}"#;
        // The declared length covers the next message's header and half its body.
        let mut input = with_length(&(first.len() + 40).to_string(), first);
        input.extend_from_slice(&framed(&[PING, PING]));
        check(
            input,
            expect![[r#"
                error: message 1: its Content-Length (84) is longer than the message, and a new message starts after 44 bytes: read on from there
                answer: {"id":1,"jsonrpc":"2.0","method":"$/codexos/answerMalformed","params":{"code":-32600,"message":"invalid request: its Content-Length (84) is longer than the message (44 bytes)"}}
                message: {"jsonrpc":"2.0","id":2,"method":"shutdown"}
                message: {"jsonrpc":"2.0","id":2,"method":"shutdown"}
            "#]],
        )
        .await;
    }

    #[tokio::test]
    async fn a_content_length_that_runs_a_few_bytes_into_the_next_header_is_cut_there() {
        let body = b"{ not json";
        let mut input = with_length(&(body.len() + 5).to_string(), body);
        input.extend_from_slice(&framed(&[PING]));
        check(
            input,
            expect![[r#"
                error: message 1: its Content-Length (15) is longer than the message, and a new message starts after 10 bytes: read on from there
                answer: {"id":null,"jsonrpc":"2.0","method":"$/codexos/answerMalformed","params":{"code":-32700,"message":"parse error: its Content-Length (15) is longer than the message (10 bytes)"}}
                message: {"jsonrpc":"2.0","id":2,"method":"shutdown"}
            "#]],
        )
        .await;
    }

    #[tokio::test]
    async fn a_content_length_longer_than_all_the_input_does_not_wait_for_bytes_that_never_come() {
        let (mut client, server) = tokio::io::duplex(4096);
        let mut input = with_length("900", br#"{"jsonrpc":"2.0","id":1,"method":"shutdown"}"#);
        input.extend_from_slice(&framed(&[PING]));
        client.write_all(&input).await.expect("write");
        // The client keeps its end open and waits for an answer.
        let mut framer = Framer::new(server, SMALL);
        let answer = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            let first = framer.next().await;
            assert!(matches!(first, Frame::Substitute(_)));
            matches!(framer.next().await, Frame::Message(length) if &framer.input.unread()[..length] == PING)
        });
        assert_eq!(answer.await, Ok(true), "the next message is read");
        drop(client);
    }

    #[tokio::test]
    async fn a_content_length_shorter_than_the_body_is_answered_and_the_rest_skipped() {
        let mut input = with_length(
            "10",
            br#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#,
        );
        input.extend_from_slice(&framed(&[PING]));
        check(
            input,
            expect![[r#"
                error: message 1: it is not JSON (EOF while parsing an object at line 1 column 10): answered with a parse error
                answer: {"id":null,"jsonrpc":"2.0","method":"$/codexos/answerMalformed","params":{"code":-32700,"message":"parse error: the message is not JSON: EOF while parsing an object at line 1 column 10"}}
                error: message 2: 42 bytes that are not headers were skipped (did the Content-Length of the message before not match its body?)
                message: {"jsonrpc":"2.0","id":2,"method":"shutdown"}
            "#]],
        )
        .await;
    }

    #[tokio::test]
    async fn a_content_length_that_is_not_a_number_skips_to_the_next_message() {
        let pretty = b"{\n  \"jsonrpc\": \"2.0\",\n  \"method\": \"initialized\"\n}";
        let mut input = with_length("-1", b"{}");
        input.extend_from_slice(b"\r\n");
        input.extend_from_slice(&with_length("twelve", pretty));
        input.extend_from_slice(&framed(&[PING]));
        check(
            input,
            expect![[r#"
                error: message 1: its Content-Length `-1` is not a number of bytes: skipped up to the next Content-Length header
                error: message 2: 4 bytes that are not headers were skipped (did the Content-Length of the message before not match its body?)
                error: message 2: its Content-Length `twelve` is not a number of bytes: skipped up to the next Content-Length header
                error: message 3: 49 bytes that are not headers were skipped (did the Content-Length of the message before not match its body?)
                message: {"jsonrpc":"2.0","id":2,"method":"shutdown"}
            "#]],
        )
        .await;
    }

    #[tokio::test]
    async fn a_header_line_over_the_limit_is_skipped_and_a_header_glued_to_its_end_is_read() {
        let mut input = format!("X-Junk: {}\r\n", "a".repeat(10_000)).into_bytes();
        input.extend_from_slice(&framed(&[PING]));
        // Junk without a line break, then a message.
        input.extend_from_slice("b".repeat(10_000).as_bytes());
        input.extend_from_slice(&framed(&[PING]));
        check(
            input,
            expect![[r#"
                error: message 1: a header line of 10009 bytes is over the 100 byte limit: skipped
                message: {"jsonrpc":"2.0","id":2,"method":"shutdown"}
                error: message 2: a header line of 10019 bytes is over the 100 byte limit: skipped
                error: message 2: 10000 bytes that are not headers were skipped (did the Content-Length of the message before not match its body?)
                message: {"jsonrpc":"2.0","id":2,"method":"shutdown"}
            "#]],
        )
        .await;
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_skipped_unless_a_message_starts_inside_it() {
        let large = format!(
            r#"{{"jsonrpc":"2.0","method":"x","params":"{}"}}"#,
            "x".repeat(5000)
        );
        let mut input = framed(&[large.as_bytes(), PING]);
        input.extend_from_slice(&with_length("99999999999999999999999", PING));
        input.extend_from_slice(&with_length("18446744073709551615", PING));
        input.extend_from_slice(&framed(&[PING]));
        check(
            input,
            expect![[r#"
                error: message 1: its 5042 bytes are over the 1000 byte limit: skipped
                message: {"jsonrpc":"2.0","id":2,"method":"shutdown"}
                error: message 3: its Content-Length (18446744073709551615) is over the 1000 byte limit, and a new message starts after 44 bytes: skipped up to there
                error: message 4: its Content-Length (18446744073709551615) is over the 1000 byte limit, and a new message starts after 44 bytes: skipped up to there
                message: {"jsonrpc":"2.0","id":2,"method":"shutdown"}
            "#]],
        )
        .await;
    }

    /// Hands out `input` in chunks of the given sizes (the last one repeated).
    struct Chunked {
        input: Vec<u8>,
        at: usize,
        sizes: Vec<usize>,
    }

    impl AsyncRead for Chunked {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            let size = match self.sizes.len() {
                0 => usize::MAX,
                1 => self.sizes[0],
                _ => self.sizes.remove(0),
            };
            let end = self.input.len().min(self.at + size.max(1));
            let end = end.min(self.at + buf.remaining());
            buf.put_slice(&self.input[self.at..end]);
            self.at = end;
            Poll::Ready(Ok(()))
        }
    }

    fn run<T>(future: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(future)
    }

    proptest! {
        #[test]
        fn well_formed_messages_pass_unchanged_however_the_input_is_cut(
            sizes in proptest::collection::vec(1usize..80, 1..40),
            text in "[ -~]{0,200}",
        ) {
            // A body that quotes a header and holds line breaks, as a document may.
            let body = json!({ "jsonrpc": "2.0", "method": "x", "params": format!("Content-Length: 5\r\n{text}\n") })
                .to_string();
            let pretty = serde_json::to_string_pretty(&json!({ "jsonrpc": "2.0", "id": 1, "result": text })).expect("json");
            let input = framed(&[body.as_bytes(), pretty.as_bytes(), PING]);
            let output = run(frames(Chunked { input, at: 0, sizes }, SMALL));
            let expected = [body.as_str(), pretty.as_str(), std::str::from_utf8(PING).expect("utf-8")]
                .map(|body| format!("message: {}\n", body.chars().take(200).collect::<String>()))
                .concat();
            prop_assert_eq!(output, expected);
        }

        #[test]
        fn after_any_bytes_and_a_blank_line_the_next_two_messages_are_read(
            pieces in proptest::collection::vec(
                prop_oneof![
                    Just("Content-Length: ".to_owned()),
                    Just("content-length:5".to_owned()),
                    Just("\r\n".to_owned()),
                    Just("\n".to_owned()),
                    Just("{\"jsonrpc\":\"2.0\",".to_owned()),
                    "[0-9]{1,25}",
                    "[ -~]{0,20}",
                ],
                0..30,
            ),
            sizes in proptest::collection::vec(1usize..300, 1..10),
        ) {
            let mut input = pieces.concat().into_bytes();
            input.extend_from_slice(b"\r\n\r\n");
            input.extend_from_slice(&framed(&[PING, PING]));
            let output = run(frames(Chunked { input, at: 0, sizes }, SMALL));
            let ping = format!("message: {}\n", std::str::from_utf8(PING).expect("utf-8"));
            prop_assert!(output.ends_with(&format!("{ping}{ping}")), "{}", output);
        }
    }
}
