//! A tolerant JSON parser that keeps the byte range of every key and value.
//!
//! Editors send half-typed documents, so the parser never gives up: it reports each syntax error
//! with its range and goes on, building as much of the tree as it can (a missing comma, a missing
//! value, an unterminated string or an unclosed bracket leave the rest of the document intact).
//! Strings end at a line break when their closing quote is missing, so typing inside one string
//! does not swallow the rest of the file.

use crate::text::TextRange;

/// Nesting deeper than this is reported and skipped, so hostile input cannot exhaust the stack.
pub const MAX_DEPTH: usize = 128;

#[derive(Clone, Debug, PartialEq)]
pub struct Value {
    pub range: TextRange,
    pub kind: ValueKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ValueKind {
    Object(Vec<Member>),
    Array(Vec<Value>),
    String(JsonString),
    /// The number's value; the source text stays available through `range`.
    Number(f64),
    Bool(bool),
    Null,
    /// Something that is not a JSON value (a bare word, a nesting too deep to keep).
    Invalid,
}

#[derive(Clone, Debug, PartialEq)]
pub struct JsonString {
    /// The unescaped value.
    pub value: String,
    /// The source between the quotes (to the end of the line when unterminated).
    pub content: TextRange,
    pub terminated: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    pub key: Key,
    pub value: Option<Value>,
}

impl Member {
    /// From the key's opening quote to the end of the value (or of the key when it has none).
    pub fn range(&self) -> TextRange {
        let end = self
            .value
            .as_ref()
            .map_or(self.key.range.end, |v| v.range.end);
        TextRange::new(self.key.range.start, end)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    pub name: String,
    /// Including the quotes.
    pub range: TextRange,
    /// Between the quotes.
    pub content: TextRange,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub range: TextRange,
    pub message: String,
}

/// A parsed document: the root value (if any) and every syntax error, in source order.
#[derive(Clone, Debug, PartialEq)]
pub struct Json {
    pub root: Option<Value>,
    pub errors: Vec<SyntaxError>,
}

impl Value {
    pub fn as_object(&self) -> Option<&[Member]> {
        match &self.kind {
            ValueKind::Object(members) => Some(members),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match &self.kind {
            ValueKind::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_string(&self) -> Option<&JsonString> {
        match &self.kind {
            ValueKind::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        self.as_string().map(|s| s.value.as_str())
    }

    /// The first member named `name`, for an object.
    pub fn member(&self, name: &str) -> Option<&Member> {
        self.as_object()?.iter().find(|m| m.key.name == name)
    }

    /// The value of the first member named `name`, for an object.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.member(name)?.value.as_ref()
    }

    /// A short name of the value's JSON type, for messages.
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            ValueKind::Object(_) => "an object",
            ValueKind::Array(_) => "an array",
            ValueKind::String(_) => "a string",
            ValueKind::Number(n) if n.fract() == 0.0 => "an integer",
            ValueKind::Number(_) => "a number",
            ValueKind::Bool(_) => "a boolean",
            ValueKind::Null => "null",
            ValueKind::Invalid => "an invalid value",
        }
    }
}

pub fn parse(text: &str) -> Json {
    let mut errors = Vec::new();
    let tokens = lex(text, &mut errors);
    let mut parser = Parser {
        text,
        tokens,
        pos: 0,
        errors,
    };
    let root = parser.value(0);
    match (&root, parser.peek().kind) {
        (None, TokenKind::Eof) => {
            let at = text.len() as u32;
            parser.error(
                TextRange::empty(at),
                "expected a JSON value, found the end of the file",
            );
        }
        (_, TokenKind::Eof) => {}
        _ => {
            let range = parser.peek().range;
            let range = TextRange::new(range.start, text.len() as u32);
            parser.error(range, "unexpected content after the end of the document");
        }
    }
    let mut errors = parser.errors;
    errors.sort_by_key(|e| e.range.start);
    Json { root, errors }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TokenKind {
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Colon,
    Comma,
    String,
    Number,
    True,
    False,
    Null,
    /// A run of characters that starts no JSON token.
    Junk,
    Eof,
}

#[derive(Debug)]
struct Token {
    kind: TokenKind,
    range: TextRange,
    /// Only for strings: the unescaped value, the content range and whether it was closed.
    string: Option<Box<JsonString>>,
}

fn lex(text: &str, errors: &mut Vec<SyntaxError>) -> Vec<Token> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::with_capacity(text.len() / 4);
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let simple = match bytes[i] {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'{' => Some(TokenKind::LBrace),
            b'}' => Some(TokenKind::RBrace),
            b'[' => Some(TokenKind::LBracket),
            b']' => Some(TokenKind::RBracket),
            b':' => Some(TokenKind::Colon),
            b',' => Some(TokenKind::Comma),
            _ => None,
        };
        if let Some(kind) = simple {
            i += 1;
            tokens.push(Token {
                kind,
                range: TextRange::new(start as u32, i as u32),
                string: None,
            });
            continue;
        }
        let (kind, string) = match bytes[i] {
            b'"' => {
                let (end, string) = lex_string(text, i, errors);
                i = end;
                (TokenKind::String, Some(Box::new(string)))
            }
            b'-' | b'0'..=b'9' => {
                i = lex_number(text, i, errors);
                (TokenKind::Number, None)
            }
            _ => {
                while i < bytes.len() && !is_delimiter(bytes[i]) {
                    i += 1;
                }
                if i == start {
                    // A lone byte no JSON token starts with; step over the whole character.
                    i += text[start..].chars().next().map_or(1, char::len_utf8);
                }
                let kind = match &text[start..i] {
                    "true" => TokenKind::True,
                    "false" => TokenKind::False,
                    "null" => TokenKind::Null,
                    _ => TokenKind::Junk,
                };
                (kind, None)
            }
        };
        tokens.push(Token {
            kind,
            range: TextRange::new(start as u32, i as u32),
            string,
        });
    }
    tokens.push(Token {
        kind: TokenKind::Eof,
        range: TextRange::empty(text.len() as u32),
        string: None,
    });
    tokens
}

fn is_delimiter(b: u8) -> bool {
    matches!(
        b,
        b' ' | b'\t' | b'\n' | b'\r' | b'{' | b'}' | b'[' | b']' | b':' | b',' | b'"'
    )
}

/// Lexes the string starting at the quote at `start`; returns its end and the string.
fn lex_string(text: &str, start: usize, errors: &mut Vec<SyntaxError>) -> (usize, JsonString) {
    let bytes = text.as_bytes();
    let mut value = String::new();
    let mut i = start + 1;
    let mut run_start = i;
    loop {
        let Some(&b) = bytes.get(i) else {
            value.push_str(&text[run_start..i]);
            errors.push(SyntaxError {
                range: TextRange::new(start as u32, i as u32),
                message: "unterminated string: missing the closing `\"`".into(),
            });
            let content = TextRange::new(start as u32 + 1, i as u32);
            return (i, unterminated(value, content));
        };
        match b {
            b'"' => {
                value.push_str(&text[run_start..i]);
                let content = TextRange::new(start as u32 + 1, i as u32);
                let string = JsonString {
                    value,
                    content,
                    terminated: true,
                };
                return (i + 1, string);
            }
            b'\n' | b'\r' => {
                value.push_str(&text[run_start..i]);
                errors.push(SyntaxError {
                    range: TextRange::new(start as u32, i as u32),
                    message:
                        "unterminated string: missing the closing `\"` before the end of the line"
                            .into(),
                });
                let content = TextRange::new(start as u32 + 1, i as u32);
                return (i, unterminated(value, content));
            }
            b'\\' => {
                value.push_str(&text[run_start..i]);
                i = lex_escape(text, i, &mut value, errors);
                run_start = i;
            }
            0x00..=0x1f => {
                errors.push(SyntaxError {
                    range: TextRange::new(i as u32, i as u32 + 1),
                    message: format!(
                        "control character U+{b:04X} inside a string: write it as an escape"
                    ),
                });
                i += 1;
            }
            _ => i += 1,
        }
    }
}

/// The document offset of byte `decoded` of a string's value, for a string whose content
/// (between its quotes) is `content`: escapes are walked the way the lexer decodes them, so a
/// position inside the value maps to the exact place it was written.
pub fn source_offset(text: &str, content: TextRange, decoded: usize) -> u32 {
    let end = (content.end as usize).min(text.len());
    let mut value = String::new();
    let mut errors = Vec::new();
    let mut at = content.start as usize;
    while at < end && value.len() < decoded {
        if text.as_bytes()[at] == b'\\' {
            at = lex_escape(text, at, &mut value, &mut errors);
        } else {
            let Some(c) = text.get(at..).and_then(|rest| rest.chars().next()) else {
                break;
            };
            value.push(c);
            at += c.len_utf8();
        }
    }
    at.min(end) as u32
}

fn unterminated(value: String, content: TextRange) -> JsonString {
    JsonString {
        value,
        content,
        terminated: false,
    }
}

/// Lexes the escape at `backslash`, appending what it stands for; returns the offset after it.
fn lex_escape(
    text: &str,
    backslash: usize,
    value: &mut String,
    errors: &mut Vec<SyntaxError>,
) -> usize {
    let bytes = text.as_bytes();
    let simple = match bytes.get(backslash + 1) {
        Some(b'"') => '"',
        Some(b'\\') => '\\',
        Some(b'/') => '/',
        Some(b'b') => '\u{8}',
        Some(b'f') => '\u{c}',
        Some(b'n') => '\n',
        Some(b'r') => '\r',
        Some(b't') => '\t',
        Some(b'u') => {
            let (end, ch) = lex_unicode_escape(text, backslash, errors);
            value.push(ch);
            return end;
        }
        Some(b'\n' | b'\r') | None => {
            errors.push(SyntaxError {
                range: TextRange::new(backslash as u32, backslash as u32 + 1),
                message: "a `\\` at the end of a line escapes nothing".into(),
            });
            return backslash + 1;
        }
        Some(_) => {
            let ch_len = text[backslash + 1..]
                .chars()
                .next()
                .map_or(1, char::len_utf8);
            let end = backslash + 1 + ch_len;
            errors.push(SyntaxError {
                range: TextRange::new(backslash as u32, end as u32),
                message: format!("invalid escape `{}` in a string", &text[backslash..end]),
            });
            return end;
        }
    };
    value.push(simple);
    backslash + 2
}

fn lex_unicode_escape(
    text: &str,
    backslash: usize,
    errors: &mut Vec<SyntaxError>,
) -> (usize, char) {
    let hex = |at: usize| -> Option<u32> {
        let digits = text.get(at..at + 4)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(digits, 16).ok()
    };
    let Some(first) = hex(backslash + 2) else {
        let end = (backslash + 2).min(text.len());
        errors.push(SyntaxError {
            range: TextRange::new(backslash as u32, end as u32),
            message: "`\\u` must be followed by four hexadecimal digits".into(),
        });
        return (end, char::REPLACEMENT_CHARACTER);
    };
    let end = backslash + 6;
    if (0xD800..0xDC00).contains(&first) {
        let low = text
            .get(end..end + 2)
            .filter(|s| *s == "\\u")
            .and_then(|_| hex(end + 2))
            .filter(|low| (0xDC00..0xE000).contains(low));
        if let Some(low) = low {
            let code = 0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00);
            return (
                end + 6,
                char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER),
            );
        }
    }
    (
        end,
        char::from_u32(first).unwrap_or(char::REPLACEMENT_CHARACTER),
    )
}

