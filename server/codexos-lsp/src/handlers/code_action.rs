//! Quick fixes: each fix of each finding under the requested range, kind
//! `quickfix.codexos.<code>`, as a versioned edit and/or a command.

use std::sync::Arc;

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{
    CodeActionKind, CodeActionOrCommand, CodeActionParams, CodeActionResponse,
};

use crate::convert;
use crate::session::Session;

pub async fn code_action(
    session: &Arc<Session>,
    params: CodeActionParams,
) -> Result<Option<CodeActionResponse>> {
    let document_changes = session.settings().document_changes;
    let only = params.context.only;
    let requested = params.range;
    session
        .read(&params.text_document.uri, move |snapshot, workspace| {
            let wanted = snapshot.positions().text_range(requested);
            let findings = workspace.findings(snapshot.path.as_deref(), &snapshot.flow);
            let actions: CodeActionResponse = findings
                .iter()
                .filter(|finding| {
                    finding.range.start <= wanted.end && wanted.start <= finding.range.end
                })
                .filter(|finding| {
                    kind_requested(&convert::quick_fix_kind(finding), only.as_deref())
                })
                .flat_map(|finding| {
                    finding.fixes.iter().map(move |fix| {
                        CodeActionOrCommand::CodeAction(convert::code_action(
                            finding,
                            fix,
                            snapshot,
                            document_changes,
                        ))
                    })
                })
                .collect();
            (!actions.is_empty()).then_some(actions)
        })
        .await
}

/// Whether `kind` is one the client asked for (`only: ["quickfix"]` includes
/// `quickfix.codexos.unknown-node`).
fn kind_requested(kind: &CodeActionKind, only: Option<&[CodeActionKind]>) -> bool {
    let Some(only) = only else {
        return true;
    };
    only.iter().any(|wanted| {
        let (kind, wanted) = (kind.as_str(), wanted.as_str());
        kind == wanted || kind.starts_with(&format!("{wanted}."))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_requested_kind_includes_its_sub_kinds() {
        let kind = CodeActionKind::from("quickfix.codexos.unknown-node");
        assert!(kind_requested(&kind, None));
        assert!(kind_requested(&kind, Some(&[CodeActionKind::QUICKFIX])));
        assert!(!kind_requested(&kind, Some(&[CodeActionKind::REFACTOR])));
        assert!(!kind_requested(
            &kind,
            Some(&[CodeActionKind::from("quick")])
        ));
    }
}
