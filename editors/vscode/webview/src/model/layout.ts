// Auto-layout for flows without positions: a top-to-bottom layered drawing (dagre). Pure.
import dagre from "@dagrejs/dagre";
import type { FlowGraph, Position } from "./flowDocument";

export const NODE_WIDTH = 200;
export const NODE_HEIGHT = 64;

/** Positions (top-left corners) for every node of the graph. */
export function autoLayout(graph: FlowGraph): Record<string, Position> {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "TB", nodesep: 40, ranksep: 60, marginx: 20, marginy: 20 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const node of graph.nodes) g.setNode(node.id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  // A reflect's `target` points back up the graph: leave it out so it does not bend the layers.
  for (const edge of graph.edges) if (edge.kind !== "target") g.setEdge(edge.source, edge.target);
  dagre.layout(g);
  const positions: Record<string, Position> = {};
  for (const node of graph.nodes) {
    const laid = g.node(node.id);
    positions[node.id] = { x: Math.round(laid.x - NODE_WIDTH / 2), y: Math.round(laid.y - NODE_HEIGHT / 2) };
  }
  return positions;
}

/** Each node's position: its own `ui` when it has one, else the auto-layout's. */
export function positionsOf(graph: FlowGraph): Record<string, Position> {
  const missing = graph.nodes.some((node) => !node.ui);
  const laid = missing ? autoLayout(graph) : {};
  return Object.fromEntries(graph.nodes.map((node) => [node.id, node.ui ?? laid[node.id]]));
}