fn lex_number(text: &str, start: usize, errors: &mut Vec<SyntaxError>) -> usize {
    let bytes = text.as_bytes();
    let mut i = start;
    while i < bytes.len() && !is_delimiter(bytes[i]) {
        i += 1;
    }
    let source = &text[start..i];
    if !is_json_number(source) {
        errors.push(SyntaxError {
            range: TextRange::new(start as u32, i as u32),
            message: format!("`{source}` is not a valid JSON number"),
        });
    }
    i
}

fn is_json_number(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let (int, rest) = s.split_at(s.find(['.', 'e', 'E']).unwrap_or(s.len()));
    let int_ok = int == "0" || (!int.is_empty() && !int.starts_with('0'));
    if !int_ok || !int.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let (frac, exp) = match rest.strip_prefix('.') {
        Some(after) => after.split_at(after.find(['e', 'E']).unwrap_or(after.len())),
        None => ("", rest),
    };
    if rest.starts_with('.') && (frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    match exp.strip_prefix(['e', 'E']) {
        None => exp.is_empty(),
        Some(exp) => {
            let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
        }
    }
}

struct Parser<'t> {
    text: &'t str,
    tokens: Vec<Token>,
    pos: usize,
    errors: Vec<SyntaxError>,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.tokens[self.pos]
    }

    fn peek_kind_at(&self, ahead: usize) -> TokenKind {
        self.tokens
            .get(self.pos + ahead)
            .map_or(TokenKind::Eof, |t| t.kind)
    }

    /// The next token's kind and range, without its string: looking ahead copies no text.
    fn peek_head(&self) -> Token {
        let token = self.peek();
        Token {
            kind: token.kind,
            range: token.range,
            string: None,
        }
    }

    /// Moves past the next token and hands it over with its string (a token is consumed once).
    fn bump(&mut self) -> Token {
        let token = &mut self.tokens[self.pos];
        let taken = Token {
            kind: token.kind,
            range: token.range,
            string: token.string.take(),
        };
        if taken.kind != TokenKind::Eof {
            self.pos += 1;
        }
        taken
    }

    fn error(&mut self, range: TextRange, message: impl Into<String>) {
        self.errors.push(SyntaxError {
            range,
            message: message.into(),
        });
    }

    fn describe(&self, token: &Token) -> String {
        match token.kind {
            TokenKind::Eof => "the end of the file".into(),
            _ => format!("`{}`", truncate(&self.text[token.range.as_usize()], 40)),
        }
    }

    fn starts_value(kind: TokenKind) -> bool {
        matches!(
            kind,
            TokenKind::LBrace
                | TokenKind::LBracket
                | TokenKind::String
                | TokenKind::Number
                | TokenKind::True
                | TokenKind::False
                | TokenKind::Null
                | TokenKind::Junk
        )
    }

    /// Parses one value; `None` (with an error) when the next token cannot start one, which is
    /// then left for the caller.
    fn value(&mut self, depth: usize) -> Option<Value> {
        let token = self.peek_head();
        let kind = match token.kind {
            TokenKind::LBrace | TokenKind::LBracket if depth >= MAX_DEPTH => {
                return Some(self.skip_too_deep());
            }
            TokenKind::LBrace => return Some(self.object(depth)),
            TokenKind::LBracket => return Some(self.array(depth)),
            TokenKind::String => {
                let token = self.bump();
                let string = token.string.map(|s| *s).unwrap_or_else(|| JsonString {
                    value: String::new(),
                    content: TextRange::empty(token.range.start),
                    terminated: false,
                });
                ValueKind::String(string)
            }
            TokenKind::Number => {
                self.bump();
                let source = &self.text[token.range.as_usize()];
                ValueKind::Number(source.parse().unwrap_or(f64::NAN))
            }
            TokenKind::True => {
                self.bump();
                ValueKind::Bool(true)
            }
            TokenKind::False => {
                self.bump();
                ValueKind::Bool(false)
            }
            TokenKind::Null => {
                self.bump();
                ValueKind::Null
            }
            TokenKind::Junk => {
                self.bump();
                let found = self.describe(&token);
                let hint = if found.starts_with("`'") {
                    " (JSON strings use double quotes)"
                } else {
                    ""
                };
                self.error(
                    token.range,
                    format!("expected a value, found {found}{hint}"),
                );
                ValueKind::Invalid
            }
            _ => {
                let found = self.describe(&token);
                self.error(token.range, format!("expected a value, found {found}"));
                return None;
            }
        };
        Some(Value {
            range: token.range,
            kind,
        })
    }

    fn skip_too_deep(&mut self) -> Value {
        let start = self.peek().range.start;
        let mut depth = 0usize;
        let mut end = start;
        loop {
            let token = self.bump();
            end = token.range.end.max(end);
            match token.kind {
                TokenKind::LBrace | TokenKind::LBracket => depth += 1,
                TokenKind::RBrace | TokenKind::RBracket => depth = depth.saturating_sub(1),
                TokenKind::Eof => break,
                _ => {}
            }
            if depth == 0 {
                break;
            }
        }
        let range = TextRange::new(start, end);
        self.error(
            TextRange::new(start, start + 1),
            format!("nesting deeper than {MAX_DEPTH} levels: the value inside is not analysed"),
        );
        Value {
            range,
            kind: ValueKind::Invalid,
        }
    }

    fn object(&mut self, depth: usize) -> Value {
        let open = self.bump();
        let mut members: Vec<Member> = Vec::new();
        let end = loop {
            let token = self.peek_head();
            match token.kind {
                TokenKind::RBrace => {
                    self.bump();
                    break token.range.end;
                }
                TokenKind::Eof | TokenKind::RBracket => {
                    self.error(open.range, "this `{` is never closed: missing `}`");
                    break self.tokens[self.pos.saturating_sub(1)].range.end;
                }
                TokenKind::String => {
                    members.push(self.member(depth));
                    match self.peek().kind {
                        TokenKind::Comma => {
                            let comma = self.bump();
                            if self.peek().kind == TokenKind::RBrace {
                                self.error(comma.range, "trailing comma before `}`");
                            }
                        }
                        TokenKind::RBrace | TokenKind::Eof | TokenKind::RBracket => {}
                        TokenKind::String => {
                            let at = self.peek().range.start;
                            self.error(TextRange::empty(at), "expected `,` between members");
                        }
                        _ => {
                            let token = self.bump();
                            let found = self.describe(&token);
                            self.error(token.range, format!("expected `,` or `}}`, found {found}"));
                        }
                    }
                }
                TokenKind::Comma => {
                    self.bump();
                    self.error(token.range, "expected a key (a string), found `,`");
                }
                TokenKind::LBrace | TokenKind::LBracket => {
                    self.error(token.range, "expected a key (a string) before this value");
                    self.value(depth + 1);
                }
                _ => {
                    self.bump();
                    let found = self.describe(&token);
                    self.error(
                        token.range,
                        format!("expected a key (a string in double quotes), found {found}"),
                    );
                }
            }
        };
        Value {
            range: TextRange::new(open.range.start, end),
            kind: ValueKind::Object(members),
        }
    }

    fn member(&mut self, depth: usize) -> Member {
        let token = self.bump();
        let string = token.string.map(|s| *s).unwrap_or_else(|| JsonString {
            value: String::new(),
            content: TextRange::empty(token.range.start),
            terminated: false,
        });
        let key = Key {
            name: string.value,
            range: token.range,
            content: string.content,
        };
        let has_colon = self.peek().kind == TokenKind::Colon;
        if has_colon {
            self.bump();
        } else {
            self.error(
                TextRange::empty(key.range.end),
                format!("expected `:` after the key \"{}\"", truncate(&key.name, 40)),
            );
        }
        // `"a": ` followed by the next member's key: the value is missing, the key is not a value.
        let next_is_key =
            self.peek().kind == TokenKind::String && self.peek_kind_at(1) == TokenKind::Colon;
        let value = if Self::starts_value(self.peek().kind) && !next_is_key {
            self.value(depth + 1)
        } else {
            if has_colon {
                let at = self.tokens[self.pos - 1].range.end;
                self.error(
                    TextRange::empty(at),
                    format!("expected a value for \"{}\"", truncate(&key.name, 40)),
                );
            }
            None
        };
        Member { key, value }
    }

    fn array(&mut self, depth: usize) -> Value {
        let open = self.bump();
        let mut items = Vec::new();
        let end = loop {
            let token = self.peek_head();
            match token.kind {
                TokenKind::RBracket => {
                    self.bump();
                    break token.range.end;
                }
                TokenKind::Eof | TokenKind::RBrace => {
                    self.error(open.range, "this `[` is never closed: missing `]`");
                    break self.tokens[self.pos.saturating_sub(1)].range.end;
                }
                TokenKind::Comma | TokenKind::Colon => {
                    self.bump();
                    let found = self.describe(&token);
                    self.error(token.range, format!("expected a value, found {found}"));
                }
                _ => {
                    if let Some(item) = self.value(depth + 1) {
                        items.push(item);
                    }
                    match self.peek().kind {
                        TokenKind::Comma => {
                            let comma = self.bump();
                            if self.peek().kind == TokenKind::RBracket {
                                self.error(comma.range, "trailing comma before `]`");
                            }
                        }
                        TokenKind::RBracket | TokenKind::Eof | TokenKind::RBrace => {}
                        kind if Self::starts_value(kind) => {
                            let at = self.peek().range.start;
                            self.error(TextRange::empty(at), "expected `,` between items");
                        }
                        _ => {
                            let token = self.bump();
                            let found = self.describe(&token);
                            self.error(token.range, format!("expected `,` or `]`, found {found}"));
                        }
                    }
                }
            }
        };
        Value {
            range: TextRange::new(open.range.start, end),
            kind: ValueKind::Array(items),
        }
    }
}

