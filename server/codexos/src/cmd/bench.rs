//! `codexos bench [--corpus DIR]... [--embedder NAME] [--work-dir DIR] [--queries N]`: the
//! index's speed and memory on a corpus every machine has — the Rust sources under
//! `~/.cargo/registry/src` and Python's standard library by default:
//!
//! - cold index throughput (files/s, MB/s, chunks/s) and peak RSS (`VmHWM`) while indexing,
//!   with the peak of its heap part (`RssAnon`, sampled) beside the mapped index pages;
//! - index size on disk;
//! - incremental re-index of one edited file (an unsaved-buffer edit, so the corpus is never
//!   written);
//! - query latency p50/p99, hybrid top-10 and BM25 top-10;
//! - the approximate vector search's recall@10 against an exact scan, and the scan's latency;
//! - `rg` (ripgrep) on the same queries, the lexical reference.
//!
//! The corpus folders are hard-linked (copied where they cannot be) into the work folder,
//! which holds the index.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use codexos_index::{IndexSettings, Indexer, OpenOptions, SearchMode, SearchRequest, Searcher};

use super::bench_shared as shared;
use super::embedders;

/// Queries a developer types into code search, phrases and identifiers alike.
pub(super) const QUERIES: &[&str] = &[
    "parse command line arguments",
    "read a file into a string",
    "spawn a thread pool",
    "HashMap insert or update entry",
    "serialize struct to json",
    "compile regular expression",
    "connect tcp socket with timeout",
    "invalid utf-8 sequence error",
    "sort vector by key",
    "walk directory recursively",
    "base64 encode",
    "sha256 digest of bytes",
    "parse http header",
    "retry with exponential backoff",
    "format date time",
    "lock mutex poisoned",
    "async read to end",
    "from_str_radix",
    "unicode normalization",
    "gzip decompress stream",
];

