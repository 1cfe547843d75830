// The execution console: turns the run event stream into the lines a user reads, one per node
// step and per notable policy decision, with streamed text gathered into the node's block.
import { decisionLine, readDecision } from "./decisions";
import type { RunEvent, RunResult } from "./protocol";

export class RunConsole {
  private readonly lines: string[] = [];
  private streaming = false;

  constructor(title: string) {
    this.lines.push(`Run ${title}`);
  }

  /** Applies an event; returns the text to append to an output channel. */
  apply(event: RunEvent): string {
    const node = event.node ?? "";
    let out: string;
    switch (event.kind) {
      case "started":
        // The title line says what runs; the result's line says how it ended.
        return "";
      case "node_started":
        // The server names the node's type in `text`: "▶ ask (llm)", as `codexos run` prints it.
        out = this.line(event.text ? `▶ ${node} (${event.text})` : `▶ ${node}`);
        break;
      case "token":
        if (!this.streaming) this.lines.push("");
        this.streaming = true;
        out = event.text ?? "";
        break;
      case "node_finished":
        out = this.line(`✓ ${node} (${event.ms ?? 0} ms)`);
        break;
      case "node_failed":
        out = this.line(`✗ ${node}: ${event.text ?? "failed"}`);
        break;
      case "warning":
        out = this.line(`! ${event.text ?? ""}`);
        break;
      case "status":
        // What the node waits for (a local model loading): said at once, not a problem.
        out = this.line(`… ${event.text ?? ""}`);
        break;
      case "decision": {
        // Refusals and what the user or the trust store allowed; the rest is in the trace.
        const decision = readDecision(event.decision);
        const line = decision && decisionLine(event.node, decision, event.text);
        if (!line) return "";
        out = this.line(line);
        break;
      }
      case "finished":
        return "";
    }
    if (event.kind === "token") {
      this.appendText(out);
    }
    return out;
  }

  finish(result: RunResult): string {
    const parts = [this.line(`■ ${result.status} (run ${result.run_id})`)];
    if (result.error) parts.push(this.line(`error: ${result.error}`));
    for (const warning of result.warnings ?? []) parts.push(this.line(`! ${warning}`));
    if (result.output !== undefined && result.output !== null) {
      const output = typeof result.output === "string" ? result.output : JSON.stringify(result.output, null, 2);
      parts.push(this.line("Output:"), this.line(output));
    }
    return parts.join("");
  }

  /** A line of the console's own (such as "■ cancel requested"), after any streamed text. */
  note(text: string): string {
    return this.line(text);
  }

  text(): string {
    return this.lines.join("\n");
  }

  /** Node names in the order they started, finished or failed, for assertions and the canvas. */
  static nodeLines(text: string): string[] {
    return text.split("\n").filter((l) => /^[▶✓✗] /.test(l));
  }

  private line(text: string): string {
    const prefix = this.streaming ? "\n" : "";
    this.streaming = false;
    this.lines.push(text);
    return `${prefix}${text}\n`;
  }

  private appendText(text: string): void {
    const last = this.lines.length - 1;
    this.lines[last] = this.lines[last] + text;
  }
}
