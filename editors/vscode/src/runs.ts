// Flow runs: "▶ Run" / "↻ Retry" (code lenses come from the server), an execution console that
// follows `codexos/runEvent`, a cancellable progress notification, the trace viewer, and
// replays and forks of a recorded run from one of its nodes (`codexos.agent.replay`).
import * as vscode from "vscode";
import type { Server } from "./client";
import { RunConsole } from "./logic/console";
import { Commands, type RunResult } from "./logic/protocol";
import { EDIT_KEYS, parseEdit, parseTrace, replayTargets, runIdsNewestFirst, traceMarkdown } from "./logic/trace";

/** How long a run's answer waits for the run's last events. */
const LATE_EVENTS_MS = 1000;

/** The scheme of the trace viewer's read-only markdown documents: `codexos-trace:/<run_id>.md`. */
const TRACE_SCHEME = "codexos-trace";

/** What a run id looks like: it names a file in `.codexos/runs/`, so no separators or dots. */
const RUN_ID = /^[\w-]{1,64}$/;

/** How many of the newest runs the trace quick pick describes (each is read from disk). */
const PICKED_RUNS = 50;

/** How a run started by another view (the flow editor's canvas) is shown. */
export interface RunOptions {
  /** Bring the execution console into view (default); the canvas shows the run itself. */
  showConsole?: boolean;
}

export function registerRuns(context: vscode.ExtensionContext, server: Server): void {
  const console = vscode.window.createOutputChannel("CodexOS Runs");
  let lastRunId: string | undefined = context.workspaceState.get("codexos.lastRunId");

  let cancelCurrent: (() => void) | undefined;
  const traces = new TraceDocuments();
  /** The run whose trace page was shown last: what "Replay Run from Node…" offers first. */
  let lastTraceId: string | undefined;

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
      console.append(view.note(`Trace: "CodexOS: Show Run Trace" (run ${result.run_id})`));
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
    vscode.commands.registerCommand(
      "codexos.replayRun",
      async (runId?: unknown, node?: unknown, set?: unknown, options?: RunOptions) => {
        // A title bar button passes its editor's resource and context, not these arguments.
        const given = (value: unknown) => (typeof value === "string" ? value : undefined);
        const folder = vscode.workspace.workspaceFolders?.[0];
        const id = given(runId) ?? traceInView() ?? lastTraceId ?? (folder && (await pickRun(folder.uri)));
        if (!id || !folder) return;
        const from = given(node) ?? (await pickNode(folder.uri, id));
        if (!from) return;
        const edits = editsGiven(set) ?? (await askEdits(from));
        if (!edits) return;
        const kind = Object.keys(edits).length === 0 ? "replay" : "fork";
        return follow(
          `${kind} ${id} from ${from}`,
          (progressToken) => server.execute<RunResult>(Commands.agentReplay, { run_id: id, from, set: edits }, progressToken),
          options,
        );
      },
    ),
    vscode.commands.registerCommand("codexos.cancelRun", () => {
      if (cancelCurrent) {
        cancelCurrent();
      } else {
        void vscode.window.showInformationMessage("CodexOS: no run is going.");
      }
    }),
    traces,
    vscode.workspace.registerTextDocumentContentProvider(TRACE_SCHEME, traces),
    vscode.commands.registerCommand("codexos.showTrace", async (runId?: string) => {
      const folder = vscode.workspace.workspaceFolders?.[0];
      if (!folder) {
        void vscode.window.showInformationMessage("CodexOS: open a workspace folder to see its run traces.");
        return;
      }
      const id = runId ?? (await pickRun(folder.uri));
      if (!id) return;
      if (!RUN_ID.test(id)) {
        void vscode.window.showWarningMessage(`CodexOS: \`${id}\` is not a run id (run ids look like 20261126T071606Z-3f2a).`);
        return;
      }
      lastTraceId = id;
      const uri = vscode.Uri.from({ scheme: TRACE_SCHEME, path: `/${id}.md` });
      // The trace may have grown since it was last shown (a run still going, a retry).
      traces.refresh(uri);
      try {
        await vscode.commands.executeCommand("markdown.showPreview", uri);
      } catch {
        // Without the built-in markdown extension the page is still readable as text.
        await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(uri), { preview: true });
      }
    }),
  );
}

function tracePath(folder: vscode.Uri, runId: string): vscode.Uri {
  return vscode.Uri.joinPath(folder, ".codexos", "runs", `${runId}.jsonl`);
}

async function readTrace(folder: vscode.Uri, runId: string): Promise<string> {
  return new TextDecoder().decode(await vscode.workspace.fs.readFile(tracePath(folder, runId)));
}

