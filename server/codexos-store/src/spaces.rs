//! The upgrade vector space: a second set of vectors for the same chunks, from a slower and
//! better embedder (the neural model), filled in the background after the fast embedder's
//! vectors made the index searchable.
//!
//! - Its model and dimension are recorded beside the active space's; another model clears it
//!   ([`Store::use_upgrade_space`]), so its vectors never mix with another model's.
//! - It holds vectors only for chunks that exist: [`Store::write`] deletes a replaced or removed
//!   chunk's upgrade vector in the same transaction, and [`Store::write_upgrade_vectors`] skips
//!   chunks that vanished while their vectors were computed. Hence "complete" is a count — as
//!   many upgrade vectors as chunks — once its trees are built ([`Store::build_upgrade_vectors`]).
//! - It is filled in small transactions, so an interrupted upgrade keeps what it wrote and the
//!   next one goes on with [`Store::chunks_missing_upgrade`].

use std::collections::HashSet;

use heed::{RoTxn, RwTxn, WithoutTls};

use crate::error::Context;
use crate::vectors::{Search, SpaceVectors, VectorWriter};
use crate::{
    ACTIVE_SPACE, ChunkId, GENERATION, Result, Snapshot, SpaceChange, SpaceRecord, Store,
    StoreError, UPGRADE_SPACE,
};

/// How far an upgrade space is filled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpgradeCoverage {
    pub space: SpaceRecord,
    /// Chunks with a vector in the upgrade space.
    pub upgraded: u64,
    pub chunks: u64,
    /// Its codes are centred on a current mean ([`Store::build_upgrade_vectors`]).
    pub built: bool,
}

impl UpgradeCoverage {
    /// Every chunk has its vector and the trees are built: searches may read this space.
    pub fn is_complete(&self) -> bool {
        self.upgraded == self.chunks && self.built
    }
}

impl Store {
    /// The upgrade space the index holds, if any.
    pub fn upgrade_space(&self) -> Result<Option<SpaceRecord>> {
        let rtxn = self.env.read_txn().at(&self.dir)?;
        self.dbs.info.get(&rtxn, UPGRADE_SPACE).at(&self.dir)
    }

    /// Makes `space` the upgrade space. Another model's upgrade vectors are dropped (the chunks
    /// and the active space stay), so the upgrade starts over in the new space.
    pub fn use_upgrade_space(&self, space: &str, dim: usize) -> Result<SpaceChange> {
        let _guard = self.lock_for_writing("changing the upgrade vector space")?;
        let mut wtxn = self.env.write_txn().at(&self.dir)?;
        let active = self.active_space_in(&wtxn, "choosing an upgrade space")?;
        let current = self.dbs.info.get(&wtxn, UPGRADE_SPACE).at(&self.dir)?;
        let change = match &current {
            Some(record) if record.id == space && record.dim == dim => {
                return Ok(SpaceChange::Unchanged);
            }
            Some(record) => {
                self.clear_vectors(&mut wtxn, record)?;
                SpaceChange::Replaced {
                    previous: record.id.clone(),
                }
            }
            None => SpaceChange::Created,
        };
        let record = SpaceRecord {
            id: space.to_owned(),
            dim,
            index: active.index.wrapping_add(1),
        };
        // The slot may hold leftovers of a space dropped with an earlier active one.
        self.clear_vectors(&mut wtxn, &record)?;
        self.dbs
            .info
            .put(&mut wtxn, UPGRADE_SPACE, &record)
            .at(&self.dir)?;
        wtxn.commit().at(&self.dir)?;
        if let SpaceChange::Replaced { previous } = &change {
            tracing::info!(index = %self.dir.display(), space, %previous, "upgrade model changed; upgrade vectors dropped");
        }
        Ok(change)
    }

    /// Drops the upgrade space and its vectors (the user turned the upgrade off).
    pub fn drop_upgrade_space(&self) -> Result<()> {
        let _guard = self.lock_for_writing("dropping the upgrade vector space")?;
        let mut wtxn = self.env.write_txn().at(&self.dir)?;
        self.drop_upgrade_in(&mut wtxn)?;
        wtxn.commit().at(&self.dir)
    }

    /// Drops the upgrade space inside `wtxn` (with the active space its chunks belong to).
    pub(crate) fn drop_upgrade_in(&self, wtxn: &mut RwTxn<'_>) -> Result<()> {
        if let Some(record) = self.dbs.info.get(wtxn, UPGRADE_SPACE).at(&self.dir)? {
            self.clear_vectors(wtxn, &record)?;
            self.dbs.info.delete(wtxn, UPGRADE_SPACE).at(&self.dir)?;
        }
        Ok(())
    }

