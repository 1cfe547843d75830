// Flow runs: "▶ Run" / "↻ Retry" (code lenses come from the server), an execution console that
// follows `codexos/runEvent`, a cancellable progress notification, and the trace viewer.
import * as vscode from "vscode";
import type { Server } from "./client";
import { RunConsole } from "./logic/console";
import { Commands, type RunResult } from "./logic/protocol";

/** How long a run's answer waits for the run's last events. */
const LATE_EVENTS_MS = 1000;

/** How a run started by another view (the flow editor's canvas) is shown. */
export interface RunOptions {
  /** Bring the execution console into view (default); the canvas shows the run itself. */
  showConsole?: boolean;
}

export function registerRuns(context: vscode.ExtensionContext, server: Server): void {
  const console = vscode.window.createOutputChannel("CodexOS Runs");
  let lastRunId: string | undefined = context.workspaceState.get("codexos.lastRunId");

  let cancelCurrent: (() => void) | undefined;

  /** Runs `start` with its own progress token, showing its events in the console. */
  const follow = async (
    title: string,
    start: (progressToken: string) => Promise<RunResult>,
    options: RunOptions = {},
  ): Promise<RunResult | undefined> => {
    const view = new RunConsole(title);
    if (options.showConsole ?? true) console.show(true);
    console.appendLine(view.text());
    const progressToken = server.newProgressToken("run");
    // The answer can overtake the run's last events on the wire: the console ends once the
    // run's `finished` event is in too, or shortly after the answer if it never comes.
    let ended: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (ended = resolve));
    const lastEvents = () => Promise.race([finished, new Promise<void>((resolve) => setTimeout(resolve, LATE_EVENTS_MS))]);
    const subscription = server.onRunEvent((event) => {
      if (event.token !== progressToken) return;
      console.append(view.apply(event));
      if (event.kind === "finished") ended();
    });
    const cancel = () => {
      console.append(view.note("■ cancel requested"));
      server.cancelProgress(progressToken);
    };
    cancelCurrent = cancel;
    try {
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `CodexOS: ${title}`, cancellable: true },
        async (_progress, token) => {
          token.onCancellationRequested(cancel);
          return start(progressToken);
        },
      );
      await lastEvents();
      console.append(view.finish(result));
      lastRunId = result.run_id;
      await context.workspaceState.update("codexos.lastRunId", lastRunId);
      return result;
    } catch (error) {
      await lastEvents();
      console.appendLine(`✗ ${String(error)}`);
      void vscode.window.showErrorMessage(`CodexOS: ${title} failed: ${String(error)}`);
      return undefined;
    } finally {
      subscription.dispose();
      if (cancelCurrent === cancel) cancelCurrent = undefined;
    }
  };

  context.subscriptions.push(
    console,
    vscode.commands.registerCommand("codexos.runFlow", async (uri?: vscode.Uri | string, input?: string, options?: RunOptions) => {
      const target = typeof uri === "string" ? vscode.Uri.parse(uri) : (uri ?? vscode.window.activeTextEditor?.document.uri);
      if (!target || !target.path.endsWith(".flow.json")) {
        void vscode.window.showWarningMessage("CodexOS: open a *.flow.json to run it.");
        return;
      }
      const text = input ?? (await vscode.window.showInputBox({ prompt: "Input for the flow", placeHolder: "What should the agent do?" }));
      if (text === undefined) return;
      return follow(
        vscode.workspace.asRelativePath(target),
        (progressToken) => server.execute<RunResult>(Commands.agentRun, { flow: target.fsPath, input: text, context: [] }, progressToken),
        options,
      );
    }),
    vscode.commands.registerCommand("codexos.retryRun", async (runId?: string, options?: RunOptions) => {
      const id = runId ?? lastRunId;
      if (!id) {
        void vscode.window.showInformationMessage("CodexOS: no run to retry yet.");
        return;
      }
      return follow(`retry ${id}`, (progressToken) => server.execute<RunResult>(Commands.agentRetry, { run_id: id }, progressToken), options);
    }),
    vscode.commands.registerCommand("codexos.cancelRun", () => {
      if (cancelCurrent) {
        cancelCurrent();
      } else {
        void vscode.window.showInformationMessage("CodexOS: no run is going.");
      }
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
