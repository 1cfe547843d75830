// The policy's decisions (docs/security.md) as a user reads them: `decision` run events in the
// execution console, `decision` lines of a trace in the trace viewer. Refusals and what the user,
// `--yes` or the trust store allowed are news; what the policy allows anyway (reading a workspace
// file, an ordinary write) is only worth a dimmed line.
import type { PolicyAction, PolicyDecision } from "./protocol";

type Json = Record<string, unknown>;

const text = (value: unknown): string => (typeof value === "string" ? value : "");

/** Who decided, in the server's words ("refused by you", "allowed by trust store"). */
export function deciderName(by: string): string {
  switch (by) {
    case "policy":
      return "policy";
    case "trust_store":
      return "trust store";
    case "user":
      return "you";
    case "yes":
      return "--yes";
    default:
      return by;
  }
}

/** What a call would do, worded as the server words it ("run the shell command `make`"); an
 * action of a kind this extension does not know yet is shown as its JSON. */
export function describeAction(action: PolicyAction): string {
  const a = action as unknown as Json;
  switch (action.kind) {
    case "read":
      return `read \`${text(a.path)}\``;
    case "search":
      return "search the workspace index";
    case "write":
      return `write \`${text(a.path)}\``;
    case "command":
      return text(a.tool) === "shell" ? `run the shell command \`${text(a.command)}\`` : `run with \`${text(a.tool)}\`: ${text(a.command)}`;
    case "plugin":
      return `run the plug-in \`${text(a.name)}\` (${text(a.file)}): \`${text(a.command)}\``;
    case "mcp_server":
      return `start the MCP server \`${text(a.name)}\`: \`${text(a.command)}\``;
    case "mcp_tool":
      return `call \`${text(a.tool)}\` of the MCP server \`${text(a.server)}\``;
    case "fetch":
      return `${text(a.method)} ${text(a.url)}`;
    case "unlisted_tool": {
      const listed = Array.isArray(a.listed) ? a.listed.map((name) => `\`${text(name)}\``) : [];
      return listed.length === 0 ? "call a tool, though its node lists none" : `call a tool its node does not list (it lists ${listed.join(", ")})`;
    }
    case "sub_flow":
      return `run the sub-flow \`${text(a.path)}\``;
    case "internal":
      return "use a tool of CodexOS itself";
    default:
      return JSON.stringify(action);
  }
}

/** The whole decision on one line, as the server's `text` has it: "refused by you: run the shell
 * command `make`: you denied it (…)". */
export function decisionSummary(decision: PolicyDecision): string {
  return `${decision.verdict} by ${deciderName(decision.by)}: ${describeAction(decision.action)}: ${decision.reason}`;
}

/** A refusal, or something the user, `--yes` or the trust store allowed (not the policy alone). */
export function isNotable(decision: PolicyDecision): boolean {
  return decision.verdict !== "allowed" || decision.by !== "policy";
}

/** The execution console's line for a `decision` event (`text` is the server's summary), as
 * `codexos run` and Neovim print it: "⛔ fix: shell refused by you: …"; nothing for what the
 * policy allows anyway. */
export function decisionLine(node: string | undefined, decision: PolicyDecision, summary?: string): string | undefined {
  if (!isNotable(decision)) return undefined;
  const mark = decision.verdict === "refused" ? "⛔" : "✔";
  return `${mark} ${node ? `${node}: ` : ""}${decision.tool} ${summary ?? decisionSummary(decision)}`;
}

/** A decision from untrusted JSON (a trace line, where its fields sit beside `event` and `node`,
 * or an event's `decision`); undefined when it is not one. */
export function readDecision(value: unknown): PolicyDecision | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as Json;
  const action = v.action as Json | null | undefined;
  if (typeof action !== "object" || action === null || typeof action.kind !== "string") return undefined;
  if (v.verdict !== "allowed" && v.verdict !== "refused") return undefined;
  return {
    tool: text(v.tool),
    action: action as unknown as PolicyAction,
    verdict: v.verdict,
    by: text(v.by) as PolicyDecision["by"],
    reason: text(v.reason),
  };
}
