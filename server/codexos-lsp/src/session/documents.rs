//! Open documents: a rope per document, edited in place by incremental changes, and an
//! immutable [`Snapshot`] per version that requests read off the main loop.

use std::path::PathBuf;
use std::sync::Arc;

use codexos_flow::{Encoding, FlowFile, LineIndex};
use ropey::Rope;
use tower_lsp_server::ls_types::{TextDocumentContentChangeEvent, Uri};

use crate::edit::{Positions, rope_char_index};

pub struct Document {
    rope: Rope,
    version: i32,
    path: Option<PathBuf>,
    /// The snapshot of the current version, once a request or a diagnostics run built it.
    snapshot: Option<Arc<Snapshot>>,
}

impl Document {
    pub fn new(uri: &Uri, text: &str, version: i32) -> Document {
        Document {
            rope: Rope::from_str(text),
            version,
            path: uri.to_file_path().map(|path| path.into_owned()),
            snapshot: None,
        }
    }

    pub fn version(&self) -> i32 {
        self.version
    }

    /// Applies a `didChange` in order: ranged changes edit the rope, a change without a range
    /// replaces the whole text. Positions outside the text are clamped, never a panic.
    pub fn apply_changes(
        &mut self,
        changes: Vec<TextDocumentContentChangeEvent>,
        version: i32,
        encoding: Encoding,
    ) {
        for change in changes {
            match change.range {
                Some(range) => {
                    let start = rope_char_index(&self.rope, range.start, encoding);
                    let end = rope_char_index(&self.rope, range.end, encoding);
                    let (start, end) = (start.min(end), start.max(end));
                    self.rope.remove(start..end);
                    self.rope.insert(start, &change.text);
                }
                None => self.rope = Rope::from_str(&change.text),
            }
        }
        self.version = version;
        self.snapshot = None;
    }

    /// The current text (a copy: ropes are cheap to clone, the string is built here).
    pub fn text(&self) -> String {
        self.rope.to_string()
    }

    /// The current snapshot if one is built, or what a new one is built from.
    pub fn snapshot_or_source(&self) -> Result<Arc<Snapshot>, SnapshotSource> {
        match &self.snapshot {
            Some(snapshot) => Ok(snapshot.clone()),
            None => Err(SnapshotSource {
                rope: self.rope.clone(),
                version: self.version,
                path: self.path.clone(),
            }),
        }
    }

    /// Keeps a snapshot built off the loop, if the document has not changed since.
    pub fn remember(&mut self, snapshot: &Arc<Snapshot>) {
        if snapshot.version == self.version {
            self.snapshot = Some(snapshot.clone());
        }
    }
}

/// A cheap copy of a document's state (ropes share their nodes) to build a snapshot from.
pub struct SnapshotSource {
    rope: Rope,
    version: i32,
    path: Option<PathBuf>,
}

impl SnapshotSource {
    /// Parses the document: the expensive part, run off the main loop.
    pub fn build(self, uri: Uri, encoding: Encoding) -> Snapshot {
        let text = self.rope.to_string();
        let line_index = LineIndex::new(&text);
        Snapshot {
            uri,
            path: self.path,
            version: self.version,
            encoding,
            flow: FlowFile::parse(&text),
            line_index,
        }
    }
}

/// One version of one document, parsed.
pub struct Snapshot {
    pub uri: Uri,
    pub path: Option<PathBuf>,
    pub version: i32,
    pub encoding: Encoding,
    pub flow: FlowFile,
    pub line_index: LineIndex,
}

impl Snapshot {
    pub fn text(&self) -> &str {
        self.flow.text()
    }

    pub fn positions(&self) -> Positions<'_> {
        Positions {
            text: self.flow.text(),
            index: &self.line_index,
            encoding: self.encoding,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_lsp_server::ls_types::{Position, Range};

    fn change(
        range: Option<((u32, u32), (u32, u32))>,
        text: &str,
    ) -> TextDocumentContentChangeEvent {
        TextDocumentContentChangeEvent {
            range: range.map(|(start, end)| {
                Range::new(Position::new(start.0, start.1), Position::new(end.0, end.1))
            }),
            range_length: None,
            text: text.to_owned(),
        }
    }

    fn text_after(
        text: &str,
        changes: Vec<TextDocumentContentChangeEvent>,
        encoding: Encoding,
    ) -> String {
        let uri: Uri = "file:///w/a.flow.json".parse().expect("uri");
        let mut document = Document::new(&uri, text, 1);
        document.apply_changes(changes, 2, encoding);
        let source = document
            .snapshot_or_source()
            .err()
            .expect("no snapshot yet");
        source.build(uri, encoding).text().to_owned()
    }

    #[test]
    fn incremental_changes_apply_in_order() {
        let changes = vec![
            change(Some(((0, 1), (0, 2))), "XY"),
            change(Some(((1, 0), (1, 0))), ">"),
        ];
        assert_eq!(
            text_after("abc\ndef", changes, Encoding::Utf16),
            "aXYc\n>def"
        );
    }

    #[test]
    fn utf16_columns_after_multi_byte_characters_edit_the_right_place() {
        let changes = vec![change(Some(((0, 4), (0, 5))), "Z")];
        assert_eq!(
            text_after("é😀中x!", changes.clone(), Encoding::Utf16),
            "é😀中Z!"
        );
        let changes = vec![change(Some(((0, 9), (0, 10))), "Z")];
        assert_eq!(text_after("é😀中x!", changes, Encoding::Utf8), "é😀中Z!");
    }

    #[test]
    fn changes_past_the_end_are_clamped_and_a_full_change_replaces_the_text() {
        let changes = vec![change(Some(((9, 9), (12, 0))), "!")];
        assert_eq!(text_after("ab\ncd", changes, Encoding::Utf16), "ab\ncd!");
        let changes = vec![change(Some(((0, 5), (0, 1))), "")];
        assert_eq!(text_after("abc", changes, Encoding::Utf16), "a");
        let changes = vec![change(None, "new")];
        assert_eq!(text_after("old", changes, Encoding::Utf16), "new");
    }
}
