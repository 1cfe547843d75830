// Unit tests of the extension's logic modules: plain Node, no `vscode` module anywhere.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as path from "node:path";
import { resolveServerPath } from "../logic/serverPath";
import { pickerCatalog } from "../flowEditor/logic";
import { RunConsole } from "../logic/console";
import { statusView } from "../logic/status";
import { toSearchItems } from "../logic/search";
import { ChatHistory } from "../logic/chat";
import { editorLensCommand } from "../logic/codeLens";
import { installedMessage, modelsOffer } from "../logic/models";

test("the server path setting wins when it is executable", () => {
  const found = resolveServerPath({
    setting: "/opt/codexos",
    pathEnv: "/usr/bin",
    extensionDir: "/ext",
    platform: "linux",
    isExecutable: (f) => f === "/opt/codexos" || f === "/usr/bin/codexos",
  });
  assert.deepEqual(found, { path: "/opt/codexos", source: "setting" });
});

test("a server path setting that is not executable is an error naming it", () => {
  const found = resolveServerPath({ setting: "/nope", pathEnv: "", extensionDir: "/ext", platform: "linux", isExecutable: () => false });
  assert.ok("error" in found && found.error.includes("/nope"));
});

test("without a setting the bundled binary comes before the one on PATH", () => {
  const pathEnv = ["/a", "/b"].join(path.delimiter);
  const exists = new Set(["/b/codexos", "/ext/server/codexos"]);
  const found = resolveServerPath({ setting: "", pathEnv, extensionDir: "/ext", platform: "linux", isExecutable: (f) => exists.has(f) });
  assert.deepEqual(found, { path: "/ext/server/codexos", source: "bundled" });
  exists.delete("/ext/server/codexos");
  const onPath = resolveServerPath({ setting: "", pathEnv, extensionDir: "/ext", platform: "linux", isExecutable: (f) => exists.has(f) });
  assert.deepEqual(onPath, { path: "/b/codexos", source: "PATH" });
});

test("the status bar's tooltip names the binary that runs and where it was found", () => {
  const view = statusView({ state: "ready" }, { path: "/ext/server/codexos", source: "bundled" });
  assert.equal(view.tooltip, "The workspace index is ready\nServer: /ext/server/codexos (bundled with the extension)");
});

test("the run console shows one line per node step and gathers streamed text", () => {
  const view = new RunConsole("demo.flow.json");
  view.apply({ token: 1, kind: "node_started", node: "plan" });
  view.apply({ token: 1, kind: "token", node: "plan", text: "Hel" });
  view.apply({ token: 1, kind: "token", node: "plan", text: "lo" });
  view.apply({ token: 1, kind: "node_finished", node: "plan", ms: 12 });
  view.apply({ token: 1, kind: "node_failed", node: "act", text: "tool timed out" });
  view.finish({ run_id: "r1", status: "failed", error: "node act failed", output: null });
  assert.equal(
    view.text(),
    ["Run demo.flow.json", "▶ plan", "Hello", "✓ plan (12 ms)", "✗ act: tool timed out", "■ failed (run r1)", "error: node act failed"].join("\n"),
  );
  assert.deepEqual(RunConsole.nodeLines(view.text()), ["▶ plan", "✓ plan (12 ms)", "✗ act: tool timed out"]);
});

test("a node line names the node's type, and the run's own start and end add nothing", () => {
  const view = new RunConsole("flaky.flow.json");
  const appended = [
    view.apply({ token: "t", kind: "started", text: "flaky" }),
    view.apply({ token: "t", kind: "node_started", node: "ask", text: "llm" }),
    view.apply({ token: "t", kind: "finished", status: "failed", text: "boom" }),
  ].join("");
  assert.equal(appended, "▶ ask (llm)\n");
  assert.equal(view.text(), "Run flaky.flow.json\n▶ ask (llm)");
});

