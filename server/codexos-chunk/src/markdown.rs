//! Markdown by headings: a section is a heading with its body and its subsections, named by
//! the headings above it (`Title > Sub`). ATX (`## Sub`) and setext (`Sub` over `---`)
//! headings count; `#` lines inside fenced code and front matter do not.

use crate::assemble::{FileContext, Item};
use crate::chunk::{Chunk, ChunkKind};

pub(crate) const SEPARATOR: &str = " > ";

pub(crate) fn chunk_markdown(ctx: &FileContext) -> Vec<Chunk> {
    let headings = headings(ctx.text);
    let mut items: Vec<Item> = Vec::with_capacity(headings.len());
    let mut open: Vec<(usize, usize)> = Vec::new();
    for (position, heading) in headings.iter().enumerate() {
        while open
            .last()
            .is_some_and(|&(_, level)| level >= heading.level)
        {
            open.pop();
        }
        let parent = open.last().map(|&(index, _)| index);
        let next = headings[position + 1..]
            .iter()
            .find(|later| later.level <= heading.level)
            .map_or(ctx.text.len(), |later| later.start);
        let end = heading.start + ctx.text[heading.start..next].trim_end().len();
        let symbol = match parent {
            _ if heading.title.is_empty() => {
                parent.map_or(String::new(), |index| items[index].symbol.clone())
            }
            Some(index) => format!("{}{SEPARATOR}{}", items[index].symbol, heading.title),
            None => heading.title.clone(),
        };
        open.push((items.len(), heading.level));
        items.push(Item {
            start: heading.start,
            end,
            symbol,
            kind: ChunkKind::Section,
            parent,
            tokens: ctx.tokens.count(heading.start, end),
        });
    }
    ctx.chunk_document(items)
}

struct Heading {
    start: usize,
    level: usize,
    title: String,
}

fn headings(text: &str) -> Vec<Heading> {
    let lines: Vec<(usize, &str)> = line_starts(text);
    let mut headings = Vec::new();
    let mut fence: Option<(u8, usize)> = None;
    let mut index = skip_front_matter(&lines);
    let mut previous_blank = true;
    while index < lines.len() {
        let (start, line) = lines[index];
        let content = line.trim_end_matches(['\n', '\r']);
        let indent = content.len() - content.trim_start_matches(' ').len();
        let body = content.trim_start_matches(' ');
        index += 1;
        if let Some((marker, length)) = fence {
            if indent <= 3
                && fence_length(body, marker) >= length
                && body.trim_start_matches(marker as char).trim().is_empty()
            {
                fence = None;
            }
            previous_blank = false;
            continue;
        }
        if indent > 3 {
            previous_blank = content.trim().is_empty();
            continue;
        }
        if let Some(marker) = [b'`', b'~']
            .into_iter()
            .find(|&marker| fence_length(body, marker) >= 3)
        {
            fence = Some((marker, fence_length(body, marker)));
            previous_blank = false;
            continue;
        }
        if let Some((level, title)) = atx_heading(body) {
            headings.push(Heading {
                start,
                level,
                title,
            });
            previous_blank = false;
            continue;
        }
        let is_paragraph_line = !body.trim().is_empty() && !starts_block(body);
        let underline = lines.get(index).and_then(|(_, next)| setext_level(next));
        if let (true, Some(level)) = (previous_blank && is_paragraph_line, underline) {
            headings.push(Heading {
                start,
                level,
                title: body.trim().to_owned(),
            });
            index += 1;
            previous_blank = false;
            continue;
        }
        previous_blank = body.trim().is_empty();
    }
    headings
}

fn line_starts(text: &str) -> Vec<(usize, &str)> {
    let mut start = 0;
    text.split_inclusive('\n')
        .map(|line| {
            let entry = (start, line);
            start += line.len();
            entry
        })
        .collect()
}

/// Index of the first line after a `---` … `---` (or `+++`) front matter block, else 0.
fn skip_front_matter(lines: &[(usize, &str)]) -> usize {
    let Some(&(_, first)) = lines.first() else {
        return 0;
    };
    let marker = first.trim_end();
    if marker != "---" && marker != "+++" {
        return 0;
    }
    lines[1..]
        .iter()
        .position(|(_, line)| {
            let line = line.trim_end();
            line == marker || (marker == "---" && line == "...")
        })
        .map_or(0, |at| at + 2)
}

fn fence_length(body: &str, marker: u8) -> usize {
    body.bytes().take_while(|&byte| byte == marker).count()
}

fn atx_heading(body: &str) -> Option<(usize, String)> {
    let level = body.bytes().take_while(|&byte| byte == b'#').count();
    let rest = &body[level..];
    if !(1..=6).contains(&level) || !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    let title = rest.trim();
    let without_closing = title.trim_end_matches('#');
    let title = if without_closing.is_empty() || without_closing.ends_with([' ', '\t']) {
        without_closing
    } else {
        title
    };
    Some((level, title.trim().to_owned()))
}

fn setext_level(line: &str) -> Option<usize> {
    let line = line.trim_end();
    let indent = line.len() - line.trim_start_matches(' ').len();
    let body = line.trim_start_matches(' ');
    if indent > 3 || body.is_empty() {
        return None;
    }
    if body.bytes().all(|byte| byte == b'=') {
        Some(1)
    } else if body.bytes().all(|byte| byte == b'-') {
        Some(2)
    } else {
        None
    }
}

/// Lines that open a block other than a paragraph, so the line below cannot underline them.
fn starts_block(body: &str) -> bool {
    let list_marker = body.starts_with(['-', '*', '+']) && body[1..].starts_with([' ', '\t']);
    let ordered = body.bytes().take_while(u8::is_ascii_digit).count();
    let ordered_marker = ordered > 0 && body[ordered..].starts_with(['.', ')']);
    list_marker || ordered_marker || body.starts_with(['>', '|', '<'])
}
