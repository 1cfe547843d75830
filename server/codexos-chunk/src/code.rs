//! Code chunking with tree-sitter, driven by a grammar's `chunks.scm`.
//!
//! Items come from the query. Each level of the file (the file itself, then any item too big
//! for one chunk) is cut at the boundaries of its syntax children: an item child that fits
//! becomes one draft, a bigger one gets a level of its own, and any other child either fits
//! (a fragment) or is opened and its children are cut in turn. Cuts therefore always fall
//! on node boundaries, never inside a token.

use std::collections::{HashMap, HashSet};

use tree_sitter::{Node, Parser, QueryCursor, StreamingIterator};

use crate::assemble::{Draft, FileContext, Item, Outline};
use crate::chunk::{Chunk, ChunkKind};
use crate::grammar::{CaptureRole, Grammar, Rules};

/// How deep the cutter follows the syntax tree before it cuts by lines instead: pathological
/// input (ten thousand nested brackets) must not exhaust the stack.
const MAX_DEPTH: usize = 96;
/// Longest symbol segment kept from a name node (a garbage file can "name" an item with
/// a whole line).
const MAX_NAME_CHARS: usize = 120;
/// Longest name read as a qualified path (`shop::core::Cart<T>::remove`); a longer one
/// gives its first identifier only.
const MAX_PATH_BYTES: usize = 4 * MAX_NAME_CHARS;

/// Chunks `ctx.text` as `grammar`'s language; `None` if tree-sitter produced no tree.
pub(crate) fn chunk_code(ctx: &FileContext, grammar: &Grammar) -> Option<Vec<Chunk>> {
    let rules = grammar.rules()?;
    let mut parser = Parser::new();
    parser.set_language(&grammar.language).ok()?;
    let tree = parser.parse(ctx.text, None)?;
    let root = tree.root_node();
    let found = find_items(ctx, grammar, rules, root);
    let cutter = Cutter {
        ctx,
        outline: &found.outline,
        item_of_node: &found.item_of_node,
        attached: &found.attached,
    };
    let mut drafts = cutter.level(root, None, 0, ctx.text.len(), 0);
    if drafts.is_empty() {
        drafts = ctx.merge_level(ctx.line_drafts(0, ctx.text.len(), None));
    }
    Some(ctx.finish(&drafts, &found.outline))
}

struct FoundItems {
    outline: Outline,
    /// Tree-sitter node id → index into `outline.items`.
    item_of_node: HashMap<usize, usize>,
    /// Node ids of docs and attributes that travel with the item below them, and of the
    /// `;` that ends one.
    attached: HashSet<usize>,
}

struct Candidate<'tree> {
    node: Node<'tree>,
    kind: ChunkKind,
    name: Option<Node<'tree>>,
    /// `@scope` nodes, in file order.
    scopes: Vec<Node<'tree>>,
    pattern: usize,
}

