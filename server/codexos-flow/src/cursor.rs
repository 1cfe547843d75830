//! Where the cursor is in a flow: on a key or a value, and at which path of the document.

use crate::syntax::{Json, Key, Value, ValueKind};
use crate::text::TextRange;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

#[derive(Clone, Debug)]
pub enum Cursor<'a> {
    /// On a key (`key` is `Some`) or where a new key may be written, inside `object`.
    Key {
        path: Vec<Seg<'a>>,
        object: &'a Value,
        key: Option<&'a Key>,
        /// Whether a `:` already follows the key.
        has_colon: bool,
    },
    /// On a value, or where one is expected (`value` is `None`).
    Value {
        path: Vec<Seg<'a>>,
        value: Option<&'a Value>,
    },
}

impl<'a> Cursor<'a> {
    pub fn path(&self) -> &[Seg<'a>] {
        match self {
            Cursor::Key { path, .. } | Cursor::Value { path, .. } => path,
        }
    }

    /// The node index when the cursor is inside `nodes[i]`, and the path below it.
    pub fn in_node(&self) -> Option<(usize, &[Seg<'a>])> {
        match self.path() {
            [Seg::Key("nodes"), Seg::Index(i), rest @ ..] => Some((*i, rest)),
            _ => None,
        }
    }
}

pub fn locate<'a>(text: &str, json: &'a Json, offset: u32) -> Option<Cursor<'a>> {
    let root = json.root.as_ref()?;
    let mut path = Vec::new();
    locate_in(text, root, offset, &mut path)
}

fn inside_string(value: &Value, offset: u32) -> bool {
    match &value.kind {
        ValueKind::String(s) => s.content.start <= offset && offset <= s.content.end,
        _ => false,
    }
}

fn on_value(text: &str, value: &Value, offset: u32) -> bool {
    match &value.kind {
        ValueKind::String(_) => inside_string(value, offset),
        ValueKind::Object(_) | ValueKind::Array(_) => {
            // An unclosed container ends at its last token, and the cursor there is inside it.
            let closed = text.as_bytes()[value.range.end as usize - 1].eq_ignore_ascii_case(
                if matches!(value.kind, ValueKind::Object(_)) {
                    &b'}'
                } else {
                    &b']'
                },
            );
            value.range.start < offset
                && (offset < value.range.end || (offset == value.range.end && !closed))
        }
        _ => value.range.touches(offset),
    }
}

fn locate_in<'a>(
    text: &str,
    value: &'a Value,
    offset: u32,
    path: &mut Vec<Seg<'a>>,
) -> Option<Cursor<'a>> {
    match &value.kind {
        ValueKind::Object(members) => {
            for (i, member) in members.iter().enumerate() {
                let key = &member.key;
                if key.content.start <= offset && offset <= key.content.end {
                    let has_colon = text[key.range.end as usize..].trim_start().starts_with(':');
                    return Some(Cursor::Key {
                        path: path.clone(),
                        object: value,
                        key: Some(key),
                        has_colon,
                    });
                }
                if let Some(v) = &member.value
                    && on_value(text, v, offset)
                {
                    path.push(Seg::Key(&key.name));
                    return locate_in(text, v, offset, path);
                }
                let next_start = members
                    .get(i + 1)
                    .map_or(value.range.end, |m| m.key.range.start);
                let value_start = member.value.as_ref().map_or(next_start, |v| v.range.start);
                if key.range.end < offset && offset <= value_start.min(next_start) {
                    let between = &text[key.range.end as usize..offset as usize];
                    if between.trim_start().starts_with(':') && !between.contains(',') {
                        path.push(Seg::Key(&key.name));
                        return Some(Cursor::Value {
                            path: path.clone(),
                            value: None,
                        });
                    }
                }
            }
            Some(Cursor::Key {
                path: path.clone(),
                object: value,
                key: None,
                has_colon: false,
            })
        }
        ValueKind::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if on_value(text, item, offset) {
                    path.push(Seg::Index(i));
                    return locate_in(text, item, offset, path);
                }
            }
            let index = items.partition_point(|item| item.range.end <= offset);
            path.push(Seg::Index(index));
            Some(Cursor::Value {
                path: path.clone(),
                value: None,
            })
        }
        _ => Some(Cursor::Value {
            path: path.clone(),
            value: Some(value),
        }),
    }
}

/// The range of a string value's content and whether its closing quote is missing.
pub fn string_content(value: &Value) -> Option<(TextRange, bool)> {
    value.as_string().map(|s| (s.content, !s.terminated))
}
