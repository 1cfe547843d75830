//! `codexos bench --shared chroma://HOST:PORT/COLLECTION`: the shared base on the bench corpus
//! made one git repository (give it a scratch collection: the bench publishes to it).
//!
//! - the publisher indexes the repository (what a clone without a base waits for before
//!   its first search) and publishes it: time and bytes;
//! - a fresh clone with the base: its first search, counted from the clone's checkout
//!   (indexing its overlay, none, then searching through the base);
//! - queries through the base against the publisher's full local index, p50/p99;
//! - a merge that changes 1% of the files: its re-index and publish, time and bytes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use codexos_service::index::{IndexMode, SearchQuery, WorkspaceIndex};

use super::bench::{QUERIES, StepTimer, link_corpus, percentiles, print_steps};

pub(super) struct Options<'a> {
    pub url: &'a str,
    pub embedder: &'a str,
    pub repeat: usize,
}

pub(super) fn run(
    corpus: &[PathBuf],
    work_dir: &Path,
    options: &Options<'_>,
    steps: &StepTimer,
) -> anyhow::Result<()> {
    let repository = work_dir.join("repository");
    if !repository.join(".git").is_dir() {
        std::fs::create_dir_all(&repository)
            .with_context(|| format!("cannot create {}", repository.display()))?;
        link_corpus(corpus, &repository)?;
        // codexos.toml stays out of git: the clone names the base in its own.
        std::fs::write(repository.join(".gitignore"), ".codexos/\ncodexos.toml\n")?;
        git(&repository, &["init", "--quiet"])?;
        git(&repository, &["add", "--all"])?;
        git(&repository, &["commit", "--quiet", "--message", "corpus"])?;
    }
    write_settings(&repository, options, false)?;
    let tracked = git(&repository, &["ls-files", "-z"])?;
    let tracked: Vec<&str> = tracked
        .split('\0')
        .filter(|path| !path.is_empty())
        .collect();
    println!(
        "repository: {} ({} files tracked)",
        repository.display(),
        tracked.len()
    );

    let publisher = WorkspaceIndex::open(&repository, IndexMode::default())?;
    let summary = publisher.index_everything(&mut |_| {})?;
    println!(
        "local index of the repository (a clone without a base waits for this): BM25-searchable after {:.1} s, every vector after {:.1} s ({} files indexed, {} chunks)",
        summary.searchable_after.as_secs_f64(),
        summary.elapsed.as_secs_f64(),
        summary.files_indexed,
        summary.chunks_written
    );
    let published = publisher.publish(options.url)?;
    println!(
        "publish: {} chunks, {} term frequencies, {} files' terms, {:.1} MB sent in {:.1} s",
        published.new,
        published.terms_sent,
        published.files_sent,
        published.bytes_sent as f64 / 1e6,
        published.elapsed.as_secs_f64()
    );
    let local = latencies(&publisher, options.repeat)?;
    println!("query hybrid top-10, local index: {local}");

    let clone = work_dir.join("clone");
    if clone.exists() {
        std::fs::remove_dir_all(&clone)
            .with_context(|| format!("cannot remove {}", clone.display()))?;
    }
    let started = Instant::now();
    git(
        work_dir,
        &[
            "clone",
            "--quiet",
            &repository.to_string_lossy(),
            &clone.to_string_lossy(),
        ],
    )?;
    let checkout = started.elapsed();
    write_settings(&clone, options, true)?;
    let started = Instant::now();
    let index = WorkspaceIndex::open(&clone, IndexMode::default())?;
    let overlay = index.index_all(&mut |_| {})?;
    let hits = index.search(&SearchQuery::new(QUERIES[0]))?;
    let first_search = started.elapsed();
    if let Some(notice) = index.shared_notice() {
        bail!("the clone did not search through the base: {notice}");
    }
    println!(
        "fresh clone with the base: first search {:.2} s after the checkout ({} overlay files indexed, {} hits; git clone took {:.1} s), against {:.1} s to index it locally",
        first_search.as_secs_f64(),
        overlay.files_indexed,
        hits.len(),
        checkout.as_secs_f64(),
        summary.searchable_after.as_secs_f64()
    );
    steps.clear();
    let base = latencies(&index, options.repeat)?;
    println!("query hybrid top-10, through the base: {base}");
    print_steps(steps.take());

    // A merge that changes 1% of the files: a line appended to every hundredth one, written
    // to a new file renamed over it (the corpus is hard-linked, never written).
    let changed: Vec<&str> = tracked.iter().step_by(100).copied().collect();
    for path in &changed {
        let path = repository.join(path);
        let mut text =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        text.extend_from_slice(b"\n// merged change\n");
        let edited = path.with_extension("bench-edit");
        std::fs::write(&edited, text)?;
        std::fs::rename(&edited, &path)?;
    }
    git(
        &repository,
        &["commit", "--quiet", "--all", "--message", "merge"],
    )?;
    let started = Instant::now();
    let reindexed = publisher.index_everything(&mut |_| {})?;
    let merged = publisher.publish(options.url)?;
    println!(
        "publish after a merge changing {} files (1%): {:.1} s in all (re-index {:.1} s of {} files; publish {:.1} s: {} chunks sent, {} removed, {} kept, {} term frequencies, {} files' terms, {:.2} MB)",
        changed.len(),
        started.elapsed().as_secs_f64(),
        reindexed.elapsed.as_secs_f64(),
        reindexed.files_indexed,
        merged.elapsed.as_secs_f64(),
        merged.new,
        merged.removed,
        merged.kept,
        merged.terms_sent,
        merged.files_sent,
        merged.bytes_sent as f64 / 1e6
    );
    Ok(())
}

/// The bench's queries through `index`'s front door, each `repeat` times.
fn latencies(index: &WorkspaceIndex, repeat: usize) -> anyhow::Result<String> {
    let mut times: Vec<Duration> = Vec::new();
    for _ in 0..repeat.max(1) {
        for query in QUERIES {
            let started = Instant::now();
            index.search(&SearchQuery::new(*query))?;
            times.push(started.elapsed());
        }
    }
    Ok(percentiles(&mut times))
}

fn write_settings(root: &Path, options: &Options<'_>, shared: bool) -> anyhow::Result<()> {
    let mut settings = format!(
        "[index]\nembedder = \"{}\"\nupgrade = \"none\"\n",
        options.embedder
    );
    if shared {
        settings.push_str(&format!(
            "\n[index.shared]\nurl = \"{}\"\ntimeout_ms = 30000\n",
            options.url
        ));
    }
    let path = root.join("codexos.toml");
    std::fs::write(&path, settings).with_context(|| format!("cannot write {}", path.display()))
}

fn git(root: &Path, args: &[&str]) -> anyhow::Result<String> {
    let output = Command::new("git")
        .args([
            "-c",
            "user.name=codexos bench",
            "-c",
            "user.email=bench@codexos.invalid",
        ])
        .args(args)
        .current_dir(root)
        .output()
        .context("cannot run git")?;
    if !output.status.success() {
        bail!(
            "git {} in {}: {}",
            args.join(" "),
            root.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
