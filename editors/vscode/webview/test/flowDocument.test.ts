import { describe, expect, test } from "vitest";
import {
  addNode,
  combine,
  diffEdit,
  applyEdits,
  connect,
  deleteEdge,
  deleteNode,
  moveNode,
  nodeAtOffset,
  parseFlow,
  reconnect,
  setField,
  type TextEdit,
} from "../src/model/flowDocument";
import { autoLayout, positionsOf } from "../src/model/layout";
import { previewTemplate } from "../src/model/template";

// A flow written by hand: one-line and multi-line nodes, odd spacing, a comment-free unknown field.
const flow = `{
  "id": "demo",
  "x-owner":   "team-a",
  "nodes": [
    { "id": "start", "type": "entry", "next": "plan" },
    {
      "id": "plan",
      "type": "llm",
      "model": "local",
      "custom": {"keep": [1,2,   3]},
      "next": ["a", "b"]
    },
    { "id": "a", "type": "rag", "query": "{{input}}", "next": "check" },
    { "id": "b", "type": "tool", "tool": "read_file", "next": "check" },
    { "id": "check", "type": "condition", "if": "{{nodes.a.output}} contains \\"x\\"", "then": "polish", "else": "end" },
    { "id": "polish", "type": "reflect", "target": "plan", "max_iterations": 2, "next": "end" },
    { "id": "end", "type": "exit" }
  ]
}
`;

const edit = (edits: TextEdit[]) => applyEdits(flow, edits);

/** The lines that differ between two texts, as `-old` / `+new`. */
function changedLines(before: string, after: string): string[] {
  const a = before.split("\n");
  const b = after.split("\n");
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  return [...a.slice(start, endA).map((l) => `-${l}`), ...b.slice(start, endB).map((l) => `+${l}`)];
}

describe("document to graph", () => {
  test("every node and every edge kind is read, with parallel next branches marked", () => {
    const graph = parseFlow(flow);
    expect(graph.id).toBe("demo");
    expect(graph.nodes.map((n) => `${n.id}:${n.type}`)).toEqual([
      "start:entry", "plan:llm", "a:rag", "b:tool", "check:condition", "polish:reflect", "end:exit",
    ]);
    expect(graph.edges.map((e) => `${e.id}${e.parallel ? " (parallel)" : ""}`)).toEqual([
      "start:next:plan",
      "plan:next:a (parallel)",
      "plan:next:b (parallel)",
      "a:next:check",
      "b:next:check",
      "check:then:polish",
      "check:else:end",
      "polish:next:end",
      "polish:target:plan",
    ]);
  });

  test("unknown fields are kept in the node's fields", () => {
    const plan = parseFlow(flow).nodes.find((n) => n.id === "plan");
    expect(plan?.fields.custom).toEqual({ keep: [1, 2, 3] });
  });

  test("a reference to a missing node draws no edge", () => {
    const graph = parseFlow(`{"id":"x","nodes":[{"id":"s","type":"entry","next":"planer"},{"id":"planner","type":"llm"}]}`);
    expect(graph.edges).toEqual([]);
    expect(graph.nodes).toHaveLength(2);
  });

  test("a duplicated id draws only its first node", () => {
    const graph = parseFlow(`{"id":"x","nodes":[{"id":"a","type":"entry","next":"a"},{"id":"a","type":"exit"}]}`);
    expect(graph.nodes.map((n) => `${n.id}:${n.type}`)).toEqual(["a:entry"]);
  });

  test("text that is not a flow says why", () => {
    expect(parseFlow("[1, 2]").problem).toBe("The file is not a JSON object.");
    expect(parseFlow(`{"id": "x"}`).problem).toBe("The flow has no `nodes` list.");
  });

  test("a half-typed document still draws the nodes it can read", () => {
    const graph = parseFlow(`{"id":"x","nodes":[{"id":"s","type":"entry","next":"e"},{"id":"e","type":"exit"},{"id":`);
    expect(graph.nodes.map((n) => n.id)).toEqual(["s", "e"]);
    expect(graph.edges.map((e) => e.id)).toEqual(["s:next:e"]);
  });

  test("an offset inside a node's text finds that node", () => {
    const graph = parseFlow(flow);
    expect(nodeAtOffset(graph, flow.indexOf('"custom"'))?.id).toBe("plan");
    expect(nodeAtOffset(graph, flow.indexOf('"x-owner"'))).toBeUndefined();
  });

  test("positions come from ui, and nodes without one are laid out top to bottom", () => {
    const withUi = parseFlow(applyEdits(flow, moveNode(flow, "start", { x: 5, y: 7 })));
    expect(withUi.nodes[0].ui).toEqual({ x: 5, y: 7 });
    const laid = autoLayout(parseFlow(flow));
    expect(laid.start.y).toBeLessThan(laid.plan.y);
    expect(laid.plan.y).toBeLessThan(laid.a.y);
    expect(laid.a.y).toBe(laid.b.y);
    expect(laid.a.x).not.toBe(laid.b.x);
    expect(positionsOf(parseFlow(flow)).end.y).toBeGreaterThan(laid.check.y);
  });
});

