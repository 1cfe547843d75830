// What a user sees in a real VS Code with the CodexOS extension: the server's diagnostics with
// their codes in the Problems panel, and a completion list inside a flow. Screenshots of each
// land in editors/vscode/test-output/.
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
