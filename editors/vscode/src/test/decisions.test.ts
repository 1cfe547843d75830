// Unit tests of how the policy's decisions show: `decision` run events in the execution console
// and `decision` trace lines in the trace viewer, on events and traces shaped as the server sends
// and writes them (copied from a run of tests/nvim/approvals).
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { RunConsole } from "../logic/console";
import { decisionLine, decisionSummary, describeAction, readDecision } from "../logic/decisions";
import type { PolicyAction, PolicyDecision, RunEvent } from "../logic/protocol";
import { parseTrace, ROUTINE_SHOWN, traceMarkdown } from "../logic/trace";

const RUN = "20261207T064755Z-38eb";
const COMMAND = { kind: "command", tool: "shell", command: "echo approved > proof.txt" } as const;

const denied: PolicyDecision = { tool: "shell", action: COMMAND, verdict: "refused", by: "user", reason: "you denied it (agents run commands only with your approval)" };
const remembered: PolicyDecision = { tool: "shell", action: COMMAND, verdict: "allowed", by: "trust_store", reason: "you allowed `echo approved > proof.txt` in this workspace" };
const read: PolicyDecision = { tool: "read_file", action: { kind: "read", path: "codexos.toml" }, verdict: "allowed", by: "policy", reason: "agents may read the workspace" };

/** A `codexos/runEvent` of kind `decision`, as the server sends it (`text` is its summary). */
function event(decision: PolicyDecision, node = "stamp"): RunEvent {
  return { token: "t", run_id: RUN, kind: "decision", node, text: decisionSummary(decision), decision };
}

/** A `decision` line of a trace: the decision's fields beside `event` and `node`. */
function traceLine(decision: PolicyDecision, node?: string): Record<string, unknown> {
  return { event: "decision", ...(node ? { node } : {}), ...decision, t_ms: 3 };
}

test("the console shows what was refused and what you or your trust store allowed, not what the policy allows anyway", () => {
  const view = new RunConsole("flows/proof.flow.json");
  const appended = [
    view.apply({ token: "t", kind: "node_started", node: "look", text: "tool" }),
    view.apply(event(read, "look")),
    view.apply({ token: "t", kind: "node_started", node: "stamp", text: "tool" }),
    view.apply(event(denied)),
    view.apply({ token: "t", kind: "node_failed", node: "stamp", text: "tool `shell`: refused: you denied it (agents run commands only with your approval)" }),
    view.apply(event(remembered)),
  ].join("");
  assert.equal(
    appended,
    [
      "▶ look (tool)",
      "▶ stamp (tool)",
      "⛔ stamp: shell refused by you: run the shell command `echo approved > proof.txt`: you denied it (agents run commands only with your approval)",
      "✗ stamp: tool `shell`: refused: you denied it (agents run commands only with your approval)",
      "✔ stamp: shell allowed by trust store: run the shell command `echo approved > proof.txt`: you allowed `echo approved > proof.txt` in this workspace",
      "",
    ].join("\n"),
  );
});

test("the console line is the server's summary when it sends one, and a decision it cannot read adds nothing", () => {
  assert.equal(decisionLine("fix", denied, "refused by you: as the server words it"), "⛔ fix: shell refused by you: as the server words it");
  assert.equal(decisionLine(undefined, { ...denied, by: "policy" }), `⛔ shell refused by policy: run the shell command \`echo approved > proof.txt\`: ${denied.reason}`);
  assert.equal(decisionLine("x", { ...remembered, by: "yes" })?.startsWith("✔ x: shell allowed by --yes: "), true);
  const view = new RunConsole("x");
  assert.equal(view.apply({ token: "t", kind: "decision", node: "n", text: "refused by you: …" }), "");
  assert.equal(view.text(), "Run x");
});

test("every kind of action is worded as the server words it", () => {
  const cases: [PolicyAction, string][] = [
    [{ kind: "read", path: "src/a.rs" }, "read `src/a.rs`"],
    [{ kind: "search" }, "search the workspace index"],
    [{ kind: "write", path: ".git/config" }, "write `.git/config`"],
    [COMMAND, "run the shell command `echo approved > proof.txt`"],
    [{ kind: "command", tool: "python", command: "print(1)" }, "run with `python`: print(1)"],
    [{ kind: "plugin", name: "word_count", file: "tools/word_count.tool.json", command: "./count.py", hash: "ab12" }, "run the plug-in `word_count` (tools/word_count.tool.json): `./count.py`"],
    [{ kind: "mcp_server", name: "github", command: "gh-mcp --stdio", hash: "cd34" }, "start the MCP server `github`: `gh-mcp --stdio`"],
    [{ kind: "mcp_tool", server: "github", tool: "list_issues" }, "call `list_issues` of the MCP server `github`"],
    [{ kind: "fetch", method: "POST", url: "https://example.com/x" }, "POST https://example.com/x"],
    [{ kind: "unlisted_tool", listed: [] }, "call a tool, though its node lists none"],
    [{ kind: "unlisted_tool", listed: ["search_workspace", "read_file"] }, "call a tool its node does not list (it lists `search_workspace`, `read_file`)"],
    [{ kind: "sub_flow", path: "../x.flow.json", inside_workspace: false }, "run the sub-flow `../x.flow.json`"],
    [{ kind: "internal" }, "use a tool of CodexOS itself"],
  ];
  for (const [action, expected] of cases) assert.equal(describeAction(action), expected);
  const future = { kind: "teleport", to: "mars" } as unknown as PolicyAction;
  assert.equal(describeAction(future), '{"kind":"teleport","to":"mars"}', "a newer server's action still says what it is");
});