fn find_items<'tree>(
    ctx: &FileContext,
    grammar: &Grammar,
    rules: &Rules,
    root: Node<'tree>,
) -> FoundItems {
    let mut by_node: HashMap<usize, Candidate<'tree>> = HashMap::new();
    let mut attachable: HashSet<usize> = HashSet::new();
    let mut module: Option<Node> = None;
    let mut cursor = QueryCursor::new();
    let mut matches = cursor.matches(&rules.query, root, ctx.text.as_bytes());
    while let Some(found) = matches.next() {
        let mut item = None;
        let mut name = None;
        let mut scopes = Vec::new();
        for capture in found.captures() {
            match rules.roles.get(capture.index as usize) {
                Some(CaptureRole::Item(kind)) => item = Some((capture.node, kind)),
                Some(CaptureRole::Name) => name = name.or(Some(capture.node)),
                Some(CaptureRole::Scope) => scopes.push(capture.node),
                Some(CaptureRole::Module) => {
                    if module.is_none_or(|first| capture.node.start_byte() < first.start_byte()) {
                        module = Some(capture.node);
                    }
                }
                Some(CaptureRole::Attach) => {
                    attachable.insert(capture.node.id());
                }
                Some(CaptureRole::Ignored) | None => {}
            }
        }
        let Some((node, kind)) = item else { continue };
        scopes.sort_by_key(|scope| scope.start_byte());
        let candidate = Candidate {
            node,
            kind: kind.clone(),
            name,
            scopes,
            pattern: found.pattern_index,
        };
        // The earliest pattern in the query file wins for one node.
        match by_node.get(&node.id()) {
            Some(known) if known.pattern <= candidate.pattern => {}
            _ => {
                by_node.insert(node.id(), candidate);
            }
        }
    }
    let mut candidates: Vec<Candidate> = by_node.into_values().collect();
    // Two items sharing one name node (a decorated definition and its definition): keep the outer.
    let mut outer_by_name: HashMap<usize, (usize, usize)> = HashMap::new();
    for candidate in &candidates {
        if let Some(name) = candidate.name {
            let size = candidate.node.end_byte() - candidate.node.start_byte();
            let entry = outer_by_name
                .entry(name.id())
                .or_insert((candidate.node.id(), size));
            if size > entry.1 {
                *entry = (candidate.node.id(), size);
            }
        }
    }
    candidates.retain(|candidate| {
        candidate.name.is_none_or(|name| {
            outer_by_name
                .get(&name.id())
                .is_some_and(|(id, _)| *id == candidate.node.id())
        })
    });
    candidates.sort_by_key(|candidate| {
        (
            candidate.node.start_byte(),
            std::cmp::Reverse(candidate.node.end_byte()),
            candidate.pattern,
        )
    });
    candidates.dedup_by(|later, earlier| {
        later.node.start_byte() == earlier.node.start_byte()
            && later.node.end_byte() == earlier.node.end_byte()
    });
    let item_nodes: Vec<Node> = candidates.iter().map(|candidate| candidate.node).collect();
    let neighbours = neighbours(root, &item_nodes, &attachable);

    let root_symbol = match module {
        Some(node) => name_segments(node_text(ctx, node)).join(&grammar.separator),
        None => grammar
            .module_path
            .module_path(ctx.path, &grammar.separator),
    };
    let mut attached = HashSet::new();
    let mut items: Vec<Item> = Vec::with_capacity(candidates.len());
    let mut item_of_node = HashMap::with_capacity(candidates.len());
    let mut open: Vec<(usize, usize)> = Vec::new();
    for candidate in &candidates {
        let above = neighbours
            .above
            .get(&candidate.node.id())
            .map_or(&[][..], Vec::as_slice);
        let start = attach_start(ctx, candidate.node, above, &mut attached);
        let end = match neighbours.semicolon.get(&candidate.node.id()) {
            Some(semicolon) => {
                attached.insert(semicolon.id());
                semicolon.end_byte()
            }
            None => candidate.node.end_byte(),
        };
        while open
            .last()
            .is_some_and(|&(_, open_end)| open_end <= candidate.node.start_byte())
        {
            open.pop();
        }
        let parent = open.last().map(|&(index, _)| index);
        let parent_symbol =
            parent.map_or(root_symbol.as_str(), |index| items[index].symbol.as_str());
        let name = candidate
            .name
            .map(|node| name_segments(node_text(ctx, node)))
            .unwrap_or_default();
        let symbol = if name.is_empty() {
            parent_symbol.to_owned()
        } else {
            let mut segments: Vec<String> = candidate
                .scopes
                .iter()
                .flat_map(|&scope| name_segments(node_text(ctx, scope)))
                .collect();
            segments.extend(name);
            let path = segments.join(&grammar.separator);
            if parent_symbol.is_empty() {
                path
            } else {
                format!("{parent_symbol}{}{path}", grammar.separator)
            }
        };
        item_of_node.insert(candidate.node.id(), items.len());
        open.push((items.len(), end));
        items.push(Item {
            start,
            end,
            symbol,
            kind: candidate.kind.clone(),
            parent,
            tokens: ctx.tokens.count(start, end),
        });
    }
    // Attached docs can only move an item's start back over its own siblings, so starts stay
    // ordered; the sort is a cheap guarantee for the binary searches downstream.
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&index| (items[index].start, std::cmp::Reverse(items[index].end)));
    let outline = reorder(items, &order, &mut item_of_node);
    FoundItems {
        outline: Outline {
            items: outline,
            root_symbol,
            root_kind: ChunkKind::Module,
        },
        item_of_node,
        attached,
    }
}

