// The CodexOS Flow Editor in a real VS Code (code-server, headless Chromium): "Open With…" draws
// the flow; dragging a node and wiring two nodes change the text document (shown beside, the tab
// turns dirty, undo restores it); a broken reference puts a badge on its node; "New Flow from
// Template" forks a template and opens it; running a flow from the canvas lights each node as the
// real server runs it, a finished node shows its output on hover and a failed one offers
// "Retry from here", then "Replay from here" on a node that ran. Screenshots land in
// editors/vscode/test-output/.
import { test, before, after } from "node:test";
import * as assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startWorkbench, openFile, eventually, editorText, notificationTexts, outputDir } from "./harness.mjs";
import { startFakeProvider } from "./fakeProvider.mjs";

let workbench;
let fake;
let releaseModel;
const modelReleased = new Promise((resolve) => (releaseModel = resolve));

before(async () => {
  // The canvas's runs go to the real server, whose model calls come here; the model stays
  // mid-answer until the test has seen its node lit.
  fake = await startFakeProvider(() => ({ chunks: ["The ", "answer"], until: modelReleased }));
  workbench = await startWorkbench("flow-editor", { env: { OPENAI_BASE_URL: fake.url } });
});

after(async () => {
  await workbench?.stop();
  await fake?.close();
});

/** Opens a file with the CodexOS Flow Editor from the Explorer's "Open With…" menu. On a loaded
 * machine a context menu can open late or for the previous row: then close it and try again. */
async function openWithFlowEditor(page, relativePath) {
  await openFile(page, relativePath);
  const name = relativePath.split("/").pop();
  for (let attempt = 1; ; attempt++) {
    try {
      await page.locator(`.explorer-folders-view .monaco-list-row[aria-label="${name}"]`).first().click({ button: "right" });
      // The menu item is chosen by keyboard too: a click on it can land while the menu is still
      // being laid out and do nothing.
      await page.locator(".context-view .action-label", { hasText: "Open With" }).first().hover({ timeout: 10_000 });
      await page.keyboard.press("Enter");
      // Picked by keyboard, as a user can: on a loaded machine the quick pick's row is in the page
      // (and selected) before Playwright sees it visible, and a click then times out.
      await page
        .locator(".quick-input-list .monaco-list-row", { hasText: "CodexOS Flow Editor" })
        .first()
        .waitFor({ state: "attached", timeout: 10_000 });
      await page.keyboard.type("CodexOS Flow Editor");
      await page.keyboard.press("Enter");
      await page.locator(".quick-input-widget").waitFor({ state: "hidden", timeout: 10_000 });
      return;
    } catch (error) {
      await page.screenshot({ path: `${outputDir}/open-with-attempt-${attempt}.png` });
      if (attempt === 3) throw error;
      await page.keyboard.press("Escape");
      await page.keyboard.press("Escape");
    }
  }
}

/** The flow editor's webview frame (a nested iframe) once it has drawn nodes. */
async function canvasFrame(page, title) {
  return eventually(
    async () => {
      for (const frame of page.frames()) {
        const drawn = await frame
          .locator(".react-flow__node")
          .count()
          .catch(() => 0);
        if (drawn === 0) continue;
        const name = await frame
          .locator(".cx-title")
          .innerText({ timeout: 1_000 })
          .catch(() => "");
        if (name === title) return frame;
      }
      return undefined;
    },
    (frame) => frame !== undefined,
    60_000,
    `the flow editor canvas for ${title}`,
  );
}

/** A locator's box once it has stopped moving (the canvas redraws after each document change). */
async function settledBox(locator) {
  let last = await locator.boundingBox();
  for (let i = 0; i < 40; i++) {
    await new Promise((r) => setTimeout(r, 250));
    const box = await locator.boundingBox();
    if (box && last && box.x === last.x && box.y === last.y && box.width === last.width) return box;
    last = box;
  }
  throw new Error(`${locator} kept moving`);
}

async function dirty(page, fileName) {
  return page.locator(`.tab.dirty[aria-label*="${fileName}"]`).count();
}

test("Open With → CodexOS Flow Editor draws every node and edge of the flow", async () => {
  const { page } = workbench;
  await openWithFlowEditor(page, "flows/answer.flow.json");
  const frame = await canvasFrame(page, "answer");
  assert.equal(await frame.locator(".react-flow__node").count(), 4);
  await eventually(() => frame.locator(".react-flow__edge").count(), (n) => n === 3, 20_000, "three edges");
  assert.deepEqual(
    (await frame.locator(".cx-id").allInnerTexts()).sort(),
    ["answer", "end", "search", "start"],
  );
  await workbench.screenshot("flow-editor-open.png");
});

