//! A vector space's vectors: 8-bit quantized, with a 1-bit code per vector for the coarse pass
//! of a search, all in the LMDB environment and written in the transaction of their chunk.
//!
//! Why not a tree ANN (arroy, until this layout): its vectors were stored as f32, 2 KB each at
//! 512 dimensions, so LMDB gave each its own 4 KB overflow page and the split planes as many
//! again (1.3 GB of LMDB for 244k chunks); its trees took a build pass over every vector; and
//! on these vectors (half of a static vector is hashed features, far from clustered) reading
//! 1,600 candidates found 18% of the exact top 10. Here a chunk costs `dim + 8` bytes of
//! quantized vector plus `dim / 8` bytes of code, and a search reads every code:
//!
//! - **quantized** (database `vector_values`, key `space · block`, in blocks of consecutive ids:
//!   see `vector_blocks.rs`): `[norm f32][qnorm f32][dim × i8]`, each component scaled so the
//!   largest is ±127. Cosine needs no scale (`dot(q, v̂) / |q||v̂|` with `v̂` the stored bytes);
//!   `norm` restores the vector's length when it is read back.
//! - **codes** (database `vector_codes`, key `space · page`): pages of [`PAGE_SLOTS`] ids, each
//!   value a bitmap of the live slots then one code per slot: the signs of the unit vector
//!   minus the space's mean. Ids are handed out in order, so a bulk write fills whole pages and
//!   a search reads a page in one zero-copy slice of the memory map.
//! - **mean** (database `vector_means`, key `space`): the mean unit vector the codes are
//!   centred on, and how many vectors the space held when it was taken. Signs of centred vectors
//!   split the space evenly; uncentred, most bits would agree for every vector. The first write
//!   into a space takes the mean of its vectors; [`Store::build_vectors`] takes it again, and
//!   rewrites every code, once the space has doubled or halved since.
//!
//! A search ranks every live code by Hamming distance to the query's, keeps the best
//! `candidates`, and re-scores those exactly from their quantized vectors. Spaces of up to
//! [`EXACT_UP_TO`] vectors are scanned exactly instead.

use std::cmp::Ordering;
use std::collections::{BTreeSet, BinaryHeap, HashMap};

use heed::types::Bytes;
use heed::{RoTxn, RwTxn, WithoutTls};

use crate::error::Context;
use crate::vector_blocks::{BlockShape, OpenBlock, StoredBlock};
use crate::{ACTIVE_SPACE, ChunkId, Result, Snapshot, SpaceRecord, Store};

/// Ids per code page. 1,024 codes of 512 bits are 64 KB: one read per page, and a one-file
/// save rewrites one page.
const PAGE_SLOTS: u32 = 1024;
const LIVE_BYTES: usize = PAGE_SLOTS as usize / 8;
/// Spaces up to this size are scanned exactly: it costs about what the coarse pass and its
/// re-scoring would.
pub(crate) const EXACT_UP_TO: u64 = 4096;
/// Candidates a search re-scores exactly after ranking the codes (see `codexos bench` for the
/// recall this buys against an exact scan).
pub(crate) const DEFAULT_CANDIDATES: usize = 640;
const COUNT_PREFIX: &str = "vector_count/";

type Values = heed::Database<'static, Bytes, Bytes>;

/// The three databases of [`Store`] that hold vectors.
#[derive(Clone, Copy)]
pub(crate) struct VectorDbs {
    pub(crate) values: Values,
    pub(crate) codes: Values,
    pub(crate) means: Values,
    /// Vectors of removed chunks by content (`space · content key` → generation, quantized
    /// vector), for [`crate::Store::reuse_vectors`].
    pub(crate) cache: Values,
}

/// Vectors of removed chunks kept, at most: this many, or as many as the space holds.
const KEPT_AT_LEAST: u64 = 20_000;

fn cache_key(space: u16, content: &[u8; 16]) -> [u8; 18] {
    let mut key = [0; 18];
    key[..2].copy_from_slice(&space.to_be_bytes());
    key[2..].copy_from_slice(content);
    key
}

fn value_key(space: u16, id: ChunkId) -> [u8; 6] {
    let mut key = [0; 6];
    key[..2].copy_from_slice(&space.to_be_bytes());
    key[2..].copy_from_slice(&id.to_be_bytes());
    key
}

fn id_of_key(key: &[u8]) -> Option<ChunkId> {
    Some(ChunkId::from_be_bytes(key.get(2..6)?.try_into().ok()?))
}

fn page_key(space: u16, page: u32) -> [u8; 6] {
    value_key(space, page)
}

fn count_key(space: u16) -> String {
    format!("{COUNT_PREFIX}{space}")
}

/// Bytes of one code: one bit per dimension, rounded up to whole 64-bit words.
fn code_bytes(dim: usize) -> usize {
    dim.div_ceil(64) * 8
}

fn page_bytes(dim: usize) -> usize {
    LIVE_BYTES + PAGE_SLOTS as usize * code_bytes(dim)
}