/// Applies `order` to the items, remapping parents and node lookups.
fn reorder(
    items: Vec<Item>,
    order: &[usize],
    item_of_node: &mut HashMap<usize, usize>,
) -> Vec<Item> {
    if order
        .iter()
        .enumerate()
        .all(|(position, &index)| position == index)
    {
        return items;
    }
    let mut new_position = vec![0; order.len()];
    for (position, &index) in order.iter().enumerate() {
        new_position[index] = position;
    }
    let mut slots: Vec<Option<Item>> = items.into_iter().map(Some).collect();
    let reordered = order
        .iter()
        .filter_map(|&index| slots[index].take())
        .map(|item| Item {
            parent: item.parent.map(|parent| new_position[parent]),
            ..item
        })
        .collect();
    for index in item_of_node.values_mut() {
        *index = new_position[*index];
    }
    reordered
}

/// What sits right beside the item nodes among their siblings.
struct Neighbours<'tree> {
    /// Per item node, the attachable siblings directly before it, nearest first.
    above: HashMap<usize, Vec<Node<'tree>>>,
    /// Per item node, the `;` right after it that ends it but is not in its node: a C
    /// `struct point { … };`, a class field `handle = () => 1;`.
    semicolon: HashMap<usize, Node<'tree>>,
}

/// Found in one pass over the children of the nodes that hold items: tree-sitter's
/// `prev_sibling` rescans the parent's children, which is quadratic on a file of twenty
/// thousand functions.
fn neighbours<'tree>(
    root: Node<'tree>,
    item_nodes: &[Node<'tree>],
    attachable: &HashSet<usize>,
) -> Neighbours<'tree> {
    let item_starts: Vec<usize> = item_nodes.iter().map(|node| node.start_byte()).collect();
    let is_item: HashSet<usize> = item_nodes.iter().map(|node| node.id()).collect();
    let holds_item = |node: Node| {
        let first = item_starts.partition_point(|&start| start < node.start_byte());
        item_starts
            .get(first)
            .is_some_and(|&start| start < node.end_byte())
    };
    let mut found = Neighbours {
        above: HashMap::new(),
        semicolon: HashMap::new(),
    };
    let mut pending = vec![root];
    while let Some(parent) = pending.pop() {
        let mut run: Vec<Node> = Vec::new();
        let mut previous_item: Option<Node> = None;
        let mut cursor = parent.walk();
        for child in parent.children(&mut cursor) {
            let child_is_item = is_item.contains(&child.id());
            if let Some(item) = previous_item.take()
                && !child.is_named()
                && child.kind() == ";"
            {
                found.semicolon.insert(item.id(), child);
            }
            if child_is_item {
                previous_item = Some(child);
            }
            if !run.is_empty() {
                // The run belongs to the item, or to an item opening the child: Python puts
                // the comments above a class's first method before the class body.
                let opening_item = || {
                    let first = item_starts.partition_point(|&start| start < child.start_byte());
                    item_nodes.get(first).filter(|item| {
                        item.start_byte() == child.start_byte()
                            && item.end_byte() <= child.end_byte()
                    })
                };
                let target = if child_is_item {
                    Some(child)
                } else {
                    opening_item().copied()
                };
                if let Some(item) = target {
                    found
                        .above
                        .entry(item.id())
                        .or_insert_with(|| run.iter().rev().copied().collect());
                }
            }
            if attachable.contains(&child.id()) && !child_is_item {
                run.push(child);
            } else {
                run.clear();
            }
            if child.child_count() > 0 && holds_item(child) {
                pending.push(child);
            }
        }
    }
    found
}

/// Start of `node` moved back over the attachable siblings directly above it (`above`,
/// nearest first) as long as no blank line separates them; those are recorded in `attached`.
fn attach_start(
    ctx: &FileContext,
    node: Node,
    above: &[Node],
    attached: &mut HashSet<usize>,
) -> usize {
    let mut start = node.start_byte();
    for sibling in above {
        let text = &ctx.text[sibling.start_byte()..sibling.end_byte()];
        let content_end = sibling.start_byte() + text.trim_end().len();
        let last_line = ctx
            .lines
            .line_of(content_end.saturating_sub(1).max(sibling.start_byte()));
        if ctx.lines.line_of(start) > last_line + 1 {
            break;
        }
        if sibling.start_byte() >= start {
            break;
        }
        attached.insert(sibling.id());
        start = sibling.start_byte();
    }
    start
}

