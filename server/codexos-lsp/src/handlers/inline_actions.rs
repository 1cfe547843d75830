//! The inline agent actions offered on a selection of any file: "Explain", "Refactor…", "Write
//! tests" on a non-empty selection, and "Fix this diagnostic" for each diagnostic the client
//! reports under the range. Each is a command (`codexos.action.<name>`, docs/protocol.md) that
//! runs the action's built-in flow; offering them is pure and instant.

use codexos_service::actions::Action;
use serde_json::json;
use tower_lsp_server::ls_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, CodeActionParams, Command, Diagnostic,
};

/// Diagnostic messages longer than this are cut in titles.
const TITLE_MESSAGE_CHARS: usize = 60;

/// The kind of each action: `refactor.*` for those that read or rewrite the selection (shown in
/// lightbulbs and refactor menus), `quickfix.*` for the fix.
pub fn kind(action: Action) -> CodeActionKind {
    CodeActionKind::from(match action {
        Action::Explain => "refactor.codexos.explain",
        Action::Refactor => "refactor.rewrite.codexos",
        Action::Tests => "refactor.codexos.tests",
        Action::Fix => "quickfix.codexos.fix",
    })
}

/// The inline actions for a code action request, filtered by the kinds it asks for.
pub fn offered(
    params: &CodeActionParams,
    requested: impl Fn(&CodeActionKind) -> bool,
) -> Vec<CodeActionOrCommand> {
    let uri = &params.text_document.uri;
    let range = params.range;
    let mut actions = Vec::new();
    if range.start != range.end {
        for action in [Action::Explain, Action::Refactor, Action::Tests] {
            actions.push((
                action,
                action.title().to_owned(),
                json!({ "uri": uri, "range": range }),
            ));
        }
    }
    let diagnostics = &params.context.diagnostics;
    for diagnostic in diagnostics {
        let title = if diagnostics.len() == 1 {
            Action::Fix.title().to_owned()
        } else {
            format!("{}: {}", Action::Fix.title(), short(&diagnostic.message))
        };
        let argument = json!({
            "uri": uri,
            // The diagnostic's own lines: they are what the fix rewrites.
            "range": diagnostic.range,
            "diagnostic": diagnostic,
        });
        actions.push((Action::Fix, title, argument));
    }
    actions
        .into_iter()
        .filter(|(action, _, _)| requested(&kind(*action)))
        .map(|(action, title, argument)| {
            CodeActionOrCommand::CodeAction(CodeAction {
                title: title.clone(),
                kind: Some(kind(action)),
                diagnostics: argument
                    .get("diagnostic")
                    .and_then(|d| serde_json::from_value::<Diagnostic>(d.clone()).ok())
                    .map(|d| vec![d]),
                command: Some(Command {
                    title,
                    command: action.command(),
                    arguments: Some(vec![argument]),
                }),
                ..CodeAction::default()
            })
        })
        .collect()
}

/// The first line of a message, cut to [`TITLE_MESSAGE_CHARS`].
fn short(message: &str) -> String {
    let line = message.lines().next().unwrap_or_default().trim();
    if line.chars().count() <= TITLE_MESSAGE_CHARS {
        return line.to_owned();
    }
    let cut: String = line.chars().take(TITLE_MESSAGE_CHARS - 1).collect();
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};
    use tower_lsp_server::ls_types::{
        CodeActionContext, Position, Range, TextDocumentIdentifier, Uri,
    };

    use super::*;

    fn params(range: Range, diagnostics: &[&str]) -> CodeActionParams {
        CodeActionParams {
            text_document: TextDocumentIdentifier {
                uri: "file:///ws/src/lib.rs".parse::<Uri>().expect("uri"),
            },
            range,
            context: CodeActionContext {
                diagnostics: diagnostics
                    .iter()
                    .map(|message| Diagnostic {
                        range: Range::new(Position::new(1, 4), Position::new(1, 9)),
                        message: (*message).to_owned(),
                        ..Diagnostic::default()
                    })
                    .collect(),
                ..CodeActionContext::default()
            },
            work_done_progress_params: Default::default(),
            partial_result_params: Default::default(),
        }
    }

    fn titles(actions: &[CodeActionOrCommand]) -> String {
        actions
            .iter()
            .map(|action| match action {
                CodeActionOrCommand::CodeAction(action) => format!(
                    "{} [{}] {}",
                    action.title,
                    action.kind.as_ref().map_or("", |k| k.as_str()),
                    action.command.as_ref().map_or("", |c| c.command.as_str())
                ),
                CodeActionOrCommand::Command(command) => command.title.clone(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn check(params: &CodeActionParams, only: Option<&str>, expected: Expect) {
        let actions = offered(params, |kind| {
            only.is_none_or(|only| kind.as_str().starts_with(only))
        });
        expected.assert_eq(&titles(&actions));
    }

    const SELECTION: Range = Range {
        start: Position {
            line: 1,
            character: 0,
        },
        end: Position {
            line: 3,
            character: 1,
        },
    };

    #[test]
    fn a_selection_offers_explain_refactor_and_tests_but_no_fix() {
        check(
            &params(SELECTION, &[]),
            None,
            expect![[r#"
                Explain [refactor.codexos.explain] codexos.action.explain
                Refactor… [refactor.rewrite.codexos] codexos.action.refactor
                Write tests [refactor.codexos.tests] codexos.action.tests"#]],
        );
    }

    #[test]
    fn a_cursor_on_a_diagnostic_offers_only_the_fix() {
        let cursor = Range::new(Position::new(1, 5), Position::new(1, 5));
        check(
            &params(cursor, &["mismatched types"]),
            None,
            expect!["Fix this diagnostic [quickfix.codexos.fix] codexos.action.fix"],
        );
    }

    #[test]
    fn several_diagnostics_get_a_fix_each_named_by_its_message() {
        check(
            &params(
                SELECTION,
                &[
                    "unused variable: `x`",
                    "this function takes 2 arguments but 1 argument was supplied to it here\nnote: …",
                ],
            ),
            Some("quickfix"),
            expect![[r#"
                Fix this diagnostic: unused variable: `x` [quickfix.codexos.fix] codexos.action.fix
                Fix this diagnostic: this function takes 2 arguments but 1 argument was supplied… [quickfix.codexos.fix] codexos.action.fix"#]],
        );
    }

    #[test]
    fn the_fix_command_carries_the_diagnostic_and_its_range() {
        let actions = offered(&params(SELECTION, &["boom"]), |_| true);
        let CodeActionOrCommand::CodeAction(fix) = &actions[3] else {
            panic!("a code action");
        };
        let argument = &fix
            .command
            .as_ref()
            .expect("command")
            .arguments
            .as_ref()
            .expect("args")[0];
        assert_eq!(argument["diagnostic"]["message"], "boom");
        assert_eq!(
            argument["range"]["start"],
            json!({ "line": 1, "character": 4 })
        );
        assert_eq!(argument["uri"], "file:///ws/src/lib.rs");
    }
}
