//! One module per subcommand.

pub mod bench;
pub mod check;
pub mod embedders;
pub mod eval;
pub mod index;
pub mod lsp;
pub mod search;
