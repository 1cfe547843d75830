//! `codexos search [--root DIR] [-k N] [--files] [--json] [--mode M] [--glob G] [--language L] QUERY`:
//! hybrid search of an indexed workspace. `--json` prints one JSON object a line:
//! `{path, start_line, end_line, score, symbol}`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, anyhow};
use codexos_index::{SearchMode, SearchRequest, Searcher, Store};
use serde::Serialize;

use super::embedders;

#[derive(clap::Args)]
pub struct Args {
    /// The indexed workspace (default: the current folder).
    #[arg(long)]
    root: Option<PathBuf>,
    /// How many results.
    #[arg(short, default_value_t = 10)]
    k: usize,
    /// One result per file.
    #[arg(long)]
    files: bool,
    /// JSON lines instead of text.
    #[arg(long)]
    json: bool,
    /// bm25, vector, rrf, hybrid (default) or hybrid-rerank.
    #[arg(long, default_value = "hybrid")]
    mode: String,
    /// Only paths matching this glob.
    #[arg(long)]
    glob: Option<String>,
    /// Only this language (rust, python, markdown, …).
    #[arg(long)]
    language: Option<String>,
    /// What to look for.
    query: String,
}

#[derive(Serialize)]
struct JsonHit<'a> {
    path: &'a str,
    start_line: u32,
    end_line: u32,
    score: f32,
    symbol: &'a str,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let root = match args.root {
        Some(root) => root,
        None => std::env::current_dir().context("cannot read the current folder")?,
    };
    let mode = SearchMode::from_name(&args.mode).ok_or_else(|| {
        anyhow!(
            "unknown --mode `{}`: bm25, vector, rrf, hybrid or hybrid-rerank",
            args.mode
        )
    })?;
    let store = Store::open_read_only(&root)?;
    let space = store.space()?.ok_or_else(|| {
        anyhow!(
            "the index of {} is empty; run `codexos index`",
            root.display()
        )
    })?;
    let settings = codexos_index::IndexSettings::load(&root)?;
    let embedder = embedders::for_space(&space.id, &settings.embedder)?;
    // The neural vectors, once `codexos index --upgrade` (or the editor) completed them.
    let upgrade = match store.upgrade_coverage()? {
        Some(coverage) if coverage.is_complete() => {
            embedders::for_space(&coverage.space.id, &settings.embedder).ok()
        }
        _ => None,
    };
    let request = SearchRequest {
        query: args.query,
        k: args.k,
        mode,
        collapse_files: args.files,
        path_glob: args.glob,
        language: args.language,
    };
    let hits = Searcher::new(&store, embedder.as_ref())
        .with_upgrade(upgrade)
        .search(&request)?;
    let mut out = std::io::stdout().lock();
    for hit in &hits {
        if args.json {
            let line = JsonHit {
                path: &hit.path,
                start_line: hit.start_line,
                end_line: hit.end_line,
                score: hit.score,
                symbol: &hit.symbol,
            };
            writeln!(out, "{}", serde_json::to_string(&line)?)?;
        } else {
            writeln!(
                out,
                "{:.3}  {}:{}-{}  {}",
                hit.score, hit.path, hit.start_line, hit.end_line, hit.symbol
            )?;
        }
    }
    Ok(if hits.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
