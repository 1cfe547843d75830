// The permission question in a real VS Code (code-server, headless Chromium) with the real
// codexos server: a flow whose `tool` node runs a shell command, in a workspace whose codexos.toml
// turns the shell tool on. The server asks with `window/showMessageRequest`, which VS Code shows
// as a warning notification with one button per action; the test clicks them as a user would.
// "Deny" fails the node and runs nothing; "Allow" runs the command and remembers it in the
// user's trust store (this workbench's own XDG_CONFIG_HOME), so the next run is not asked; the
// run console and the trace page show each decision. Screenshots land in editors/vscode/test-output/.
import { test, before, after } from "node:test";
import * as assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { startWorkbench, quickOpen, eventually, runCommand, assertLinesInOrder, clickLens, typeInput, consoleUntil, tracePage } from "./harness.mjs";

const COMMAND = "echo approved > proof.txt";
const FLOW = {
  id: "proof",
  nodes: [
    { id: "start", type: "entry", next: "stamp" },
    { id: "stamp", type: "tool", tool: "shell", args: { command: COMMAND }, next: "end" },
    { id: "end", type: "exit", output: "stamped" },
  ],
};

let workbench;
/** The run the user denied, for the trace test. */
let deniedRun;

before(async () => {
  workbench = await startWorkbench("approvals", {
    files: { "codexos.toml": "[tools]\nallow_shell = true\n", "flows/proof.flow.json": JSON.stringify(FLOW, null, 2) },
  });
});

after(async () => {
  await workbench?.stop();
});

/** The server's question, as VS Code shows it: a notification toast naming the command. */
function question(page) {
  return page.locator(".notifications-toasts .notification-toast", { hasText: "wants to run the shell command" });
}

/** Runs the flow from its "▶ Run" lens. */
async function run(page, input) {
  await quickOpen(page, "flows/proof.flow.json");
  await clickLens(page, "▶ Run");
  await typeInput(page, input);
}

/** Waits for the question, checks what it says and which buttons it has, clicks `title`. */
async function answer(page, title, screenshot) {
  const toast = question(page);
  await toast.waitFor({ state: "visible", timeout: 60_000 });
  const text = (await toast.innerText()).replace(/\s+/g, " ");
  for (const expected of [COMMAND, "node `stamp` of flow `proof`", "tool `shell`"]) {
    assert.ok(text.includes(expected), `the question names ${expected}: ${text}`);
  }
  const buttons = await toast.locator(".monaco-button").allInnerTexts();
  assert.deepEqual(
    buttons.map((b) => b.trim()).filter((b) => b !== ""),
    ["Allow", "Allow once", "Deny"],
    "the question's buttons",
  );
  if (screenshot) await workbench.screenshot(screenshot);
  await toast.locator(".monaco-button", { hasText: new RegExp(`^${title}$`) }).click();
  await toast.waitFor({ state: "hidden", timeout: 10_000 });
}

/** The trust store's text ("" before anything was remembered). */
function trustStore() {
  return existsSync(workbench.trustStore) ? readFileSync(workbench.trustStore, "utf8") : "";
}

test("Deny on the question fails the node, runs nothing and remembers nothing", async () => {
  const { page, workspace } = workbench;
  await run(page, "deny it");
  await answer(page, "Deny", "approval-question.png");
  const denied = await consoleUntil(page, /■ failed \(run [\w-]+\)/, "the denied run's end in the console");
  assertLinesInOrder("the denied run's console", denied, [
    /^Run flows\/proof\.flow\.json$/,
    /^▶ stamp \(tool\)$/,
    /^⛔ stamp: shell refused by you: run the shell command `echo approved > proof\.txt`: you denied it/,
    /^✗ stamp: .*refused: you denied it/,
    /^■ failed \(run [\w-]+\)$/,
  ]);
  deniedRun = /■ failed \(run ([\w-]+)\)/.exec(denied)[1];
  assert.equal(existsSync(join(workspace, "proof.txt")), false, "a denied command does not run");
  assert.ok(!trustStore().includes(COMMAND), `a denied command is not remembered:\n${trustStore()}`);
  await workbench.screenshot("approval-denied.png");
});

test("Allow on the question runs the command, remembers it, and the next run is not asked", async () => {
  const { page, workspace } = workbench;
  await run(page, "allow it");
  await answer(page, "Allow");
  const allowed = await consoleUntil(page, /✔ stamp: shell allowed by you[\s\S]*■ succeeded \(run [\w-]+\)/, "the allowed run's end in the console");
  // The console holds the earlier run too, which has no ✔ line.
  assertLinesInOrder("the allowed run's console", allowed, [
    /^✔ stamp: shell allowed by you: run the shell command `echo approved > proof\.txt`: you allowed it; .* is remembered for this workspace$/,
    /^✓ stamp \(\d+ ms\)$/,
    /^■ succeeded \(run [\w-]+\)$/,
  ]);
  assert.equal(readFileSync(join(workspace, "proof.txt"), "utf8"), "approved\n", "the allowed command ran");
  assert.ok(trustStore().includes(`commands = ["${COMMAND}"]`), `the trust store holds the command:\n${trustStore()}`);

  // Remembered: the next run goes through without a question, and says who allowed it.
  rmSync(join(workspace, "proof.txt"));
  await run(page, "remembered");
  const remembered = await consoleUntil(
    page,
    /✔ stamp: shell allowed by trust store[\s\S]*■ succeeded \(run [\w-]+\)/,
    "the remembered run's end in the console",
  );
  assert.equal(await question(page).count(), 0, "a remembered command is not asked again");
  assertLinesInOrder("the remembered run's console", remembered, [
    /^✔ stamp: shell allowed by trust store: run the shell command `echo approved > proof\.txt`: you allowed/,
    /^✓ stamp \(\d+ ms\)$/,
    /^■ succeeded \(run [\w-]+\)$/,
  ]);
  await eventually(() => existsSync(join(workspace, "proof.txt")), (found) => found, 5_000, "proof.txt written by the remembered command");
  await workbench.screenshot("approval-remembered.png");
});

test("Show Run Trace marks the refused command under its node, with who refused it and why", async () => {
  assert.ok(deniedRun, "the Deny test ran first");
  const { page } = workbench;
  await runCommand(page, "CodexOS: Show Run Trace");
  const row = page.locator(".quick-input-list .monaco-list-row", { hasText: deniedRun });
  await row.first().waitFor({ state: "visible", timeout: 20_000 });
  await row.first().click();
  const text = await tracePage(page, deniedRun, (t) => t.includes("Refused"), "the denied run's trace page");
  assert.match(text, /Decisions: 1 refused/);
  assert.match(text, /⛔ Refused by you: run the shell command `echo approved > proof\.txt` — you denied it \(agents run commands only with your approval\)/);
  for (const frame of page.frames()) {
    const refusal = frame.locator("li", { hasText: "Refused by you" });
    if ((await refusal.count().catch(() => 0)) > 0) await refusal.first().scrollIntoViewIfNeeded();
  }
  await workbench.screenshot("approval-trace.png");
});
