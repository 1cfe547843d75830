//! Better vectors in the background: the index is built with the fast embedder, so search
//! works in seconds; then, while nothing else runs, the neural model embeds every chunk again
//! into a second vector space ([`Store::use_upgrade_space`]). Searches switch to that space
//! once it covers every chunk, and fall back to the fast one whenever saves leave chunks
//! without neural vectors, until the upgrade catches up.
//!
//! An upgrade run works in small batches, each committed on its own: it can be cancelled at
//! any batch, resumes where it stopped (after a restart too: it asks the store which chunks
//! lack a vector), and pauses while the index is being written or the caller says it is busy
//! (requests waiting), so a foreground job waits at most one batch.
//!
//! [`Store::use_upgrade_space`]: codexos_store::Store::use_upgrade_space

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use codexos_embed::Embedder;
use codexos_store::{ChunkId, SpaceChange};

use crate::error::{IndexError, Result};
use crate::{Indexer, embedding_text};

/// Chunks per embedder call and per commit: about half a second of MiniLM on two cores, the
/// longest a foreground job waits for the upgrade to step aside.
pub const UPGRADE_BATCH: usize = 16;
/// Chunks looked up per pass over the store (a pass reads every chunk id once).
const PASS_CHUNKS: usize = 4096;
/// After the index was written, the upgrade waits this long for the writer to finish its run.
const QUIET_AFTER_WRITE: Duration = Duration::from_millis(500);
const PAUSE_STEP: Duration = Duration::from_millis(50);

/// Where an upgrade run is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UpgradeProgress {
    /// Chunks embedded by this run so far.
    pub embedded: usize,
    /// Chunks that still lack a neural vector (at the last pass over the store).
    pub remaining: u64,
}

/// What an upgrade run did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UpgradeSummary {
    pub chunks_embedded: usize,
    /// Every chunk has its vector in the upgrade space: searches use it.
    pub complete: bool,
    /// Time spent embedding and writing (pauses excluded).
    pub working: Duration,
    pub elapsed: Duration,
}

impl UpgradeSummary {
    /// Chunks embedded per second of work.
    pub fn chunks_per_second(&self) -> f64 {
        self.chunks_embedded as f64 / self.working.as_secs_f64().max(1e-9)
    }
}

impl Indexer {
    /// [`Indexer::set_upgrade`], for building an indexer in one expression.
    pub fn with_upgrade(self, upgrade: Arc<dyn Embedder>) -> Result<Self> {
        self.set_upgrade(Some(upgrade))?;
        Ok(self)
    }

    /// Makes `upgrade` (the neural embedder) this index's upgrade space: its vectors are
    /// filled by [`Indexer::upgrade_vectors`] and searches use them once complete. Vectors of
    /// another upgrade model are dropped, never mixed. `None`, or the space the index is built
    /// with, drops any upgrade space. Can be called while the indexer is shared (the neural
    /// model is loaded after the first full run).
    pub fn set_upgrade(&self, upgrade: Option<Arc<dyn Embedder>>) -> Result<()> {
        let store = self.store();
        let upgrade = upgrade.filter(|upgrade| upgrade.space() != self.embedder().space());
        match &upgrade {
            None => store.drop_upgrade_space()?,
            Some(upgrade) => {
                let space = upgrade.space();
                if let SpaceChange::Replaced { previous } =
                    store.use_upgrade_space(&space.key(), upgrade.dim())?
                {
                    tracing::info!(root = %self.root().display(), %previous, now = %space, "upgrade model changed; upgrading every chunk again");
                }
            }
        }
        *self
            .upgrade
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = upgrade;
        Ok(())
    }

