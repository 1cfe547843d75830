//! The team's shared base index on Chroma (`[index.shared]`, `codexos index --publish`).
//!
//! **Publishing** (CI on the main branch) writes the chunks of the files `HEAD` tracks, with
//! their text, place and vector, into the collection of the index's vector space. Records are
//! keyed by [`codexos_shared::chunk_id`], so a publish after a merge sends only the chunks that
//! are new and deletes only those that are gone; the collection's `base_commit` is written last.
//!
//! **Searching** with a base: git lists what differs from the base commit (`git diff
//! --name-only BASE` and untracked files, [`ChangedSince`]). Those paths are the overlay: their
//! chunks come from the local index only (modified and added files as they are now, deleted
//! ones from nowhere), every other path from the base. The base answers two lists — its
//! nearest vectors, and the nearest among chunks containing the query's most specific word
//! (Chroma's full-text `$contains` filters but does not rank, so this is a keyword filter
//! ranked by meaning, not BM25) — and the local index its usual hybrid list. The lists are
//! fused by reciprocal rank: their scores live on different scales (a cosine against a
//! BM25-and-vector fusion reranked), so only ranks are comparable.
//!
//! Anything wrong with the base — the server down or slower than `timeout_ms`, nothing
//! published, a base commit this clone does not have — and the search answers from the local
//! index alone, with a notice naming the URL and the error ([`WorkspaceIndex::shared_notice`]).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use codexos_embed::Embedder;
use codexos_index::{IndexSettings, SearchMode};
use codexos_shared::{BaseFilter, BaseHit, Chroma, ChunkMetadata, Collection, PublishedChunk};

use super::commits::{ChangedSince, clean_head};
use super::{SearchHit, SearchQuery, WorkspaceIndex, WorkspaceIndexError, embedders, lock};

pub use codexos_shared::{SharedError, SharedUrl};

/// How long a request to the shared server may take by default.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// Publishing sends large batches: it waits longer than a search would.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(120);
/// Reciprocal rank fusion's constant (Cormack et al.): damps the weight of the very top ranks.
const RRF_K: f32 = 60.0;

/// What `codexos index --publish` did.
#[derive(Clone, Debug, PartialEq)]
pub struct PublishSummary {
    /// The collection written (`COLLECTION-<space>`).
    pub collection: String,
    /// The commit the base now holds.
    pub commit: String,
    /// Chunks sent.
    pub new: usize,
    /// Chunks deleted from the base (their file changed or is gone).
    pub removed: usize,
    /// Chunks already there, not sent again.
    pub kept: usize,
    /// Request bodies sent, in bytes.
    pub bytes_sent: u64,
    pub elapsed: Duration,
}

/// The `[index.shared]` server of a workspace.
pub(crate) struct SharedBase {
    chroma: Chroma,
}

impl SharedBase {
    /// The base `settings` name, or why it cannot be used (a bad URL: said on every search).
    pub(crate) fn from_settings(settings: &IndexSettings) -> Option<Result<SharedBase, String>> {
        let table = settings.shared.as_ref()?;
        if let Some(reason) = &settings.shared_refused {
            return Some(Err(format!("codexos.toml names {}: {reason}", table.url)));
        }
        let timeout = table
            .timeout_ms
            .map_or(DEFAULT_TIMEOUT, Duration::from_millis);
        Some(
            connect(&table.url, timeout)
                .map(|chroma| SharedBase { chroma })
                .map_err(|error| error.to_string()),
        )
    }

    /// The base's collection for `embedder`'s space and what changed here since its commit.
    fn resolve(
        &self,
        root: &Path,
        embedder: &dyn Embedder,
    ) -> Result<(Collection, ChangedSince), String> {
        let space = embedder.space().key();
        let collection = self
            .chroma
            .open_collection(&space)
            .map_err(|error| error.to_string())?
            .ok_or_else(|| format!("nothing is published there for the vector space `{space}`"))?;
        let commit = collection
            .base_commit
            .clone()
            .ok_or_else(|| format!("{} has no base commit yet", collection.name))?;
        let changed = ChangedSince::resolve(root, &commit).map_err(|error| {
            format!("{error} (the base's commit: fetch it, e.g. `git fetch origin`)")
        })?;
        Ok((collection, changed))
    }

    fn url(&self) -> &str {
        &self.chroma.url().url
    }
}

fn connect(url: &str, timeout: Duration) -> Result<Chroma, SharedError> {
    Chroma::new(url.parse::<SharedUrl>()?, timeout)
}

