// The protocol the extension speaks, checked against the real `codexos lsp` over stdio with the
// same library the extension's language client is built on (vscode-languageserver-protocol):
// the shapes in src/logic/protocol.ts, progress under the editor's own workDoneToken, run events,
// the chat's streamed tokens and sources, code lenses, inline code actions, and an edit that comes
// back through workspace/applyEdit, and the permission question a shell command asks
// (window/showMessageRequest) with the `decision` run events it leads to. The model is the fake
// OpenAI-compatible provider on loopback.
import { test, before, after } from "node:test";
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createProtocolConnection, StreamMessageReader, StreamMessageWriter } from "vscode-languageserver-protocol/node";
import { startFakeProvider } from "./fakeProvider.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const TIMEOUT_MS = 30_000;
/** A whole test's limit: a server that never answers fails the test instead of hanging it. */
const TEST = { timeout: 90_000 };

let fake;
let server;
let connection;
let workspace;
/** The server's last words on stderr, for failure messages. */
let serverLog = "";
/** Every notification and server request, in order: `{method, params}`. */
const received = [];
/** Edits the server asked the editor to apply. */
const applied = [];
/** The action title the "user" picks when the server asks for permission; null dismisses. */
let permissionAnswer = null;

function uri(relative) {
  return pathToFileURL(join(workspace, relative)).toString();
}

/** Resolves with the first message (already received or to come) that `accept` takes. */
function waitFor(what, accept) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + TIMEOUT_MS;
    const poll = () => {
      const found = received.find(accept);
      if (found) return resolve(found);
      if (Date.now() > deadline) {
        return reject(new Error(`${what}: not received; got ${JSON.stringify(received.map((m) => m.method))}\nserver stderr:\n${serverLog}`));
      }
      setTimeout(poll, 20);
    };
    poll();
  });
}

function execute(command, argument, workDoneToken) {
  return connection.sendRequest("workspace/executeCommand", { command, arguments: [argument], workDoneToken });
}

function openDocument(relative, languageId) {
  const text = readFileSync(join(workspace, relative), "utf8");
  connection.sendNotification("textDocument/didOpen", { textDocument: { uri: uri(relative), languageId, version: 1, text } });
  return text;
}

before(async () => {
  const codexos = process.env.CODEXOS_BIN;
  assert.ok(codexos, "CODEXOS_BIN names the codexos binary under test (scripts/test sets it)");
  fake = await startFakeProvider((body) => {
    const prompt = JSON.parse(body).messages.at(-1)?.content ?? "";
    if (prompt.includes("Which function retries payments?")) return { chunks: ["retry_payment ", "does."], pauseMs: 150 };
    if (prompt.includes("Instruction: start at 50 ms")) return { chunks: ["```rust\n", "    let mut delay_ms = 50;\n", "```\n"] };
    if (prompt === "protocol input") return { chunks: ["The ", "answer"] };
    return { chunks: ["It retries."] };
  });
  const root = mkdtempSync(join(tmpdir(), "codexos-protocol-"));
  workspace = join(root, "workspace");
  cpSync(join(here, "../fixtures/workspace"), workspace, { recursive: true });
  // The shell tool exists here; each command still needs the user's answer.
  appendFileSync(join(workspace, "codexos.toml"), "\n[tools]\nallow_shell = true\n");
  // The user's config (the trust store) is this test's own.
  for (const dir of ["home", "config"]) mkdirSync(join(root, dir));
  const env = { ...process.env, HOME: join(root, "home"), XDG_CONFIG_HOME: join(root, "config"), OPENAI_BASE_URL: fake.url };
  for (const key of ["OPENAI_API_KEY", "ANTHROPIC_API_KEY"]) delete env[key];
  server = spawn(codexos, ["lsp"], { cwd: workspace, env, stdio: ["pipe", "pipe", "pipe"] });
  server.stderr.on("data", (data) => (serverLog = (serverLog + data).slice(-4000)));
  server.on("exit", (code, signal) => received.push({ method: "(server exited)", params: { code, signal } }));
  connection = createProtocolConnection(new StreamMessageReader(server.stdout), new StreamMessageWriter(server.stdin));
  connection.onNotification((method, params) => received.push({ method, params }));
  // vscode-jsonrpc routes `$/progress` apart from other notifications.
  connection.onUnhandledProgress((params) => received.push({ method: "$/progress", params }));
  connection.onRequest((method, params) => {
    received.push({ method, params });
    if (method === "workspace/applyEdit") {
      applied.push(params.edit);
      return { applied: true };
    }
    if (method === "window/showMessageRequest") {
      return params.actions?.find((action) => action.title === permissionAnswer) ?? null;
    }
    return null;
  });
  connection.listen();
  const initialized = await connection.sendRequest("initialize", {
    processId: process.pid,
    rootUri: pathToFileURL(workspace).toString(),
    workspaceFolders: [{ uri: pathToFileURL(workspace).toString(), name: "workspace" }],
    capabilities: {
      window: { workDoneProgress: true },
      workspace: { applyEdit: true, workspaceEdit: { documentChanges: true }, codeLens: { refreshSupport: true } },
      textDocument: { codeAction: { codeActionLiteralSupport: { codeActionKind: { valueSet: ["quickfix", "refactor"] } } } },
    },
  });
  const commands = initialized.capabilities.executeCommandProvider.commands;
  for (const command of ["codexos.agent.run", "codexos.agent.retry", "codexos.agent.cancel", "codexos.chat", "codexos.action.explain", "codexos.catalog", "codexos.flow.templates"]) {
    assert.ok(commands.includes(command), `the server executes ${command}: ${commands}`);
  }
  connection.sendNotification("initialized", {});
  await waitFor("codexos/status ready", (m) => m.method === "codexos/status" && m.params.state === "ready");
}, TEST);

