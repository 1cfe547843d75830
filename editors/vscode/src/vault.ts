// Vault commands: add a secret (password input; the value is never shown) and list names.
import * as vscode from "vscode";
import type { Server } from "./client";
import { Commands } from "./logic/protocol";

export function registerVault(context: vscode.ExtensionContext, server: Server): void {
  context.subscriptions.push(
    vscode.commands.registerCommand("codexos.vaultPut", async (presetKey?: string | { key?: string }) => {
      const preset = typeof presetKey === "string" ? presetKey : presetKey?.key;
      const key = preset ?? (await vscode.window.showInputBox({ prompt: "Secret name (e.g. openai_key)" }));
      if (!key) return;
      const value = await vscode.window.showInputBox({ prompt: `Value for ${key}`, password: true, ignoreFocusOut: true });
      if (!value) return;
      try {
        await server.execute(Commands.vaultPut, { key, value, tags: [] });
        void vscode.window.showInformationMessage(`CodexOS: ${key} is in the vault.`);
      } catch (error) {
        void vscode.window.showErrorMessage(`CodexOS: ${key} was not stored: ${String(error)}`);
      }
    }),
    vscode.commands.registerCommand("codexos.vaultList", async () => {
      let secrets: { key: string; tags: string[] }[] | null;
      try {
        secrets = await server.execute<{ key: string; tags: string[] }[]>(Commands.vaultList, {});
      } catch (error) {
        void vscode.window.showErrorMessage(`CodexOS: the vault could not be listed: ${String(error)}`);
        return;
      }
      await vscode.window.showQuickPick(
        (secrets ?? []).map((s) => ({ label: s.key, description: s.tags.join(", ") })),
        { placeHolder: "Secrets in the vault (names only)" },
      );
    }),
  );
}