impl WorkspaceIndex {
    /// What went wrong with the shared base on the last search, if anything: that search
    /// answered from the local index alone.
    pub fn shared_notice(&self) -> Option<String> {
        lock(&self.shared_notice).clone()
    }

    fn set_shared_notice(&self, notice: Option<String>) {
        let mut current = lock(&self.shared_notice);
        if let Some(notice) = &notice
            && current.as_ref() != Some(notice)
        {
            tracing::warn!(root = %self.root.display(), "{notice}");
        }
        *current = notice;
    }

    /// A search through the shared base, or `None` (with the notice set) when the base cannot
    /// answer and the caller searches locally.
    pub(super) fn search_with_base(
        &self,
        query: &SearchQuery,
    ) -> Result<Option<Vec<SearchHit>>, WorkspaceIndexError> {
        let Some(base) = &self.shared else {
            return Ok(None);
        };
        let base = match base {
            Ok(base) => base,
            Err(reason) => {
                self.set_shared_notice(Some(format!(
                    "shared index: {reason}; searching the local index only"
                )));
                return Ok(None);
            }
        };
        let degraded = |reason: String| {
            self.set_shared_notice(Some(format!(
                "shared index {}: {reason}; searching the local index only",
                base.url()
            )));
            Ok(None)
        };
        let embedder = match self.base_embedder() {
            Ok(embedder) => embedder,
            Err(reason) => return degraded(reason),
        };
        let (collection, changed) = match base.resolve(&self.root, embedder.as_ref()) {
            Ok(resolved) => resolved,
            Err(reason) => return degraded(reason),
        };
        let lists = match self.base_lists(base, &collection, embedder.as_ref(), &changed, query) {
            Ok(lists) => lists,
            Err(reason) => return degraded(reason),
        };
        let local = self.search_local(query, Some(&changed))?;
        self.set_shared_notice(None);
        let mut all = vec![local];
        all.extend(lists);
        Ok(Some(fuse(all, query)))
    }

    /// The embedder whose space the base is read in: the local index's, or the configured one
    /// when the local index holds no vectors yet (a fresh clone).
    fn base_embedder(&self) -> Result<Arc<dyn Embedder>, String> {
        self.query_embedder().or_else(|_| {
            embedders::select(None, &self.settings.embedder).map(|selected| selected.embedder)
        })
    }

    /// The base's ranked lists for `query`: by vector, and by vector among the chunks holding
    /// the query's most specific word, as the mode asks.
    fn base_lists(
        &self,
        base: &SharedBase,
        collection: &Collection,
        embedder: &dyn Embedder,
        changed: &ChangedSince,
        query: &SearchQuery,
    ) -> Result<Vec<Vec<SearchHit>>, String> {
        let vector = embedder
            .embed_query(&query.query)
            .map_err(|error| format!("cannot embed the query: {error}"))?;
        let glob = query
            .paths
            .as_deref()
            .map(|glob| globset::Glob::new(glob).map(|glob| glob.compile_matcher()))
            .transpose()
            .map_err(|error| format!("path glob: {error}"))?;
        // Room for what the glob and the one-hit-per-file collapse drop afterwards.
        let wanted = if glob.is_some() || query.files {
            query.k * 4
        } else {
            query.k
        };
        let mut filter = BaseFilter {
            exclude_paths: changed.paths().map(str::to_owned).collect(),
            language: query.language.clone(),
            contains: None,
        };
        let mut lists = Vec::new();
        if query.mode != SearchMode::Bm25 {
            lists.push(
                base.chroma
                    .query(collection, &vector, wanted, &filter)
                    .map_err(|error| error.to_string())?,
            );
        }
        if query.mode != SearchMode::Vector
            && let Some(word) = specific_word(&query.query)
        {
            filter.contains = Some(word.to_owned());
            lists.push(
                base.chroma
                    .query(collection, &vector, wanted, &filter)
                    .map_err(|error| error.to_string())?,
            );
        }
        Ok(lists
            .into_iter()
            .map(|hits| {
                hits.into_iter()
                    .filter(|hit| !changed.lists(&hit.meta.path))
                    .filter(|hit| {
                        glob.as_ref()
                            .is_none_or(|glob| glob.is_match(&hit.meta.path))
                    })
                    .map(base_hit)
                    .collect()
            })
            .collect())
    }

