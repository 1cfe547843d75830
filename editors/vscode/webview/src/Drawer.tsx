// The node drawer: a form for the selected node's fields. Each field commits when it loses focus
// (or on Enter in a one-line field) as one edit of the document; templates show a live preview
// filled from the last run's values.
import { useEffect, useState } from "react";
import type { ToolSchema } from "../../src/flowEditor/messages";
import { fieldsOf, type FieldKind, type FieldSpec } from "./model/fields";
import type { FlowNode } from "./model/flowDocument";
import { previewTemplate, type RunValues } from "./model/template";
import { lookOf } from "./nodeStyle";

export interface Catalog {
  models: string[];
  tools: string[];
  vaultKeys: string[];
  /** Input schemas of the tools the extension knows them for (the workspace's plug-in tools). */
  toolSchemas: Record<string, ToolSchema>;
}

/** A tool's arguments as a form built from its JSON Schema: one field per top-level property. */
function ToolArgsForm(props: { schema: ToolSchema; args: Record<string, unknown>; values: RunValues; onCommit: (args: Record<string, unknown>) => void }) {
  const { schema, args } = props;
  return (
    <fieldset className="cx-args" data-testid="tool-args">
      <legend>args{schema.description ? ` — ${schema.description}` : ""}</legend>
      {Object.entries(schema.properties ?? {}).map(([name, property]) => {
        const type = Array.isArray(property.type) ? property.type[0] : property.type;
        const kind: FieldKind = type === "integer" || type === "number" ? "number" : type === "string" ? "template" : "json";
        const required = schema.required?.includes(name) ? " (required)" : "";
        return (
          <Field
            key={name}
            spec={{ key: name, kind, hint: `${property.description ?? type ?? ""}${required}` }}
            value={args[name]}
            nodeIds={[]}
            catalog={{ models: [], tools: [], vaultKeys: [], toolSchemas: {} }}
            values={props.values}
            onCommit={(value) => props.onCommit({ ...args, [name]: value })}
          />
        );
      })}
    </fieldset>
  );
}

function shown(value: unknown, kind: FieldKind): string {
  if (value === undefined || value === null) return "";
  if (kind === "json") return JSON.stringify(value, null, 2);
  if (Array.isArray(value)) return value.join(", ");
  return String(value);
}

/** The value a field's text stands for; `undefined` removes the field; an Error is not committed. */
function parsed(text: string, kind: FieldKind): unknown {
  const trimmed = text.trim();
  if (trimmed === "") return undefined;
  switch (kind) {
    case "number": {
      const n = Number(trimmed);
      return Number.isFinite(n) ? n : new Error(`${trimmed} is not a number`);
    }
    case "list": {
      const items = trimmed.split(",").map((s) => s.trim()).filter(Boolean);
      return items.length === 1 ? items[0] : items;
    }
    case "model": {
      const items = trimmed.split(",").map((s) => s.trim()).filter(Boolean);
      return items.length === 1 ? items[0] : items;
    }
    case "json":
      try {
        return JSON.parse(trimmed);
      } catch (error) {
        return new Error(`not JSON: ${(error as Error).message}`);
      }
    case "template":
      return text;
    default:
      return trimmed;
  }
}

function Preview({ template, values }: { template: string; values: RunValues }) {
  if (!template.includes("{{")) return null;
  return (
    <pre className="cx-preview" data-testid="prompt-preview">
      {previewTemplate(template, values).map((part, i) => (
        <span key={i} className={`cx-preview-${part.kind}`}>
          {part.text}
        </span>
      ))}
    </pre>
  );
}

function Field(props: {
  spec: FieldSpec;
  value: unknown;
  nodeIds: string[];
  catalog: Catalog;
  values: RunValues;
  onCommit: (value: unknown) => void;
}) {
  const { spec, value, catalog } = props;
  const initial = shown(value, spec.kind);
  const [text, setText] = useState(initial);
  const [error, setError] = useState<string>();
  useEffect(() => setText(initial), [initial]);
  const commit = () => {
    if (text === initial) return;
    const next = parsed(text, spec.kind);
    if (next instanceof Error) {
      setError(next.message);
      return;
    }
    setError(undefined);
    props.onCommit(next);
  };
  const listId = spec.kind === "model" ? "cx-models" : spec.kind === "tool" ? "cx-tools" : spec.kind === "vaultKey" ? "cx-vault-keys" : spec.kind === "nodeRef" ? "cx-node-ids" : undefined;
  const multiline = spec.kind === "template" || spec.kind === "json";
  return (
    <label className="cx-field">
      <span className="cx-field-name">{spec.key}</span>
      {multiline ? (
        <textarea name={spec.key} value={text} rows={spec.kind === "json" ? 4 : 3} onChange={(e) => setText(e.target.value)} onBlur={commit} />
      ) : (
        <input
          name={spec.key}
          value={text}
          list={listId}
          type={spec.kind === "number" ? "number" : "text"}
          onChange={(e) => setText(e.target.value)}
          onBlur={commit}
          onKeyDown={(e) => {
            if (e.key === "Enter") commit();
          }}
        />
      )}
      {spec.hint && <span className="cx-hint">{spec.hint}</span>}
      {error && <span className="cx-error">{error}</span>}
      {spec.kind === "template" && <Preview template={text} values={props.values} />}
      {spec.kind === "vaultKey" && catalog.vaultKeys.length === 0 && <span className="cx-hint">the vault has no keys yet</span>}
    </label>
  );
}

export function Drawer(props: {
  node: FlowNode;
  nodeIds: string[];
  catalog: Catalog;
  values: RunValues;
  onChange: (key: string, value: unknown) => void;
  onDelete: () => void;
  onClose: () => void;
}) {
  const { node, catalog } = props;
  const look = lookOf(node.type);
  const specs = fieldsOf(node.type);
  return (
    <aside className="cx-drawer" data-testid="drawer">
      <header style={{ borderColor: look.color }}>
        <span className="cx-icon" style={{ color: look.color }}>
          {look.icon}
        </span>
        <strong>{node.id}</strong>
        <span className="cx-type-name">{node.type}</span>
        <button className="cx-close" title="Close" onClick={props.onClose}>
          ✕
        </button>
      </header>
      <div className="cx-fields">
        {node.type === "tool" && typeof node.fields.tool === "string" && catalog.toolSchemas[node.fields.tool] && (
          <ToolArgsForm
            schema={catalog.toolSchemas[node.fields.tool]}
            args={(node.fields.args as Record<string, unknown> | undefined) ?? {}}
            values={props.values}
            onCommit={(args) => props.onChange("args", args)}
          />
        )}
        {specs.map((spec) => (
          <Field
            key={`${node.id}.${spec.key}`}
            spec={spec}
            value={node.fields[spec.key]}
            nodeIds={props.nodeIds}
            catalog={catalog}
            values={props.values}
            onCommit={(value) => props.onChange(spec.key, value)}
          />
        ))}
      </div>
      <footer>
        <button className="cx-danger" onClick={props.onDelete}>
          Delete node
        </button>
      </footer>
      <datalist id="cx-models">{catalog.models.map((m) => <option key={m} value={m} />)}</datalist>
      <datalist id="cx-tools">{catalog.tools.map((t) => <option key={t} value={t} />)}</datalist>
      <datalist id="cx-vault-keys">{catalog.vaultKeys.map((k) => <option key={k} value={k} />)}</datalist>
      <datalist id="cx-node-ids">{props.nodeIds.map((id) => <option key={id} value={id} />)}</datalist>
    </aside>
  );
}
