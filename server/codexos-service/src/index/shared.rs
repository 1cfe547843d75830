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
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use codexos_embed::Embedder;
use codexos_index::{FileOutcome, FusionParams, IndexSettings, IndexSummary, Progress, SearchMode};
use codexos_shared::{
    BaseHit, Chroma, ChunkMetadata, Collection, PublishedChunk, PublishedFile, Side,
};
use codexos_store::{ChunkMeta, Snapshot, SpaceRecord};

use super::base_rank::{
    Bm25, Candidate, Corpus, Counts, StatsBuilder, chunk_fields, distinct_terms, file_fields, rank,
};
use super::commits::{ChangedSince, clean_head, head_state, tracked_files};
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
/// Base files holding the query's rarest terms that a search scores by their whole text: as
/// many as a local search takes from its whole-file BM25 list.
const FILE_CANDIDATES: usize = 100;
/// The best of those by whole-file BM25 whose chunks are lexical candidates, chunked here from
/// the working tree (~2 ms a file): Chroma's local server takes 0.1–0.5 s to filter 360,000
/// chunks by their terms.
const LEXICAL_FILES: usize = 20;
/// The largest base file a search chunks (tree-sitter parses ~7 MB/s: a generated file of a
/// few MB would cost a query a second). A larger one is still ranked by its whole text and, as
/// a hit, shows its first lines.
const CHUNKED_FILE_BYTES: u64 = 256 * 1024;
/// The lines a hit on an unchunked base file shows.
const HEAD_LINES: u32 = 40;

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
    /// The neural upgrade space's collection and what it was sent, when the space is complete
    /// here (`codexos index --upgrade --publish`).
    pub upgrade: Option<(String, SpaceSent)>,
    /// BM25 document frequencies written or deleted (only those that changed).
    pub terms_sent: usize,
    /// Files' term documents written or deleted (only those of changed files).
    pub files_sent: usize,
    /// Request bodies sent, in bytes.
    pub bytes_sent: u64,
    pub elapsed: Duration,
}

/// The shared base searches read (`codexos index --status`).
#[derive(Clone, Debug, PartialEq)]
pub struct BaseStatus {
    pub url: String,
    /// The collection whose vectors searches read.
    pub collection: String,
    /// The commit the base holds.
    pub commit: String,
    /// The vector space searches read the base in: the neural upgrade's once complete here
    /// and published, else the embedder's.
    pub space: String,
    /// Files the local index answers for (changed since the base's commit, untracked, or
    /// re-indexed one by one).
    pub overlay_files: usize,
}

/// What the lexical side of a search through the base starts from.
struct LexicalLists<'a> {
    /// The query's terms rarest in the base's files.
    rarest: &'a [&'a str],
    bm25: &'a Bm25,
    file_bm25: &'a Bm25,
}

/// What the lexical side of a search through the base found (`lexical_side`).
struct LexicalSide {
    holding: Vec<(String, f32)>,
    chunked: HashMap<String, Vec<(ChunkMeta, String)>>,
    candidates: Vec<Candidate>,
}

/// What one vector space's collection was sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpaceSent {
    pub new: usize,
    pub removed: usize,
    pub kept: usize,
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

    /// The base's collection for `embedder`'s space, with its base commit.
    fn collection(&self, embedder: &dyn Embedder) -> Result<(Collection, String), String> {
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
        Ok((collection, commit))
    }

    fn url(&self) -> &str {
        &self.chroma.url().url
    }
}

/// What a search through the base needs besides the query: the base's collections and what
/// git lists as changed here since the base's commit. Asking git costs a walk of the tree
/// (~0.1 s at 20,000 files), so a view is kept while its key holds — the same base commit,
/// `HEAD` and git index file — and files changed one by one meanwhile join the overlay
/// through [`WorkspaceIndex`]'s `touched` set instead.
pub(crate) struct BaseView {
    key: ViewKey,
    /// The collection whose vectors the search reads, and the embedder of its space.
    collection: Collection,
    embedder: Arc<dyn Embedder>,
    /// Whether that is the neural upgrade's space (the local search's weights for it apply).
    upgraded: bool,
    /// The BM25 statistics, beside the embedder's collection.
    terms: Option<Collection>,
    files: Option<Collection>,
    changed: Arc<ChangedSince>,
    /// The files git tracks here: the only ones the base may answer for. Its records name
    /// paths; one naming a file git ignores here (`.env`) is not read from the working tree.
    tracked: HashSet<String>,
}

