// Pure helpers of the flow editor's extension side (no `vscode` import): what the canvas is told
// about a run, and the names its pickers offer before the server says more.
import type { RunSummary } from "./messages";

/** The models the flow language knows (server/codexos-flow/src/catalog.rs), for the model picker. */
export const KNOWN_MODELS = [
  "local",
  "smollm2-135m-instruct",
  "gpt-4o-mini",
  "gpt-4o",
  "gpt-4.1",
  "gpt-4.1-mini",
  "gpt-4",
  "o3-mini",
  "claude-sonnet-4",
  "claude-opus-4",
  "claude-3-5-sonnet",
  "claude-3-5-haiku",
  "claude-3-opus",
  "llama3.2",
  "qwen2.5-coder",
];

/** The built-in tools (server/codexos-flow/src/catalog.rs), for the tool picker. */
export const KNOWN_TOOLS = ["read_file", "write_file", "search_workspace", "http_fetch", "shell", "python"];

export interface RunResultLike {
  run_id?: string;
  status?: string;
  error?: string | null;
  nodes?: Record<string, { output?: unknown }>;
}

function text(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

/** What the canvas keeps of a finished run: its id, status and each node's output as text. */
export function runSummary(result: RunResultLike | undefined, input: string | undefined): RunSummary | undefined {
  if (!result) return undefined;
  const outputs: Record<string, string> = {};
  for (const [id, node] of Object.entries(result.nodes ?? {})) {
    if (node?.output !== undefined) outputs[id] = text(node.output);
  }
  return { run_id: result.run_id, status: result.status, error: result.error ?? null, input, outputs };
}

/** Template picker entries from `codexos flow templates --json`. */
export interface TemplateInfo {
  name: string;
  id: string;
  title: string;
  description: string;
  tags: string[];
  source: string;
}

export function parseTemplates(stdout: string): TemplateInfo[] {
  const parsed: unknown = JSON.parse(stdout);
  if (!Array.isArray(parsed)) throw new Error("codexos flow templates --json did not print a list");
  return parsed.filter((t): t is TemplateInfo => typeof t === "object" && t !== null && typeof (t as TemplateInfo).name === "string");
}
