//! `codexos eval commits FILE.jsonl --git-dir DIR [--mode M|all] [--embedder NAME]
//! [--predictions OUT] [--work-dir DIR] [--params k=v,…] [--limit N]`: the retrieval
//! benchmark of `shared/eval` (commit subject → files the commit changed).
//!
//! For each row the parent commit's tree is extracted (`git archive PARENT | tar -x`) into
//! one work tree, replacing the previous row's files, and indexed incrementally: files equal
//! to the previous parent's keep their chunks and vectors, which is what makes a neural
//! embedder affordable here. Only files ending with the row's `exts` are indexed, with
//! `.gitignore` and hidden-file rules off (the benchmark's candidates are every tracked file).
//! The row's `query` is searched with files collapsed; recall@1/5/10 and MRR are computed as
//! `baseline_bm25.py --score-predictions` does, and `--predictions` writes rankings it can score.
//!
//! `--upgrade minilm` measures the background upgrade: each parent is indexed with the fast
//! embedder, then its chunks without neural vectors are upgraded, and searches read the neural
//! space (as the language server does once an upgrade is complete). With `--work-dir`, vectors
//! are also remembered by the blake3 of their text (`embeddings-SPACE.bin`), so a second run
//! with other search parameters embeds nothing again.

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, anyhow, bail};
use codexos_embed::{Embedder, RememberingEmbedder};
use codexos_index::{
    FusionParams, IndexSettings, Indexer, OpenOptions, SearchMode, SearchRequest, UpgradeSummary,
};
use serde::Deserialize;

use super::embedders;

/// Files ranked per query: deep enough that MRR matches a full ranking in practice.
const RANKED_FILES: usize = 100;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    set: EvalSet,
}

#[derive(clap::Subcommand)]
enum EvalSet {
    /// Commit subjects as queries, the files each commit changed as answers.
    Commits(CommitsArgs),
}

#[derive(clap::Args)]
struct CommitsArgs {
    /// The benchmark rows (JSONL: sha, parent, query, ground_truth, exts).
    file: PathBuf,
    /// A git directory (a bare clone is enough) holding every row's parent commit.
    #[arg(long)]
    git_dir: PathBuf,
    /// bm25, vector, rrf, hybrid, hybrid-rerank, or all (each on the same index).
    #[arg(long, default_value = "all")]
    mode: String,
    /// The embedder to index with: static (default), minilm or builtin.
    #[arg(long)]
    embedder: Option<String>,
    /// Write `{sha, ranked}` lines here (with several modes, `OUT` gets `.MODE` before its extension).
    #[arg(long)]
    predictions: Option<PathBuf>,
    /// Keep the work tree and its index here (reused by the next run); default: a temporary folder.
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Search parameter overrides, `key=value,…` (see `FusionParams`), for experiments;
    /// repeat to compare several sets on the same indexes.
    #[arg(long)]
    params: Vec<String>,
    /// Only the first N rows.
    #[arg(long)]
    limit: Option<usize>,
    /// Upgrade the vectors to this embedder after indexing each parent (minilm), and search
    /// with the upgraded vectors.
    #[arg(long)]
    upgrade: Option<String>,
}

#[derive(Deserialize)]
struct Row {
    sha: String,
    parent: String,
    query: String,
    ground_truth: Vec<String>,
    exts: Vec<String>,
}

#[derive(Default, Clone)]
struct Scores {
    queries: usize,
    recall: [f64; 3],
    reciprocal_rank: f64,
}

const KS: [usize; 3] = [1, 5, 10];

impl Scores {
    fn add(&mut self, ranked: &[String], truth: &[String]) {
        let truth: HashSet<&str> = truth.iter().map(String::as_str).collect();
        for (slot, k) in KS.iter().enumerate() {
            let found = ranked
                .iter()
                .take(*k)
                .filter(|path| truth.contains(path.as_str()))
                .collect::<HashSet<_>>();
            self.recall[slot] += found.len() as f64 / truth.len().max(1) as f64;
        }
        if let Some(rank) = ranked.iter().position(|path| truth.contains(path.as_str())) {
            self.reciprocal_rank += 1.0 / (rank as f64 + 1.0);
        }
        self.queries += 1;
    }

