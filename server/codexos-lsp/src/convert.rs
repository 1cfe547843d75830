//! The one place that turns the flow crate's findings, fixes and answers into LSP types.

use std::collections::HashMap;

use codexos_flow::{
    Completion, CompletionKind, Finding, Fix, FoldingRange as FlowFoldingRange, Severity, Symbol,
    SymbolKind as FlowSymbolKind, TextEdit as FlowTextEdit,
};
use tower_lsp_server::ls_types::{
    CodeAction, CodeActionKind, Command, CompletionItem, CompletionItemKind, CompletionTextEdit,
    Diagnostic, DiagnosticRelatedInformation, DiagnosticSeverity, DiagnosticTag, DocumentChanges,
    DocumentSymbol, Documentation, FoldingRange, InsertTextFormat, Location, MarkupContent,
    MarkupKind, NumberOrString, OneOf, OptionalVersionedTextDocumentIdentifier, SymbolInformation,
    SymbolKind, TextDocumentEdit, TextEdit, Uri, WorkspaceEdit,
};

use crate::edit::Positions;
use crate::session::Snapshot;

pub const SOURCE: &str = "codexos";

pub fn diagnostic(finding: &Finding, uri: &Uri, positions: Positions<'_>) -> Diagnostic {
    let related = finding
        .related
        .iter()
        .map(|related| DiagnosticRelatedInformation {
            location: Location::new(uri.clone(), positions.range(related.range)),
            message: related.message.clone(),
        })
        .collect::<Vec<_>>();
    let unnecessary = finding.code == codexos_flow::Code::UnreachableNode;
    Diagnostic {
        range: positions.range(finding.range),
        severity: Some(severity(finding.severity)),
        code: Some(NumberOrString::String(finding.code.as_str().to_owned())),
        code_description: None,
        source: Some(SOURCE.to_owned()),
        message: finding.message.clone(),
        related_information: (!related.is_empty()).then_some(related),
        tags: unnecessary.then(|| vec![DiagnosticTag::UNNECESSARY]),
        data: None,
    }
}

fn severity(severity: Severity) -> DiagnosticSeverity {
    match severity {
        Severity::Error => DiagnosticSeverity::ERROR,
        Severity::Warning => DiagnosticSeverity::WARNING,
        Severity::Info => DiagnosticSeverity::INFORMATION,
        Severity::Hint => DiagnosticSeverity::HINT,
    }
}

/// The code action kind of a finding's fixes: `quickfix.codexos.<code>`.
pub fn quick_fix_kind(finding: &Finding) -> CodeActionKind {
    CodeActionKind::from(format!("quickfix.codexos.{}", finding.code.as_str()))
}

pub fn code_action(
    finding: &Finding,
    fix: &Fix,
    snapshot: &Snapshot,
    document_changes: bool,
) -> CodeAction {
    let positions = snapshot.positions();
    let edit =
        (!fix.edits.is_empty()).then(|| workspace_edit(snapshot, &fix.edits, document_changes));
    let command = fix.command.as_ref().map(|command| Command {
        title: command.title.clone(),
        command: command.command.clone(),
        arguments: (!command.arguments.is_empty()).then(|| command.arguments.clone()),
    });
    CodeAction {
        title: fix.title.clone(),
        kind: Some(quick_fix_kind(finding)),
        diagnostics: Some(vec![diagnostic(finding, &snapshot.uri, positions)]),
        edit,
        command,
        is_preferred: fix.preferred.then_some(true),
        disabled: None,
        data: None,
    }
}

pub fn text_edits(edits: &[FlowTextEdit], positions: Positions<'_>) -> Vec<TextEdit> {
    edits
        .iter()
        .map(|edit| TextEdit::new(positions.range(edit.range), edit.new_text.clone()))
        .collect()
}

/// Edits to one document, versioned when the client can check the version.
pub fn workspace_edit(
    snapshot: &Snapshot,
    edits: &[FlowTextEdit],
    document_changes: bool,
) -> WorkspaceEdit {
    let edits = text_edits(edits, snapshot.positions());
    if document_changes {
        WorkspaceEdit {
            document_changes: Some(DocumentChanges::Edits(vec![TextDocumentEdit {
                text_document: OptionalVersionedTextDocumentIdentifier {
                    uri: snapshot.uri.clone(),
                    version: Some(snapshot.version),
                },
                edits: edits.into_iter().map(OneOf::Left).collect(),
            }])),
            ..WorkspaceEdit::default()
        }
    } else {
        WorkspaceEdit {
            changes: Some(HashMap::from([(snapshot.uri.clone(), edits)])),
            ..WorkspaceEdit::default()
        }
    }
}

