// The run trace viewer's logic: a run's JSON-lines trace (`.codexos/runs/<run_id>.jsonl`, written
// by the server, secrets already redacted) read into a view model, then into markdown. A damaged
// or cut line is skipped with a note: a trace of a killed run is still worth reading.
import { deciderName, describeAction, isNotable, readDecision } from "./decisions";
import type { PolicyDecision } from "./protocol";

/** Where a `rag` node's chunk came from. */
export interface TraceSource {
  path: string;
  startLine: number;
  endLine: number;
  symbol?: string;
}

export interface TraceTokens {
  prompt: number;
  completion: number;
}

/** One node's part of the run (every run of it added up; the last output and error shown). */
export interface TraceNode {
  id: string;
  type: string;
  /** `replayed`: not run again, its output taken from the parent run (or set by a fork). */
  status: "running" | "succeeded" | "failed" | "replayed";
  runs: number;
  elapsedMs: number;
  model?: string;
  output?: string;
  error?: string;
  note?: string;
  tokens: TraceTokens;
  sources: TraceSource[];
}

/** A secret a `vault` node made available: its key and the variable's name, never its value. */
export interface VaultVariable {
  node: string;
  key: string;
  name: string;
}

/** A decision of the policy, with the node it was about (none: the run's own). */
export interface TraceDecision extends PolicyDecision {
  node?: string;
}

export interface TraceProblem {
  node?: string;
  message: string;
}

/** The run and node a replay or fork started from, and a fork's edits. */
export interface ForkedFrom {
  runId: string;
  node: string;
  set: Record<string, string>;
}

export interface TraceView {
  runId: string;
  flowId: string;
  flowPath?: string;
  input?: string;
  context: { path: string; lines: number }[];
  /** Unix seconds. */
  startedAt?: number;
  retryOf?: string;
  forkedFrom?: ForkedFrom;
  /** `undefined` when the trace stops before the run's end (the process was killed). */
  status?: string;
  output?: string;
  elapsedMs?: number;
  nodes: TraceNode[];
  vault: VaultVariable[];
  warnings: TraceProblem[];
  errors: TraceProblem[];
  /** Every decision of the policy, in the run's order. */
  decisions: TraceDecision[];
  tokens: TraceTokens;
  /** Lines that were not trace lines, 1-based, with why. */
  skipped: { line: number; reason: string }[];
}

type Json = Record<string, unknown>;

const text = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);
const count = (value: unknown): number => (typeof value === "number" && Number.isFinite(value) ? value : 0);

function readFork(value: unknown): ForkedFrom | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const fork = value as Json;
  const runId = text(fork.run_id);
  const node = text(fork.node);
  if (!runId || !node) return undefined;
  const set: Record<string, string> = {};
  for (const [key, edit] of Object.entries((fork.set ?? {}) as Json)) if (typeof edit === "string") set[key] = edit;
  return { runId, node, set };
}

/** `replay of RUN from NODE`, or `fork of RUN from NODE (set a.prompt, input)`, as the CLI says. */
export function describeFork(fork: ForkedFrom): string {
  const keys = Object.keys(fork.set).sort();
  return keys.length === 0
    ? `replay of ${fork.runId} from ${fork.node}`
    : `fork of ${fork.runId} from ${fork.node} (set ${keys.join(", ")})`;
}

/** The nodes a run can be replayed from: the top-level nodes that ran in it (a sub-flow's
 * `parent/child` nodes replay from their `flow` node; a replayed node ran in an earlier run
 * and can be replayed from too). */
export function replayTargets(view: TraceView): TraceNode[] {
  return view.nodes.filter((node) => !node.id.includes("/") && node.status !== "running");
}

/** The keys a fork's edit may have (docs/protocol.md). */
export const EDIT_KEYS = "input, NODE.prompt, NODE.system, NODE.model, nodes.NODE.output";

/** `KEY=VALUE` as an edit (the value is everything after the first `=`), or why it is not one.
 * The server checks the key against the run; this only splits it. */
export function parseEdit(line: string): { key: string; value: string } | { error: string } {
  const at = line.indexOf("=");
  const key = at < 0 ? "" : line.slice(0, at).trim();
  if (!key) return { error: `\`${line}\` is not KEY=VALUE (KEY: ${EDIT_KEYS})` };
  return { key, value: line.slice(at + 1) };
}

