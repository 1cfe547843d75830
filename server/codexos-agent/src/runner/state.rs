//! The state of one run: its scopes, its book of node records, how nodes end, and the
//! run-wide services (events, trace, secrets) every node uses.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use codexos_vault::{Redactor, SecretString};
use tokio_util::sync::CancellationToken;

use super::redact::redact_event;
use super::{Runner, Seed};
use crate::events::{EventSink, NodeRecord, NodeStatus, Problem, RunEvent, Source, TokenUsage};
use crate::graph::{Graph, NodeKind, NodeSpec, RetryOn};
use crate::trace::{self, TraceWriter};

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One level of a run: the top-level flow, or a sub-flow inside a `flow` node.
pub(crate) struct Scope<'g> {
    pub(crate) graph: &'g Graph,
    pub(crate) flow_dir: Option<PathBuf>,
    /// Prefix of node ids in events: empty at the top, `parent/` inside a sub-flow.
    pub(crate) prefix: String,
    pub(crate) depth: usize,
    pub(crate) input: String,
    pub(crate) outputs: Mutex<HashMap<usize, String>>,
    pub(crate) vars: Mutex<HashMap<String, SecretString>>,
}

impl Scope<'_> {
    pub(crate) fn label(&self, node: usize) -> String {
        format!("{}{}", self.prefix, self.graph.nodes[node].id)
    }
}

/// The per-node records, problems and sources a run collects for its result.
#[derive(Default)]
pub(crate) struct Book {
    pub(crate) nodes: Vec<NodeRecord>,
    /// Position of each node's record in `nodes`.
    pub(crate) positions: HashMap<String, usize>,
    pub(crate) running: Vec<String>,
    pub(crate) errors: Vec<Problem>,
    pub(crate) warnings: Vec<Problem>,
    pub(crate) sources: Vec<Source>,
}

impl Book {
    pub(crate) fn record(&mut self, id: &str, node_type: &str) -> &mut NodeRecord {
        let position = match self.positions.get(id) {
            Some(&position) => position,
            None => {
                self.nodes.push(NodeRecord {
                    id: id.to_owned(),
                    node_type: node_type.to_owned(),
                    status: NodeStatus::Stopped,
                    output: None,
                    error: None,
                    runs: 0,
                    elapsed_ms: 0,
                    model: None,
                    usage: TokenUsage::default(),
                    sources: Vec::new(),
                });
                self.positions.insert(id.to_owned(), self.nodes.len() - 1);
                self.nodes.len() - 1
            }
        };
        &mut self.nodes[position]
    }
}

/// How a walk ended.
pub(crate) enum Ended {
    Exited(String),
    Failed {
        problem: Problem,
        frontier: Vec<usize>,
    },
    Stopped {
        reason: Stop,
        frontier: Vec<usize>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    Cancelled,
    TimedOut,
}

/// Why a node did not finish.
pub(crate) enum Failure {
    Failed(String),
    /// A failure that may pass (a timeout, a rate limit, a server or network error): what a
    /// node's `retry.on` may name besides `error`.
    Transient(RetryOn, String),
    Stopped(Stop),
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure::Failed(message)
    }
}

impl From<&str> for Failure {
    fn from(message: &str) -> Failure {
        Failure::Failed(message.to_owned())
    }
}

/// What a finished node produced and where control goes.
#[derive(Default)]
pub(crate) struct Outcome {
    pub(crate) output: String,
    pub(crate) next: Vec<usize>,
    pub(crate) exit: bool,
    pub(crate) model: Option<String>,
    pub(crate) usage: TokenUsage,
    pub(crate) note: Option<String>,
    pub(crate) sources: Vec<Source>,
}

impl Outcome {
    /// `output`, with control going on to the node's `next`.
    pub(crate) fn passing(spec: &NodeSpec, output: String, note: Option<String>) -> Outcome {
        Outcome {
            output,
            next: spec.next.clone(),
            note,
            ..Outcome::default()
        }
    }
}

/// A previous answer and what to improve, for a node that reflection runs again.
#[derive(Clone)]
pub(crate) struct Feedback {
    pub(crate) previous: String,
    pub(crate) critique: String,
}

