// Flow runs: "▶ Run" / "↻ Retry" (code lenses come from the server), an execution console that
// follows `codexos/runEvent`, a cancellable progress notification, and the trace viewer.
import * as vscode from "vscode";
import type { Server } from "./client";
import { RunConsole } from "./logic/console";
import { Commands, type RunResult } from "./logic/protocol";

export function registerRuns(context: vscode.ExtensionContext, server: Server): void {
  const console = vscode.window.createOutputChannel("CodexOS Runs");
  let lastRunId: string | undefined = context.workspaceState.get("codexos.lastRunId");

  const follow = async (title: string, start: () => Promise<RunResult>): Promise<RunResult | undefined> => {
    const view = new RunConsole(title);
    console.show(true);
    console.appendLine(view.text());
    let runId: string | undefined;
    const subscription = server.onRunEvent((event) => {
      runId ??= event.run_id;
      console.append(view.apply(event));
    });
    try {
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `CodexOS: ${title}`, cancellable: true },
        async (_progress, token) => {
          token.onCancellationRequested(() => {
            if (runId) void server.execute(Commands.agentCancel, { run_id: runId });
          });
          return start();
        },
      );
      console.append(view.finish(result));
      lastRunId = result.run_id;
      await context.workspaceState.update("codexos.lastRunId", lastRunId);
      return result;
    } catch (error) {
      console.appendLine(`✗ ${String(error)}`);
      void vscode.window.showErrorMessage(`CodexOS: ${title} failed: ${String(error)}`);
      return undefined;
    } finally {
      subscription.dispose();
    }
  };

  context.subscriptions.push(
    console,
    vscode.commands.registerCommand("codexos.runFlow", async (uri?: vscode.Uri | string, input?: string) => {
      const target = typeof uri === "string" ? vscode.Uri.parse(uri) : (uri ?? vscode.window.activeTextEditor?.document.uri);
      if (!target || !target.path.endsWith(".flow.json")) {
        void vscode.window.showWarningMessage("CodexOS: open a *.flow.json to run it.");
        return;
      }
      const text = input ?? (await vscode.window.showInputBox({ prompt: "Input for the flow", placeHolder: "What should the agent do?" }));
      if (text === undefined) return;
      return follow(vscode.workspace.asRelativePath(target), () =>
        server.execute<RunResult>(Commands.agentRun, { flow: target.fsPath, input: text, context: [] }),
      );
    }),
    vscode.commands.registerCommand("codexos.retryRun", async (runId?: string) => {
      const id = runId ?? lastRunId;
      if (!id) {
        void vscode.window.showInformationMessage("CodexOS: no run to retry yet.");
        return;
      }
      return follow(`retry ${id}`, () => server.execute<RunResult>(Commands.agentRetry, { run_id: id }));
    }),
    vscode.commands.registerCommand("codexos.cancelRun", () => {
      if (lastRunId) void server.execute(Commands.agentCancel, { run_id: lastRunId });
    }),
    vscode.commands.registerCommand("codexos.showTrace", async (runId?: string) => {
      const id = runId ?? lastRunId;
      const folder = vscode.workspace.workspaceFolders?.[0];
      if (!id || !folder) {
        void vscode.window.showInformationMessage("CodexOS: no run trace yet.");
        return;
      }
      const trace = vscode.Uri.joinPath(folder.uri, ".codexos", "runs", `${id}.jsonl`);
      const document = await vscode.workspace.openTextDocument(trace);
      await vscode.window.showTextDocument(document, { preview: true });
    }),
  );
}