/** Reads a trace file's text; never throws. */
export function parseTrace(runId: string, source: string): TraceView {
  const view: TraceView = {
    runId,
    flowId: "",
    context: [],
    nodes: [],
    vault: [],
    warnings: [],
    errors: [],
    decisions: [],
    tokens: { prompt: 0, completion: 0 },
    skipped: [],
  };
  const nodes = new Map<string, TraceNode>();
  const node = (id: string): TraceNode => {
    let found = nodes.get(id);
    if (!found) {
      found = { id, type: "", status: "running", runs: 0, elapsedMs: 0, tokens: { prompt: 0, completion: 0 }, sources: [] };
      nodes.set(id, found);
    }
    return found;
  };
  source.split("\n").forEach((raw, index) => {
    const line = raw.trim();
    if (!line) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (error) {
      view.skipped.push({ line: index + 1, reason: `not JSON (${error instanceof Error ? error.message : String(error)})` });
      return;
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      view.skipped.push({ line: index + 1, reason: "not a JSON object" });
      return;
    }
    const event = parsed as Json;
    const id = text(event.node);
    switch (event.event) {
      case "run":
        view.runId = text(event.run_id) ?? view.runId;
        view.flowId = text(event.flow_id) ?? view.flowId;
        view.flowPath = text(event.flow_path);
        view.input = text(event.input);
        view.startedAt = typeof event.started_at === "number" ? event.started_at : undefined;
        view.retryOf = text(event.retry_of);
        view.forkedFrom = readFork(event.forked_from);
        if (Array.isArray(event.context)) {
          for (const file of event.context as Json[]) {
            const path = text(file?.path);
            const body = text(file.text) ?? "";
            if (path) view.context.push({ path, lines: body === "" ? 0 : body.replace(/\n$/, "").split("\n").length });
          }
        }
        return;
      case "started":
        view.flowId ||= text(event.flow_id) ?? "";
        view.retryOf ??= text(event.retry_of);
        return;
      case "node_started":
        if (!id) break;
        node(id).type = text(event.node_type) ?? node(id).type;
        node(id).runs += 1;
        node(id).status = "running";
        return;
      case "node_finished": {
        if (!id) break;
        const done = node(id);
        // A node whose output came from the parent run has no `node_started` line.
        done.status = done.runs === 0 ? "replayed" : "succeeded";
        done.output = text(event.output);
        done.elapsedMs += count(event.elapsed_ms);
        done.model = text(event.model) ?? done.model;
        done.note = text(event.note);
        const usage = (event.usage ?? {}) as Json;
        done.tokens.prompt += count(usage.prompt_tokens);
        done.tokens.completion += count(usage.completion_tokens);
        view.tokens.prompt += count(usage.prompt_tokens);
        view.tokens.completion += count(usage.completion_tokens);
        if (Array.isArray(event.sources)) {
          done.sources = (event.sources as Json[]).flatMap((s) => {
            const path = text(s?.path);
            return path ? [{ path, startLine: count(s.start_line), endLine: count(s.end_line), symbol: text(s.symbol) || undefined }] : [];
          });
        }
        const secret = done.note ? /^secret `([^`]+)` is available as \{\{vars\.([^}]+)\}\}$/.exec(done.note) : null;
        if (secret && !view.vault.some((v) => v.node === id)) view.vault.push({ node: id, key: secret[1], name: secret[2] });
        return;
      }
      case "node_failed":
        if (!id) break;
        node(id).status = "failed";
        node(id).error = text(event.error);
        node(id).elapsedMs += count(event.elapsed_ms);
        view.errors.push({ node: id, message: text(event.error) ?? "failed" });
        return;
      case "warning":
        view.warnings.push({ node: id, message: text(event.message) ?? "" });
        return;
      case "decision": {
        const decision = readDecision(event);
        if (!decision) {
          view.skipped.push({ line: index + 1, reason: "a decision without its action or verdict" });
          return;
        }
        view.decisions.push(id ? { ...decision, node: id } : decision);
        return;
      }
      case "finished":
        view.status = text(event.status);
        view.output = text(event.output);
        view.elapsedMs = count(event.elapsed_ms);
        // The run's error repeats its failed nodes' errors; it is news only when none failed.
        if (text(event.error) && view.errors.length === 0) view.errors.push({ message: text(event.error) ?? "" });
        return;
      default:
        view.skipped.push({ line: index + 1, reason: `unknown event ${JSON.stringify(event.event ?? null)}` });
        return;
    }
    view.skipped.push({ line: index + 1, reason: `a ${String(event.event)} event without a node` });
  });
  view.nodes = [...nodes.values()];
  return view;
}

/** How long a node's output or the run's input may be before the viewer cuts it. */
export const SHOWN_CHARS = 2000;
export const SHOWN_LINES = 40;

/** `text` cut to SHOWN_LINES lines and SHOWN_CHARS characters, saying how much was left out. */
export function truncate(value: string): string {
  let shown = value;
  const lines = shown.split("\n");
  if (lines.length > SHOWN_LINES) shown = lines.slice(0, SHOWN_LINES).join("\n");
  if (shown.length > SHOWN_CHARS) shown = shown.slice(0, SHOWN_CHARS);
  const left = value.length - shown.length;
  return left > 0 ? `${shown}\n… (${left} more characters)` : shown;
}

/** A fenced block whose fence is longer than any run of backticks in `body`. */
function fenced(body: string): string {
  const longest = Math.max(2, ...(body.match(/`+/g) ?? []).map((run) => run.length));
  const fence = "`".repeat(longest + 1);
  return `${fence}text\n${body}\n${fence}`;
}

