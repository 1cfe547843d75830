// What a user sees in a real VS Code with the CodexOS extension and the real codexos server,
// whose OpenAI-compatible calls go to a fake provider on loopback: the status bar reaching
// "ready" once the server has indexed the workspace, the server's diagnostics with their codes
// in the Problems panel, a completion list inside a flow, Search Workspace's quick pick opening a
// result at its range, a flow run from its "▶ Run" lens followed node by node in the execution
// console (then "↻ Retry last failed", and Cancel), the chat view streaming an answer with
// clickable sources, Explain on a selection, the vault's commands (the value typed hidden,
// listed by name only), Show Run Trace's page of a run with its rag node's chunks, and a fork of
// that run from its trace page.
// Screenshots land in editors/vscode/test-output/.
import { test, before, after } from "node:test";
import * as assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  startWorkbench,
  openFile,
  quickOpen,
  goTo,
  eventually,
  runCommand,
  editorText,
  assertLinesInOrder,
  notificationTexts,
  clickLens,
  typeInput,
  consoleUntil,
  tracePage,
  chatFrame,
} from "./harness.mjs";
import { startFakeProvider } from "./fakeProvider.mjs";

let workbench;
let fake;
let releaseChat;
const chatReleased = new Promise((resolve) => (releaseChat = resolve));

/** The model's answers, told apart by what the test itself typed (the built-in flows' wording is
 * theirs to change, and their prompts quote workspace files and run traces): the chat's answer
 * holds after its first words until the test has seen them, the slow flow's streams for 20 s;
 * any other prompt is the Explain action's. */
function reply(body) {
  const prompt = JSON.parse(body).messages.at(-1)?.content ?? "";
  if (prompt.includes("How are failed payments retried?")) {
    return { chunks: ["Payments are retried ", "with exponential backoff ", "in retry_payment."], until: chatReleased };
  }
  if (prompt === "Think slowly about patience") return { chunks: Array(100).fill("tick "), pauseMs: 200 };
  if (prompt === "release notes") return { chunks: ["The ", "answer"] };
  return { chunks: ["It doubles ", "the delay ", "before each attempt."] };
}

before(async () => {
  fake = await startFakeProvider(reply);
  // The vault's key comes from the environment: nothing is written to the user's home.
  workbench = await startWorkbench("workbench", { env: { OPENAI_BASE_URL: fake.url, VAULT_MASTER_KEY: "vscode-e2e-master-key-0123456789" } });
});

after(async () => {
  await workbench?.stop();
  await fake?.close();
});

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
  assert.match(label, /7 files \(\d+ indexed, \d+ unchanged, \d+ skipped\), \d+ chunks/, "the server's own summary");
  await workbench.screenshot("status-ready.png");
});

