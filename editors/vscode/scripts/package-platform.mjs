// `npm run package:platform -- --target linux-x64`: a platform .vsix that bundles the codexos
// server, so the extension works with nothing else installed (it prefers the bundled binary to one
// on PATH). The binary is $CODEXOS_BUNDLE_SERVER, else the release build of this repository, built
// now if missing (`cargo build --release --locked -p codexos`). Only the platform this machine
// builds for can be packaged without $CODEXOS_BUNDLE_SERVER. The bundled copy is removed afterwards,
// so the plain `npm run package` stays server-less.
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { arch, platform } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const repo = resolve(here, "../..");
const args = process.argv.slice(2);
const target = args[args.indexOf("--target") + 1];
const native = `${platform() === "win32" ? "win32" : platform()}-${arch()}`;

function fail(message) {
  console.error(`package-platform: ${message}`);
  process.exit(2);
}

function run(command, commandArgs, options = {}) {
  console.error(`package-platform: ${command} ${commandArgs.join(" ")}`);
  const result = spawnSync(command, commandArgs, { stdio: "inherit", ...options });
  if (result.status !== 0) fail(`${command} ${commandArgs.join(" ")} failed (${result.status ?? result.signal})`);
}

if (!args.includes("--target") || !target) fail("say which platform: --target linux-x64 (this machine: " + native + ")");
let server = process.env.CODEXOS_BUNDLE_SERVER;
if (!server) {
  if (target !== native) fail(`this machine builds ${native}, not ${target}: set CODEXOS_BUNDLE_SERVER to a ${target} binary`);
  const targetDir = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(repo, "target");
  server = join(targetDir, "release", "codexos");
  if (!existsSync(server)) {
    console.error("package-platform: no release build yet: building it (several minutes the first time)");
    run("cargo", ["build", "--release", "--locked", "-p", "codexos"], { cwd: repo });
  }
}
if (!existsSync(server)) fail(`no server binary at ${server}`);

const exe = target.startsWith("win32") ? "codexos.exe" : "codexos";
const bundled = join(here, "server");
rmSync(bundled, { recursive: true, force: true });
mkdirSync(bundled, { recursive: true });
copyFileSync(server, join(bundled, exe));
chmodSync(join(bundled, exe), 0o755);
const out = args.includes("-o") ? args[args.indexOf("-o") + 1] : `codexos-${target}.vsix`;
try {
  run(process.execPath, [join(here, "scripts/prepare-package.mjs")], { cwd: here });
  run("npm", ["run", "--silent", "build"], { cwd: here });
  run(join(here, "node_modules/.bin/vsce"), [
    "package", "--no-dependencies", "--allow-missing-repository", "--skip-license", "--target", target, "-o", out,
  ], { cwd: here });
} finally {
  rmSync(bundled, { recursive: true, force: true });
}
console.error(`package-platform: ${out} bundles ${server}`);
