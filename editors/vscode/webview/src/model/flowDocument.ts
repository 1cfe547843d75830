// The flow document ⇄ graph conversion behind the visual editor. Pure: no DOM, no `vscode`.
//
// Reading: the JSON text is parsed with positions (jsonc-parser's tree), so every node knows its
// place in the text (diagnostics land on the node whose range holds them).
// Writing: every gesture becomes a few small text edits against the current text — a value
// replaced, a property inserted after the last one in the node's own style, an element removed
// with its comma — so unrelated formatting, comments and unknown fields stay exactly as they were.
import { findNodeAtLocation, getNodeValue, parseTree, type Node as JsonNode, type ParseError } from "jsonc-parser";

export const NODE_TYPES = ["entry", "llm", "tool", "rag", "vault", "condition", "exit", "reflect", "flow"] as const;
export type NodeType = (typeof NODE_TYPES)[number];

export interface Position {
  x: number;
  y: number;
}

export interface FlowNode {
  id: string;
  type: string;
  /** The node's object as written (unknown fields included). */
  fields: Record<string, unknown>;
  ui?: Position;
  /** Where the node's object lies in the text (UTF-16 offsets, as JavaScript strings count). */
  offset: number;
  length: number;
}

/** `next` (a list runs in parallel), a condition's `then`/`else`, or a reflect's `target`. */
export type EdgeKind = "next" | "then" | "else" | "target";

export interface FlowEdge {
  id: string;
  source: string;
  target: string;
  kind: EdgeKind;
  /** Whether the edge is one branch of a parallel `next` list. */
  parallel: boolean;
}

export interface FlowGraph {
  id?: string;
  name?: string;
  description?: string;
  nodes: FlowNode[];
  /** Edges whose both ends exist; a reference to a missing node is the checker's diagnostic. */
  edges: FlowEdge[];
  /** Why the text cannot be drawn (not JSON, no `nodes` list); empty when it can. */
  problem?: string;
}

/** A replacement of `length` UTF-16 units at `offset` by `content`. */
export interface TextEdit {
  offset: number;
  length: number;
  content: string;
}

export function edgeId(source: string, kind: EdgeKind, target: string): string {
  return `${source}:${kind}:${target}`;
}

export function parseFlow(text: string): FlowGraph {
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (!root || root.type !== "object") {
    return { nodes: [], edges: [], problem: "The file is not a JSON object." };
  }
  const nodesArray = findNodeAtLocation(root, ["nodes"]);
  const header = (key: string): string | undefined => {
    const value = findNodeAtLocation(root, [key]);
    return value?.type === "string" ? (value.value as string) : undefined;
  };
  const graph: FlowGraph = { id: header("id"), name: header("name"), description: header("description"), nodes: [], edges: [] };
  if (!nodesArray || nodesArray.type !== "array") {
    graph.problem = "The flow has no `nodes` list.";
    return graph;
  }
  for (const element of nodesArray.children ?? []) {
    if (element.type !== "object") continue;
    const fields = getNodeValue(element) as Record<string, unknown>;
    // A second node with a taken id is the checker's `duplicate-id`; the canvas draws the first.
    if (typeof fields.id !== "string" || graph.nodes.some((n) => n.id === fields.id)) continue;
    const ui = fields.ui as Partial<Position> | undefined;
    graph.nodes.push({
      id: fields.id,
      type: typeof fields.type === "string" ? fields.type : "",
      fields,
      ui: ui && typeof ui.x === "number" && typeof ui.y === "number" ? { x: ui.x, y: ui.y } : undefined,
      offset: element.offset,
      length: element.length,
    });
  }
  const known = new Set(graph.nodes.map((n) => n.id));
  const seen = new Set<string>();
  const add = (source: string, kind: EdgeKind, target: unknown, parallel: boolean) => {
    if (typeof target !== "string" || !known.has(target)) return;
    const id = edgeId(source, kind, target);
    if (seen.has(id)) return;
    seen.add(id);
    graph.edges.push({ id, source, target, kind, parallel });
  };
  for (const node of graph.nodes) {
    const next = node.fields.next;
    if (Array.isArray(next)) for (const target of next) add(node.id, "next", target, next.length > 1);
    else add(node.id, "next", next, false);
    if (node.type === "condition") {
      add(node.id, "then", node.fields.then, false);
      add(node.id, "else", node.fields.else, false);
    }
    if (node.type === "reflect") add(node.id, "target", node.fields.target, false);
  }
  return graph;
}