    /// The neural embedder vectors are upgraded to, if any.
    pub fn upgrade_embedder(&self) -> Option<Arc<dyn Embedder>> {
        self.upgrade
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Embeds every chunk that lacks an upgrade vector, [`UPGRADE_BATCH`] at a time, then
    /// builds the upgrade space's trees so searches use it. Between batches it pauses while the
    /// index was just written or `busy()` says so, and stops (keeping its work) when `cancel`
    /// is set: the error is [`IndexError::Cancelled`]. Without an upgrade embedder it does
    /// nothing.
    pub fn upgrade_vectors(
        &self,
        progress: &mut dyn FnMut(UpgradeProgress),
        busy: &dyn Fn() -> bool,
        cancel: &AtomicBool,
    ) -> Result<UpgradeSummary> {
        let started = Instant::now();
        let mut summary = UpgradeSummary::default();
        let Some(upgrade) = self.upgrade_embedder() else {
            return Ok(summary);
        };
        let space = upgrade.space().key();
        let store = self.store();
        let mut quiet = QuietWatch::new(store.generation()?);
        loop {
            let (pass, remaining) = store.chunks_missing_upgrade(&space, PASS_CHUNKS)?;
            progress(UpgradeProgress {
                embedded: summary.chunks_embedded,
                remaining,
            });
            if pass.is_empty() {
                break;
            }
            for batch in pass.chunks(UPGRADE_BATCH) {
                self.wait_until_quiet(&mut quiet, busy, cancel)?;
                let working = Instant::now();
                let vectors = self.embed_chunks(upgrade.as_ref(), batch)?;
                store.write_upgrade_vectors(&space, &vectors)?;
                quiet.seen(store.generation()?);
                summary.working += working.elapsed();
                summary.chunks_embedded += vectors.len();
                progress(UpgradeProgress {
                    embedded: summary.chunks_embedded,
                    remaining: remaining.saturating_sub(summary.chunks_embedded as u64),
                });
            }
        }
        self.wait_until_quiet(&mut quiet, busy, cancel)?;
        let working = Instant::now();
        store.build_upgrade_vectors()?;
        summary.working += working.elapsed();
        summary.complete = store
            .upgrade_coverage()?
            .is_some_and(|coverage| coverage.is_complete());
        summary.elapsed = started.elapsed();
        Ok(summary)
    }

    /// The upgrade vectors of `ids`, from what the store holds now (chunks removed meanwhile
    /// are left out; the store would refuse them anyway).
    fn embed_chunks(
        &self,
        embedder: &dyn Embedder,
        ids: &[ChunkId],
    ) -> Result<Vec<(ChunkId, Vec<f32>)>> {
        let mut kept = Vec::with_capacity(ids.len());
        let mut texts = Vec::with_capacity(ids.len());
        {
            let snapshot = self.store().snapshot()?;
            for &id in ids {
                if let (Some(meta), Some(text)) = (snapshot.chunk(id)?, snapshot.chunk_text(id)?) {
                    texts.push(embedding_text(&meta, &text));
                    kept.push((id, meta.path));
                }
            }
        }
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let vectors = embedder.embed(&refs).map_err(|source| IndexError::Embed {
            path: kept
                .first()
                .map(|(_, path)| path.clone())
                .unwrap_or_default(),
            source,
        })?;
        Ok(kept.into_iter().map(|(id, _)| id).zip(vectors).collect())
    }

    fn wait_until_quiet(
        &self,
        quiet: &mut QuietWatch,
        busy: &dyn Fn() -> bool,
        cancel: &AtomicBool,
    ) -> Result<()> {
        loop {
            if cancel.load(Ordering::Relaxed) {
                return Err(IndexError::Cancelled {
                    root: self.root().to_path_buf(),
                });
            }
            quiet.seen(self.store().generation()?);
            if quiet.is_quiet() && !busy() {
                return Ok(());
            }
            std::thread::sleep(PAUSE_STEP);
        }
    }
}

/// Notices writes to the index by its generation counter: the upgrade steps aside while
/// another writer (a full run, a save) is active.
struct QuietWatch {
    generation: u64,
    changed: Option<Instant>,
}

impl QuietWatch {
    fn new(generation: u64) -> Self {
        Self {
            generation,
            changed: None,
        }
    }

    fn seen(&mut self, generation: u64) {
        if generation != self.generation {
            self.generation = generation;
            self.changed = Some(Instant::now());
        }
    }

    fn is_quiet(&self) -> bool {
        self.changed
            .is_none_or(|changed| changed.elapsed() >= QUIET_AFTER_WRITE)
    }
}
