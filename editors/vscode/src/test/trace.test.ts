// Unit tests of the run trace viewer's logic, on traces shaped as the server writes them.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { describeFork, parseEdit, parseTrace, replayTargets, runIdsNewestFirst, traceMarkdown, truncate, SHOWN_CHARS } from "../logic/trace";

const RUN = "20261126T112545Z-e308";

const trace = [
  { event: "run", run_id: RUN, flow_id: "answer", flow_path: "/ws/flows/answer.flow.json", input: "how are payments retried?", context: [{ path: "src/retry.rs", text: "fn a() {}\nfn b() {}\n" }], started_at: 1795692345, t_ms: 0 },
  { event: "started", run_id: RUN, flow_id: "answer", t_ms: 1 },
  { event: "node_started", node: "start", node_type: "entry", iteration: 0, t_ms: 1 },
  { event: "node_finished", node: "start", output: "how are payments retried?", elapsed_ms: 0, t_ms: 1 },
  { event: "node_started", node: "key", node_type: "vault", iteration: 0, t_ms: 1 },
  { event: "node_finished", node: "key", output: "how are payments retried?", elapsed_ms: 1, note: "secret `OPENAI_KEY` is available as {{vars.api_key}}", t_ms: 2 },
  { event: "node_started", node: "find", node_type: "rag", iteration: 0, t_ms: 2 },
  {
    event: "node_finished",
    node: "find",
    output: "src/retry.rs:3-12 …",
    elapsed_ms: 7,
    note: '2 chunks for "payments retried"',
    sources: [
      { path: "src/retry.rs", start_line: 3, end_line: 12, symbol: "retry_payment" },
      { path: "docs/payments.md", start_line: 1, end_line: 9 },
    ],
    t_ms: 9,
  },
  { event: "node_started", node: "ask", node_type: "llm", iteration: 0, t_ms: 9 },
  { event: "warning", node: "ask", message: "openai/gpt-4o-mini failed, trying local", t_ms: 10 },
  { event: "node_finished", node: "ask", output: "With exponential backoff.", elapsed_ms: 30, model: "local/qwen", usage: { prompt_tokens: 120, completion_tokens: 5 }, t_ms: 40 },
  { event: "node_started", node: "save", node_type: "tool", iteration: 0, t_ms: 40 },
  { event: "node_failed", node: "save", error: "tool `write_file`: no permission for out.md", elapsed_ms: 2, t_ms: 42 },
  { event: "finished", run_id: RUN, status: "failed", error: "node `save`: tool `write_file`: no permission for out.md", elapsed_ms: 42, t_ms: 42 },
]
  .map((line) => JSON.stringify(line))
  .join("\n");

test("a trace becomes the run's flow, input, context and each node's type, status, time and model", () => {
  const view = parseTrace(RUN, trace);
  assert.equal(view.flowId, "answer");
  assert.equal(view.input, "how are payments retried?");
  assert.deepEqual(view.context, [{ path: "src/retry.rs", lines: 2 }]);
  assert.equal(view.status, "failed");
  assert.deepEqual(
    view.nodes.map((n) => [n.id, n.type, n.status, n.elapsedMs, n.model ?? ""]),
    [
      ["start", "entry", "succeeded", 0, ""],
      ["key", "vault", "succeeded", 1, ""],
      ["find", "rag", "succeeded", 7, ""],
      ["ask", "llm", "succeeded", 30, "local/qwen"],
      ["save", "tool", "failed", 2, ""],
    ],
  );
  assert.deepEqual(view.tokens, { prompt: 120, completion: 5 });
  assert.deepEqual(view.errors, [{ node: "save", message: "tool `write_file`: no permission for out.md" }], "the run's error repeats the node's once");
  assert.deepEqual(view.skipped, []);
});