after(async () => {
  connection?.dispose();
  if (server && server.exitCode === null && server.signalCode === null) server.kill("SIGKILL");
  await fake?.close();
});

test("▶ Run's lens, then a run under the editor's token: progress, run events and the result's shape", TEST, async () => {
  openDocument("flows/flaky.flow.json", "codexos-flow");
  const lenses = await connection.sendRequest("textDocument/codeLens", { textDocument: { uri: uri("flows/flaky.flow.json") } });
  assert.deepEqual(
    lenses.map((l) => [l.command.title, l.command.command]),
    [["▶ Run", "codexos.agent.run"]],
  );
  const token = "codexos.vscode/run/protocol/1";
  const result = await execute("codexos.agent.run", { flow: join(workspace, "flows/flaky.flow.json"), input: "protocol input", context: [] }, token);
  assert.equal(result.status, "failed");
  assert.match(result.run_id, /^[\w-]+$/);
  assert.equal(result.nodes.ask.output, "The answer");
  assert.equal(result.nodes.read.status, "failed");
  assert.match(result.error, /later\.txt/);

  // The answer may overtake the run's last notifications on the wire: wait for them.
  await waitFor("the run's finished event", (m) => m.method === "codexos/runEvent" && m.params.token === token && m.params.kind === "finished");
  await waitFor("the run's progress end", (m) => m.method === "$/progress" && m.params.token === token && m.params.value.kind === "end");
  const events = received.filter((m) => m.method === "codexos/runEvent" && m.params.token === token).map((m) => m.params);
  assert.deepEqual(
    events.filter((e) => e.kind !== "token").map((e) => [e.kind, e.node ?? null]),
    [
      ["started", null],
      ["node_started", "start"],
      ["node_finished", "start"],
      ["node_started", "ask"],
      ["node_finished", "ask"],
      ["node_started", "read"],
      // The policy allows reading a workspace file: a decision event (only the trace and rich
      // UIs show it; progress reports leave it out).
      ["decision", "read"],
      ["node_failed", "read"],
      ["finished", null],
    ],
  );
  assert.ok(events.every((e) => e.run_id === result.run_id), "every event names the run");
  assert.equal(events.filter((e) => e.kind === "token").map((e) => e.text).join(""), "The answer");
  const progress = received.filter((m) => m.method === "$/progress" && m.params.token === token).map((m) => m.params.value);
  assert.equal(progress[0].kind, "begin");
  assert.equal(progress[0].cancellable, true);
  assert.equal(progress.at(-1).kind, "end");
  assert.ok(
    !received.some((m) => m.method === "window/workDoneProgress/create" && m.params.token === token),
    "the server creates no token of its own when the editor gave one",
  );

  const retryLens = await waitFor("the lens list refreshed after the run", (m) => m.method === "workspace/codeLens/refresh");
  assert.ok(retryLens);
  const after = await connection.sendRequest("textDocument/codeLens", { textDocument: { uri: uri("flows/flaky.flow.json") } });
  const retry = after.find((l) => l.command.command === "codexos.agent.retry");
  assert.deepEqual(retry?.command.arguments, [{ run_id: result.run_id }], "↻ Retry last failed names the failed run");
});

test("the chat streams under the editor's token and answers with its model and sources", TEST, async () => {
  const token = "codexos.vscode/chat/protocol/1";
  const result = await execute("codexos.chat", { messages: [{ role: "user", content: "Which function retries payments?" }] }, token);
  assert.equal(result.answer, "retry_payment does.");
  assert.match(result.model, /gpt-4o-mini/);
  const source = result.sources.find((s) => s.path === "src/retry.rs");
  assert.ok(source, `src/retry.rs is a source: ${JSON.stringify(result.sources)}`);
  assert.ok(Number.isInteger(source.start_line) && source.end_line >= source.start_line);
  const tokens = received.filter((m) => m.method === "codexos/runEvent" && m.params.token === token && m.params.kind === "token");
  assert.ok(tokens.length >= 2, `the answer streams in pieces: ${JSON.stringify(tokens.map((m) => m.params.text))}`);
});