/** The node whose text holds `offset` (for placing a diagnostic), if any. */
export function nodeAtOffset(graph: FlowGraph, offset: number): FlowNode | undefined {
  return graph.nodes.find((node) => offset >= node.offset && offset < node.offset + node.length);
}

/** Applies edits (against the same text, not overlapping) and returns the new text. */
export function applyEdits(text: string, edits: readonly TextEdit[]): string {
  let result = text;
  for (const edit of [...edits].sort((a, b) => b.offset - a.offset)) {
    result = result.slice(0, edit.offset) + edit.content + result.slice(edit.offset + edit.length);
  }
  return result;
}

/** JSON for a value written into the text: compact, one line, with a space after `:` and `,`. */
export function inlineJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(inlineJson).join(", ")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return "{}";
    return `{ ${entries.map(([k, v]) => `${JSON.stringify(k)}: ${inlineJson(v)}`).join(", ")} }`;
  }
  return JSON.stringify(value);
}

// ---- Editing -----------------------------------------------------------------------------------

interface Located {
  root: JsonNode;
  nodesArray: JsonNode;
}

function locate(text: string): Located | undefined {
  const root = parseTree(text, [], { allowTrailingComma: true });
  const nodesArray = root && findNodeAtLocation(root, ["nodes"]);
  if (!root || !nodesArray || nodesArray.type !== "array") return undefined;
  return { root, nodesArray };
}

function nodeObjects(located: Located): JsonNode[] {
  return (located.nodesArray.children ?? []).filter((element) => element.type === "object");
}

function nodeObject(located: Located, id: string): JsonNode | undefined {
  return nodeObjects(located).find((element) => findNodeAtLocation(element, ["id"])?.value === id);
}

function property(object: JsonNode, key: string): JsonNode | undefined {
  return object.children?.find((p) => p.children?.[0]?.value === key);
}

/** Text between the start of `offset`'s line and `offset`, when it is only white space. */
function indentAt(text: string, offset: number): string | undefined {
  const lineStart = text.lastIndexOf("\n", offset - 1) + 1;
  const before = text.slice(lineStart, offset);
  return /^[ \t]*$/.test(before) ? before : undefined;
}

/** Inserts an item after the last child of an object or array, in the container's own style. */
function insertLast(text: string, container: JsonNode, item: string): TextEdit {
  const children = container.children ?? [];
  const last = children[children.length - 1];
  if (last) {
    const first = children[0];
    const indent = indentAt(text, first.offset);
    const eol = text.includes("\r\n") ? "\r\n" : "\n";
    const separator = indent !== undefined ? `,${eol}${indent}` : ", ";
    return { offset: last.offset + last.length, length: 0, content: separator + item };
  }
  // An empty container: `{}` or `[]`, possibly with white space inside.
  const open = container.offset + 1;
  const inside = text.slice(open, container.offset + container.length - 1);
  return { offset: open, length: inside.length, content: container.type === "array" ? item : ` ${item} ` };
}

/** Removes a child of an object or array together with its separating comma. */
function removeChild(container: JsonNode, child: JsonNode): TextEdit {
  const children = container.children ?? [];
  const index = children.indexOf(child);
  const previous = children[index - 1];
  const next = children[index + 1];
  if (previous) {
    const start = previous.offset + previous.length;
    return { offset: start, length: child.offset + child.length - start, content: "" };
  }
  if (next) return { offset: child.offset, length: next.offset - child.offset, content: "" };
  return { offset: child.offset, length: child.length, content: "" };
}