/// `vector` quantized: `[norm][qnorm][bytes]`.
fn quantize(vector: &[f32]) -> Vec<u8> {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    let largest = vector.iter().fold(0f32, |max, x| max.max(x.abs()));
    let scale = if largest > 0.0 && largest.is_finite() {
        127.0 / largest
    } else {
        0.0
    };
    let mut out = Vec::with_capacity(8 + vector.len());
    out.extend_from_slice(&[0; 8]);
    let mut squares = 0i64;
    for x in vector {
        // `as` saturates, and NaN becomes 0.
        let byte = (x * scale).round().clamp(-127.0, 127.0) as i8;
        squares += i64::from(byte) * i64::from(byte);
        out.push(byte as u8);
    }
    let qnorm = (squares as f64).sqrt() as f32;
    out[..4].copy_from_slice(&norm.to_le_bytes());
    out[4..8].copy_from_slice(&qnorm.to_le_bytes());
    out
}

/// A stored vector, read in place.
struct Quantized<'a> {
    norm: f32,
    qnorm: f32,
    bytes: &'a [u8],
}

impl<'a> Quantized<'a> {
    fn parse(value: &'a [u8], dim: usize) -> Option<Self> {
        if value.len() != 8 + dim {
            return None;
        }
        Some(Self {
            norm: f32::from_le_bytes(value[..4].try_into().ok()?),
            qnorm: f32::from_le_bytes(value[4..8].try_into().ok()?),
            bytes: &value[8..],
        })
    }

    fn vector(&self) -> Vec<f32> {
        let scale = if self.qnorm > 0.0 {
            self.norm / self.qnorm
        } else {
            0.0
        };
        self.bytes
            .iter()
            .map(|&byte| f32::from(byte as i8) * scale)
            .collect()
    }

    fn unit(&self) -> impl Iterator<Item = f32> + '_ {
        let scale = if self.qnorm > 0.0 {
            1.0 / self.qnorm
        } else {
            0.0
        };
        self.bytes
            .iter()
            .map(move |&byte| f32::from(byte as i8) * scale)
    }

    /// Cosine similarity with `query`, whose norm is `query_norm`; 0 for a zero vector.
    fn cosine(&self, query: &[f32], query_norm: f32) -> f32 {
        let denominator = query_norm * self.qnorm;
        if denominator <= 0.0 {
            return 0.0;
        }
        let dot: f32 = query
            .iter()
            .zip(self.bytes)
            .map(|(q, &byte)| q * f32::from(byte as i8))
            .sum();
        dot / denominator
    }
}

/// The code of a unit vector: a bit per dimension, set where it lies above the mean.
fn code_of(unit: impl Iterator<Item = f32>, mean: &[f32], words: usize) -> Vec<u64> {
    let mut code = vec![0u64; words];
    for (dimension, (x, m)) in unit
        .zip(mean.iter().chain(std::iter::repeat(&0.0)))
        .enumerate()
    {
        if x > *m {
            code[dimension / 64] |= 1 << (dimension % 64);
        }
    }
    code
}

fn unit_of(vector: &[f32]) -> Vec<f32> {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 && norm.is_finite() {
        vector.iter().map(|x| x / norm).collect()
    } else {
        vec![0.0; vector.len()]
    }
}

/// The mean a space's codes are centred on.
struct Mean {
    /// Vectors in the space when the mean was taken.
    taken_at: u64,
    values: Vec<f32>,
}

impl Mean {
    fn encode(&self) -> Vec<u8> {
        let mut out = self.taken_at.to_le_bytes().to_vec();
        for value in &self.values {
            out.extend_from_slice(&value.to_le_bytes());
        }
        out
    }

    fn decode(bytes: &[u8], dim: usize) -> Option<Self> {
        if bytes.len() != 8 + 4 * dim {
            return None;
        }
        Some(Self {
            taken_at: u64::from_le_bytes(bytes[..8].try_into().ok()?),
            values: bytes[8..]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        })
    }

    /// Whether the space has grown or shrunk enough since that the codes deserve a new mean.
    fn is_stale(&self, count: u64) -> bool {
        count > 0
            && (count >= self.taken_at.saturating_mul(2) || count.saturating_mul(2) < self.taken_at)
    }
}

/// One space's vectors, for reading and writing inside a transaction.
pub(crate) struct SpaceVectors {
    dbs: VectorDbs,
    counters: crate::Counters,
    space: u16,
    dim: usize,
    shape: BlockShape,
}

impl SpaceVectors {
    pub(crate) fn new(store: &Store, space: &SpaceRecord) -> Self {
        Self {
            dbs: store.dbs.vectors,
            counters: store.dbs.counters,
            space: space.index,
            dim: space.dim,
            shape: BlockShape::new(space.dim),
        }
    }