test("the page lists the rag node's chunks as links to their lines and the vault variable by name only", () => {
  const page = traceMarkdown(parseTrace(RUN, trace), { linkFor: (path, line) => `file:///ws/${path}#L${line}` });
  assert.ok(page.includes("- [src/retry.rs:3-12](file:///ws/src/retry.rs#L3) (retry\\_payment)"), page);
  assert.ok(page.includes("- [docs/payments.md:1-9](file:///ws/docs/payments.md#L1)"), page);
  assert.ok(page.includes("`vars.api_key` from secret `OPENAI_KEY`"), page);
  for (const heading of ["### start", "### key", "### find", "### ask", "### save", "## Warnings", "## Errors"]) {
    assert.ok(page.includes(`\n${heading}\n`), `${heading} in the page`);
  }
  assert.ok(page.includes("llm · succeeded · 30 ms · model local/qwen · 120 prompt + 5 completion tokens"), page);
  assert.ok(page.includes("ask: openai/gpt-4o-mini failed, trying local"), page);
  assert.ok(page.includes("**Status:** failed in 42 ms"), page);
});

test("a damaged line and a cut last line are skipped with a note and the rest still shows", () => {
  const lines = trace.split("\n");
  const damaged = [...lines.slice(0, 3), "{not json", ...lines.slice(3, 7), lines[7].slice(0, 25)].join("\n");
  const view = parseTrace(RUN, damaged);
  assert.deepEqual(
    view.skipped.map((s) => s.line),
    [4, 9],
  );
  assert.equal(view.status, undefined, "the run's end is not in the trace");
  assert.deepEqual(
    view.nodes.map((n) => [n.id, n.status]),
    [
      ["start", "succeeded"],
      ["key", "succeeded"],
      ["find", "running"],
    ],
  );
  const page = traceMarkdown(view);
  assert.ok(page.includes("unfinished (the trace stops before the run's end)"), page);
  assert.ok(page.includes("## Skipped trace lines\n\n- line 4: not JSON"), page);
});

test("lines that are JSON but not trace events never throw", () => {
  const view = parseTrace(RUN, '[1,2]\nnull\n"text"\n{"event":"node_finished"}\n{"event":"surprise"}\n{"event":"node_finished","node":"x","usage":"many","sources":[null,{"path":7}]}');
  assert.deepEqual(
    view.skipped.map((s) => s.line),
    [1, 2, 3, 4, 5],
  );
  assert.deepEqual(view.nodes.map((n) => [n.id, n.sources.length, n.tokens.prompt]), [["x", 0, 0]]);
  assert.ok(traceMarkdown(view).includes("### x"));
});

test("long outputs are cut with the count of characters left out, and backticks cannot end the block", () => {
  const long = "x".repeat(SHOWN_CHARS + 500);
  assert.equal(truncate(long), `${"x".repeat(SHOWN_CHARS)}\n… (500 more characters)`);
  const manyLines = Array.from({ length: 100 }, (_, i) => `line ${i}`).join("\n");
  assert.ok(truncate(manyLines).startsWith("line 0\n") && truncate(manyLines).includes("line 39\n…") && !truncate(manyLines).includes("line 40"));
  const withFence = [JSON.stringify({ event: "node_finished", node: "ask", output: "```rust\nfn a() {}\n```\n# not a heading", elapsed_ms: 1 })].join("\n");
  const page = traceMarkdown(parseTrace(RUN, withFence));
  assert.ok(page.includes("````text\n```rust\nfn a() {}\n```\n# not a heading\n````"), page);
});

test("runs are offered newest first and other files in the runs folder are left out", () => {
  assert.deepEqual(runIdsNewestFirst(["20261126T071606Z-3f2a.jsonl", "notes.txt", "20261126T112545Z-e308.jsonl", "20261125T235959Z-0001.jsonl"]), [
    "20261126T112545Z-e308",
    "20261126T071606Z-3f2a",
    "20261125T235959Z-0001",
  ]);
});

const FORK = "20261207T150131Z-4ec5";

