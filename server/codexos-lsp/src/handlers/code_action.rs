//! Quick fixes: each fix of each finding under the requested range, kind
//! `quickfix.codexos.<code>`, as a versioned edit and/or a command. When the client asks for
//! `source.fixAll`, one action applies every preferred fix whose edits do not collide. Any file,
//! flow or not, also gets the inline agent actions ([`inline_actions`]).

use std::sync::Arc;

use codexos_flow::{Finding, Fix, TextEdit as FlowTextEdit};
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, CodeActionParams, CodeActionResponse,
};

use crate::convert;
use crate::handlers::inline_actions;
use crate::session::{Session, Snapshot};

pub const FIX_ALL: &str = "source.fixAll.codexos";

pub async fn code_action(
    session: &Arc<Session>,
    params: CodeActionParams,
) -> Result<Option<CodeActionResponse>> {
    let document_changes = session.settings().document_changes;
    let inline = inline_actions::offered(&params, |kind| {
        kind_requested(kind, params.context.only.as_deref())
    });
    let only = params.context.only;
    let requested = params.range;
    let quick_fixes = session
        .read(&params.text_document.uri, move |snapshot, workspace| {
            let wanted = snapshot.positions().text_range(requested);
            let findings = workspace.findings(snapshot.path.as_deref(), &snapshot.flow);
            let mut actions: CodeActionResponse = findings
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
            let fix_all_requested = only
                .as_deref()
                .is_some_and(|only| kind_requested(&CodeActionKind::from(FIX_ALL), Some(only)));
            if fix_all_requested
                && let Some(fix_all) = fix_all(&findings, snapshot, document_changes)
            {
                actions.push(CodeActionOrCommand::CodeAction(fix_all));
            }
            Some(actions)
        })
        .await?;
    let mut actions = quick_fixes.unwrap_or_default();
    actions.extend(inline);
    Ok((!actions.is_empty()).then_some(actions))
}

/// Every preferred, edit-only fix, skipping any whose edits touch an edit already taken.
fn fix_all(
    findings: &[Finding],
    snapshot: &Snapshot,
    document_changes: bool,
) -> Option<CodeAction> {
    let preferred = findings
        .iter()
        .flat_map(|finding| &finding.fixes)
        .filter(|fix: &&Fix| fix.preferred && fix.command.is_none() && !fix.edits.is_empty());
    let mut taken: Vec<FlowTextEdit> = Vec::new();
    for fix in preferred {
        let collides = fix.edits.iter().any(|edit| {
            taken.iter().any(|other| {
                edit.range.start <= other.range.end && other.range.start <= edit.range.end
            })
        });
        if !collides {
            taken.extend(fix.edits.iter().cloned());
        }
    }
    if taken.is_empty() {
        return None;
    }
    Some(CodeAction {
        title: "Fix all CodexOS problems".to_owned(),
        kind: Some(CodeActionKind::from(FIX_ALL)),
        edit: Some(convert::workspace_edit(snapshot, &taken, document_changes)),
        ..CodeAction::default()
    })
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
        let fix_all = CodeActionKind::from(FIX_ALL);
        assert!(kind_requested(
            &fix_all,
            Some(&[CodeActionKind::SOURCE_FIX_ALL])
        ));
        assert!(!kind_requested(&fix_all, Some(&[CodeActionKind::QUICKFIX])));
    }
}
