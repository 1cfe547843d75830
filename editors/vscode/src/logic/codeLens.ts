// The server's code lenses name its own commands ("▶ Run" → `codexos.agent.run {flow}`,
// "↻ Retry last failed" → `codexos.agent.retry {run_id}`). Clicked as they are, the server would
// run the flow with no input and nobody watching; the editor routes them to its own commands,
// which ask for the input and follow the run in the execution console.
import { Commands } from "./protocol";

export interface LensCommand {
  title: string;
  command: string;
  arguments?: unknown[];
}

/** The editor command a server lens command becomes (`documentUri`: the flow's document). */
export function editorLensCommand(lens: LensCommand, documentUri: string): LensCommand {
  const argument = lens.arguments?.[0] as { run_id?: unknown } | undefined;
  if (lens.command === Commands.agentRun) {
    return { title: lens.title, command: "codexos.runFlow", arguments: [documentUri] };
  }
  if (lens.command === Commands.agentRetry && typeof argument?.run_id === "string") {
    return { title: lens.title, command: "codexos.retryRun", arguments: [argument.run_id] };
  }
  return lens;
}
