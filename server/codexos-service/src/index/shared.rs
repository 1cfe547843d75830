//! The team's shared base index on Chroma (`[index.shared]`, `codexos index --publish`).
//!
//! **Publishing** (CI on the main branch) writes the chunks of the files `HEAD` tracks, with
//! their text, place and vector, into the collection of the index's vector space. Records are
//! keyed by [`codexos_shared::chunk_id`], so a publish after a merge sends only the chunks that
//! are new and deletes only those that are gone. Beside them go the base's BM25 statistics:
//! the document frequencies of its terms (`…-terms`, those in two documents or more), each
//! file's term counts (`…-files`), and the chunk and file counts and average lengths in the
//! collection's metadata with `base_commit`, written last. Only frequencies and files that
//! changed are sent.
//!
//! **Searching** with a base: git lists what differs from the base commit (`git diff
//! --name-only BASE` and untracked files, [`ChangedSince`]). Those paths are the overlay: their
//! chunks come from the local index only (modified and added files as they are now, deleted
//! ones from nowhere), every other path from the base. The base brings its nearest chunks and
//! the nearest among those holding one of the query's rarest terms (by the published
//! frequencies); with files, the term counts of the candidates' files and of the files holding
//! those terms whole. Every candidate, base or overlay, is then scored alike
//! (`base_rank.rs`): BM25 under the base's statistics, cosine in its space, fused as the local
//! hybrid search fuses.
//!
//! Why not Chroma's own lexical search: `chroma run` (1.5) refuses sparse vector indexes ("not
//! enabled in local") and its `/search` endpoint ("not implemented for local executor");
//! `$contains` filters case-sensitively and does not rank. A filter alone, ranked by meaning,
//! took the base's MRR on the ripgrep commit queries to 0.55 where local search has 0.70.
//! Fetching a whole BM25 index (tantivy files) would cost a fresh clone a download of a few
//! percent of the code base before its first search; the statistics cost a request.
//!
//! Anything wrong with the base — the server down or slower than `timeout_ms`, nothing
//! published, a base commit this clone does not have — and the search answers from the local
//! index alone, with a notice naming the URL and the error ([`WorkspaceIndex::shared_notice`]).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use codexos_embed::Embedder;
use codexos_index::{FileOutcome, IndexSettings, IndexSummary, SearchMode};
use codexos_shared::{
    BaseFilter, BaseHit, Chroma, ChunkMetadata, Collection, PublishedChunk, PublishedFile, Side,
};

use super::base_rank::{
    Bm25, Candidate, Corpus, Counts, StatsBuilder, chunk_fields, distinct_terms, file_fields, rank,
};
use super::commits::{ChangedSince, clean_head};
use super::{SearchHit, SearchQuery, WorkspaceIndex, WorkspaceIndexError, embedders, lock};

pub use codexos_shared::{SharedError, SharedUrl};

