// Pure helpers of the flow editor's extension side (no `vscode` import): what the canvas is told
// about a run, and the names its pickers offer before the server says more.
import type { RunSummary, ToolSchema } from "./messages";

/** What `codexos.catalog` answers: the names a flow of this workspace may use. */
export interface ServerCatalog {
  models?: { name: string }[];
  tools?: { name: string; detail?: string; schema?: unknown }[];
  vaultKeys?: string[];
}

/** The pickers' names and the tools' argument schemas, from the server's catalog. */
export function pickerCatalog(catalog: ServerCatalog | null | undefined): {
  models: string[];
  tools: string[];
  vaultKeys: string[];
  toolSchemas: Record<string, ToolSchema>;
} {
  const toolSchemas: Record<string, ToolSchema> = {};
  for (const tool of catalog?.tools ?? []) {
    if (tool.schema && typeof tool.schema === "object") {
      toolSchemas[tool.name] = { ...(tool.schema as ToolSchema), description: tool.detail };
    }
  }
  return {
    models: (catalog?.models ?? []).map((model) => model.name),
    tools: (catalog?.tools ?? []).map((tool) => tool.name),
    vaultKeys: catalog?.vaultKeys ?? [],
    toolSchemas,
  };
}

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

/** Template picker entries from `codexos.flow.templates`. */
export interface TemplateInfo {
  name: string;
  id: string;
  title: string;
  description: string;
  tags: string[];
  source: string;
}

export function parseTemplates(parsed: unknown): TemplateInfo[] {
  if (!Array.isArray(parsed)) throw new Error("codexos.flow.templates did not answer with a list");
  return parsed.filter((t): t is TemplateInfo => typeof t === "object" && t !== null && typeof (t as TemplateInfo).name === "string");
}