    /// The stored block `block`, if any.
    fn block<'t>(
        &self,
        txn: &'t RoTxn<'_, WithoutTls>,
        block: u32,
    ) -> heed::Result<Option<StoredBlock<'t>>> {
        self.dbs
            .values
            .get(txn, &value_key(self.space, block))?
            .map(|bytes| StoredBlock::parse(bytes, self.shape))
            .transpose()
    }

    /// Calls `each` with every vector of the space, in id order.
    fn for_each<'t>(
        &self,
        txn: &'t RoTxn<'_, WithoutTls>,
        mut each: impl FnMut(ChunkId, Quantized<'t>),
    ) -> heed::Result<()> {
        for entry in self
            .dbs
            .values
            .prefix_iter(txn, &self.space.to_be_bytes())?
        {
            let (key, bytes) = entry?;
            let Some(block) = id_of_key(key) else {
                continue;
            };
            for (slot, value) in StoredBlock::parse(bytes, self.shape)?.iter() {
                let (Some(id), Some(quantized)) = (
                    self.shape.id(block, slot),
                    Quantized::parse(value, self.dim),
                ) else {
                    return Err(heed::Error::Decoding(
                        format!("vector block {block} of space {} is damaged", self.space).into(),
                    ));
                };
                each(id, quantized);
            }
        }
        Ok(())
    }

    fn words(&self) -> usize {
        code_bytes(self.dim) / 8
    }

    pub(crate) fn len(&self, rtxn: &RoTxn<'_, WithoutTls>) -> heed::Result<u64> {
        Ok(self
            .counters
            .get(rtxn, &count_key(self.space))?
            .unwrap_or(0))
    }

    fn mean(&self, rtxn: &RoTxn<'_, WithoutTls>) -> heed::Result<Option<Mean>> {
        Ok(self
            .dbs
            .means
            .get(rtxn, &self.space.to_be_bytes())?
            .and_then(|bytes| Mean::decode(bytes, self.dim)))
    }

    pub(crate) fn vector(
        &self,
        rtxn: &RoTxn<'_, WithoutTls>,
        id: ChunkId,
    ) -> heed::Result<Option<Vec<f32>>> {
        let (block, slot) = self.shape.locate(id);
        Ok(self
            .block(rtxn, block)?
            .and_then(|block| block.get(slot))
            .and_then(|value| Quantized::parse(value, self.dim))
            .map(|quantized| quantized.vector()))
    }

    /// Every vector's id, in order.
    pub(crate) fn ids(&self, rtxn: &RoTxn<'_, WithoutTls>) -> heed::Result<Vec<ChunkId>> {
        let mut ids = Vec::new();
        self.for_each(rtxn, |id, _| ids.push(id))?;
        Ok(ids)
    }

    /// Whether the codes wait for a new mean ([`Store::build_vectors`]).
    pub(crate) fn need_build(&self, rtxn: &RoTxn<'_, WithoutTls>) -> heed::Result<bool> {
        let count = self.len(rtxn)?;
        Ok(match self.mean(rtxn)? {
            Some(mean) => mean.is_stale(count),
            None => count > 0,
        })
    }

    /// The cosine similarity of `query` with each of `ids` that has a vector, in their order.
    pub(crate) fn similarities(
        &self,
        rtxn: &RoTxn<'_, WithoutTls>,
        query: &[f32],
        ids: &[ChunkId],
    ) -> heed::Result<Vec<(ChunkId, f32)>> {
        let query_norm = norm(query);
        let mut out = Vec::with_capacity(ids.len());
        // Ids in order share blocks: each is read once.
        let mut current: Option<(u32, Option<StoredBlock<'_>>)> = None;
        for &id in ids {
            let (block, slot) = self.shape.locate(id);
            if current.as_ref().is_none_or(|(number, _)| *number != block) {
                current = Some((block, self.block(rtxn, block)?));
            }
            if let Some((_, Some(stored))) = &current
                && let Some(quantized) = stored
                    .get(slot)
                    .and_then(|value| Quantized::parse(value, self.dim))
            {
                out.push((id, quantized.cosine(query, query_norm)));
            }
        }
        Ok(out)
    }

    /// The `limit` vectors nearest to `query` by cosine similarity, best first.
    pub(crate) fn nearest(
        &self,
        rtxn: &RoTxn<'_, WithoutTls>,
        query: &[f32],
        limit: usize,
        search: Search,
    ) -> heed::Result<Vec<(ChunkId, f32)>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let candidates = match search {
            Search::Exact => return self.scan(rtxn, query, limit),
            Search::Approximate { candidates } => candidates.max(limit),
        };
        let mean = match self.mean(rtxn)? {
            Some(mean) if self.len(rtxn)? > EXACT_UP_TO.max(candidates as u64) => mean,
            _ => return self.scan(rtxn, query, limit),
        };
        let ids = {
            let _step = tracing::debug_span!("vectors.coarse").entered();
            self.coarse(
                rtxn,
                &code_of(unit_of(query).into_iter(), &mean.values, self.words()),
                candidates,
            )?
        };
        let _step = tracing::debug_span!("vectors.rescore").entered();
        let mut hits = self.similarities(rtxn, query, &ids)?;
        sort_hits(&mut hits);
        hits.truncate(limit);
        Ok(hits)
    }

    /// The `candidates` live ids whose codes are nearest to `query_code` by Hamming distance.
    fn coarse(
        &self,
        rtxn: &RoTxn<'_, WithoutTls>,
        query_code: &[u64],
        candidates: usize,
    ) -> heed::Result<Vec<ChunkId>> {
        let code_len = self.words() * 8;
        let mut nearest = Nearest::new(candidates);
        let cpu = Cpu::detect();
        for entry in self
            .dbs
            .codes
            .prefix_iter(rtxn, &self.space.to_be_bytes())?
        {
            let (key, page) = entry?;
            let Some(page_number) = id_of_key(key) else {
                continue;
            };
            if page.len() != page_bytes(self.dim) {
                continue;
            }
            let (live, codes) = page.split_at(LIVE_BYTES);
            let page = CodePage {
                first_id: page_number * PAGE_SLOTS,
                live,
                codes,
                code_len,
            };
            page.rank_all(query_code, &mut nearest, cpu);
        }
        let best = nearest.best;
        let mut ids: Vec<ChunkId> = best.into_iter().map(|(_, id)| id).collect();
        // Lookups in key order read LMDB's pages in order.
        ids.sort_unstable();
        Ok(ids)
    }

    /// The exact `limit` nearest by a scan of every quantized vector.
    fn scan(
        &self,
        rtxn: &RoTxn<'_, WithoutTls>,
        query: &[f32],
        limit: usize,
    ) -> heed::Result<Vec<(ChunkId, f32)>> {
        let query_norm = norm(query);
        let mut best: BinaryHeap<Scored> = BinaryHeap::with_capacity(limit + 1);
        self.for_each(rtxn, |id, quantized| {
            best.push(Scored {
                similarity: quantized.cosine(query, query_norm),
                id,
            });
            if best.len() > limit {
                best.pop();
            }
        })?;
        let mut hits: Vec<(ChunkId, f32)> = best
            .into_iter()
            .map(|scored| (scored.id, scored.similarity))
            .collect();
        sort_hits(&mut hits);
        Ok(hits)
    }

    /// Drops every vector, code and the mean of this space.
    pub(crate) fn clear(&self, wtxn: &mut RwTxn<'_>) -> heed::Result<()> {
        let prefix = self.space.to_be_bytes();
        for db in [self.dbs.values, self.dbs.codes, self.dbs.cache] {
            delete_prefix(db, wtxn, &prefix)?;
        }
        self.dbs.means.delete(wtxn, &prefix)?;
        self.counters.delete(wtxn, &count_key(self.space))?;
        Ok(())
    }

    /// Takes the mean again and rewrites every code when the space has doubled or halved
    /// since it was taken (or never had one). Returns whether it did.
    pub(crate) fn build(&self, wtxn: &mut RwTxn<'_>) -> heed::Result<bool> {
        let evicted = self.evict_kept(wtxn)?;
        if !self.need_build(wtxn)? {
            return Ok(evicted);
        }
        let count = self.len(wtxn)?;
        let mut sum = vec![0f64; self.dim];
        self.for_each(wtxn, |_, quantized| {
            for (total, x) in sum.iter_mut().zip(quantized.unit()) {
                *total += f64::from(x);
            }
        })?;
        let mean = Mean {
            taken_at: count,
            values: sum
                .iter()
                .map(|total| (total / count.max(1) as f64) as f32)
                .collect(),
        };
        self.rewrite_codes(wtxn, &mean)?;
        self.dbs
            .means
            .put(wtxn, &self.space.to_be_bytes(), &mean.encode())?;
        Ok(true)
    }

    /// Drops the oldest vectors kept for reuse while there are more than the space holds (and
    /// more than [`KEPT_AT_LEAST`]). Returns whether it dropped any.
    fn evict_kept(&self, wtxn: &mut RwTxn<'_>) -> heed::Result<bool> {
        let limit = self.len(wtxn)?.max(KEPT_AT_LEAST);
        let prefix = self.space.to_be_bytes();
        let mut kept: Vec<(u64, Vec<u8>)> = Vec::new();
        for entry in self.dbs.cache.prefix_iter(wtxn, &prefix)? {
            let (key, value) = entry?;
            let generation = value
                .get(..8)
                .and_then(|bytes| bytes.try_into().ok())
                .map_or(0, u64::from_le_bytes);
            kept.push((generation, key.to_vec()));
        }
        if kept.len() as u64 <= limit {
            return Ok(false);
        }
        kept.sort_unstable();
        let excess = kept.len() - limit as usize;
        for (_, key) in &kept[..excess] {
            self.dbs.cache.delete(wtxn, key)?;
        }
        Ok(true)
    }

    fn rewrite_codes(&self, wtxn: &mut RwTxn<'_>, mean: &Mean) -> heed::Result<()> {
        let words = self.words();
        let mut pages: HashMap<u32, Vec<u8>> = HashMap::new();
        self.for_each(wtxn, |id, quantized| {
            let page = pages
                .entry(id / PAGE_SLOTS)
                .or_insert_with(|| vec![0; page_bytes(self.dim)]);
            set_slot(
                page,
                id % PAGE_SLOTS,
                Some(&code_of(quantized.unit(), &mean.values, words)),
            );
        })?;
        delete_prefix(self.dbs.codes, wtxn, &self.space.to_be_bytes())?;
        for (page, bytes) in &pages {
            self.dbs
                .codes
                .put(wtxn, &page_key(self.space, *page), bytes)?;
        }
        Ok(())
    }
}

