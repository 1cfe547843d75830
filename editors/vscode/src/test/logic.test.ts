// Unit tests of the extension's logic modules: plain Node, no `vscode` module anywhere.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as path from "node:path";
import { resolveServerPath } from "../logic/serverPath";
import { RunConsole } from "../logic/console";
import { statusView } from "../logic/status";
import { toSearchItems } from "../logic/search";
import { ChatHistory } from "../logic/chat";

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

test("without a setting the binary on PATH comes before the bundled one", () => {
  const pathEnv = ["/a", "/b"].join(path.delimiter);
  const exists = new Set(["/b/codexos", "/ext/server/codexos"]);
  const found = resolveServerPath({ setting: "", pathEnv, extensionDir: "/ext", platform: "linux", isExecutable: (f) => exists.has(f) });
  assert.deepEqual(found, { path: "/b/codexos", source: "PATH" });
  exists.delete("/b/codexos");
  const bundled = resolveServerPath({ setting: "", pathEnv, extensionDir: "/ext", platform: "linux", isExecutable: (f) => exists.has(f) });
  assert.deepEqual(bundled, { path: "/ext/server/codexos", source: "bundled" });
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
    ["▶ demo.flow.json", "▶ plan", "Hello", "✓ plan (12 ms)", "✗ act: tool timed out", "■ failed (run r1)", "error: node act failed"].join("\n"),
  );
  assert.deepEqual(RunConsole.nodeLines(view.text()), ["▶ demo.flow.json", "▶ plan", "✓ plan (12 ms)", "✗ act: tool timed out"]);
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
