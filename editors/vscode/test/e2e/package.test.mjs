// The .vsix is built by @vscode/vsce from the lock file's packages alone: packaging works with
// every proxy pointing at a closed port (so any download would fail), and the package carries
// the bundled extension, the canvas and the flow schema, but no sources, tests or node_modules.
// Runs after `npm run package` (scripts/test), which builds dist/ and copies the schema.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { inflateRawSync } from "node:zlib";
import { packagePlatformVsix } from "./harness.mjs";

const extensionDir = join(dirname(fileURLToPath(import.meta.url)), "../..");

/** The entries of a zip file (a .vsix is one): name → stored or deflated bytes, read from its
 * central directory. */
function zipEntries(bytes) {
  const endOfDirectory = bytes.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  assert.ok(endOfDirectory >= 0, "the .vsix is a zip archive");
  const count = bytes.readUInt16LE(endOfDirectory + 10);
  let offset = bytes.readUInt32LE(endOfDirectory + 16);
  const entries = new Map();
  for (let i = 0; i < count; i++) {
    const method = bytes.readUInt16LE(offset + 10);
    const size = bytes.readUInt32LE(offset + 20);
    const nameLength = bytes.readUInt16LE(offset + 28);
    const extraLength = bytes.readUInt16LE(offset + 30);
    const commentLength = bytes.readUInt16LE(offset + 32);
    const local = bytes.readUInt32LE(offset + 42);
    const name = bytes.toString("utf8", offset + 46, offset + 46 + nameLength);
    const dataStart = local + 30 + bytes.readUInt16LE(local + 26) + bytes.readUInt16LE(local + 28);
    const data = bytes.subarray(dataStart, dataStart + size);
    entries.set(name, () => (method === 8 ? inflateRawSync(data) : data));
    offset += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

test("vsce packages the extension offline with the bundle, the canvas and the schema only", () => {
  const out = join(mkdtempSync(join(tmpdir(), "codexos-vsix-")), "codexos.vsix");
  const closed = "http://127.0.0.1:9";
  const packaged = spawnSync(
    join(extensionDir, "node_modules/.bin/vsce"),
    ["package", "--no-dependencies", "--allow-missing-repository", "--skip-license", "-o", out],
    {
      cwd: extensionDir,
      encoding: "utf8",
      timeout: 120_000,
      env: { ...process.env, HTTP_PROXY: closed, HTTPS_PROXY: closed, http_proxy: closed, https_proxy: closed, npm_config_offline: "true" },
    },
  );
  assert.equal(packaged.status, 0, `vsce package failed:\n${packaged.stdout}\n${packaged.stderr}`);

  const entries = zipEntries(readFileSync(out));
  const names = [...entries.keys()];
  for (const expected of [
    "extension/package.json",
    "extension/dist/extension.js",
    "extension/dist/webview/flowEditor.js",
    "extension/dist/webview/flowEditor.css",
    "extension/schema/flow.schema.json",
    "extension/media/codexos.svg",
  ]) {
    assert.ok(names.includes(expected), `${expected} is in the package: ${names.join(", ")}`);
  }
  const stray = names.filter((n) => /^extension\/(src|test|webview|node_modules|out|scripts)\/|\.map$|\.vsix$/.test(n));
  assert.deepEqual(stray, [], "no sources, tests, dependencies or source maps in the package");

  const manifest = JSON.parse(entries.get("extension/package.json")().toString("utf8"));
  assert.equal(manifest.main, "./dist/extension.js");
  const bundle = entries.get("extension/dist/extension.js")().toString("utf8");
  assert.doesNotMatch(bundle, /require\("vscode-languageclient/, "the language client is bundled, not required at run time");
  assert.deepEqual(
    JSON.parse(entries.get("extension/schema/flow.schema.json")().toString("utf8")),
    JSON.parse(readFileSync(join(extensionDir, "../../flows/schema/flow.schema.json"), "utf8")),
    "the published flow schema, as the repository has it",
  );
});

test("a platform .vsix bundles the server, which runs from the package, and leaves the plain package server-less", () => {
  const server = process.env.CODEXOS_BIN;
  assert.ok(server, "CODEXOS_BIN names the codexos binary under test");
  const dir = mkdtempSync(join(tmpdir(), "codexos-platform-vsix-"));
  const out = join(dir, "codexos-linux-x64.vsix");
  const packaged = packagePlatformVsix(server, out);
  assert.equal(packaged.status, 0, `package-platform failed:\n${packaged.stdout}\n${packaged.stderr}`);
  assert.ok(!existsSync(join(extensionDir, "server")), "the bundled copy is removed after packaging");

  const entries = zipEntries(readFileSync(out));
  const manifest = entries.get("extension.vsixmanifest")().toString("utf8");
  assert.match(manifest, /TargetPlatform="linux-x64"/, "the manifest names the platform");
  const bundled = entries.get("extension/server/codexos");
  assert.ok(bundled, `the server is in the package: ${[...entries.keys()].join(", ")}`);
  const extracted = join(dir, "codexos");
  writeFileSync(extracted, bundled());
  chmodSync(extracted, 0o755);
  const version = spawnSync(extracted, ["--version"], { encoding: "utf8" });
  assert.match(version.stdout, /^codexos \d+\.\d+\.\d+/, `the bundled server runs: ${version.stderr}`);
});
