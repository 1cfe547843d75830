//! Flow analysis speed on a large flow: what the editor waits for after each keystroke.
//!
//! `cargo bench -p codexos-flow` — targets: full diagnostics of a 1,000-node flow after a
//! one-character edit under 5 ms (median), completion in a large flow under 2 ms, and a
//! 10,000-node flow whose every edge names an unknown id checked well under a second.

use codexos_flow::{FlowFile, StaticCatalog};

fn main() {
    divan::main();
}

/// A realistic flow of `n` nodes: a chain of llm, tool and rag nodes with templates, a condition
/// every 50 nodes, and a reflect loop, ending at one exit.
fn large_flow(n: usize) -> String {
    let mut nodes = vec![r#"    { "id": "start", "type": "entry", "next": "n1" }"#.to_owned()];
    for i in 1..n - 1 {
        let next = if i + 1 < n - 1 {
            format!("n{}", i + 1)
        } else {
            "end".to_owned()
        };
        let node = match i % 50 {
            0 => format!(
                r#"    {{ "id": "n{i}", "type": "condition", "if": "{{{{nodes.n{}.output}}}} contains \"ok\"", "then": "{next}", "else": "end" }}"#,
                i - 1
            ),
            7 => format!(
                r#"    {{ "id": "n{i}", "type": "reflect", "target": "n{}", "max_iterations": 3, "next": "{next}" }}"#,
                i - 1
            ),
            k if k % 3 == 0 => format!(
                r#"    {{ "id": "n{i}", "type": "tool", "tool": "read_file", "args": {{ "path": "{{{{nodes.n{}.output}}}}" }}, "next": "{next}" }}"#,
                i - 1
            ),
            k if k % 3 == 1 => format!(
                r#"    {{ "id": "n{i}", "type": "rag", "query": "{{{{input}}}} step {i}", "k": 5, "next": "{next}" }}"#
            ),
            _ => format!(
                r#"    {{ "id": "n{i}", "type": "llm", "model": ["gpt-4o", "local"], "system": "You are step {i}.", "prompt": "Use {{{{nodes.n{}.output}}}} and {{{{input}}}}", "temperature": 0.2, "next": "{next}" }}"#,
                i - 1
            ),
        };
        nodes.push(node);
    }
    nodes.push(r#"    { "id": "end", "type": "exit", "output": "{{input}}" }"#.to_owned());
    format!(
        "{{\n  \"id\": \"large\",\n  \"nodes\": [\n{}\n  ]\n}}\n",
        nodes.join(",\n")
    )
}

#[divan::bench]
fn diagnostics_of_1000_nodes_after_a_one_character_edit(bencher: divan::Bencher) {
    diagnostics_after_an_edit(bencher, &StaticCatalog::builtin());
}

/// As above, with `read_file`'s argument schema known, as in a workspace: its 330 tool nodes'
/// `args` are checked against it.
#[divan::bench]
fn diagnostics_of_1000_nodes_with_tool_schemas_after_a_one_character_edit(bencher: divan::Bencher) {
    let mut catalog = StaticCatalog::builtin();
    for tool in &mut catalog.tools {
        if tool.name == "read_file" {
            tool.schema = Some(serde_json::json!({
                "type": "object",
                "properties": {
                    "path": { "type": "string", "minLength": 1 },
                    "max_bytes": { "type": "integer", "minimum": 1 }
                },
                "required": ["path"],
                "additionalProperties": false
            }));
        }
    }
    diagnostics_after_an_edit(bencher, &catalog);
}

fn diagnostics_after_an_edit(bencher: divan::Bencher, catalog: &StaticCatalog) {
    let text = large_flow(1000);
    let at = text
        .find("You are step 502")
        .expect("the flow has step 502")
        + 8;
    let edits = std::sync::atomic::AtomicUsize::new(0);
    bencher
        .with_inputs(|| {
            // Each run sees a text it has not analysed before, as after a keystroke.
            let n = edits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut edited = text.clone();
            edited.replace_range(at..at + 1, if n.is_multiple_of(2) { "X" } else { "Y" });
            edited
        })
        .bench_values(|edited| {
            let file = FlowFile::parse(&edited);
            file.findings(catalog)
        });
}

#[divan::bench]
fn completion_of_node_ids_in_a_1000_node_flow(bencher: divan::Bencher) {
    let catalog = StaticCatalog::builtin();
    let text = large_flow(1000);
    let offset = (text.find(r#""next": "n900""#).expect("the flow has n900") + 10) as u32;
    let file = FlowFile::parse(&text);
    bencher.bench(|| file.completions(divan::black_box(offset), &catalog));
}

#[divan::bench]
fn completion_inside_a_template_in_a_1000_node_flow(bencher: divan::Bencher) {
    let catalog = StaticCatalog::builtin();
    let text = large_flow(1000);
    let offset = (text.find("Use {{nodes.n901").expect("the flow has n902") + 12) as u32;
    let file = FlowFile::parse(&text);
    bencher.bench(|| file.completions(divan::black_box(offset), &catalog));
}

#[divan::bench]
fn parse_and_check_10000_nodes(bencher: divan::Bencher) {
    let catalog = StaticCatalog::builtin();
    let text = large_flow(10_000);
    bencher.bench(|| FlowFile::parse(divan::black_box(&text)).findings(&catalog));
}

/// A flow of `n` nodes whose every `next` names unknown ids: `unknown(i)` for node `i`.
fn unknown_ids_flow(
    n: usize,
    id: impl Fn(usize) -> String,
    unknown: impl Fn(usize) -> String,
) -> String {
    let mut nodes = vec![format!(
        r#"    {{ "id": "start", "type": "entry", "next": "{}" }}"#,
        id(1)
    )];
    for i in 1..n - 1 {
        nodes.push(format!(
            r#"    {{ "id": "{}", "type": "tool", "tool": "read_file", "args": {{ "path": "x" }}, "next": {} }}"#,
            id(i),
            unknown(i)
        ));
    }
    nodes.push(r#"    { "id": "end", "type": "exit" }"#.to_owned());
    format!(
        "{{\n  \"id\": \"unknown\",\n  \"nodes\": [\n{}\n  ]\n}}\n",
        nodes.join(",\n")
    )
}

/// Every edge names a typo of the next node's id and a name like no other: each gets a "did
/// you mean" search through the 10,000 ids.
#[divan::bench(sample_count = 10)]
fn check_10000_nodes_whose_edges_all_name_unknown_ids(bencher: divan::Bencher) {
    let catalog = StaticCatalog::builtin();
    let text = unknown_ids_flow(
        10_000,
        |i| format!("n{i}"),
        |i| format!(r#"["n{}x", "missing_step_{i}"]"#, i + 1),
    );
    bencher.bench(|| FlowFile::parse(divan::black_box(&text)).findings(&catalog));
}

/// The worst case: long ids, all alike, and unknown ones alike too, so that a typo could be up
/// to 7 edits away and only comparing with each id would tell.
#[divan::bench(sample_count = 10)]
fn check_10000_nodes_whose_edges_name_long_unknown_ids_like_all_others(bencher: divan::Bencher) {
    let catalog = StaticCatalog::builtin();
    let text = unknown_ids_flow(
        10_000,
        |i| format!("summarize_chapter_{i}"),
        |i| format!(r#""translate_section_{i}""#),
    );
    bencher.bench(|| FlowFile::parse(divan::black_box(&text)).findings(&catalog));
}
