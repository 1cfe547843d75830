// What a user sees in a real VS Code with the CodexOS extension: the status bar reaching "ready"
// once the server has indexed the workspace, the server's diagnostics with their codes in the
// Problems panel, a completion list inside a flow, and Search Workspace's quick pick opening a
// result at its range. Screenshots of each land in editors/vscode/test-output/.
import { test, before, after } from "node:test";
import * as assert from "node:assert/strict";
import { startWorkbench, openFile, goTo, eventually } from "./harness.mjs";

let workbench;

before(async () => {
  workbench = await startWorkbench("workbench");
});

after(async () => {
  await workbench?.stop();
});

/** Runs a command from the command palette by its title. */
async function runCommand(page, title) {
  await page.keyboard.press("Escape");
  await page.keyboard.press("F1");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor({ state: "visible" });
  await input.fill(`>${title}`);
  await page.locator(".quick-input-list .monaco-list-row", { hasText: title }).first().click();
}

test("the status bar shows the server's index summary once indexing is done", async () => {
  const { page } = workbench;
  const item = page.locator('.statusbar-item[id$="codexos.status"]');
  // The accessible label carries the item's text and tooltip: "CodexOS: ready, N files (…)".
  const label = await eventually(
    () => item.getAttribute("aria-label").catch(() => ""),
    (text) => /CodexOS: ready/.test(text ?? ""),
    60_000,
    "the status bar item reaching ready",
  );
  assert.match(label, /5 files \(\d+ indexed, \d+ unchanged, \d+ skipped\), \d+ chunks/, "the server's own summary");
  await workbench.screenshot("status-ready.png");
});

test("Search Workspace lists matching chunks and opens the picked one at its range", async () => {
  const { page } = workbench;
  await runCommand(page, "CodexOS: Search Workspace");
  await page.keyboard.type("is the invoice overdue today");
  const rows = await eventually(
    () => page.locator(".quick-input-list .monaco-list-row").allInnerTexts().catch(() => []),
    (texts) => texts.some((t) => t.includes("src/invoice.py")),
    30_000,
    "search results from the index",
  );
  const hit = rows.find((t) => t.includes("src/invoice.py"));
  const line = Number(/src\/invoice\.py:(\d+)/.exec(hit)?.[1]);
  assert.ok(line > 0, `a result names its file and line: ${hit}`);
  await workbench.screenshot("search-results.png");
  await page.locator(".quick-input-list .monaco-list-row", { hasText: "src/invoice.py" }).first().click();
  await page.waitForSelector('.tab.active[aria-label*="invoice.py"]', { timeout: 20_000 });
  // The chunk is selected: the status bar says "Ln N, Col M (K selected)" with N in the chunk.
  const selection = await eventually(
    () => page.locator(".statusbar-item[id='status.editor.selection']").innerText().catch(() => ""),
    (text) => /\(\d+ selected\)/.test(text),
    10_000,
    "the result's range selected in the editor",
  );
  const cursorLine = Number(/Ln (\d+)/.exec(selection)?.[1]);
  assert.ok(cursorLine >= line, `the selection (${selection}) is the chunk starting at line ${line}`);
  await workbench.screenshot("search-opened.png");
});

test("the Problems panel lists the codexos diagnostics of a broken flow with their codes", async () => {
  const { page } = workbench;
  await openFile(page, "flows/broken.flow.json");
  await page.keyboard.press("Control+Shift+M");
  const problems = await eventually(
    () => page.locator(".markers-panel").innerText().catch(() => ""),
    (text) => text.includes("unknown-node") && text.includes("missing-exit"),
    60_000,
    "codexos diagnostics in the Problems panel",
  );
  assert.match(problems, /did you mean `planner`/);
  assert.match(problems, /codexos/);
  await workbench.screenshot("problems.png");
});

test("completion inside an empty next offers the flow's node ids", async () => {
  const { page } = workbench;
  await openFile(page, "flows/broken.flow.json");
  // Line 5 ends with `"next": "" }`: put the cursor between the two quotes.
  const line5 = '    { "id": "planner", "type": "llm", "model": "local", "prompt": "{{input}}", "next": "';
  await goTo(page, 5, line5.length + 1);
  await page.keyboard.press("Control+Space");
  const suggestions = await eventually(
    () => page.locator(".suggest-widget .monaco-list-row").allInnerTexts().catch(() => []),
    (rows) => rows.some((r) => r.includes("start")),
    30_000,
    "node ids in the completion list",
  );
  assert.ok(!suggestions.some((r) => r.startsWith("planner")), `a node does not suggest itself: ${suggestions}`);
  await workbench.screenshot("completion.png");
  await page.keyboard.press("Escape");
});
