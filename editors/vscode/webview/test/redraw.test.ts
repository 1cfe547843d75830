import { describe, expect, it } from "vitest";
import { redrawn } from "../src/model/redraw";

type Node = { id: string; position: { x: number; y: number }; data: string; selected?: boolean; measured?: { width: number; height: number } };

describe("redrawn", () => {
  it("keeps the measured size and the selection of nodes that stay, and takes the document's position and data", () => {
    const previous: Node[] = [
      { id: "ask", position: { x: 0, y: 0 }, data: "running", selected: true, measured: { width: 240, height: 80 } },
      { id: "gone", position: { x: 0, y: 100 }, data: "", measured: { width: 240, height: 80 } },
    ];
    const fresh: Node[] = [
      { id: "ask", position: { x: 10, y: 20 }, data: "done" },
      { id: "new", position: { x: 0, y: 200 }, data: "" },
    ];
    expect(redrawn(previous, fresh)).toEqual([
      { id: "ask", position: { x: 10, y: 20 }, data: "done", selected: true, measured: { width: 240, height: 80 } },
      { id: "new", position: { x: 0, y: 200 }, data: "" },
    ]);
  });
});
