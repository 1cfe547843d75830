// The status bar item's text and tooltip for the server's state.
import type { StatusNotification } from "./protocol";

export interface StatusView {
  text: string;
  tooltip: string;
}

export function statusView(status: StatusNotification): StatusView {
  switch (status.state) {
    case "starting":
      return { text: "$(sync~spin) CodexOS", tooltip: "CodexOS: starting the server" };
    case "indexing": {
      const pct = status.percentage === undefined ? "" : ` ${Math.round(status.percentage)}%`;
      return { text: `$(sync~spin) CodexOS: indexing${pct}`, tooltip: status.message ?? "Indexing the workspace" };
    }
    case "ready":
      return { text: "$(check) CodexOS: ready", tooltip: status.message ?? "The workspace index is ready" };
    case "error":
      return { text: "$(error) CodexOS", tooltip: status.message ?? "The server reported an error" };
  }
}
