//! Shared helpers for the flow crate's tests: render findings with their exact source ranges,
//! apply edits, and find the `$0` cursor in a fixture.

mod checks;
mod ide;

use crate::{Encoding, Entry, Finding, LineIndex, StaticCatalog, TextEdit, TextRange};

/// The built-in catalog plus one vault key, `openai_key`.
fn catalog() -> StaticCatalog {
    let mut catalog = StaticCatalog::builtin();
    catalog
        .vault_keys
        .push(Entry::new("openai_key", "OpenAI API key"));
    catalog
}

fn position(src: &str, index: &LineIndex, range: TextRange) -> String {
    let start = index.line_col(src, range.start, Encoding::Utf8);
    let end = index.line_col(src, range.end, Encoding::Utf8);
    format!(
        "{}:{}-{}:{}",
        start.line + 1,
        start.col + 1,
        end.line + 1,
        end.col + 1
    )
}

fn render_findings(src: &str, findings: &[Finding]) -> String {
    let index = LineIndex::new(src);
    let mut out = String::new();
    for f in findings {
        out.push_str(&format!(
            "{} {}[{}] `{}`: {}\n",
            position(src, &index, f.range),
            f.severity.as_str(),
            f.code,
            &src[f.range.as_usize()],
            f.message
        ));
        for related in &f.related {
            out.push_str(&format!(
                "  related {}: {}\n",
                position(src, &index, related.range),
                related.message
            ));
        }
    }
    out
}

fn apply(src: &str, edits: &[TextEdit]) -> String {
    let mut edits = edits.to_vec();
    edits.sort_by_key(|e| std::cmp::Reverse(e.range.start));
    let mut out = src.to_owned();
    for edit in edits {
        out.replace_range(edit.range.as_usize(), &edit.new_text);
    }
    out
}

/// Removes the `$0` marker and returns the text and the marker's offset.
fn cursor(fixture: &str) -> (String, u32) {
    let offset = fixture.find("$0").expect("the fixture has a `$0` cursor");
    (fixture.replacen("$0", "", 1), offset as u32)
}
