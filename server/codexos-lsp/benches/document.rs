//! What the server itself adds to the flow analysis on each keystroke, measured without the
//! debounce: apply an incremental edit to the rope, build the snapshot (text + parse + line
//! index), run the checks and convert every finding to an LSP diagnostic; and a completion
//! request converted to LSP items.
//!
//! `cargo bench -p codexos-lsp` (measured here, 2 cores at load 1.4: diagnostics of a 1,000-node
//! flow (~1,800 findings) after an edit, median 3.8 ms / slowest 5.1 ms; completion 0.5 ms)

use codexos_flow::Encoding;
use codexos_lsp::convert;
use codexos_lsp::session::Document;
use codexos_service::Workspace;
use tower_lsp_server::ls_types::{Position, Range, TextDocumentContentChangeEvent, Uri};

fn main() {
    divan::main();
}

/// A chain of `count` llm nodes with templates and multi-byte text, plus a typo every 100
/// nodes so there are findings to convert.
fn flow(count: usize) -> String {
    let mut nodes = vec![r#"    { "id": "start", "type": "entry", "next": "n0" }"#.to_owned()];
    for index in 0..count {
        let next = match index {
            last if last + 1 == count => "end".to_owned(),
            typo if typo % 100 == 99 => format!("m{}", index + 1),
            _ => format!("n{}", index + 1),
        };
        nodes.push(format!(
            r#"    {{ "id": "n{index}", "type": "llm", "model": "gpt-4o", "description": "étape {index} 😀", "prompt": "{{{{input}}}} {{{{nodes.start.output}}}}", "next": "{next}" }}"#
        ));
    }
    nodes.push(r#"    { "id": "end", "type": "exit" }"#.to_owned());
    format!(
        "{{\n  \"id\": \"bench\",\n  \"nodes\": [\n{}\n  ]\n}}\n",
        nodes.join(",\n")
    )
}

fn uri() -> Uri {
    "file:///bench/large.flow.json"
        .parse()
        .expect("a valid URI")
}

/// Typing one character inside the description of node 500.
fn one_character_edit(text: &str) -> TextDocumentContentChangeEvent {
    let line = text
        .lines()
        .position(|line| line.contains(r#""id": "n500""#))
        .unwrap_or(0) as u32;
    let at = Position::new(line, 60);
    TextDocumentContentChangeEvent {
        range: Some(Range::new(at, at)),
        range_length: None,
        text: "x".to_owned(),
    }
}

#[divan::bench(args = [1_000])]
fn diagnostics_after_a_one_character_edit(bencher: divan::Bencher, nodes: usize) {
    let text = flow(nodes);
    let workspace = Workspace::with_config(std::path::Path::new("/bench"), Default::default());
    let change = one_character_edit(&text);
    let uri = uri();
    bencher
        .with_inputs(|| Document::new(&uri, &text, 1))
        .bench_local_values(|mut document| {
            document.apply_changes(vec![change.clone()], 2, Encoding::Utf16);
            let source = document
                .snapshot_or_source()
                .err()
                .expect("the edit dropped the snapshot");
            let snapshot = source.build(uri.clone(), Encoding::Utf16);
            let findings = workspace.findings(snapshot.path.as_deref(), &snapshot.flow);
            let positions = snapshot.positions();
            findings
                .iter()
                .map(|finding| convert::diagnostic(finding, &snapshot.uri, positions))
                .collect::<Vec<_>>()
        });
}

#[divan::bench(args = [1_000])]
fn completion_of_node_ids_in_a_next(bencher: divan::Bencher, nodes: usize) {
    let text = flow(nodes);
    let workspace = Workspace::with_config(std::path::Path::new("/bench"), Default::default());
    let uri = uri();
    let document = Document::new(&uri, &text, 1);
    let source = document
        .snapshot_or_source()
        .err()
        .expect("a fresh document");
    let snapshot = source.build(uri, Encoding::Utf16);
    let offset = text.find(r#""next": "n501""#).map_or(0, |at| at + 10) as u32;
    let catalog = workspace.catalog_for(None);
    bencher.bench_local(|| {
        let positions = snapshot.positions();
        snapshot
            .flow
            .completions(offset, &catalog)
            .iter()
            .map(|completion| convert::completion_item(completion, positions, true))
            .collect::<Vec<_>>()
    });
}