    /// The active space, which writes need.
    pub(crate) fn active_space_in(
        &self,
        txn: &RoTxn<'_, WithoutTls>,
        action: &str,
    ) -> Result<SpaceRecord> {
        self.dbs
            .info
            .get(txn, ACTIVE_SPACE)
            .at(&self.dir)?
            .ok_or_else(|| StoreError::Damaged {
                path: self.dir.clone(),
                message: format!("no vector space chosen before {action} (call use_space)"),
            })
    }

    fn clear_vectors(&self, wtxn: &mut RwTxn<'_>, record: &SpaceRecord) -> Result<()> {
        SpaceVectors::new(self, record).clear(wtxn).at(&self.dir)
    }

    /// Up to `limit` chunks (lowest ids first) that have no vector in the upgrade space
    /// `space`, and how many are missing in all. Empty when `space` is not the upgrade space.
    pub fn chunks_missing_upgrade(&self, space: &str, limit: usize) -> Result<(Vec<ChunkId>, u64)> {
        let rtxn = self.env.read_txn().at(&self.dir)?;
        match self.dbs.info.get(&rtxn, UPGRADE_SPACE).at(&self.dir)? {
            Some(record) if record.id == space => {}
            _ => return Ok((Vec::new(), 0)),
        }
        let upgraded: HashSet<ChunkId> =
            self.vector_ids(&rtxn, UPGRADE_SPACE)?.into_iter().collect();
        let mut missing = Vec::new();
        let mut total = 0;
        for entry in self
            .dbs
            .chunk_metas
            .remap_data_type::<heed::types::DecodeIgnore>()
            .iter(&rtxn)
            .at(&self.dir)?
        {
            let id = entry.at(&self.dir)?.0;
            if !upgraded.contains(&id) {
                total += 1;
                if missing.len() < limit {
                    missing.push(id);
                }
            }
        }
        Ok((missing, total))
    }

    /// Stores upgrade vectors computed for `space` in one transaction, skipping chunks that
    /// were replaced or removed meanwhile. Nothing is written when the upgrade space is no
    /// longer `space` (the model changed while these were computed). Returns how many were kept.
    pub fn write_upgrade_vectors(
        &self,
        space: &str,
        vectors: &[(ChunkId, Vec<f32>)],
    ) -> Result<usize> {
        let _guard = self.lock_for_writing("writing upgrade vectors")?;
        let mut wtxn = self.env.write_txn().at(&self.dir)?;
        let Some(record) = self.dbs.info.get(&wtxn, UPGRADE_SPACE).at(&self.dir)? else {
            return Ok(0);
        };
        if record.id != space {
            return Ok(0);
        }
        let kept = self.put_vectors(&mut wtxn, &record, vectors, |store, wtxn, id| {
            Ok(store
                .dbs
                .chunk_metas
                .get(wtxn, &id)
                .at(&store.dir)?
                .is_some())
        })?;
        wtxn.commit().at(&self.dir)?;
        Ok(kept)
    }

    /// Writes `vectors` into `space` inside `wtxn`, those of the chunks `wanted` accepts, after
    /// checking every dimension. Returns how many were written.
    pub(crate) fn put_vectors(
        &self,
        wtxn: &mut RwTxn<'_>,
        space: &SpaceRecord,
        vectors: &[(ChunkId, Vec<f32>)],
        mut wanted: impl FnMut(&Store, &mut RwTxn<'_>, ChunkId) -> Result<bool>,
    ) -> Result<usize> {
        let mut writer = VectorWriter::open(self, wtxn, space)?;
        let mut kept = 0;
        for (id, vector) in vectors {
            if vector.len() != space.dim {
                return Err(StoreError::WrongDimension {
                    path: format!("chunk {id}"),
                    space: space.id.clone(),
                    expected: space.dim,
                    got: vector.len(),
                });
            }
            if !wanted(self, wtxn, *id)? {
                continue;
            }
            writer.add_item(wtxn, *id, vector).at(&self.dir)?;
            kept += 1;
        }
        writer.finish(wtxn).at(&self.dir)?;
        Ok(kept)
    }

    /// Centres the upgrade space's codes on a current mean (after an upgrade run filled it);
    /// until then searches keep to the active space. Returns whether there was anything to do.
    pub fn build_upgrade_vectors(&self) -> Result<bool> {
        let _guard = self.lock_for_writing("building the upgrade vector index")?;
        let mut wtxn = self.env.write_txn().at(&self.dir)?;
        let Some(record) = self.dbs.info.get(&wtxn, UPGRADE_SPACE).at(&self.dir)? else {
            return Ok(false);
        };
        let built = SpaceVectors::new(self, &record)
            .build(&mut wtxn)
            .at(&self.dir)?;
        if built {
            wtxn.commit().at(&self.dir)?;
        }
        Ok(built)
    }

    /// The count of committed [`Store::write`]s (upgrade vectors do not count): a background
    /// job watches it to step aside while the index is being written.
    pub fn generation(&self) -> Result<u64> {
        let rtxn = self.env.read_txn().at(&self.dir)?;
        Ok(self
            .dbs
            .counters
            .get(&rtxn, GENERATION)
            .at(&self.dir)?
            .unwrap_or(0))
    }

    /// How far the upgrade space is filled, if there is one.
    pub fn upgrade_coverage(&self) -> Result<Option<UpgradeCoverage>> {
        self.snapshot()?.upgrade_coverage()
    }
}

impl Snapshot<'_> {
    fn view(&self, space: &SpaceRecord) -> SpaceVectors {
        SpaceVectors::new(self.store, space)
    }

