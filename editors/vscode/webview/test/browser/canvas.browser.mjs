// The built webview bundle in a plain page, in headless Chromium (Debian's chromium through
// playwright-core), with a stub of VS Code's webview API that records what the canvas posts.
// Asserts what the canvas draws and the edits its gestures send. Run: npm run test:canvas
import { test, before, after } from "node:test";
import * as assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const extension = join(here, "../../..");
const bundle = join(extension, "dist/webview");
const outputDir = join(extension, "test-output");
const flowText = readFileSync(join(extension, "../../flows/templates/triage-issue.flow.json"), "utf8");

let browser;
let page;

/** The messages the canvas posted to the (stubbed) extension. */
const posted = () => page.evaluate(() => window.__posted);
const send = (message) => page.evaluate((m) => window.postMessage(m, "*"), message);
const node = (id) => page.locator(`.react-flow__node[data-id="${id}"]`);

async function lastEdit() {
  const edits = (await posted()).filter((m) => m.type === "edit");
  return edits[edits.length - 1];
}

function applyEdits(text, edits) {
  let result = text;
  for (const e of [...edits].sort((a, b) => b.offset - a.offset)) {
    result = result.slice(0, e.offset) + e.content + result.slice(e.offset + e.length);
  }
  return result;
}

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), "codexos-canvas-"));
  writeFileSync(
    join(dir, "index.html"),
    `<!DOCTYPE html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="${pathToFileURL(join(bundle, "flowEditor.css"))}">
<script>
  window.__posted = [];
  window.acquireVsCodeApi = () => ({ postMessage: (m) => window.__posted.push(m), getState: () => undefined, setState: () => {} });
</script></head>
<body><div id="root"></div><script src="${pathToFileURL(join(bundle, "flowEditor.js"))}"></script></body></html>`,
  );
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  await page.goto(pathToFileURL(join(dir, "index.html")).href);
  await page.waitForFunction(() => window.__posted.some((m) => m.type === "ready"));
  await send({ type: "document", text: flowText, version: 1 });
  await page.waitForSelector(".react-flow__node");
  assert.deepEqual(errors, []);
  mkdirSync(outputDir, { recursive: true });
});

after(async () => {
  await browser?.close();
});

test("the flow renders every node with its type and every edge, then/else labelled", async () => {
  assert.equal(await page.locator(".react-flow__node").count(), 9);
  await page.waitForFunction(() => document.querySelectorAll(".react-flow__edge").length === 8);
  assert.equal(await page.locator(".cx-type-condition").count(), 1);
  assert.equal(await page.locator(".cx-type-exit").count(), 2);
  const labels = await page.locator(".react-flow__edge-text").evaluateAll((els) => els.map((e) => e.textContent));
  assert.deepEqual(labels.sort(), ["else", "then"]);
  assert.match(await page.getByTestId("counts").innerText(), /9 nodes · 8 edges/);
  await page.screenshot({ path: join(outputDir, "canvas-rendered.png") });
});

test("dragging a node sends an edit that writes its ui position", async () => {
  const box = await node("classify").boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + 10);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width / 2 + 60, box.y + 40, { steps: 8 });
  await page.mouse.move(box.x + box.width / 2 + 120, box.y + 70, { steps: 8 });
  await page.mouse.up();
  await page.waitForFunction(() => window.__posted.some((m) => m.type === "edit"));
  const edit = await lastEdit();
  assert.equal(edit.version, 1);
  assert.equal(edit.label, "Move classify");
  const after = JSON.parse(applyEdits(flowText, edit.edits));
  const classify = after.nodes.find((n) => n.id === "classify");
  assert.ok(Number.isInteger(classify.ui.x) && Number.isInteger(classify.ui.y), JSON.stringify(classify.ui));
  // Nothing but the ui block changed.
  delete classify.ui;
  assert.deepEqual(after, JSON.parse(flowText));
});