    fn line(&self, name: &str) -> String {
        let n = self.queries.max(1) as f64;
        format!(
            "  {name:<14} n={:<3} R@1={:.3} R@5={:.3} R@10={:.3} MRR={:.3}",
            self.queries,
            self.recall[0] / n,
            self.recall[1] / n,
            self.recall[2] / n,
            self.reciprocal_rank / n
        )
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let EvalSet::Commits(args) = args.set;
    let modes: Vec<SearchMode> = if args.mode == "all" {
        SearchMode::ALL.to_vec()
    } else {
        vec![
            SearchMode::from_name(&args.mode)
                .ok_or_else(|| anyhow!("unknown --mode `{}`", args.mode))?,
        ]
    };
    let param_sets: Vec<(String, FusionParams)> = if args.params.is_empty() {
        vec![(String::new(), FusionParams::default())]
    } else {
        args.params
            .iter()
            .map(|overrides| {
                let params = FusionParams::default()
                    .with_overrides(overrides)
                    .map_err(|message| anyhow!("--params {overrides}: {message}"))?;
                Ok((overrides.clone(), params))
            })
            .collect::<anyhow::Result<_>>()?
    };
    let configs: Vec<(SearchMode, String, FusionParams)> = param_sets
        .iter()
        .flat_map(|(label, params)| {
            modes
                .iter()
                .map(move |mode| (*mode, label.clone(), params.clone()))
        })
        .collect();
    let rows = read_rows(&args.file)?;
    let rows = &rows[..args.limit.unwrap_or(rows.len()).min(rows.len())];
    let temporary;
    let work_dir = match &args.work_dir {
        Some(dir) => dir.clone(),
        None => {
            temporary = tempfile::tempdir().context("cannot create a temporary folder")?;
            temporary.path().to_path_buf()
        }
    };
    std::fs::create_dir_all(&work_dir)
        .with_context(|| format!("cannot create {}", work_dir.display()))?;
    let remember = |embedder: Arc<dyn Embedder>| -> anyhow::Result<Arc<dyn Embedder>> {
        if args.work_dir.is_none() {
            return Ok(embedder);
        }
        let file = work_dir.join(format!("embeddings-{}.bin", embedder.space().key()));
        Ok(Arc::new(
            RememberingEmbedder::open(embedder, &file).map_err(|error| anyhow!("{error}"))?,
        ))
    };
    let embedder = remember(embedders::choose(
        args.embedder.as_deref(),
        &codexos_embed::EmbedderConfig::default(),
    )?)?;
    let upgrade = args
        .upgrade
        .as_deref()
        .map(|name| {
            embedders::choose(Some(name), &codexos_embed::EmbedderConfig::default())
                .and_then(remember)
        })
        .transpose()?;
    let tree = work_dir.join(format!(
        "tree-{}{}",
        embedder.space().key(),
        upgrade.as_ref().map_or(String::new(), |upgrade| format!(
            "-up-{}",
            upgrade.space().key()
        ))
    ));
    std::fs::create_dir_all(&tree).with_context(|| format!("cannot create {}", tree.display()))?;

    let mut scores = vec![Scores::default(); configs.len()];
    let mut outputs = open_predictions(args.predictions.as_deref(), &configs)?;
    let mut indexer: Option<(Vec<String>, Indexer)> = None;
    let mut upgrade_total = UpgradeSummary::default();
    let started = std::time::Instant::now();
    for (number, row) in rows.iter().enumerate() {
        extract(&args.git_dir, &row.parent, &tree)?;
        if indexer.as_ref().is_none_or(|(exts, _)| *exts != row.exts) {
            // The old indexer holds the work tree's writer lock: let go of it first.
            drop(indexer.take());
            let settings = IndexSettings {
                extensions: Some(row.exts.clone()),
                use_ignore_files: false,
                ..IndexSettings::default()
            };
            let mut opened = Indexer::open(
                &tree,
                Arc::clone(&embedder) as Arc<dyn Embedder>,
                settings,
                &OpenOptions::default(),
            )?;
            if let Some(upgrade) = &upgrade {
                opened = opened.with_upgrade(Arc::clone(upgrade))?;
            }
            indexer = Some((row.exts.clone(), opened));
        }
        let Some((_, indexer)) = indexer.as_ref() else {
            bail!("indexer not open")
        };
        let summary = indexer.index_all(&mut |_| {}, &AtomicBool::new(false))?;
        let upgraded = indexer.upgrade_vectors(&mut |_| {}, &|| false, &AtomicBool::new(false))?;
        if upgrade.is_some() && !upgraded.complete {
            bail!(
                "the upgrade of {} did not cover every chunk",
                tree.display()
            );
        }
        upgrade_total.chunks_embedded += upgraded.chunks_embedded;
        upgrade_total.working += upgraded.working;
        eprintln!(
            "[{}/{}] {} at {}: {} files ({} re-indexed, {} chunks upgraded)",
            number + 1,
            rows.len(),
            short(&row.sha),
            short(&row.parent),
            summary.files_seen,
            summary.files_indexed,
            upgraded.chunks_embedded
        );
        for (slot, (mode, _, params)) in configs.iter().enumerate() {
            let searcher = indexer.searcher().with_params(params.clone());
            let request = SearchRequest {
                query: row.query.clone(),
                k: RANKED_FILES,
                mode: *mode,
                collapse_files: true,
                path_glob: None,
                language: None,
            };
            let ranked: Vec<String> = searcher
                .search(&request)?
                .into_iter()
                .map(|hit| hit.path)
                .collect();
            scores[slot].add(&ranked, &row.ground_truth);
            if let Some(out) = outputs.get_mut(slot) {
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({ "sha": row.sha, "ranked": ranked })
                )?;
            }
        }
    }
    let repo = args
        .file
        .file_stem()
        .and_then(|stem| stem.to_str())
        .unwrap_or("eval");
    let space = match &indexer {
        Some((_, indexer)) => indexer.searcher().vector_space()?,
        None => None,
    };
    println!(
        "{repo}: {} queries, embedder {}, searched vectors {}, {:.1}s",
        rows.len(),
        embedder.space().key(),
        space.as_deref().unwrap_or("none"),
        started.elapsed().as_secs_f64()
    );
    if upgrade.is_some() {
        println!(
            "  upgrade: {} chunks embedded in {:.1}s of work ({:.1} chunks/s; remembered vectors are not counted)",
            upgrade_total.chunks_embedded,
            upgrade_total.working.as_secs_f64(),
            upgrade_total.chunks_per_second()
        );
    }
    for (slot, (mode, label, _)) in configs.iter().enumerate() {
        println!("{} {label}", scores[slot].line(mode.name()));
    }
    Ok(ExitCode::SUCCESS)
}

