//! One module per LSP method or area. How each runs:
//! - `text_document` (didOpen/didChange/didClose) and `workspace` notifications: quick
//!   mutations on the main loop, done before their first `.await` so they apply in the order the
//!   client sent them; analysis is scheduled in the background (`crate::diagnostics`).
//! - every request: a read of the document's snapshot on a blocking thread
//!   ([`crate::session::Session::read`]), dropped if the client cancels.
//! - `lifecycle`: initialize, initialized, shutdown.

pub mod actions;
pub mod agent;
pub mod chat;
pub mod code_action;
pub mod code_lens;
pub mod commands;
pub mod completion;
pub mod flows;
pub mod folding;
pub mod formatting;
pub mod hover;
pub mod inline_actions;
pub mod lifecycle;
pub mod models;
pub mod navigation;
pub mod rename;
pub mod replay;
pub mod search;
pub mod symbols;
pub mod text_document;
pub mod workspace;