    /// Brings the local index's overlay up to the files that differ from the base: each such
    /// file re-indexed (unchanged content costs a hash), each deleted one removed. What a
    /// fresh clone needs before its first search — a handful of files, not the repository.
    /// `None` (with the notice set) when the base cannot say what changed.
    pub fn sync_overlay(&self) -> Result<Option<usize>, WorkspaceIndexError> {
        let Some(Ok(base)) = &self.shared else {
            return Ok(None);
        };
        let embedder = self
            .base_embedder()
            .map_err(|detail| WorkspaceIndexError::Embedder {
                root: self.root.clone(),
                detail,
            })?;
        let changed = match base.resolve(&self.root, embedder.as_ref()) {
            Ok((_, changed)) => changed,
            Err(reason) => {
                self.set_shared_notice(Some(format!(
                    "shared index {}: {reason}; searching the local index only",
                    base.url()
                )));
                return Ok(None);
            }
        };
        let mut synced = 0;
        for path in changed.paths() {
            let outcome = if self.root.join(path).is_file() {
                self.refresh_file(Path::new(path), None)
            } else {
                self.remove_file(Path::new(path))
            };
            match outcome {
                Ok(_) => synced += 1,
                Err(error) => tracing::info!("overlay {path}: {error}"),
            }
        }
        Ok(Some(synced))
    }

    /// Publishes what this index holds of the files `HEAD` tracks to `url`
    /// (`chroma://HOST:PORT/COLLECTION`): only the chunks the base lacks are sent, the ones it
    /// no longer needs are deleted, then the base commit is recorded. Run after
    /// [`WorkspaceIndex::index_all`] on a clean checkout.
    pub fn publish(&self, url: &str) -> Result<PublishSummary, WorkspaceIndexError> {
        let started = Instant::now();
        let shared_error = |source| WorkspaceIndexError::Shared {
            root: self.root.clone(),
            source,
        };
        let chroma = connect(url, PUBLISH_TIMEOUT).map_err(shared_error)?;
        let (commit, tracked) =
            clean_head(&self.root).map_err(|source| WorkspaceIndexError::Commit {
                root: self.root.clone(),
                source,
            })?;
        let store = self.store();
        let space = store
            .space()
            .map_err(|e| self.error(e.into()))?
            .ok_or_else(|| WorkspaceIndexError::NotBuilt {
                root: self.root.clone(),
            })?;
        let snapshot = store.snapshot().map_err(|e| self.error(e.into()))?;
        // Every chunk of a tracked file, by its shared id (the same chunk twice is one record).
        let mut local: HashMap<String, (ChunkMetadata, u32)> = HashMap::new();
        for (path, record) in store.files().map_err(|e| self.error(e.into()))? {
            if !tracked.contains(&path) {
                continue;
            }
            for chunk_id in record.chunk_ids {
                let (Some(meta), Some(text)) = (
                    snapshot.chunk(chunk_id).map_err(|e| self.error(e.into()))?,
                    snapshot
                        .chunk_text(chunk_id)
                        .map_err(|e| self.error(e.into()))?,
                ) else {
                    continue;
                };
                let id = codexos_shared::chunk_id(
                    &meta.path,
                    meta.start_line,
                    meta.end_line,
                    &meta.symbol,
                    &meta.language,
                    &text,
                );
                let metadata = ChunkMetadata {
                    path: meta.path,
                    start_line: meta.start_line,
                    end_line: meta.end_line,
                    symbol: meta.symbol,
                    language: meta.language,
                    commit: meta.commit.or_else(|| Some(commit.clone())),
                    chunk_hash: id.clone(),
                };
                local.insert(id, (metadata, chunk_id));
            }
        }
        let collection = chroma.create_collection(&space.id).map_err(shared_error)?;
        let remote = chroma.ids(&collection).map_err(shared_error)?;
        let removed: Vec<String> = remote
            .iter()
            .filter(|id| !local.contains_key(*id))
            .cloned()
            .collect();
        let mut new: Vec<&(ChunkMetadata, u32)> = local
            .iter()
            .filter(|(id, _)| !remote.contains(*id))
            .map(|(_, chunk)| chunk)
            .collect();
        // Files together, in order: a publish that stops halfway leaves whole files behind.
        new.sort_by(|a, b| (&a.0.path, a.0.start_line).cmp(&(&b.0.path, b.0.start_line)));
        let mut sent = 0;
        for batch in new.chunks(codexos_shared::BATCH) {
            let mut chunks = Vec::with_capacity(batch.len());
            for (meta, chunk_id) in batch {
                let text = snapshot
                    .chunk_text(*chunk_id)
                    .map_err(|e| self.error(e.into()))?
                    .unwrap_or_default();
                let Some(vector) = snapshot
                    .vector(*chunk_id)
                    .map_err(|e| self.error(e.into()))?
                else {
                    continue; // not embedded yet: the next publish sends it
                };
                chunks.push(PublishedChunk {
                    meta: meta.clone(),
                    text,
                    vector,
                });
            }
            sent += chunks.len();
            chroma.add(&collection, &chunks).map_err(shared_error)?;
        }
        chroma.delete(&collection, &removed).map_err(shared_error)?;
        chroma
            .set_base_commit(&collection, &commit)
            .map_err(shared_error)?;
        Ok(PublishSummary {
            collection: collection.name,
            commit,
            new: sent,
            removed: removed.len(),
            kept: local.len() - new.len(),
            bytes_sent: chroma.bytes_sent(),
            elapsed: started.elapsed(),
        })
    }
}