test("dragging a node writes its ui position into the document, dirty and undoable", async () => {
  const { page } = workbench;
  const frame = await canvasFrame(page, "answer");
  await frame.getByRole("button", { name: "Show JSON" }).click();
  await eventually(() => editorText(page), (t) => t.includes('"id": "answer"'), 20_000, "the JSON beside the canvas");
  // The canvas is half as wide now: fit the flow into it again, as a user would.
  await frame.locator(".react-flow__controls-fitview").click();
  await page.waitForTimeout(500);
  const box = await settledBox(frame.locator('.react-flow__node[data-id="search"]'));
  await page.mouse.move(box.x + box.width / 2, box.y + 12);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width / 2 + 40, box.y + 40, { steps: 6 });
  await page.mouse.move(box.x + box.width / 2 + 90, box.y + 60, { steps: 6 });
  await page.mouse.up();
  const text = await eventually(
    () => editorText(page),
    (t) => /"id":\s*"search".*"ui":\s*\{\s*"x":\s*-?\d+,\s*"y":\s*-?\d+\s*\}/.test(t),
    20_000,
    "the new ui position in the text editor",
  );
  assert.ok(text.includes('"query"'), "the rest of the node is untouched");
  assert.ok((await dirty(page, "answer.flow.json")) > 0, "the tab turns dirty");
  await workbench.screenshot("flow-editor-dragged.png");

  // Undo in the text editor restores the document, and the tab is clean again.
  await page.locator(".monaco-editor .view-lines").first().click();
  await page.keyboard.press("Control+Z");
  await page.keyboard.press("Control+Home");
  await eventually(() => editorText(page), (t) => !t.includes('"ui"'), 20_000, "the text without ui after undo");
  await eventually(() => dirty(page, "answer.flow.json"), (n) => n === 0, 10_000, "a clean tab after undo");
});

test("wiring a node's output to another node adds it to next", async () => {
  const { page } = workbench;
  const frame = await canvasFrame(page, "answer");
  const from = await settledBox(frame.locator('.react-flow__node[data-id="search"] .react-flow__handle.source'));
  const to = await settledBox(frame.locator('.react-flow__node[data-id="end"] .react-flow__handle.target'));
  await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
  await page.mouse.down();
  await page.mouse.move(to.x + to.width / 2, to.y - 20, { steps: 10 });
  await page.mouse.move(to.x + to.width / 2, to.y + to.height / 2, { steps: 4 });
  await page.mouse.up();
  await eventually(
    () => editorText(page),
    (t) => t.includes('"next": ["answer", "end"]'),
    20_000,
    "search's next gaining end",
  );
  await eventually(() => frame.locator(".react-flow__edge").count(), (n) => n === 4, 20_000, "the new edge on the canvas");
  await workbench.screenshot("flow-editor-wired.png");
});

test("the node drawer offers the server's models and its edits change the text", async () => {
  const { page } = workbench;
  const frame = await canvasFrame(page, "answer");
  await frame.locator('.react-flow__node[data-id="answer"] .cx-id').click();
  const drawer = frame.getByTestId("drawer");
  await drawer.waitFor({ timeout: 10_000 });
  const models = await eventually(
    () => frame.locator("#cx-models option").evaluateAll((options) => options.map((o) => o.value)),
    (names) => names.includes("local"),
    20_000,
    "model names in the picker",
  );
  assert.ok(models.length > 3, `${models}`);
  const maxTokens = drawer.locator('input[name="max_tokens"]');
  await maxTokens.fill("64");
  await maxTokens.press("Enter");
  await eventually(() => editorText(page), (t) => t.includes('"max_tokens": 64'), 20_000, "max_tokens 64 in the text");
  await workbench.screenshot("flow-editor-drawer.png");
});

test("a broken reference shows an error badge on its node", async () => {
  const { page } = workbench;
  await openWithFlowEditor(page, "flows/broken.flow.json");
  const frame = await canvasFrame(page, "broken");
  const badge = frame.locator('.react-flow__node[data-id="start"] .cx-badge-error');
  await badge.waitFor({ timeout: 60_000 });
  assert.match(await badge.getAttribute("title"), /unknown-node/);
  await workbench.screenshot("flow-editor-badge.png");
});