fn read_rows(path: &Path) -> anyhow::Result<Vec<Row>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut rows = Vec::new();
    for (number, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        rows.push(
            serde_json::from_str(&line).with_context(|| {
                format!("{}:{}: not a benchmark row", path.display(), number + 1)
            })?,
        );
    }
    Ok(rows)
}

fn open_predictions(
    path: Option<&Path>,
    configs: &[(SearchMode, String, FusionParams)],
) -> anyhow::Result<Vec<std::io::BufWriter<std::fs::File>>> {
    let Some(path) = path else {
        return Ok(Vec::new());
    };
    configs
        .iter()
        .enumerate()
        .map(|(number, (mode, _, _))| {
            let target = if configs.len() == 1 {
                path.to_path_buf()
            } else {
                let stem = path
                    .file_stem()
                    .and_then(|stem| stem.to_str())
                    .unwrap_or("predictions");
                let extension = path
                    .extension()
                    .and_then(|extension| extension.to_str())
                    .unwrap_or("jsonl");
                let suffix = if number < SearchMode::ALL.len() {
                    mode.name().to_owned()
                } else {
                    format!("{}.{number}", mode.name())
                };
                path.with_file_name(format!("{stem}.{suffix}.{extension}"))
            };
            let file = std::fs::File::create(&target)
                .with_context(|| format!("cannot create {}", target.display()))?;
            Ok(std::io::BufWriter::new(file))
        })
        .collect()
}

/// Replaces the work tree's files (all but `.codexos/`) with `parent`'s tree.
fn extract(git_dir: &Path, parent: &str, tree: &Path) -> anyhow::Result<()> {
    for entry in
        std::fs::read_dir(tree).with_context(|| format!("cannot list {}", tree.display()))?
    {
        let entry = entry?;
        if entry.file_name() == ".codexos" {
            continue;
        }
        let path = entry.path();
        let removed = if entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.with_context(|| format!("cannot remove {}", path.display()))?;
    }
    let mut archive = Command::new("git")
        .arg("--git-dir")
        .arg(git_dir)
        .args(["archive", parent])
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot run git")?;
    let stdout = archive
        .stdout
        .take()
        .ok_or_else(|| anyhow!("git archive has no stdout"))?;
    let untar = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(tree)
        .stdin(stdout)
        .status()
        .context("cannot run tar")?;
    let archived = archive.wait()?;
    if !archived.success() || !untar.success() {
        bail!(
            "cannot extract {parent} from {}: git archive {archived}, tar {untar}",
            git_dir.display()
        );
    }
    Ok(())
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(8)]
}
