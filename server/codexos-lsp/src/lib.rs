//! The CodexOS language server: translates LSP requests into `codexos-service` and
//! `codexos-flow` calls, and their answers back into LSP types.
//!
//! Built on `tower-lsp-server`, the maintained fork of `tower-lsp` (the original has had no
//! release since 2023; the fork is on current `ls-types`, has `positionEncoding` and 3.17 types,
//! and keeps the same small `LanguageServer` trait).
//!
//! Layout: [`server`] (the thin trait impl) → [`handlers`] (one module per method or area) →
//! [`session`] (documents, folders, configuration) with [`edit`] (positions), [`convert`]
//! (findings → LSP types), [`diagnostics`] (background publishing), [`progress`], [`logging`].

pub mod approvals;
pub mod convert;
pub mod diagnostics;
pub mod edit;
pub mod editor_writes;
pub mod file_changes;
pub mod handlers;
pub mod indexing;
pub mod logging;
pub mod progress;
pub mod runs;
pub mod scheduling;
pub mod server;
pub mod session;
pub mod transport;

use tokio::io::{AsyncRead, AsyncWrite};
use tower_lsp_server::{LspService, Server as Transport};

use crate::logging::LogSinks;
use crate::server::Server;

/// Messages handled at once. A command such as `codexos.agent.run` holds its slot until the run
/// is over; with the transport's default of 4, four runs would hold back every completion,
/// cancellation and edit behind them.
const MAX_CONCURRENT_MESSAGES: usize = 1024;

/// How a server run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// `shutdown` then `exit`, as the protocol asks.
    Clean,
    /// `exit` without `shutdown`, or the input closed.
    Abrupt,
}

/// Serves the protocol on `input`/`output` (stdin/stdout for `codexos lsp`) until `exit` or
/// end of input. The calling thread, which drives the requests, becomes a request thread
/// ([`scheduling`]); run it on [`scheduling::request_runtime`].
pub async fn serve<I, O>(input: I, output: O) -> Ending
where
    I: AsyncRead + Unpin + Send + 'static,
    O: AsyncWrite,
{
    scheduling::favour_requests();
    let logs = LogSinks::install();
    let (service, socket) = LspService::build(|client| Server::new(client, logs))
        .custom_method("window/workDoneProgress/cancel", Server::cancel_progress)
        .custom_method("codexos/search", Server::search)
        .custom_method(transport::ANSWER_MALFORMED, transport::answer_malformed)
        .finish();
    let session = service.inner().session().clone();
    Transport::new(transport::sanitize(input), output, socket)
        .concurrency_level(MAX_CONCURRENT_MESSAGES)
        .serve(service)
        .await;
    if session.shutdown_requested() {
        Ending::Clean
    } else {
        Ending::Abrupt
    }
}