test("the server's Run and Retry lenses open the editor's run and retry commands", () => {
  const uri = "file:///w/flows/a.flow.json";
  assert.deepEqual(editorLensCommand({ title: "▶ Run", command: "codexos.agent.run", arguments: [{ flow: "flows/a.flow.json" }] }, uri), {
    title: "▶ Run",
    command: "codexos.runFlow",
    arguments: [uri],
  });
  assert.deepEqual(editorLensCommand({ title: "↻ Retry last failed", command: "codexos.agent.retry", arguments: [{ run_id: "r1" }] }, uri), {
    title: "↻ Retry last failed",
    command: "codexos.retryRun",
    arguments: ["r1"],
  });
  const other = { title: "x", command: "codexos.reindex", arguments: [{}] };
  assert.equal(editorLensCommand(other, uri), other);
});

test("a note such as a cancel request ends the streamed line first", () => {
  const view = new RunConsole("x");
  assert.equal(view.apply({ token: 1, kind: "token", text: "tick tick" }) + view.note("■ cancel requested"), "tick tick\n■ cancel requested\n");
});

test("streamed text ends its line before the next node line", () => {
  const view = new RunConsole("x");
  const appended = [
    view.apply({ token: 1, kind: "token", text: "partial" }),
    view.apply({ token: 1, kind: "node_finished", node: "n", ms: 1 }),
  ].join("");
  assert.equal(appended, "partial\n✓ n (1 ms)\n");
});

test("the status bar says indexing with a percentage and ready when done", () => {
  assert.equal(statusView({ state: "indexing", percentage: 41.6 }).text, "$(sync~spin) CodexOS: indexing 42%");
  assert.equal(statusView({ state: "ready" }).text, "$(check) CodexOS: ready");
  assert.equal(statusView({ state: "error", message: "boom" }).tooltip, "boom");
});

test("clicking the status bar pauses indexing while it runs and resumes it when paused", () => {
  assert.equal(statusView({ state: "indexing", percentage: 3 }).command, "codexos.index.pause");
  const paused = statusView({ state: "paused", message: "indexing paused" });
  assert.equal(paused.text, "$(debug-pause) CodexOS: paused");
  assert.equal(paused.command, "codexos.index.resume");
  assert.equal(paused.tooltip, "indexing paused — click to resume");
  assert.equal(statusView({ state: "ready" }).command, "codexos.search");
});

test("search results become quick pick items with path, line and the first code line", () => {
  const items = toSearchItems(
    [
      { uri: "file:///w/src/lib.rs", range: { start: { line: 9, character: 0 }, end: { line: 20, character: 0 } }, symbol: "lib::parse", score: 0.9, snippet: "\n  fn parse() {}\n" },
      { uri: "file:///w/README.md", range: { start: { line: 0, character: 0 }, end: { line: 3, character: 0 } }, symbol: null, score: 0.5, snippet: "# Title" },
    ],
    (uri) => uri.replace("file:///w/", ""),
  );
  assert.deepEqual(
    items.map((i) => [i.label, i.description, i.detail]),
    [
      ["$(symbol-method) lib::parse", "src/lib.rs:10", "fn parse() {}"],
      ["$(file) README.md", "README.md:1", "# Title"],
    ],
  );
});

test("chat history keeps what the server said before the answer, once per line, on the open turn", () => {
  const history = new ChatHistory();
  history.ask("what is x?");
  history.note("… loading the local model (SmolLM2-135M-Instruct.Q4_1.gguf) and reading the prompt…");
  history.note("! local/default answered in place of `gpt-4o-mini`: openai/gpt-4o-mini skipped: no API key");
  history.note("… loading the local model (SmolLM2-135M-Instruct.Q4_1.gguf) and reading the prompt…");
  assert.equal(history.turns[0].notes?.length, 2);
  history.complete({ answer: "x.", model: "local/default", sources: [] });
  history.note("late");
  assert.equal(history.turns[0].notes?.length, 2, "a finished turn takes no more notes");
  assert.deepEqual(history.messages(), [
    { role: "user", content: "what is x?" },
    { role: "assistant", content: "x." },
  ]);
});

