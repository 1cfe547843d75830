//! The seed's sliding window: for text without structure, and the fallback for structured
//! files that do not parse.

use crate::assemble::FileContext;
use crate::chunk::{Chunk, ChunkKind};
use crate::lines::line_units;

/// Windows of whole lines holding at most `window_tokens`, each starting so that it repeats
/// up to `overlap_tokens` of whole lines from the end of the one before. A line longer than
/// the window is sliced into window-sized pieces, which do not overlap.
pub(crate) fn chunk_windows(ctx: &FileContext) -> Vec<Chunk> {
    let window = ctx.config.window_tokens;
    let overlap = ctx.config.overlap_tokens;
    let units = line_units(ctx.text, &ctx.tokens, 0, ctx.text.len(), window);
    let mut chunks = Vec::new();
    let mut first = 0;
    while first < units.len() {
        if units[first].tokens == 0 {
            first += 1;
            continue;
        }
        let mut last = first;
        let mut total = units[first].tokens;
        while last + 1 < units.len() && total + units[last + 1].tokens <= window {
            last += 1;
            total += units[last].tokens;
        }
        if let Some((first_visible, last_visible)) =
            ctx.visible(units[first].start, units[last].end)
        {
            let (start, end) = ctx.snap(first_visible, last_visible, 0, ctx.text.len());
            chunks.push(ctx.chunk(start, end, ChunkKind::Window, String::new(), Vec::new()));
        }
        if last + 1 >= units.len() {
            break;
        }
        // Repeat whole lines from the end of this window, but only as many as leave room for
        // the line after it, so every window reaches further than the one before.
        let mut next = last + 1;
        let mut shared = 0;
        let room = window.saturating_sub(units[last + 1].tokens).min(overlap);
        while next - 1 > first && shared + units[next - 1].tokens <= room {
            next -= 1;
            shared += units[next].tokens;
        }
        first = next;
    }
    chunks
}
