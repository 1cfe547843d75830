// The prompt editor's live preview: a template with `{{ … }}` filled from the last run's values.
// Pure: the same rules as the flow language's templates (flows/README.md), for display only.

export interface RunValues {
  input?: string;
  /** Node id → that node's output in the last run. */
  outputs: Record<string, string>;
}

export interface PreviewPart {
  text: string;
  /** `literal` text of the template, a `value` filled in, or a reference with no known value. */
  kind: "literal" | "value" | "unknown";
}

const PLACEHOLDER = /\{\{\s*([^}]*?)\s*\}\}/g;

function lookup(reference: string, values: RunValues): string | undefined {
  if (reference === "input") return values.input;
  const node = /^nodes\.([A-Za-z0-9_-]+)\.output$/.exec(reference);
  if (node) return values.outputs[node[1]];
  if (reference.startsWith("vault.") || reference.startsWith("vars.")) return "••••••";
  return undefined;
}

export function previewTemplate(template: string, values: RunValues): PreviewPart[] {
  const parts: PreviewPart[] = [];
  let last = 0;
  for (const match of template.matchAll(PLACEHOLDER)) {
    const start = match.index ?? 0;
    if (start > last) parts.push({ text: template.slice(last, start), kind: "literal" });
    const value = lookup(match[1], values);
    parts.push(value === undefined ? { text: match[0], kind: "unknown" } : { text: value, kind: "value" });
    last = start + match[0].length;
  }
  if (last < template.length) parts.push({ text: template.slice(last), kind: "literal" });
  return parts;
}