pub(crate) fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{Expect, expect};

    fn check_errors(src: &str, expect: Expect) {
        let json = parse(src);
        let actual: String = json
            .errors
            .iter()
            .map(|e| format!("{:?} {}\n", e.range, e.message))
            .collect();
        expect.assert_eq(&actual);
    }

    #[test]
    fn valid_json_parses_without_errors_and_keeps_ranges() {
        let src = r#"{"a": [1, -2.5e3, true, null], "b": {"c": "d\n"}}"#;
        let json = parse(src);
        assert!(json.errors.is_empty(), "{:?}", json.errors);
        let root = json.root.unwrap();
        let b = root.get("b").unwrap();
        assert_eq!(&src[b.range.as_usize()], r#"{"c": "d\n"}"#);
        assert_eq!(b.get("c").unwrap().as_str(), Some("d\n"));
        let a = root.get("a").unwrap().as_array().unwrap();
        assert_eq!(a[1].kind, ValueKind::Number(-2500.0));
    }

    #[test]
    fn a_missing_comma_is_reported_and_both_members_are_kept() {
        let src = "{\"a\": 1\n \"b\": 2}";
        check_errors(
            src,
            expect![[r#"
                9..9 expected `,` between members
            "#]],
        );
        let root = parse(src).root.unwrap();
        assert!(root.get("b").is_some());
    }

    #[test]
    fn a_missing_value_does_not_swallow_the_next_key() {
        let src = "{\"a\": \n \"b\": 2}";
        check_errors(
            src,
            expect![[r#"
                5..5 expected a value for "a"
                8..8 expected `,` between members
            "#]],
        );
        assert!(parse(src).root.unwrap().get("b").is_some());
    }

    #[test]
    fn an_unterminated_string_ends_at_the_line_break() {
        let src = "{\"a\": \"ll\n, \"b\": 2}";
        check_errors(
            src,
            expect![[r#"
                6..9 unterminated string: missing the closing `"` before the end of the line
            "#]],
        );
        let root = parse(src).root.unwrap();
        let a = root.get("a").unwrap().as_string().unwrap();
        assert_eq!((a.value.as_str(), a.terminated), ("ll", false));
        assert!(root.get("b").is_some());
    }

    #[test]
    fn unclosed_brackets_and_trailing_commas_are_reported() {
        check_errors(
            r#"{"a": [1, 2,], "b": {"c": 1,"#,
            expect![[r#"
                0..1 this `{` is never closed: missing `}`
                11..12 trailing comma before `]`
                20..21 this `{` is never closed: missing `}`
            "#]],
        );
    }

    #[test]
    fn junk_and_bad_numbers_and_escapes_are_reported_with_their_ranges() {
        check_errors(
            r#"{"a": 'x', "b": 01, "c": "\q", "d": tru}"#,
            expect![[r#"
                6..9 expected a value, found `'x'` (JSON strings use double quotes)
                16..18 `01` is not a valid JSON number
                26..28 invalid escape `\q` in a string
                36..39 expected a value, found `tru`
            "#]],
        );
    }

    #[test]
    fn content_after_the_document_is_an_error() {
        check_errors(
            "{} {}",
            expect![[r#"
                3..5 unexpected content after the end of the document
            "#]],
        );
    }

    #[test]
    fn an_empty_document_is_an_error_at_its_end() {
        check_errors(
            "  ",
            expect![[r#"
                2..2 expected a value, found the end of the file
                2..2 expected a JSON value, found the end of the file
            "#]],
        );
    }

    #[test]
    fn deep_nesting_is_cut_off_without_exhausting_the_stack() {
        let src = "[".repeat(100_000) + &"]".repeat(100_000);
        let json = parse(&src);
        assert_eq!(json.errors.len(), 1);
        assert!(json.errors[0].message.contains("nesting deeper than 128"));
        let unclosed = "{\"a\":".repeat(50_000);
        let json = parse(&unclosed);
        assert!(!json.errors.is_empty());
    }

    #[test]
    fn unicode_escapes_and_surrogate_pairs_are_decoded() {
        let json = parse(r#""\u00e9\ud83d\ude00\u4e2d""#);
        assert!(json.errors.is_empty());
        assert_eq!(json.root.unwrap().as_str(), Some("é😀中"));
    }

    #[test]
    fn multibyte_junk_does_not_split_a_character() {
        let json = parse("{\"a\": é😀}");
        assert_eq!(json.errors.len(), 1);
        assert_eq!(json.errors[0].message, "expected a value, found `é😀`");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        #[test]
        fn any_text_parses_without_panicking_and_ranges_stay_in_bounds(src in "[\\[\\]{}\":,a-z0-9 \\\\\n.é😀-]{0,64}") {
            let json = parse(&src);
            for error in &json.errors {
                proptest::prop_assert!(error.range.end as usize <= src.len());
                proptest::prop_assert!(src.is_char_boundary(error.range.start as usize));
                proptest::prop_assert!(src.is_char_boundary(error.range.end as usize));
            }
            if let Some(root) = json.root {
                proptest::prop_assert!(root.range.end as usize <= src.len());
            }
        }
    }
}
