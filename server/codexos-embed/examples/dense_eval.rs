//! Dense-only retrieval on the commit benchmark in `../shared/eval` (what the README's table
//! calls "dense only"): 40-line windows (stride 30) prefixed with their path, file score = best
//! window cosine. Writes predictions for the benchmark's own scorer:
//!
//!     cargo run -p codexos-embed --example dense_eval -- DATA.jsonl GIT_DIR EMBEDDER PREDICTIONS.jsonl
//!     python3 ../shared/eval/baseline_bm25.py --git-dir GIT_DIR --data DATA.jsonl --score-predictions PREDICTIONS.jsonl
//!
//! EMBEDDER is `builtin`, `static` or `minilm` (models from the default models directory).
//! Windows are embedded once per distinct text, so MiniLM's cost is the distinct windows of all
//! parents, not of every row.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::Instant;

use codexos_embed::{Embedder, EmbedderConfig, EmbedderKind, cosine, select_embedder};
use serde::Deserialize;

#[derive(Deserialize)]
struct Row {
    sha: String,
    parent: String,
    query: String,
    exts: Vec<String>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let [data, git_dir, embedder, out] = arguments.as_slice() else {
        return Err(
            "usage: dense_eval DATA.jsonl GIT_DIR builtin|static|minilm PREDICTIONS.jsonl".into(),
        );
    };
    let config = EmbedderConfig {
        embedder: embedder.parse::<EmbedderKind>()?,
        http: None,
    };
    let selected = select_embedder(None, &config)?;
    if let Some(notice) = &selected.notice {
        return Err(notice.clone().into());
    }
    let embedder = selected.embedder;
    let rows: Vec<Row> = std::fs::read_to_string(data)?
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;

    let mut git = Blobs::open(git_dir)?;
    let mut vectors: HashMap<String, Vec<f32>> = HashMap::new();
    let mut output = std::fs::File::create(out)?;
    let started = Instant::now();
    let mut embedded_windows = 0usize;
    for row in &rows {
        let files = git.tree(&row.parent, &row.exts)?;
        let mut windows_of_files = Vec::new();
        for (path, blob) in &files {
            let text = git.blob(blob)?;
            windows_of_files.push((path.clone(), windows(path, &text)));
        }
        let missing: Vec<&str> = windows_of_files
            .iter()
            .flat_map(|(_, windows)| windows.iter())
            .filter(|window| !vectors.contains_key(*window))
            .map(String::as_str)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        embedded_windows += missing.len();
        for (window, vector) in missing.iter().zip(embedder.embed(&missing)?) {
            vectors.insert(window.to_string(), vector);
        }
        let query = embedder.embed_query(&row.query)?;
        let mut scored: Vec<(f32, &str)> = windows_of_files
            .iter()
            .map(|(path, windows)| {
                let best = windows
                    .iter()
                    .map(|window| cosine(&query, &vectors[window]))
                    .fold(f32::MIN, f32::max);
                (best, path.as_str())
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
        let ranked: Vec<&str> = scored.into_iter().map(|(_, path)| path).collect();
        writeln!(
            output,
            "{}",
            serde_json::json!({"sha": row.sha, "ranked": ranked})
        )?;
    }
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "{}: {} queries, {embedded_windows} distinct windows embedded, {seconds:.1} s",
        embedder.space(),
        rows.len()
    );
    Ok(())
}

/// 40-line windows every 30 lines, each starting with its file's path.
fn windows(path: &str, text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut windows = Vec::new();
    let mut start = 0;
    loop {
        let end = (start + 40).min(lines.len());
        windows.push(format!("{path}\n{}", lines[start..end].join("\n")));
        if end == lines.len() {
            return windows;
        }
        start += 30;
    }
}

struct Blobs {
    git_dir: String,
    input: std::process::ChildStdin,
    output: BufReader<std::process::ChildStdout>,
}

impl Blobs {
    fn open(git_dir: &str) -> std::io::Result<Self> {
        let mut child = Command::new("git")
            .args(["--git-dir", git_dir, "cat-file", "--batch"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let input = child
            .stdin
            .take()
            .ok_or_else(|| std::io::Error::other("no stdin"))?;
        let output = BufReader::new(
            child
                .stdout
                .take()
                .ok_or_else(|| std::io::Error::other("no stdout"))?,
        );
        Ok(Self {
            git_dir: git_dir.to_string(),
            input,
            output,
        })
    }

    fn tree(&self, commit: &str, exts: &[String]) -> std::io::Result<Vec<(String, String)>> {
        let listing = Command::new("git")
            .args(["--git-dir", &self.git_dir, "ls-tree", "-r", "-z", commit])
            .output()?;
        let text = String::from_utf8_lossy(&listing.stdout);
        Ok(text
            .split('\0')
            .filter_map(|entry| {
                let (meta, path) = entry.split_once('\t')?;
                let mut fields = meta.split_whitespace();
                let (_mode, kind, oid) = (fields.next()?, fields.next()?, fields.next()?);
                (kind == "blob" && exts.iter().any(|ext| path.ends_with(ext.as_str())))
                    .then(|| (path.to_string(), oid.to_string()))
            })
            .collect())
    }

    fn blob(&mut self, oid: &str) -> std::io::Result<String> {
        writeln!(self.input, "{oid}")?;
        self.input.flush()?;
        let mut header = String::new();
        self.output.read_line(&mut header)?;
        let size: usize = header
            .split_whitespace()
            .nth(2)
            .and_then(|size| size.parse().ok())
            .unwrap_or(0);
        let mut bytes = vec![0; size + 1];
        self.output.read_exact(&mut bytes)?;
        bytes.pop();
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}
