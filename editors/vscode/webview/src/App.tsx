// The flow canvas: draws the document's graph with React Flow and turns every gesture into text
// edits sent to the extension, which applies them to the TextDocument (so undo, dirty state, save
// and the server's diagnostics work as in the text editor). The document that comes back is the
// only source of truth: the canvas never keeps a graph of its own.
import {
  Background,
  Controls,
  MarkerType,
  MiniMap,
  ReactFlow,
  ReactFlowProvider,
  applyEdgeChanges,
  applyNodeChanges,
  useNodesInitialized,
  useReactFlow,
  type Connection,
  type Edge,
  type EdgeChange,
  type NodeChange,
} from "@xyflow/react";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { NodeDiagnostic, RunEventMessage, RunSummary } from "../../src/flowEditor/messages";
import { Drawer, type Catalog } from "./Drawer";
import { FlowNodeView, type CanvasNode, type RunState } from "./FlowNodeView";
import {
  NODE_TYPES,
  addNode,
  combine,
  connect,
  deleteEdge,
  deleteNode,
  freshId,
  moveNode,
  moveNodes,
  nodeAtOffset,
  parseFlow,
  reconnect,
  setField,
  type EdgeKind,
  type FlowGraph,
  type Handle,
  type NodeType,
  type TextEdit,
} from "./model/flowDocument";
import { autoLayout, positionsOf } from "./model/layout";
import { redrawn } from "./model/redraw";
import { lookOf } from "./nodeStyle";
import { onHostMessage, post } from "./vscodeApi";

const nodeTypes = { flow: FlowNodeView };

interface Document {
  text: string;
  version: number;
}

type CanvasEdge = Edge<{ kind: EdgeKind }>;

const EDGE_LABELS: Partial<Record<EdgeKind, string>> = { then: "then", else: "else", target: "retry" };

function edgesOf(graph: FlowGraph, runStates: Record<string, RunState>): CanvasEdge[] {
  return graph.edges.map((edge) => ({
    id: edge.id,
    source: edge.source,
    target: edge.target,
    sourceHandle: edge.kind,
    targetHandle: "in",
    label: EDGE_LABELS[edge.kind],
    className: `cx-edge cx-edge-${edge.kind}${edge.parallel ? " cx-edge-parallel" : ""}`,
    animated: runStates[edge.source] === "done" && runStates[edge.target] === "running",
    markerEnd: { type: MarkerType.ArrowClosed },
    data: { kind: edge.kind },
    reconnectable: true,
  }));
}

/** Whether the editor is wide enough for a minimap (beside a text editor it would hide nodes). */
function useWideWindow(): boolean {
  const [wide, setWide] = useState(() => window.innerWidth >= 900);
  useEffect(() => {
    const onResize = () => setWide(window.innerWidth >= 900);
    window.addEventListener("resize", onResize);
    return () => window.removeEventListener("resize", onResize);
  }, []);
  return wide;
}

