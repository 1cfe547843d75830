//! From items to chunks, the part every structured format shares.
//!
//! A format (tree-sitter code, Markdown, config files) finds the *items* of a file — named,
//! nested byte ranges — and cuts each level of the file into *drafts*: contiguous byte
//! ranges that together cover the level exactly. Drafts are then merged (small neighbours
//! join), trimmed of surrounding whitespace, snapped to whole lines where only indentation
//! or trailing blanks separate them from one, and named after the item that dominates them.

use std::path::Path;

use crate::chunk::{Chunk, ChunkKind, SymbolSpan};
use crate::config::ChunkConfig;
use crate::lines::{LineIndex, line_units};
use crate::tokens::{TokenIndex, is_blank};

/// A named, nested part of a file: a function, class, heading section, top-level key.
#[derive(Debug)]
pub(crate) struct Item {
    /// First byte, including attached docs, attributes or decorators.
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) symbol: String,
    pub(crate) kind: ChunkKind,
    pub(crate) parent: Option<usize>,
    pub(crate) tokens: usize,
}

/// The items of one file, sorted by start, an item before the items inside it.
pub(crate) struct Outline {
    pub(crate) items: Vec<Item>,
    /// Names what lies outside every item (a module path, or nothing).
    pub(crate) root_symbol: String,
    pub(crate) root_kind: ChunkKind,
}

/// A byte range on its way to becoming a chunk.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Draft {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) tokens: usize,
    /// The item being split when this draft was cut (`None`: the file itself); names the
    /// chunk when no item inside it dominates.
    pub(crate) owner: Option<usize>,
    /// Glue, fragments and small items may merge with their neighbours; drafts that are
    /// whole items of a good size, or already-merged parts of a split item, may not.
    pub(crate) mergeable: bool,
    /// The part that must stay in the chunk: the syntax nodes or visible text the draft was
    /// made for, before tiling stretched it over the whitespace around. Trimming stops here,
    /// so a chunk never ends inside a token that happens to end in whitespace (a string, a
    /// comment). `None` for blank drafts.
    pub(crate) content: Option<(usize, usize)>,
}

impl Draft {
    /// A draft whose content is its whole range (a syntax node or an item).
    pub(crate) fn solid(
        start: usize,
        end: usize,
        tokens: usize,
        owner: Option<usize>,
        mergeable: bool,
    ) -> Self {
        Self {
            start,
            end,
            tokens,
            owner,
            mergeable,
            content: Some((start, end)),
        }
    }
}

fn span_of(
    first: Option<(usize, usize)>,
    second: Option<(usize, usize)>,
) -> Option<(usize, usize)> {
    match (first, second) {
        (Some((start, _)), Some((_, end))) => Some((start, end)),
        (one, other) => one.or(other),
    }
}

/// One file being chunked.
pub(crate) struct FileContext<'a> {
    pub(crate) path: &'a Path,
    pub(crate) language: &'a str,
    pub(crate) text: &'a str,
    pub(crate) tokens: TokenIndex<'a>,
    pub(crate) lines: LineIndex,
    pub(crate) config: &'a ChunkConfig,
}

impl<'a> FileContext<'a> {
    pub(crate) fn new(
        path: &'a Path,
        language: &'a str,
        text: &'a str,
        config: &'a ChunkConfig,
    ) -> Self {
        Self {
            path,
            language,
            text,
            tokens: TokenIndex::new(text),
            lines: LineIndex::new(text),
            config,
        }
    }

    /// Stretches consecutive drafts of one level so they tile `start..end` exactly (the
    /// whitespace between them goes to the draft before), recounting their tokens.
    pub(crate) fn tile(&self, drafts: &mut [Draft], start: usize, end: usize) {
        let Some(first) = drafts.first_mut() else {
            return;
        };
        first.start = start;
        for index in 1..drafts.len() {
            drafts[index - 1].end = drafts[index].start;
        }
        if let Some(last) = drafts.last_mut() {
            last.end = end;
        }
        for draft in drafts {
            draft.tokens = self.tokens.count(draft.start, draft.end);
        }
    }

    /// `start..end` cut into line units (long lines sliced), each a mergeable draft: the
    /// level merge packs them back into chunks of at most `max_tokens`.
    pub(crate) fn line_drafts(&self, start: usize, end: usize, owner: Option<usize>) -> Vec<Draft> {
        self.drafts_of_lines(start, end, owner, self.config.max_tokens)
    }

    /// `start..end` cut into whole lines, however long, each a mergeable draft.
    pub(crate) fn whole_line_drafts(
        &self,
        start: usize,
        end: usize,
        owner: Option<usize>,
    ) -> Vec<Draft> {
        self.drafts_of_lines(start, end, owner, usize::MAX)
    }