test("New Flow from Template forks the picked template into the workspace and opens it on the canvas", async () => {
  const { page, workspace } = workbench;
  await page.keyboard.press("Escape");
  await page.keyboard.press("F1");
  await page.waitForSelector(".quick-input-widget input", { state: "visible" });
  await page.keyboard.type("CodexOS: New Flow from Template");
  await page.locator(".quick-input-list .monaco-list-row", { hasText: "New Flow from Template" }).first().click();
  const research = page.locator(".quick-input-list .monaco-list-row", { hasText: "Research a question" });
  await research.waitFor({ timeout: 20_000 });
  const offered = await page.locator(".quick-input-list .monaco-list-row").count();
  assert.ok(offered >= 6, `the quick pick offers every template (${offered})`);
  await workbench.screenshot("flow-template-pick.png");
  await research.click();
  const input = page.locator(".quick-input-widget input");
  await eventually(() => input.inputValue(), (v) => v === "flows/research.flow.json", 10_000, "the proposed file name");
  // Enter on the input itself (focused first): on a loaded machine the key can otherwise land
  // before the box has focus.
  await input.press("Enter");
  const frame = await canvasFrame(page, "Research a question").catch(async (error) => {
    await workbench.screenshot("flow-template-failure.png");
    throw new Error(`${error.message}\nnotifications: ${(await notificationTexts(page)).join(" | ")}`);
  });
  assert.equal(await frame.locator(".react-flow__node").count(), 6);
  await eventually(() => frame.locator(".react-flow__edge").count(), (n) => n === 7, 20_000, "seven edges (parallel branches and the reflect target)");
  const forked = JSON.parse(readFileSync(join(workspace, "flows/research.flow.json"), "utf8"));
  assert.equal(forked.id, "research");
  await workbench.screenshot("flow-template-forked.png");
});

test("running from the canvas lights the running node, shows outputs on hover and retries a failed node", async () => {
  const { page, workspace } = workbench;
  await openWithFlowEditor(page, "flows/flaky.flow.json");
  const frame = await canvasFrame(page, "flaky");
  const node = (id) => frame.locator(`.react-flow__node[data-id="${id}"] .cx-node`);
  await frame.getByLabel("Run input").fill("canvas run");
  await frame.locator(".cx-run").click();
  // The model is held mid-answer: its node is lit while it streams.
  await eventually(() => node("ask").getAttribute("class"), (c) => /cx-run-running/.test(c ?? ""), 30_000, "the ask node lit as running");
  assert.match(await node("start").getAttribute("class"), /cx-run-done/, "the entry ran first");
  await workbench.screenshot("flow-editor-running.png");
  releaseModel();
  const retry = frame.locator('.react-flow__node[data-id="read"] .cx-retry');
  // The pane is narrow beside the earlier tests' editors: show every node before looking at one.
  const fitView = () => frame.locator(".react-flow__controls-fitview").click();
  await retry.waitFor({ state: "attached", timeout: 30_000 });
  await fitView();
  await retry.waitFor({ timeout: 30_000 });
  assert.match(await node("read").getAttribute("class"), /cx-run-failed/);
  assert.match(await node("ask").getAttribute("class"), /cx-run-done/);
  assert.equal(await node("ask").getAttribute("title"), "ask output:\nThe answer", "the finished node's output on hover");
  assert.match(await node("read").getAttribute("title"), /later\.txt/, "the failed node's error on hover");
  await workbench.screenshot("flow-editor-failed-node.png");

  // The tool's file is there now: retry from the failed node.
  writeFileSync(join(workspace, "later.txt"), "now here");
  await retry.click();
  await eventually(() => node("end").getAttribute("class"), (c) => /cx-run-done/.test(c ?? ""), 30_000, "the end node done after the retry");
  assert.match(await node("read").getAttribute("class"), /cx-run-done/);
  assert.equal(await node("read").getAttribute("title"), "read output:\nnow here");
  assert.equal(fake.bodies().length, 1, "the retry replays the model's answer instead of asking again");
  await workbench.screenshot("flow-editor-retried.png");

  // The selected node that ran offers a replay of the last run from there: the model is asked again.
  // Under load the canvas may still be redrawing the retry's last events when the node is
  // selected, and the click can land on a button being replaced: select and click again until
  // the replay's quick pick shows (three tries). Selecting the node adds its buttons and makes it
  // taller, which can push the replay button past the canvas's edge: fit the view again first.
  const replayChoice = page.locator(".quick-input-list .monaco-list-row", { hasText: "Replay from ask" }).first();
  for (let attempt = 1; ; attempt++) {
    await fitView();
    await frame.locator('.react-flow__node[data-id="ask"]').click();
    await fitView();
    await frame.locator('.react-flow__node[data-id="ask"] .cx-replay').click();
    const shown = await replayChoice.waitFor({ timeout: 10_000 }).then(() => true, () => false);
    if (shown) break;
    if (attempt === 3) throw new Error(`the replay's quick pick did not show after ${attempt} clicks on ↺ Replay from here`);
    await page.keyboard.press("Escape");
  }
  await replayChoice.click();
  await eventually(() => fake.bodies().length, (n) => n === 2, 30_000, "ask asked again by the replay");
  await eventually(() => node("end").getAttribute("class"), (c) => /cx-run-done/.test(c ?? ""), 30_000, "the end node done after the replay");
  assert.match(await node("start").getAttribute("class"), /cx-run-done/, "the node before ask keeps its recorded output");
  await workbench.screenshot("flow-editor-replayed.png");
});
