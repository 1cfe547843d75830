//! The tools an agent can call, behind one [`ToolRegistry`].
//!
//! A tool is a name, a description and a JSON Schema for its arguments ([`ToolInfo`]). The
//! registry checks every call's arguments against that schema *before* the tool runs, so bad
//! arguments give an error naming the field and never a half-run tool.
//!
//! Sources of tools:
//! - built-ins ([`builtin`]): `read_file`, `write_file`, `search_workspace`, `shell`, `python`,
//!   `http_fetch`;
//! - plug-ins: `*.tool.json` files in the workspace's `tools/` folder ([`plugin`]), hot-reloaded;
//! - the tools of MCP servers listed in `codexos.toml` ([`mcp`]), as `<server>.<tool>`;
//! - any [`Tool`] the embedder registers (the `codexos mcp` command serves such tools);
//!
//! Everything a call may touch comes through its [`ToolContext`]: the workspace root, the
//! configuration (what is allowed, timeouts, output caps), a cancellation token, where writes go
//! ([`WriteSink`]) and the workspace index ([`Search`]).

pub mod builtin;
mod context;
mod error;
pub mod mcp;
pub mod plugin;
mod registry;
mod schema;
mod search;
mod workspace_path;
mod write;

pub use codexos_policy::{Action, Capabilities, Capability, Decision, Gate};
pub use context::{Audit, ToolConfig, ToolContext, ToolSettings};
pub use error::{ArgumentError, ToolError};
pub use registry::{AsyncTool, Tool, ToolInfo, ToolOutput, ToolProblem, ToolRegistry, ToolSource};
pub use search::{Search, SearchError, SearchHit};
pub use workspace_path::{
    Placement, WorkspacePathError, place_relative, read_relative, relative_to_workspace,
    resolve_in_workspace,
};
pub use write::{AtomicWriteSink, FileWrite, RecordingWriteSink, WriteSink};