#[derive(Clone, Debug, PartialEq)]
struct ViewKey {
    collection: String,
    /// The space the base is read in.
    space: String,
    base_commit: String,
    head: Option<(String, Option<SystemTime>)>,
}

/// The files the local index answers for in a search through the base: those git listed as
/// changed since the base's commit or untracked, and those re-indexed or removed one by one
/// since (the local index holds what they are now).
pub(crate) struct Overlay {
    changed: Arc<ChangedSince>,
    touched: HashSet<String>,
}

impl Overlay {
    pub(crate) fn lists(&self, path: &str) -> bool {
        self.changed.lists(path) || self.touched.contains(path)
    }

    fn is_empty(&self) -> bool {
        self.changed.paths().next().is_none() && self.touched.is_empty()
    }

    fn paths(&self) -> impl Iterator<Item = &str> {
        self.changed
            .paths()
            .chain(self.touched.iter().map(String::as_str))
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

    /// The base's view: the last one while its key holds, else resolved again (git asked what
    /// changed since the base's commit). Its vectors are read in the space the local search
    /// reads — the neural upgrade's once complete here, when the base holds it at the same
    /// commit — else in `embedder`'s, whose collection holds the BM25 statistics.
    fn base_view(
        &self,
        base: &SharedBase,
        embedder: Arc<dyn Embedder>,
    ) -> Result<Arc<BaseView>, String> {
        let (primary, base_commit) = base.collection(embedder.as_ref())?;
        let store = self.store();
        let complete_here = store
            .upgrade_coverage()
            .is_ok_and(|coverage| coverage.is_some_and(|coverage| coverage.is_complete()));
        let upgraded = self
            .query_upgrade(store)
            .filter(|upgrade| complete_here && upgrade.space().key() != embedder.space().key())
            .and_then(|upgrade| match base.collection(upgrade.as_ref()) {
                Ok((collection, commit)) if commit == base_commit => Some((collection, upgrade)),
                _ => None,
            });
        let key = ViewKey {
            collection: upgraded
                .as_ref()
                .map_or(&primary, |(collection, _)| collection)
                .id
                .clone(),
            space: upgraded
                .as_ref()
                .map_or(embedder.as_ref(), |(_, upgrade)| upgrade.as_ref())
                .space()
                .key(),
            base_commit,
            head: head_state(&self.root),
        };
        if let Some(view) = lock(&self.base_view).as_ref()
            && view.key == key
            && key.head.is_some()
        {
            return Ok(view.clone());
        }
        let _step = tracing::debug_span!("base.resolve").entered();
        let changed = ChangedSince::resolve(&self.root, &key.base_commit).map_err(|error| {
            format!("{error} (the base's commit: fetch it, e.g. `git fetch origin`)")
        })?;
        let tracked = tracked_files(&self.root)
            .map_err(|error| format!("cannot list the files git tracks: {error}"))?;
        let side = |side| {
            base.chroma
                .side_collection(&primary, side, false)
                .map_err(|error| error.to_string())
        };
        let (terms, files) = (side(Side::Terms)?, side(Side::Files)?);
        let (collection, embedder, upgraded) = match upgraded {
            Some((collection, upgrade)) => (collection, upgrade, true),
            None => (primary, embedder, false),
        };
        let view = Arc::new(BaseView {
            key,
            collection,
            embedder,
            upgraded,
            terms,
            files,
            changed: Arc::new(changed),
            tracked,
        });
        *lock(&self.base_view) = Some(view.clone());
        Ok(view)
    }

    /// The base searches read now, or why they cannot (they answer locally); `None` without
    /// `[index.shared]`.
    pub(super) fn base_status(&self) -> Option<Result<BaseStatus, String>> {
        let base = match self.shared.as_ref()? {
            Ok(base) => base,
            Err(reason) => return Some(Err(reason.clone())),
        };
        let view = self
            .base_embedder()
            .and_then(|embedder| self.base_view(base, embedder));
        Some(view.map(|view| {
            let overlay = self.overlay(&view);
            let overlay: HashSet<&str> = overlay.paths().collect();
            BaseStatus {
                url: base.url().to_owned(),
                collection: view.collection.name.clone(),
                commit: view.key.base_commit.clone(),
                space: view.key.space.clone(),
                overlay_files: overlay.len(),
            }
        }))
    }

    /// What the local index answers for in a search through `view`.
    fn overlay(&self, view: &BaseView) -> Overlay {
        Overlay {
            changed: view.changed.clone(),
            touched: lock(&self.touched).clone(),
        }
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
            // Whatever failed may have been the view's (a collection created again): the next
            // search resolves it afresh.
            lock(&self.base_view).take();
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
        let view = match self.base_view(base, embedder) {
            Ok(view) => view,
            Err(reason) => return degraded(reason),
        };
        let overlay = self.overlay(&view);
        let by_meaning = query.mode.is_hybrid() && view.embedder.has_meaning_queries();
        let vector = match by_meaning {
            true => view.embedder.embed_query_meaning(&query.query),
            false => view.embedder.embed_query(&query.query),
        };
        let vector = match vector {
            Ok(vector) => vector,
            Err(error) => return degraded(format!("cannot embed the query: {error}")),
        };
        let ranked = match self.rank_with_base(base, &view, &vector, by_meaning, &overlay, query) {
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
        view: &BaseView,
        vector: &[f32],
        // `vector` is the query's meaning alone (see `Embedder::embed_query_meaning`).
        by_meaning: bool,
        changed: &Overlay,
        query: &SearchQuery,
    ) -> Result<Vec<SearchHit>, BaseFailure> {
        let collection = &view.collection;
        let lexical = collection.lexical.ok_or_else(|| {
            format!(
                "{} was published without BM25 statistics (publish it again)",
                collection.name
            )
        })?;
        let chroma = &base.chroma;
        let glob = path_glob(query)?;
        // What the base answers for: files unchanged here, within the query's glob.
        let from_base = |path: &str| {
            view.tracked.contains(path)
                && !changed.lists(path)
                && glob.as_ref().is_none_or(|glob| glob.is_match(path))
        };
        let frequencies = match &view.terms {
            Some(terms) => {
                let _step = tracing::debug_span!("base.frequencies").entered();
                chroma.document_frequencies(terms, &Bm25::term_ids(&query.query))?
            }
            None => HashMap::new(),
        };
        let bm25 = Bm25::new(&query.query, Corpus::Chunks, &lexical, &frequencies);
        let file_bm25 = Bm25::new(&query.query, Corpus::Files, &lexical, &frequencies);
        let rarest = match query.mode {
            SearchMode::Vector => Vec::new(),
            _ => file_bm25.rarest_terms(RARE_TERMS),
        };
        // Chunks the overlay answers for may be among the nearest: ask for more.
        let nearest_count = CANDIDATES
            + if changed.is_empty() {
                0
            } else {
                CANDIDATES / 2
            };
        // Three independent lists: the search waits for the slowest, not their sum.
        let (nearest, lexical_side, overlay) = std::thread::scope(|scope| {
            let nearest = (query.mode != SearchMode::Bm25).then(|| {
                scope.spawn(|| {
                    let _step = tracing::debug_span!("base.nearest").entered();
                    chroma.query(collection, vector, nearest_count, query.language.as_deref())
                })
            });
            let lexical_side = scope.spawn(|| {
                let _step = tracing::debug_span!("base.lexical").entered();
                let lists = LexicalLists {
                    rarest: &rarest,
                    bm25: &bm25,
                    file_bm25: &file_bm25,
                };
                self.lexical_side(chroma, view, vector, &lists, &from_base, query)
            });
            let overlay = {
                let _step = tracing::debug_span!("base.overlay").entered();
                self.overlay_candidates(query, changed, &view.key.space, vector)
            };
            (nearest.map(joined), joined(lexical_side), overlay)
        });
        let LexicalSide {
            holding,
            mut chunked,
            candidates: lexical_candidates,
        } = lexical_side?;
        let mut candidates: Vec<Candidate> = nearest
            .transpose()?
            .unwrap_or_default()
            .into_iter()
            .filter(|hit| from_base(&hit.meta.path))
            .take(CANDIDATES)
            .map(|hit| Candidate {
                bm25: bm25.score(&chunk_fields(&hit.text, &hit.meta.symbol, &hit.meta.path)),
                cosine: hit.similarity,
                hit: base_hit(hit),
            })
            .collect();
        candidates.extend(lexical_candidates);
        candidates.extend(overlay?.into_iter().map(|(hit, cosine)| Candidate {
            bm25: bm25.score(&chunk_fields(&hit.text, &hit.symbol, &hit.path)),
            hit,
            cosine,
        }));
        let files = if query.files && query.mode != SearchMode::Vector {
            let _step = tracing::debug_span!("base.files").entered();
            // A language filter is the chunks' own: files found by their text alone are left out.
            let holding = match query.language {
                Some(_) => Vec::new(),
                None => holding,
            };
            self.file_scores(base, view, changed, &candidates, holding, &file_bm25)?
        } else {
            HashMap::new()
        };
        let params = FusionParams::default().for_vectors(view.upgraded, by_meaning);
        let mut ranked = rank(candidates, &files, query, &params);
        // Files found by their whole text alone show their first chunk.
        let _step = tracing::debug_span!("base.first_chunks").entered();
        let bare: Vec<&str> = ranked
            .iter()
            .filter(|hit| {
                hit.start_line == 0 && !changed.lists(&hit.path) && !chunked.contains_key(&hit.path)
            })
            .map(|hit| hit.path.as_str())
            .collect();
        let more = self.chunk_base_files(&bare);
        chunked.extend(more);
        for hit in &mut ranked {
            if hit.start_line > 0 {
                continue;
            }
            let first = if changed.lists(&hit.path) {
                self.first_chunk(&hit.path)?
            } else {
                match chunked.get(&hit.path) {
                    Some(chunks) => chunks.first().map(|(meta, text)| chunk_hit(meta, text)),
                    None => self.head_hit(&hit.path),
                }
            };
            if let Some(chunk) = first {
                *hit = SearchHit {
                    score: hit.score,
                    ..chunk
                };
            }
        }
        ranked.retain(|hit| hit.start_line > 0);
        Ok(ranked)
    }

    /// The base's lexical side of a search: its files holding the query's rarest terms, by
    /// their whole-file BM25 (best first), the best [`LEXICAL_FILES`] of them chunked here, and
    /// their chunks holding a query term as candidates (none in vector mode).
    fn lexical_side(
        &self,
        chroma: &Chroma,
        view: &BaseView,
        vector: &[f32],
        lists: &LexicalLists<'_>,
        from_base: &(dyn Fn(&str) -> bool + Sync),
        query: &SearchQuery,
    ) -> Result<LexicalSide, BaseFailure> {
        let found = match &view.files {
            Some(files) if !lists.rarest.is_empty() => {
                let _step = tracing::debug_span!("base.lexical.files").entered();
                chroma.files_holding(files, lists.rarest, FILE_CANDIDATES)?
            }
            _ => Vec::new(),
        };
        let mut holding: Vec<(String, f32)> = found
            .into_iter()
            .filter(|file| from_base(&file.path))
            .map(|file| {
                let fields = file_fields(Counts::parse(&file.document), &file.path);
                (file.path, lists.file_bm25.score(&fields))
            })
            .collect();
        holding.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let best: Vec<&str> = holding
            .iter()
            .take(LEXICAL_FILES)
            .map(|(path, _)| path.as_str())
            .collect();
        let chunked = {
            let _step = tracing::debug_span!("base.lexical.chunk").entered();
            self.chunk_base_files(&best)
        };
        let _step = tracing::debug_span!("base.lexical.chunks").entered();
        let candidates = match query.mode {
            SearchMode::Vector => Vec::new(),
            _ => self.lexical_candidates(
                chroma,
                &view.collection,
                vector,
                &chunked,
                lists.bm25,
                query,
            )?,
        };
        Ok(LexicalSide {
            holding,
            chunked,
            candidates,
        })
    }

    /// The lexical candidates among the base's chunks: those of `chunked` (the files BM25
    /// ranks best, chunked here) holding a query term, the best [`CANDIDATES`] by BM25 under
    /// the base's statistics, each with its cosine to `vector` from its published vector.
    fn lexical_candidates(
        &self,
        chroma: &Chroma,
        collection: &Collection,
        vector: &[f32],
        chunked: &HashMap<String, Vec<(ChunkMeta, String)>>,
        bm25: &Bm25,
        query: &SearchQuery,
    ) -> Result<Vec<Candidate>, BaseFailure> {
        let mut scored: Vec<(&ChunkMeta, &String, f32)> = chunked
            .values()
            .flatten()
            .filter(|(meta, _)| {
                query
                    .language
                    .as_ref()
                    .is_none_or(|language| *language == meta.language)
            })
            .map(|(meta, text)| {
                (
                    meta,
                    text,
                    bm25.score(&chunk_fields(text, &meta.symbol, &meta.path)),
                )
            })
            .filter(|(_, _, score)| *score > 0.0)
            .collect();
        scored.sort_by(|a, b| {
            b.2.total_cmp(&a.2)
                .then(a.0.path.cmp(&b.0.path))
                .then(a.0.start_line.cmp(&b.0.start_line))
        });
        scored.truncate(CANDIDATES);
        let ids: Vec<String> = scored
            .iter()
            .map(|(meta, text, _)| shared_id(meta, text))
            .collect();
        let vectors = chroma.vectors(collection, &ids)?;
        if vectors.len() < ids.len() {
            // Chunked here otherwise than the publisher did (another version, other grammars):
            // those chunks rank by BM25 alone.
            tracing::debug!(
                missing = ids.len() - vectors.len(),
                of = ids.len(),
                "base chunks without a published vector"
            );
        }
        Ok(scored
            .into_iter()
            .zip(&ids)
            .map(|((meta, text, bm25), id)| Candidate {
                hit: chunk_hit(meta, text),
                bm25,
                // A chunk the base lacks (published by another chunker) has no vector here.
                cosine: vectors.get(id).map_or(0.0, |stored| cosine(vector, stored)),
            })
            .collect())
    }

    /// The chunks of the base's files `paths` as the index makes them, read from the working
    /// tree (git says they are unchanged since the base's commit), by path, on every core. A
    /// file that cannot be read or chunked is left out, and so is one the index would not read:
    /// the base's records name the paths, so `../x` or a tracked link out of the workspace is
    /// never followed.
    fn chunk_base_files(&self, paths: &[&str]) -> HashMap<String, Vec<(ChunkMeta, String)>> {
        let Some(chunker) = self.chunker() else {
            return HashMap::new();
        };
        let chunk = |path: &str| {
            let limit = CHUNKED_FILE_BYTES.min(self.settings.max_file_bytes);
            let text = codexos_index::read_workspace_file(&self.root, path, limit)?;
            let chunks = codexos_index::file_chunks(chunker, path, &text, None).ok()?;
            Some((path.to_owned(), chunks))
        };
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let share = paths.len().div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            let parts: Vec<_> = paths
                .chunks(share)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .filter_map(|path| chunk(path))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            parts
                .into_iter()
                .flat_map(|part| {
                    part.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        })
    }

    /// The first lines of the base file at `path`, for a hit on a file too large to chunk
    /// during a search; `None` when it cannot be read or may not be (outside the workspace).
    fn head_hit(&self, path: &str) -> Option<SearchHit> {
        let whole =
            codexos_index::read_workspace_file(&self.root, path, self.settings.max_file_bytes)?;
        let mut text = String::new();
        let mut end_line = 0;
        for line in whole.lines().take(HEAD_LINES as usize) {
            text.push_str(line);
            text.push('\n');
            end_line += 1;
        }
        (end_line > 0).then(|| SearchHit {
            path: path.to_owned(),
            start_line: 1,
            end_line,
            score: 0.0,
            symbol: String::new(),
            text,
        })
    }

    /// The whole-file BM25 of the files that may answer: `holding` (the base's files holding
    /// the query's rarest terms, scored), and those of the chunk candidates — the overlay's
    /// read here, the base's asked for their term counts.
    fn file_scores(
        &self,
        base: &SharedBase,
        view: &BaseView,
        changed: &Overlay,
        candidates: &[Candidate],
        holding: Vec<(String, f32)>,
        bm25: &Bm25,
    ) -> Result<HashMap<String, f32>, BaseFailure> {
        let mut scores: HashMap<String, f32> = holding.into_iter().collect();
        let paths: HashSet<&str> = candidates.iter().map(|c| c.hit.path.as_str()).collect();
        for path in paths.iter().filter(|path| changed.lists(path)) {
            let Some(text) =
                codexos_index::read_workspace_file(&self.root, path, self.settings.max_file_bytes)
            else {
                continue;
            };
            let fields = file_fields(Counts::of(&text), path);
            scores.insert((*path).to_owned(), bm25.score(&fields));
        }
        let Some(files) = &view.files else {
            return Ok(scores);
        };
        let named: Vec<String> = paths
            .iter()
            .filter(|path| !changed.lists(path) && !scores.contains_key(**path))
            .map(|path| (*path).to_owned())
            .collect();
        for file in base.chroma.files_named(files, &named)? {
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

    /// With a reachable base, brings the local index's overlay up to the files that differ
    /// from the base instead of indexing the workspace: each such file re-indexed (unchanged
    /// content costs a hash), each deleted one removed. What a fresh clone needs before its
    /// first search — a handful of files, not the repository. `None` when there is no base, or
    /// (with the notice set) when the base cannot say what changed: the caller indexes
    /// everything.
    /// `progress` hears of each file, as from a full run (the overlay's files are the total).
    pub(super) fn sync_overlay(
        &self,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Option<IndexSummary>, WorkspaceIndexError> {
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
        let changed = match self.base_view(base, embedder) {
            Ok(view) => self.overlay(&view),
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
        paths.dedup();
        let mut state = Progress {
            files_total: paths.len(),
            ..Progress::default()
        };
        progress(state);
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
            // Each overlay file is read and chunked at once.
            state.files_done += 1;
            state.files_chunked += 1;
            state.chunks_written = summary.chunks_written;
            progress(state);
        }
        summary.elapsed = started.elapsed();
        summary.searchable_after = summary.elapsed;
        summary.chunked_after = summary.elapsed;
        state.chunks_written = summary.chunks_written;
        state.searchable = true;
        progress(state);
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
                body.push_str(&text);
                body.push('\n');
                let id = shared_id(&meta, &text);
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
        for file in files.values_mut() {
            keep_rarest(&mut file.terms, &frequencies, "fb");
        }
        let (collection, sent) = self.publish_space(&chroma, &snapshot, &space, &local)?;
        // The neural upgrade space beside it once complete here, so clones that upgrade read
        // the better vectors too; the BM25 statistics stay with the embedder's collection.
        let upgrade = match snapshot
            .upgrade_coverage()
            .map_err(|e| self.error(e.into()))?
        {
            Some(coverage) if coverage.is_complete() && coverage.chunks > 0 => {
                let (upgrade, upgrade_sent) =
                    self.publish_space(&chroma, &snapshot, &coverage.space, &local)?;
                Some((upgrade, upgrade_sent))
            }
            _ => None,
        };
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
        if let Some((upgrade, _)) = &upgrade {
            chroma
                .set_base_commit(upgrade, &commit, &lexical)
                .map_err(shared_error)?;
        }
        // Last: until the embedder's collection names the commit, clients read the previous
        // base whole.
        chroma
            .set_base_commit(&collection, &commit, &lexical)
            .map_err(shared_error)?;
        Ok(PublishSummary {
            collection: collection.name,
            commit,
            new: sent.new,
            removed: sent.removed,
            kept: sent.kept,
            upgrade: upgrade.map(|(upgrade, sent)| (upgrade.name, sent)),
            terms_sent,
            files_sent,
            bytes_sent: chroma.bytes_sent(),
            elapsed: started.elapsed(),
        })
    }
}

impl WorkspaceIndex {
    /// Brings the collection of `space` up to `local` (every chunk to publish, by shared id):
    /// the chunks it lacks are sent with their vectors in that space, files together and in
    /// order (a publish that stops halfway leaves whole files behind), and those `local` no
    /// longer holds are deleted.
    fn publish_space(
        &self,
        chroma: &Chroma,
        snapshot: &Snapshot<'_>,
        space: &SpaceRecord,
        local: &HashMap<String, (ChunkMetadata, u32)>,
    ) -> Result<(Collection, SpaceSent), WorkspaceIndexError> {
        let shared_error = |source| WorkspaceIndexError::Shared {
            root: self.root.clone(),
            source,
        };
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
                    .vector_in(space, *chunk_id)
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
        let sent = SpaceSent {
            new: sent,
            removed: removed.len(),
            kept: local.len() - new.len(),
        };
        Ok((collection, sent))
    }
}

/// What a scoped thread returned (its panic goes on up).
fn joined<T>(thread: std::thread::ScopedJoinHandle<'_, T>) -> T {
    thread
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norms =
        a.iter().map(|x| x * x).sum::<f32>().sqrt() * b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norms > 0.0 { dot / norms } else { 0.0 }
}

/// A chunk's record id in the base (the same for the publisher and a client chunking the same
/// file).
fn shared_id(meta: &ChunkMeta, text: &str) -> String {
    codexos_shared::chunk_id(
        &meta.path,
        meta.start_line,
        meta.end_line,
        &meta.symbol,
        &meta.language,
        text,
    )
}

/// A chunk made here as a hit scored 0.
fn chunk_hit(meta: &ChunkMeta, text: &str) -> SearchHit {
    SearchHit {
        path: meta.path.clone(),
        start_line: meta.start_line,
        end_line: meta.end_line,
        score: 0.0,
        symbol: meta.symbol.clone(),
        text: text.to_owned(),
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
    fn a_base_file_chunked_here_gets_the_ids_its_publisher_gave_its_chunks() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        let files = [
            (
                "codexos.toml",
                "[index]\nembedder = \"builtin\"\nupgrade = \"none\"\n",
            ),
            (
                "src/tide.rs",
                "//! Tides.\n\npub struct Tide {\n    level: u32,\n}\n\nimpl Tide {\n    pub fn level(&self) -> u32 {\n        self.level\n    }\n}\n\npub fn high_tide() -> Tide {\n    Tide { level: 7 }\n}\n",
            ),
            (
                "wind.py",
                "class Wind:\n    def speed(self):\n        return 12\n\n\ndef gust():\n    return Wind()\n",
            ),
            (
                "NOTES.md",
                "# Notes\n\nTides rise.\n\n## Wind\n\nIt blows.\n",
            ),
        ];
        for (path, text) in files {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
        let index = WorkspaceIndex::open(root, crate::index::IndexMode::default()).expect("opens");
        index.index_everything(&mut |_| {}).expect("indexes");
        let store = index.store();
        let snapshot = store.snapshot().expect("snapshot");
        let mut published = HashSet::new();
        let mut paths = Vec::new();
        for (path, record) in store.files().expect("files") {
            for chunk_id in record.chunk_ids {
                let meta = snapshot.chunk(chunk_id).expect("reads").expect("a chunk");
                let text = snapshot
                    .chunk_text(chunk_id)
                    .expect("reads")
                    .expect("a text");
                published.insert(shared_id(&meta, &text));
            }
            paths.push(path);
        }
        let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
        let here: HashSet<String> = index
            .chunk_base_files(&paths)
            .values()
            .flatten()
            .map(|(meta, text)| shared_id(meta, text))
            .collect();
        assert!(published.len() >= 4, "{published:?}");
        assert_eq!(here, published);
    }

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
