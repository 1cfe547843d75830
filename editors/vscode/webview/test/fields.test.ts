import { expect, test } from "vitest";
import { fieldsOf } from "../src/model/fields";
import { applyEdits, setField } from "../src/model/flowDocument";

const TYPES = ["entry", "llm", "tool", "rag", "vault", "condition", "reflect", "flow", "exit"];

test("the drawer offers retry and timeout_ms on the nodes that call out, and only there", () => {
  const keys = (type: string) => fieldsOf(type).map((field) => field.key);
  const calling = TYPES.filter((type) => keys(type).includes("retry") && keys(type).includes("timeout_ms"));
  expect(calling).toEqual(["llm", "tool", "rag", "flow"]);
  expect(TYPES.filter((type) => keys(type).includes("retry") || keys(type).includes("timeout_ms"))).toEqual(calling);
  expect(keys("tool")).toEqual(["description", "tool", "args", "timeout_ms", "retry", "next"]);
  expect(fieldsOf("rag").find((field) => field.key === "retry")?.kind).toBe("json");
  expect(fieldsOf("rag").find((field) => field.key === "timeout_ms")?.kind).toBe("number");
});

test("a retry and a timeout written in the drawer land in the node as the server reads them", () => {
  const text = `{ "id": "a", "nodes": [ { "id": "plan", "type": "llm", "model": "local" } ] }`;
  const retried = applyEdits(text, setField(text, "plan", "retry", { attempts: 3, on: ["server", "timeout"] }));
  const timed = applyEdits(retried, setField(retried, "plan", "timeout_ms", 30000));
  expect(JSON.parse(timed).nodes[0]).toMatchObject({ retry: { attempts: 3, on: ["server", "timeout"] }, timeout_ms: 30000 });
});
