//! What agents may do in a workspace, decided in one place.
//!
//! Every tool declares its [`Capabilities`] (read, write, execute, network) and says, for each
//! call, the exact [`Action`] it would take: the file it would write, the command it would run,
//! the URL it would fetch. One [`Gate`] per workspace decides on that action before the tool
//! runs, and every decision ([`Decision`]) lands in the run's trace:
//!
//! - [`Policy::evaluate`] is the rules, pure: reads are allowed; writes are allowed outside the
//!   protected paths ([`DEFAULT_PROTECTED`]); commands, plug-ins, MCP servers and the network
//!   need the user;
//! - the [`TrustStore`] holds what the user allowed, per workspace, in a file outside every
//!   workspace (`~/.config/codexos/trust.toml`), plug-ins and MCP servers pinned by hash: nothing
//!   a workspace contains can widen what its agents may do;
//! - [`PolicyGate`] asks the user (an [`Approver`]: the editor's dialog, the terminal) when the
//!   policy says so, and remembers an "Allow".

mod action;
mod gate;
mod policy;
mod protected;
mod store;
pub mod user_files;

pub use action::{Action, Capabilities, Capability};
pub use gate::{
    Answer, Approval, Approver, Decision, Gate, GateConfig, PolicyGate, Prompt, Verdict,
};
pub use policy::{DecidedBy, Evaluation, Grant, Policy, Question, WorkspaceRequests};
pub use protected::DEFAULT_PROTECTED;
pub use store::{TrustError, TrustFile, TrustStore, WorkspaceTrust, user_config_dir};