/// Deletes every entry of `db` whose key starts with `prefix` (one space's).
/// The `candidates` codes nearest to a query so far: a max-heap of (distance, id) whose top is
/// the worst one kept.
struct Nearest {
    best: BinaryHeap<(u32, ChunkId)>,
    candidates: usize,
    worst: u32,
}

impl Nearest {
    fn new(candidates: usize) -> Nearest {
        Nearest {
            best: BinaryHeap::with_capacity(candidates + 1),
            candidates,
            worst: u32::MAX,
        }
    }

    /// Whether a code at `distance` would be kept (before its id is looked at).
    #[inline(always)]
    fn would_keep(&self, distance: u32) -> bool {
        distance < self.worst || self.best.len() < self.candidates
    }

    #[inline(always)]
    fn offer(&mut self, distance: u32, id: ChunkId) {
        if self.would_keep(distance) {
            self.best.push((distance, id));
            if self.best.len() > self.candidates {
                self.best.pop();
            }
            if self.best.len() == self.candidates {
                self.worst = self.best.peek().map_or(u32::MAX, |top| top.0);
            }
        }
    }
}

/// One page of codes: a bit per slot saying it is live, then each slot's code.
struct CodePage<'p> {
    first_id: ChunkId,
    live: &'p [u8],
    codes: &'p [u8],
    code_len: usize,
}