fn node_text<'text>(ctx: &FileContext<'text>, node: Node) -> &'text str {
    &ctx.text[node.start_byte()..node.end_byte()]
}

/// The symbol segments a name node's text gives. A qualified name gives one per part, without
/// generic arguments (`Cart<T>::remove` → `Cart`, `remove`; `com.acme` and `App\Models` → two);
/// any other text its first identifier (`&'a mut Foo` → `Foo`, `dyn Trait + Send` → `Trait`).
fn name_segments(raw: &str) -> Vec<String> {
    let raw = raw.trim();
    if raw.len() <= MAX_PATH_BYTES
        && let Some(path) = qualified_path(raw)
    {
        return path;
    }
    first_identifier(raw).into_iter().collect()
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `a::b`, `a.b`, `a\b` (a leading `::` or `\` allowed), each part an identifier that may
/// carry generic arguments (`<T>`, Go's `[T]`), a C++ destructor's `~` or a JavaScript
/// private `#`, a Ruby `?`, `!` or `=` at the very end, or be a C++ `operator==`.
fn qualified_path(raw: &str) -> Option<Vec<String>> {
    let mut rest = raw
        .strip_prefix("::")
        .or_else(|| raw.strip_prefix('\\'))
        .unwrap_or(raw);
    let mut segments = Vec::new();
    loop {
        if let Some(symbol) = rest.strip_prefix("operator")
            && symbol.starts_with(|c: char| !is_word_char(c) && !matches!(c, '.' | ':' | '\\'))
        {
            // `operator ==` → `operator==`, `operator bool` → `operator bool`.
            let symbol = symbol.split_whitespace().collect::<Vec<_>>().join(" ");
            let space = if symbol.starts_with(is_word_char) {
                " "
            } else {
                ""
            };
            segments.push(truncated(&format!("operator{space}{symbol}")));
            return Some(segments);
        }
        let sigil = usize::from(rest.starts_with(['~', '#']));
        let word = rest[sigil..]
            .find(|c: char| !is_word_char(c))
            .unwrap_or(rest.len() - sigil);
        if word == 0 {
            return None;
        }
        let mut end = sigil + word;
        if matches!(&rest[end..], "?" | "!" | "=") {
            end = rest.len();
        }
        segments.push(truncated(&rest[..end]));
        rest = skip_arguments(&rest[end..])?.trim_start();
        if rest.is_empty() {
            return Some(segments);
        }
        rest = ["::", ".", "\\"]
            .iter()
            .find_map(|separator| rest.strip_prefix(separator))?
            .trim_start();
    }
}

/// `text` after the bracketed generic arguments it starts with, if any; `None` if they do not
/// close.
fn skip_arguments(text: &str) -> Option<&str> {
    let (open, close) = match text.chars().next() {
        Some('<') => ('<', '>'),
        Some('[') => ('[', ']'),
        _ => return Some(text),
    };
    let mut depth = 0usize;
    for (at, c) in text.char_indices() {
        if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                return Some(&text[at + 1..]);
            }
        }
    }
    None
}

fn truncated(segment: &str) -> String {
    segment.chars().take(MAX_NAME_CHARS).collect()
}

/// The first identifier that is not a lifetime or a keyword like `mut`, `dyn`, `impl`.
fn first_identifier(raw: &str) -> Option<String> {
    let mut previous = ' ';
    let mut rest = raw;
    while !rest.is_empty() {
        let word_start = rest.find(is_word_char).unwrap_or(rest.len());
        let before = rest[..word_start].chars().last().unwrap_or(previous);
        let word_end = word_start
            + rest[word_start..]
                .find(|c: char| !is_word_char(c))
                .unwrap_or(rest.len() - word_start);
        let word = &rest[word_start..word_end];
        let is_lifetime = before == '\'';
        if !word.is_empty() && !is_lifetime && !matches!(word, "mut" | "dyn" | "impl" | "const") {
            return Some(truncated(word));
        }
        previous = word.chars().last().unwrap_or(before);
        rest = &rest[word_end..];
    }
    None
}

/// Cuts levels of one parsed file into drafts.
struct Cutter<'a, 'text> {
    ctx: &'a FileContext<'text>,
    outline: &'a Outline,
    item_of_node: &'a HashMap<usize, usize>,
    attached: &'a HashSet<usize>,
}

