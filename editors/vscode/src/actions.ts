// Inline agent actions on a selection: Explain, Refactor…, Write tests. The server runs the
// built-in flows; edits come back through workspace/applyEdit (previewable, undoable), and the
// answer opens beside the code.
import * as vscode from "vscode";
import type { Server } from "./client";
import { Commands } from "./logic/protocol";

type Kind = "explain" | "refactor" | "tests";

export function registerActions(context: vscode.ExtensionContext, server: Server): void {
  const run = async (kind: Kind) => {
    const editor = vscode.window.activeTextEditor;
    if (!editor || editor.selection.isEmpty) {
      void vscode.window.showInformationMessage("CodexOS: select some code first.");
      return;
    }
    const instruction =
      kind === "refactor" ? await vscode.window.showInputBox({ prompt: "How should it be refactored?" }) : undefined;
    if (kind === "refactor" && instruction === undefined) return;
    const s = editor.selection;
    const argument = {
      uri: editor.document.uri.toString(),
      range: { start: { line: s.start.line, character: s.start.character }, end: { line: s.end.line, character: s.end.character } },
      instruction,
    };
    const title = { explain: "Explaining", refactor: "Refactoring", tests: "Writing tests" }[kind];
    let result: { answer: string } | undefined;
    try {
      result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `CodexOS: ${title}…` },
        () => server.execute<{ answer: string }>(Commands.action(kind), argument),
      );
    } catch (error) {
      void vscode.window.showErrorMessage(`CodexOS: ${title} failed: ${String(error)}`);
      return;
    }
    const document = await vscode.workspace.openTextDocument({ language: "markdown", content: result?.answer ?? "" });
    await vscode.window.showTextDocument(document, { viewColumn: vscode.ViewColumn.Beside, preview: true });
  };
  context.subscriptions.push(
    vscode.commands.registerCommand("codexos.explain", () => run("explain")),
    vscode.commands.registerCommand("codexos.refactor", () => run("refactor")),
    vscode.commands.registerCommand("codexos.writeTests", () => run("tests")),
  );
}
