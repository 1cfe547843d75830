//! The flow runner: runs `*.flow.json` agents.
//!
//! - [`Runner::run`] checks a flow (a flow with errors never starts), compiles it ([`graph`]),
//!   and walks it: the walk itself is a pure state machine ([`walk::Walk`]) that says which
//!   nodes may start; nodes execute asynchronously (models through the `codexos-llm` router,
//!   tools through a [`ToolBox`], retrieval through a [`Retriever`], secrets through a
//!   [`SecretStore`]).
//! - Progress streams as [`RunEvent`]s; the outcome is a [`RunResult`]. Every string in both,
//!   and every trace line, has been through the vault's redactor.
//! - Each run is recorded under `<workspace>/.codexos/runs/<run_id>.jsonl` ([`trace`]);
//!   [`Runner::retry`] continues a failed run from the node that failed; [`Runner::replay`]
//!   runs a recorded run again from any of its top-level nodes, with edits ([`replay`]).
//! - Bounds ([`Limits`]): steps, wall time, tool time, sub-flow depth, tool-call rounds.

pub mod events;
pub mod graph;
pub mod replay;
mod runner;
pub mod services;
pub mod trace;
pub mod walk;

pub use codexos_flow::{expr, template};
pub use codexos_llm::CancellationToken;
pub use events::{
    EventSink, NodeRecord, NodeStatus, Problem, RunEvent, RunResult, RunStatus, Source, TokenUsage,
    ignore_events,
};
pub use graph::{FlowProblem, Graph};
pub use replay::{ForkedFrom, ReplayError, ReplayRequest};
pub use runner::{Limits, RunError, RunRequest, Runner};
pub use services::{Caller, RegistryTools, Retriever, SearchHit, SecretStore, ToolBox};
pub use trace::{ContextFile, RecordedRun, RunHeader, TraceError, runs_dir};
