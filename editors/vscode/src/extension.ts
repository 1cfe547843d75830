// CodexOS for VS Code: starts `codexos lsp` and adds the chat panel, flow runs with an execution
// console, search, inline agent actions and the vault on top of it. All work happens in the
// server; this extension translates editor gestures into the protocol of docs/protocol.md.
import * as vscode from "vscode";
import { startClient } from "./client";
import { registerChat } from "./chat";
import { registerRuns } from "./runs";
import { registerSearch } from "./search";
import { registerActions } from "./actions";
import { registerVault } from "./vault";
import { registerModels } from "./models";
import { registerFlowEditor } from "./flowEditor/register";
import { StatusBar } from "./statusBar";

export function activate(context: vscode.ExtensionContext): void {
  const output = vscode.window.createOutputChannel("CodexOS", { log: true });
  const status = new StatusBar();
  context.subscriptions.push(output, status);
  const server = startClient(context, output, status);
  // The flow editor draws and edits flows even when the server is not running (runs need it).
  registerFlowEditor(context, server);
  if (!server) return;
  registerRuns(context, server);
  registerChat(context, server);
  registerSearch(context, server);
  registerActions(context, server);
  registerVault(context, server);
  registerModels(context, server, output);
}

export function deactivate(): void {
  // The language client stops with the extension's subscriptions.
}
