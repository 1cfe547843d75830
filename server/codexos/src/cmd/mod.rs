//! One module per subcommand.

pub mod agent;
pub mod bench;
pub mod check;
pub mod embedders;
pub mod eval;
pub mod flow;
pub mod index;
pub mod lsp;
pub mod mcp;
pub mod run;
pub mod runs;
pub mod search;
pub mod trust;
pub mod vault;
