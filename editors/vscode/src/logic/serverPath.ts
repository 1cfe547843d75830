// Which `codexos` binary the extension starts: the setting, else the one bundled in a platform
// .vsix (built and tested with this extension), else the one on PATH.
import * as fs from "node:fs";
import * as path from "node:path";

export interface ServerPathInputs {
  setting: string;
  pathEnv: string | undefined;
  extensionDir: string;
  platform: NodeJS.Platform;
  isExecutable?: (file: string) => boolean;
}

export type ServerPath = { path: string; source: "setting" | "PATH" | "bundled" } | { error: string };

function executable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

export function resolveServerPath(inputs: ServerPathInputs): ServerPath {
  const isExecutable = inputs.isExecutable ?? executable;
  const exe = inputs.platform === "win32" ? "codexos.exe" : "codexos";
  if (inputs.setting.trim() !== "") {
    const configured = inputs.setting.trim();
    return isExecutable(configured)
      ? { path: configured, source: "setting" }
      : { error: `codexos.server.path is ${configured}, which is not an executable file` };
  }
  const bundled = path.join(inputs.extensionDir, "server", exe);
  if (isExecutable(bundled)) return { path: bundled, source: "bundled" };
  for (const dir of (inputs.pathEnv ?? "").split(path.delimiter)) {
    if (dir === "") continue;
    const candidate = path.join(dir, exe);
    if (isExecutable(candidate)) return { path: candidate, source: "PATH" };
  }
  return {
    error: "no codexos binary: install the .vsix for your platform (it bundles one), set codexos.server.path, or put codexos on PATH (cargo install --locked --path server/codexos)",
  };
}
