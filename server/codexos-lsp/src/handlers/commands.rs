//! `workspace/executeCommand`: one route per command (docs/protocol.md). Each command takes one
//! argument object whose shape is the seed's API contract; a missing or malformed argument is an
//! `InvalidParams` error that names the command and the field.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Result};
use tower_lsp_server::ls_types::ExecuteCommandParams;

use codexos_service::actions::Action;

use crate::handlers::{actions, agent, chat, flows, models, replay, search};
use crate::session::Session;

pub const RAG_QUERY: &str = "codexos.rag.query";
pub const REINDEX: &str = "codexos.reindex";
pub const INDEX_PAUSE: &str = "codexos.index.pause";
pub const INDEX_RESUME: &str = "codexos.index.resume";
pub const VAULT_PUT: &str = "codexos.vault.put";
pub const VAULT_LIST: &str = "codexos.vault.list";

/// Every command this server executes, for the `executeCommandProvider` capability.
pub fn all() -> Vec<String> {
    let mut all: Vec<String> = [
        agent::RUN,
        agent::RETRY,
        replay::REPLAY,
        agent::CANCEL,
        chat::CHAT,
        RAG_QUERY,
        REINDEX,
        INDEX_PAUSE,
        INDEX_RESUME,
        VAULT_PUT,
        VAULT_LIST,
        flows::CATALOG,
        flows::TEMPLATES,
        models::STATUS,
        models::INSTALL,
    ]
    .map(str::to_owned)
    .to_vec();
    all.extend(Action::ALL.map(Action::command));
    all
}

fn failed(command: &str, error: impl std::fmt::Display) -> Error {
    Error {
        code: ErrorCode::ServerError(-32003),
        message: format!("{command}: {error}").into(),
        data: None,
    }
}

/// Runs vault work on a blocking thread (age and file locks), naming the command on failure.
async fn with_vault<T: Send + 'static>(
    session: &Arc<Session>,
    command: &'static str,
    work: impl FnOnce(codexos_vault::Vault) -> std::result::Result<T, codexos_vault::VaultError>
    + Send
    + 'static,
) -> Result<T> {
    let workspace = session.workspace();
    tokio::task::spawn_blocking(move || workspace.open_vault().and_then(work))
        .await
        .map_err(|error| failed(command, error))?
        .map_err(|error| failed(command, error))
}

fn argument<T: DeserializeOwned>(command: &str, params: &ExecuteCommandParams) -> Result<T> {
    let value = params
        .arguments
        .first()
        .cloned()
        .unwrap_or(Value::Object(Default::default()));
    serde_json::from_value(value).map_err(|error| Error {
        code: ErrorCode::InvalidParams,
        message: format!("{command}: invalid argument: {error}").into(),
        data: None,
    })
}

pub async fn execute(
    session: &Arc<Session>,
    params: ExecuteCommandParams,
) -> Result<Option<Value>> {
    let answer = execute_command(session, params).await;
    crate::progress::notifications_first().await;
    answer
}