    fn drafts_of_lines(
        &self,
        start: usize,
        end: usize,
        owner: Option<usize>,
        limit: usize,
    ) -> Vec<Draft> {
        line_units(self.text, &self.tokens, start, end, limit)
            .into_iter()
            .map(|unit| {
                let visible = self.visible(unit.start, unit.end);
                Draft {
                    start: unit.start,
                    end: unit.end,
                    tokens: unit.tokens,
                    owner,
                    mergeable: true,
                    content: visible,
                }
            })
            .collect()
    }

    /// Merges the drafts of one level: runs of mergeable drafts are packed greedily up to
    /// `max_tokens`; a packed run still under `min_tokens` then joins the draft before it,
    /// or else the one after it, if the result fits in `max_tokens`.
    pub(crate) fn merge_level(&self, drafts: Vec<Draft>) -> Vec<Draft> {
        let ChunkConfig {
            max_tokens,
            min_tokens,
            ..
        } = *self.config;
        let mut packed: Vec<Draft> = Vec::with_capacity(drafts.len());
        for draft in drafts {
            match packed.last_mut() {
                Some(last)
                    if last.mergeable
                        && draft.mergeable
                        && last.tokens + draft.tokens <= max_tokens =>
                {
                    last.end = draft.end;
                    last.tokens += draft.tokens;
                    last.content = span_of(last.content, draft.content);
                }
                _ => packed.push(draft),
            }
        }
        let is_small_run = |draft: &Draft| draft.mergeable && draft.tokens < min_tokens;
        let mut merged: Vec<Draft> = Vec::with_capacity(packed.len());
        let mut waiting: Option<Draft> = None;
        for draft in packed {
            if let Some(small) = waiting.take() {
                if small.tokens + draft.tokens <= max_tokens {
                    merged.push(join(small, draft));
                    continue;
                }
                merged.push(small);
            }
            if is_small_run(&draft) {
                match merged.last_mut() {
                    Some(last) if last.tokens + draft.tokens <= max_tokens => {
                        *last = join(*last, draft)
                    }
                    _ => waiting = Some(draft),
                }
            } else {
                merged.push(draft);
            }
        }
        merged.extend(waiting);
        merged
    }

    /// Chunks a level given by an outline (Markdown sections, config keys): the gaps between
    /// child items go by lines, children that fit become drafts, larger ones are split the
    /// same way one level down.
    pub(crate) fn outline_level(
        &self,
        outline: &Outline,
        owner: Option<usize>,
        start: usize,
        end: usize,
    ) -> Vec<Draft> {
        let children = outline
            .items
            .iter()
            .enumerate()
            .filter(|(_, item)| item.parent == owner);
        let mut drafts = Vec::new();
        let mut cursor = start;
        for (index, child) in children {
            if cursor < child.start {
                drafts.extend(self.line_drafts(cursor, child.start, owner));
            }
            if child.tokens <= self.config.max_tokens {
                let mergeable = child.tokens < self.config.min_tokens;
                drafts.push(Draft::solid(
                    child.start,
                    child.end,
                    child.tokens,
                    owner,
                    mergeable,
                ));
            } else {
                drafts.extend(
                    self.outline_level(outline, Some(index), child.start, child.end)
                        .into_iter()
                        .map(|draft| Draft {
                            mergeable: false,
                            ..draft
                        }),
                );
            }
            cursor = child.end;
        }
        if cursor < end {
            drafts.extend(self.line_drafts(cursor, end, owner));
        }
        self.tile(&mut drafts, start, end);
        self.merge_level(drafts)
    }

    /// Chunks a document (Markdown, config file) whose items are `items`.
    pub(crate) fn chunk_document(&self, items: Vec<Item>) -> Vec<Chunk> {
        let outline = Outline {
            items,
            root_symbol: String::new(),
            root_kind: ChunkKind::Document,
        };
        let drafts = self.outline_level(&outline, None, 0, self.text.len());
        self.finish(&drafts, &outline)
    }

    /// Turns the drafts of a whole file into chunks.
    pub(crate) fn finish(&self, drafts: &[Draft], outline: &Outline) -> Vec<Chunk> {
        let kept: Vec<(&Draft, (usize, usize))> = drafts
            .iter()
            .filter_map(|draft| Some((draft, self.trim(draft)?)))
            .collect();
        let mut chunks = Vec::with_capacity(kept.len());
        let mut lower = 0;
        for (position, &(draft, (first, last))) in kept.iter().enumerate() {
            let upper = kept
                .get(position + 1)
                .map_or(self.text.len(), |(_, (next_first, _))| *next_first);
            let (start, end) = self.snap(first, last, lower, upper);
            lower = end;
            let first_item = outline
                .items
                .partition_point(|item| item.start < draft.start);
            let last_item = outline.items.partition_point(|item| item.start < draft.end);
            let symbols = outline.items[first_item..last_item]
                .iter()
                .map(|item| {
                    let (start_line, end_line) = self.lines.lines_of(item.start, item.end);
                    SymbolSpan {
                        symbol: item.symbol.clone(),
                        kind: item.kind.clone(),
                        start_line,
                        end_line,
                    }
                })
                .collect();
            let (symbol, kind) = match self.namer(draft, first_item..last_item, outline) {
                Some(item) => (
                    outline.items[item].symbol.clone(),
                    outline.items[item].kind.clone(),
                ),
                None => (outline.root_symbol.clone(), outline.root_kind.clone()),
            };
            chunks.push(self.chunk(start, end, kind, symbol, symbols));
        }
        chunks
    }