impl CodePage<'_> {
    /// Offers every live code's Hamming distance to `query_code` to `nearest`, with the widest
    /// instructions this CPU has.
    fn rank_all(&self, query_code: &[u64], nearest: &mut Nearest, cpu: Cpu) {
        match cpu {
            // SAFETY: the CPU has AVX-512F, AVX-512 VPOPCNTDQ and POPCNT (checked by `Cpu::detect`).
            Cpu::Avx512 => unsafe { self.rank_with_avx512(query_code, nearest) },
            // SAFETY: the CPU has POPCNT (checked by `Cpu::detect`).
            Cpu::Popcnt => unsafe { self.rank_with_popcnt(query_code, nearest) },
            Cpu::Baseline => self.rank(query_code, nearest),
        }
    }

    /// The code widths of the embedders in use (256, 384, 512 and 768 dimensions) get a loop of
    /// their exact width, which the compiler unrolls and vectorises; others the general loop.
    #[inline(always)]
    fn rank(&self, query_code: &[u64], nearest: &mut Nearest) {
        match query_code.len() {
            4 => self.rank_words::<4>(query_code, nearest),
            6 => self.rank_words::<6>(query_code, nearest),
            8 => self.rank_words::<8>(query_code, nearest),
            12 => self.rank_words::<12>(query_code, nearest),
            _ => self.rank_any(query_code, nearest),
        }
    }

    /// Every slot's distance, dead or live: a branch per slot costs more than the distance,
    /// and the live bit is read only for a distance good enough to be kept.
    #[inline(always)]
    fn rank_words<const WORDS: usize>(&self, query_code: &[u64], nearest: &mut Nearest) {
        let Ok(query) = <&[u64; WORDS]>::try_from(query_code) else {
            return self.rank_any(query_code, nearest);
        };
        for (slot, code) in self.codes.chunks_exact(WORDS * 8).enumerate() {
            let mut distance = 0;
            for (word, query) in code.chunks_exact(8).zip(query) {
                let word = u64::from_le_bytes(word.try_into().unwrap_or_default());
                distance += (word ^ query).count_ones();
            }
            if nearest.would_keep(distance)
                && self
                    .live
                    .get(slot / 8)
                    .is_some_and(|byte| byte & (1 << (slot % 8)) != 0)
            {
                nearest.offer(distance, self.first_id + slot as u32);
            }
        }
    }

    #[inline(always)]
    fn rank_any(&self, query_code: &[u64], nearest: &mut Nearest) {
        for (byte_index, &live_byte) in self.live.iter().enumerate() {
            let mut bits = live_byte;
            while bits != 0 {
                let slot = byte_index * 8 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let Some(code) = self
                    .codes
                    .get(slot * self.code_len..(slot + 1) * self.code_len)
                else {
                    continue;
                };
                let distance: u32 = code
                    .chunks_exact(8)
                    .zip(query_code)
                    .map(|(word, query)| {
                        let word = u64::from_le_bytes(word.try_into().unwrap_or_default());
                        (word ^ query).count_ones()
                    })
                    .sum();
                nearest.offer(distance, self.first_id + slot as u32);
            }
        }
    }

    /// [`CodePage::rank`] compiled with the POPCNT instruction: x86-64's baseline has none, so
    /// `count_ones` is otherwise a dozen instructions, and this loop is most of a vector
    /// search.
    ///
    /// # Safety
    /// The CPU must have POPCNT.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "popcnt")]
    unsafe fn rank_with_popcnt(&self, query_code: &[u64], nearest: &mut Nearest) {
        self.rank(query_code, nearest);
    }

    /// [`CodePage::rank`] compiled for AVX-512 with VPOPCNTDQ: a 512-bit code is one register,
    /// XORed and counted in two instructions (1M codes: 1.8 ms instead of 2.3 with POPCNT on
    /// the development machine, where the scan is then bound by memory).
    ///
    /// # Safety
    /// The CPU must have AVX-512F, AVX-512 VPOPCNTDQ and POPCNT.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512vpopcntdq,popcnt")]
    unsafe fn rank_with_avx512(&self, query_code: &[u64], nearest: &mut Nearest) {
        self.rank(query_code, nearest);
    }

    #[cfg(not(target_arch = "x86_64"))]
    unsafe fn rank_with_popcnt(&self, query_code: &[u64], nearest: &mut Nearest) {
        self.rank(query_code, nearest);
    }

    #[cfg(not(target_arch = "x86_64"))]
    unsafe fn rank_with_avx512(&self, query_code: &[u64], nearest: &mut Nearest) {
        self.rank(query_code, nearest);
    }
}

