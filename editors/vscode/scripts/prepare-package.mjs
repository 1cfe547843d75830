// Copies what the .vsix carries from the repository: the flow JSON Schema, and the codexos binary
// when CODEXOS_BUNDLE_SERVER names one (so the extension works without codexos on PATH).
import { copyFileSync, mkdirSync, chmodSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(dirname(fileURLToPath(import.meta.url)));
mkdirSync(join(here, "schema"), { recursive: true });
copyFileSync(join(here, "../../flows/schema/flow.schema.json"), join(here, "schema/flow.schema.json"));
const server = process.env.CODEXOS_BUNDLE_SERVER;
if (server) {
  mkdirSync(join(here, "server"), { recursive: true });
  copyFileSync(server, join(here, "server/codexos"));
  chmodSync(join(here, "server/codexos"), 0o755);
}
