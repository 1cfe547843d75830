//! The expression language of `if` and `until`: templates and string literals compared with
//! `==`, `!=`, `contains`, `matches`, combined with `and`, `or`, `not` and parentheses.
//!
//! ```text
//! expr     := and ("or" and)*
//! and      := unary ("and" unary)*
//! unary    := "not" unary | compare
//! compare  := operand (("==" | "!=" | "contains" | "matches") operand)?
//! operand  := {{ template }} | "string" | true | false | "(" expr ")"
//! ```
//!
//! Parsing is pure and happens once per version of a flow ([`crate::model::Flow`] keeps each
//! `if`/`until` parsed): the checks report a malformed expression (or a literal regex that does
//! not compile) with its exact range as the user types, and the runner takes the parsed form, so
//! a flow that checks clean never fails to compile an expression when it runs. Operands are templates:
//! a quoted string may hold `{{ }}` too. `==` and `!=` compare after trimming surrounding
//! whitespace (model answers often end with a newline); `contains` and `matches` see the text as
//! it is. An operand alone holds when its text is neither empty nor `false`.

use std::fmt;

use regex::Regex;

/// A parse or evaluation problem, at a byte range of the expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExprError {
    pub offset: usize,
    /// Where the problem ends (`offset` itself for something missing at `offset`).
    pub end: usize,
    /// One-based, in characters.
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for ExprError {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Contains,
    Matches,
}

/// A template (or literal) operand, with where it starts in the expression.
#[derive(Clone, Debug)]
pub struct Operand {
    /// The template text: `{{nodes.x.output}}`, or a quoted string's unescaped content.
    pub template: String,
    pub offset: usize,
    /// Where it ends in the expression (after a string's closing quote).
    pub end: usize,
}

#[derive(Clone, Debug)]
pub enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Compare {
        left: Operand,
        op: CompareOp,
        right: Operand,
        /// The compiled pattern of `matches` when the right side is a literal without templates.
        pattern: Option<Regex>,
    },
    Holds(Operand),
}

impl Expr {
    pub fn parse(source: &str) -> Result<Expr, ExprError> {
        let tokens = lex(source)?;
        let mut parser = Parser {
            source,
            tokens,
            position: 0,
        };
        let expr = parser.or()?;
        match parser.peek() {
            None => Ok(expr),
            Some(token) => Err(parser.error_on(
                token,
                format!(
                    "expected `and`, `or` or the end of the expression, found {}",
                    token.kind
                ),
            )),
        }
    }

    /// Evaluates with `render` turning each operand's template into text; `render`'s errors come
    /// back as they are.
    pub fn eval<E>(
        &self,
        source: &str,
        render: &mut dyn FnMut(&Operand) -> Result<String, E>,
    ) -> Result<Result<bool, ExprError>, E> {
        Ok(match self {
            Expr::Or(left, right) => match left.eval(source, render)? {
                Ok(true) => Ok(true),
                Ok(false) => right.eval(source, render)?,
                Err(error) => Err(error),
            },
            Expr::And(left, right) => match left.eval(source, render)? {
                Ok(false) => Ok(false),
                Ok(true) => right.eval(source, render)?,
                Err(error) => Err(error),
            },
            Expr::Not(inner) => inner.eval(source, render)?.map(|held| !held),
            Expr::Holds(operand) => {
                let text = render(operand)?;
                let text = text.trim();
                Ok(!text.is_empty() && !text.eq_ignore_ascii_case("false"))
            }
            Expr::Compare {
                left,
                op,
                right,
                pattern,
            } => {
                let left_text = render(left)?;
                let right_text = render(right)?;
                match op {
                    CompareOp::Eq => Ok(left_text.trim() == right_text.trim()),
                    CompareOp::Ne => Ok(left_text.trim() != right_text.trim()),
                    CompareOp::Contains => Ok(left_text.contains(right_text.as_str())),
                    CompareOp::Matches => match pattern {
                        Some(pattern) => Ok(pattern.is_match(&left_text)),
                        None => match Regex::new(&right_text) {
                            Ok(pattern) => Ok(pattern.is_match(&left_text)),
                            Err(error) => Err(error_in(
                                source,
                                right.offset..right.end,
                                format!("the pattern is not a valid regular expression: {error}"),
                            )),
                        },
                    },
                }
            }
        })
    }

