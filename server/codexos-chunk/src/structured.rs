//! JSON, TOML and YAML by top-level keys (and top-level array elements, named `[i]`).
//!
//! The splitters are cheap scanners. JSON and TOML are validated by their parsers first and
//! a file that does not parse goes to the sliding window; YAML has no parser here, so a
//! YAML file goes to the window when no top-level key is found.

use crate::assemble::{FileContext, Item};
use crate::chunk::{Chunk, ChunkKind};
use crate::tokens::is_blank;

/// Chunks JSON; `None` if it is not valid JSON or not an object or array.
pub(crate) fn chunk_json(ctx: &FileContext) -> Option<Vec<Chunk>> {
    serde_json::from_str::<serde::de::IgnoredAny>(ctx.text).ok()?;
    let entries = json_entries(ctx.text)?;
    Some(chunk_entries(ctx, entries))
}

/// Chunks TOML; `None` if it is not valid TOML.
pub(crate) fn chunk_toml(ctx: &FileContext) -> Option<Vec<Chunk>> {
    toml::from_str::<toml::Table>(ctx.text).ok()?;
    Some(chunk_entries(ctx, toml_entries(ctx.text)))
}

/// Chunks YAML; `None` if no top-level key or element was found.
pub(crate) fn chunk_yaml(ctx: &FileContext) -> Option<Vec<Chunk>> {
    let entries = yaml_entries(ctx.text);
    if entries.is_empty() {
        return None;
    }
    Some(chunk_entries(ctx, entries))
}

/// A top-level entry: where it starts and what it is called.
struct Entry {
    start: usize,
    name: String,
}

/// Items from entry starts: each runs to the last visible byte before the next one.
fn chunk_entries(ctx: &FileContext, entries: Vec<Entry>) -> Vec<Chunk> {
    let bytes = ctx.text.as_bytes();
    let mut items = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let next = entries
            .get(index + 1)
            .map_or(bytes.len(), |next| next.start);
        let end = bytes[entry.start..next]
            .iter()
            .rposition(|&byte| !is_blank(byte))
            .map_or(next, |at| entry.start + at + 1);
        items.push(Item {
            start: entry.start,
            end,
            symbol: entry.name.clone(),
            kind: ChunkKind::Key,
            parent: None,
            tokens: ctx.tokens.count(entry.start, end),
        });
    }
    ctx.chunk_document(items)
}

/// Members of the top-level object, or elements of the top-level array, of valid JSON.
fn json_entries(text: &str) -> Option<Vec<Entry>> {
    let bytes = text.as_bytes();
    let opening = bytes.iter().position(|&byte| !is_blank(byte))?;
    let is_object = match bytes[opening] {
        b'{' => true,
        b'[' => false,
        _ => return None,
    };
    let mut entries = Vec::new();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut expecting_entry = false;
    let mut key_start = None;
    for (at, &byte) in bytes.iter().enumerate().skip(opening) {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
                if let Some(start) = key_start.take() {
                    let raw = &text[start..=at];
                    let name =
                        serde_json::from_str::<String>(raw).unwrap_or_else(|_| raw.to_owned());
                    entries.push(Entry { start, name });
                }
            }
            continue;
        }
        if is_blank(byte) {
            continue;
        }
        if depth == 1 && expecting_entry && byte != b']' && byte != b'}' {
            expecting_entry = false;
            if is_object {
                key_start = Some(at);
            } else {
                entries.push(Entry {
                    start: at,
                    name: format!("[{}]", entries.len()),
                });
            }
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                expecting_entry = depth == 1;
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' if depth == 1 => expecting_entry = true,
            _ => {}
        }
    }
    Some(entries)
}