test("Search Workspace lists matching chunks and opens the picked one at its range", async () => {
  const { page } = workbench;
  await runCommand(page, "CodexOS: Search Workspace");
  const query = page.locator('.quick-input-widget input[placeholder^="Search the workspace"]');
  await query.waitFor({ state: "visible", timeout: 20_000 });
  await query.pressSequentially("is the invoice overdue today");
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

test("▶ Run follows the flow node by node in the execution console, and ↻ Retry continues it", async () => {
  const { page, workspace } = workbench;
  await quickOpen(page, "flows/flaky.flow.json");
  await clickLens(page, "▶ Run");
  await typeInput(page, "release notes");
  const failed = await consoleUntil(page, /■ failed \(run [\w-]+\)/, "the failed run's end in the console");
  assertLinesInOrder("the run console", failed, [
    /^Run flows\/flaky\.flow\.json$/,
    /^▶ start \(entry\)$/,
    /^✓ start \(\d+ ms\)$/,
    /^▶ ask \(llm\)$/,
    /^The answer$/,
    /^✓ ask \(\d+ ms\)$/,
    /^▶ read \(tool\)$/,
    /^✗ read: .*later\.txt/,
    /^■ failed \(run [\w-]+\)$/,
  ]);
  const runId = /■ failed \(run ([\w-]+)\)/.exec(failed)[1];
  await workbench.screenshot("run-console-failed.png");

  // The file the tool wanted is there now; the lens the server adds after a failed run retries.
  writeFileSync(join(workspace, "later.txt"), "now here");
  await clickLens(page, "↻ Retry last failed");
  const retried = await consoleUntil(page, /■ succeeded \(run [\w-]+\)/, "the retried run's end in the console");
  assertLinesInOrder("the retry's console", retried, [
    new RegExp(`^Run retry ${runId}$`),
    /^▶ read \(tool\)$/,
    /^✓ read \(\d+ ms\)$/,
    /^■ succeeded \(run [\w-]+\)$/,
    /^Output:$/,
    /^The answer \/ now here$/,
  ]);
  const asked = fake.bodies().filter((body) => JSON.parse(body).messages.at(-1)?.content === "release notes");
  assert.equal(asked.length, 1, "the retry replays the model's answer instead of asking again");
  await workbench.screenshot("run-console-retried.png");
});

test("Cancel on a running flow's notification stops it and its model stream", async () => {
  const { page } = workbench;
  await quickOpen(page, "flows/slow.flow.json");
  await clickLens(page, "▶ Run");
  await typeInput(page, "patience");
  await consoleUntil(page, /▶ ponder \(llm\)\ntick tick/, "the slow model streaming into the console");
  const toast = page.locator(".notification-toast", { hasText: "CodexOS: flows/slow.flow.json" });
  await toast.locator(".monaco-button", { hasText: "Cancel" }).click();
  const cancelled = await consoleUntil(page, /■ cancelled \(run [\w-]+\)/, "the cancelled run's end");
  assertLinesInOrder("the cancelled run's console", cancelled, [/^▶ ponder \(llm\)$/, /^tick tick/, /■ cancel requested$/, /^■ cancelled/]);
  await eventually(() => fake.closedEarly(), (n) => n > 0, 10_000, "the model stream closed early");
  await workbench.screenshot("run-console-cancelled.png");
});

test("the chat view streams an answer and its sources open the file at their range", async () => {
  const { page } = workbench;
  await page.locator('.activitybar [aria-label*="CodexOS"]').first().click();
  const frame = await chatFrame(page);
  await frame.locator("#question").fill("How are failed payments retried?");
  await frame.locator("#question").press("Enter");
  // The model holds after its first words: they show before the rest of the answer exists.
  await eventually(
    () => frame.locator(".answer").last().innerText().catch(() => ""),
    (text) => text.startsWith("Payments are retried"),
    60_000,
    "the answer's first words while it streams",
  );
  assert.equal(await frame.locator(".source").count(), 0, "no sources before the answer is complete");
  await workbench.screenshot("chat-streaming.png");
  releaseChat();
  const sources = await eventually(
    () => frame.locator(".source").allInnerTexts().catch(() => []),
    (texts) => texts.length > 0,
    60_000,
    "the answer's sources",
  );
  const answer = await frame.locator(".answer").last().innerText();
  assert.equal(answer, "Payments are retried with exponential backoff in retry_payment.");
  assert.match(await frame.locator(".meta").last().innerText(), /gpt-4o-mini/);
  await workbench.screenshot("chat-answer.png");
  const retrySource = sources.find((s) => s.startsWith("src/retry.rs:"));
  assert.ok(retrySource, `the payment code is a source: ${sources}`);
  const startLine = Number(/^src\/retry\.rs:(\d+)-/.exec(retrySource)[1]);
  await frame.locator(".source", { hasText: "src/retry.rs:" }).first().click();
  await page.waitForSelector('.tab.active[aria-label*="retry.rs"]', { timeout: 20_000 });
  await eventually(
    () => page.locator(".statusbar-item[id='status.editor.selection']").innerText().catch(() => ""),
    (text) => text.includes(`Ln ${startLine},`),
    10_000,
    `the cursor at the source's line ${startLine}`,
  );
  const chat = fake.bodies().find((body) => body.includes("How are failed payments retried?"));
  assert.match(chat, /pub fn retry_payment/, "the question went with the workspace's code");
  await workbench.screenshot("chat-source-opened.png");
});

test("Explain on a selection shows the explanation beside the code", async () => {
  const { page } = workbench;
  await quickOpen(page, "src/retry.rs");
  await goTo(page, 3, 1);
  await page.keyboard.press("Shift+ArrowDown");
  await page.keyboard.press("Shift+ArrowDown");
  await runCommand(page, "CodexOS: Explain Selection");
  await eventually(() => editorText(page), (text) => text.replace(/\s+/g, " ").includes("It doubles the delay before each attempt."), 60_000, "the explanation in an editor").catch(
    async (error) => {
      await workbench.screenshot("explain-failure.png");
      throw new Error(`${error.message}\nnotifications: ${(await notificationTexts(page)).join(" | ")}`);
    },
  );
  const explain = fake.bodies().find((body) => body.includes("let mut delay_ms = 100;") && !body.includes("How are failed payments"));
  assert.match(explain, /let mut delay_ms = 100;/, "the selected lines went to the model");
  await workbench.screenshot("explain.png");
});

/** Every regular file under `dir`, recursively (sockets and the like left out). */
function filesUnder(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    const kind = statSync(path);
    if (kind.isDirectory()) return filesUnder(path);
    return kind.isFile() ? [path] : [];
  });
}

