//! `codexos index [PATH] [--status] [--embedder NAME] [--wait SECONDS] [--publish URL]`: index
//! a workspace (incrementally: unchanged files are skipped by content hash) with a progress bar
//! and a summary, or print the index's state; `--publish chroma://HOST:PORT/COLLECTION` then
//! makes it the team's shared base (`codexos_service::index`'s `shared.rs`).
//!
//! Skipped files (too large, binary, invalid UTF-8, vanished) are counted by reason on one log
//! line on stderr, each file at debug level; set `CODEXOS_LOG` (an `EnvFilter`, default `info`
//! for the index; `codexos_index=debug` lists the files) to change what is shown.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use codexos_service::index::{
    IndexMode, IndexStatus, SharedUrl, Stage, UpgradeRun, WorkspaceIndex, WriteOptions, embedders,
};
use indicatif::{ProgressBar, ProgressStyle};

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
    /// Then publish the index as the team's shared base (CI on the main branch, from a clean
    /// checkout): only chunks the base lacks are sent, gone ones deleted, the commit recorded.
    #[arg(long, value_name = "chroma://HOST:PORT/COLLECTION")]
    publish: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let root = match args.path {
        Some(path) => path,
        None => std::env::current_dir().context("cannot read the current folder")?,
    };
    if args.status {
        return status(&WorkspaceIndex::open(&root, IndexMode::ReadOnly)?.status()?);
    }
    // A URL that cannot be published to is said before the index is built, not after.
    if let Some(url) = &args.publish {
        url.parse::<SharedUrl>()?;
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    init_logging(bar.clone());
    let embedder = args
        .embedder
        .as_deref()
        .map(embedders::embedder_kind)
        .transpose()
        .map_err(|error| anyhow!(error))?;
    let index = WorkspaceIndex::open(
        &root,
        IndexMode::Write(WriteOptions {
            embedder,
            wait_for_lock: Duration::from_secs(args.wait),
        }),
    )?;
    if let Some(notice) = index.notice() {
        bar.suspend(|| eprintln!("notice: {notice}"));
    }
    let mut progress = |progress: codexos_service::index::Progress| {
        let (done, total) = progress.done_of_total();
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        match progress.stage() {
            Stage::Reading => bar.set_message("files read"),
            Stage::Chunking => bar.set_message(format!(
                "files chunked, {} chunks (BM25 already searches every file)",
                progress.chunks_written
            )),
            Stage::Embedding => {
                bar.set_message("chunks embedded (BM25 already searches every file)")
            }
        }
    };
    // A publish sends the whole tree; otherwise a shared base leaves only its overlay to index.
    let summary = if args.publish.is_some() {
        index.index_everything(&mut progress)?
    } else {
        index.index_all(&mut progress)?
    };
    bar.finish_and_clear();
    if let Some(notice) = index.shared_notice() {
        eprintln!("notice: {notice}");
    }
    let seconds = summary.elapsed.as_secs_f64().max(1e-9);
    let megabytes = summary.bytes_indexed as f64 / 1e6;
    println!(
        "indexed {} files ({} unchanged, {} skipped, {} removed): {} chunks ({} vectors reused), {:.1} MB in {:.2} s, searchable by BM25 after {:.2} s, chunked after {:.2} s ({:.0} chunks/s, {:.0} files/s, {:.2} MB/s)",
        summary.files_indexed,
        summary.files_unchanged,
        summary.files_skipped,
        summary.files_removed,
        summary.chunks_written,
        summary.chunks_reused,
        megabytes,
        seconds,
        summary.searchable_after.as_secs_f64(),
        summary.chunked_after.as_secs_f64(),
        summary.chunks_written as f64 / seconds,
        summary.files_indexed as f64 / seconds,
        megabytes / seconds,
    );
    if args.upgrade {
        upgrade_vectors(&index)?;
    }
    if let Some(url) = &args.publish {
        let published = index.publish(url)?;
        println!(
            "published {} new, removed {}, kept {} chunks, {} BM25 term frequencies and {} files' terms to {} at {} ({:.1} KB sent in {:.2} s)",
            published.new,
            published.removed,
            published.kept,
            published.terms_sent,
            published.files_sent,
            published.collection,
            &published.commit[..published.commit.len().min(12)],
            published.bytes_sent as f64 / 1e3,
            published.elapsed.as_secs_f64(),
        );
        if let Some((collection, sent)) = &published.upgrade {
            println!(
                "published the upgrade vectors beside them: {} new, removed {}, kept {} chunks to {collection}",
                sent.new, sent.removed, sent.kept
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn upgrade_vectors(index: &WorkspaceIndex) -> anyhow::Result<()> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} chunks upgraded {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let run = index.upgrade_vectors(&mut |progress| {
        bar.set_length(progress.embedded as u64 + progress.remaining);
        bar.set_position(progress.embedded as u64);
    })?;
    bar.finish_and_clear();
    let summary = match run {
        UpgradeRun::Done(summary) => summary,
        UpgradeRun::Unavailable(reason) => bail!("--upgrade: {reason}"),
    };
    let model = index.upgrade_model().unwrap_or_default();
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

fn status(status: &IndexStatus) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "index:      {}", status.dir.display())?;
    writeln!(
        out,
        "embedder:   {}",
        status.embedder.as_deref().unwrap_or("none")
    )?;
    if let Some(upgrade) = &status.upgrade {
        writeln!(
            out,
            "upgrade:    {}: {}/{} chunks{}",
            upgrade.space,
            upgrade.upgraded,
            upgrade.chunks,
            if upgrade.complete {
                " (searches use these vectors)"
            } else {
                " (searches use the embedder's until complete; `codexos index --upgrade`)"
            }
        )?;
    }
    match &status.shared {
        Some(Ok(base)) => writeln!(
            out,
            "shared:     {} at {}, read in {} ({}); the local index answers for {} files",
            base.url,
            &base.commit[..base.commit.len().min(12)],
            base.space,
            base.collection,
            base.overlay_files
        )?,
        Some(Err(reason)) => writeln!(
            out,
            "shared:     unavailable, searches answer locally: {reason}"
        )?,
        None => {}
    }
    writeln!(out, "files:      {}", status.files)?;
    writeln!(out, "chunks:     {}", status.chunks)?;
    writeln!(out, "vectors:    {}", status.vectors)?;
    writeln!(
        out,
        "waiting:    {} chunks without a vector (BM25 finds them; `codexos index` embeds them)",
        status.waiting_for_vectors
    )?;
    if status.waiting_for_chunks > 0 {
        writeln!(
            out,
            "            {} files without chunks (BM25 finds them by their words; `codexos index` chunks them)",
            status.waiting_for_chunks
        )?;
    }
    writeln!(
        out,
        "codes:      {}",
        if status.codes_current {
            "current"
        } else {
            "centred on an older mean (`codexos index` re-centres them)"
        }
    )?;
    writeln!(
        out,
        "generation: {} (full text at {})",
        status.generation,
        status
            .full_text_generation
            .map_or("none".into(), |g| g.to_string())
    )?;
    writeln!(out, "size:       {:.1} MB", status.disk_bytes as f64 / 1e6)?;
    writeln!(
        out,
        "consistent: {}",
        match &status.inconsistency {
            None => "yes".to_owned(),
            Some(problem) => format!("no: {problem}"),
        }
    )?;
    Ok(match status.inconsistency {
        None => ExitCode::SUCCESS,
        Some(_) => ExitCode::FAILURE,
    })
}

/// Log lines go above the progress bar instead of through it.
fn init_logging(bar: ProgressBar) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CODEXOS_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(
            "warn,codexos_service=info,codexos_index=info,codexos_store=info",
        )
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
