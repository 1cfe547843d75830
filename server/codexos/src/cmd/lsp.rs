use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use codexos_lsp::Ending;

#[derive(clap::Args)]
pub struct Args {
    /// Accepted for editors that pass it; stdio is the only transport.
    #[arg(long)]
    stdio: bool,
}

/// Serves LSP on stdin/stdout; exits 0 after `shutdown` + `exit`, 1 when the client went away
/// without a shutdown.
pub fn run(_: Args) -> anyhow::Result<ExitCode> {
    let runtime =
        codexos_lsp::scheduling::request_runtime().context("cannot start the async runtime")?;
    let ending = runtime.block_on(codexos_lsp::serve(tokio::io::stdin(), tokio::io::stdout()));
    // The stdin reader thread may sit in a blocking read forever: don't wait for it.
    runtime.shutdown_timeout(Duration::from_millis(200));
    Ok(match ending {
        Ending::Clean => ExitCode::SUCCESS,
        Ending::Abrupt => ExitCode::FAILURE,
    })
}