/** The workspace's runs, newest first, described by their flow and how they ended. */
async function pickRun(folder: vscode.Uri): Promise<string | undefined> {
  let names: string[];
  try {
    names = (await vscode.workspace.fs.readDirectory(vscode.Uri.joinPath(folder, ".codexos", "runs"))).map(([name]) => name);
  } catch {
    names = [];
  }
  const ids = runIdsNewestFirst(names);
  if (ids.length === 0) {
    void vscode.window.showInformationMessage("CodexOS: no run trace yet: run a flow first.");
    return undefined;
  }
  const items = await Promise.all(
    ids.map(async (id, index): Promise<vscode.QuickPickItem> => {
      if (index >= PICKED_RUNS) return { label: id };
      const view = parseTrace(id, await readTrace(folder, id).catch(() => ""));
      const when = view.elapsedMs !== undefined ? ` in ${view.elapsedMs} ms` : "";
      return { label: id, description: `${view.flowId || "?"} · ${view.status ?? "unfinished"}${when}`, detail: view.input?.split("\n")[0] };
    }),
  );
  const picked = await vscode.window.showQuickPick(items, { placeHolder: "Show the trace of which run? (newest first)", matchOnDescription: true });
  return picked?.label;
}

/** The run of the trace page in the active tab (its preview's title is `Preview <run_id>.md`). */
function traceInView(): string | undefined {
  const tab = vscode.window.tabGroups.activeTabGroup.activeTab;
  const input = tab?.input;
  if (input instanceof vscode.TabInputText && input.uri.scheme === TRACE_SCHEME) return input.uri.path.replace(/^\//, "").replace(/\.md$/, "");
  const shown = tab?.label.match(/^Preview (\d{8}T\d{6}Z-\w+)\.md$/);
  return shown?.[1];
}

/** The node of run `runId` to replay from, picked among those that ran (as the trace page lists them). */
async function pickNode(folder: vscode.Uri, runId: string): Promise<string | undefined> {
  const view = parseTrace(runId, await readTrace(folder, runId).catch(() => ""));
  const targets = replayTargets(view);
  if (targets.length === 0) {
    void vscode.window.showWarningMessage(`CodexOS: no node of run ${runId} can be replayed from (none ran).`);
    return undefined;
  }
  const mark = { succeeded: "✓", failed: "✗", replayed: "↺", running: "…" } as const;
  const picked = await vscode.window.showQuickPick(
    targets.map((node) => ({
      label: `${mark[node.status]} ${node.id}`,
      id: node.id,
      description: [node.type || "replayed", `${node.elapsedMs} ms`, node.model].filter(Boolean).join(" · "),
      detail: (node.error ?? node.output ?? "").split("\n")[0],
    })),
    { placeHolder: `Replay run ${runId} from which node? (the nodes before it keep their recorded outputs)` },
  );
  return picked?.id;
}

/** `value` when it is a fork's edits (an object of strings), else `undefined`. */
function editsGiven(value: unknown): Record<string, string> | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const entries = Object.entries(value);
  return entries.every(([, edit]) => typeof edit === "string") ? Object.fromEntries(entries) : undefined;
}

/** A plain replay (no edits) or a fork's edits, asked for one `KEY=VALUE` at a time; `undefined`: cancelled. */
async function askEdits(node: string): Promise<Record<string, string> | undefined> {
  const choice = await vscode.window.showQuickPick(
    [
      { label: `↺ Replay from ${node}`, edits: false },
      { label: `✎ Fork from ${node}…`, description: `edit ${EDIT_KEYS}`, edits: true },
    ],
    { placeHolder: "Replay as it was, or fork with edits?" },
  );
  if (!choice) return undefined;
  const set: Record<string, string> = {};
  while (choice.edits) {
    const line = await vscode.window.showInputBox({
      prompt: `An edit, KEY=VALUE (${EDIT_KEYS}); leave empty to run`,
      value: Object.keys(set).length === 0 ? `${node}.prompt=` : "",
      validateInput: (text) => {
        const parsed = text.trim() === "" ? undefined : parseEdit(text);
        return parsed && "error" in parsed ? parsed.error : undefined;
      },
    });
    if (line === undefined) return undefined;
    if (line.trim() === "") break;
    const parsed = parseEdit(line);
    if ("key" in parsed) set[parsed.key] = parsed.value;
  }
  return set;
}

/** The trace viewer's pages, read from the run's trace file each time they are opened. */
class TraceDocuments implements vscode.TextDocumentContentProvider {
  private readonly changes = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changes.event;

  refresh(uri: vscode.Uri): void {
    this.changes.fire(uri);
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const runId = uri.path.replace(/^\//, "").replace(/\.md$/, "");
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    if (!folder) return `# Run ${runId}\n\nNo workspace folder is open.`;
    if (!RUN_ID.test(runId)) return `# Not a run\n\n\`${runId}\` is not a run id.`;
    let text: string;
    try {
      text = await readTrace(folder, runId);
    } catch (error) {
      return `# Run ${runId}\n\nCannot read the trace ${tracePath(folder, runId).fsPath}: ${String(error)}`;
    }
    return traceMarkdown(parseTrace(runId, text), {
      linkFor: (path, line) => vscode.Uri.joinPath(folder, path).with({ fragment: `L${line}` }).toString(),
      // The markdown preview runs no command links: the page's title bar has the action.
      replayHint: (node) => `Replay from here: ↺ in the title bar (CodexOS: Replay Run from Node…), then ${node}`,
    });
  }

  dispose(): void {
    this.changes.dispose();
  }
}