/// How long a request to the shared server may take by default.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// Publishing sends large batches: it waits longer than a search would.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(120);
/// Chunks each base list brings: as many as a local search takes from each of its lists.
pub(super) const CANDIDATES: usize = 100;
/// How many of the query's rarest terms pick the base's lexical candidates.
const RARE_TERMS: usize = 3;
/// The most terms a chunk's or a file's list holds: `chroma run` (1.5) fails to store a
/// metadata list of about 8,000 items, and a write it failed stays in the collection's log,
/// failing every later one. A long file lists its rarest terms, the ones a query looks up.
const LISTED_TERMS: usize = 4000;
/// Base files whose whole text a search with files scores, beyond its chunks' files: as many
/// as a local search takes from its whole-file BM25 list.
const FILE_CANDIDATES: usize = 100;

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
    /// BM25 document frequencies written or deleted (only those that changed).
    pub terms_sent: usize,
    /// Files' term documents written or deleted (only those of changed files).
    pub files_sent: usize,
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
        let vector = match embedder.embed_query(&query.query) {
            Ok(vector) => vector,
            Err(error) => return degraded(format!("cannot embed the query: {error}")),
        };
        let ranked = match self.rank_with_base(base, &collection, &vector, &changed, query) {
            Ok(ranked) => ranked,
            Err(BaseFailure::Base(reason)) => return degraded(reason),
            Err(BaseFailure::Local(error)) => return Err(error),
        };
        self.set_shared_notice(None);
        Ok(Some(ranked))
    }

    /// Base and overlay candidates ranked together (see `base_rank.rs`).
    fn rank_with_base(
        &self,
        base: &SharedBase,
        collection: &Collection,
        vector: &[f32],
        changed: &ChangedSince,
        query: &SearchQuery,
    ) -> Result<Vec<SearchHit>, BaseFailure> {
        let lexical = collection.lexical.ok_or_else(|| {
            format!(
                "{} was published without BM25 statistics (publish it again)",
                collection.name
            )
        })?;
        let chroma = &base.chroma;
        let frequencies = match chroma.side_collection(collection, Side::Terms, false)? {
            Some(terms) => chroma.document_frequencies(&terms, &Bm25::term_ids(&query.query))?,
            None => HashMap::new(),
        };
        let bm25 = Bm25::new(&query.query, Corpus::Chunks, &lexical, &frequencies);
        // The base's candidates come over the network while the local index finds the
        // overlay's.
        let (candidates, overlay) = std::thread::scope(|scope| {
            let base = scope
                .spawn(|| self.base_candidates(base, collection, vector, changed, query, &bm25));
            let overlay = self.overlay_candidates(query, changed, vector);
            let base = base
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (base, overlay)
        });
        let (mut candidates, overlay) = (candidates?, overlay?);
        candidates.extend(overlay.into_iter().map(|(hit, cosine)| Candidate {
            bm25: bm25.score(&chunk_fields(&hit.text, &hit.symbol, &hit.path)),
            hit,
            cosine,
        }));
        let files = if query.files && query.mode != SearchMode::Vector {
            let file_bm25 = Bm25::new(&query.query, Corpus::Files, &lexical, &frequencies);
            self.file_scores(base, collection, changed, query, &candidates, &file_bm25)?
        } else {
            HashMap::new()
        };
        let mut ranked = rank(candidates, &files, query);
        // Files found by their whole text alone show their first chunk.
        let bare: Vec<String> = ranked
            .iter()
            .filter(|hit| hit.start_line == 0)
            .map(|hit| hit.path.clone())
            .collect();
        let mut first: HashMap<String, SearchHit> = HashMap::new();
        let base_bare: Vec<String> = bare
            .iter()
            .filter(|path| !changed.lists(path))
            .cloned()
            .collect();
        for hit in chroma.chunks_of(collection, &base_bare)? {
            let hit = base_hit(hit);
            match first.get(&hit.path) {
                Some(known) if known.start_line <= hit.start_line => {}
                _ => {
                    first.insert(hit.path.clone(), hit);
                }
            }
        }
        for path in bare.iter().filter(|path| changed.lists(path)) {
            if let Some(hit) = self.first_chunk(path)? {
                first.insert(path.clone(), hit);
            }
        }
        for hit in &mut ranked {
            if hit.start_line == 0
                && let Some(chunk) = first.remove(&hit.path)
            {
                *hit = SearchHit {
                    score: hit.score,
                    ..chunk
                };
            }
        }
        ranked.retain(|hit| hit.start_line > 0);
        Ok(ranked)
    }

    /// The whole-file BM25 of the files that may answer: those of the chunk candidates, and
    /// the base's files holding one of the query's rarest terms whole.
    fn file_scores(
        &self,
        base: &SharedBase,
        collection: &Collection,
        changed: &ChangedSince,
        query: &SearchQuery,
        candidates: &[Candidate],
        bm25: &Bm25,
    ) -> Result<HashMap<String, f32>, BaseFailure> {
        let glob = path_glob(query)?;
        let mut scores = HashMap::new();
        let paths: HashSet<&str> = candidates.iter().map(|c| c.hit.path.as_str()).collect();
        for path in paths.iter().filter(|path| changed.lists(path)) {
            let Ok(text) = std::fs::read_to_string(self.root.join(path)) else {
                continue;
            };
            let fields = file_fields(Counts::of(&text), path);
            scores.insert((*path).to_owned(), bm25.score(&fields));
        }
        let Some(files) = base
            .chroma
            .side_collection(collection, Side::Files, false)?
        else {
            return Ok(scores);
        };
        let named: Vec<String> = paths
            .iter()
            .filter(|path| !changed.lists(path))
            .map(|path| (*path).to_owned())
            .collect();
        // A language filter is the chunks' own: files found by their text alone are left out.
        let rarest = match query.language {
            Some(_) => Vec::new(),
            None => bm25.rarest_terms(RARE_TERMS),
        };
        let exclude: Vec<String> = changed.paths().map(str::to_owned).collect();
        for file in base
            .chroma
            .file_terms(&files, &named, &rarest, FILE_CANDIDATES, &exclude)?
        {
            if changed.lists(&file.path)
                || glob.as_ref().is_some_and(|glob| !glob.is_match(&file.path))
            {
                continue;
            }
            let fields = file_fields(Counts::parse(&file.document), &file.path);
            scores.insert(file.path, bm25.score(&fields));
        }
        Ok(scores)
    }

    /// The embedder whose space the base is read in: the local index's, or the configured one
    /// when the local index holds no vectors yet (a fresh clone).
    fn base_embedder(&self) -> Result<Arc<dyn Embedder>, String> {
        self.query_embedder().or_else(|_| {
            embedders::select(None, &self.settings.embedder).map(|selected| selected.embedder)
        })
    }

    /// The base's candidates for `query`, each with its BM25 under the base's statistics and
    /// its cosine: the chunks nearest to the query, and the nearest among those holding one of
    /// the query's rarest terms, as the mode asks.
    fn base_candidates(
        &self,
        base: &SharedBase,
        collection: &Collection,
        vector: &[f32],
        changed: &ChangedSince,
        query: &SearchQuery,
        bm25: &Bm25,
    ) -> Result<Vec<Candidate>, BaseFailure> {
        let glob = path_glob(query)?;
        let filter = BaseFilter {
            exclude_paths: changed.paths().map(str::to_owned).collect(),
            language: query.language.clone(),
            any_term: Vec::new(),
        };
        let rarest = bm25.rarest_terms(RARE_TERMS);
        let rare = BaseFilter {
            any_term: rarest.iter().map(|term| (*term).to_owned()).collect(),
            ..filter.clone()
        };
        // The two lists are independent: the search waits for the slower, not their sum.
        let (nearest, holding) = std::thread::scope(|scope| {
            let nearest = (query.mode != SearchMode::Bm25).then(|| {
                scope.spawn(|| base.chroma.query(collection, vector, CANDIDATES, &filter))
            });
            let holding = (query.mode != SearchMode::Vector && !rarest.is_empty())
                .then(|| base.chroma.query(collection, vector, CANDIDATES, &rare));
            let nearest = nearest.map(|thread| {
                thread
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            });
            (nearest, holding)
        });
        let mut hits = nearest.transpose()?.unwrap_or_default();
        hits.extend(holding.transpose()?.unwrap_or_default());
        Ok(hits
            .into_iter()
            .filter(|hit| !changed.lists(&hit.meta.path))
            .filter(|hit| {
                glob.as_ref()
                    .is_none_or(|glob| glob.is_match(&hit.meta.path))
            })
            .map(|hit| Candidate {
                bm25: bm25.score(&chunk_fields(&hit.text, &hit.meta.symbol, &hit.meta.path)),
                cosine: hit.similarity,
                hit: base_hit(hit),
            })
            .collect())
    }

    /// With a reachable base, brings the local index's overlay up to the files that differ
    /// from the base instead of indexing the workspace: each such file re-indexed (unchanged
    /// content costs a hash), each deleted one removed. What a fresh clone needs before its
    /// first search — a handful of files, not the repository. `None` when there is no base, or
    /// (with the notice set) when the base cannot say what changed: the caller indexes
    /// everything.
    pub(super) fn sync_overlay(&self) -> Result<Option<IndexSummary>, WorkspaceIndexError> {
        let Some(Ok(base)) = &self.shared else {
            return Ok(None);
        };
        let started = Instant::now();
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
                    "shared index {}: {reason}; indexing and searching the local index only",
                    base.url()
                )));
                return Ok(None);
            }
        };
        let mut summary = IndexSummary::default();
        let mut paths: Vec<&str> = changed.paths().collect();
        paths.sort_unstable();
        for path in paths {
            if let Some(error) = self.interrupted() {
                return Err(error);
            }
            summary.files_seen += 1;
            let outcome = if self.root.join(path).is_file() {
                self.refresh_file(Path::new(path), None)
            } else {
                self.remove_file(Path::new(path))
            };
            match outcome {
                Ok(FileOutcome::Indexed { chunks }) => {
                    summary.files_indexed += 1;
                    summary.chunks_written += chunks;
                }
                Ok(FileOutcome::Unchanged) => summary.files_unchanged += 1,
                Ok(FileOutcome::Removed) => summary.files_removed += 1,
                Ok(FileOutcome::Skipped(reason)) => {
                    summary.files_skipped += 1;
                    *summary.skipped_by_reason.entry(reason.label()).or_default() += 1;
                }
                Err(error) => tracing::info!("overlay {path}: {error}"),
            }
        }
        summary.elapsed = started.elapsed();
        summary.searchable_after = summary.elapsed;
        summary.chunked_after = summary.elapsed;
        Ok(Some(summary))
    }

    /// Publishes what this index holds of the files `HEAD` tracks to `url`
    /// (`chroma://HOST:PORT/COLLECTION`): only the chunks the base lacks are sent, the ones it
    /// no longer needs are deleted, then the BM25 statistics and the base commit are recorded.
    /// Run after [`WorkspaceIndex::index_everything`] on a clean checkout.
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
        let mut statistics = StatsBuilder::default();
        // Every tracked file's term document, by path.
        let mut files: HashMap<String, PublishedFile> = HashMap::new();
        for (path, record) in store.files().map_err(|e| self.error(e.into()))? {
            if !tracked.contains(&path) {
                continue;
            }
            let mut body = String::new();
            for chunk_id in record.chunk_ids {
                let (Some(meta), Some(text)) = (
                    snapshot.chunk(chunk_id).map_err(|e| self.error(e.into()))?,
                    snapshot
                        .chunk_text(chunk_id)
                        .map_err(|e| self.error(e.into()))?,
                ) else {
                    continue;
                };
                let chunk = chunk_fields(&text, &meta.symbol, &meta.path);
                statistics.add(Corpus::Chunks, &chunk);
                let terms = distinct_terms(&chunk);
                body.push_str(&text);
                body.push('\n');
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
                    terms,
                };
                local.insert(id, (metadata, chunk_id));
            }
            let fields = file_fields(Counts::of(&body), &path);
            statistics.add(Corpus::Files, &fields);
            let document = fields[0].document();
            let hash = codexos_shared::chunk_id(&path, 0, 0, "file", "", &document);
            let terms = distinct_terms(&fields);
            files.insert(
                path.clone(),
                PublishedFile {
                    path,
                    document,
                    terms,
                    hash,
                },
            );
        }
        let (lexical, frequencies) = statistics.finish();
        for (metadata, _) in local.values_mut() {
            keep_rarest(&mut metadata.terms, &frequencies, "b");
        }
        for file in files.values_mut() {
            keep_rarest(&mut file.terms, &frequencies, "fb");
        }
        let collection = chroma.create_collection(&space.id).map_err(shared_error)?;
        let mut remote = chroma.ids(&collection).map_err(shared_error)?;
        let removed: Vec<String> = remote
            .iter()
            .filter(|id| !local.contains_key(*id))
            .cloned()
            .collect();
        if collection.lexical.is_none() {
            // Published before chunks carried their terms: every chunk is sent again.
            remote.clear();
        }
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
        // The BM25 statistics and files' terms: only what changed is sent.
        let side = |side| {
            chroma
                .side_collection(&collection, side, true)?
                .ok_or_else(|| SharedError::Request {
                    url: url.to_owned(),
                    reason: format!("the {side:?} collection was not created"),
                })
        };
        let terms = side(Side::Terms).map_err(shared_error)?;
        let (changed, gone) = side_changes(
            chroma.side_values(&terms, "df").map_err(shared_error)?,
            frequencies.iter().map(|(id, df)| (id, Value::from(*df))),
        );
        let changed: Vec<(String, u64)> = changed
            .into_iter()
            .map(|id| (id.clone(), frequencies[id]))
            .collect();
        chroma
            .put_document_frequencies(&terms, &changed)
            .map_err(shared_error)?;
        chroma.delete(&terms, &gone).map_err(shared_error)?;
        let terms_sent = changed.len() + gone.len();
        let files_side = side(Side::Files).map_err(shared_error)?;
        let published = chroma.ids(&files_side).map_err(shared_error)?;
        let mut changed: Vec<PublishedFile> = files
            .values()
            .filter(|file| !published.contains(&file.hash))
            .cloned()
            .collect();
        changed.sort_by(|a, b| a.path.cmp(&b.path));
        let wanted: HashSet<&String> = files.values().map(|file| &file.hash).collect();
        let gone: Vec<String> = published
            .into_iter()
            .filter(|id| !wanted.contains(id))
            .collect();
        chroma
            .put_files(&files_side, &changed)
            .map_err(shared_error)?;
        chroma.delete(&files_side, &gone).map_err(shared_error)?;
        let files_sent = changed.len() + gone.len();
        chroma
            .set_base_commit(&collection, &commit, &lexical)
            .map_err(shared_error)?;
        Ok(PublishSummary {
            collection: collection.name,
            commit,
            new: sent,
            removed: removed.len(),
            kept: local.len() - new.len(),
            terms_sent,
            files_sent,
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

/// Keeps the [`LISTED_TERMS`] rarest of `terms` by their document frequency under `prefix`
/// (a term `frequencies` lacks is in one document: rarest), in their order.
fn keep_rarest(terms: &mut Vec<String>, frequencies: &HashMap<String, u64>, prefix: &str) {
    if terms.len() <= LISTED_TERMS {
        return;
    }
    let df = |term: &String| {
        frequencies
            .get(&format!("{prefix}:{term}"))
            .copied()
            .unwrap_or(1)
    };
    let mut by_rarity: Vec<&String> = terms.iter().collect();
    by_rarity.sort_by_key(|term| df(term));
    let kept: HashSet<String> = by_rarity.into_iter().take(LISTED_TERMS).cloned().collect();
    terms.retain(|term| kept.contains(term));
}

/// What a side collection needs written — the ids of `wanted` whose value differs from the
/// `published` one, sorted — and deleted: the published ids not wanted.
fn side_changes<'w>(
    mut published: HashMap<String, Value>,
    wanted: impl Iterator<Item = (&'w String, Value)>,
) -> (Vec<&'w String>, Vec<String>) {
    let mut changed = Vec::new();
    for (id, value) in wanted {
        if published.remove(id) != Some(value) {
            changed.push(id);
        }
    }
    changed.sort_unstable();
    (changed, published.into_keys().collect())
}

/// Why a search through the base failed: the base (the search answers locally, with a notice)
/// or the local index (the search fails).
enum BaseFailure {
    Base(String),
    Local(WorkspaceIndexError),
}

impl From<SharedError> for BaseFailure {
    fn from(error: SharedError) -> Self {
        BaseFailure::Base(error.to_string())
    }
}

impl From<String> for BaseFailure {
    fn from(reason: String) -> Self {
        BaseFailure::Base(reason)
    }
}

impl From<WorkspaceIndexError> for BaseFailure {
    fn from(error: WorkspaceIndexError) -> Self {
        BaseFailure::Local(error)
    }
}

fn path_glob(query: &SearchQuery) -> Result<Option<globset::GlobMatcher>, String> {
    query
        .paths
        .as_deref()
        .map(|glob| globset::Glob::new(glob).map(|glob| glob.compile_matcher()))
        .transpose()
        .map_err(|error| format!("path glob: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_list_keeps_its_rarest_terms() {
        let mut terms: Vec<String> = (0..=LISTED_TERMS).map(|n| format!("t{n}")).collect();
        let frequencies = HashMap::from([("fb:t7".to_owned(), 9)]);
        keep_rarest(&mut terms, &frequencies, "fb");
        assert_eq!(terms.len(), LISTED_TERMS);
        assert!(
            !terms.contains(&"t7".to_owned()),
            "the most common one goes"
        );
    }

    #[test]
    fn a_side_collection_is_sent_what_differs_and_loses_what_is_no_longer_wanted() {
        let published = HashMap::from([
            ("b:kept".to_owned(), Value::from(2)),
            ("b:grown".to_owned(), Value::from(2)),
            ("b:gone".to_owned(), Value::from(5)),
        ]);
        let wanted = [("b:kept", 2), ("b:grown", 3), ("b:new", 2)]
            .map(|(id, df)| (id.to_owned(), Value::from(df)));
        let (changed, gone) =
            side_changes(published, wanted.iter().map(|(id, df)| (id, df.clone())));
        assert_eq!(changed, ["b:grown", "b:new"]);
        assert_eq!(gone, ["b:gone"]);
    }
}