    /// The item a draft is named after: the largest item wholly inside it that no other
    /// item inside it contains, if that item makes up at least half the draft; else the item
    /// the draft was cut from. `candidates` are the indices of the items starting in the draft.
    fn namer(
        &self,
        draft: &Draft,
        candidates: std::ops::Range<usize>,
        outline: &Outline,
    ) -> Option<usize> {
        let inside = |item: &Item| item.start >= draft.start && item.end <= draft.end;
        let largest = candidates
            .filter(|&index| inside(&outline.items[index]))
            .filter(|&index| {
                outline.items[index]
                    .parent
                    .is_none_or(|parent| !inside(&outline.items[parent]))
            })
            .max_by(|&left, &right| {
                let tokens = |index: usize| outline.items[index].tokens;
                tokens(left).cmp(&tokens(right)).then(right.cmp(&left))
            });
        match largest {
            Some(index) if outline.items[index].tokens * 2 >= draft.tokens => Some(index),
            _ => draft.owner,
        }
    }

    /// The visible part of `start..end`: without the whitespace around it. `None` if blank.
    pub(crate) fn visible(&self, start: usize, end: usize) -> Option<(usize, usize)> {
        let bytes = &self.text.as_bytes()[start..end];
        let first = start + bytes.iter().position(|&byte| !is_blank(byte))?;
        let last = start + bytes.iter().rposition(|&byte| !is_blank(byte))? + 1;
        Some((first, last))
    }

    /// A draft without the whitespace around it, but never less than its content.
    ///
    /// A draft that starts mid-line, right after other code, keeps the whitespace before its
    /// first visible byte on that line:
    /// it starts at a node boundary (a multi-line string cut at its lines starts with the
    /// rest of a line), and moving the cut into that whitespace would split the node.
    fn trim(&self, draft: &Draft) -> Option<(usize, usize)> {
        let (content_start, content_end) = draft.content?;
        let (first, last) = self.visible(draft.start, draft.end)?;
        let bytes = self.text.as_bytes();
        let (line_start, line_end) = self.lines.line_bounds(draft.start, bytes.len());
        let after_code_on_its_line = !bytes[line_start..draft.start]
            .iter()
            .all(|&byte| is_blank(byte));
        let first = if after_code_on_its_line && first < line_end {
            draft.start
        } else {
            first
        };
        Some((first.min(content_start), last.max(content_end)))
    }

    /// `first..last` widened to whole lines where only whitespace separates it from a line's
    /// start or end, staying within `lower..upper`.
    pub(crate) fn snap(
        &self,
        first: usize,
        last: usize,
        lower: usize,
        upper: usize,
    ) -> (usize, usize) {
        let bytes = self.text.as_bytes();
        let line_start = self.lines.line_bounds(first, bytes.len()).0.max(lower);
        let start = if bytes[line_start..first]
            .iter()
            .rev()
            .all(|&byte| is_blank(byte))
        {
            line_start
        } else {
            first
        };
        let line_end = self.lines.line_bounds(last - 1, bytes.len()).1.min(upper);
        let end = if bytes[last..line_end].iter().all(|&byte| is_blank(byte)) {
            line_end
        } else {
            last
        };
        (start.min(first), end.max(last))
    }

    pub(crate) fn chunk(
        &self,
        start: usize,
        end: usize,
        kind: ChunkKind,
        symbol: String,
        symbols: Vec<SymbolSpan>,
    ) -> Chunk {
        let (start_line, end_line) = self.lines.lines_of(start, end);
        Chunk {
            path: self.path.to_path_buf(),
            language: self.language.to_owned(),
            kind,
            symbol,
            byte_range: start..end,
            start_line,
            end_line,
            tokens: self.tokens.count(start, end),
            symbols,
            text: self.text[start..end].to_owned(),
        }
    }
}

/// Two neighbouring drafts as one; it is named by the one that is not a small run.
fn join(first: Draft, second: Draft) -> Draft {
    let owner = if first.mergeable {
        second.owner
    } else {
        first.owner
    };
    Draft {
        start: first.start,
        end: second.end,
        tokens: first.tokens + second.tokens,
        owner,
        mergeable: false,
        content: span_of(first.content, second.content),
    }
}
