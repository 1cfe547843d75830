// The server's protocol beyond standard LSP (docs/protocol.md), as types. No `vscode` import:
// these modules are unit-tested in plain Node.

export interface Position {
  line: number;
  character: number;
}

export interface Range {
  start: Position;
  end: Position;
}

export type RunEventKind = "started" | "node_started" | "token" | "node_finished" | "node_failed" | "warning" | "status" | "decision" | "finished";

/** What one tool call would do, as the policy saw it (`kind` names the variant). */
export type PolicyAction =
  | { kind: "read"; path: string }
  | { kind: "search" }
  | { kind: "write"; path: string }
  | { kind: "command"; tool: string; command: string }
  | { kind: "plugin"; name: string; file: string; command: string; hash: string }
  | { kind: "mcp_server"; name: string; command: string; hash: string }
  | { kind: "mcp_tool"; server: string; tool: string }
  | { kind: "fetch"; method: string; url: string }
  | { kind: "unlisted_tool"; listed: string[] }
  | { kind: "sub_flow"; path: string; inside_workspace: boolean }
  | { kind: "internal" };

/** One decision of the policy (docs/security.md): what was asked, the verdict, who decided, why. */
export interface PolicyDecision {
  tool: string;
  action: PolicyAction;
  verdict: "allowed" | "refused";
  by: "policy" | "trust_store" | "user" | "yes";
  reason: string;
}

export interface RunEvent {
  token: string | number;
  run_id?: string;
  kind: RunEventKind;
  node?: string;
  text?: string;
  ms?: number;
  /** On `finished`: succeeded, failed or cancelled. */
  status?: string;
  /** On `decision`. */
  decision?: PolicyDecision;
}

export interface RunResult {
  run_id: string;
  status: string;
  output?: unknown;
  nodes?: Record<string, { output?: unknown; ms?: number; model?: string }>;
  warnings?: string[];
  error?: string | null;
}

export interface SearchResult {
  uri: string;
  range: Range;
  symbol?: string | null;
  score: number;
  snippet: string;
}

export interface ChatMessage {
  role: "user" | "assistant";
  content: string;
}

export interface ChatSource {
  path: string;
  start_line: number;
  end_line: number;
  symbol?: string | null;
}

export interface ChatResult {
  answer: string;
  model: string;
  sources: ChatSource[];
}

/** `codexos.models.status`'s answer. */
export interface ModelsStatus {
  dir: string;
  models: { name: string; purpose: string; path: string; installed: boolean; bytes?: number | null; version?: string | null }[];
  missing: string[];
  download_bytes: number;
}

/** `codexos.models.install`'s answer. */
export interface ModelsInstalled {
  installed: string[];
  dir: string;
  downloaded_bytes: number;
  seconds: number;
}

export interface StatusNotification {
  state: "starting" | "indexing" | "paused" | "ready" | "error";
  message?: string;
  percentage?: number;
}

export const Commands = {
  agentRun: "codexos.agent.run",
  agentRetry: "codexos.agent.retry",
  agentReplay: "codexos.agent.replay",
  agentCancel: "codexos.agent.cancel",
  ragQuery: "codexos.rag.query",
  chat: "codexos.chat",
  vaultPut: "codexos.vault.put",
  vaultList: "codexos.vault.list",
  reindex: "codexos.reindex",
  indexPause: "codexos.index.pause",
  indexResume: "codexos.index.resume",
  catalog: "codexos.catalog",
  flowTemplates: "codexos.flow.templates",
  modelsStatus: "codexos.models.status",
  modelsInstall: "codexos.models.install",
  action: (kind: "explain" | "refactor" | "tests" | "fix") => `codexos.action.${kind}`,
} as const;

export const Methods = {
  search: "codexos/search",
  runEvent: "codexos/runEvent",
  status: "codexos/status",
} as const;