function Canvas() {
  const [doc, setDoc] = useState<Document>();
  const docRef = useRef<Document | undefined>(undefined);
  const [diagnostics, setDiagnostics] = useState<NodeDiagnostic[]>([]);
  const [catalog, setCatalog] = useState<Catalog>({ models: [], tools: [], vaultKeys: [], toolSchemas: {} });
  const [runStates, setRunStates] = useState<Record<string, RunState>>({});
  const [outputs, setOutputs] = useState<Record<string, string>>({});
  const [lastRun, setLastRun] = useState<RunSummary>();
  const [running, setRunning] = useState(false);
  const [input, setInput] = useState("");
  const [selectedId, setSelectedId] = useState<string>();
  const [nodes, setNodes] = useState<CanvasNode[]>([]);
  const [edges, setEdges] = useState<CanvasEdge[]>([]);
  const flow = useReactFlow();
  const initialized = useNodesInitialized();
  const fitted = useRef(false);
  const wide = useWideWindow();

  const graph = useMemo(() => (doc ? parseFlow(doc.text) : undefined), [doc]);

  const applyRunEvent = useCallback((event: RunEventMessage) => {
    const node = event.node;
    if (event.kind === "finished") {
      setRunning(false);
      return;
    }
    if (!node) return;
    if (event.kind === "node_started") {
      setRunStates((s) => ({ ...s, [node]: "running" }));
      setOutputs((o) => ({ ...o, [node]: "" }));
    } else if (event.kind === "token") {
      setOutputs((o) => ({ ...o, [node]: (o[node] ?? "") + (event.text ?? "") }));
    } else if (event.kind === "node_finished") {
      setRunStates((s) => ({ ...s, [node]: "done" }));
      if (event.text !== undefined) setOutputs((o) => ({ ...o, [node]: event.text ?? "" }));
    } else if (event.kind === "node_failed") {
      setRunStates((s) => ({ ...s, [node]: "failed" }));
      setOutputs((o) => ({ ...o, [node]: `✗ ${event.text ?? "failed"}` }));
    }
  }, []);

  useEffect(() => {
    const stop = onHostMessage((message) => {
      switch (message.type) {
        case "document":
          docRef.current = { text: message.text, version: message.version };
          setDoc(docRef.current);
          break;
        case "diagnostics":
          setDiagnostics(message.items);
          break;
        case "catalog":
          setCatalog({ models: message.models, tools: message.tools, vaultKeys: message.vaultKeys, toolSchemas: message.toolSchemas ?? {} });
          break;
        case "runStarted":
          setRunning(true);
          setRunStates({});
          setOutputs({});
          setLastRun({ input: message.input, outputs: {} });
          break;
        case "runEvent":
          applyRunEvent(message.event);
          break;
        case "runFinished":
          setRunning(false);
          if (message.summary) {
            const summary = message.summary;
            setLastRun((last) => ({ ...summary, input: summary.input ?? last?.input }));
            setOutputs((o) => ({ ...o, ...summary.outputs }));
            setRunStates((states) => {
              const next = { ...states };
              for (const id of Object.keys(summary.outputs)) if (next[id] !== "failed") next[id] = "done";
              for (const [id, state] of Object.entries(next)) if (state === "running") next[id] = summary.error ? "failed" : "done";
              return next;
            });
          }
          break;
      }
    });
    post({ type: "ready" });
    return stop;
  }, [applyRunEvent]);

  /** Sends edits computed on the current text; the document that comes back redraws the canvas. */
  const edit = useCallback((label: string, compute: (text: string) => TextEdit[]) => {
    const current = docRef.current;
    if (!current) return;
    const edits = compute(current.text);
    if (edits.length > 0) post({ type: "edit", version: current.version, label, edits });
  }, []);

  const retry = useCallback(() => {
    if (lastRun?.run_id) post({ type: "retry", runId: lastRun.run_id });
  }, [lastRun]);

  /** The replay of the last run from `node`, once that node ran in it. */
  const replayFrom = useCallback(
    (node: string) => {
      const runId = lastRun?.run_id;
      const state = runStates[node];
      if (!runId || running || (state !== "done" && state !== "failed")) return undefined;
      return () => post({ type: "replay", runId, node });
    },
    [lastRun, runStates, running],
  );

  const { nodeDiagnostics, flowDiagnostics } = useMemo(() => {
    const byNode: Record<string, NodeDiagnostic[]> = {};
    const rest: NodeDiagnostic[] = [];
    for (const diagnostic of diagnostics) {
      const node = graph && nodeAtOffset(graph, diagnostic.offset);
      if (node) (byNode[node.id] ??= []).push(diagnostic);
      else rest.push(diagnostic);
    }
    return { nodeDiagnostics: byNode, flowDiagnostics: rest };
  }, [graph, diagnostics]);

  useEffect(() => {
    if (!graph) return;
    const positions = positionsOf(graph);
    setNodes((previous) =>
      redrawn(
        previous,
        graph.nodes.map((node) => ({
          id: node.id,
          type: "flow" as const,
          position: positions[node.id] ?? { x: 0, y: 0 },
          data: {
            node,
            diagnostics: nodeDiagnostics[node.id] ?? [],
            run: runStates[node.id],
            output: outputs[node.id],
            onRetry: runStates[node.id] === "failed" ? retry : undefined,
            onReplay: replayFrom(node.id),
          },
        })),
      ),
    );
    setEdges((previous) => {
      const selected = new Set(previous.filter((e) => e.selected).map((e) => e.id));
      return edgesOf(graph, runStates).map((e) => ({ ...e, selected: selected.has(e.id) }));
    });
  }, [graph, nodeDiagnostics, runStates, outputs, retry, replayFrom]);

  // Fit the flow once, when it is first drawn; later documents keep the user's viewport.
  useEffect(() => {
    if (!fitted.current && initialized && nodes.length > 0) {
      fitted.current = true;
      void flow.fitView({ padding: 0.2 });
    }
  }, [initialized, nodes.length, flow]);

  const onNodesChange = useCallback((changes: NodeChange<CanvasNode>[]) => {
    // Removal goes through the document (onDelete); the rest is the canvas's own state.
    setNodes((current) => applyNodeChanges(changes.filter((c) => c.type !== "remove"), current));
  }, []);

  const onEdgesChange = useCallback((changes: EdgeChange<CanvasEdge>[]) => {
    setEdges((current) => applyEdgeChanges(changes.filter((c) => c.type !== "remove"), current));
  }, []);

  const onNodeDragStop = useCallback(
    (_event: unknown, _node: CanvasNode, dragged: CanvasNode[]) => {
      edit(
        dragged.length > 1 ? `Move ${dragged.length} nodes` : `Move ${dragged[0]?.id}`,
        (text) => combine(text, dragged.map((n) => (t: string) => moveNode(t, n.id, n.position))),
      );
    },
    [edit],
  );

  const onConnect = useCallback(
    (connection: Connection) => {
      const handle = (connection.sourceHandle ?? "next") as Handle;
      edit(`Connect ${connection.source} → ${connection.target}`, (text) => connect(text, connection.source, connection.target, handle));
    },
    [edit],
  );

  const onReconnect = useCallback(
    (old: CanvasEdge, connection: Connection) => {
      const kind = old.data?.kind ?? "next";
      edit(`Reconnect ${old.source} → ${connection.target}`, (text) =>
        connection.source === old.source
          ? reconnect(text, { source: old.source, kind, target: old.target }, connection.target)
          : combine(text, [
              (t) => deleteEdge(t, { source: old.source, kind, target: old.target }),
              (t) => connect(t, connection.source, connection.target, (connection.sourceHandle ?? "next") as Handle),
            ]),
      );
    },
    [edit],
  );

  const onDelete = useCallback(
    ({ nodes: gone, edges: cut }: { nodes: CanvasNode[]; edges: CanvasEdge[] }) => {
      const goneIds = new Set(gone.map((n) => n.id));
      const steps = [
        ...gone.map((n) => (t: string) => deleteNode(t, n.id)),
        ...cut
          .filter((e) => !goneIds.has(e.source) && !goneIds.has(e.target))
          .map((e) => (t: string) => deleteEdge(t, { source: e.source, kind: e.data?.kind ?? "next", target: e.target })),
      ];
      edit(gone.length ? `Delete ${gone.map((n) => n.id).join(", ")}` : "Delete edge", (text) => combine(text, steps));
      if (selectedId && goneIds.has(selectedId)) setSelectedId(undefined);
    },
    [edit, selectedId],
  );

  const addOfType = (type: NodeType) => {
    if (!graph) return;
    const id = freshId(graph, type);
    const box = document.querySelector(".react-flow")?.getBoundingClientRect();
    const center = box ? flow.screenToFlowPosition({ x: box.left + box.width / 2, y: box.top + box.height / 2 }) : { x: 0, y: 0 };
    edit(`Add ${id}`, (text) => addNode(text, type, id, center));
    setSelectedId(id);
  };

  if (!doc || !graph) return <div className="cx-loading">Loading flow…</div>;

  const selected = graph.nodes.find((n) => n.id === selectedId);
  const values = { input: lastRun?.input, outputs };
  const failed = Object.entries(runStates).find(([, s]) => s === "failed")?.[0];

  return (
    <div className="cx-root">
      <div className="cx-toolbar">
        <span className="cx-title" title={graph.description}>
          {graph.name ?? graph.id ?? "flow"}
        </span>
        <span className="cx-counts" data-testid="counts">
          {graph.nodes.length} nodes · {graph.edges.length} edges
        </span>
        <select
          aria-label="Add node"
          value=""
          onChange={(e) => {
            if (e.target.value) addOfType(e.target.value as NodeType);
          }}
        >
          <option value="">+ Add node…</option>
          {NODE_TYPES.map((type) => (
            <option key={type} value={type}>
              {lookOf(type).icon} {type}
            </option>
          ))}
        </select>
        <button onClick={() => edit("Auto-layout", (text) => moveNodes(text, autoLayout(graph)))} title="Lay the nodes out top to bottom and save the positions">
          Auto-layout
        </button>
        <button onClick={() => post({ type: "showText" })} title="Open the JSON beside the canvas">
          Show JSON
        </button>
        <span className="cx-spacer" />
        <input
          className="cx-input"
          aria-label="Run input"
          placeholder="Input for the run"
          value={input}
          onChange={(e) => setInput(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !running) post({ type: "run", input });
          }}
        />
        <button className="cx-run" disabled={running} onClick={() => post({ type: "run", input })}>
          {running ? "Running…" : "▶ Run"}
        </button>
        {failed && lastRun?.run_id && !running && (
          <button onClick={retry} title={`Retry the last run from ${failed}`}>
            ↻ Retry from {failed}
          </button>
        )}
      </div>
      {(graph.problem || flowDiagnostics.length > 0) && (
        <div className="cx-banner" data-testid="flow-problems">
          {graph.problem && <div>{graph.problem}</div>}
          {flowDiagnostics.map((d, i) => (
            <div key={i} className={`cx-banner-${d.severity}`}>
              {d.code ? `[${d.code}] ` : ""}
              {d.message}
            </div>
          ))}
        </div>
      )}
      <div className="cx-main">
        <ReactFlow<CanvasNode, CanvasEdge>
          nodes={nodes}
          edges={edges}
          nodeTypes={nodeTypes}
          onNodesChange={onNodesChange}
          onEdgesChange={onEdgesChange}
          onNodeDragStop={onNodeDragStop}
          onConnect={onConnect}
          onReconnect={onReconnect}
          onDelete={onDelete}
          onNodeClick={(_e, node) => setSelectedId(node.id)}
          onNodeDoubleClick={(_e, node) => {
            const path = node.data.node.fields.flow;
            if (node.data.node.type === "flow" && typeof path === "string" && path !== "") post({ type: "openFlow", path });
          }}
          onPaneClick={() => setSelectedId(undefined)}
          deleteKeyCode={["Delete", "Backspace"]}
          minZoom={0.2}
          proOptions={{ hideAttribution: true }}
        >
          <Background gap={16} />
          <Controls showInteractive={false} />
          {wide && <MiniMap pannable zoomable nodeColor={(n) => lookOf((n as CanvasNode).data.node.type).color} />}
        </ReactFlow>
        {selected && (
          <Drawer
            node={selected}
            nodeIds={graph.nodes.map((n) => n.id)}
            catalog={catalog}
            values={values}
            onChange={(key, value) => edit(`Set ${selected.id}.${key}`, (text) => setField(text, selected.id, key, value))}
            onDelete={() => {
              edit(`Delete ${selected.id}`, (text) => deleteNode(text, selected.id));
              setSelectedId(undefined);
            }}
            onClose={() => setSelectedId(undefined)}
          />
        )}
      </div>
    </div>
  );
}

export function App() {
  return (
    <ReactFlowProvider>
      <Canvas />
    </ReactFlowProvider>
  );
}