test("chat history sends finished turns and streams into the open one", () => {
  const history = new ChatHistory();
  history.ask("what is x?");
  history.stream("x is ");
  history.stream("a thing");
  assert.equal(history.turns[0].answer, "x is a thing");
  history.complete({ answer: "x is a thing.", model: "local", sources: [{ path: "a.rs", start_line: 1, end_line: 3 }] });
  history.ask("and y?");
  assert.deepEqual(history.messages(), [
    { role: "user", content: "what is x?" },
    { role: "assistant", content: "x is a thing." },
    { role: "user", content: "and y?" },
  ]);
  history.fail("server stopped");
  assert.equal(history.turns[1].answer, "⚠ server stopped");
});

test("the flow editor's pickers take the server's catalog, and free text without one", () => {
  const picked = pickerCatalog({
    models: [{ name: "local" }, { name: "qwen-big" }],
    tools: [
      { name: "read_file", detail: "Read a file", schema: { type: "object", properties: { path: { type: "string" } } } },
      { name: "github.search", detail: "an MCP tool" },
    ],
    vaultKeys: ["OPENAI_API_KEY"],
  });
  assert.deepEqual(picked.models, ["local", "qwen-big"]);
  assert.deepEqual(picked.tools, ["read_file", "github.search"]);
  assert.deepEqual(picked.vaultKeys, ["OPENAI_API_KEY"]);
  assert.deepEqual(Object.keys(picked.toolSchemas), ["read_file"]);
  assert.equal(picked.toolSchemas.read_file.description, "Read a file");
  assert.deepEqual(pickerCatalog(null), { models: [], tools: [], vaultKeys: [], toolSchemas: {} });
});


const allModels = [
  { name: "minilm", purpose: "the neural embedder", path: "all-MiniLM-L6-v2", installed: false },
  { name: "smollm2", purpose: "the in-process local LLM", path: "SmolLM2-135M-Instruct.Q4_1.gguf", installed: false },
  { name: "static-minilm", purpose: "the default indexing embedder", path: "static-minilm-256.bin", installed: false },
];

test("no offer when every local model is installed", () => {
  const installed = allModels.map((model) => ({ ...model, installed: true }));
  assert.equal(modelsOffer({ dir: "/m", models: installed, missing: [], download_bytes: 0 }), undefined);
});

test("the offer names the missing models, what the download costs, that CodexOS works without them and the command for later", () => {
  const offer = modelsOffer({ dir: "/m", models: allModels, missing: ["minilm", "smollm2", "static-minilm"], download_bytes: 176_377_424 });
  assert.ok(offer);
  for (const expected of ["minilm (the neural embedder)", "smollm2 (the in-process local LLM)", "a 176 MB download", "works without them", "built-in embedder", "CodexOS: Install Local Models"]) {
    assert.ok(offer.includes(expected), `${expected} in: ${offer}`);
  }
});

test("when only the distilled embedder is missing the offer says nothing is downloaded", () => {
  const models = allModels.map((model) => ({ ...model, installed: model.name !== "static-minilm" }));
  const offer = modelsOffer({ dir: "/m", models, missing: ["static-minilm"], download_bytes: 0 });
  assert.ok(offer?.includes("no download") && !offer.includes("smollm2"), offer);
});

test("the install's last word says what was installed, how long it took and what changes", () => {
  assert.equal(
    installedMessage({ installed: ["minilm", "smollm2"], dir: "/m", downloaded_bytes: 176_377_424, seconds: 94.6 }),
    "CodexOS: installed minilm, smollm2 in 95 s (176 MB downloaded). The workspace is indexed again with them; chat answers on the local model without a provider key.",
  );
  assert.equal(installedMessage({ installed: [], dir: "/m", downloaded_bytes: 0, seconds: 0.1 }), "CodexOS: every local model is already installed in /m.");
});