test("a selection offers the inline actions, and Refactor's edit comes back through workspace/applyEdit", TEST, async () => {
  const text = openDocument("src/retry.rs", "rust");
  const line = text.split("\n")[2];
  assert.equal(line, "    let mut delay_ms = 100;");
  const range = { start: { line: 2, character: 0 }, end: { line: 2, character: line.length } };
  const actions = await connection.sendRequest("textDocument/codeAction", {
    textDocument: { uri: uri("src/retry.rs") },
    range,
    context: { diagnostics: [] },
  });
  const offered = actions.map((a) => [a.title, a.command?.command]);
  for (const [title, command] of [["Explain", "codexos.action.explain"], ["Refactor…", "codexos.action.refactor"], ["Write tests", "codexos.action.tests"]]) {
    assert.ok(offered.some(([t, c]) => t === title && c === command), `${title} → ${command} offered: ${JSON.stringify(offered)}`);
  }
  const explained = await execute("codexos.action.explain", { uri: uri("src/retry.rs"), range });
  assert.equal(explained.answer, "It retries.");

  const refactored = await execute("codexos.action.refactor", { uri: uri("src/retry.rs"), range, instruction: "start at 50 ms" });
  assert.equal(typeof refactored.answer, "string");
  assert.equal(applied.length, 1, "one edit to apply");
  const edits = applied[0].documentChanges?.flatMap((c) => c.edits) ?? Object.values(applied[0].changes ?? {}).flat();
  assert.equal(edits.length, 1);
  assert.deepEqual(edits[0].range.start, { line: 2, character: 0 });
  assert.match(edits[0].newText, /let mut delay_ms = 50;/);
});

test("a shell command waits for the user's answer to window/showMessageRequest, and each answer is a decision event", TEST, async () => {
  const command = "echo approved > proof.txt";
  writeFileSync(
    join(workspace, "flows/proof.flow.json"),
    JSON.stringify({
      id: "proof",
      nodes: [
        { id: "start", type: "entry", next: "stamp" },
        { id: "stamp", type: "tool", tool: "shell", args: { command }, next: "end" },
        { id: "end", type: "exit", output: "stamped" },
      ],
    }),
  );
  const runWith = async (answer, token) => {
    permissionAnswer = answer;
    const result = await execute("codexos.agent.run", { flow: join(workspace, "flows/proof.flow.json"), input: "", context: [] }, token);
    await waitFor("the run's finished event", (m) => m.method === "codexos/runEvent" && m.params.token === token && m.params.kind === "finished");
    const decisions = received.filter((m) => m.method === "codexos/runEvent" && m.params.token === token && m.params.kind === "decision");
    const reports = received
      .filter((m) => m.method === "$/progress" && m.params.token === token && m.params.value.kind === "report")
      .map((m) => m.params.value.message);
    return { result, decisions: decisions.map((m) => m.params), reports };
  };
  const asked = () => received.filter((m) => m.method === "window/showMessageRequest");

  const once = await runWith("Allow once", "codexos.vscode/run/protocol/allow-once");
  assert.equal(once.result.status, "succeeded");
  assert.equal(asked().length, 1, "the command was asked about once");
  const question = asked()[0].params;
  assert.equal(question.type, 2, "a warning");
  assert.deepEqual(question.actions, [{ title: "Allow" }, { title: "Allow once" }, { title: "Deny" }]);
  assert.match(question.message, /node `stamp` of flow `proof` wants to run the shell command `echo approved > proof\.txt` \(tool `shell`\)/);
  assert.deepEqual(once.decisions, [
    {
      token: "codexos.vscode/run/protocol/allow-once",
      run_id: once.result.run_id,
      kind: "decision",
      node: "stamp",
      text: "allowed by you: run the shell command `echo approved > proof.txt`: you allowed it this once",
      decision: { tool: "shell", action: { kind: "command", tool: "shell", command }, verdict: "allowed", by: "user", reason: "you allowed it this once" },
    },
  ]);
  assert.ok(once.reports.includes("✔ stamp: shell allowed by you: run the shell command `echo approved > proof.txt`"), JSON.stringify(once.reports));

  // Dismissed (a null answer): refused, and the node fails saying so.
  const dismissed = await runWith(null, "codexos.vscode/run/protocol/dismissed");
  assert.equal(asked().length, 2, "Allow once is not remembered: asked again");
  assert.equal(dismissed.result.status, "failed");
  assert.match(dismissed.result.error, /node `stamp`: .*refused: you denied it/);
  assert.deepEqual(
    dismissed.decisions.map((e) => [e.node, e.decision.verdict, e.decision.by]),
    [["stamp", "refused", "user"]],
  );
  assert.ok(dismissed.reports.some((r) => r.startsWith("⛔ stamp: shell refused by you: run the shell command")), JSON.stringify(dismissed.reports));
});

test("shutdown and exit end the server", TEST, async () => {
  const exited = new Promise((resolve) => server.once("exit", (code) => resolve(code)));
  await connection.sendRequest("shutdown");
  connection.sendNotification("exit");
  const code = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve("still running"), 5_000).unref())]);
  assert.equal(code, 0, `the server's exit after shutdown and exit; stderr:\n${serverLog}`);
});
