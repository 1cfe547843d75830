// Bundles the flow editor's webview (React + React Flow) into dist/webview/: one script and one
// stylesheet, no network at run time.
import { build } from "esbuild";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
await build({
  entryPoints: { flowEditor: join(here, "src/main.tsx") },
  outdir: join(here, "../dist/webview"),
  bundle: true,
  format: "iife",
  platform: "browser",
  target: "es2022",
  minify: true,
  sourcemap: false,
  jsx: "automatic",
  define: { "process.env.NODE_ENV": '"production"' },
  logLevel: "warning",
});