test("connecting two handles sends the next edit", async () => {
  const from = node("plan").locator(".react-flow__handle.target");
  const to = await node("reply").locator(".react-flow__handle.source").boundingBox();
  // Drag from `reply`'s output to `plan`'s input: reply gains a second successor (parallel).
  const fromBox = await from.boundingBox();
  await page.mouse.move(to.x + to.width / 2, to.y + to.height / 2);
  await page.mouse.down();
  await page.mouse.move(fromBox.x + fromBox.width / 2, fromBox.y + fromBox.height / 2 + 20, { steps: 10 });
  await page.mouse.move(fromBox.x + fromBox.width / 2, fromBox.y + fromBox.height / 2, { steps: 4 });
  await page.mouse.up();
  await page.waitForFunction(() => window.__posted.filter((m) => m.type === "edit").some((m) => m.label.startsWith("Connect")));
  const edit = await lastEdit();
  assert.equal(edit.label, "Connect reply → plan");
  const after = JSON.parse(applyEdits(flowText, edit.edits));
  assert.deepEqual(after.nodes.find((n) => n.id === "reply").next, ["answered", "plan"]);
});

test("a change from the text side redraws the canvas and keeps the viewport", async () => {
  const viewport = () => page.locator(".react-flow__viewport").getAttribute("style");
  await page.mouse.move(900, 500);
  await page.mouse.wheel(0, 300);
  await page.waitForTimeout(300);
  const before = await viewport();
  const text = flowText.replace('{ "id": "answered", "type": "exit", "output": "{{nodes.reply.output}}" }', '{ "id": "answered", "type": "exit", "output": "{{nodes.reply.output}}" },\n    { "id": "extra", "type": "exit" }');
  assert.notEqual(text, flowText);
  await send({ type: "document", text, version: 2 });
  await page.waitForFunction(() => document.querySelectorAll(".react-flow__node").length === 10);
  assert.equal(await viewport(), before);
  await send({ type: "document", text: flowText, version: 3 });
  await page.waitForFunction(() => document.querySelectorAll(".react-flow__node").length === 9);
});

test("a diagnostic shows a red badge on its node with the message on hover", async () => {
  const offset = flowText.indexOf('"then": "suspects"');
  await send({
    type: "diagnostics",
    items: [{ offset, end: offset + 6, severity: "error", message: "`suspect` names no node", code: "unknown-node" }],
  });
  const badge = node("is_bug").locator(".cx-badge-error");
  await badge.waitFor();
  assert.equal(await badge.innerText(), "1");
  assert.match(await badge.getAttribute("title"), /error\[unknown-node\]: `suspect` names no node/);
  assert.equal(await page.locator(".cx-badge").count(), 1);
  await page.screenshot({ path: join(outputDir, "canvas-diagnostic.png") });
});

test("run events light up the running node, and a failed node offers retry from here", async () => {
  await page.getByLabel("Run input").fill("the parser crashes on empty input");
  await page.getByRole("button", { name: "▶ Run" }).click();
  await page.waitForFunction(() => window.__posted.some((m) => m.type === "run"));
  const run = (await posted()).find((m) => m.type === "run");
  assert.deepEqual(run, { type: "run", input: "the parser crashes on empty input" });
  await send({ type: "runStarted", input: run.input });
  await send({ type: "runEvent", event: { run_id: "r1", kind: "node_started", node: "classify" } });
  await node("classify").locator(".cx-run-running").waitFor();
  await send({ type: "runEvent", event: { run_id: "r1", kind: "node_finished", node: "classify", text: "bug", ms: 5 } });
  await node("classify").locator(".cx-run-done").waitFor();
  assert.match(await node("classify").locator(".cx-node").getAttribute("title"), /classify output:\nbug/);
  await send({ type: "runEvent", event: { run_id: "r1", kind: "node_failed", node: "suspects", text: "index not built" } });
  await send({ type: "runFinished", summary: { run_id: "r1", status: "failed", error: "index not built", input: run.input, outputs: { classify: "bug" } } });
  const retry = node("suspects").getByRole("button", { name: "↻ Retry from here" });
  await retry.waitFor();
  await page.screenshot({ path: join(outputDir, "canvas-run.png") });
  await retry.click();
  await page.waitForFunction(() => window.__posted.some((m) => m.type === "retry"));
  const last = (await posted()).at(-1);
  assert.deepEqual(last, { type: "retry", runId: "r1" });
});