test("a decision is read from a trace line or an event, and anything else is not one", () => {
  assert.deepEqual(readDecision(traceLine(denied, "stamp")), denied);
  assert.deepEqual(readDecision(denied), denied);
  for (const bad of [null, "refused", {}, { ...denied, verdict: "maybe" }, { ...denied, action: "rm -rf" }, { ...denied, action: { command: "x" } }]) {
    assert.equal(readDecision(bad), undefined, JSON.stringify(bad));
  }
});

const trace = [
  { event: "run", run_id: RUN, flow_id: "proof", input: "run 1", started_at: 1796626075, t_ms: 0 },
  { event: "started", run_id: RUN, flow_id: "proof", t_ms: 0 },
  { event: "node_started", node: "look", node_type: "tool", iteration: 0, t_ms: 0 },
  traceLine(read, "look"),
  traceLine(read, "look"),
  traceLine({ ...read, action: { kind: "search" }, tool: "search_workspace" }, "look"),
  { event: "node_finished", node: "look", output: "[tools]", elapsed_ms: 1, t_ms: 1 },
  { event: "node_started", node: "stamp", node_type: "tool", iteration: 0, t_ms: 1 },
  traceLine(denied, "stamp"),
  { event: "node_failed", node: "stamp", error: "tool `shell`: refused: you denied it (agents run commands only with your approval)", elapsed_ms: 20, t_ms: 21 },
  traceLine({ tool: "flow", action: { kind: "sub_flow", path: "../../x.flow.json", inside_workspace: false }, verdict: "refused", by: "policy", reason: "sub-flows must be workspace files" }),
  { event: "finished", run_id: RUN, status: "failed", error: "node `stamp`: tool `shell`: refused: you denied it", elapsed_ms: 21, t_ms: 21 },
]
  .map((line) => JSON.stringify(line))
  .join("\n");

test("the trace page marks a refusal with what was asked and why, under the node it stopped", () => {
  const view = parseTrace(RUN, trace);
  assert.deepEqual(view.skipped, [], "decision lines are trace lines");
  assert.equal(view.decisions.length, 5);
  const page = traceMarkdown(view);
  assert.ok(page.includes("- **Decisions:** 2 refused · 3 allowed by the policy\n"), page);
  const stamp = page.slice(page.indexOf("### stamp"));
  assert.ok(
    stamp.startsWith(
      [
        "### stamp",
        "",
        "tool · failed · 20 ms",
        "",
        "- ⛔ **Refused** by you: run the shell command \\`echo approved \\> proof.txt\\` — you denied it (agents run commands only with your approval)",
        "",
        "**Error:** tool \\`shell\\`: refused",
      ].join("\n"),
    ),
    stamp,
  );
});

test("what the policy allowed on its own is one dimmed line per node, each thing once with a count", () => {
  const page = traceMarkdown(parseTrace(RUN, trace));
  assert.ok(page.includes("\n- _allowed by the policy: read \\`codexos.toml\\` (2 times); search the workspace index_\n"), page);
  const many = Array.from({ length: ROUTINE_SHOWN + 2 }, (_, i) => traceLine({ ...read, action: { kind: "read", path: `f${i}.txt` } }, "look"));
  const busy = traceMarkdown(parseTrace(RUN, [JSON.stringify({ event: "node_started", node: "look", node_type: "tool" }), ...many.map((l) => JSON.stringify(l))].join("\n")));
  assert.ok(busy.includes("read \\`f4.txt\\` and 2 more_"), busy);
  assert.ok(!busy.includes("f5.txt"), busy);
});

test("what you or your trust store allowed is marked too, and a decision about no node that ran has its own section", () => {
  const allowed = [
    { event: "node_started", node: "stamp", node_type: "tool" },
    traceLine({ ...remembered, by: "user", reason: "you allowed it this once" }, "stamp"),
    traceLine(remembered, "stamp"),
    traceLine(denied, "ghost"),
  ]
    .map((line) => JSON.stringify(line))
    .join("\n");
  const page = traceMarkdown(parseTrace(RUN, allowed));
  assert.ok(page.includes("- **Decisions:** 1 refused · 1 allowed by you · 1 allowed by your trust store\n"), page);
  assert.ok(page.includes("- ✔ **Allowed** by you: run the shell command \\`echo approved \\> proof.txt\\` — you allowed it this once\n"), page);
  assert.ok(page.includes("- ✔ **Allowed** by your trust store: run the shell command \\`echo approved \\> proof.txt\\` — you allowed \\`echo approved \\> proof.txt\\` in this workspace\n"), page);
  assert.ok(page.includes("## Decisions\n\n- ghost: ⛔ **Refused** by you: run the shell command"), page);

  const runOwn = traceMarkdown(parseTrace(RUN, trace));
  assert.ok(runOwn.includes("## Decisions\n\n- ⛔ **Refused** by the policy: run the sub-flow \\`../../x.flow.json\\` — sub-flows must be workspace files\n"), runOwn);
});

test("a decision line without its action or verdict is skipped with a note", () => {
  const view = parseTrace(RUN, JSON.stringify({ event: "decision", node: "stamp", tool: "shell", verdict: "refused" }));
  assert.deepEqual(view.skipped, [{ line: 1, reason: "a decision without its action or verdict" }]);
  assert.deepEqual(view.decisions, []);
});
