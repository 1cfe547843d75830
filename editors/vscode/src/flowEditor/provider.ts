// The CodexOS Flow Editor: a custom text editor for `*.flow.json` whose webview draws the flow
// with React Flow. The TextDocument stays the single source of truth: the webview sends text
// edits, applied here as WorkspaceEdits (undo/redo, dirty state, save and the server's diagnostics
// keep working), and every document change is sent back to redraw the canvas.
import * as vscode from "vscode";
import type { Server } from "../client";
import { KNOWN_MODELS, KNOWN_TOOLS, runSummary, type RunResultLike } from "./logic";
import type { HostMessage, NodeDiagnostic, ToolSchema, WebviewMessage } from "./messages";

export const FLOW_EDITOR_VIEW_TYPE = "codexos.flowEditor";

const SEVERITIES: Record<vscode.DiagnosticSeverity, NodeDiagnostic["severity"]> = {
  [vscode.DiagnosticSeverity.Error]: "error",
  [vscode.DiagnosticSeverity.Warning]: "warning",
  [vscode.DiagnosticSeverity.Information]: "info",
  [vscode.DiagnosticSeverity.Hint]: "info",
};

function nonce(): string {
  const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  return Array.from({ length: 32 }, () => chars[Math.floor(Math.random() * chars.length)]).join("");
}

function diagnosticsOf(document: vscode.TextDocument): NodeDiagnostic[] {
  return vscode.languages
    .getDiagnostics(document.uri)
    .filter((d) => d.source === undefined || d.source.toLowerCase() === "codexos")
    .map((d) => ({
      offset: document.offsetAt(d.range.start),
      end: document.offsetAt(d.range.end),
      severity: SEVERITIES[d.severity],
      message: d.message,
      code: typeof d.code === "object" ? String(d.code.value) : d.code === undefined ? undefined : String(d.code),
    }));
}

/** The input schemas of the workspace's plug-in tools (`tools/*.tool.json`), by tool name. */
async function pluginToolSchemas(document: vscode.TextDocument): Promise<Record<string, ToolSchema>> {
  const folder = vscode.workspace.getWorkspaceFolder(document.uri);
  if (!folder) return {};
  const schemas: Record<string, ToolSchema> = {};
  const files = await vscode.workspace.findFiles(new vscode.RelativePattern(folder, "tools/*.tool.json"));
  for (const file of files) {
    try {
      const tool = JSON.parse(new TextDecoder().decode(await vscode.workspace.fs.readFile(file))) as {
        description?: string;
        input_schema?: ToolSchema;
      };
      const name = file.path.split("/").pop()?.replace(/\.tool\.json$/, "");
      if (name && tool.input_schema) schemas[name] = { ...tool.input_schema, description: tool.description };
    } catch {
      // A broken tool file is the server's to report (it names the file and field).
    }
  }
  return schemas;
}

