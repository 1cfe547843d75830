//! The walk driver: starts the nodes the pure [`Walk`] says are ready, runs each one (bounds,
//! records, events), stops everything on failure, cancellation or the time limit, and builds the
//! run's result.

use std::sync::atomic::Ordering;
use std::time::Instant;

use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};

use super::state::{Ended, Failure, Feedback, Outcome, RunState, Scope, Stop, lock, seconds};
use super::{STOP_GRACE, Seed};
use crate::events::{NodeStatus, Problem, RunEvent, RunResult, RunStatus, TokenUsage};
use crate::graph::Graph;
use crate::trace::TraceWriter;
use crate::walk::{Ready, Walk};

impl RunState<'_> {
    pub(super) fn walk<'a>(&'a self, scope: &'a Scope<'a>, mut walk: Walk) -> BoxFuture<'a, Ended> {
        async move {
            let graph = scope.graph;
            let mut running = FuturesUnordered::new();
            loop {
                for Ready { node, sources } in walk.start_ready(graph) {
                    let input = self.default_input(scope, node, &sources);
                    running.push(
                        self.run_node(scope, node, input, 0, None)
                            .map(move |result| (node, result)),
                    );
                }
                if running.is_empty() {
                    return Ended::Failed {
                        problem: Problem {
                            node: None,
                            message: "the run ended without reaching an `exit` node".to_owned(),
                        },
                        frontier: Vec::new(),
                    };
                }
                let finished = tokio::select! {
                    finished = running.next() => finished,
                    () = self.cancel.cancelled() => None,
                    () = tokio::time::sleep_until(self.deadline) => None,
                };
                let stop = if self.cancel.is_cancelled() {
                    self.stop_reason()
                } else {
                    Stop::TimedOut
                };
                match finished {
                    Some((node, Ok(outcome))) => {
                        if outcome.exit {
                            drop(running);
                            self.mark_stopped(scope, &walk.frontier(), "the run reached its exit");
                            return Ended::Exited(outcome.output);
                        }
                        walk.finish(node, &outcome.next);
                    }
                    Some((
                        node,
                        Err(Failure::Failed(message) | Failure::Transient(_, message)),
                    )) => {
                        let frontier = walk.frontier();
                        drop(running);
                        let label = scope.label(node);
                        self.mark_stopped(
                            scope,
                            &frontier,
                            &format!("stopped: node `{label}` failed"),
                        );
                        return Ended::Failed {
                            problem: Problem {
                                node: Some(label),
                                message,
                            },
                            frontier,
                        };
                    }
                    Some((_, Err(Failure::Stopped(_)))) | None => {
                        let frontier = walk.frontier();
                        let reason = reason_of(finished.as_ref(), stop);
                        if reason == Stop::TimedOut {
                            self.timed_out.store(true, Ordering::Relaxed);
                        }
                        // Running nodes see the token and clean up (a tool kills its process
                        // group) before they are dropped.
                        self.cancel.cancel();
                        let drained = async { while running.next().await.is_some() {} };
                        let _ = tokio::time::timeout(STOP_GRACE, drained).await;
                        drop(running);
                        let why = match reason {
                            Stop::Cancelled => "cancelled",
                            Stop::TimedOut => "stopped: the run's time limit passed",
                        };
                        self.mark_stopped(scope, &frontier, why);
                        return Ended::Stopped { reason, frontier };
                    }
                }
            }
        }
        .boxed()
    }

    /// Nodes that were running when the walk stopped get a `NodeFailed` saying why.
    pub(super) fn mark_stopped(&self, scope: &Scope<'_>, frontier: &[usize], why: &str) {
        for &node in frontier {
            let label = scope.label(node);
            let was_running = {
                let mut book = lock(&self.book);
                let was_running = book.running.contains(&label);
                book.running.retain(|id| *id != label);
                was_running
            };
            if was_running {
                self.emit(RunEvent::NodeFailed {
                    node: label,
                    error: why.to_owned(),
                    elapsed_ms: 0,
                });
            }
        }
    }

    /// A node's default input: the outputs of the nodes that sent control to it, or, for a node
    /// a retry starts from, of its predecessors that have one; the run's input for the entry.
    pub(super) fn default_input(
        &self,
        scope: &Scope<'_>,
        node: usize,
        sources: &[usize],
    ) -> String {
        let outputs = lock(&scope.outputs);
        let from: Vec<usize> = if sources.is_empty() {
            (0..scope.graph.nodes.len())
                .filter(|&other| scope.graph.control_edges(other).contains(&node))
                .filter(|other| outputs.contains_key(other))
                .collect()
        } else {
            sources.to_vec()
        };
        if from.is_empty() {
            return scope.input.clone();
        }
        from.iter()
            .filter_map(|source| outputs.get(source).map(String::as_str))
            .collect::<Vec<_>>()
            .join("\n\n")
    }

    pub(super) fn run_node<'a>(
        &'a self,
        scope: &'a Scope<'a>,
        node: usize,
        input: String,
        iteration: u32,
        feedback: Option<Feedback>,
    ) -> BoxFuture<'a, Result<Outcome, Failure>> {
        async move {
            let spec = &scope.graph.nodes[node];
            let label = scope.label(node);
            let step = self.steps.fetch_add(1, Ordering::Relaxed) + 1;
            if step > self.runner.limits.max_steps {
                let message = format!(
                    "the run reached its bound of {} steps before this node could run again: the flow loops without end (add a condition that leaves the loop, or raise the bound)",
                    self.runner.limits.max_steps
                );
                self.emit(RunEvent::NodeFailed {
                    node: label.clone(),
                    error: message.clone(),
                    elapsed_ms: 0,
                });
                return Err(Failure::Failed(message));
            }
            {
                let mut book = lock(&self.book);
                book.record(&label, spec.ty.as_str()).runs += 1;
                book.running.push(label.clone());
            }
            self.emit(RunEvent::NodeStarted {
                node: label.clone(),
                node_type: spec.ty.as_str().to_owned(),
                iteration,
            });
            let started = Instant::now();
            let result = match self.attempts(scope, node, &label, input, feedback).await {
                // A node that fails because it was cancelled (a tool reporting it) was stopped.
                Err(Failure::Failed(_) | Failure::Transient(..)) if self.cancel.is_cancelled() => {
                    Err(Failure::Stopped(self.stop_reason()))
                }
                other => other,
            };
            let elapsed_ms = started.elapsed().as_millis() as u64;
            lock(&self.book).running.retain(|id| *id != label);
            match result {
                Ok(outcome) => {
                    lock(&scope.outputs).insert(node, outcome.output.clone());
                    let output = self.redact(&outcome.output);
                    {
                        let mut book = lock(&self.book);
                        book.sources.extend(outcome.sources.iter().cloned());
                        let record = book.record(&label, spec.ty.as_str());
                        record.status = NodeStatus::Succeeded;
                        record.output = Some(output.clone());
                        record.error = None;
                        record.elapsed_ms += elapsed_ms;
                        record.usage.add(outcome.usage);
                        record.model.clone_from(&outcome.model);
                        record.sources.clone_from(&outcome.sources);
                    }
                    self.emit(RunEvent::NodeFinished {
                        node: label,
                        output,
                        elapsed_ms,
                        model: outcome.model.clone(),
                        usage: outcome.usage,
                        note: outcome.note.clone(),
                        sources: outcome.sources.clone(),
                    });
                    Ok(outcome)
                }
                Err(failure) => {
                    let error = match &failure {
                        Failure::Failed(message) | Failure::Transient(_, message) => {
                            self.redact(message)
                        }
                        Failure::Stopped(Stop::Cancelled) => "cancelled".to_owned(),
                        Failure::Stopped(Stop::TimedOut) => {
                            "stopped: the run's time limit passed".to_owned()
                        }
                    };
                    {
                        let mut book = lock(&self.book);
                        let record = book.record(&label, spec.ty.as_str());
                        record.status = match failure {
                            Failure::Failed(_) | Failure::Transient(..) => NodeStatus::Failed,
                            Failure::Stopped(_) => NodeStatus::Stopped,
                        };
                        record.error = Some(error.clone());
                        record.elapsed_ms += elapsed_ms;
                    }
                    self.emit(RunEvent::NodeFailed {
                        node: label,
                        error,
                        elapsed_ms,
                    });
                    Err(failure)
                }
            }
        }
        .boxed()
    }
}

