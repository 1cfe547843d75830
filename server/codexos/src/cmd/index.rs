//! `codexos index [PATH] [--status] [--embedder NAME] [--wait SECONDS]`: index a workspace
//! (incrementally: unchanged files are skipped by content hash) with a progress bar and a
//! summary, or print the index's state.
//!
//! Skipped files (too large, binary, invalid UTF-8, vanished) are logged to stderr; set
//! `CODEXOS_LOG` (an `EnvFilter`, default `info` for the index) to change what is shown.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{Context, bail};
use codexos_index::{IndexSettings, Indexer, OpenOptions, Store};
use indicatif::{ProgressBar, ProgressStyle};

use super::embedders;

#[derive(clap::Args)]
pub struct Args {
    /// The workspace folder (default: the current folder).
    path: Option<PathBuf>,
    /// Print the index's state (files, chunks, vectors, size, embedder) instead of indexing.
    #[arg(long)]
    status: bool,
    /// The embedder: static (default), minilm or builtin; default from `[index] embedder`.
    #[arg(long)]
    embedder: Option<String>,
    /// Wait up to this many seconds when another process is writing the index.
    #[arg(long, default_value_t = 0)]
    wait: u64,
    /// Then upgrade the vectors to the neural model (`[index] upgrade`, default minilm):
    /// searches use them once every chunk has one. Resumes an interrupted upgrade.
    #[arg(long)]
    upgrade: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let root = match args.path {
        Some(path) => path,
        None => std::env::current_dir().context("cannot read the current folder")?,
    };
    if args.status {
        return status(&root);
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    init_logging(bar.clone());
    let settings = IndexSettings::load(&root)?;
    let embedder = embedders::choose(args.embedder.as_deref(), &settings.embedder)?;
    let options = OpenOptions {
        wait_for_lock: Duration::from_secs(args.wait),
    };
    let upgrade = match (args.upgrade, settings.upgrade) {
        (false, _) => None,
        (true, None) => bail!("--upgrade: codexos.toml says [index] upgrade = \"none\""),
        (true, Some(kind)) => Some(embedders::choose(Some(kind.name()), &settings.embedder)?),
    };
    let indexer = Indexer::open(&root, embedder, settings, &options)?;
    let cancel = AtomicBool::new(false);
    let summary = indexer.index_all(
        &mut |progress| {
            if progress.searchable {
                bar.set_length(progress.chunks_to_embed as u64);
                bar.set_position(progress.chunks_embedded as u64);
                bar.set_message("chunks embedded (BM25 already searches every file)");
            } else {
                bar.set_length(progress.files_total as u64);
                bar.set_position(progress.files_done as u64);
                bar.set_message(format!("files, {} chunks", progress.chunks_written));
            }
        },
        &cancel,
    )?;
    bar.finish_and_clear();
    let seconds = summary.elapsed.as_secs_f64().max(1e-9);
    let megabytes = summary.bytes_indexed as f64 / 1e6;
    println!(
        "indexed {} files ({} unchanged, {} skipped, {} removed): {} chunks, {:.1} MB in {:.2} s, searchable by BM25 after {:.2} s ({:.0} chunks/s, {:.0} files/s, {:.2} MB/s)",
        summary.files_indexed,
        summary.files_unchanged,
        summary.files_skipped,
        summary.files_removed,
        summary.chunks_written,
        megabytes,
        seconds,
        summary.searchable_after.as_secs_f64(),
        summary.chunks_written as f64 / seconds,
        summary.files_indexed as f64 / seconds,
        megabytes / seconds,
    );
    if let Some(upgrade) = upgrade {
        upgrade_vectors(&indexer, upgrade, &cancel)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn upgrade_vectors(
    indexer: &Indexer,
    upgrade: std::sync::Arc<dyn codexos_embed::Embedder>,
    cancel: &AtomicBool,
) -> anyhow::Result<()> {
    let model = upgrade.space().to_string();
    indexer.set_upgrade(Some(upgrade))?;
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} chunks upgraded {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let summary = indexer.upgrade_vectors(
        &mut |progress| {
            bar.set_length(progress.embedded as u64 + progress.remaining);
            bar.set_position(progress.embedded as u64);
        },
        &|| false,
        cancel,
    )?;
    bar.finish_and_clear();
    println!(
        "upgraded {} chunks to {model} in {:.2} s ({:.1} chunks/s){}",
        summary.chunks_embedded,
        summary.working.as_secs_f64(),
        summary.chunks_per_second(),
        if summary.complete {
            "; searches use these vectors"
        } else {
            ""
        }
    );
    Ok(())
}

fn status(root: &std::path::Path) -> anyhow::Result<ExitCode> {
    let store = Store::open_read_only(root)?;
    let stats = store.stats()?;
    let consistency = store.check_consistency()?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "index:      {}", store.dir().display())?;
    writeln!(
        out,
        "embedder:   {}",
        stats
            .space
            .as_ref()
            .map_or("none", |space| space.id.as_str())
    )?;
    if let Some(coverage) = store.upgrade_coverage()? {
        writeln!(
            out,
            "upgrade:    {}: {}/{} chunks{}",
            coverage.space.id,
            coverage.upgraded,
            coverage.chunks,
            if coverage.is_complete() {
                " (searches use these vectors)"
            } else {
                " (searches use the embedder's until complete; `codexos index --upgrade`)"
            }
        )?;
    }
    writeln!(out, "files:      {}", stats.files)?;
    writeln!(out, "chunks:     {}", stats.chunks)?;
    writeln!(out, "vectors:    {}", stats.vectors)?;
    writeln!(
        out,
        "waiting:    {} chunks without a vector (BM25 finds them; `codexos index` embeds them)",
        store.unembedded_count()?
    )?;
    writeln!(
        out,
        "codes:      {}",
        if store.vectors_need_build()? {
            "centred on an older mean (`codexos index` re-centres them)"
        } else {
            "current"
        }
    )?;
    writeln!(
        out,
        "generation: {} (full text at {})",
        stats.generation,
        stats
            .full_text_generation
            .map_or("none".into(), |g| g.to_string())
    )?;
    writeln!(out, "size:       {:.1} MB", stats.disk_bytes as f64 / 1e6)?;
    writeln!(
        out,
        "consistent: {}",
        if consistency.is_consistent() {
            "yes".to_owned()
        } else {
            format!("no: {consistency:?}")
        }
    )?;
    Ok(if consistency.is_consistent() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Log lines go above the progress bar instead of through it.
fn init_logging(bar: ProgressBar) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CODEXOS_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("warn,codexos_index=info,codexos_store=info")
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(move || AboveBar(bar.clone()))
        .try_init();
}

struct AboveBar(ProgressBar);

impl Write for AboveBar {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.suspend(|| std::io::stderr().write_all(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