    /// Every operand, left to right.
    pub fn operands(&self) -> Vec<&Operand> {
        let mut out = Vec::new();
        self.collect_operands(&mut out);
        out
    }

    fn collect_operands<'a>(&'a self, out: &mut Vec<&'a Operand>) {
        match self {
            Expr::Or(left, right) | Expr::And(left, right) => {
                left.collect_operands(out);
                right.collect_operands(out);
            }
            Expr::Not(inner) => inner.collect_operands(out),
            Expr::Compare { left, right, .. } => {
                out.push(left);
                out.push(right);
            }
            Expr::Holds(operand) => out.push(operand),
        }
    }
}

fn error_at(source: &str, offset: usize, message: String) -> ExprError {
    error_in(source, offset..offset, message)
}

fn error_in(source: &str, range: std::ops::Range<usize>, message: String) -> ExprError {
    let offset = range.start.min(source.len());
    ExprError {
        offset,
        end: range.end.clamp(offset, source.len()),
        column: source.get(..offset).map_or(offset, |s| s.chars().count()) + 1,
        message,
    }
}

#[derive(Clone, Debug, PartialEq)]
enum TokenKind {
    Template(String),
    String(String),
    Word(String),
    Eq,
    Ne,
    Open,
    Close,
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenKind::Template(text) => write!(f, "`{text}`"),
            TokenKind::String(text) => write!(f, "the string \"{text}\""),
            TokenKind::Word(word) => write!(f, "`{word}`"),
            TokenKind::Eq => f.write_str("`==`"),
            TokenKind::Ne => f.write_str("`!=`"),
            TokenKind::Open => f.write_str("`(`"),
            TokenKind::Close => f.write_str("`)`"),
        }
    }
}

#[derive(Clone, Debug)]
struct Token {
    kind: TokenKind,
    offset: usize,
    end: usize,
}

fn lex(source: &str) -> Result<Vec<Token>, ExprError> {
    let mut tokens = Vec::new();
    let bytes = source.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        let rest = &source[at..];
        let Some(c) = rest.chars().next() else { break };
        if c.is_whitespace() {
            at += c.len_utf8();
            continue;
        }
        let start = at;
        let kind = if rest.starts_with("{{") {
            let Some(close) = rest.find("}}") else {
                return Err(error_in(
                    source,
                    start..source.len(),
                    "`{{` is never closed with `}}`".to_owned(),
                ));
            };
            at += close + 2;
            TokenKind::Template(rest[..close + 2].to_owned())
        } else if c == '"' {
            let (text, length) = lex_string(source, start)?;
            at += length;
            TokenKind::String(text)
        } else if rest.starts_with("==") {
            at += 2;
            TokenKind::Eq
        } else if rest.starts_with("!=") {
            at += 2;
            TokenKind::Ne
        } else if c == '(' {
            at += 1;
            TokenKind::Open
        } else if c == ')' {
            at += 1;
            TokenKind::Close
        } else if c.is_alphanumeric() || c == '_' {
            let length = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            at += length;
            TokenKind::Word(rest[..length].to_owned())
        } else {
            return Err(error_in(
                source,
                start..start + c.len_utf8(),
                format!("unexpected `{c}`: write text in double quotes"),
            ));
        };
        tokens.push(Token {
            kind,
            offset: start,
            end: at,
        });
    }
    Ok(tokens)
}

/// A double-quoted string at `start`: its unescaped content and its length in bytes.
fn lex_string(source: &str, start: usize) -> Result<(String, usize), ExprError> {
    let mut text = String::new();
    let mut chars = source[start + 1..].char_indices();
    while let Some((index, c)) = chars.next() {
        match c {
            '"' => return Ok((text, index + 2)),
            '\\' => match chars.next() {
                Some((_, 'n')) => text.push('\n'),
                Some((_, 't')) => text.push('\t'),
                Some((_, escaped @ ('"' | '\\'))) => text.push(escaped),
                // Regular expressions keep their own escapes (`\d`, `\.`).
                Some((_, other)) => {
                    text.push('\\');
                    text.push(other);
                }
                None => break,
            },
            other => text.push(other),
        }
    }
    Err(error_in(
        source,
        start..source.len(),
        "the string is never closed with `\"`".to_owned(),
    ))
}