/// The instructions [`CodePage::rank_all`] may use here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cpu {
    Avx512,
    Popcnt,
    Baseline,
}

impl Cpu {
    fn detect() -> Cpu {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512vpopcntdq")
                && std::arch::is_x86_feature_detected!("popcnt")
            {
                return Cpu::Avx512;
            }
            if std::arch::is_x86_feature_detected!("popcnt") {
                return Cpu::Popcnt;
            }
        }
        Cpu::Baseline
    }
}

fn delete_prefix(db: Values, wtxn: &mut RwTxn<'_>, prefix: &[u8]) -> heed::Result<()> {
    let mut entries = db.prefix_iter_mut(wtxn, prefix)?;
    while entries.next().transpose()?.is_some() {
        // SAFETY: the entry is not held across the deletion (heed's requirement).
        unsafe { entries.del_current()? };
    }
    Ok(())
}

/// Sets (`Some(code)`) or clears (`None`) one slot of a code page.
fn set_slot(page: &mut [u8], slot: u32, code: Option<&[u64]>) {
    let slot = slot as usize;
    let bit = 1u8 << (slot % 8);
    match code {
        Some(code) => {
            page[slot / 8] |= bit;
            let code_len = code.len() * 8;
            let start = LIVE_BYTES + slot * code_len;
            for (chunk, word) in page[start..start + code_len].chunks_exact_mut(8).zip(code) {
                chunk.copy_from_slice(&word.to_le_bytes());
            }
        }
        None => page[slot / 8] &= !bit,
    }
}

/// The vectors one transaction writes into a space: values at once, code pages gathered and
/// written by [`VectorWriter::finish`] (a bulk batch touches a page many times).
pub(crate) struct VectorWriter {
    space: SpaceVectors,
    mean: Option<Vec<f32>>,
    pages: HashMap<u32, Vec<u8>>,
    /// The value blocks this transaction changes, written by [`VectorWriter::finish`].
    blocks: HashMap<u32, OpenBlock>,
    /// Vectors added minus vectors deleted.
    count_change: i64,
    /// Vectors of this batch while the space has no mean yet: the first mean is theirs.
    first: Vec<(ChunkId, Vec<f32>)>,
}

impl VectorWriter {
    pub(crate) fn open(
        store: &Store,
        txn: &RoTxn<'_, WithoutTls>,
        space: &SpaceRecord,
    ) -> Result<Self> {
        let space = SpaceVectors::new(store, space);
        let mean = space.mean(txn).at(&store.dir)?.map(|mean| mean.values);
        Ok(Self {
            space,
            mean,
            pages: HashMap::new(),
            blocks: HashMap::new(),
            count_change: 0,
            first: Vec::new(),
        })
    }

