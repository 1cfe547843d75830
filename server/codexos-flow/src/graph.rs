//! Graph algorithms over a flow's nodes (indices into `Flow::nodes`).

use crate::model::Flow;

/// Tarjan's algorithm, iterative so that a 10,000-node chain cannot overflow the stack.
pub fn strongly_connected(successors: &[Vec<usize>]) -> Vec<Vec<usize>> {
    const UNVISITED: usize = usize::MAX;
    let n = successors.len();
    let mut index = vec![UNVISITED; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut components = Vec::new();
    let mut next_index = 0;
    for root in 0..n {
        if index[root] != UNVISITED {
            continue;
        }
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        while let Some(&mut (v, ref mut child)) = work.last_mut() {
            if *child == 0 && index[v] == UNVISITED {
                index[v] = next_index;
                low[v] = next_index;
                next_index += 1;
                stack.push(v);
                on_stack[v] = true;
            }
            if let Some(&w) = successors[v].get(*child) {
                *child += 1;
                if index[w] == UNVISITED {
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut component = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                components.push(component);
            }
        }
    }
    components
}

/// Which node can reach which: the transitive closure over strongly connected components,
/// one bit set per component. Answers "does `a` run before `b`" in O(1) after O(N·N/64) setup.
pub struct Reach {
    component: Vec<usize>,
    words: usize,
    bits: Vec<u64>,
}

impl Reach {
    pub fn new(flow: &Flow) -> Reach {
        let components = strongly_connected(&flow.successors);
        let mut component = vec![0; flow.nodes.len()];
        for (c, members) in components.iter().enumerate() {
            for &m in members {
                component[m] = c;
            }
        }
        let words = components.len().div_ceil(64);
        let mut bits = vec![0u64; components.len() * words];
        // Tarjan emits sinks first: every successor component is complete before its predecessors.
        for (c, members) in components.iter().enumerate() {
            for &m in members {
                for &s in &flow.successors[m] {
                    let d = component[s];
                    bits[c * words + d / 64] |= 1 << (d % 64);
                    if d != c {
                        let (done, current) = bits.split_at_mut(c * words);
                        for (mine, theirs) in current[..words]
                            .iter_mut()
                            .zip(&done[d * words..(d + 1) * words])
                        {
                            *mine |= theirs;
                        }
                    }
                }
            }
        }
        Reach {
            component,
            words,
            bits,
        }
    }

    /// Whether a path of one or more edges leads from `from` to `to`.
    pub fn reaches(&self, from: usize, to: usize) -> bool {
        let (c, d) = (self.component[from], self.component[to]);
        self.bits[c * self.words + d / 64] & (1 << (d % 64)) != 0
    }
}

/// The nodes from which a path leads to `node`: every node that runs before it.
pub fn ancestors(flow: &Flow, node: usize) -> Vec<bool> {
    let mut predecessors = vec![Vec::new(); flow.nodes.len()];
    for (from, successors) in flow.successors.iter().enumerate() {
        for &to in successors {
            predecessors[to].push(from);
        }
    }
    let mut seen = vec![false; flow.nodes.len()];
    let mut stack = predecessors[node].clone();
    while let Some(i) = stack.pop() {
        if !std::mem::replace(&mut seen[i], true) {
            stack.extend(&predecessors[i]);
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FlowFile;

    #[test]
    fn reach_follows_paths_and_loops_but_not_backwards() {
        let file = FlowFile::parse(
            r#"{ "id": "g", "nodes": [
  { "id": "a", "type": "entry", "next": "b" },
  { "id": "b", "type": "llm", "model": "local", "next": "c" },
  { "id": "c", "type": "reflect", "target": "b", "max_iterations": 2, "next": "d" },
  { "id": "d", "type": "exit" }
] }"#,
        );
        let reach = Reach::new(file.flow());
        assert!(reach.reaches(0, 3));
        assert!(reach.reaches(1, 1), "b runs again through the reflect loop");
        assert!(!reach.reaches(0, 0));
        assert!(!reach.reaches(3, 0));
        assert_eq!(ancestors(file.flow(), 3), vec![true, true, true, false]);
    }
}
