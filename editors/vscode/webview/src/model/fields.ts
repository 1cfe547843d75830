// The drawer's form: which fields each node type shows, in order, and how each is edited.
export type FieldKind = "text" | "template" | "number" | "model" | "tool" | "vaultKey" | "nodeRef" | "list" | "json";

export interface FieldSpec {
  key: string;
  kind: FieldKind;
  hint?: string;
}

const NEXT: FieldSpec = { key: "next", kind: "list", hint: "node ids; several run in parallel" };

// `retry` and `timeout_ms`, on the nodes that call out (llm, tool, rag, flow): what the language
// server checks and hovers (flows/README.md, "Retries and timeouts").
const CALLS: FieldSpec[] = [
  { key: "timeout_ms", kind: "number", hint: "ms one attempt may take; a slower one is stopped" },
  {
    key: "retry",
    kind: "json",
    hint: '{"attempts": 3, "backoff_ms": 500, "on": ["timeout", "rate_limit", "server", "network"]} (the defaults)',
  },
];

const FIELDS: Record<string, FieldSpec[]> = {
  entry: [NEXT],
  llm: [
    { key: "model", kind: "model", hint: "one model, or a fallback chain separated by commas" },
    { key: "provider", kind: "text" },
    { key: "system", kind: "template" },
    { key: "prompt", kind: "template" },
    { key: "temperature", kind: "number", hint: "0–2" },
    { key: "max_tokens", kind: "number" },
    { key: "tools", kind: "list", hint: "tools the model may call" },
    ...CALLS,
    NEXT,
  ],
  tool: [{ key: "tool", kind: "tool" }, { key: "args", kind: "json", hint: "JSON object; string values are templates" }, ...CALLS, NEXT],
  rag: [{ key: "query", kind: "template" }, { key: "k", kind: "number", hint: "1–100" }, ...CALLS, NEXT],
  vault: [{ key: "key", kind: "vaultKey", hint: "names only; values never leave the vault" }, { key: "as", kind: "text" }, NEXT],
  condition: [{ key: "if", kind: "template" }, { key: "then", kind: "nodeRef" }, { key: "else", kind: "nodeRef" }],
  reflect: [
    { key: "target", kind: "nodeRef" },
    { key: "max_iterations", kind: "number", hint: "1–100" },
    { key: "until", kind: "template" },
    { key: "prompt", kind: "template" },
    { key: "model", kind: "model" },
    NEXT,
  ],
  flow: [{ key: "flow", kind: "text", hint: "path relative to this file" }, { key: "input", kind: "template" }, ...CALLS, NEXT],
  exit: [{ key: "output", kind: "template" }],
};

/** The drawer's fields for a node of `type`: its description, then the type's own fields. */
export function fieldsOf(type: string): FieldSpec[] {
  return [{ key: "description", kind: "text" }, ...(FIELDS[type] ?? [NEXT])];
}