    fn page<'p>(
        pages: &'p mut HashMap<u32, Vec<u8>>,
        space: &SpaceVectors,
        txn: &RoTxn<'_, WithoutTls>,
        page: u32,
    ) -> heed::Result<&'p mut Vec<u8>> {
        match pages.entry(page) {
            std::collections::hash_map::Entry::Occupied(entry) => Ok(entry.into_mut()),
            std::collections::hash_map::Entry::Vacant(entry) => {
                let bytes = match space.dbs.codes.get(txn, &page_key(space.space, page))? {
                    Some(bytes) if bytes.len() == page_bytes(space.dim) => bytes.to_vec(),
                    _ => vec![0; page_bytes(space.dim)],
                };
                Ok(entry.insert(bytes))
            }
        }
    }

    /// The block `block` as this transaction sees it, read once.
    fn open_block<'b>(
        blocks: &'b mut HashMap<u32, OpenBlock>,
        space: &SpaceVectors,
        txn: &RoTxn<'_, WithoutTls>,
        block: u32,
    ) -> heed::Result<&'b mut OpenBlock> {
        match blocks.entry(block) {
            std::collections::hash_map::Entry::Occupied(entry) => Ok(entry.into_mut()),
            std::collections::hash_map::Entry::Vacant(entry) => {
                let open = match space.block(txn, block)? {
                    Some(stored) => OpenBlock::from_stored(&stored, space.shape),
                    None => OpenBlock::new(space.shape),
                };
                Ok(entry.insert(open))
            }
        }
    }

    pub(crate) fn add_item(
        &mut self,
        wtxn: &mut RwTxn<'_>,
        id: ChunkId,
        vector: &[f32],
    ) -> heed::Result<()> {
        let (block, slot) = self.space.shape.locate(id);
        let open = Self::open_block(&mut self.blocks, &self.space, wtxn, block)?;
        if open.set(slot, &quantize(vector)) {
            self.count_change += 1;
        }
        match &self.mean {
            Some(mean) => {
                let code = code_of(unit_of(vector).into_iter(), mean, self.space.words());
                let page = Self::page(&mut self.pages, &self.space, wtxn, id / PAGE_SLOTS)?;
                set_slot(page, id % PAGE_SLOTS, Some(&code));
            }
            None => self.first.push((id, unit_of(vector))),
        }
        Ok(())
    }

    /// Deletes `id`'s vector; returns whether it existed.
    pub(crate) fn del_item(&mut self, wtxn: &mut RwTxn<'_>, id: ChunkId) -> heed::Result<bool> {
        let (block, slot) = self.space.shape.locate(id);
        if !Self::open_block(&mut self.blocks, &self.space, wtxn, block)?.clear(slot) {
            return Ok(false);
        }
        self.count_change -= 1;
        let page = Self::page(&mut self.pages, &self.space, wtxn, id / PAGE_SLOTS)?;
        set_slot(page, id % PAGE_SLOTS, None);
        Ok(true)
    }

    /// Deletes `id`'s vector and keeps it under `content` for [`VectorWriter::take_kept`].
    pub(crate) fn del_item_keeping(
        &mut self,
        wtxn: &mut RwTxn<'_>,
        id: ChunkId,
        content: &[u8; 16],
        generation: u64,
    ) -> heed::Result<()> {
        let (block, slot) = self.space.shape.locate(id);
        let open = Self::open_block(&mut self.blocks, &self.space, wtxn, block)?;
        let Some(value) = open.get(slot).map(<[u8]>::to_vec) else {
            return Ok(());
        };
        let mut kept = generation.to_le_bytes().to_vec();
        kept.extend_from_slice(&value);
        self.space
            .dbs
            .cache
            .put(wtxn, &cache_key(self.space.space, content), &kept)?;
        self.del_item(wtxn, id).map(drop)
    }

    /// Gives `id` the vector kept under `content`, if any (and forgets it there).
    pub(crate) fn take_kept(
        &mut self,
        wtxn: &mut RwTxn<'_>,
        id: ChunkId,
        content: &[u8; 16],
    ) -> heed::Result<bool> {
        let key = cache_key(self.space.space, content);
        let Some(kept) = self.space.dbs.cache.get(wtxn, &key)?.map(<[u8]>::to_vec) else {
            return Ok(false);
        };
        let Some(vector) = kept
            .get(8..)
            .and_then(|value| Quantized::parse(value, self.space.dim))
            .map(|quantized| quantized.vector())
        else {
            return Ok(false);
        };
        self.space.dbs.cache.delete(wtxn, &key)?;
        self.add_item(wtxn, id, &vector)?;
        Ok(true)
    }

    /// Writes the code pages and the count; the first vectors of a space give it its mean.
    pub(crate) fn finish(mut self, wtxn: &mut RwTxn<'_>) -> heed::Result<()> {
        if !self.first.is_empty() {
            let mut mean = vec![0f32; self.space.dim];
            for (_, unit) in &self.first {
                for (total, x) in mean.iter_mut().zip(unit) {
                    *total += x;
                }
            }
            let count = self.first.len() as f32;
            mean.iter_mut().for_each(|total| *total /= count);
            let first = std::mem::take(&mut self.first);
            for (id, unit) in &first {
                let code = code_of(unit.iter().copied(), &mean, self.space.words());
                let page = Self::page(&mut self.pages, &self.space, wtxn, id / PAGE_SLOTS)?;
                set_slot(page, id % PAGE_SLOTS, Some(&code));
            }
            let record = Mean {
                taken_at: first.len() as u64,
                values: mean,
            };
            self.space
                .dbs
                .means
                .put(wtxn, &self.space.space.to_be_bytes(), &record.encode())?;
        }
        for (block, open) in &self.blocks {
            let key = value_key(self.space.space, *block);
            if open.is_empty() {
                self.space.dbs.values.delete(wtxn, &key)?;
            } else {
                self.space.dbs.values.put(wtxn, &key, &open.encode())?;
            }
        }
        for (page, bytes) in &self.pages {
            let key = page_key(self.space.space, *page);
            if bytes[..LIVE_BYTES].iter().all(|&byte| byte == 0) {
                self.space.dbs.codes.delete(wtxn, &key)?;
            } else {
                self.space.dbs.codes.put(wtxn, &key, bytes)?;
            }
        }
        if self.count_change != 0 {
            let key = count_key(self.space.space);
            let count = self.space.counters.get(wtxn, &key)?.unwrap_or(0);
            let count = count.saturating_add_signed(self.count_change);
            self.space.counters.put(wtxn, &key, &count)?;
        }
        Ok(())
    }
}

