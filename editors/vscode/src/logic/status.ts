// The status bar item's text, tooltip and click for the server's state: a click pauses indexing
// while it runs and resumes it when paused (the server's own commands), and searches otherwise.
import { Commands, type StatusNotification } from "./protocol";

export interface StatusView {
  text: string;
  tooltip: string;
  command: string;
}

const SEARCH = "codexos.search";

/** Where the running server came from, for the tooltip. */
export interface ServerOrigin {
  path: string;
  source: "setting" | "PATH" | "bundled";
}

const ORIGIN: Record<ServerOrigin["source"], string> = {
  setting: "codexos.server.path",
  PATH: "found on PATH",
  bundled: "bundled with the extension",
};

export function statusView(status: StatusNotification, server?: ServerOrigin): StatusView {
  const view = stateView(status);
  if (server) view.tooltip += `\nServer: ${server.path} (${ORIGIN[server.source]})`;
  return view;
}

function stateView(status: StatusNotification): StatusView {
  switch (status.state) {
    case "starting":
      return { text: "$(sync~spin) CodexOS", tooltip: "CodexOS: starting the server", command: SEARCH };
    case "indexing": {
      const pct = status.percentage === undefined ? "" : ` ${Math.round(status.percentage)}%`;
      return {
        text: `$(sync~spin) CodexOS: indexing${pct}`,
        tooltip: `${status.message ?? "Indexing the workspace"} — click to pause`,
        command: Commands.indexPause,
      };
    }
    case "paused":
      return {
        text: "$(debug-pause) CodexOS: paused",
        tooltip: `${status.message ?? "Indexing is paused"} — click to resume`,
        command: Commands.indexResume,
      };
    case "ready":
      return { text: "$(check) CodexOS: ready", tooltip: status.message ?? "The workspace index is ready", command: SEARCH };
    case "error":
      return { text: "$(error) CodexOS", tooltip: status.message ?? "The server reported an error", command: SEARCH };
  }
}