/// Tables (`[a.b]`, `[[bin]]`) and keys before the first table, each with the comment lines
/// directly above it.
fn toml_entries(text: &str) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut scanner = TomlValueScanner::default();
    let mut in_table = false;
    let mut comment_run_start: Option<usize> = None;
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let start = line_start;
        line_start += line.len();
        if scanner.continues_value() {
            scanner.scan(line);
            continue;
        }
        let body = line.trim();
        if body.starts_with('#') {
            comment_run_start.get_or_insert(start);
            continue;
        }
        let entry_start = comment_run_start.take().unwrap_or(start);
        if body.is_empty() {
            continue;
        }
        if body.starts_with('[') {
            in_table = true;
            let name = body
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or_default()
                .trim();
            entries.push(Entry {
                start: entry_start,
                name: name.to_owned(),
            });
        } else {
            if !in_table {
                let key = body
                    .split('=')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .trim_matches(['"', '\'']);
                entries.push(Entry {
                    start: entry_start,
                    name: key.to_owned(),
                });
            }
            scanner.scan(line);
        }
    }
    entries
}

/// Tracks TOML values that run over several lines: `"""` and `'''` strings, and arrays or
/// inline tables left open.
#[derive(Default)]
struct TomlValueScanner {
    open_string: Option<&'static str>,
    brackets: usize,
}

impl TomlValueScanner {
    fn continues_value(&self) -> bool {
        self.open_string.is_some() || self.brackets > 0
    }

    fn scan(&mut self, line: &str) {
        let mut rest = line;
        while !rest.is_empty() {
            if let Some(delimiter) = self.open_string {
                match rest.find(delimiter) {
                    Some(at) => {
                        rest = &rest[at + delimiter.len()..];
                        self.open_string = None;
                    }
                    None => return,
                }
                continue;
            }
            let Some(at) = rest.find(['"', '\'', '[', ']', '{', '}', '#']) else {
                return;
            };
            let tail = &rest[at..];
            if let Some(delimiter) = ["\"\"\"", "'''"]
                .into_iter()
                .find(|delimiter| tail.starts_with(delimiter))
            {
                self.open_string = Some(delimiter);
                rest = &tail[3..];
                continue;
            }
            match tail.as_bytes()[0] {
                b'#' => return,
                quote @ (b'"' | b'\'') => {
                    let closing = string_end(&tail[1..], quote);
                    rest = closing.map_or("", |end| &tail[1 + end + 1..]);
                    continue;
                }
                b'[' | b'{' => self.brackets += 1,
                _ => self.brackets = self.brackets.saturating_sub(1),
            }
            rest = &tail[1..];
        }
    }
}

/// Byte offset of the quote closing a one-line string (escapes only in `"` strings).
fn string_end(text: &str, quote: u8) -> Option<usize> {
    let mut escaped = false;
    for (at, byte) in text.bytes().enumerate() {
        if escaped {
            escaped = false;
        } else if byte == b'\\' && quote == b'"' {
            escaped = true;
        } else if byte == quote {
            return Some(at);
        }
    }
    None
}

/// Keys and `- ` elements at column 0, with the comment lines directly above them.
fn yaml_entries(text: &str) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut element = 0;
    let mut comment_run_start: Option<usize> = None;
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let start = line_start;
        line_start += line.len();
        let body = line.trim_end();
        if body.starts_with('#') {
            comment_run_start.get_or_insert(start);
            continue;
        }
        let entry_start = comment_run_start.take().unwrap_or(start);
        if body.is_empty() || body.starts_with([' ', '\t']) {
            continue;
        }
        if body == "---" || body.starts_with("--- ") || body == "..." {
            element = 0;
            continue;
        }
        if body == "-" || body.starts_with("- ") {
            entries.push(Entry {
                start: entry_start,
                name: format!("[{element}]"),
            });
            element += 1;
        } else if let Some(key) = yaml_key(body) {
            entries.push(Entry {
                start: entry_start,
                name: key.to_owned(),
            });
        }
    }
    entries
}

/// The key of a `key: value` line (quoted keys unquoted), if the line is one.
fn yaml_key(body: &str) -> Option<&str> {
    if let Some(quote) = body.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let close = body[1..].find(quote)? + 1;
        return body[close + 1..]
            .trim_start()
            .starts_with(':')
            .then(|| &body[1..close]);
    }
    let colon = body
        .find(": ")
        .or_else(|| body.ends_with(':').then(|| body.len() - 1))?;
    let key = body[..colon].trim();
    (!key.is_empty() && !key.starts_with(['{', '[', '&', '*', '!', '|', '>', '%', '@', '`']))
        .then_some(key)
}
