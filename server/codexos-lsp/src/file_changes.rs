//! File changes an agent proposes (a refactored selection, new tests, a `write_file` call) sent
//! to the editor as one `workspace/applyEdit`: the user sees them in their buffers, can preview
//! and undo them, and nothing is written to disk by the server.
//!
//! The byte ranges of [`FileChange::Edit`] refer to the text [`EditorTexts`] gave for the file;
//! the same text (and the version of an open document) turns them into LSP ranges, so an edit
//! lands where it was computed or — if the document changed meanwhile — the client refuses it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use codexos_flow::{LineIndex, TextRange};
use codexos_service::actions::{FileChange, FileTexts};
use tower_lsp_server::ls_types::{
    AnnotatedTextEdit, ChangeAnnotation, CreateFile, CreateFileOptions, DocumentChangeOperation,
    DocumentChanges, OneOf, OptionalVersionedTextDocumentIdentifier, Position, Range, ResourceOp,
    TextDocumentEdit, TextEdit, Uri, WorkspaceEdit,
};

use crate::edit::Positions;
use crate::session::Session;

/// A file's text as the server read it, and the version of the open document it came from.
#[derive(Clone, Debug)]
struct Seen {
    text: String,
    version: Option<i32>,
}

/// File texts as the user sees them — an open document's buffer, else the disk — remembering
/// what was read so edits are computed and converted on the same text.
pub struct EditorTexts {
    session: Arc<Session>,
    seen: Mutex<HashMap<PathBuf, Option<Seen>>>,
}

impl EditorTexts {
    pub fn new(session: Arc<Session>) -> EditorTexts {
        EditorTexts {
            session,
            seen: Mutex::new(HashMap::new()),
        }
    }

    fn seen(&self, path: &Path) -> Option<Seen> {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        seen.entry(path.to_owned())
            .or_insert_with(|| {
                let open = Uri::from_file_path(path).and_then(|uri| {
                    Some(Seen {
                        text: self.session.text(&uri)?,
                        version: self.session.version(&uri),
                    })
                });
                open.or_else(|| {
                    std::fs::read_to_string(path).ok().map(|text| Seen {
                        text,
                        version: None,
                    })
                })
            })
            .clone()
    }

    /// Remembers `text` (at `version`) as what the file holds, as the caller already read it.
    pub fn remember(&self, path: &Path, text: String, version: Option<i32>) {
        self.seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(path.to_owned(), Some(Seen { text, version }));
    }
}

impl FileTexts for EditorTexts {
    fn text(&self, path: &Path) -> Option<String> {
        self.seen(path).map(|seen| seen.text)
    }
}

/// Why changes cannot be shown to this editor.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("{}: not a path an editor can open", .0.display())]
    NotAUri(PathBuf),
    #[error(
        "{}: the editor cannot create files through an edit (it does not announce workspace.workspaceEdit.documentChanges)",
        .0.display()
    )]
    CannotCreate(PathBuf),
}

/// The annotation every agent edit carries for clients that show annotated edits.
const ANNOTATION: &str = "codexos";

/// One `WorkspaceEdit` for `changes`: versioned document edits and file creations when the
/// client takes `documentChanges` — annotated as needing the user's confirmation, labelled
/// `label`, when it shows annotations (VS Code then opens its refactor preview) — else plain
/// per-file edits.
pub fn workspace_edit(
    session: &Session,
    texts: &EditorTexts,
    label: &str,
    changes: &[FileChange],
) -> Result<WorkspaceEdit, EditError> {
    let settings = session.settings();
    let annotate = settings.document_changes && settings.change_annotations;
    let annotation_id = annotate.then(|| ANNOTATION.to_owned());
    let text_edit = |edit: TextEdit| match &annotation_id {
        Some(annotation_id) => OneOf::Right(AnnotatedTextEdit {
            text_edit: edit,
            annotation_id: annotation_id.clone(),
        }),
        None => OneOf::Left(edit),
    };
    let uri_of =
        |path: &Path| Uri::from_file_path(path).ok_or_else(|| EditError::NotAUri(path.to_owned()));
    let mut operations = Vec::new();
    let mut plain: HashMap<Uri, Vec<TextEdit>> = HashMap::new();
    for change in changes {
        let uri = uri_of(change.path())?;
        match change {
            FileChange::Edit {
                path,
                range,
                new_text,
            } => {
                let seen = texts.seen(path).unwrap_or(Seen {
                    text: String::new(),
                    version: None,
                });
                let index = LineIndex::new(&seen.text);
                let positions = Positions {
                    text: &seen.text,
                    index: &index,
                    encoding: settings.encoding,
                };
                let range = positions.range(TextRange::new(range.start as u32, range.end as u32));
                let edit = TextEdit::new(range, new_text.clone());
                if settings.document_changes {
                    operations.push(DocumentChangeOperation::Edit(TextDocumentEdit {
                        text_document: OptionalVersionedTextDocumentIdentifier {
                            uri,
                            version: seen.version,
                        },
                        edits: vec![text_edit(edit)],
                    }));
                } else {
                    plain.entry(uri).or_default().push(edit);
                }
            }
            FileChange::Create { path, text } => {
                if !settings.document_changes {
                    return Err(EditError::CannotCreate(path.clone()));
                }
                operations.push(DocumentChangeOperation::Op(ResourceOp::Create(
                    CreateFile {
                        uri: uri.clone(),
                        options: Some(CreateFileOptions {
                            overwrite: Some(false),
                            ignore_if_exists: Some(false),
                        }),
                        annotation_id: annotation_id.clone(),
                    },
                )));
                let start = Position::new(0, 0);
                operations.push(DocumentChangeOperation::Edit(TextDocumentEdit {
                    text_document: OptionalVersionedTextDocumentIdentifier { uri, version: None },
                    edits: vec![text_edit(TextEdit::new(
                        Range::new(start, start),
                        text.clone(),
                    ))],
                }));
            }
        }
    }
    if !settings.document_changes {
        return Ok(WorkspaceEdit {
            changes: Some(plain),
            ..WorkspaceEdit::default()
        });
    }
    Ok(WorkspaceEdit {
        document_changes: Some(DocumentChanges::Operations(operations)),
        change_annotations: annotation_id.map(|id| {
            HashMap::from([(
                id,
                ChangeAnnotation {
                    label: label.to_owned(),
                    needs_confirmation: Some(true),
                    description: Some("proposed by a CodexOS agent".to_owned()),
                },
            )])
        }),
        ..WorkspaceEdit::default()
    })
}

/// Sends `changes` as one `workspace/applyEdit` labelled `label`; `Err` says why the editor did
/// not apply them (it refused, or the document changed since).
pub async fn apply(
    session: &Arc<Session>,
    texts: &EditorTexts,
    label: &str,
    changes: &[FileChange],
) -> Result<(), String> {
    let edit = workspace_edit(session, texts, label, changes).map_err(|error| error.to_string())?;
    let response = session
        .client
        .send_request::<tower_lsp_server::ls_types::request::ApplyWorkspaceEdit>(
            tower_lsp_server::ls_types::ApplyWorkspaceEditParams {
                label: Some(label.to_owned()),
                edit,
            },
        )
        .await
        .map_err(|error| format!("the editor did not answer workspace/applyEdit: {error}"))?;
    if response.applied {
        Ok(())
    } else {
        Err(match response.failure_reason {
            Some(reason) => format!("the editor did not apply the edit: {reason}"),
            None => "the editor did not apply the edit".to_owned(),
        })
    }
}