pub fn completion_item(
    completion: &Completion,
    positions: Positions<'_>,
    snippets: bool,
) -> CompletionItem {
    let (new_text, format) = match (completion.snippet, snippets) {
        (true, true) => (completion.edit.new_text.clone(), InsertTextFormat::SNIPPET),
        (true, false) => (
            strip_snippet(&completion.edit.new_text),
            InsertTextFormat::PLAIN_TEXT,
        ),
        (false, _) => (
            completion.edit.new_text.clone(),
            InsertTextFormat::PLAIN_TEXT,
        ),
    };
    CompletionItem {
        label: completion.label.clone(),
        kind: Some(completion_kind(completion.kind)),
        detail: completion.detail.clone(),
        documentation: completion.documentation.as_ref().map(|markdown| {
            Documentation::MarkupContent(MarkupContent {
                kind: MarkupKind::Markdown,
                value: markdown.clone(),
            })
        }),
        insert_text_format: Some(format),
        text_edit: Some(CompletionTextEdit::Edit(TextEdit::new(
            positions.range(completion.edit.range),
            new_text,
        ))),
        ..CompletionItem::default()
    }
}

fn completion_kind(kind: CompletionKind) -> CompletionItemKind {
    match kind {
        CompletionKind::NodeType => CompletionItemKind::ENUM_MEMBER,
        CompletionKind::Field => CompletionItemKind::PROPERTY,
        CompletionKind::NodeId => CompletionItemKind::REFERENCE,
        CompletionKind::Tool => CompletionItemKind::FUNCTION,
        CompletionKind::Model => CompletionItemKind::CLASS,
        CompletionKind::Provider => CompletionItemKind::MODULE,
        CompletionKind::VaultKey => CompletionItemKind::CONSTANT,
        CompletionKind::TemplateRef => CompletionItemKind::VARIABLE,
        CompletionKind::Value => CompletionItemKind::VALUE,
    }
}

/// Snippet text as plain text for a client without snippet support: tab stops (`$1`, `$0`)
/// vanish, placeholders (`${1:name}`) keep their default text, `\$` becomes `$`.
pub fn strip_snippet(snippet: &str) -> String {
    let mut plain = String::with_capacity(snippet.len());
    let mut chars = snippet.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '\\' => {
                if let Some(escaped) = chars.next() {
                    plain.push(escaped);
                }
            }
            '$' if chars.peek().is_some_and(char::is_ascii_digit) => {
                while chars.peek().is_some_and(char::is_ascii_digit) {
                    chars.next();
                }
            }
            '$' if chars.peek() == Some(&'{') => {
                chars.next();
                while chars.peek().is_some_and(char::is_ascii_digit) {
                    chars.next();
                }
                if chars.peek() == Some(&':') {
                    chars.next();
                }
                let mut depth = 1;
                for inner in chars.by_ref() {
                    match inner {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    plain.push(inner);
                }
            }
            _ => plain.push(ch),
        }
    }
    plain
}

pub fn document_symbol(symbol: &Symbol, positions: Positions<'_>) -> DocumentSymbol {
    #[allow(deprecated)] // `deprecated` is a required field of the protocol type
    DocumentSymbol {
        name: symbol.name.clone(),
        detail: symbol.detail.clone(),
        kind: symbol_kind(symbol.kind),
        tags: None,
        deprecated: None,
        range: positions.range(symbol.range),
        selection_range: positions.range(symbol.selection_range),
        children: (!symbol.children.is_empty()).then(|| {
            symbol
                .children
                .iter()
                .map(|child| document_symbol(child, positions))
                .collect()
        }),
    }
}

/// The outline flattened, for clients without hierarchical symbol support.
pub fn symbol_information(
    symbols: &[Symbol],
    uri: &Uri,
    positions: Positions<'_>,
    container: Option<&str>,
    out: &mut Vec<SymbolInformation>,
) {
    for symbol in symbols {
        #[allow(deprecated)] // `deprecated` is a required field of the protocol type
        out.push(SymbolInformation {
            name: symbol.name.clone(),
            kind: symbol_kind(symbol.kind),
            tags: None,
            deprecated: None,
            location: Location::new(uri.clone(), positions.range(symbol.range)),
            container_name: container.map(str::to_owned),
        });
        symbol_information(&symbol.children, uri, positions, Some(&symbol.name), out);
    }
}

fn symbol_kind(kind: FlowSymbolKind) -> SymbolKind {
    match kind {
        FlowSymbolKind::Flow => SymbolKind::MODULE,
        FlowSymbolKind::Node => SymbolKind::FUNCTION,
        FlowSymbolKind::Field => SymbolKind::FIELD,
    }
}

/// Folding ranges by line; ranges inside a single line fold nothing and are left out.
pub fn folding_ranges(ranges: &[FlowFoldingRange], positions: Positions<'_>) -> Vec<FoldingRange> {
    ranges
        .iter()
        .filter_map(|folding| {
            let range = positions.range(folding.range);
            (range.end.line > range.start.line).then_some(FoldingRange {
                start_line: range.start.line,
                end_line: range.end.line,
                ..FoldingRange::default()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::strip_snippet;

    #[test]
    fn snippets_become_plain_text_keeping_placeholder_defaults() {
        assert_eq!(
            strip_snippet(r#""id": "$1", "type": "${2:llm}"$0"#),
            r#""id": "", "type": "llm""#
        );
        assert_eq!(strip_snippet(r"cost \$5 ${1:a{b}c}"), "cost $5 a{b}c");
    }
}
