//! The active space's vectors: an ANN index (arroy) built once per bulk change, and a small
//! delta that absorbs the edits in between.
//!
//! Building arroy's trees costs time in proportion to every item it holds, even when one
//! vector changed (about 0.6 s at 300k vectors). Rebuilding them after every batch made a cold
//! index quadratic; rebuilding them after every save missed the 50 ms budget of a re-index.
//! So the vectors live in three places, all in the same LMDB environment:
//!
//! - **main**: arroy index `space.index`, holding most vectors, its trees built by
//!   [`Store::build_vectors`] — at the end of a full run, or when the delta is full;
//! - **delta**: arroy index `space.index ^ DELTA_SLOT`, the vectors written since the main
//!   trees were built, at most [`DELTA_CAP`], rebuilt in the transaction that writes them
//!   (cheap: it is small);
//! - **tombstones**: ids of main vectors whose chunk is gone (keys `TOMBSTONE_PREFIX<id>` in
//!   the counters table), skipped by every read and deleted from main at the next build.
//!
//! [`Store::write`] sends a batch to the delta while the main trees are built and the delta has
//! room, else straight into main (a bulk run: main then waits for its build). Either way the
//! chunk and its vector land in one transaction. Between a bulk write and its build, arroy
//! cannot be read through its `Reader`; [`VectorView`] then scans main's vectors exactly, so a
//! search is never refused because the trees lag behind.

use std::cmp::Ordering;
use std::collections::{BTreeSet, BinaryHeap};
use std::num::NonZeroUsize;

use arroy::distances::Cosine;
use heed::{RoTxn, RwTxn};
use rand::SeedableRng;
use roaring::RoaringBitmap;

use crate::error::Context;
use crate::{ACTIVE_SPACE, ChunkId, NEXT_CHUNK_ID, Result, Snapshot, SpaceRecord, Store};

/// Trees of the main index. Fixed, so an incremental build updates the existing trees and
/// never grows a new one from scratch (arroy's default keeps adding trees until they hold as
/// many nodes as there are items: hundreds of trees, slow builds and queries, a file twice the
/// size). Queries look at `TREES × limit` candidates; the bench measures recall against an
/// exact scan.
pub(crate) const TREES: usize = 16;
/// Vectors the delta holds before the next write goes to main and forces a build.
pub(crate) const DELTA_CAP: u64 = 4096;
/// How many vectors an ANN query gathers from the trees at least (arroy's `search_k`), and the
/// size up to which an index is scanned exactly instead.
///
/// arroy gathers whole leaves, best first across the trees, until it holds `search_k` items
/// (an item once per tree that yields it), and defaults to `limit × trees`. Its leaves hold up
/// to one item per dimension (512 here), so a top-10 query read a leaf or two. Measured on the
/// bench corpus (1.04M chunks, static embedder, load 5 on 2 cores), recall of the exact top 10:
/// 160 items (top-10 default) 0.09 in 0.7 ms; 1600 (a search's 100 candidates) 0.18 in 6.6 ms;
/// 2048 0.20 in 7.2 ms; 4096 0.32 in 13 ms; 8192 0.35 in 22 ms; 65536 0.60 in 99 ms. Each
/// item costs an LMDB read of 2 KB and a dot product, and these vectors (half of a static
/// vector is hashed features) are far from clustered, so effort buys little recall. This
/// floor gives a top-10 query the candidates of a search's, and makes a small index (most
/// workspaces' first minutes, the eval's repositories) exact for the same work.
pub(crate) const ANN_MIN_ITEMS: usize = 2048;
/// The delta's arroy index is the main one with this bit flipped.
const DELTA_SLOT: u16 = 0x8000;
const TOMBSTONE_PREFIX: &str = "vector_tombstone/";

fn tombstone_key(id: ChunkId) -> String {
    // Zero-padded so that the keys sort by id.
    format!("{TOMBSTONE_PREFIX}{id:010}")
}

fn delta_index(space: &SpaceRecord) -> u16 {
    space.index ^ DELTA_SLOT
}

/// One arroy index as it can be read now.
enum Part<'t> {
    /// Trees built: approximate nearest neighbours (the writer reads the same items for
    /// exact scans).
    Built(arroy::Reader<'t, Cosine>, arroy::Writer<Cosine>),
    /// Changes not yet in the trees: exact scans.
    Unbuilt(arroy::Writer<Cosine>),
    /// Nothing was ever written there.
    Empty,
}

