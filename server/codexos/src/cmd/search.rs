//! `codexos search [--root DIR] [-k N] [--files] [--json] [--mode M] [--glob G] [--language L]
//! [--commit REV] QUERY`: hybrid search of an indexed workspace, through the same front door as
//! the editor (`codexos_service::index`). `--json` prints one hit a line:
//! `{path, start_line, end_line, score, symbol, text}` (`symbol` only when the chunk has one).
//! With `[index.shared]`, the team's base answers for the files unchanged since its commit (a
//! fresh clone indexes only the files it changed); when the base cannot answer, a notice on
//! stderr says why and the local index answers alone.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, anyhow};
use codexos_service::index::{SearchMode, SearchQuery, WorkspaceIndex};

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
    /// Only what changed since this commit (a sha, branch, tag or `HEAD~3`): chunks of files
    /// git lists as changed since it (or untracked), taken by the index after it.
    #[arg(long, value_name = "REV")]
    commit: Option<String>,
    /// What to look for.
    query: String,
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
    let query = SearchQuery {
        k: args.k,
        mode,
        files: args.files,
        paths: args.glob,
        language: args.language,
        commit: args.commit,
        ..SearchQuery::new(args.query)
    };
    let index = WorkspaceIndex::open_for_search(&root)?;
    let hits = index.search(&query)?;
    if let Some(notice) = index.shared_notice() {
        eprintln!("notice: {notice}");
    }
    let mut out = std::io::stdout().lock();
    for hit in &hits {
        if args.json {
            writeln!(out, "{}", serde_json::to_string(hit)?)?;
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