impl Cutter<'_, '_> {
    /// The merged drafts tiling `start..end`, the extent of `node` (owned by item `owner`).
    fn level(
        &self,
        node: Node,
        owner: Option<usize>,
        start: usize,
        end: usize,
        depth: usize,
    ) -> Vec<Draft> {
        let mut drafts = Vec::new();
        self.collect(node, owner, &mut drafts, depth);
        if drafts.is_empty() && start < end {
            drafts = self.ctx.line_drafts(start, end, owner);
        }
        self.ctx.tile(&mut drafts, start, end);
        self.ctx.merge_level(drafts)
    }

    /// Appends drafts for the children of `node`, opening children that are too big.
    fn collect(&self, node: Node, owner: Option<usize>, drafts: &mut Vec<Draft>, depth: usize) {
        let config = self.ctx.config;
        let mut cursor = node.walk();
        for child in node.children(&mut cursor) {
            let (start, end) = (child.start_byte(), child.end_byte());
            if start >= end || self.attached.contains(&child.id()) {
                continue;
            }
            if let Some(&index) = self.item_of_node.get(&child.id()) {
                let item = &self.outline.items[index];
                if item.tokens <= config.max_tokens {
                    let mergeable = item.tokens < config.min_tokens;
                    drafts.push(Draft::solid(
                        item.start,
                        item.end,
                        item.tokens,
                        owner,
                        mergeable,
                    ));
                } else if depth >= MAX_DEPTH {
                    drafts.extend(self.closed(self.ctx.merge_level(self.ctx.line_drafts(
                        item.start,
                        item.end,
                        Some(index),
                    ))));
                } else {
                    drafts.extend(self.closed(self.level(
                        child,
                        Some(index),
                        item.start,
                        item.end,
                        depth + 1,
                    )));
                }
                continue;
            }
            let tokens = self.ctx.tokens.count(start, end);
            let fits = tokens <= config.max_tokens && !self.holds_item(start, end);
            if fits {
                drafts.push(Draft::solid(start, end, tokens, owner, true));
            } else if child.child_count() == 0 {
                // A token bigger than a chunk (a long docstring, a string of data) is cut
                // between its lines; a single line stays whole.
                drafts.extend(self.ctx.whole_line_drafts(start, end, owner));
            } else if depth >= MAX_DEPTH {
                drafts.extend(self.ctx.line_drafts(start, end, owner));
            } else {
                self.collect(child, owner, drafts, depth + 1);
            }
        }
    }

    fn closed(&self, drafts: Vec<Draft>) -> impl Iterator<Item = Draft> {
        drafts.into_iter().map(|draft| Draft {
            mergeable: false,
            ..draft
        })
    }

    /// Whether an item starts within `start..end`.
    fn holds_item(&self, start: usize, end: usize) -> bool {
        let items = &self.outline.items;
        let first = items.partition_point(|item| item.start < start);
        items.get(first).is_some_and(|item| item.start < end)
    }
}

#[cfg(test)]
mod tests {
    use super::name_segments;

    #[test]
    fn names_give_one_identifier_or_the_parts_of_a_qualified_name() {
        let cases = [
            ("Wrapper<T>", &["Wrapper"][..]),
            ("&'a mut Foo", &["Foo"]),
            ("dyn Trait + Send", &["Trait"]),
            ("parse_file", &["parse_file"]),
            ("(A, B)", &["A"]),
            ("<>", &[]),
            (
                "shop::core::Cart<T>::remove",
                &["shop", "core", "Cart", "remove"],
            ),
            ("Cart::~Cart", &["Cart", "~Cart"]),
            ("Cart::operator ==", &["Cart", "operator=="]),
            ("operator()", &["operator()"]),
            ("Money::operator bool", &["Money", "operator bool"]),
            ("com.operator.billing", &["com", "operator", "billing"]),
            ("operator", &["operator"]),
            ("com.acme.shop", &["com", "acme", "shop"]),
            ("\\App\\Models", &["App", "Models"]),
            ("List[T]", &["List"]),
            ("*Server", &["Server"]),
            ("#secret", &["#secret"]),
            ("empty?", &["empty?"]),
            ("Map<K, Vec<V>>", &["Map"]),
            ("Broken<T", &["Broken"]),
        ];
        for (raw, expected) in cases {
            assert_eq!(name_segments(raw), expected, "{raw}");
        }
    }
}