impl<'t> Part<'t> {
    fn open(store: &Store, rtxn: &'t RoTxn, index: u16, dim: usize) -> Result<Self> {
        match arroy::Reader::open(rtxn, index, store.dbs.vectors) {
            Ok(reader) => Ok(Self::Built(
                reader,
                arroy::Writer::new(store.dbs.vectors, index, dim),
            )),
            Err(arroy::Error::NeedBuild(_)) => Ok(Self::Unbuilt(arroy::Writer::new(
                store.dbs.vectors,
                index,
                dim,
            ))),
            Err(arroy::Error::MissingMetadata(_)) => {
                let writer = arroy::Writer::new(store.dbs.vectors, index, dim);
                if writer.is_empty(rtxn).at(&store.dir)? {
                    Ok(Self::Empty)
                } else {
                    Ok(Self::Unbuilt(writer))
                }
            }
            Err(error) => Err(error).at(&store.dir),
        }
    }

    fn vector(&self, rtxn: &RoTxn, id: ChunkId) -> arroy::Result<Option<Vec<f32>>> {
        match self {
            Self::Built(reader, _) => reader.item_vector(rtxn, id),
            Self::Unbuilt(writer) => writer.item_vector(rtxn, id),
            Self::Empty => Ok(None),
        }
    }

    fn item_ids(&self, rtxn: &RoTxn) -> arroy::Result<RoaringBitmap> {
        match self {
            Self::Built(reader, _) => Ok(reader.item_ids().clone()),
            Self::Unbuilt(writer) => writer
                .iter(rtxn)?
                .map(|item| item.map(|(id, _)| id))
                .collect(),
            Self::Empty => Ok(RoaringBitmap::new()),
        }
    }

    /// The `limit` items nearest to `query` except `skip`, with their cosine similarity:
    /// from the trees when built, unless `search` scans.
    fn nearest(
        &self,
        rtxn: &RoTxn,
        query: &[f32],
        limit: usize,
        skip: &RoaringBitmap,
        search: Search,
    ) -> arroy::Result<Vec<(ChunkId, f32)>> {
        match self {
            Self::Built(reader, writer) if search.scans(reader.n_items()) => {
                scan(writer, rtxn, query, limit, skip)
            }
            Self::Built(reader, _) => {
                let allowed;
                let mut query_builder = reader.nns(limit);
                let search_k = (limit * reader.n_trees()).max(search.min_items());
                if let Some(search_k) = NonZeroUsize::new(search_k) {
                    query_builder.search_k(search_k);
                }
                if !skip.is_empty() {
                    allowed = reader.item_ids() - skip;
                    query_builder.candidates(&allowed);
                }
                let hits = query_builder.by_vector(rtxn, query)?;
                // arroy's cosine distance is (1 - cos) / 2.
                Ok(hits
                    .into_iter()
                    .map(|(id, distance)| (id, 1.0 - 2.0 * distance))
                    .collect())
            }
            Self::Unbuilt(writer) => scan(writer, rtxn, query, limit, skip),
            Self::Empty => Ok(Vec::new()),
        }
    }
}

/// The active space's vectors as a search sees them: main minus its tombstones, plus the delta.
pub(crate) struct VectorView<'t> {
    main: Part<'t>,
    delta: Part<'t>,
    tombstones: RoaringBitmap,
}

impl<'t> VectorView<'t> {
    pub(crate) fn open(store: &Store, rtxn: &'t RoTxn, space: &SpaceRecord) -> Result<Self> {
        Ok(Self {
            main: Part::open(store, rtxn, space.index, space.dim)?,
            delta: Part::open(store, rtxn, delta_index(space), space.dim)?,
            tombstones: tombstones(store, rtxn)?,
        })
    }

    pub(crate) fn vector(&self, rtxn: &RoTxn, id: ChunkId) -> arroy::Result<Option<Vec<f32>>> {
        if let Some(vector) = self.delta.vector(rtxn, id)? {
            return Ok(Some(vector));
        }
        if self.tombstones.contains(id) {
            return Ok(None);
        }
        self.main.vector(rtxn, id)
    }

    fn live(&self, rtxn: &RoTxn) -> arroy::Result<RoaringBitmap> {
        Ok((self.main.item_ids(rtxn)? - &self.tombstones) | self.delta.item_ids(rtxn)?)
    }

