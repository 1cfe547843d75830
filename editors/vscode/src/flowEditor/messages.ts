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
  kind: "node_started" | "token" | "node_finished" | "node_failed" | "warning" | "finished";
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

export type HostMessage =
  | { type: "document"; text: string; version: number }
  | { type: "diagnostics"; items: NodeDiagnostic[] }
  | { type: "catalog"; models: string[]; tools: string[]; vaultKeys: string[] }
  | { type: "runStarted"; input: string }
  | { type: "runEvent"; event: RunEventMessage }
  | { type: "runFinished"; summary: RunSummary | undefined };

export type WebviewMessage =
  | { type: "ready" }
  | { type: "edit"; version: number; label: string; edits: OffsetEdit[] }
  | { type: "run"; input: string }
  | { type: "retry"; runId: string }
  | { type: "showText" };
