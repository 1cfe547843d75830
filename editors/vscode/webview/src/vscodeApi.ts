// The webview's side of the channel to the extension (VS Code injects `acquireVsCodeApi`).
import type { HostMessage, WebviewMessage } from "../../src/flowEditor/messages";

interface VsCodeApi {
  postMessage(message: WebviewMessage): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

const api: VsCodeApi = acquireVsCodeApi();

export function post(message: WebviewMessage): void {
  api.postMessage(message);
}

export function onHostMessage(listener: (message: HostMessage) => void): () => void {
  const handler = (event: MessageEvent<HostMessage>) => listener(event.data);
  window.addEventListener("message", handler);
  return () => window.removeEventListener("message", handler);
}