test("a selected node that ran offers replay from here, and one that did not run does not", async () => {
  await node("repro").click();
  assert.equal(await node("repro").getByRole("button", { name: "↺ Replay from here" }).count(), 0, "repro never ran");
  await node("classify").click();
  const replay = node("classify").getByRole("button", { name: "↺ Replay from here" });
  await replay.waitFor();
  await replay.click();
  await page.waitForFunction(() => window.__posted.some((m) => m.type === "replay"));
  assert.deepEqual((await posted()).at(-1), { type: "replay", runId: "r1", node: "classify" });
  await page.keyboard.press("Escape");
});

test("the drawer edits a field and previews the prompt with the last run's values", async () => {
  await node("repro").click();
  const drawer = page.getByTestId("drawer");
  await drawer.waitFor();
  const preview = drawer.getByTestId("prompt-preview").last();
  assert.match(await preview.innerText(), /Bug report:\nthe parser crashes on empty input/);
  const temperature = drawer.locator('input[name="temperature"]');
  await temperature.fill("0.5");
  await temperature.press("Enter");
  await page.waitForFunction(() => window.__posted.some((m) => m.label === "Set repro.temperature"));
  const edit = await lastEdit();
  assert.equal(edit.label, "Set repro.temperature");
  assert.equal(edit.version, 3);
  const after = JSON.parse(applyEdits(flowText, edit.edits));
  assert.equal(after.nodes.find((n) => n.id === "repro").temperature, 0.5);
  await page.screenshot({ path: join(outputDir, "canvas-drawer.png") });
});

test("a tool node's arguments are a form built from the tool's JSON Schema", async () => {
  const text = `{
  "id": "words",
  "nodes": [
    { "id": "start", "type": "entry", "next": "count" },
    { "id": "count", "type": "tool", "tool": "word_count", "args": { "path": "README.md" }, "next": "sub" },
    { "id": "sub", "type": "flow", "flow": "helpers/summary.flow.json", "next": "end" },
    { "id": "end", "type": "exit" }
  ]
}
`;
  await send({ type: "document", text, version: 10 });
  await send({
    type: "catalog",
    models: ["local"],
    tools: ["read_file", "word_count"],
    vaultKeys: [],
    toolSchemas: {
      word_count: {
        description: "Count the words of a file",
        properties: { path: { type: "string", description: "the file" }, limit: { type: "integer" } },
        required: ["path"],
      },
    },
  });
  await page.waitForFunction(() => document.querySelectorAll(".react-flow__node").length === 4);
  await node("count").locator(".cx-id").click();
  const form = page.getByTestId("tool-args");
  await form.waitFor();
  assert.match(await form.innerText(), /Count the words of a file[\s\S]*path[\s\S]*the file \(required\)[\s\S]*limit/);
  const limit = form.locator('input[name="limit"]');
  await limit.fill("3");
  await limit.press("Enter");
  await page.waitForFunction(() => window.__posted.some((m) => m.label === "Set count.args"));
  const edit = await lastEdit();
  assert.equal(edit.version, 10);
  const after = JSON.parse(applyEdits(text, edit.edits));
  assert.deepEqual(after.nodes[1].args, { path: "README.md", limit: 3 });
  await page.screenshot({ path: join(outputDir, "canvas-tool-form.png") });
});

test("double-clicking a sub-flow node asks to open that flow", async () => {
  await node("sub").locator(".cx-id").dblclick();
  await page.waitForFunction(() => window.__posted.some((m) => m.type === "openFlow"));
  assert.deepEqual((await posted()).find((m) => m.type === "openFlow"), { type: "openFlow", path: "helpers/summary.flow.json" });
});