impl RunState<'_> {
    /// The run's result, and its trace writer, still to be synced to disk.
    pub(super) fn finish(
        self,
        graph: &Graph,
        ended: Ended,
        seed: Seed,
    ) -> (RunResult, Option<TraceWriter>) {
        let label = |frontier: &[usize]| -> Vec<String> {
            frontier
                .iter()
                .map(|&n| graph.nodes[n].id.clone())
                .collect()
        };
        let (status, output, error, frontier) = match ended {
            Ended::Exited(output) => (
                RunStatus::Succeeded,
                Some(self.redact(&output)),
                None,
                Vec::new(),
            ),
            Ended::Failed { problem, frontier } => {
                let problem = Problem {
                    node: problem.node,
                    message: self.redact(&problem.message),
                };
                let text = problem.to_string();
                lock(&self.book).errors.push(problem);
                (RunStatus::Failed, None, Some(text), label(&frontier))
            }
            Ended::Stopped { reason, frontier } => {
                let (status, message) = match reason {
                    Stop::Cancelled => (RunStatus::Cancelled, "the run was cancelled".to_owned()),
                    Stop::TimedOut => (
                        RunStatus::Failed,
                        format!(
                            "the run did not finish within its time limit of {}",
                            seconds(self.runner.limits.timeout)
                        ),
                    ),
                };
                lock(&self.book).errors.push(Problem {
                    node: None,
                    message: message.clone(),
                });
                (status, None, Some(message), label(&frontier))
            }
        };
        let elapsed_ms = self.elapsed_ms();
        self.emit(RunEvent::Finished {
            run_id: self.run_id.clone(),
            status,
            output: output.clone(),
            error,
            frontier,
            elapsed_ms,
        });
        let writer = lock(&self.trace).take();
        let book = std::mem::take(&mut *lock(&self.book));
        let mut usage = TokenUsage::default();
        for node in &book.nodes {
            usage.add(node.usage);
        }
        let result = RunResult {
            run_id: self.run_id.clone(),
            flow_id: graph.flow_id.clone(),
            status,
            output,
            nodes: book.nodes,
            usage,
            errors: book.errors,
            warnings: book.warnings,
            sources: book.sources,
            elapsed_ms,
            trace: self.trace_path.clone(),
            retry_of: seed.retry_of,
            forked_from: seed.forked_from,
            agent_id: self.agent_id.clone(),
        };
        (result, writer)
    }
}

/// A stop that reached the walk through a node, else through the run's own token or clock.
fn reason_of(finished: Option<&(usize, Result<Outcome, Failure>)>, fallback: Stop) -> Stop {
    match finished {
        Some((_, Err(Failure::Stopped(reason)))) => *reason,
        _ => fallback,
    }
}