async fn execute_command(
    session: &Arc<Session>,
    params: ExecuteCommandParams,
) -> Result<Option<Value>> {
    let work_done_token = params.work_done_progress_params.work_done_token.clone();
    match params.command.as_str() {
        agent::RUN => {
            let args = argument(agent::RUN, &params)?;
            agent::run(session, args, work_done_token).await.map(Some)
        }
        agent::RETRY => {
            let args = argument(agent::RETRY, &params)?;
            agent::retry(session, args, work_done_token).await.map(Some)
        }
        replay::REPLAY => {
            let args = argument(replay::REPLAY, &params)?;
            replay::replay(session, args, work_done_token)
                .await
                .map(Some)
        }
        agent::CANCEL => agent::cancel(session, argument(agent::CANCEL, &params)?).map(Some),
        chat::CHAT => {
            let args = argument(chat::CHAT, &params)?;
            chat::chat(session, args, work_done_token).await.map(Some)
        }
        RAG_QUERY => {
            let query = argument(RAG_QUERY, &params)?;
            search::rag_query(session, query).await.map(Some)
        }
        // Index work is background work: these answer at once, progress and
        // `codexos/status` report what follows.
        REINDEX | INDEX_RESUME => {
            if session.indexes().is_empty() {
                return Err(Error {
                    code: ErrorCode::ServerError(-32001),
                    message:
                        "the workspace has no index yet (no workspace folder, or it is still opening)"
                            .into(),
                    data: None,
                });
            }
            crate::indexing::resume(session);
            Ok(None)
        }
        INDEX_PAUSE => {
            crate::indexing::pause(session).await;
            Ok(None)
        }
        VAULT_PUT => {
            // `{key, value, tags}` (the seed's `/vault/put`); the value never reaches a log.
            let request: codexos_vault::PutRequest = argument(VAULT_PUT, &params)?;
            let key = request.key.clone();
            let outcome =
                with_vault(session, VAULT_PUT, move |vault| vault.put_request(request)).await?;
            tracing::info!("vault: stored `{key}`");
            // Flows that use the key check clean now.
            crate::handlers::workspace::reload_and_recheck(session);
            let created = matches!(outcome, codexos_vault::PutOutcome::Created);
            Ok(Some(serde_json::json!({ "key": key, "created": created })))
        }
        flows::CATALOG => flows::catalog(session, argument(flows::CATALOG, &params)?).map(Some),
        flows::TEMPLATES => flows::templates(session).map(Some),
        models::STATUS => models::status().await.map(Some),
        models::INSTALL => {
            let args = argument(models::INSTALL, &params)?;
            models::install(session, args, work_done_token)
                .await
                .map(Some)
        }
        VAULT_LIST => {
            let secrets = with_vault(session, VAULT_LIST, |vault| vault.list()).await?;
            serde_json::to_value(secrets)
                .map(Some)
                .map_err(|error| failed(VAULT_LIST, error))
        }
        other => match Action::from_command(other) {
            Some(action) => {
                let args = argument(other, &params)?;
                actions::run(session, action, args, work_done_token)
                    .await
                    .map(Some)
            }
            None => Err(Error {
                code: ErrorCode::InvalidParams,
                message: format!("unknown command `{other}`; known: {}", all().join(", ")).into(),
                data: None,
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    const PROTOCOL_MD: &str = include_str!("../../../../docs/protocol.md");
    const PROTOCOL_TS: &str = include_str!("../../../../editors/vscode/src/logic/protocol.ts");

    /// The commands docs/protocol.md's table lists: `codexos.action.explain` / `.refactor` rows
    /// name their siblings by suffix.
    fn documented() -> BTreeSet<String> {
        let mut commands = BTreeSet::new();
        for row in PROTOCOL_MD
            .lines()
            .filter(|line| line.starts_with("| `codexos."))
        {
            let cell = row.split('|').nth(1).unwrap_or_default();
            let mut names = cell.split('/').map(|name| name.trim().trim_matches('`'));
            let Some(first) = names.next() else { continue };
            let stem = first.rsplit_once('.').map_or(first, |(stem, _)| stem);
            commands.insert(first.to_owned());
            for name in names {
                commands.insert(format!("{stem}{name}"));
            }
        }
        commands
    }

    #[test]
    fn every_command_the_server_executes_is_documented_and_nothing_else_is() {
        let served: BTreeSet<String> = super::all().into_iter().collect();
        assert_eq!(documented(), served);
    }

    #[test]
    fn the_vs_code_extension_names_only_commands_and_methods_the_server_has() {
        let served: BTreeSet<String> = super::all().into_iter().collect();
        let named: Vec<&str> = PROTOCOL_TS
            .split('"')
            .skip(1)
            .step_by(2)
            .filter(|name| name.starts_with("codexos.") || name.starts_with("codexos/"))
            .collect();
        assert!(named.len() >= 10, "{named:?}");
        for name in named {
            if name.starts_with("codexos/") {
                assert!(
                    PROTOCOL_MD.contains(&format!("`{name}`")),
                    "{name} is not in docs/protocol.md"
                );
            } else {
                assert!(served.contains(name), "the server does not execute {name}");
            }
        }
    }
}