    /// Every live vector's id, in order.
    pub(crate) fn item_ids(&self, rtxn: &RoTxn) -> arroy::Result<Vec<ChunkId>> {
        Ok(self.live(rtxn)?.iter().collect())
    }

    /// How many live vectors there are: cheap when the trees are built, a scan otherwise.
    pub(crate) fn len(&self, rtxn: &RoTxn) -> arroy::Result<u64> {
        Ok(self.live(rtxn)?.len())
    }

    /// Whether searches use trees (rather than scanning main's vectors exactly).
    pub(crate) fn trees_built(&self) -> bool {
        !matches!(self.main, Part::Unbuilt(_))
    }

    /// The `limit` live vectors nearest to `query` with their cosine similarity: approximate
    /// from main's trees when built (exact otherwise), exact or nearly so from the small delta.
    pub(crate) fn nearest(
        &self,
        rtxn: &RoTxn,
        query: &[f32],
        limit: usize,
    ) -> arroy::Result<Vec<(ChunkId, f32)>> {
        self.nearest_by(rtxn, query, limit, Search::DEFAULT)
    }

    pub(crate) fn nearest_by(
        &self,
        rtxn: &RoTxn,
        query: &[f32],
        limit: usize,
        search: Search,
    ) -> arroy::Result<Vec<(ChunkId, f32)>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut hits = self
            .main
            .nearest(rtxn, query, limit, &self.tombstones, search)?;
        hits.extend(
            self.delta
                .nearest(rtxn, query, limit, &RoaringBitmap::new(), search)?,
        );
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        hits.truncate(limit);
        Ok(hits)
    }

    /// The cosine similarity of `query` with each of `ids` that has a live vector, in the
    /// order of `ids`.
    pub(crate) fn similarities(
        &self,
        rtxn: &RoTxn,
        query: &[f32],
        ids: &[ChunkId],
    ) -> arroy::Result<Vec<(ChunkId, f32)>> {
        let query_norm = norm(query);
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            if let Some(vector) = self.vector(rtxn, id)? {
                out.push((id, cosine(query, query_norm, &vector)));
            }
        }
        Ok(out)
    }
}

/// How [`VectorView::nearest`] reads the vectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Search {
    /// From the trees when they are built, comparing at least `min_items` vectors with the
    /// query (see [`ANN_MIN_ITEMS`]); a scan otherwise, or when there are no more than
    /// `min_items` (the scan is then exact for the same work: arroy counts an item once per
    /// tree that yields it).
    Approximate { min_items: usize },
    /// A scan of every vector.
    Exact,
}

impl Search {
    /// What searches use.
    pub(crate) const DEFAULT: Self = Self::Approximate {
        min_items: ANN_MIN_ITEMS,
    };

    /// Whether a built index of `items` vectors is scanned rather than searched.
    fn scans(self, items: u64) -> bool {
        match self {
            Self::Approximate { min_items } => items <= min_items as u64,
            Self::Exact => true,
        }
    }

    fn min_items(self) -> usize {
        match self {
            Self::Approximate { min_items } => min_items,
            Self::Exact => usize::MAX,
        }
    }
}

fn tombstones(store: &Store, rtxn: &RoTxn) -> Result<RoaringBitmap> {
    let mut ids = RoaringBitmap::new();
    for entry in store
        .dbs
        .counters
        .prefix_iter(rtxn, TOMBSTONE_PREFIX)
        .at(&store.dir)?
    {
        let (key, id) = entry.at(&store.dir)?;
        let id = ChunkId::try_from(id).map_err(|_| crate::StoreError::Damaged {
            path: store.dir.clone(),
            message: format!("vector tombstone {key} holds an id out of range"),
        })?;
        ids.insert(id);
    }
    Ok(ids)
}

/// The exact `limit` nearest items of `writer`'s index except `skip`, by cosine similarity.
fn scan(
    writer: &arroy::Writer<Cosine>,
    rtxn: &RoTxn,
    query: &[f32],
    limit: usize,
    skip: &RoaringBitmap,
) -> arroy::Result<Vec<(ChunkId, f32)>> {
    let query_norm = norm(query);
    // A min-heap of the best `limit` so far.
    let mut best: BinaryHeap<Scored> = BinaryHeap::with_capacity(limit + 1);
    for item in writer.iter(rtxn)? {
        let (id, vector) = item?;
        if skip.contains(id) {
            continue;
        }
        let similarity = cosine(query, query_norm, &vector);
        best.push(Scored { similarity, id });
        if best.len() > limit {
            best.pop();
        }
    }
    let mut hits: Vec<(ChunkId, f32)> = best
        .into_iter()
        .map(|scored| (scored.id, scored.similarity))
        .collect();
    hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(hits)
}