test("Vault: Add Secret takes the value in a password box, and List Secrets shows names only", async () => {
  const { page, workspace, userData } = workbench;
  const secret = "sk-vscode-planted-5e2f9a";
  await runCommand(page, "CodexOS: Vault: Add Secret");
  const input = page.locator(".quick-input-widget input");
  await page.locator(".quick-input-widget", { hasText: "Secret name" }).waitFor({ timeout: 10_000 });
  await input.fill("stripe_key");
  await input.press("Enter");
  await page.locator(".quick-input-widget", { hasText: "Value for stripe_key" }).waitFor({ timeout: 10_000 });
  assert.equal(await input.getAttribute("type"), "password", "the value is typed hidden");
  await input.fill(secret);
  await input.press("Enter");
  await eventually(() => notificationTexts(page), (texts) => texts.some((t) => t.includes("stripe_key is in the vault")), 30_000, "the stored notification");

  await runCommand(page, "CodexOS: Vault: List Secrets");
  const rows = await eventually(
    () => page.locator(".quick-input-list .monaco-list-row").allInnerTexts().catch(() => []),
    (texts) => texts.some((t) => t.includes("stripe_key")),
    30_000,
    "stripe_key in the list",
  );
  await workbench.screenshot("vault-list.png");
  await page.keyboard.press("Escape");
  assert.ok(!rows.join("\n").includes(secret), "the list shows no value");
  const leaked = [...filesUnder(workspace), ...filesUnder(userData)].filter((file) => readFileSync(file).includes(secret));
  assert.deepEqual(leaked, [], "no file the server or the editor wrote holds the value in plain text");
});

test("Show Run Trace opens the picked run's trace with its nodes and the chunks its rag node used", async () => {
  const { page, workspace } = workbench;
  writeFileSync(
    join(workspace, "flows/traced.flow.json"),
    JSON.stringify({
      id: "traced",
      nodes: [
        { id: "begin", type: "entry", next: "lookup" },
        { id: "lookup", type: "rag", query: "{{input}}", k: 2, next: "reply" },
        { id: "reply", type: "llm", model: "gpt-4o-mini", prompt: "{{input}}", next: "finish" },
        { id: "finish", type: "exit", output: "{{nodes.reply.output}}" },
      ],
    }),
  );
  await quickOpen(page, "flows/traced.flow.json");
  await runCommand(page, "CodexOS: Run Flow");
  await typeInput(page, "retry a payment with exponential backoff");
  const ran = await consoleUntil(page, /▶ lookup \(rag\)[\s\S]*■ succeeded \(run [\w-]+\)/, "the traced run's end");
  const runId = /▶ lookup \(rag\)[\s\S]*■ succeeded \(run ([\w-]+)\)/.exec(ran)[1];
  assert.match(ran, new RegExp(`Trace: "CodexOS: Show Run Trace" \\(run ${runId}\\)`), "the console names the trace command");

  await runCommand(page, "CodexOS: Show Run Trace");
  const rows = page.locator(".quick-input-list .monaco-list-row");
  await eventually(() => rows.first().innerText().catch(() => ""), (t) => t.includes(runId), 20_000, "the newest run first in the pick");
  assert.match(await rows.first().innerText(), /traced · succeeded/, "a run is described by its flow and status");
  await rows.first().click();
  const page_ = await tracePage(page, runId, (text) => text.includes("RAG chunks used") && text.includes("finish"), "the trace's markdown preview");
  for (const node of ["begin", "lookup", "reply", "finish"]) assert.match(page_, new RegExp(`^${node}$`, "m"), `node ${node} has its heading`);
  assert.match(page_, /rag · succeeded/, "the rag node's type and status");
  assert.match(page_, /src\/retry\.rs:\d+-\d+/, "the chunk the rag node used, with its lines");
  assert.match(page_, /model openai\/gpt-4o-mini/, "the model that answered");
  await workbench.screenshot("run-trace.png");
});

