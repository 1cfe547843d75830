import * as vscode from "vscode";
import { statusView, type ServerOrigin } from "./logic/status";
import type { StatusNotification } from "./logic/protocol";

/** The status bar item that shows the server's state and index progress. */
export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem("codexos.status", vscode.StatusBarAlignment.Left, 10);

  constructor() {
    this.item.name = "CodexOS";
    this.item.command = "codexos.search";
    this.item.show();
  }

  /** The binary the client started, named in the tooltip from then on. */
  server: ServerOrigin | undefined;

  update(status: StatusNotification): void {
    const view = statusView(status, this.server);
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.command = view.command;
  }

  dispose(): void {
    this.item.dispose();
  }
}
