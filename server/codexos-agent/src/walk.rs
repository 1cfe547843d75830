//! The graph walk as a pure state machine: it says which nodes may start, given which have
//! finished and where each one sent control. No I/O, no time, no async: the runner drives it.
//!
//! Rules:
//! - A finished node activates the nodes it chose (`next`, all of them for a fan-out; one branch
//!   for a condition).
//! - An activated node waits while another node that is running or waiting can still reach it:
//!   that is the join. Branches a condition did not take are never activated, so they never
//!   hold a join up.
//! - A node never runs twice at once; activating a node that is already waiting only adds the
//!   new source.
//! - When nothing runs and every waiting node waits for another waiting node (they sit on one
//!   loop), the one activated first is released, so the walk cannot deadlock.

use crate::graph::Graph;

/// A node that may start, and the nodes whose outputs activated it (its default input).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ready {
    pub node: usize,
    pub sources: Vec<usize>,
}

#[derive(Clone, Debug)]
struct Waiting {
    node: usize,
    sources: Vec<usize>,
}

#[derive(Clone, Debug)]
pub struct Walk {
    waiting: Vec<Waiting>,
    running: Vec<usize>,
}

impl Walk {
    /// A walk about to run the entry node.
    pub fn new(graph: &Graph) -> Walk {
        Walk::resume(&[graph.entry])
    }

    /// A walk about to run `frontier` (a retry continues where a run stopped).
    pub fn resume(frontier: &[usize]) -> Walk {
        Walk {
            waiting: frontier
                .iter()
                .map(|&node| Waiting {
                    node,
                    sources: Vec::new(),
                })
                .collect(),
            running: Vec::new(),
        }
    }

    /// Moves every node that may start now to running and returns them.
    pub fn start_ready(&mut self, graph: &Graph) -> Vec<Ready> {
        let mut ready = Vec::new();
        let mut position = 0;
        while position < self.waiting.len() {
            if self.may_start(graph, position) {
                let Waiting { node, sources } = self.waiting.remove(position);
                self.running.push(node);
                ready.push(Ready { node, sources });
            } else {
                position += 1;
            }
        }
        if ready.is_empty() && self.running.is_empty() && !self.waiting.is_empty() {
            let Waiting { node, sources } = self.waiting.remove(0);
            self.running.push(node);
            ready.push(Ready { node, sources });
        }
        ready
    }

    fn may_start(&self, graph: &Graph, position: usize) -> bool {
        let node = self.waiting[position].node;
        if self.running.contains(&node) {
            return false;
        }
        let blocked_by = |other: usize| other != node && graph.reaches(other, node);
        !self.running.iter().any(|&other| blocked_by(other))
            && !self
                .waiting
                .iter()
                .enumerate()
                .any(|(index, other)| index != position && blocked_by(other.node))
    }

    /// `node` finished and sends control to `next`.
    pub fn finish(&mut self, node: usize, next: &[usize]) {
        self.running.retain(|&running| running != node);
        for &target in next {
            match self.waiting.iter_mut().find(|w| w.node == target) {
                Some(waiting) => {
                    if !waiting.sources.contains(&node) {
                        waiting.sources.push(node);
                    }
                }
                None => self.waiting.push(Waiting {
                    node: target,
                    sources: vec![node],
                }),
            }
        }
    }

    /// `node` failed or was stopped: it leaves the running set and activates nothing.
    pub fn abandon(&mut self, node: usize) {
        self.running.retain(|&running| running != node);
    }

    /// Nothing runs and nothing waits.
    pub fn is_idle(&self) -> bool {
        self.running.is_empty() && self.waiting.is_empty()
    }

    /// Nodes running or waiting: where a retry of a stopped run starts again.
    pub fn frontier(&self) -> Vec<usize> {
        let mut frontier: Vec<usize> = self
            .running
            .iter()
            .copied()
            .chain(self.waiting.iter().map(|w| w.node))
            .collect();
        frontier.sort_unstable();
        frontier.dedup();
        frontier
    }
}

#[cfg(test)]
mod tests {
    use codexos_flow::{FlowFile, StaticCatalog};

    use super::*;

    fn graph(text: &str) -> Graph {
        let file = FlowFile::parse(text);
        match Graph::compile(&file, &StaticCatalog::builtin()) {
            Ok(graph) => graph,
            Err(problems) => panic!("fixture does not compile: {problems:?}"),
        }
    }