/// Ordered so that the heap's top is the worst hit kept.
struct Scored {
    similarity: f32,
    id: ChunkId,
}

impl Ord for Scored {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .similarity
            .total_cmp(&self.similarity)
            .then(self.id.cmp(&other.id))
    }
}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Scored {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Scored {}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(vector: &[f32]) -> f32 {
    dot(vector, vector).sqrt()
}

/// The cosine similarity of `query` (whose norm is `query_norm`) and `vector`; 0 for a zero vector.
fn cosine(query: &[f32], query_norm: f32, vector: &[f32]) -> f32 {
    let denominator = query_norm * norm(vector);
    if denominator > 0.0 {
        dot(query, vector) / denominator
    } else {
        0.0
    }
}

/// Where one [`Store::write`] puts its vectors (see the module's notes).
pub(crate) struct VectorWriter {
    main: arroy::Writer<Cosine>,
    delta: arroy::Writer<Cosine>,
    counters: crate::Counters,
    into_delta: bool,
}

impl VectorWriter {
    /// For a batch of `incoming` vectors.
    pub(crate) fn open(
        store: &Store,
        wtxn: &RwTxn<'_>,
        space: &SpaceRecord,
        incoming: usize,
    ) -> Result<Self> {
        let main = arroy::Writer::new(store.dbs.vectors, space.index, space.dim);
        let delta = arroy::Writer::new(store.dbs.vectors, delta_index(space), space.dim);
        let into_delta = !main.need_build(wtxn).at(&store.dir)?
            && delta_len(store, wtxn, space)? + incoming as u64 <= DELTA_CAP;
        Ok(Self {
            main,
            delta,
            counters: store.dbs.counters,
            into_delta,
        })
    }

    pub(crate) fn add_item(
        &self,
        wtxn: &mut RwTxn<'_>,
        id: ChunkId,
        vector: &[f32],
    ) -> arroy::Result<()> {
        if self.into_delta {
            self.delta.add_item(wtxn, id, vector)
        } else {
            self.main.add_item(wtxn, id, vector)
        }
    }

    /// Deletes `id`'s vector: from the delta, or from main (a tombstone while main's trees
    /// are kept). Returns whether it existed.
    pub(crate) fn del_item(&self, wtxn: &mut RwTxn<'_>, id: ChunkId) -> arroy::Result<bool> {
        if self.delta.del_item(wtxn, id)? {
            return Ok(true);
        }
        if !self.into_delta {
            return self.main.del_item(wtxn, id);
        }
        if !self.main.contains_item(wtxn, id)? {
            return Ok(false);
        }
        // A counters entry: the tombstone's value is the id itself.
        self.counters
            .put(wtxn, &tombstone_key(id), &u64::from(id))?;
        Ok(true)
    }

    /// Makes the delta readable again if this batch changed it.
    pub(crate) fn finish(&self, wtxn: &mut RwTxn<'_>, seed: u64) -> arroy::Result<()> {
        if self.delta.need_build(wtxn)? {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            self.delta.builder(&mut rng).n_trees(TREES).build(wtxn)?;
        }
        Ok(())
    }
}

fn delta_len(store: &Store, rtxn: &RoTxn, space: &SpaceRecord) -> Result<u64> {
    Ok(
        match Part::open(store, rtxn, delta_index(space), space.dim)? {
            Part::Built(reader, _) => reader.n_items(),
            part => part.item_ids(rtxn).at(&store.dir)?.len(),
        },
    )
}

impl Store {
    /// Folds the delta and the tombstones into the main ANN index and rebuilds its trees, in
    /// one transaction (a crash leaves the previous state; the next build redoes the work).
    /// Does nothing while main's trees are current and the delta has room, so it is cheap to
    /// call after every write. Returns whether it built.
    pub fn build_vectors(&self) -> Result<bool> {
        let _guard = self.lock_for_writing("building the vector index")?;
        let mut wtxn = self.env.write_txn().at(&self.dir)?;
        let Some(space) = self.dbs.info.get(&wtxn, ACTIVE_SPACE).at(&self.dir)? else {
            return Ok(false);
        };
        let main = arroy::Writer::<Cosine>::new(self.dbs.vectors, space.index, space.dim);
        if !main.need_build(&wtxn).at(&self.dir)? && delta_len(self, &wtxn, &space)? < DELTA_CAP {
            return Ok(false);
        }
        self.fold_delta(&mut wtxn, &space, &main)?;
        let seed = self
            .dbs
            .counters
            .get(&wtxn, NEXT_CHUNK_ID)
            .at(&self.dir)?
            .unwrap_or(0);
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        main.builder(&mut rng)
            .n_trees(TREES)
            .build(&mut wtxn)
            .at(&self.dir)?;
        wtxn.commit().at(&self.dir)?;
        Ok(true)
    }

    /// Moves the delta's vectors into main and applies the tombstones to it.
    fn fold_delta(
        &self,
        wtxn: &mut RwTxn<'_>,
        space: &SpaceRecord,
        main: &arroy::Writer<Cosine>,
    ) -> Result<()> {
        for id in &tombstones(self, wtxn)? {
            main.del_item(wtxn, id).at(&self.dir)?;
            self.dbs
                .counters
                .delete(wtxn, &tombstone_key(id))
                .at(&self.dir)?;
        }
        let delta = arroy::Writer::<Cosine>::new(self.dbs.vectors, delta_index(space), space.dim);
        let moved: Vec<(ChunkId, Vec<f32>)> = delta
            .iter(wtxn)
            .at(&self.dir)?
            .collect::<arroy::Result<_>>()
            .at(&self.dir)?;
        for (id, vector) in &moved {
            main.add_item(wtxn, *id, vector).at(&self.dir)?;
        }
        delta.clear(wtxn).at(&self.dir)
    }

    /// Drops the delta and tombstones of `space` (its vectors are being dropped).
    pub(crate) fn clear_vector_delta(
        &self,
        wtxn: &mut RwTxn<'_>,
        space: &SpaceRecord,
    ) -> Result<()> {
        arroy::Writer::<Cosine>::new(self.dbs.vectors, delta_index(space), space.dim)
            .clear(wtxn)
            .at(&self.dir)?;
        let keys: BTreeSet<String> = self
            .dbs
            .counters
            .prefix_iter(wtxn, TOMBSTONE_PREFIX)
            .at(&self.dir)?
            .map(|entry| entry.map(|(key, _)| key.to_owned()))
            .collect::<heed::Result<_>>()
            .at(&self.dir)?;
        for key in &keys {
            self.dbs.counters.delete(wtxn, key).at(&self.dir)?;
        }
        Ok(())
    }

    /// Whether main's trees wait for [`Store::build_vectors`] (searches then scan its vectors
    /// exactly).
    pub fn vectors_need_build(&self) -> Result<bool> {
        let rtxn = self.env.read_txn().at(&self.dir)?;
        let Some(space) = self.dbs.info.get(&rtxn, ACTIVE_SPACE).at(&self.dir)? else {
            return Ok(false);
        };
        Ok(!VectorView::open(self, &rtxn, &space)?.trees_built())
    }
}

impl Snapshot<'_> {
    pub(crate) fn active_space(&self) -> Result<Option<SpaceRecord>> {
        self.store
            .dbs
            .info
            .get(&self.rtxn, ACTIVE_SPACE)
            .at(&self.store.dir)
    }

    /// The `limit` chunks of the active space nearest to `query` by an exact scan of every
    /// vector: the reference the approximate [`Snapshot::nearest`] is measured against.
    pub fn nearest_exact(&self, query: &[f32], limit: usize) -> Result<Vec<(ChunkId, f32)>> {
        let Some(space) = self.active_space()? else {
            return Ok(Vec::new());
        };
        VectorView::open(self.store, &self.rtxn, &space)?
            .nearest_by(&self.rtxn, query, limit, Search::Exact)
            .at(&self.store.dir)
    }

    /// [`Snapshot::nearest`] comparing at least `min_items` vectors with the query instead of
    /// the default floor: the recall/latency trade-off, for benchmarks.
    pub fn nearest_comparing(
        &self,
        query: &[f32],
        limit: usize,
        min_items: usize,
    ) -> Result<Vec<(ChunkId, f32)>> {
        let Some(space) = self.active_space()? else {
            return Ok(Vec::new());
        };
        self.nearest_in_by(&space, query, limit, Search::Approximate { min_items })
    }
}
