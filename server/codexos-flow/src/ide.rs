//! Editor intelligence over a parsed flow: completion, hover, navigation, rename and symbols.

use crate::catalog::{Catalog, PROVIDERS};
use crate::cursor::{Cursor, Seg, locate, string_content};
use crate::model::{FILE_FIELDS, Field, FieldKind, Flow, Node, NodeType, is_valid_id};
use crate::syntax::{Json, Value, ValueKind};
use crate::template::{self, RefPath};
use crate::text::TextRange;
use crate::{
    Completion, CompletionKind, FoldingRange, Hover, RenameError, Symbol, SymbolKind, TextEdit,
};

pub struct Ide<'a> {
    pub text: &'a str,
    pub json: &'a Json,
    pub flow: &'a Flow,
}

/// Where a node id is written: its declaration, a `next`/`then`/`else`/`target`, or a template.
struct Occurrence {
    /// The token as the editor shows it (quotes included for strings).
    range: TextRange,
    /// The id's own characters, what a rename replaces.
    content: TextRange,
    declaration: bool,
}

impl Ide<'_> {
    fn node_values(&self) -> &[Value] {
        self.json
            .root
            .as_ref()
            .and_then(|r| r.get("nodes"))
            .and_then(Value::as_array)
            .unwrap_or_default()
    }

    // ---- completion ----

    pub fn completions(&self, offset: u32, catalog: &dyn Catalog) -> Vec<Completion> {
        let Some(cursor) = locate(self.text, self.json, offset) else {
            return Vec::new();
        };
        if let Cursor::Value {
            value: Some(value), ..
        } = &cursor
            && let Some(items) = self.template_completions(value, offset, &cursor, catalog)
        {
            return items;
        }
        match &cursor {
            Cursor::Key {
                path,
                object,
                key,
                has_colon,
            } => {
                let fields: Vec<&Field> = match path.as_slice() {
                    [] => FILE_FIELDS.iter().collect(),
                    [Seg::Key("nodes"), Seg::Index(i)] => {
                        match self.flow.nodes.get(*i).and_then(|n| n.ty) {
                            Some(ty) => ty.all_fields().collect(),
                            None => crate::model::COMMON_FIELDS.iter().collect(),
                        }
                    }
                    _ => return Vec::new(),
                };
                let present =
                    |name: &str| {
                        object.as_object().unwrap_or_default().iter().any(|m| {
                            m.key.name == name && key.is_none_or(|k| k.range != m.key.range)
                        })
                    };
                fields
                    .into_iter()
                    .filter(|f| !present(f.name))
                    .map(|field| key_completion(field, offset, *key, *has_colon))
                    .collect()
            }
            Cursor::Value { path, value } => self.value_completions(path, *value, offset, catalog),
        }
    }

    fn value_completions(
        &self,
        path: &[Seg],
        value: Option<&Value>,
        offset: u32,
        catalog: &dyn Catalog,
    ) -> Vec<Completion> {
        if value.is_some_and(|v| v.as_string().is_none() && !matches!(v.kind, ValueKind::Invalid)) {
            return Vec::new();
        }
        let (index, rest) = match path {
            [Seg::Key("nodes"), Seg::Index(i), rest @ ..] => (*i, rest),
            _ => return Vec::new(),
        };
        let node = self.flow.nodes.get(index);
        let field = match rest {
            [Seg::Key(name)] | [Seg::Key(name), Seg::Index(_)] => *name,
            [] => return node_snippets(offset),
            _ => return Vec::new(),
        };
        let ty = node.and_then(|n| n.ty);
        let kind = match (field, ty) {
            ("type", _) => FieldKind::NodeType,
            (name, Some(ty)) => match ty.field(name) {
                Some(f) => f.kind,
                None => return Vec::new(),
            },
            _ => return Vec::new(),
        };
        let in_list = rest.len() == 2;
        let names: Vec<(String, CompletionKind, Option<String>)> = match kind {
            FieldKind::NodeType if !in_list => NodeType::ALL
                .iter()
                .map(|t| {
                    (
                        t.as_str().to_owned(),
                        CompletionKind::NodeType,
                        Some(t.doc().to_owned()),
                    )
                })
                .collect(),
            FieldKind::NodeRefs | FieldKind::NodeRef => self
                .flow
                .nodes
                .iter()
                .filter(|n| n.index != index)
                .filter_map(|n| {
                    let id = n.id.clone()?;
                    Some((
                        id,
                        CompletionKind::NodeId,
                        n.ty.map(|t| format!("{} node", t.as_str())),
                    ))
                })
                .collect(),
            FieldKind::Tool | FieldKind::Tools => entries(catalog.tools(), CompletionKind::Tool),
            FieldKind::Models => entries(catalog.models(), CompletionKind::Model),
            FieldKind::VaultKey => entries(catalog.vault_keys(), CompletionKind::VaultKey),
            FieldKind::Provider => PROVIDERS
                .iter()
                .map(|(n, d)| {
                    (
                        (*n).to_owned(),
                        CompletionKind::Provider,
                        Some((*d).to_owned()),
                    )
                })
                .collect(),
            _ => return Vec::new(),
        };
        let mut seen = std::collections::HashSet::new();
        names
            .into_iter()
            .filter(|(name, ..)| seen.insert(name.clone()))
            .map(|(name, kind, detail)| {
                let edit = match value.and_then(string_content) {
                    Some((content, unterminated)) => TextEdit {
                        range: content,
                        new_text: if unterminated {
                            format!("{name}\"")
                        } else {
                            name.clone()
                        },
                    },
                    None => TextEdit {
                        range: value.map_or(TextRange::empty(offset), |v| v.range),
                        new_text: format!("\"{name}\""),
                    },
                };
                Completion {
                    label: name,
                    kind,
                    detail,
                    documentation: None,
                    edit,
                    snippet: false,
                    filter_text: None,
                }
            })
            .collect()
    }

    fn template_completions(
        &self,
        value: &Value,
        offset: u32,
        cursor: &Cursor,
        catalog: &dyn Catalog,
    ) -> Option<Vec<Completion>> {
        let (content, _) = string_content(value)?;
        let before = self.text.get(content.start as usize..offset as usize)?;
        let open = before.rfind("{{")?;
        if before[open..].contains("}}") {
            return None;
        }
        let typed_start = content.start + open as u32 + 2;
        let typed = &before[open + 2..];
        let typed_start = typed_start + (typed.len() - typed.trim_start().len()) as u32;
        let after = &self.text[offset as usize..content.end as usize];
        let closes = after
            .find("}}")
            .is_some_and(|close| !after[..close].contains("{{"));
        let replace_end = if closes {
            offset + after.find("}}").map_or(0, |i| after[..i].trim_end().len()) as u32
        } else {
            offset
        };
        let node_index = cursor.in_node().map(|(i, _)| i);
        let mut refs: Vec<(String, String)> = vec![
            ("input".into(), "The run's input".into()),
            (
                "context".into(),
                "The text of the run's context files".into(),
            ),
        ];
        if let Some(here) = node_index {
            let before = crate::graph::ancestors(self.flow, here);
            for node in &self.flow.nodes {
                let Some(id) = &node.id else { continue };
                if before[node.index] {
                    let ty = node.ty.map_or("", NodeType::as_str);
                    refs.push((
                        format!("nodes.{id}.output"),
                        format!("The output of the {ty} node `{id}`"),
                    ));
                }
            }
        }
        refs.extend(catalog.vault_keys().iter().map(|k| {
            (
                format!("vault.{}", k.name),
                format!("Vault secret `{}` (never printed)", k.name),
            )
        }));
        refs.extend(
            template::defined_vars(self.json, self.flow)
                .into_iter()
                .map(|(name, _)| {
                    (
                        format!("vars.{name}"),
                        format!("Variable `{name}` set by a vault node"),
                    )
                }),
        );
        Some(
            refs.into_iter()
                .map(|(label, detail)| Completion {
                    edit: TextEdit {
                        range: TextRange::new(typed_start, replace_end.max(typed_start)),
                        new_text: if closes {
                            label.clone()
                        } else {
                            format!("{label}}}}}")
                        },
                    },
                    label,
                    kind: CompletionKind::TemplateRef,
                    detail: Some(detail),
                    documentation: None,
                    snippet: false,
                    filter_text: None,
                })
                .collect(),
        )
    }

    // ---- hover ----

    pub fn hover(&self, offset: u32, catalog: &dyn Catalog) -> Option<Hover> {
        if let Some((reference, _)) = self.template_ref_at(offset) {
            let markdown = match &reference.path {
                RefPath::Input => "`{{input}}` — the run's input.".to_owned(),
                RefPath::Context => {
                    "`{{context}}` — the text of the run's context files.".to_owned()
                }
                RefPath::NodeOutput { id, .. } => match self.flow.node(id) {
                    Some(node) => self.node_summary(node),
                    None => format!("No node has the id `{id}`."),
                },
                RefPath::Vault { key, .. } => match catalog.vault_key(key) {
                    Some(_) => format!("Vault secret `{key}` — its value is never shown."),
                    None => format!("Vault secret `{key}` — not in the vault yet."),
                },
                RefPath::Var { name, .. } => {
                    format!("Variable `{name}`, set by a vault node's `as`.")
                }
                RefPath::Unknown(_) | RefPath::Unclosed => return None,
            };
            return Some(Hover {
                range: reference.range,
                markdown,
            });
        }
        let cursor = locate(self.text, self.json, offset)?;
        match cursor {
            Cursor::Key {
                path,
                key: Some(key),
                ..
            } => {
                let field = match path.as_slice() {
                    [] => FILE_FIELDS.iter().find(|f| f.name == key.name)?,
                    [Seg::Key("nodes"), Seg::Index(i)] => {
                        let ty = self.flow.nodes.get(*i)?.ty;
                        match ty {
                            Some(ty) => ty.field(&key.name)?,
                            None => crate::model::COMMON_FIELDS
                                .iter()
                                .find(|f| f.name == key.name)?,
                        }
                    }
                    [Seg::Key("nodes"), Seg::Index(_), Seg::Key("retry")] => {
                        crate::model::RETRY_FIELDS
                            .iter()
                            .find(|f| f.name == key.name)?
                    }
                    _ => return None,
                };
                let owner = match path.as_slice() {
                    [] => "flow".to_owned(),
                    [_, _, Seg::Key("retry")] => "`retry`".to_owned(),
                    _ => {
                        let i = match path[1] {
                            Seg::Index(i) => i,
                            Seg::Key(_) => return None,
                        };
                        self.flow.nodes[i]
                            .ty
                            .map_or("node".to_owned(), |t| format!("{} node", t.as_str()))
                    }
                };
                let required = if field.required { ", required" } else { "" };
                Some(Hover {
                    range: key.range,
                    markdown: format!("**`{}`** ({owner}{required})\n\n{}", field.name, field.doc),
                })
            }
            Cursor::Value {
                path,
                value: Some(value),
            } => {
                let (index, rest) = match path.as_slice() {
                    [Seg::Key("nodes"), Seg::Index(i), rest @ ..] => (*i, rest),
                    _ => return None,
                };
                let name = value.as_str()?;
                let field = match rest {
                    [Seg::Key(f)] | [Seg::Key(f), Seg::Index(_)] => *f,
                    _ => return None,
                };
                let ty = self.flow.nodes.get(index)?.ty;
                let kind = match field {
                    "type" => FieldKind::NodeType,
                    _ => ty?.field(field)?.kind,
                };
                let markdown = match kind {
                    FieldKind::NodeType => {
                        let t = NodeType::parse(name)?;
                        format!("**{}** node\n\n{}", t.as_str(), t.doc())
                    }
                    FieldKind::NodeId | FieldKind::NodeRef | FieldKind::NodeRefs => {
                        self.node_summary(self.flow.node(name)?)
                    }
                    FieldKind::Tool | FieldKind::Tools => match catalog.tool(name) {
                        Some(t) => format!("**tool `{}`**\n\n{}", t.name, t.detail),
                        None => format!("**tool `{name}`** — not known to any registry"),
                    },
                    FieldKind::Models => match catalog.model(name) {
                        Some(m) => format!("**model `{}`**\n\n{}", m.name, m.detail),
                        None => format!("**model `{name}`** — no configured provider knows it"),
                    },
                    FieldKind::Provider => {
                        let (_, detail) = PROVIDERS.iter().find(|(p, _)| *p == name)?;
                        format!("**provider `{name}`**\n\n{detail}")
                    }
                    FieldKind::VaultKey => match catalog.vault_key(name) {
                        Some(_) => format!("Vault secret `{name}` — its value is never shown."),
                        None => format!("Vault secret `{name}` — not in the vault yet."),
                    },
                    _ => return None,
                };
                Some(Hover {
                    range: value.range,
                    markdown,
                })
            }
            _ => None,
        }
    }

    fn node_summary(&self, node: &Node) -> String {
        let id = node.id.as_deref().unwrap_or("?");
        let ty = node.ty.map_or("node", NodeType::as_str);
        let mut text = format!("**`{id}`** — {ty} node");
        let value = &self.node_values()[node.index];
        if let Some(description) = value.get("description").and_then(Value::as_str) {
            text.push_str(&format!("\n\n{description}"));
        }
        for key in ["model", "tool", "query", "key", "if", "flow"] {
            if let Some(v) = value.get(key) {
                let source = &self.text[v.range.as_usize()];
                text.push_str(&format!(
                    "\n\n`{key}`: {}",
                    crate::syntax::truncate(source, 80)
                ));
            }
        }
        let next: Vec<&str> = node.edges.iter().map(|e| e.target.as_str()).collect();
        if !next.is_empty() {
            text.push_str(&format!("\n\n→ {}", next.join(", ")));
        }
        text
    }

    // ---- navigation and rename ----

    fn template_ref_at(&self, offset: u32) -> Option<(template::TemplateRef, usize)> {
        let strings = template::template_strings(self.json, self.flow);
        let string = strings.iter().find(|s| {
            s.value
                .as_string()
                .is_some_and(|v| v.content.touches(offset))
        })?;
        let content = string.value.as_string()?.content;
        let raw = self.text.get(content.as_usize())?;
        template::scan(raw, content.start)
            .into_iter()
            .find(|r| r.range.touches(offset))
            .map(|r| (r, string.node))
    }

    /// The node id written at `offset`, with the range of the characters naming it.
    fn id_at(&self, offset: u32) -> Option<(String, TextRange)> {
        if let Some((reference, _)) = self.template_ref_at(offset) {
            return match reference.path {
                RefPath::NodeOutput { id, id_range } => Some((id, id_range)),
                _ => None,
            };
        }
        let cursor = locate(self.text, self.json, offset)?;
        let Cursor::Value {
            path,
            value: Some(value),
        } = cursor
        else {
            return None;
        };
        let s = value.as_string()?;
        match path.as_slice() {
            [
                Seg::Key("nodes"),
                Seg::Index(_),
                Seg::Key("id" | "next" | "then" | "else" | "target"),
            ]
            | [
                Seg::Key("nodes"),
                Seg::Index(_),
                Seg::Key("next"),
                Seg::Index(_),
            ] => Some((s.value.clone(), s.content)),
            _ => None,
        }
    }

    fn occurrences(&self, id: &str) -> Vec<Occurrence> {
        let mut out = Vec::new();
        if let Some(node) = self.flow.node(id)
            && let (Some(range), Some(content)) = (node.id_range, node.id_content)
        {
            out.push(Occurrence {
                range,
                content,
                declaration: true,
            });
        }
        for node in &self.flow.nodes {
            for edge in node.edges.iter().filter(|e| e.target == id) {
                out.push(Occurrence {
                    range: edge.range,
                    content: edge.content,
                    declaration: false,
                });
            }
        }
        for string in template::template_strings(self.json, self.flow) {
            let Some(content) = string.value.as_string().map(|s| s.content) else {
                continue;
            };
            let raw = &self.text[content.as_usize()];
            for reference in template::scan(raw, content.start) {
                if let RefPath::NodeOutput {
                    id: ref_id,
                    id_range,
                } = reference.path
                    && ref_id == id
                {
                    out.push(Occurrence {
                        range: id_range,
                        content: id_range,
                        declaration: false,
                    });
                }
            }
        }
        out
    }

    pub fn definition(&self, offset: u32) -> Option<TextRange> {
        let (id, _) = self.id_at(offset)?;
        self.flow.node(&id)?.id_range
    }

    pub fn references(&self, offset: u32, include_declaration: bool) -> Vec<TextRange> {
        let Some((id, _)) = self.id_at(offset) else {
            return Vec::new();
        };
        self.occurrences(&id)
            .into_iter()
            .filter(|o| include_declaration || !o.declaration)
            .map(|o| o.range)
            .collect()
    }

    pub fn prepare_rename(&self, offset: u32) -> Option<TextRange> {
        let (id, range) = self.id_at(offset)?;
        self.flow.node(&id)?;
        Some(range)
    }

    pub fn rename(&self, offset: u32, new_name: &str) -> Result<Vec<TextEdit>, RenameError> {
        let (id, _) = self.id_at(offset).ok_or(RenameError::NotANodeId)?;
        if self.flow.node(&id).is_none() {
            return Err(RenameError::NotANodeId);
        }
        if !is_valid_id(new_name) {
            return Err(RenameError::InvalidName(new_name.to_owned()));
        }
        if new_name != id && self.flow.by_id.contains_key(new_name) {
            return Err(RenameError::AlreadyExists(new_name.to_owned()));
        }
        let mut edits: Vec<TextEdit> = self
            .occurrences(&id)
            .into_iter()
            .map(|o| TextEdit {
                range: o.content,
                new_text: new_name.to_owned(),
            })
            .collect();
        edits.sort_by_key(|e| e.range.start);
        Ok(edits)
    }

    // ---- outline ----

    pub fn symbols(&self) -> Vec<Symbol> {
        let Some(root) = &self.json.root else {
            return Vec::new();
        };
        let children = self
            .flow
            .nodes
            .iter()
            .map(|node| {
                let ty = node.ty.map_or("node", NodeType::as_str);
                let next: Vec<&str> = node.edges.iter().map(|e| e.target.as_str()).collect();
                let detail = if next.is_empty() {
                    ty.to_owned()
                } else {
                    format!("{ty} → {}", next.join(", "))
                };
                Symbol {
                    name: node
                        .id
                        .clone()
                        .unwrap_or_else(|| format!("#{}", node.index + 1)),
                    detail: Some(detail),
                    kind: SymbolKind::Node,
                    range: node.range,
                    selection_range: node.anchor(),
                    children: Vec::new(),
                }
            })
            .collect();
        let id = root.get("id");
        vec![Symbol {
            name: id.and_then(Value::as_str).unwrap_or("flow").to_owned(),
            detail: Some("flow".into()),
            kind: SymbolKind::Flow,
            range: root.range,
            selection_range: id.map_or(root.range, |v| v.range),
            children,
        }]
    }

    pub fn folding_ranges(&self) -> Vec<FoldingRange> {
        let mut out = Vec::new();
        if let Some(root) = &self.json.root {
            fold(self.text, root, &mut out);
        }
        out
    }
}

