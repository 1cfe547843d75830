// Drives the real VS Code workbench and extension host (npm's code-server) in headless Chromium
// (Debian's chromium, through playwright-core), with the packaged .vsix installed and the real
// `codexos lsp` behind it. Nothing here downloads a browser or a VS Code build.
//
// Environment (scripts/setup-tools and scripts/test set them):
//   CODEXOS_CODE_SERVER  the code-server launcher
//   CODEXOS_NODE24_BIN   a directory holding Node 24 (code-server requires it)
//   CODEXOS_BIN          the codexos binary under test
//   CODEXOS_VSIX         the packaged extension
import { spawn, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, writeFileSync, existsSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const outputDir = join(here, "../../test-output");

function required(name) {
  const value = process.env[name];
  if (!value || !existsSync(value)) {
    throw new Error(`${name} is ${value ?? "unset"}: run scripts/setup-tools (and scripts/test sets the rest)`);
  }
  return value;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitForHttp(url, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url);
      if (response.status < 500) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`code-server did not answer at ${url} within ${timeoutMs} ms`);
}

/** Starts code-server on a copy of the fixture workspace with the extension installed; `env`
 * reaches code-server, its extension host and so the codexos server (OPENAI_BASE_URL, say);
 * `files` (workspace path → text) are written into the copy before anything starts. `vsix`
 * replaces $CODEXOS_VSIX; `serverSetting: false` leaves `codexos.server.path` unset (the
 * extension then finds its server as a user's would). */