/** Sets (or with `undefined`, removes) a field of a node. */
function setFieldEdit(text: string, object: JsonNode, key: string, value: unknown): TextEdit | undefined {
  const existing = property(object, key);
  if (value === undefined) return existing ? removeChild(object, existing) : undefined;
  const valueNode = existing?.children?.[1];
  if (valueNode) return { offset: valueNode.offset, length: valueNode.length, content: inlineJson(value) };
  return insertLast(text, object, `${JSON.stringify(key)}: ${inlineJson(value)}`);
}

/** Drops edits that lie inside a larger one (a removed node's own references). */
function withoutNested(edits: TextEdit[]): TextEdit[] {
  return edits.filter(
    (edit) =>
      !edits.some(
        (other) => other !== edit && other.offset <= edit.offset && edit.offset + edit.length <= other.offset + other.length && other.length > edit.length,
      ),
  );
}

export function setField(text: string, nodeId: string, key: string, value: unknown): TextEdit[] {
  const located = locate(text);
  const object = located && nodeObject(located, nodeId);
  const edit = object && setFieldEdit(text, object, key, value);
  return edit ? [edit] : [];
}

/** Writes a node's position as `"ui": { "x": …, "y": … }` (whole numbers). */
export function moveNode(text: string, nodeId: string, position: Position): TextEdit[] {
  const ui = { x: Math.round(position.x), y: Math.round(position.y) };
  const located = locate(text);
  const object = located && nodeObject(located, nodeId);
  if (!object) return [];
  const existing = property(object, "ui")?.children?.[1];
  if (existing?.type === "object") {
    // Keep the `ui` object's other fields (a future editor may store more there).
    const edits = (["x", "y"] as const).map((axis) => setFieldEdit(text, existing, axis, ui[axis]));
    return edits.filter((e): e is TextEdit => e !== undefined);
  }
  return setField(text, nodeId, "ui", ui);
}

/** Positions for many nodes in one change (auto-layout). */
export function moveNodes(text: string, positions: Record<string, Position>): TextEdit[] {
  return Object.entries(positions).flatMap(([id, position]) => moveNode(text, id, position));
}

/** Which field a connection from a source handle writes. */
export type Handle = "next" | "then" | "else" | "target";

/**
 * Connects `source` to `target`: `then`/`else`/`target` are set; `next` gains the target (a second
 * successor turns it into a parallel list).
 */
export function connect(text: string, source: string, target: string, handle: Handle = "next"): TextEdit[] {
  const located = locate(text);
  const object = located && nodeObject(located, source);
  if (!object) return [];
  if (handle !== "next") return setField(text, source, handle, target);
  const valueNode = property(object, "next")?.children?.[1];
  const current: unknown = valueNode ? getNodeValue(valueNode) : undefined;
  if (valueNode?.type === "array") {
    return (current as unknown[]).includes(target) ? [] : [insertLast(text, valueNode, JSON.stringify(target))];
  }
  if (typeof current === "string" && current !== "" && current !== target) {
    return setField(text, source, "next", [current, target]);
  }
  if (current === target) return [];
  return setField(text, source, "next", target);
}

/** Re-points an existing edge at a new target (dragging an edge's end). */
export function reconnect(text: string, edge: Pick<FlowEdge, "source" | "kind" | "target">, newTarget: string): TextEdit[] {
  if (edge.kind !== "next") return setField(text, edge.source, edge.kind, newTarget);
  const located = locate(text);
  const object = located && nodeObject(located, edge.source);
  const valueNode = object && property(object, "next")?.children?.[1];
  if (!valueNode) return [];
  if (valueNode.type === "array") {
    const element = valueNode.children?.find((e) => e.value === edge.target);
    return element ? [{ offset: element.offset, length: element.length, content: JSON.stringify(newTarget) }] : [];
  }
  return [{ offset: valueNode.offset, length: valueNode.length, content: JSON.stringify(newTarget) }];
}