#[derive(clap::Args)]
pub struct Args {
    /// Folders to index (default: ~/.cargo/registry/src/* and Python's standard library).
    #[arg(long)]
    corpus: Vec<PathBuf>,
    /// The embedder: static (default), minilm or builtin.
    #[arg(long)]
    embedder: Option<String>,
    /// Where the linked corpus and its index live (default: a temporary folder). An existing
    /// index there is reused: the cold-index numbers then measure an incremental run.
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Times each query runs for the latency percentiles.
    #[arg(long, default_value_t = 5)]
    repeat: usize,
    /// Only the query numbers, on the index already in `--work-dir` (to profile searches
    /// without indexing again).
    #[arg(long, requires = "work_dir", conflicts_with = "shared")]
    queries_only: bool,
    /// Measure the shared base instead (`chroma://HOST:PORT/COLLECTION`, a scratch
    /// collection): the corpus as one git repository, published, then a fresh clone's first
    /// search against indexing it, a 1% merge's publish, queries through the base against local.
    #[arg(long, value_name = "chroma://HOST:PORT/COLLECTION")]
    shared: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let steps = StepTimer::install();
    let corpus = if args.corpus.is_empty() {
        default_corpus()?
    } else {
        args.corpus
    };
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
    if let Some(url) = &args.shared {
        let options = shared::Options {
            url,
            embedder: args.embedder.as_deref().unwrap_or("static"),
            repeat: args.repeat,
        };
        shared::run(&corpus, &work_dir, &options, &steps)?;
        return Ok(ExitCode::SUCCESS);
    }
    link_corpus(&corpus, &work_dir)?;
    let embedder = embedders::choose(
        args.embedder.as_deref(),
        &codexos_embed::EmbedderConfig::default(),
    )?;
    println!(
        "corpus: {}",
        corpus
            .iter()
            .map(|path| path.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("embedder: {}", embedder.space());

    let indexer = Indexer::open(
        &work_dir,
        embedder.clone(),
        IndexSettings::default(),
        &OpenOptions::default(),
    )?;
    if args.queries_only {
        queries(&indexer, embedder.as_ref(), &steps, args.repeat)?;
        return Ok(ExitCode::SUCCESS);
    }
    let heap_peak = HeapPeak::start();
    let summary = indexer.index_all(&mut |_| {}, &AtomicBool::new(false))?;
    let heap_peak_mb = heap_peak.stop();
    let seconds = summary.elapsed.as_secs_f64().max(1e-9);
    let megabytes = summary.bytes_indexed as f64 / 1e6;
    println!(
        "cold index: {} files, {} chunks, {:.1} MB, BM25-searchable after {:.1} s, chunked after {:.1} s, vectors complete after {:.1} s = {:.0} files/s, {:.2} MB/s, {:.0} chunks/s ({} unchanged, {} skipped)",
        summary.files_indexed,
        summary.chunks_written,
        megabytes,
        summary.searchable_after.as_secs_f64(),
        summary.chunked_after.as_secs_f64(),
        seconds,
        summary.files_indexed as f64 / seconds,
        megabytes / seconds,
        summary.chunks_written as f64 / seconds,
        summary.files_unchanged,
        summary.files_skipped,
    );
    println!(
        "peak RSS while indexing (VmHWM): {} (heap peak {heap_peak_mb:.0} MB); now {} ({} heap, {} mapped index files)",
        proc_status("VmHWM").unwrap_or_else(|| "unknown".into()),
        proc_status("VmRSS").unwrap_or_else(|| "unknown".into()),
        proc_status("RssAnon").unwrap_or_else(|| "unknown".into()),
        proc_status("RssFile").unwrap_or_else(|| "unknown".into()),
    );
    let stats = indexer.store().stats()?;
    println!(
        "index: {} files, {} chunks, {:.1} MB on disk ({:.0} bytes/chunk)",
        stats.files,
        stats.chunks,
        stats.disk_bytes as f64 / 1e6,
        stats.disk_bytes as f64 / stats.chunks.max(1) as f64
    );
    let usage = indexer.store().disk_usage()?;
    let megabytes_of = |bytes: u64| bytes as f64 / 1e6;
    println!(
        "  {:.1}× the indexed bytes; LMDB {:.1} MB: {}, other pages (mostly free) {:.1} MB; tantivy {:.1} MB",
        stats.disk_bytes as f64 / summary.bytes_indexed.max(1) as f64,
        megabytes_of(usage.lmdb_bytes),
        usage
            .databases
            .iter()
            .filter(|(_, _, bytes)| *bytes > 0)
            .map(|(name, entries, bytes)| format!(
                "{name} {:.1} MB ({entries} entries)",
                megabytes_of(*bytes)
            ))
            .collect::<Vec<_>>()
            .join(", "),
        megabytes_of(usage.lmdb_other_bytes),
        megabytes_of(usage.full_text_bytes),
    );

    let started = Instant::now();
    let again = indexer.index_all(&mut |_| {}, &AtomicBool::new(false))?;
    println!(
        "no-op re-index in the same process: {:.0} ms ({} files unchanged, {} indexed)",
        started.elapsed().as_secs_f64() * 1e3,
        again.files_unchanged,
        again.files_indexed
    );
    incremental(&indexer, &steps)?;
    branch_switch(&indexer, &work_dir)?;

    queries(&indexer, embedder.as_ref(), &steps, args.repeat)?;
    drop(indexer);
    processes(&work_dir)?;
    ripgrep(&work_dir)?;
    Ok(ExitCode::SUCCESS)
}

/// In-server query latency, hybrid and BM25 top 10, then the vector search's recall.
fn queries(
    indexer: &Indexer,
    embedder: &dyn codexos_embed::Embedder,
    steps: &StepTimer,
    repeat: usize,
) -> anyhow::Result<()> {
    let chunks = indexer.store().stats()?.chunks;
    let searcher = Searcher::new(indexer.store(), embedder);
    for mode in [SearchMode::HybridRerank, SearchMode::Bm25] {
        let mut times = Vec::new();
        steps.clear();
        for _ in 0..repeat.max(1) {
            for query in QUERIES {
                let request = SearchRequest {
                    mode,
                    ..SearchRequest::new(*query)
                };
                let started = Instant::now();
                let hits = searcher.search(&request)?;
                times.push(started.elapsed());
                if hits.is_empty() {
                    eprintln!("warning: no hit for {query:?}");
                }
            }
        }
        println!(
            "query {} top-10 over {chunks} chunks: {}",
            mode.name(),
            percentiles(&mut times)
        );
        print_steps(steps.take());
    }
    ann_recall(indexer, embedder)
}

/// What a user waits for as a whole process, after the index is built: `codexos index` with
/// nothing changed (a restart), and `codexos search` top 10 (BM25 and hybrid).
fn processes(work_dir: &Path) -> anyhow::Result<()> {
    let binary = std::env::current_exe().context("cannot find the codexos binary")?;
    let timed = |arguments: &[&str]| -> anyhow::Result<Duration> {
        let started = Instant::now();
        let status = Command::new(&binary)
            .args(arguments)
            .current_dir(work_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .with_context(|| format!("cannot run {}", binary.display()))?;
        // `codexos search` exits with 1 when nothing matched.
        if !matches!(status.code(), Some(0 | 1)) {
            bail!("`codexos {}` failed: {status}", arguments.join(" "));
        }
        Ok(started.elapsed())
    };
    let mut times: Vec<Duration> = (0..3)
        .map(|_| timed(&["index"]))
        .collect::<anyhow::Result<_>>()?;
    println!(
        "`codexos index` process, nothing changed: {}",
        percentiles(&mut times)
    );
    for mode in ["bm25", "hybrid"] {
        let mut times = Vec::new();
        for query in QUERIES.iter().take(10) {
            times.push(timed(&["search", "--mode", mode, "-k", "10", query])?);
        }
        println!(
            "`codexos search --mode {mode}` process, top 10: {}",
            percentiles(&mut times)
        );
    }
    Ok(())
}

/// How many of the exact 10 nearest chunks the approximate search finds among its own 10, and
/// among the 100 candidates a search takes from it, at the store's default effort and at others
/// (how many vectors, ranked by their 1-bit codes, are re-scored exactly).
fn ann_recall(indexer: &Indexer, embedder: &dyn codexos_embed::Embedder) -> anyhow::Result<()> {
    let snapshot = indexer.store().snapshot()?;
    let mut scan_times = Vec::new();
    let mut queries = Vec::new();
    for query in QUERIES {
        let vector = embedder.embed_query(query)?;
        let started = Instant::now();
        let exact: Vec<_> = snapshot
            .nearest_exact(&vector, 10)?
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        scan_times.push(started.elapsed());
        queries.push((vector, exact));
    }
    println!(
        "exact scan of every vector: {}",
        percentiles(&mut scan_times)
    );
    for effort in [None, Some(200), Some(2000), Some(8000)] {
        for limit in [10, 100] {
            let mut found = 0;
            let mut wanted = 0;
            let mut times = Vec::new();
            for (vector, exact) in &queries {
                let started = Instant::now();
                let hits = match effort {
                    None => snapshot.nearest(vector, limit)?,
                    Some(candidates) => snapshot.nearest_comparing(vector, limit, candidates)?,
                };
                times.push(started.elapsed());
                wanted += exact.len();
                found += exact
                    .iter()
                    .filter(|id| hits.iter().any(|(hit, _)| hit == *id))
                    .count();
            }
            let effort = effort.map_or("default".to_owned(), |items| items.to_string());
            println!(
                "vector recall of the exact top 10 in its top {limit}, re-scoring {effort} candidates: {:.2}, {}",
                found as f64 / wanted.max(1) as f64,
                percentiles(&mut times)
            );
        }
    }
    Ok(())
}

/// The highest `RssAnon` (heap and other private memory, not the mapped index files) seen
/// while it runs, sampled every 20 ms.
struct HeapPeak {
    stop: Arc<AtomicBool>,
    peak_kb: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl HeapPeak {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let peak_kb = Arc::new(AtomicU64::new(0));
        let thread = std::thread::spawn({
            let stop = Arc::clone(&stop);
            let peak_kb = Arc::clone(&peak_kb);
            move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(kb) = proc_status_kb("RssAnon") {
                        peak_kb.fetch_max(kb, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        });
        Self {
            stop,
            peak_kb,
            thread,
        }
    }

    /// The peak in MB.
    fn stop(self) -> f64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        self.peak_kb.load(Ordering::Relaxed) as f64 / 1024.0
    }
}

/// Re-indexes the largest Rust file with one line appended, as an editor buffer would, and
/// shows where the time goes (the index's `reindex.*`, `store.*` and `full_text.*` spans).
/// A branch switch that changes every tenth indexed file (a line appended), then the switch back:
/// the time of each `index_all` and how many chunks the embedder saw. A changed file is written
/// to a new file renamed over its name, so the hard-linked corpus is never written.
fn branch_switch(indexer: &Indexer, work_dir: &Path) -> anyhow::Result<()> {
    let changed: Vec<String> = indexer
        .store()
        .file_paths()?
        .into_iter()
        .step_by(10)
        .collect();
    let replace = |relative: &str, text: &[u8]| -> anyhow::Result<()> {
        let path = work_dir.join(relative);
        let temporary = path.with_extension("codexos-bench");
        std::fs::write(&temporary, text)
            .with_context(|| format!("cannot write {}", temporary.display()))?;
        std::fs::rename(&temporary, &path)
            .with_context(|| format!("cannot replace {}", path.display()))
    };
    let mut originals = Vec::with_capacity(changed.len());
    for relative in &changed {
        let original = std::fs::read(work_dir.join(relative))
            .with_context(|| format!("cannot read {relative}"))?;
        let mut switched = original.clone();
        switched.extend_from_slice(b"\nchanged on the other branch\n");
        replace(relative, &switched)?;
        originals.push(original);
    }
    let measure = |what: &str| -> anyhow::Result<()> {
        let started = Instant::now();
        let summary = indexer.index_all(&mut |_| {}, &AtomicBool::new(false))?;
        println!(
            "{what}: {} files re-indexed in {:.2} s ({} chunks written, {} embedded, {} vectors reused)",
            summary.files_indexed,
            started.elapsed().as_secs_f64(),
            summary.chunks_written,
            summary.chunks_embedded,
            summary.chunks_reused
        );
        Ok(())
    };
    measure(&format!(
        "branch switch changing {} of the files (every tenth)",
        changed.len()
    ))?;
    for (relative, original) in changed.iter().zip(&originals) {
        replace(relative, original)?;
    }
    measure("switching back")
}

fn incremental(indexer: &Indexer, steps: &StepTimer) -> anyhow::Result<()> {
    let files = indexer.store().files()?;
    let Some((path, record)) = files
        .iter()
        .filter(|(path, _)| path.ends_with(".rs"))
        .min_by_key(|(_, record)| record.info.size.abs_diff(8_000))
    else {
        println!("incremental: no Rust file in the corpus");
        return Ok(());
    };
    let text = std::fs::read_to_string(indexer.root().join(path))
        .with_context(|| format!("cannot read {path}"))?;
    let mut times = Vec::new();
    steps.clear();
    for round in 0..ROUNDS {
        let edited = format!("{text}\n// edit {round}\n");
        let started = Instant::now();
        indexer.reindex_text(Path::new(path), &edited)?;
        times.push(started.elapsed());
    }
    let step_times = steps.take();
    indexer.reindex_text(Path::new(path), &text)?;
    println!(
        "incremental re-index of {path} ({} bytes, {} chunks): {}",
        record.info.size,
        record.chunk_ids.len(),
        percentiles(&mut times)
    );
    print_steps(step_times);
    Ok(())
}

/// Each step's latency, from [`StepTimer`]: where the time of the line above went.
pub(super) fn print_steps(mut step_times: BTreeMap<&'static str, Vec<Duration>>) {
    for (step, times) in &mut step_times {
        let mean = times.iter().sum::<Duration>() / times.len().max(1) as u32;
        println!(
            "  {step}: {}, mean {:.2} ms",
            percentiles(times),
            mean.as_secs_f64() * 1e3
        );
    }
}

/// Re-indexes timed by [`incremental`].
const ROUNDS: usize = 20;

/// Collects how long each span was open, by span name (a `tracing` layer, so the index's code
/// carries only its spans).
#[derive(Clone, Default)]
pub(super) struct StepTimer(Arc<Mutex<BTreeMap<&'static str, Vec<Duration>>>>);

/// When a span was entered first; kept in the span's extensions.
struct Opened(Instant);

impl StepTimer {
    fn install() -> Self {
        use tracing_subscriber::layer::SubscriberExt;
        let timer = Self::default();
        let subscriber = tracing_subscriber::registry().with(timer.clone());
        if tracing::subscriber::set_global_default(subscriber).is_err() {
            eprintln!("warning: a tracing subscriber is already set; no per-step timings");
        }
        timer
    }

    pub(super) fn clear(&self) {
        self.take();
    }

    pub(super) fn take(&self) -> BTreeMap<&'static str, Vec<Duration>> {
        std::mem::take(
            &mut *self
                .0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }
}

impl<S> tracing_subscriber::Layer<S> for StepTimer
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_enter(&self, id: &tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut extensions = span.extensions_mut();
            if extensions.get_mut::<Opened>().is_none() {
                extensions.insert(Opened(Instant::now()));
            }
        }
    }

    fn on_close(&self, id: tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(opened) = span.extensions().get::<Opened>().map(|opened| opened.0) else {
            return;
        };
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(span.name())
            .or_default()
            .push(opened.elapsed());
    }
}

fn ripgrep(root: &Path) -> anyhow::Result<()> {
    if Command::new("rg")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        println!("rg: not installed (apt-get install ripgrep) — no lexical reference");
        return Ok(());
    }
    let mut times = Vec::new();
    for query in QUERIES {
        let mut command = Command::new("rg");
        command.args([
            "--follow",
            "--files-with-matches",
            "--ignore-case",
            "--glob",
            "!.codexos",
        ]);
        for word in query.split_whitespace().filter(|word| word.len() > 3) {
            command.arg("-e").arg(word);
        }
        let started = Instant::now();
        let status = command
            .arg(root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        times.push(started.elapsed());
        if status.code() == Some(2) {
            bail!("rg failed on {query:?}");
        }
    }
    println!(
        "rg (any query word, files with matches, unranked) over the same files: {}",
        percentiles(&mut times)
    );
    Ok(())
}

/// Hard-links each corpus folder into `dest` as `corpus-N` (a copy where the file system cannot
/// link; an existing one is kept): the walk never follows a symbolic link out of the
/// workspace, and the corpus is never written.
pub(super) fn link_corpus(corpus: &[PathBuf], dest: &Path) -> anyhow::Result<()> {
    for (number, folder) in corpus.iter().enumerate() {
        let copy = dest.join(format!("corpus-{number}"));
        if copy.exists() {
            continue;
        }
        let linked = Command::new("cp")
            .arg("-al")
            .arg(folder)
            .arg(&copy)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !linked {
            let _ = std::fs::remove_dir_all(&copy);
            let copied = Command::new("cp")
                .arg("-a")
                .arg(folder)
                .arg(&copy)
                .status()
                .with_context(|| format!("cannot run cp for {}", folder.display()))?;
            if !copied.success() {
                bail!("cannot copy {} to {}", folder.display(), copy.display());
            }
        }
    }
    Ok(())
}

pub(super) fn percentiles(times: &mut [Duration]) -> String {
    times.sort();
    let at = |share: f64| times[((times.len() as f64 - 1.0) * share).round() as usize];
    format!(
        "p50 {:.2} ms, p99 {:.2} ms ({} runs)",
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        times.len()
    )
}

/// A memory line of `/proc/self/status` in MB. LMDB and tantivy map their files, so RSS
/// counts index pages the kernel can drop at will (`RssFile`) beside the heap (`RssAnon`).
fn proc_status(key: &str) -> Option<String> {
    let kilobytes = proc_status_kb(key)?;
    Some(format!("{:.0} MB", kilobytes as f64 / 1024.0))
}

fn proc_status_kb(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| {
        line.strip_prefix(key)
            .is_some_and(|rest| rest.starts_with(':'))
    })?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn default_corpus() -> anyhow::Result<Vec<PathBuf>> {
    let mut folders = Vec::new();
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .context("HOME is not set")?;
    let registry = home.join(".cargo/registry/src");
    if let Ok(entries) = std::fs::read_dir(&registry) {
        folders.extend(
            entries
                .flatten()
                .map(|entry| entry.path())
                .filter(|path| path.is_dir()),
        );
    }
    let python = Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['stdlib'])",
        ])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    folders.extend(python.filter(|path| path.is_dir()));
    if folders.is_empty() {
        bail!(
            "no corpus: neither {} nor Python's standard library was found; pass --corpus",
            registry.display()
        );
    }
    Ok(folders)
}
