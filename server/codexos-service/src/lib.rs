//! The one API that the command line, the language server and MCP call.
//!
//! A [`Workspace`] is a root folder with its `codexos.toml` ([`Config`]) and the [`ServiceCatalog`]
//! of tools, models and vault keys that flows may name. [`Workspace::check_paths`] is what
//! `codexos check` runs; the language server asks [`Workspace::catalog_for`] for the same catalog
//! and runs the same [`codexos_flow::FlowFile`] analysis on open documents, so both always agree.

pub mod actions;
pub mod agents;
pub mod authoring;
pub mod builtin;
pub mod catalog;
pub mod chat;
pub mod check;
pub mod config;
pub mod index;
pub mod providers;
pub mod run_events;
pub mod templates;
pub mod tools;
pub mod trust;
pub mod vault;
mod workspace;

#[cfg(test)]
mod config_docs;

pub use workspace::is_flow_path;

pub use catalog::{FileCatalog, ServiceCatalog};
pub use check::{CheckError, CheckReport, CheckedFile};
pub use config::{CONFIG_FILE, Config, ConfigError, ConfigWarning, LoadedConfig};
pub use workspace::{DiscoveryNote, Workspace};
