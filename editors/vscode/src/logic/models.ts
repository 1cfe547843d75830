// What the extension says about the local models: the first-start offer (only when some are
// missing) and the line once they are installed.
import type { ModelsInstalled, ModelsStatus } from "./protocol";

export const DOWNLOAD = "Download";
export const NOT_NOW = "Not now";

/** The offer shown once per workspace when models are missing; `undefined` when none is. */
export function modelsOffer(status: ModelsStatus): string | undefined {
  if (status.missing.length === 0) return undefined;
  const missing = status.models.filter((model) => !model.installed).map((model) => `${model.name} (${model.purpose})`);
  const cost =
    status.download_bytes > 0
      ? `a ${megabytes(status.download_bytes)} download, then about ten minutes to build the static embedder`
      : "about ten minutes to build the static embedder, no download";
  return (
    `CodexOS: the local models are not installed: ${missing.join(", ")}. ` +
    "CodexOS works without them — search uses the built-in embedder and answers need a provider from your configuration. " +
    `Install them now (${cost})? "CodexOS: Install Local Models" does it later.`
  );
}

/** What an install did, for the notification that ends it. */
export function installedMessage(result: ModelsInstalled): string {
  if (result.installed.length === 0) return `CodexOS: every local model is already installed in ${result.dir}.`;
  return (
    `CodexOS: installed ${result.installed.join(", ")} in ${Math.round(result.seconds)} s ` +
    `(${megabytes(result.downloaded_bytes)} downloaded). The workspace is indexed again with them; chat answers on the local model without a provider key.`
  );
}

/** Bytes as whole megabytes (MB = 10^6 bytes, as download sizes are given). */
export function megabytes(bytes: number): string {
  return `${Math.round(bytes / 1_000_000)} MB`;
}