export async function startWorkbench(name, { env: extraEnv = {}, files = {}, vsix: vsixPath, serverSetting = true } = {}) {
  const codeServer = required("CODEXOS_CODE_SERVER");
  const node24 = required("CODEXOS_NODE24_BIN");
  const codexos = serverSetting ? required("CODEXOS_BIN") : undefined;
  const vsix = vsixPath ?? required("CODEXOS_VSIX");
  const root = mkdtempSync(join(tmpdir(), `codexos-vscode-${name}-`));
  const workspace = join(root, "workspace");
  cpSync(join(here, "../fixtures/workspace"), workspace, { recursive: true });
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(workspace, path)), { recursive: true });
    writeFileSync(join(workspace, path), text);
  }
  const userData = join(root, "user-data");
  const extensions = join(root, "extensions");
  mkdirSync(join(userData, "User"), { recursive: true });
  writeFileSync(
    join(userData, "User/settings.json"),
    JSON.stringify({
      "security.workspace.trust.enabled": false,
      "workbench.startupEditor": "none",
      "chat.disableAIFeatures": true,
      "workbench.tips.enabled": false,
      "extensions.ignoreRecommendations": true,
      ...(codexos ? { "codexos.server.path": codexos } : {}),
      // One console line, one rendered line (the Output view wraps unless this says otherwise):
      // outputText() then reads a long line such as a refused command whole.
      "[Log]": { "editor.wordWrap": "off" },
    }),
  );
  // The user's home and config are this workbench's own: the server's trust store
  // (XDG_CONFIG_HOME/codexos/trust.toml, docs/security.md) starts empty, an "Allow" in one test
  // answers nothing in another, and nothing reaches the real home.
  const home = join(root, "home");
  const configHome = join(root, "config");
  mkdirSync(home);
  mkdirSync(configHome);
  const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: configHome, PATH: `${node24}:${process.env.PATH}`, ...extraEnv };
  // No real provider is ever called: only the test's fake (through OPENAI_BASE_URL) or none.
  for (const key of ["OPENAI_API_KEY", "ANTHROPIC_API_KEY"]) delete env[key];
  const install = spawnSync(codeServer, ["--user-data-dir", userData, "--extensions-dir", extensions, "--install-extension", vsix], {
    env,
    encoding: "utf8",
    timeout: 120_000,
  });
  if (install.status !== 0) {
    throw new Error(`installing ${vsix} failed (${install.status}): ${install.stderr || install.stdout}`);
  }
  const port = await freePort();
  const server = spawn(
    codeServer,
    ["--auth", "none", "--bind-addr", `127.0.0.1:${port}`, "--disable-telemetry", "--disable-update-check",
      "--disable-workspace-trust", "--user-data-dir", userData, "--extensions-dir", extensions, workspace],
    { env, detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  let serverLog = "";
  server.stdout.on("data", (d) => (serverLog += d));
  server.stderr.on("data", (d) => (serverLog += d));
  const url = `http://127.0.0.1:${port}/`;
  await waitForHttp(url, 60_000);
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(`${url}?folder=${encodeURIComponent(workspace)}`);
  await page.waitForSelector(".monaco-workbench", { timeout: 60_000 });
  mkdirSync(outputDir, { recursive: true });
  return {
    page,
    workspace,
    userData,
    /** Where the server keeps what the user allowed. */
    trustStore: join(configHome, "codexos", "trust.toml"),
    log: () => serverLog,
    async screenshot(file) {
      await page.screenshot({ path: join(outputDir, file) });
    },
    async stop() {
      await browser.close().catch(() => {});
      try {
        // The whole process group: code-server, its extension host, the file watcher and codexos.
        process.kill(-server.pid, "SIGTERM");
      } catch {
        // already gone
      }
    },
  };
}

/** Opens a workspace file from the Explorer, as a user would: expand each folder, click the file. */
export async function openFile(page, relativePath) {
  // Show the Explorer (another view may have taken the side bar).
  await page.keyboard.press("Control+Shift+E");
  const parts = relativePath.split("/");
  for (const [i, part] of parts.entries()) {
    const row = page.locator(`.explorer-folders-view .monaco-list-row[aria-label="${part}"]`).first();
    await row.waitFor({ state: "visible", timeout: 30_000 });
    const expanded = await row.getAttribute("aria-expanded");
    if (i < parts.length - 1 ? expanded !== "true" : true) await row.click();
  }
  const fileName = parts[parts.length - 1];
  await page.waitForSelector(`.tab.active[aria-label*="${fileName}"]`, { timeout: 20_000 });
}

/** Opens a workspace file with Quick Open (Ctrl+P), as a user who knows its name does. */
export async function quickOpen(page, relativePath) {
  await page.keyboard.press("Escape");
  await page.keyboard.press("Control+P");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor({ state: "visible" });
  await input.fill(relativePath);
  await page.locator(".quick-input-list .monaco-list-row", { hasText: relativePath.split("/").pop() }).first().waitFor();
  await page.keyboard.press("Enter");
  await page.waitForSelector(`.tab.active[aria-label*="${relativePath.split("/").pop()}"]`, { timeout: 20_000 });
}

/** Moves the cursor to a 1-based line and column with "Go to Line/Column". */
export async function goTo(page, line, column) {
  await page.keyboard.press("Control+G");
  await page.waitForSelector(".quick-input-widget input", { state: "visible" });
  await page.keyboard.type(`${line}:${column}`);
  await page.keyboard.press("Enter");
  await page.waitForTimeout(200);
}

/** Polls `read` until `accept(value)` or the timeout; returns the last value. */
export async function eventually(read, accept, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  let value;
  while (Date.now() < deadline) {
    value = await read();
    if (accept(value)) return value;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`${what}: not seen within ${timeoutMs} ms; last seen:\n${typeof value === "string" ? value : JSON.stringify(value)}`);
}

/** Runs a command from the command palette by its title (the editor keeps its selection). */
export async function runCommand(page, title) {
  await page.keyboard.press("F1");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor({ state: "visible" });
  await input.fill(`>${title}`);
  await page.locator(".quick-input-list .monaco-list-row", { hasText: title }).first().click();
}

/** The text of the visible text editors (short files: every line is rendered), with Monaco's
 * non-breaking spaces made plain. */
export async function editorText(page) {
  const texts = await page.locator(".monaco-editor .view-lines").allInnerTexts().catch(() => []);
  return texts.join("\n").replace(/\u00a0/g, " ");
}

/** The text of the Output panel's visible channel: the lines Monaco renders (the last screenful,
 * as the channel follows its end), in their order on screen. */
export async function outputText(page) {
  const lines = await page
    .locator(".part.panel .monaco-editor .view-lines .view-line")
    .evaluateAll((elements) =>
      elements.map((element) => ({ top: parseFloat(element.style.top) || 0, text: element.innerText })),
    )
    .catch(() => []);
  lines.sort((a, b) => a.top - b.top);
  return lines.map((line) => line.text.replace(/\u00a0/g, " ")).join("\n");
}

/** Fails unless each regular expression matches a line of `text`, in this order. */
export function assertLinesInOrder(what, text, patterns) {
  const lines = text.split("\n");
  let at = 0;
  for (const pattern of patterns) {
    while (at < lines.length && !pattern.test(lines[at])) at++;
    if (at === lines.length) throw new Error(`${what}: no line matching ${pattern} (in order) in:\n${text}`);
    at++;
  }
}

/** Clicks a code lens of the active editor by its title. */
export async function clickLens(page, title) {
  const lens = page.locator(".editor-instance .codelens-decoration a", { hasText: title }).first();
  await lens.waitFor({ state: "visible", timeout: 30_000 });
  await lens.click();
}

/** Answers the input box a run asks with. */
export async function typeInput(page, text) {
  const input = page.locator(".quick-input-widget input");
  await input.waitFor({ state: "visible", timeout: 10_000 });
  await input.fill(text);
  await page.keyboard.press("Enter");
}

/** The execution console's text once `ending` (a regular expression) shows in it. */
export function consoleUntil(page, ending, what) {
  return eventually(() => outputText(page), (text) => ending.test(text), 60_000, what);
}

/** The text of a run's trace page once the markdown preview that "CodexOS: Show Run Trace"
 * opens shows `accept`able text (the preview is a webview: its text is in a frame). */
export function tracePage(page, runId, accept, what) {
  return eventually(
    async () => {
      for (const frame of page.frames()) {
        const text = await frame.locator("body").innerText({ timeout: 1_000 }).catch(() => "");
        if (text.includes(`Run ${runId}`)) return text;
      }
      return "";
    },
    accept,
    30_000,
    what,
  );
}

/** The texts of the notification toasts on screen (for failure messages). */
export async function notificationTexts(page) {
  return page.locator(".notification-toast").allInnerTexts().catch(() => []);
}

/** The chat view's webview frame (a nested iframe holding the question box). */
export async function chatFrame(page) {
  return eventually(
    async () => {
      for (const frame of page.frames()) {
        if ((await frame.locator("#question").count().catch(() => 0)) > 0) return frame;
      }
      return undefined;
    },
    (frame) => frame !== undefined,
    30_000,
    "the chat view",
  );
}

/** `npm run package:platform -- --target linux-x64 -o out` with `server` bundled: the result of
 * the packaging script (status, stdout, stderr). */
export function packagePlatformVsix(server, out) {
  const extensionDir = join(here, "../..");
  return spawnSync(process.execPath, [join(extensionDir, "scripts/package-platform.mjs"), "--target", "linux-x64", "-o", out], {
    cwd: extensionDir,
    encoding: "utf8",
    timeout: 300_000,
    env: { ...process.env, CODEXOS_BUNDLE_SERVER: server },
  });
}
