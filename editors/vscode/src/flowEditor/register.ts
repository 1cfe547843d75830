// Registers the CodexOS Flow Editor and the "New flow from template" command.
import { execFile } from "node:child_process";
import * as path from "node:path";
import { promisify } from "node:util";
import * as vscode from "vscode";
import type { Server } from "../client";
import { Commands } from "../logic/protocol";
import { resolveServerPath } from "../logic/serverPath";
import { parseTemplates } from "./logic";
import { FLOW_EDITOR_VIEW_TYPE, FlowEditorProvider } from "./provider";

const run = promisify(execFile);

export function registerFlowEditor(context: vscode.ExtensionContext, server: Server | undefined): void {
  context.subscriptions.push(
    vscode.window.registerCustomEditorProvider(FLOW_EDITOR_VIEW_TYPE, new FlowEditorProvider(context, server), {
      webviewOptions: { retainContextWhenHidden: true },
      supportsMultipleEditorsPerDocument: false,
    }),
    vscode.commands.registerCommand("codexos.openFlowEditor", async (uri?: vscode.Uri) => {
      const target = uri ?? vscode.window.activeTextEditor?.document.uri;
      if (!target) return;
      await vscode.commands.executeCommand("vscode.openWith", target, FLOW_EDITOR_VIEW_TYPE);
    }),
    vscode.commands.registerCommand("codexos.newFlowFromTemplate", () => newFlowFromTemplate(context, server)),
  );
}

function codexosBinary(context: vscode.ExtensionContext): string {
  const setting = vscode.workspace.getConfiguration("codexos").get<string>("server.path", "");
  const resolved = resolveServerPath({ setting, pathEnv: process.env.PATH, extensionDir: context.extensionPath, platform: process.platform });
  if ("error" in resolved) throw new Error(resolved.error);
  return resolved.path;
}

/** Quick pick of the templates the server offers (`codexos.flow.templates`), then `codexos flow new`. */
async function newFlowFromTemplate(context: vscode.ExtensionContext, server: Server | undefined): Promise<void> {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) {
    void vscode.window.showWarningMessage("CodexOS: open a folder to add a flow to it.");
    return;
  }
  const cwd = folder.uri.fsPath;
  try {
    if (!server) throw new Error("the language server is not running");
    const binary = codexosBinary(context);
    const templates = parseTemplates(await server.execute<unknown>(Commands.flowTemplates, {}));
    const picked = await vscode.window.showQuickPick(
      templates.map((t) => ({ label: t.title, description: `${t.name} · ${t.tags.join(", ")}`, detail: t.description, template: t })),
      { placeHolder: "Start a flow from a template", matchOnDescription: true, matchOnDetail: true },
    );
    if (!picked) return;
    const name = await vscode.window.showInputBox({
      prompt: "File for the new flow (relative to the workspace); its name becomes the flow's id",
      value: `flows/${picked.template.name}.flow.json`,
      valueSelection: [6, 6 + picked.template.name.length],
      validateInput: (value) => (value.endsWith(".flow.json") ? undefined : "A flow file's name ends with .flow.json"),
    });
    if (!name) return;
    await run(binary, ["flow", "new", "--template", picked.template.name, name], { cwd });
    const uri = vscode.Uri.file(path.resolve(cwd, name));
    await vscode.commands.executeCommand("vscode.openWith", uri, FLOW_EDITOR_VIEW_TYPE);
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr;
    void vscode.window.showErrorMessage(`CodexOS: ${stderr?.trim() || String(error)}`);
  }
}
