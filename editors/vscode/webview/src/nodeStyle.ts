// How each node type looks on the canvas: an icon and a colour.
export interface NodeLook {
  icon: string;
  color: string;
  label: string;
}

export const NODE_LOOKS: Record<string, NodeLook> = {
  entry: { icon: "▶", color: "#2e9e5b", label: "Entry" },
  llm: { icon: "✦", color: "#7b61ff", label: "LLM" },
  tool: { icon: "⚒", color: "#d9822b", label: "Tool" },
  rag: { icon: "⌕", color: "#1f8ad2", label: "Retrieve" },
  vault: { icon: "⚿", color: "#a0782c", label: "Vault" },
  condition: { icon: "◆", color: "#d4a017", label: "Condition" },
  exit: { icon: "■", color: "#c0392b", label: "Exit" },
  reflect: { icon: "↻", color: "#0e9f9a", label: "Reflect" },
  flow: { icon: "⧉", color: "#6b7c93", label: "Sub-flow" },
};

export const UNKNOWN_LOOK: NodeLook = { icon: "?", color: "#888888", label: "Unknown" };

export function lookOf(type: string): NodeLook {
  return NODE_LOOKS[type] ?? UNKNOWN_LOOK;
}

/** A one-line summary under the node's id: what it calls or asks. */
export function summaryOf(fields: Record<string, unknown>): string {
  const pick = (value: unknown) => (Array.isArray(value) ? value.join(" → ") : typeof value === "string" ? value : "");
  switch (fields.type) {
    case "llm":
      return pick(fields.model);
    case "tool":
      return pick(fields.tool);
    case "rag":
      return pick(fields.query);
    case "vault":
      return pick(fields.key);
    case "condition":
      return pick(fields.if);
    case "reflect":
      return `↺ ${pick(fields.target)} ×${String(fields.max_iterations ?? "?")}`;
    case "flow":
      return pick(fields.flow);
    case "exit":
      return pick(fields.output);
    default:
      return pick(fields.description);
  }
}
