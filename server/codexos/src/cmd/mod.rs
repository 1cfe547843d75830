//! One module per subcommand.

use std::path::Path;

use codexos_service::Workspace;

pub mod agent;
pub mod bench;
mod bench_shared;
pub mod check;
pub mod embedders;
pub mod eval;
pub mod flow;
pub mod index;
pub mod init;
pub mod lsp;
pub mod mcp;
pub mod models;
pub mod run;
pub mod runs;
pub mod search;
pub mod serve;
pub mod trust;
pub mod vault;

/// The workspace `start` lies in ([`Workspace::discover`]), telling on stderr how it was found
/// when the user may not expect it (a `codexos.toml` ignored or adopted from above).
pub fn discover_workspace(start: &Path) -> anyhow::Result<Workspace> {
    let (workspace, notes) = Workspace::discover(start)?;
    for note in notes {
        eprintln!("warning: {note}");
    }
    Ok(workspace)
}