describe("graph edits to document", () => {
  test("moving a one-line node adds ui on its own line, nothing else changes", () => {
    expect(changedLines(flow, edit(moveNode(flow, "start", { x: 120.4, y: 40 })))).toEqual([
      '-    { "id": "start", "type": "entry", "next": "plan" },',
      '+    { "id": "start", "type": "entry", "next": "plan", "ui": { "x": 120, "y": 40 } },',
    ]);
  });

  test("moving a multi-line node adds ui as a new line in the node's indentation", () => {
    expect(changedLines(flow, edit(moveNode(flow, "plan", { x: 1, y: 2 })))).toEqual([
      '-      "next": ["a", "b"]',
      '+      "next": ["a", "b"],',
      '+      "ui": { "x": 1, "y": 2 }',
    ]);
  });

  test("moving a node again only rewrites the numbers and keeps other ui fields", () => {
    const once = applyEdits(flow, setField(flow, "a", "ui", { x: 1, y: 2, collapsed: true }));
    const twice = applyEdits(once, moveNode(once, "a", { x: 300, y: -20 }));
    expect(changedLines(once, twice)).toEqual([
      '-    { "id": "a", "type": "rag", "query": "{{input}}", "next": "check", "ui": { "x": 1, "y": 2, "collapsed": true } },',
      '+    { "id": "a", "type": "rag", "query": "{{input}}", "next": "check", "ui": { "x": 300, "y": -20, "collapsed": true } },',
    ]);
  });

  test("connecting a node without next sets it", () => {
    const text = edit(deleteEdge(flow, { source: "a", kind: "next", target: "check" }));
    expect(changedLines(text, applyEdits(text, connect(text, "a", "end")))).toEqual([
      '-    { "id": "a", "type": "rag", "query": "{{input}}" },',
      '+    { "id": "a", "type": "rag", "query": "{{input}}", "next": "end" },',
    ]);
  });

  test("connecting a second successor makes next a parallel list, a third appends", () => {
    const two = edit(connect(flow, "start", "end"));
    expect(parseFlow(two).nodes[0].fields.next).toEqual(["plan", "end"]);
    const three = applyEdits(two, connect(two, "start", "a"));
    expect(changedLines(flow, three)).toEqual([
      '-    { "id": "start", "type": "entry", "next": "plan" },',
      '+    { "id": "start", "type": "entry", "next": ["plan", "end", "a"] },',
    ]);
    expect(connect(three, "start", "a")).toEqual([]);
  });

  test("connecting from a condition's else handle changes else", () => {
    const text = edit(connect(flow, "check", "plan", "else"));
    const check = parseFlow(text).nodes.find((n) => n.id === "check");
    expect(check?.fields.else).toBe("plan");
    expect(check?.fields.then).toBe("polish");
  });

  test("dragging an edge's end re-points that one branch", () => {
    const text = edit(reconnect(flow, { source: "plan", kind: "next", target: "b" }, "end"));
    expect(parseFlow(text).nodes[1].fields.next).toEqual(["a", "end"]);
  });

  test("deleting one of two parallel edges leaves a plain next", () => {
    expect(changedLines(flow, edit(deleteEdge(flow, { source: "plan", kind: "next", target: "a" })))).toEqual([
      '-      "next": ["a", "b"]',
      '+      "next": "b"',
    ]);
  });

  test("deleting a node removes it and every reference to it, keeping the rest of the text", () => {
    const text = edit(deleteNode(flow, "end"));
    expect(changedLines(flow, text)).toEqual([
      '-    { "id": "check", "type": "condition", "if": "{{nodes.a.output}} contains \\"x\\"", "then": "polish", "else": "end" },',
      '-    { "id": "polish", "type": "reflect", "target": "plan", "max_iterations": 2, "next": "end" },',
      '-    { "id": "end", "type": "exit" }',
      '+    { "id": "check", "type": "condition", "if": "{{nodes.a.output}} contains \\"x\\"", "then": "polish" },',
      '+    { "id": "polish", "type": "reflect", "target": "plan", "max_iterations": 2 }',
    ]);
    expect(() => JSON.parse(text)).not.toThrow();
  });

  test("deleting the first node keeps the list valid JSON", () => {
    const text = edit(deleteNode(flow, "start"));
    expect(JSON.parse(text).nodes[0].id).toBe("plan");
  });

  test("deleting a node that points at itself makes one edit", () => {
    const loop = `{"id":"x","nodes":[{"id":"s","type":"entry","next":"s"},{"id":"e","type":"exit"}]}`;
    expect(applyEdits(loop, deleteNode(loop, "s"))).toBe(`{"id":"x","nodes":[{"id":"e","type":"exit"}]}`);
  });

  test("a new node is appended in the list's style and parses back", () => {
    const text = edit(addNode(flow, "llm", "llm", { x: 10, y: 20 }));
    expect(changedLines(flow, text)).toEqual([
      '-    { "id": "end", "type": "exit" }',
      '+    { "id": "end", "type": "exit" },',
      '+    { "id": "llm", "type": "llm", "model": "local", "prompt": "{{input}}", "ui": { "x": 10, "y": 20 } }',
    ]);
  });

  test("a field set to undefined is removed, a new one is inserted", () => {
    const text = edit([...setField(flow, "a", "k", 3)]);
    expect(parseFlow(text).nodes[2].fields.k).toBe(3);
    const back = applyEdits(text, setField(text, "a", "k", undefined));
    expect(back).toBe(flow);
  });

  test("a round trip of edits and their inverses gives back the same text byte for byte", () => {
    let text = flow;
    text = applyEdits(text, connect(text, "start", "end"));
    text = applyEdits(text, deleteEdge(text, { source: "start", kind: "next", target: "end" }));
    expect(text).toBe(flow);
  });

  test("a flow with CRLF line ends and tabs keeps them", () => {
    const crlf = '{\r\n\t"id": "t",\r\n\t"nodes": [\r\n\t\t{\r\n\t\t\t"id": "s",\r\n\t\t\t"type": "entry"\r\n\t\t}\r\n\t]\r\n}\r\n';
    const text = applyEdits(crlf, moveNode(crlf, "s", { x: 1, y: 2 }));
    expect(text).toBe('{\r\n\t"id": "t",\r\n\t"nodes": [\r\n\t\t{\r\n\t\t\t"id": "s",\r\n\t\t\t"type": "entry",\r\n\t\t\t"ui": { "x": 1, "y": 2 }\r\n\t\t}\r\n\t]\r\n}\r\n');
  });
});