/** Edits that drop every reference from `object` to `target` (or just the one of `kind`). */
function referenceRemovals(object: JsonNode, target: string, kind?: EdgeKind): TextEdit[] {
  const edits: TextEdit[] = [];
  const type = findNodeAtLocation(object, ["type"])?.value;
  for (const key of ["next", "then", "else", "target"] as const) {
    if (kind && kind !== key) continue;
    if ((key === "then" || key === "else") && type !== "condition") continue;
    if (key === "target" && type !== "reflect") continue;
    const prop = property(object, key);
    const value = prop?.children?.[1];
    if (!prop || !value) continue;
    if (value.type === "array") {
      const elements = value.children ?? [];
      const keep = elements.filter((e) => e.value !== target);
      if (keep.length === elements.length) continue;
      if (keep.length === 0) edits.push(removeChild(object, prop));
      else if (keep.length === 1 && elements.length === 2) {
        edits.push({ offset: value.offset, length: value.length, content: JSON.stringify(keep[0].value) });
      } else {
        for (const element of elements.filter((e) => e.value === target)) edits.push(removeChild(value, element));
      }
    } else if (value.value === target) {
      edits.push(removeChild(object, prop));
    }
  }
  return edits;
}

export function deleteEdge(text: string, edge: Pick<FlowEdge, "source" | "kind" | "target">): TextEdit[] {
  const located = locate(text);
  const object = located && nodeObject(located, edge.source);
  return object ? referenceRemovals(object, edge.target, edge.kind) : [];
}

/** Removes a node and every reference to it. */
export function deleteNode(text: string, nodeId: string): TextEdit[] {
  const located = locate(text);
  const object = located && nodeObject(located, nodeId);
  if (!located || !object) return [];
  const edits = [removeChild(located.nodesArray, object)];
  for (const other of nodeObjects(located)) {
    if (other !== object) edits.push(...referenceRemovals(other, nodeId));
  }
  return withoutNested(edits);
}

/** A fresh id for a node of `type`: `llm`, `llm_2`, … */
export function freshId(graph: FlowGraph, type: string): string {
  const taken = new Set(graph.nodes.map((n) => n.id));
  if (!taken.has(type)) return type;
  let n = 2;
  while (taken.has(`${type}_${n}`)) n += 1;
  return `${type}_${n}`;
}

/** The fields a new node of each type starts with, so it is valid as soon as it is wired. */
export const NEW_NODE_FIELDS: Record<NodeType, Record<string, unknown>> = {
  entry: {},
  llm: { model: "local", prompt: "{{input}}" },
  tool: { tool: "read_file", args: { path: "{{input}}" } },
  rag: { query: "{{input}}", k: 5 },
  vault: { key: "" },
  condition: { if: "", then: "", else: "" },
  exit: {},
  reflect: { target: "", max_iterations: 3 },
  flow: { flow: "" },
};

export function addNode(text: string, type: NodeType, id: string, position: Position): TextEdit[] {
  const located = locate(text);
  if (!located) return [];
  const object = { id, type, ...NEW_NODE_FIELDS[type], ui: { x: Math.round(position.x), y: Math.round(position.y) } };
  return [insertLast(text, located.nodesArray, inlineJson(object))];
}

/**
 * One edit that turns `before` into `after`: the span between their common prefix and suffix.
 * Several gestures at once (moving a selection, deleting nodes and edges) become one undo step.
 */
export function diffEdit(before: string, after: string): TextEdit[] {
  if (before === after) return [];
  let start = 0;
  const shorter = Math.min(before.length, after.length);
  while (start < shorter && before.charCodeAt(start) === after.charCodeAt(start)) start++;
  let end = 0;
  while (end < shorter - start && before.charCodeAt(before.length - 1 - end) === after.charCodeAt(after.length - 1 - end)) end++;
  return [{ offset: start, length: before.length - start - end, content: after.slice(start, after.length - end) }];
}

/** Runs edit steps one after the other (each sees the text the previous one made) as one edit. */
export function combine(text: string, steps: ReadonlyArray<(text: string) => TextEdit[]>): TextEdit[] {
  const after = steps.reduce((current, step) => applyEdits(current, step(current)), text);
  return diffEdit(text, after);
}