fn fold(text: &str, value: &Value, out: &mut Vec<FoldingRange>) {
    let children: Vec<&Value> = match &value.kind {
        ValueKind::Object(members) => members.iter().filter_map(|m| m.value.as_ref()).collect(),
        ValueKind::Array(items) => items.iter().collect(),
        _ => return,
    };
    if text[value.range.as_usize()].contains('\n') {
        out.push(FoldingRange { range: value.range });
    }
    for child in children {
        fold(text, child, out);
    }
}

fn entries(
    list: &[crate::Entry],
    kind: CompletionKind,
) -> Vec<(String, CompletionKind, Option<String>)> {
    list.iter()
        .map(|e| (e.name.clone(), kind, Some(e.detail.clone())))
        .collect()
}

/// A snippet for a field's value, its first tab stop numbered `n`.
fn placeholder(kind: FieldKind, n: usize) -> String {
    match kind {
        FieldKind::Integer { .. } => format!("${{{n}:1}}"),
        FieldKind::Number { .. } => format!("${{{n}:0.7}}"),
        FieldKind::Args => format!("{{${n}}}"),
        FieldKind::Ui => format!("{{ \"x\": ${{{n}:0}}, \"y\": ${{{}:0}} }}", n + 1),
        FieldKind::Tools => format!("[${n}]"),
        FieldKind::Retry => format!(
            "{{ \"attempts\": ${{{n}:3}}, \"backoff_ms\": ${{{}:500}} }}",
            n + 1
        ),
        _ => format!("\"${n}\""),
    }
}