fn base_hit(hit: BaseHit) -> SearchHit {
    SearchHit {
        path: hit.meta.path,
        start_line: hit.meta.start_line,
        end_line: hit.meta.end_line,
        score: hit.similarity,
        symbol: hit.meta.symbol,
        text: hit.text,
    }
}

/// The query's word most likely to pick out the chunks that name it: the longest identifier-like
/// one of at least three characters (`retry_payment` over `the`).
fn specific_word(query: &str) -> Option<&str> {
    query
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|word| word.chars().count() >= 3)
        .max_by_key(|word| word.chars().count())
}

/// Reciprocal rank fusion of ranked lists: a hit scores the sum of `1 / (RRF_K + rank)` over
/// the lists that hold it (a chunk is its path and lines), best first; one hit per file when
/// the query asks for files.
fn fuse(lists: Vec<Vec<SearchHit>>, query: &SearchQuery) -> Vec<SearchHit> {
    let mut fused: Vec<SearchHit> = Vec::new();
    let mut at: HashMap<(String, u32, u32), usize> = HashMap::new();
    for list in lists {
        for (rank, hit) in list.into_iter().enumerate() {
            let score = 1.0 / (RRF_K + rank as f32 + 1.0);
            let key = (hit.path.clone(), hit.start_line, hit.end_line);
            match at.get(&key) {
                Some(&index) => fused[index].score += score,
                None => {
                    at.insert(key, fused.len());
                    fused.push(SearchHit { score, ..hit });
                }
            }
        }
    }
    fused.sort_by(|a, b| b.score.total_cmp(&a.score));
    if query.files {
        let mut seen = HashSet::new();
        fused.retain(|hit| seen.insert(hit.path.clone()));
    }
    fused.truncate(query.k);
    fused
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(path: &str, line: u32) -> SearchHit {
        SearchHit {
            path: path.to_owned(),
            start_line: line,
            end_line: line,
            score: 0.0,
            symbol: String::new(),
            text: String::new(),
        }
    }

    #[test]
    fn a_hit_found_by_two_lists_outranks_the_top_of_one() {
        let lists = vec![
            vec![hit("local.rs", 1), hit("base.rs", 5)],
            vec![hit("other.rs", 1), hit("base.rs", 5)],
        ];
        let fused = fuse(lists, &SearchQuery::new("q"));
        let order: Vec<&str> = fused.iter().map(|hit| hit.path.as_str()).collect();
        assert_eq!(order, ["base.rs", "local.rs", "other.rs"]);
    }

    #[test]
    fn files_keeps_each_files_best_chunk() {
        let lists = vec![vec![hit("a.rs", 1), hit("a.rs", 9), hit("b.rs", 1)]];
        let query = SearchQuery {
            files: true,
            ..SearchQuery::new("q")
        };
        let fused = fuse(lists, &query);
        let kept: Vec<(&str, u32)> = fused
            .iter()
            .map(|hit| (hit.path.as_str(), hit.start_line))
            .collect();
        assert_eq!(kept, [("a.rs", 1), ("b.rs", 1)]);
    }

    #[test]
    fn the_most_specific_word_is_the_longest_identifier() {
        assert_eq!(
            specific_word("where is retry_payment done"),
            Some("retry_payment")
        );
        assert_eq!(specific_word("a b"), None);
    }
}
