//! `codexos.catalog` ⇐ `{uri?}` → `{models, tools, vaultKeys, providers}`: the names a flow of
//! this workspace may use, the same catalog completion and the checks use (declared in
//! `codexos.toml`, plug-ins with their argument schemas, the vault's key names, the configured
//! providers and whether each can answer). `codexos.flow.templates` ⇐ `{}` → `[{name, id, title,
//! description, tags, source}]`: the templates `codexos flow new` offers (docs/protocol.md).
//! The Flow Editor's pickers ask these instead of keeping lists of their own.

use std::path::PathBuf;
use std::sync::Arc;

use codexos_flow::Catalog;
use serde::Deserialize;
use serde_json::{Value, json};
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::Uri;

use crate::session::Session;

pub const CATALOG: &str = "codexos.catalog";
pub const TEMPLATES: &str = "codexos.flow.templates";

/// `codexos.catalog`'s argument.
#[derive(Debug, Default, Deserialize)]
pub struct CatalogArgs {
    /// The flow the names are for (sub-flow paths resolve next to it); none: the workspace's.
    #[serde(default)]
    pub uri: Option<Uri>,
}

pub fn catalog(session: &Arc<Session>, args: CatalogArgs) -> Result<Value> {
    let workspace = session.workspace();
    let path: Option<PathBuf> = args
        .uri
        .as_ref()
        .and_then(|uri| uri.to_file_path().map(|path| path.into_owned()));
    let catalog = workspace.catalog_for(path.as_deref());
    let entries = |entries: &[codexos_flow::Entry]| -> Vec<Value> {
        entries
            .iter()
            .map(
                |entry| json!({"name": entry.name, "detail": entry.detail, "schema": entry.schema}),
            )
            .collect()
    };
    let providers: Vec<Value> = catalog
        .providers()
        .iter()
        .map(|provider| {
            json!({
                "name": provider.name,
                "detail": provider.detail,
                "models": provider.models,
                "unavailable": provider.unavailable,
            })
        })
        .collect();
    Ok(json!({
        "models": entries(catalog.models()),
        "tools": entries(catalog.tools()),
        "vaultKeys": catalog.vault_keys().iter().map(|key| key.name.clone()).collect::<Vec<_>>(),
        "providers": providers,
    }))
}

pub fn templates(session: &Arc<Session>) -> Result<Value> {
    let workspace = session.workspace();
    let (templates, rejected) = codexos_service::templates::templates(&workspace);
    for rejected in rejected {
        tracing::warn!(
            "template {} is not offered: {}",
            rejected.source,
            rejected.reason
        );
    }
    Ok(serde_json::to_value(templates).unwrap_or(Value::Array(Vec::new())))
}
