// "CodexOS: Search Workspace": a quick pick that searches as you type and previews each result.
// "CodexOS: Reindex Workspace" (package.json) is the server's own `codexos.reindex`: the language
// client registers a command for each command the server executes, so this file must not.
import * as vscode from "vscode";
import type { Server } from "./client";
import { Methods, type SearchResult } from "./logic/protocol";
import { toSearchItems, type SearchItem } from "./logic/search";

export function registerSearch(context: vscode.ExtensionContext, server: Server): void {
  context.subscriptions.push(
    vscode.commands.registerCommand("codexos.search", async (initial?: string) => {
      const pick = vscode.window.createQuickPick<SearchItem & vscode.QuickPickItem>();
      pick.placeholder = "Search the workspace (hybrid: words and meaning)";
      let generation = 0;
      const search = async (query: string) => {
        const mine = ++generation;
        if (query.trim() === "") {
          pick.items = [];
          return;
        }
        pick.busy = true;
        try {
          const results = await server.client.sendRequest<SearchResult[]>(Methods.search, { query, k: 30 });
          // The server ranks by meaning as well as words: keep every result even when the quick
          // pick's own filter would not match the typed text against it.
          if (mine === generation) {
            pick.items = toSearchItems(results ?? [], (uri) => vscode.workspace.asRelativePath(vscode.Uri.parse(uri))).map(
              (item) => ({ ...item, alwaysShow: true }),
            );
          }
        } catch (error) {
          if (mine === generation) pick.title = `Search failed: ${String(error)}`;
        } finally {
          if (mine === generation) pick.busy = false;
        }
      };
      const open = async (item: SearchItem | undefined, preview: boolean) => {
        if (!item) return;
        const range = new vscode.Range(
          item.result.range.start.line, item.result.range.start.character,
          item.result.range.end.line, item.result.range.end.character,
        );
        await vscode.window.showTextDocument(vscode.Uri.parse(item.result.uri), { selection: range, preview, preserveFocus: preview });
      };
      pick.onDidChangeValue((value) => void search(value));
      pick.onDidChangeActive((items) => void open(items[0], true));
      pick.onDidAccept(() => {
        void open(pick.selectedItems[0], false);
        pick.hide();
      });
      pick.onDidHide(() => pick.dispose());
      pick.show();
      if (initial) {
        pick.value = initial;
        await search(initial);
      }
    }),
  );
}