struct Parser<'a> {
    source: &'a str,
    tokens: Vec<Token>,
    position: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.position)
    }

    fn error_at(&self, offset: usize, message: String) -> ExprError {
        error_at(self.source, offset, message)
    }

    fn error_on(&self, token: &Token, message: String) -> ExprError {
        error_in(self.source, token.offset..token.end, message)
    }

    fn end_offset(&self) -> usize {
        self.source.trim_end().len()
    }

    fn eat_word(&mut self, word: &str) -> bool {
        let found =
            matches!(self.peek(), Some(Token { kind: TokenKind::Word(w), .. }) if w == word);
        if found {
            self.position += 1;
        }
        found
    }

    fn or(&mut self) -> Result<Expr, ExprError> {
        let mut left = self.and()?;
        while self.eat_word("or") {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, ExprError> {
        let mut left = self.unary()?;
        while self.eat_word("and") {
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, ExprError> {
        if self.eat_word("not") {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        self.compare()
    }

    fn compare(&mut self) -> Result<Expr, ExprError> {
        if matches!(
            self.peek(),
            Some(Token {
                kind: TokenKind::Open,
                ..
            })
        ) {
            let open = self.tokens[self.position].offset;
            self.position += 1;
            let inner = self.or()?;
            return match self.peek() {
                Some(Token {
                    kind: TokenKind::Close,
                    ..
                }) => {
                    self.position += 1;
                    Ok(inner)
                }
                Some(token) => {
                    let open_column = self.source[..open].chars().count() + 1;
                    Err(self.error_on(
                        token,
                        format!(
                            "expected `)` to close the `(` at column {open_column}, found {}",
                            token.kind
                        ),
                    ))
                }
                None => Err(self.error_at(
                    self.end_offset(),
                    "expected `)` before the end of the expression".to_owned(),
                )),
            };
        }
        let left = self.operand()?;
        let op = match self.peek().map(|t| &t.kind) {
            Some(TokenKind::Eq) => CompareOp::Eq,
            Some(TokenKind::Ne) => CompareOp::Ne,
            Some(TokenKind::Word(word)) if word == "contains" => CompareOp::Contains,
            Some(TokenKind::Word(word)) if word == "matches" => CompareOp::Matches,
            _ => return Ok(Expr::Holds(left)),
        };
        self.position += 1;
        let right = self.operand()?;
        let pattern = match op {
            CompareOp::Matches if !right.template.contains("{{") => {
                Some(Regex::new(&right.template).map_err(|error| {
                    error_in(
                        self.source,
                        right.offset..right.end,
                        format!("the pattern is not a valid regular expression: {error}"),
                    )
                })?)
            }
            _ => None,
        };
        Ok(Expr::Compare {
            left,
            op,
            right,
            pattern,
        })
    }

    fn operand(&mut self) -> Result<Operand, ExprError> {
        let Some(token) = self.peek().cloned() else {
            return Err(self.error_at(
                self.end_offset(),
                "expected a template or a string before the end of the expression".to_owned(),
            ));
        };
        let template = match token.kind.clone() {
            TokenKind::Template(text) | TokenKind::String(text) => text,
            TokenKind::Word(word) if word == "true" || word == "false" => word,
            TokenKind::Word(word)
                if matches!(word.as_str(), "and" | "or" | "not" | "contains" | "matches") =>
            {
                return Err(self.error_on(
                    &token,
                    format!("expected a template or a string before `{word}`"),
                ));
            }
            TokenKind::Word(word) => {
                return Err(self.error_on(
                    &token,
                    format!("`{word}` is not a value: write text in double quotes (\"{word}\") or a template ({{{{...}}}})"),
                ));
            }
            kind @ (TokenKind::Eq | TokenKind::Ne | TokenKind::Close | TokenKind::Open) => {
                return Err(self.error_on(
                    &token,
                    format!("expected a template or a string, found {kind}"),
                ));
            }
        };
        self.position += 1;
        Ok(Operand {
            template,
            offset: token.offset,
            end: token.end,
        })
    }
}

#[cfg(test)]
mod tests;
