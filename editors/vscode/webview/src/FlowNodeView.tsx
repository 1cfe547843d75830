// One node on the canvas: icon and colour by type, id and summary, handles per outgoing field,
// a diagnostics badge (message on hover) and the node's state in the current run.
import { Handle, Position, type Node, type NodeProps } from "@xyflow/react";
import type { NodeDiagnostic } from "../../src/flowEditor/messages";
import type { FlowNode } from "./model/flowDocument";
import { lookOf, summaryOf } from "./nodeStyle";

export type RunState = "running" | "done" | "failed";

export type NodeData = {
  node: FlowNode;
  diagnostics: NodeDiagnostic[];
  run?: RunState;
  output?: string;
  onRetry?: () => void;
  /** Replay the last run from this node (offered on the selected node once it ran). */
  onReplay?: () => void;
};

export type CanvasNode = Node<NodeData, "flow">;

const OUTPUT_PREVIEW = 1500;

function badgeTitle(diagnostics: NodeDiagnostic[]): string {
  return diagnostics.map((d) => `${d.severity}${d.code ? `[${d.code}]` : ""}: ${d.message}`).join("\n");
}

export function FlowNodeView({ data, selected }: NodeProps<CanvasNode>) {
  const { node, diagnostics, run, output } = data;
  const look = lookOf(node.type);
  const errors = diagnostics.filter((d) => d.severity === "error");
  const badge = diagnostics.length > 0 ? (errors.length > 0 ? "error" : "warning") : undefined;
  const title = output !== undefined ? `${node.id} output:\n${output.slice(0, OUTPUT_PREVIEW)}` : undefined;
  const classes = ["cx-node", `cx-type-${node.type || "unknown"}`, selected ? "cx-selected" : "", run ? `cx-run-${run}` : ""];
  return (
    <div className={classes.join(" ")} style={{ borderColor: look.color }} title={title} data-node-id={node.id}>
      {node.type !== "entry" && <Handle type="target" position={Position.Top} id="in" />}
      <div className="cx-node-head" style={{ background: look.color }}>
        <span className="cx-icon">{look.icon}</span>
        <span className="cx-type">{look.label}</span>
        {run === "running" && <span className="cx-spinner" aria-label="running" />}
      </div>
      <div className="cx-node-body">
        <div className="cx-id">{node.id}</div>
        <div className="cx-summary">{summaryOf(node.fields)}</div>
        {run === "failed" && data.onRetry && (
          <button
            className="cx-retry nodrag"
            onClick={(event) => {
              event.stopPropagation();
              data.onRetry?.();
            }}
          >
            ↻ Retry from here
          </button>
        )}
        {selected && data.onReplay && (
          <button
            className="cx-replay nodrag"
            title="Run the last run again from this node, with the outputs recorded before it (or fork it with edits)"
            onClick={(event) => {
              event.stopPropagation();
              data.onReplay?.();
            }}
          >
            ↺ Replay from here
          </button>
        )}
      </div>
      {badge && (
        <div className={`cx-badge cx-badge-${badge}`} title={badgeTitle(diagnostics)} data-severity={badge}>
          {diagnostics.length}
        </div>
      )}
      {node.type === "condition" ? (
        <>
          <Handle type="source" position={Position.Bottom} id="then" style={{ left: "30%" }} className="cx-handle-then" />
          <Handle type="source" position={Position.Bottom} id="else" style={{ left: "70%" }} className="cx-handle-else" />
        </>
      ) : node.type === "exit" ? null : (
        <Handle type="source" position={Position.Bottom} id="next" />
      )}
      {node.type === "reflect" && <Handle type="source" position={Position.Right} id="target" className="cx-handle-target" />}
    </div>
  );
}
