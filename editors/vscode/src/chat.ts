// The chat panel: a webview view in the CodexOS sidebar. Each question goes to `codexos.chat`,
// which retrieves workspace context on the server; the answer streams in through run events and
// its sources are links that open the file at the range.
import * as vscode from "vscode";
import type { Server } from "./client";
import { ChatHistory, type ChatTurn } from "./logic/chat";
import { Commands, type ChatResult, type ChatSource } from "./logic/protocol";

type FromWebview =
  | { type: "ready" }
  | { type: "ask"; question: string; model?: string }
  | { type: "open"; source: ChatSource }
  | { type: "clear" };

const HISTORY_KEY = "codexos.chat.history";

export function registerChat(context: vscode.ExtensionContext, server: Server): void {
  const provider = new ChatView(context, server);
  context.subscriptions.push(vscode.window.registerWebviewViewProvider("codexos.chat", provider));
}

class ChatView implements vscode.WebviewViewProvider {
  private view: vscode.WebviewView | undefined;
  private readonly history: ChatHistory;
  private busy = false;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly server: Server,
  ) {
    this.history = new ChatHistory(context.workspaceState.get<ChatTurn[]>(HISTORY_KEY, []));
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    view.webview.options = { enableScripts: true, localResourceRoots: [] };
    view.webview.html = html(nonce());
    view.webview.onDidReceiveMessage((message: FromWebview) => this.receive(message));
  }

  private post(): void {
    const model = vscode.workspace.getConfiguration("codexos").get<string>("chat.model", "");
    void this.view?.webview.postMessage({ type: "state", turns: this.history.turns, busy: this.busy, model });
  }

  private async receive(message: FromWebview): Promise<void> {
    switch (message.type) {
      case "ready":
        this.post();
        return;
      case "clear":
        this.history.turns = [];
        await this.save();
        this.post();
        return;
      case "open":
        await openSource(message.source);
        return;
      case "ask":
        await this.ask(message.question, message.model);
        return;
    }
  }

  private async ask(question: string, model?: string): Promise<void> {
    if (this.busy || question.trim() === "") return;
    this.busy = true;
    const messages = [...this.history.messages(), { role: "user" as const, content: question }];
    this.history.ask(question);
    this.post();
    const progressToken = this.server.newProgressToken("chat");
    const subscription = this.server.onRunEvent((event) => {
      if (event.token !== progressToken || !event.text) return;
      if (event.kind === "token") {
        this.history.stream(event.text);
        this.post();
      } else if (event.kind === "status" || event.kind === "warning") {
        // Said before the first word: the local model loading, the provider with no key.
        this.history.note(event.kind === "status" ? `… ${event.text}` : `! ${event.text}`);
        this.post();
      }
    });
    try {
      const chosen = model || vscode.workspace.getConfiguration("codexos").get<string>("chat.model", "") || undefined;
      const result = await this.server.execute<ChatResult>(Commands.chat, { messages, model: chosen }, progressToken);
      this.history.complete(result);
    } catch (error) {
      this.history.fail(String(error));
    } finally {
      subscription.dispose();
      this.busy = false;
      await this.save();
      this.post();
    }
  }

  private save(): Thenable<void> {
    return this.context.workspaceState.update(HISTORY_KEY, this.history.turns.slice(-50));
  }
}

async function openSource(source: ChatSource): Promise<void> {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) return;
  const uri = source.path.startsWith("/") ? vscode.Uri.file(source.path) : vscode.Uri.joinPath(folder.uri, source.path);
  // The chunk is selected with the cursor on its first line, where a reader starts.
  const start = new vscode.Position(Math.max(source.start_line - 1, 0), 0);
  const end = new vscode.Position(Math.max(source.end_line, 1), 0);
  const editor = await vscode.window.showTextDocument(uri, { preview: true });
  editor.selection = new vscode.Selection(end, start);
  editor.revealRange(new vscode.Range(start, end), vscode.TextEditorRevealType.AtTop);
}

function nonce(): string {
  const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  let out = "";
  for (let i = 0; i < 32; i++) out += chars.charAt(Math.floor(Math.random() * chars.length));
  return out;
}

function html(nonce: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-${nonce}';">
<style>
body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); padding: 0 8px; }
.turn { margin: 8px 0; border-bottom: 1px solid var(--vscode-panel-border); padding-bottom: 8px; }
.question { font-weight: bold; white-space: pre-wrap; }
.answer { white-space: pre-wrap; margin-top: 4px; }
.meta { opacity: 0.7; font-size: 0.9em; }
.source { display: block; cursor: pointer; color: var(--vscode-textLink-foreground); font-family: var(--vscode-editor-font-family); }
form { display: flex; flex-direction: column; gap: 4px; position: sticky; bottom: 0; background: var(--vscode-sideBar-background); padding: 6px 0; }
textarea { width: 100%; box-sizing: border-box; background: var(--vscode-input-background); color: var(--vscode-input-foreground); border: 1px solid var(--vscode-input-border); }
</style></head>
<body>
<div id="turns"></div>
<form id="ask">
  <textarea id="question" rows="3" placeholder="Ask about this workspace…" aria-label="Question"></textarea>
  <div><input id="model" placeholder="model (default chain)" aria-label="Model"> <button type="submit" id="send">Ask</button> <button type="button" id="clear">Clear</button></div>
</form>
<script nonce="${nonce}">
const vscode = acquireVsCodeApi();
const turns = document.getElementById("turns");
const form = document.getElementById("ask");
const question = document.getElementById("question");
const model = document.getElementById("model");
function render(state) {
  turns.textContent = "";
  for (const turn of state.turns) {
    const div = document.createElement("div"); div.className = "turn";
    const q = document.createElement("div"); q.className = "question"; q.textContent = turn.question; div.appendChild(q);
    for (const note of turn.notes || []) { const n = document.createElement("div"); n.className = "meta note"; n.textContent = note; div.appendChild(n); }
    const a = document.createElement("div"); a.className = "answer"; a.textContent = turn.answer || (turn.done ? "" : "…"); div.appendChild(a);
    if (turn.done && turn.model) { const m = document.createElement("div"); m.className = "meta"; m.textContent = "answered by " + turn.model; div.appendChild(m); }
    for (const source of turn.sources || []) {
      const s = document.createElement("a"); s.className = "source";
      s.textContent = source.path + ":" + source.start_line + "-" + source.end_line + (source.symbol ? " " + source.symbol : "");
      s.addEventListener("click", () => vscode.postMessage({ type: "open", source }));
      div.appendChild(s);
    }
    turns.appendChild(div);
  }
  document.getElementById("send").disabled = state.busy;
  if (!model.value && state.model) model.value = state.model;
  window.scrollTo(0, document.body.scrollHeight);
}
window.addEventListener("message", (event) => { if (event.data.type === "state") render(event.data); });
form.addEventListener("submit", (event) => {
  event.preventDefault();
  vscode.postMessage({ type: "ask", question: question.value, model: model.value || undefined });
  question.value = "";
});
question.addEventListener("keydown", (event) => { if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); } });
document.getElementById("clear").addEventListener("click", () => vscode.postMessage({ type: "clear" }));
vscode.postMessage({ type: "ready" });
</script></body></html>`;
}