test("Replay Run from Node on a trace page forks the run from a node with an edited prompt", async () => {
  const { page } = workbench;
  // The trace page of the traced run (the test before) is the active tab: the title bar's ↺.
  const shown = await tracePage(page, "", (text) => text.includes("Replay from here"), "a trace page naming the replay action");
  const runId = /Run ([\w-]+)/.exec(shown)[1];
  const asked = fake.bodies().length;
  await page.locator(".editor-actions [aria-label^='Replay Run from Node']").first().click();
  const rows = page.locator(".quick-input-list .monaco-list-row");
  await eventually(() => rows.allInnerTexts().catch(() => []), (texts) => texts.some((t) => t.includes("reply")), 20_000, "the run's nodes to replay from");
  const listed = await rows.allInnerTexts();
  assert.equal(listed.length, 4, `every node that ran, as the page lists them: ${listed}`);
  for (const [index, node] of ["begin", "lookup", "reply", "finish"].entries()) assert.ok(listed[index].includes(`✓ ${node}`), `${node} in ${listed}`);
  await rows.filter({ hasText: "reply" }).first().click();
  await page.locator(".quick-input-list .monaco-list-row", { hasText: "Fork from reply" }).first().click();
  await typeInput(page, "reply.prompt=Shorter: {{input}}");
  // The next edit's box opens empty: an empty line runs the fork.
  const input = page.locator(".quick-input-widget input");
  await eventually(() => input.inputValue().catch(() => "?"), (value) => value === "", 10_000, "the box for a further edit");
  await page.keyboard.press("Enter");
  const forked = await consoleUntil(page, new RegExp(`Run fork ${runId} from reply[\\s\\S]*■ succeeded \\(run [\\w-]+\\)`), "the fork's end in the console");
  assert.doesNotMatch(forked.split(`Run fork ${runId}`).at(-1), /▶ lookup/, "the nodes before reply keep their outputs");
  const prompts = fake.bodies().slice(asked).map((body) => JSON.parse(body).messages.at(-1)?.content);
  assert.deepEqual(prompts, ["Shorter: retry a payment with exponential backoff"], "only reply was asked, with the edited prompt");
  const forkId = /■ succeeded \(run ([\w-]+)\)/.exec(forked.split(`Run fork ${runId}`).at(-1))[1];

  await runCommand(page, "CodexOS: Show Run Trace");
  const picks = page.locator(".quick-input-list .monaco-list-row");
  await eventually(() => picks.first().innerText().catch(() => ""), (t) => t.includes(forkId), 20_000, "the fork first in the pick");
  await picks.first().click();
  const forkPage = await tracePage(page, forkId, (text) => text.includes("Fork of"), "the fork's trace page");
  assert.match(forkPage, new RegExp(`Fork of: ${runId} from reply`), "the fork names its parent");
  assert.match(forkPage, /set reply\.prompt: Shorter: \{\{input\}\}/, "and its edit");
  await workbench.screenshot("run-trace-fork.png");
});