/** Inline text that cannot start markdown of its own (links, emphasis, html). */
function inline(value: string): string {
  return value.replace(/[\\`*_[\]<>#|]/g, (c) => `\\${c}`).replace(/\n/g, " ");
}

const tokens = (t: TraceTokens): string => `${t.prompt} prompt + ${t.completion} completion tokens`;

/** How many different things the policy allowed on its own a node's line lists. */
export const ROUTINE_SHOWN = 5;

/** Who decided, for a sentence: "Refused by you", "Allowed by your trust store". */
function decider(by: string): string {
  if (by === "policy") return "the policy";
  if (by === "trust_store") return "your trust store";
  return deciderName(by);
}

/** The run's decisions counted by verdict and decider: "1 refused · 2 allowed by you". */
function decisionCounts(decisions: TraceDecision[]): string {
  const counts = new Map<string, number>();
  for (const d of decisions) {
    const key = d.verdict === "refused" ? "refused" : `allowed by ${decider(d.by)}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const order = (key: string) => (key === "refused" ? 0 : key.endsWith("the policy") ? 2 : 1);
  return [...counts]
    .sort(([a], [b]) => order(a) - order(b))
    .map(([key, n]) => `${n} ${key}`)
    .join(" · ");
}

/** A list of decisions: each refusal and each thing the user, `--yes` or the trust store allowed
 * on its own line with what was asked and why (after its node's id when `withNode`); what the
 * policy allowed anyway on one dimmed line. */
function decisionLines(decisions: TraceDecision[], withNode = false): string[] {
  const lines = decisions.filter(isNotable).map((d) => {
    const mark = d.verdict === "refused" ? "⛔ **Refused**" : "✔ **Allowed**";
    const node = withNode && d.node ? `${inline(d.node)}: ` : "";
    return `- ${node}${mark} by ${decider(d.by)}: ${inline(describeAction(d.action))} — ${inline(d.reason)}`;
  });
  const routine = new Map<string, number>();
  for (const d of decisions.filter((d) => !isNotable(d))) {
    const what = describeAction(d.action);
    routine.set(what, (routine.get(what) ?? 0) + 1);
  }
  if (routine.size > 0) {
    const shown = [...routine].slice(0, ROUTINE_SHOWN).map(([what, n]) => inline(what) + (n > 1 ? ` (${n} times)` : ""));
    const more = routine.size > ROUTINE_SHOWN ? ` and ${routine.size - ROUTINE_SHOWN} more` : "";
    lines.push(`- _allowed by the policy: ${shown.join("; ")}${more}_`);
  }
  return lines;
}

export interface MarkdownOptions {
  /** The link target of a workspace file at a line (absent: paths are shown as text). */
  linkFor?: (path: string, line: number) => string;
  /** How to replay the run from a node, said under each node it can be replayed from. */
  replayHint?: (node: string) => string;
}

/** The trace viewer's page. */
export function traceMarkdown(view: TraceView, options: MarkdownOptions = {}): string {
  const out: string[] = [];
  const location = (path: string, start: number, end: number): string => {
    const label = inline(`${path}:${start}-${end}`);
    return options.linkFor ? `[${label}](${options.linkFor(path, start)})` : label;
  };
  out.push(`# Run ${inline(view.runId)}`, "");
  out.push(`- **Flow:** ${inline(view.flowId || "(unknown)")}${view.flowPath ? ` (${inline(view.flowPath)})` : ""}`);
  if (view.startedAt !== undefined) out.push(`- **Started:** ${new Date(view.startedAt * 1000).toISOString().replace(/\.000Z$/, "Z")}`);
  if (view.retryOf) out.push(`- **Retry of:** ${inline(view.retryOf)}`);
  if (view.forkedFrom) {
    const kind = Object.keys(view.forkedFrom.set).length === 0 ? "Replay of" : "Fork of";
    out.push(`- **${kind}:** ${inline(view.forkedFrom.runId)} from ${inline(view.forkedFrom.node)}`);
    for (const [key, value] of Object.entries(view.forkedFrom.set)) out.push(`  - set ${inline(key)}: ${inline(truncate(value))}`);
  }
  out.push(`- **Status:** ${view.status ?? "unfinished (the trace stops before the run's end)"}${view.elapsedMs !== undefined ? ` in ${view.elapsedMs} ms` : ""}`);
  out.push(`- **Tokens:** ${tokens(view.tokens)}`);
  if (view.decisions.length > 0) out.push(`- **Decisions:** ${decisionCounts(view.decisions)}`);
  out.push("", "## Input", "", view.input === undefined ? "_(not recorded)_" : fenced(truncate(view.input)));
  out.push("", "## Context files", "");
  if (view.context.length === 0) out.push("_(none)_");
  for (const file of view.context) out.push(`- ${options.linkFor ? `[${inline(file.path)}](${options.linkFor(file.path, 1)})` : inline(file.path)} (${file.lines} lines)`);
  out.push("", "## Vault variables", "");
  if (view.vault.length === 0) out.push("_(none)_");
  for (const v of view.vault) out.push(`- \`vars.${v.name}\` from secret \`${v.key}\` (node ${inline(v.node)}; value not shown)`);
  out.push("", "## Nodes", "");
  for (const node of view.nodes) {
    const facts = [node.type || "?", node.status, `${node.elapsedMs} ms`];
    if (node.runs > 1) facts.push(`${node.runs} runs`);
    if (node.model) facts.push(`model ${node.model}`);
    if (node.tokens.prompt || node.tokens.completion) facts.push(tokens(node.tokens));
    out.push(`### ${inline(node.id)}`, "", facts.map(inline).join(" · "), "");
    if (node.note) out.push(`_${inline(node.note)}_`, "");
    if (options.replayHint && replayTargets(view).includes(node)) out.push(`_↺ ${inline(options.replayHint(node.id))}_`, "");
    const decided = view.decisions.filter((d) => d.node === node.id);
    if (decided.length > 0) out.push(...decisionLines(decided), "");
    if (node.sources.length > 0) {
      out.push("RAG chunks used:", "");
      for (const s of node.sources) out.push(`- ${location(s.path, s.startLine, s.endLine)}${s.symbol ? ` (${inline(s.symbol)})` : ""}`);
      out.push("");
    }
    if (node.error) out.push(`**Error:** ${inline(node.error)}`, "");
    if (node.output !== undefined && node.output !== "") out.push(fenced(truncate(node.output)), "");
  }
  if (view.nodes.length === 0) out.push("_(no node ran)_", "");
  // Decisions about no node that ran (the run's own, or a node the trace does not show start).
  const ids = new Set(view.nodes.map((n) => n.id));
  const unplaced = view.decisions.filter((d) => d.node === undefined || !ids.has(d.node));
  if (unplaced.length > 0) {
    out.push("## Decisions", "");
    for (const line of decisionLines(unplaced, true)) out.push(line);
    out.push("");
  }
  const problems = (title: string, list: TraceProblem[]) => {
    if (list.length === 0) return;
    out.push(`## ${title}`, "");
    for (const p of list) out.push(`- ${p.node ? `${inline(p.node)}: ` : ""}${inline(p.message)}`);
    out.push("");
  };
  problems("Warnings", view.warnings);
  problems("Errors", view.errors);
  if (view.output !== undefined) out.push("## Output", "", fenced(truncate(view.output)), "");
  if (view.skipped.length > 0) {
    out.push("## Skipped trace lines", "");
    for (const s of view.skipped) out.push(`- line ${s.line}: ${inline(s.reason)}`);
    out.push("");
  }
  return out.join("\n");
}

/** Run ids from the file names of `.codexos/runs/`, newest first (ids start with their UTC time). */
export function runIdsNewestFirst(fileNames: string[]): string[] {
  return fileNames
    .filter((name) => /^[\w-]+\.jsonl$/.test(name))
    .map((name) => name.slice(0, -".jsonl".length))
    .sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
}
