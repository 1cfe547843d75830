// The local models: on the first start in a workspace where some are missing, offers to install
// them (the server downloads, checks and builds them: `codexos.models.install`) with its progress
// in a notification; "CodexOS: Install Local Models" does it any time. Without the models the
// extension still works, and the offer says so — once per workspace.
import * as vscode from "vscode";
import { WorkDoneProgress, type WorkDoneProgressBegin, type WorkDoneProgressReport } from "vscode-languageclient/node";
import type { Server } from "./client";
import { Commands, type ModelsInstalled, type ModelsStatus } from "./logic/protocol";
import { DOWNLOAD, NOT_NOW, installedMessage, modelsOffer } from "./logic/models";

const OFFERED = "codexos.models.offered";

export function registerModels(context: vscode.ExtensionContext, server: Server, output: vscode.LogOutputChannel): void {
  context.subscriptions.push(vscode.commands.registerCommand("codexos.installModels", () => installModels(server, output)));
  if (!context.workspaceState.get<boolean>(OFFERED)) void offer(context, server, output);
}

async function offer(context: vscode.ExtensionContext, server: Server, output: vscode.LogOutputChannel): Promise<void> {
  let status: ModelsStatus;
  try {
    status = await server.execute<ModelsStatus>(Commands.modelsStatus, {});
  } catch (error) {
    output.warn(`cannot tell which local models are installed: ${String(error)}`);
    return;
  }
  const text = modelsOffer(status);
  if (!text) return;
  output.info(`local models missing in ${status.dir}: ${status.missing.join(", ")}`);
  await context.workspaceState.update(OFFERED, true);
  const choice = await vscode.window.showInformationMessage(text, DOWNLOAD, NOT_NOW);
  if (choice === DOWNLOAD) await installModels(server, output);
}

async function installModels(server: Server, output: vscode.LogOutputChannel): Promise<void> {
  const token = server.newProgressToken("models");
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: "CodexOS: installing the local models" },
    async (progress) => {
      const listening = server.client.onProgress(WorkDoneProgress.type, token, (value) => {
        if (value.kind === "end") return;
        const step = value as WorkDoneProgressBegin | WorkDoneProgressReport;
        if (step.message) {
          output.info(`models: ${step.message}`);
          progress.report({ message: step.message });
        }
      });
      try {
        return await server.execute<ModelsInstalled>(Commands.modelsInstall, {}, token);
      } catch (error) {
        void vscode.window.showErrorMessage(`CodexOS: the local models were not installed: ${String(error)}`);
        return undefined;
      } finally {
        listening.dispose();
      }
    },
  );
  if (result) void vscode.window.showInformationMessage(installedMessage(result));
}
