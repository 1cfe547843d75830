// Messages between the flow editor's webview and the extension. Plain types, shared by both
// sides (the webview bundle imports this file too); no `vscode` import.

/** A replacement of `length` UTF-16 units at `offset` by `content` (see webview/src/model). */
export interface OffsetEdit {
  offset: number;
  length: number;
  content: string;
}

export interface NodeDiagnostic {
  /** UTF-16 offsets of the diagnostic's range in the document. */
  offset: number;
  end: number;
  severity: "error" | "warning" | "info";
  message: string;
  code?: string;
}

export interface RunEventMessage {
  run_id?: string;
  kind: "started" | "node_started" | "token" | "node_finished" | "node_failed" | "warning" | "status" | "decision" | "finished";
  node?: string;
  text?: string;
  ms?: number;
}

export interface RunSummary {
  run_id?: string;
  status?: string;
  error?: string | null;
  input?: string;
  /** Node id → output text. */
  outputs: Record<string, string>;
}

/** The part of a tool's JSON Schema the drawer renders as a form: its top-level properties. */
export interface ToolSchema {
  description?: string;
  properties?: Record<string, { type?: string | string[]; description?: string }>;
  required?: string[];
}

export type HostMessage =
  | { type: "document"; text: string; version: number }
  | { type: "diagnostics"; items: NodeDiagnostic[] }
  | { type: "catalog"; models: string[]; tools: string[]; vaultKeys: string[]; toolSchemas: Record<string, ToolSchema> }
  | { type: "runStarted"; input: string }
  | { type: "runEvent"; event: RunEventMessage }
  | { type: "runFinished"; summary: RunSummary | undefined };

export type WebviewMessage =
  | { type: "ready" }
  | { type: "edit"; version: number; label: string; edits: OffsetEdit[] }
  | { type: "run"; input: string }
  | { type: "retry"; runId: string }
  /** Replay (or fork) the run `runId` from `node`: the extension asks which. */
  | { type: "replay"; runId: string; node: string }
  | { type: "showText" }
  /** Open a sub-flow (a `flow` node's path, relative to this file) in the flow editor. */
  | { type: "openFlow"; path: string };