describe("prompt preview", () => {
  test("known values are filled, unknown references stay visible, secrets are masked", () => {
    const parts = previewTemplate("Q: {{input}} / {{ nodes.a.output }} / {{nodes.z.output}} / {{vault.key}}", {
      input: "why?",
      outputs: { a: "chunk" },
    });
    expect(parts).toEqual([
      { text: "Q: ", kind: "literal" },
      { text: "why?", kind: "value" },
      { text: " / ", kind: "literal" },
      { text: "chunk", kind: "value" },
      { text: " / ", kind: "literal" },
      { text: "{{nodes.z.output}}", kind: "unknown" },
      { text: " / ", kind: "literal" },
      { text: "••••••", kind: "value" },
    ]);
  });
});

describe("combined edits", () => {
  test("deleting two nodes at once is one edit that equals doing it step by step", () => {
    const steps = [(t: string) => deleteNode(t, "a"), (t: string) => deleteNode(t, "b")];
    const combined = combine(flow, steps);
    expect(combined).toHaveLength(1);
    const stepwise = steps.reduce((t, step) => applyEdits(t, step(t)), flow);
    expect(applyEdits(flow, combined)).toBe(stepwise);
    expect(parseFlow(stepwise).nodes[1].fields.next).toBeUndefined();
  });

  test("the diff of equal texts is no edit, and a diff spans only what changed", () => {
    expect(diffEdit("abc", "abc")).toEqual([]);
    expect(diffEdit("a-b-c", "a-xx-c")).toEqual([{ offset: 2, length: 1, content: "xx" }]);
  });
});