fn key_completion(
    field: &Field,
    offset: u32,
    key: Option<&crate::syntax::Key>,
    has_colon: bool,
) -> Completion {
    let (range, new_text, snippet) = match key {
        Some(key) if has_colon => (key.range, format!("\"{}\"", field.name), false),
        Some(key) => (
            key.range,
            format!("\"{}\": {}", field.name, placeholder(field.kind, 1)),
            true,
        ),
        None => (
            TextRange::empty(offset),
            format!("\"{}\": {}", field.name, placeholder(field.kind, 1)),
            true,
        ),
    };
    Completion {
        label: field.name.to_owned(),
        kind: CompletionKind::Field,
        detail: Some(if field.required {
            "required".into()
        } else {
            "optional".into()
        }),
        documentation: Some(field.doc.to_owned()),
        edit: TextEdit { range, new_text },
        snippet,
        filter_text: key.map(|_| format!("\"{}\"", field.name)),
    }
}

/// Whole nodes to insert into `nodes`, one per type.
fn node_snippets(offset: u32) -> Vec<Completion> {
    NodeType::ALL
        .iter()
        .map(|ty| {
            let required: Vec<String> = ty
                .fields()
                .iter()
                .filter(|f| f.required)
                .enumerate()
                .map(|(i, f)| format!(", \"{}\": {}", f.name, placeholder(f.kind, i + 3)))
                .collect();
            let next = if ty.has_next() {
                ", \"next\": \"$2\""
            } else {
                ""
            };
            let new_text = format!(
                "{{ \"id\": \"${{1:{}}}\", \"type\": \"{}\"{}{next} }}",
                ty.as_str(),
                ty.as_str(),
                required.concat()
            );
            Completion {
                label: format!("{} node", ty.as_str()),
                kind: CompletionKind::NodeType,
                detail: Some(ty.doc().to_owned()),
                documentation: None,
                edit: TextEdit {
                    range: TextRange::empty(offset),
                    new_text,
                },
                snippet: true,
                filter_text: None,
            }
        })
        .collect()
}
