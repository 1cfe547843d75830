// The CodexOS Flow Editor: a custom text editor for `*.flow.json` whose webview draws the flow
// with React Flow. The TextDocument stays the single source of truth: the webview sends text
// edits, applied here as WorkspaceEdits (undo/redo, dirty state, save and the server's diagnostics
// keep working), and every document change is sent back to redraw the canvas.
import * as vscode from "vscode";
import type { Server } from "../client";
import { Commands } from "../logic/protocol";
import { pickerCatalog, runSummary, type RunResultLike, type ServerCatalog } from "./logic";
import type { HostMessage, NodeDiagnostic, WebviewMessage } from "./messages";

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
   * The pickers' names and the tools' schemas: the server's catalog for this document
   * (`codexos.catalog`: built-ins, what codexos.toml declares, plug-ins, configured providers'
   * models, vault key names). Without a server the pickers take free text.
   */
  private async sendCatalog(document: vscode.TextDocument, send: (message: HostMessage) => void): Promise<void> {
    let catalog: ServerCatalog | null = null;
    if (this.server) {
      try {
        catalog = await this.server.execute<ServerCatalog>(Commands.catalog, { uri: document.uri.toString() });
      } catch {
        // The server did not answer: the pickers take free text.
      }
    }
    send({ type: "catalog", ...pickerCatalog(catalog) });
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