const fork = [
  { event: "run", run_id: FORK, flow_id: "five", input: "another question", started_at: 1796655691, forked_from: { run_id: RUN, node: "draft", set: { "draft.prompt": "Shorter: {{nodes.plan.output}}", "nodes.plan.output": "a better plan" } }, t_ms: 0 },
  { event: "node_finished", node: "start", output: "q", elapsed_ms: 0, note: `replayed from run ${RUN}`, t_ms: 0 },
  { event: "node_finished", node: "plan", output: "a better plan", elapsed_ms: 0, note: "set by this fork", t_ms: 0 },
  { event: "started", run_id: FORK, flow_id: "five", forked_from: { run_id: RUN, node: "draft" }, t_ms: 0 },
  { event: "node_started", node: "draft", node_type: "llm", iteration: 0, t_ms: 1 },
  { event: "node_finished", node: "draft", output: "short", elapsed_ms: 5, model: "openai/gpt-4o", t_ms: 6 },
  { event: "node_started", node: "sub", node_type: "flow", iteration: 0, t_ms: 6 },
  { event: "node_started", node: "sub/in", node_type: "entry", iteration: 0, t_ms: 6 },
  { event: "node_finished", node: "sub/in", output: "short", elapsed_ms: 0, t_ms: 6 },
  { event: "node_finished", node: "sub", output: "short", elapsed_ms: 1, t_ms: 7 },
  { event: "node_started", node: "end", node_type: "exit", iteration: 0, t_ms: 7 },
  { event: "finished", run_id: FORK, status: "cancelled", error: "the run was cancelled", frontier: ["end"], elapsed_ms: 8, t_ms: 8 },
]
  .map((line) => JSON.stringify(line))
  .join("\n");

test("a fork's trace names its parent and edits, and the nodes it took from the parent are replayed", () => {
  const view = parseTrace(FORK, fork);
  assert.deepEqual(view.forkedFrom, {
    runId: RUN,
    node: "draft",
    set: { "draft.prompt": "Shorter: {{nodes.plan.output}}", "nodes.plan.output": "a better plan" },
  });
  assert.equal(describeFork(view.forkedFrom!), `fork of ${RUN} from draft (set draft.prompt, nodes.plan.output)`);
  assert.equal(describeFork({ runId: RUN, node: "draft", set: {} }), `replay of ${RUN} from draft`);
  assert.deepEqual(
    view.nodes.map((n) => [n.id, n.status]),
    [
      ["start", "replayed"],
      ["plan", "replayed"],
      ["draft", "succeeded"],
      ["sub", "succeeded"],
      ["sub/in", "succeeded"],
      ["end", "running"],
    ],
  );
  assert.deepEqual(
    replayTargets(view).map((n) => n.id),
    ["start", "plan", "draft", "sub"],
    "top-level nodes that ran or were replayed; not a sub-flow's node, not one cut short",
  );
  const page = traceMarkdown(view, { replayHint: (node) => `replay from ${node}` });
  assert.ok(page.includes(`- **Fork of:** ${RUN} from draft\n  - set draft.prompt: Shorter: {{nodes.plan.output}}\n`), page);
  assert.ok(page.includes("_↺ replay from draft_") && !page.includes("replay from sub/in") && !page.includes("replay from end"), page);
});

test("an edit is split at its first =, and a line without a key is refused naming the keys", () => {
  assert.deepEqual(parseEdit("draft.prompt=a = b"), { key: "draft.prompt", value: "a = b" });
  assert.deepEqual(parseEdit(" input =x"), { key: "input", value: "x" });
  assert.deepEqual(parseEdit("input="), { key: "input", value: "" });
  assert.deepEqual(parseEdit("=x"), { error: "`=x` is not KEY=VALUE (KEY: input, NODE.prompt, NODE.system, NODE.model, nodes.NODE.output)" });
  assert.ok("error" in parseEdit("draft.prompt"));
});
