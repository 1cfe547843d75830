// The language client: finds the binary, starts `codexos lsp`, restarts it on a crash with a
// clear message, and forwards the server's status to the status bar.
import * as vscode from "vscode";
import {
  CloseAction,
  ErrorAction,
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
} from "vscode-languageclient/node";
import { resolveServerPath } from "./logic/serverPath";
import { Methods, type RunEvent, type StatusNotification } from "./logic/protocol";
import type { StatusBar } from "./statusBar";

export interface Server {
  client: LanguageClient;
  /** Listeners for `codexos/runEvent`, by run token. */
  onRunEvent: vscode.Event<RunEvent>;
  execute<T>(command: string, argument: unknown): Promise<T>;
}

const MAX_RESTARTS = 5;

export async function startClient(
  context: vscode.ExtensionContext,
  output: vscode.LogOutputChannel,
  status: StatusBar,
): Promise<Server | undefined> {
  const setting = vscode.workspace.getConfiguration("codexos").get<string>("server.path", "");
  const resolved = resolveServerPath({
    setting,
    pathEnv: process.env.PATH,
    extensionDir: context.extensionPath,
    platform: process.platform,
  });
  if ("error" in resolved) {
    status.update({ state: "error", message: resolved.error });
    void vscode.window.showErrorMessage(`CodexOS: ${resolved.error}`);
    return undefined;
  }
  output.info(`starting ${resolved.path} lsp (from ${resolved.source})`);
  const serverOptions: ServerOptions = { command: resolved.path, args: ["lsp"] };
  let restarts = 0;
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ language: "codexos-flow" }, { scheme: "file" }],
    outputChannel: output,
    synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher("**/{*.flow.json,codexos.toml,tools/*.tool.json}") },
    errorHandler: {
      error: () => ({ action: ErrorAction.Continue }),
      closed: () => {
        restarts += 1;
        if (restarts > MAX_RESTARTS) {
          status.update({ state: "error", message: "the server crashed repeatedly; see the CodexOS output" });
          void vscode.window.showErrorMessage(
            `CodexOS: the language server stopped ${restarts} times and will not be restarted. See Output → CodexOS, then run "CodexOS: Restart Server".`,
          );
          return { action: CloseAction.DoNotRestart };
        }
        void vscode.window.showWarningMessage(`CodexOS: the language server stopped; restarting (${restarts}/${MAX_RESTARTS}).`);
        return { action: CloseAction.Restart };
      },
    },
  };
  const client = new LanguageClient("codexos", "CodexOS", serverOptions, clientOptions);
  const runEvents = new vscode.EventEmitter<RunEvent>();
  context.subscriptions.push(runEvents);
  // Handlers go in before the start: the server reports "indexing" right after `initialized`.
  // Only the server says "ready" (its index is built); until then the item shows it is starting.
  context.subscriptions.push(
    client.onNotification(Methods.status, (params: StatusNotification) => status.update(params)),
    client.onNotification(Methods.runEvent, (event: RunEvent) => runEvents.fire(event)),
  );
  status.update({ state: "starting" });
  await client.start();
  context.subscriptions.push(
    client,
    vscode.commands.registerCommand("codexos.restartServer", async () => {
      restarts = 0;
      await client.restart();
    }),
  );
  return {
    client,
    onRunEvent: runEvents.event,
    execute: <T>(command: string, argument: unknown) =>
      client.sendRequest("workspace/executeCommand", { command, arguments: [argument] }) as Promise<T>,
  };
}