    /// How far the upgrade space is filled in this snapshot, if there is one.
    pub fn upgrade_coverage(&self) -> Result<Option<UpgradeCoverage>> {
        let Some(space) = self
            .store
            .dbs
            .info
            .get(&self.rtxn, UPGRADE_SPACE)
            .at(&self.store.dir)?
        else {
            return Ok(None);
        };
        let view = self.view(&space);
        let built = !view.need_build(&self.rtxn).at(&self.store.dir)?;
        let upgraded = view.len(&self.rtxn).at(&self.store.dir)?;
        let chunks = self
            .store
            .dbs
            .chunk_metas
            .len(&self.rtxn)
            .at(&self.store.dir)?;
        Ok(Some(UpgradeCoverage {
            space,
            upgraded,
            chunks,
            built,
        }))
    }

    /// The space a search should read: the upgrade space when it is `upgrade` (the model the
    /// caller can embed queries with) and complete, otherwise the active space.
    pub fn best_space(&self, upgrade: Option<&str>) -> Result<Option<SpaceRecord>> {
        if let Some(upgrade) = upgrade
            && let Some(space) = self.complete_upgrade_space()?
            && space.id == upgrade
        {
            return Ok(Some(space));
        }
        self.store
            .dbs
            .info
            .get(&self.rtxn, ACTIVE_SPACE)
            .at(&self.store.dir)
    }

    /// The upgrade space if it is complete (cheap: counts, no scan).
    fn complete_upgrade_space(&self) -> Result<Option<SpaceRecord>> {
        Ok(self
            .upgrade_coverage()?
            .filter(|coverage| coverage.is_complete() && coverage.chunks > 0)
            .map(|coverage| coverage.space))
    }

    /// A chunk's vector in `space`.
    pub fn vector_in(&self, space: &SpaceRecord, id: ChunkId) -> Result<Option<Vec<f32>>> {
        self.view(space).vector(&self.rtxn, id).at(&self.store.dir)
    }

    /// The cosine similarity of `query` with each of `ids` that has a vector in `space`, in
    /// the order of `ids`: what a search asks for its lexical candidates, so the space's
    /// index is opened once for all of them.
    pub fn similarities_in(
        &self,
        space: &SpaceRecord,
        query: &[f32],
        ids: &[ChunkId],
    ) -> Result<Vec<(ChunkId, f32)>> {
        check_query(space, query)?;
        self.view(space)
            .similarities(&self.rtxn, query, ids)
            .at(&self.store.dir)
    }

    /// The `limit` chunks of `space` nearest to `query`, with their cosine similarity.
    /// `query` must have the space's dimension.
    pub fn nearest_in(
        &self,
        space: &SpaceRecord,
        query: &[f32],
        limit: usize,
    ) -> Result<Vec<(ChunkId, f32)>> {
        self.nearest_in_by(space, query, limit, Search::DEFAULT)
    }

    pub(crate) fn nearest_in_by(
        &self,
        space: &SpaceRecord,
        query: &[f32],
        limit: usize,
        search: Search,
    ) -> Result<Vec<(ChunkId, f32)>> {
        check_query(space, query)?;
        self.view(space)
            .nearest(&self.rtxn, query, limit, search)
            .at(&self.store.dir)
    }
}

fn check_query(space: &SpaceRecord, query: &[f32]) -> Result<()> {
    if query.len() == space.dim {
        Ok(())
    } else {
        Err(StoreError::WrongDimension {
            path: "<query>".into(),
            space: space.id.clone(),
            expected: space.dim,
            got: query.len(),
        })
    }
}
