/**
 * Canvas nodes rebuilt from the document (on every edit and run event) keep what React Flow
 * keeps on the node objects: its measured size and the selection. A node object without
 * `measured` is hidden until React Flow measures it again, which it may not do when the
 * element's size did not change: the canvas then showed an empty grid after a run's retry,
 * its nodes in the page but invisible.
 */
export function redrawn<N extends { id: string; selected?: boolean }>(previous: readonly N[], fresh: readonly N[]): N[] {
  const before = new Map(previous.map((node) => [node.id, node]));
  return fresh.map((node) => {
    const old = before.get(node.id);
    return old ? { ...old, ...node, selected: old.selected ?? false } : node;
  });
}