pub(crate) struct RunState<'r> {
    pub(crate) runner: &'r Runner,
    pub(crate) run_id: String,
    pub(crate) flow_id: String,
    /// Sub-flows must lie inside it.
    pub(crate) confine_to: Option<PathBuf>,
    pub(crate) agent_id: Option<String>,
    pub(crate) redactor: Mutex<Redactor>,
    pub(crate) sink: EventSink,
    pub(crate) trace_path: Option<PathBuf>,
    pub(crate) trace: Mutex<Option<TraceWriter>>,
    pub(crate) started: Instant,
    pub(crate) deadline: tokio::time::Instant,
    pub(crate) steps: AtomicUsize,
    /// Fired by the caller's token, and by the runner itself when the time limit passes.
    pub(crate) cancel: CancellationToken,
    pub(crate) timed_out: AtomicBool,
    pub(crate) context: String,
    pub(crate) secrets_read: Mutex<HashMap<String, SecretString>>,
    pub(crate) book: Mutex<Book>,
}

impl RunState<'_> {
    /// Why node work stops once [`RunState::cancel`] has fired.
    pub(crate) fn stop_reason(&self) -> Stop {
        if self.timed_out.load(Ordering::Relaxed) {
            Stop::TimedOut
        } else {
            Stop::Cancelled
        }
    }

    pub(crate) fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    pub(crate) fn redact(&self, text: &str) -> String {
        lock(&self.redactor).redact(text).into_owned()
    }

    pub(crate) fn write_trace_line(&self, line: &str) {
        let line = self.redact(line);
        let mut trace = lock(&self.trace);
        if let Some(writer) = trace.as_mut()
            && let Err(error) = writer.write_line(&line)
        {
            *trace = None;
            drop(trace);
            let message = format!("{error}; the rest of this run is not recorded");
            lock(&self.book).warnings.push(Problem {
                node: None,
                message: message.clone(),
            });
            (self.sink)(&RunEvent::Warning {
                node: None,
                message,
            });
        }
    }

    /// Redacts `event`, records it in the trace (tokens and statuses, which only matter while
    /// the run goes on, excepted) and hands it to the sink.
    pub(crate) fn emit(&self, event: RunEvent) {
        let event = {
            let redactor = lock(&self.redactor);
            redact_event(event, &redactor)
        };
        if !matches!(event, RunEvent::Token { .. } | RunEvent::Status { .. }) {
            self.write_trace_line(&trace::event_line(&event, self.elapsed_ms()));
        }
        (self.sink)(&event);
    }

    pub(crate) fn warn(&self, node: Option<String>, message: String) {
        let message = self.redact(&message);
        lock(&self.book).warnings.push(Problem {
            node: node.clone(),
            message: message.clone(),
        });
        self.emit(RunEvent::Warning { node, message });
    }

    pub(crate) fn secret(&self, key: &str) -> Result<SecretString, String> {
        if let Some(value) = lock(&self.secrets_read).get(key) {
            return Ok(value.clone());
        }
        let store = self
            .runner
            .secrets
            .as_ref()
            .ok_or("no vault is open for this run")?;
        let value = store.secret(key)?.ok_or_else(|| {
            format!("no secret `{key}` in the vault: add it with `codexos vault put {key}`")
        })?;
        lock(&self.redactor).add(key, &value);
        lock(&self.secrets_read).insert(key.to_owned(), value.clone());
        Ok(value)
    }

    /// Puts a retry's or a replay's recorded outputs in place (and reads again the secrets of the `vault`
    /// nodes among them), writing them to the new trace so a retry can itself be retried.
    pub(crate) fn replay(&self, scope: &Scope<'_>, seed: &Seed) {
        for (node, output) in &seed.outputs {
            let spec = &scope.graph.nodes[*node];
            if let NodeKind::Vault { key, var } = &spec.kind
                && let Ok(value) = self.secret(key)
            {
                lock(&scope.vars).insert(var.clone().unwrap_or_else(|| key.clone()), value);
            }
            lock(&scope.outputs).insert(*node, output.clone());
            let note = if seed.edited.contains(node) {
                Some("set by this fork".to_owned())
            } else {
                seed.parent().map(|run| format!("replayed from run {run}"))
            };
            let record = RunEvent::NodeFinished {
                node: spec.id.clone(),
                output: output.clone(),
                elapsed_ms: 0,
                model: None,
                usage: TokenUsage::default(),
                note,
                sources: Vec::new(),
            };
            self.write_trace_line(&trace::event_line(&record, 0));
            let mut book = lock(&self.book);
            let entry = book.record(&spec.id, spec.ty.as_str());
            entry.status = NodeStatus::Replayed;
            entry.output = Some(self.redact(output));
        }
    }
}

/// `120 s`, `0.3 s`.
pub(crate) fn seconds(duration: Duration) -> String {
    let value = duration.as_secs_f64();
    if value.fract() == 0.0 {
        format!("{value:.0} s")
    } else {
        format!("{value:.1} s")
    }
}
