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
import { editorLensCommand } from "./logic/codeLens";
import { Methods, type RunEvent, type StatusNotification } from "./logic/protocol";
import type { StatusBar } from "./statusBar";

export interface Server {
  client: LanguageClient;
  /** Every `codexos/runEvent`; each carries the progress token of its request. */
  onRunEvent: vscode.Event<RunEvent>;
  /** `workspace/executeCommand`; with `progressToken`, the command's progress and run events
   * carry that token (the server creates none of its own). */
  execute<T>(command: string, argument: unknown, progressToken?: string): Promise<T>;
  /** A fresh progress token for a run, chat or action this editor starts. */
  newProgressToken(kind: string): string;
  /** Asks the server to stop the work reporting under `progressToken`. */
  cancelProgress(progressToken: string): void;
}

const MAX_RESTARTS = 5;

export function startClient(
  context: vscode.ExtensionContext,
  output: vscode.LogOutputChannel,
  status: StatusBar,
): Server | undefined {
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
  status.server = resolved;
  const serverOptions: ServerOptions = { command: resolved.path, args: ["lsp"] };
  let restarts = 0;
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ language: "codexos-flow" }, { scheme: "file" }],
    outputChannel: output,
    middleware: {
      // "▶ Run" / "↻ Retry" lenses open the editor's commands (input box, execution console).
      provideCodeLenses: async (document, token, next) => {
        const lenses = await next(document, token);
        for (const lens of lenses ?? []) {
          if (lens.command) lens.command = editorLensCommand(lens.command, document.uri.toString());
        }
        return lenses;
      },
    },
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
  // Not awaited: the commands are registered at once, and requests wait for the start.
  client.start().catch((error: unknown) => {
    status.update({ state: "error", message: `the server did not start: ${String(error)}` });
    void vscode.window.showErrorMessage(`CodexOS: the language server did not start: ${String(error)}. See Output → CodexOS.`);
  });
  context.subscriptions.push(
    client,
    vscode.commands.registerCommand("codexos.restartServer", async () => {
      restarts = 0;
      await client.restart();
    }),
  );
  let lastToken = 0;
  return {
    client,
    onRunEvent: runEvents.event,
    execute: <T>(command: string, argument: unknown, progressToken?: string) =>
      client.sendRequest("workspace/executeCommand", {
        command,
        arguments: [argument],
        workDoneToken: progressToken,
      }) as Promise<T>,
    newProgressToken: (kind: string) => `codexos.vscode/${kind}/${process.pid}/${++lastToken}`,
    cancelProgress: (progressToken: string) =>
      void client.sendNotification("window/workDoneProgress/cancel", { token: progressToken }),
  };
}