/// How a nearest-neighbour search reads the vectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Search {
    /// Codes first, then the best `candidates` re-scored exactly; an exact scan for a space
    /// of up to [`EXACT_UP_TO`] vectors (or no more than `candidates`).
    Approximate { candidates: usize },
    /// A scan of every vector.
    Exact,
}

impl Search {
    /// What searches use.
    pub(crate) const DEFAULT: Self = Self::Approximate {
        candidates: DEFAULT_CANDIDATES,
    };
}

fn sort_hits(hits: &mut [(ChunkId, f32)]) {
    hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
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

fn norm(vector: &[f32]) -> f32 {
    vector.iter().map(|x| x * x).sum::<f32>().sqrt()
}

impl Store {
    /// Re-centres the codes of the active and upgrade spaces when they have doubled or halved
    /// since their mean was taken (the end of a bulk run), in one transaction. Cheap when
    /// nothing changed that much, so it is fine to call after every write. Returns whether it
    /// rewrote any codes.
    pub fn build_vectors(&self) -> Result<bool> {
        let _guard = self.lock_for_writing("building the vector index")?;
        let mut wtxn = self.env.write_txn().at(&self.dir)?;
        let Some(space) = self.dbs.info.get(&wtxn, ACTIVE_SPACE).at(&self.dir)? else {
            return Ok(false);
        };
        let built = SpaceVectors::new(self, &space)
            .build(&mut wtxn)
            .at(&self.dir)?;
        if built {
            wtxn.commit().at(&self.dir)?;
        }
        Ok(built)
    }

    /// Whether the active space's codes wait for [`Store::build_vectors`] (searches still
    /// work, with codes centred on an older mean).
    pub fn vectors_need_build(&self) -> Result<bool> {
        let rtxn = self.env.read_txn().at(&self.dir)?;
        let Some(space) = self.dbs.info.get(&rtxn, ACTIVE_SPACE).at(&self.dir)? else {
            return Ok(false);
        };
        SpaceVectors::new(self, &space)
            .need_build(&rtxn)
            .at(&self.dir)
    }

    /// The ids of the vectors in the space recorded under `key` (none when there is no such space).
    pub(crate) fn vector_ids(
        &self,
        txn: &RoTxn<'_, WithoutTls>,
        key: &str,
    ) -> Result<BTreeSet<ChunkId>> {
        let Some(space) = self.dbs.info.get(txn, key).at(&self.dir)? else {
            return Ok(BTreeSet::new());
        };
        Ok(SpaceVectors::new(self, &space)
            .ids(txn)
            .at(&self.dir)?
            .into_iter()
            .collect())
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
        self.nearest_in_by(&space, query, limit, Search::Exact)
    }

    /// [`Snapshot::nearest`] re-scoring `candidates` vectors found by their codes instead of
    /// the default: the recall/latency trade-off, for benchmarks.
    pub fn nearest_comparing(
        &self,
        query: &[f32],
        limit: usize,
        candidates: usize,
    ) -> Result<Vec<(ChunkId, f32)>> {
        let Some(space) = self.active_space()? else {
            return Ok(Vec::new());
        };
        self.nearest_in_by(&space, query, limit, Search::Approximate { candidates })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift: the same pseudo-random codes on every run.
    fn codes(seed: u64, count: usize) -> Vec<u64> {
        let mut state = seed | 1;
        (0..count)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            })
            .collect()
    }

    fn ranked(rank: impl Fn(&mut Nearest)) -> Vec<(u32, u32)> {
        let mut nearest = Nearest::new(40);
        rank(&mut nearest);
        nearest.best.into_sorted_vec()
    }

    #[test]
    fn every_instruction_set_ranks_the_live_codes_as_the_general_loop_does() {
        for words in [4, 6, 8, 12, 5] {
            let mut page = vec![0u8; LIVE_BYTES + PAGE_SLOTS as usize * words * 8];
            for (slot, code) in codes(words as u64, PAGE_SLOTS as usize * words)
                .chunks_exact(words)
                .enumerate()
            {
                // Every third slot is dead: its stale code must never be offered.
                set_slot(&mut page, slot as u32, Some(code));
                if slot.is_multiple_of(3) {
                    set_slot(&mut page, slot as u32, None);
                }
            }
            let (live, code_bytes) = page.split_at(LIVE_BYTES);
            let page = CodePage {
                first_id: 5 * PAGE_SLOTS,
                live,
                codes: code_bytes,
                code_len: words * 8,
            };
            let query = codes(99, words);
            let expected = ranked(|nearest| page.rank_any(&query, nearest));
            assert_eq!(expected.len(), 40);
            assert!(
                expected
                    .iter()
                    .all(|(_, id)| !(id - 5 * PAGE_SLOTS).is_multiple_of(3))
            );
            for cpu in [Cpu::Baseline, Cpu::Popcnt, Cpu::Avx512] {
                if cpu == Cpu::Avx512 && Cpu::detect() != Cpu::Avx512
                    || cpu == Cpu::Popcnt && Cpu::detect() == Cpu::Baseline
                {
                    continue;
                }
                let found = ranked(|nearest| page.rank_all(&query, nearest, cpu));
                assert_eq!(found, expected, "{cpu:?}, {words} words");
            }
        }
    }
}