export class FlowEditorProvider implements vscode.CustomTextEditorProvider {
  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly server: Server | undefined,
  ) {}

  async resolveCustomTextEditor(document: vscode.TextDocument, panel: vscode.WebviewPanel): Promise<void> {
    const media = vscode.Uri.joinPath(this.context.extensionUri, "dist", "webview");
    panel.webview.options = { enableScripts: true, localResourceRoots: [media] };
    panel.webview.html = this.html(panel.webview, media);
    const send = (message: HostMessage) => void panel.webview.postMessage(message);
    const sendDocument = () => send({ type: "document", text: document.getText(), version: document.version });
    const sendDiagnostics = () => send({ type: "diagnostics", items: diagnosticsOf(document) });

    const subscriptions: vscode.Disposable[] = [
      vscode.workspace.onDidChangeTextDocument((event) => {
        if (event.document.uri.toString() === document.uri.toString() && event.contentChanges.length > 0) sendDocument();
      }),
      vscode.languages.onDidChangeDiagnostics((event) => {
        if (event.uris.some((uri) => uri.toString() === document.uri.toString())) sendDiagnostics();
      }),
      panel.webview.onDidReceiveMessage((message: WebviewMessage) => this.receive(message, document, panel, send, sendDocument)),
    ];
    if (this.server) {
      subscriptions.push(
        this.server.onRunEvent((event) => {
          if (this.activeRuns.has(panel)) send({ type: "runEvent", event });
        }),
      );
    }
    panel.onDidDispose(() => {
      this.activeRuns.delete(panel);
      for (const s of subscriptions) s.dispose();
    });
    // The first messages go out when the webview says it is ready (see receive).
    this.readyHandlers.set(panel, () => {
      sendDocument();
      sendDiagnostics();
      void this.sendCatalog(document, send);
    });
  }

  private readonly activeRuns = new Set<vscode.WebviewPanel>();
  private readonly readyHandlers = new Map<vscode.WebviewPanel, () => void>();

  private async receive(
    message: WebviewMessage,
    document: vscode.TextDocument,
    panel: vscode.WebviewPanel,
    send: (message: HostMessage) => void,
    sendDocument: () => void,
  ): Promise<void> {
    switch (message.type) {
      case "ready":
        this.readyHandlers.get(panel)?.();
        return;
      case "edit": {
        if (message.version !== document.version) {
          // The canvas computed its edit on an older text: show it the current one instead.
          sendDocument();
          return;
        }
        const edit = new vscode.WorkspaceEdit();
        for (const e of message.edits) {
          const range = new vscode.Range(document.positionAt(e.offset), document.positionAt(e.offset + e.length));
          edit.replace(document.uri, range, e.content, { label: message.label, needsConfirmation: false });
        }
        if (!(await vscode.workspace.applyEdit(edit))) sendDocument();
        return;
      }
      case "showText":
        await vscode.window.showTextDocument(document, { viewColumn: vscode.ViewColumn.Beside, preview: false });
        return;
      case "openFlow": {
        const target = vscode.Uri.joinPath(document.uri, "..", message.path);
        await vscode.commands.executeCommand("vscode.openWith", target, FLOW_EDITOR_VIEW_TYPE);
        return;
      }
      case "run":
        await this.run(panel, send, message.input, async () => {
          if (document.isDirty) await document.save();
          // The canvas lights its nodes as they run: the console keeps the log without taking its space.
          return vscode.commands.executeCommand<RunResultLike | undefined>("codexos.runFlow", document.uri, message.input, {
            showConsole: false,
          });
        });
        return;
      case "retry":
        await this.run(panel, send, undefined, () =>
          Promise.resolve(
            vscode.commands.executeCommand<RunResultLike | undefined>("codexos.retryRun", message.runId, { showConsole: false }),
          ),
        );
        return;
      case "replay":
        await this.run(panel, send, undefined, () =>
          Promise.resolve(
            vscode.commands.executeCommand<RunResultLike | undefined>("codexos.replayRun", message.runId, message.node, undefined, {
              showConsole: false,
            }),
          ),
        );
        return;
    }
  }

  private async run(
    panel: vscode.WebviewPanel,
    send: (message: HostMessage) => void,
    input: string | undefined,
    start: () => Promise<RunResultLike | undefined>,
  ): Promise<void> {
    if (!this.server) {
      void vscode.window.showErrorMessage("CodexOS: the language server is not running, so flows cannot run.");
      send({ type: "runFinished", summary: undefined });
      return;
    }
    this.activeRuns.add(panel);
    send({ type: "runStarted", input: input ?? "" });
    try {
      const result = await start();
      send({ type: "runFinished", summary: runSummary(result, input) });
    } finally {
      this.activeRuns.delete(panel);
    }
  }

  /**
   * The pickers' names: the server's own completion list for a `model` / `tool` value of this
   * document (so models and tools declared in codexos.toml are offered too), else the flow
   * language's static lists; vault keys from `codexos.vault.list` (names only).
   */
  private async sendCatalog(document: vscode.TextDocument, send: (message: HostMessage) => void): Promise<void> {
    const [models, tools, vaultKeys, toolSchemas] = await Promise.all([
      this.completedNames(document, "model", KNOWN_MODELS),
      this.completedNames(document, "tool", KNOWN_TOOLS),
      this.vaultKeys(),
      pluginToolSchemas(document),
    ]);
    send({ type: "catalog", models, tools, vaultKeys, toolSchemas });
  }

  private async completedNames(document: vscode.TextDocument, field: string, fallback: string[]): Promise<string[]> {
    const value = new RegExp(`"${field}"\\s*:\\s*\\[?\\s*"`).exec(document.getText());
    if (!this.server || !value) return fallback;
    try {
      const position = document.positionAt(value.index + value[0].length);
      const result = await this.server.client.sendRequest<{ label: string }[] | { items: { label: string }[] } | null>(
        "textDocument/completion",
        { textDocument: { uri: document.uri.toString() }, position: { line: position.line, character: position.character } },
      );
      const items = Array.isArray(result) ? result : (result?.items ?? []);
      const names = items.map((item) => item.label);
      return names.length > 0 ? names : fallback;
    } catch {
      return fallback;
    }
  }

  private async vaultKeys(): Promise<string[]> {
    if (!this.server) return [];
    try {
      const secrets = await this.server.execute<{ key: string }[] | null>("codexos.vault.list", {});
      return (secrets ?? []).map((s) => s.key);
    } catch {
      // No vault yet, or the server does not answer: the picker offers free text only.
      return [];
    }
  }

  private html(webview: vscode.Webview, media: vscode.Uri): string {
    const script = webview.asWebviewUri(vscode.Uri.joinPath(media, "flowEditor.js"));
    const style = webview.asWebviewUri(vscode.Uri.joinPath(media, "flowEditor.css"));
    const n = nonce();
    const csp = [
      "default-src 'none'",
      `img-src ${webview.cspSource} data:`,
      `style-src ${webview.cspSource} 'unsafe-inline'`,
      `font-src ${webview.cspSource}`,
      `script-src 'nonce-${n}'`,
    ].join("; ");
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style}">
<title>CodexOS Flow Editor</title>
</head>
<body>
<div id="root"></div>
<script nonce="${n}" src="${script}"></script>
</body>
</html>`;
  }
}