    /// Runs the walk to the end, each node finishing in the order started and sending control
    /// where `choose` says; returns the batches of nodes started together, as ids.
    fn trace(graph: &Graph, choose: impl Fn(usize) -> Vec<usize>) -> Vec<Vec<String>> {
        let mut walk = Walk::new(graph);
        let mut batches = Vec::new();
        while !walk.is_idle() {
            let ready = walk.start_ready(graph);
            batches.push(
                ready
                    .iter()
                    .map(|r| {
                        let sources: Vec<&str> = r
                            .sources
                            .iter()
                            .map(|&s| graph.nodes[s].id.as_str())
                            .collect();
                        if sources.is_empty() {
                            graph.nodes[r.node].id.clone()
                        } else {
                            format!("{}<-{}", graph.nodes[r.node].id, sources.join("+"))
                        }
                    })
                    .collect(),
            );
            for r in ready {
                walk.finish(r.node, &choose(r.node));
            }
            assert!(batches.len() < 100, "the walk does not end");
        }
        batches
    }

    const FAN_OUT: &str = r#"{"id": "f", "nodes": [
{"id": "start", "type": "entry", "next": ["a", "b"]},
{"id": "a", "type": "tool", "tool": "read_file", "next": "a2"},
{"id": "a2", "type": "tool", "tool": "read_file", "next": "join"},
{"id": "b", "type": "tool", "tool": "read_file", "next": "join"},
{"id": "join", "type": "tool", "tool": "read_file", "next": "end"},
{"id": "end", "type": "exit"}
]}"#;

    #[test]
    fn a_fan_out_runs_both_branches_together_and_joins_once_both_arrive() {
        let graph = graph(FAN_OUT);
        let batches = trace(&graph, |node| graph.control_edges(node));
        assert_eq!(
            batches,
            vec![
                vec!["start".to_owned()],
                vec!["a<-start".to_owned(), "b<-start".to_owned()],
                vec!["a2<-a".to_owned()],
                vec!["join<-b+a2".to_owned()],
                vec!["end<-join".to_owned()],
            ]
        );
    }

    const BRANCHES: &str = r#"{"id": "c", "nodes": [
{"id": "start", "type": "entry", "next": "check"},
{"id": "check", "type": "condition", "if": "{{input}} contains \"bug\"", "then": "fix", "else": "reply"},
{"id": "fix", "type": "tool", "tool": "read_file", "next": "done"},
{"id": "reply", "type": "tool", "tool": "read_file", "next": "done"},
{"id": "done", "type": "exit"}
]}"#;

    #[test]
    fn a_join_after_a_condition_does_not_wait_for_the_branch_not_taken() {
        let graph = graph(BRANCHES);
        let check = graph.index("check").unwrap_or_default();
        let reply = graph.index("reply").unwrap_or_default();
        let batches = trace(&graph, |node| {
            if node == check {
                vec![reply]
            } else {
                graph.control_edges(node)
            }
        });
        assert_eq!(
            batches.concat(),
            vec!["start", "check<-start", "reply<-check", "done<-reply"]
        );
    }

    #[test]
    fn nodes_waiting_for_each_other_on_a_loop_are_released_one_at_a_time() {
        let graph = graph(
            r#"{"id": "l", "nodes": [
{"id": "start", "type": "entry", "next": "a"},
{"id": "a", "type": "tool", "tool": "read_file", "next": "again"},
{"id": "again", "type": "condition", "if": "true", "then": "b", "else": "end"},
{"id": "b", "type": "tool", "tool": "read_file", "next": "a"},
{"id": "end", "type": "exit"}
]}"#,
        );
        let a = graph.index("a").unwrap_or_default();
        let b = graph.index("b").unwrap_or_default();
        let mut walk = Walk::resume(&[a, b]);
        let first: Vec<usize> = walk.start_ready(&graph).iter().map(|r| r.node).collect();
        assert_eq!(first, vec![a]);
        assert!(
            walk.start_ready(&graph).is_empty(),
            "`b` waits while `a` runs"
        );
    }

    #[test]
    fn resuming_starts_from_the_frontier() {
        let graph = graph(FAN_OUT);
        let a2 = graph.index("a2").unwrap_or_default();
        let b = graph.index("b").unwrap_or_default();
        let mut walk = Walk::resume(&[a2, b]);
        let ready: Vec<usize> = walk.start_ready(&graph).iter().map(|r| r.node).collect();
        assert_eq!(ready, vec![a2, b]);
        assert_eq!(walk.frontier(), vec![a2, b]);
    }
}
