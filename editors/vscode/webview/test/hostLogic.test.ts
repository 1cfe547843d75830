import { describe, expect, test } from "vitest";
import { parseTemplates, runSummary } from "../../src/flowEditor/logic";

describe("what the canvas is told about a run", () => {
  test("each node's output becomes text, objects as indented JSON", () => {
    const summary = runSummary(
      { run_id: "r1", status: "ok", nodes: { a: { output: "hello" }, b: { output: { hits: 2 } }, c: {} } },
      "question",
    );
    expect(summary).toEqual({
      run_id: "r1",
      status: "ok",
      error: null,
      input: "question",
      outputs: { a: "hello", b: '{\n  "hits": 2\n}' },
    });
  });

  test("a run that gave no result gives no summary", () => {
    expect(runSummary(undefined, "x")).toBeUndefined();
  });
});

describe("templates from codexos.flow.templates", () => {
  test("entries without a name are dropped, and an answer that is not a list is an error", () => {
    const listed = parseTemplates([
      { name: "research", id: "research", title: "Research", description: "d", tags: ["a"], source: "built-in" },
      { id: "x" },
      7,
    ]);
    expect(listed.map((t) => t.name)).toEqual(["research"]);
    expect(() => parseTemplates({})).toThrow("codexos.flow.templates did not answer with a list");
  });
});
