//! Hybrid search: BM25 and vectors, fused, then reranked.
//!
//! The method (same for every repository and language):
//! 1. **Lexical**: BM25 over chunks (body, symbol path, file path) and, when collapsing to
//!    files, over whole files too — a file that mentions every query word across several
//!    functions is a good answer even if no single chunk does.
//! 2. **Dense**: the query's nearest chunks (ANN), *and* the exact cosine of every lexical
//!    candidate: vectors re-rank lexical candidates rather than only adding their own.
//! 3. **Fusion**: scores normalised per list (divided by the list's best), then a weighted
//!    sum; lexical weighs more, because commit-style queries name identifiers. Reciprocal
//!    rank fusion is kept as [`SearchMode::Rrf`] for comparison.
//! 4. **Rerank** ([`Reranker`]): by default [`CodeAwareReranker`], a bonus for query words in
//!    a chunk's symbol path and file name; a cross-encoder or an HTTP reranker plugs in here.
//!
//! A file that waits for its chunks (the first stage of a run wrote only its whole-file
//! document) is found by its whole-file BM25 score alone, and shown as the lines around its
//! best-matching line, read from the file (`lines.rs`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use codexos_embed::Embedder;
use codexos_store::tokens::terms;
use codexos_store::{ChunkId, ChunkMeta, DocKind, FieldWeights, LexicalKey, Snapshot, Store};
use globset::{Glob, GlobMatcher};

use crate::error::{IndexError, Result};

/// Which signals rank the results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SearchMode {
    /// BM25 only.
    Bm25,
    /// Vectors only.
    Vector,
    /// BM25 and vectors by reciprocal rank fusion (k = 60), the common baseline.
    Rrf,
    /// Weighted score fusion, dense scores for every lexical candidate. The default: on the
    /// commit benchmark the cheap code-aware rerank did not add to it.
    #[default]
    Hybrid,
    /// [`SearchMode::Hybrid`], then the reranker (the hook for a cross-encoder).
    HybridRerank,
}

impl SearchMode {
    pub const ALL: [SearchMode; 5] = [
        Self::Bm25,
        Self::Vector,
        Self::Rrf,
        Self::Hybrid,
        Self::HybridRerank,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Bm25 => "bm25",
            Self::Vector => "vector",
            Self::Rrf => "rrf",
            Self::Hybrid => "hybrid",
            Self::HybridRerank => "hybrid-rerank",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|mode| mode.name() == name)
    }

    /// Whether the cosine is weighed into BM25's scores (rather than ranked on its own).
    pub fn is_hybrid(self) -> bool {
        matches!(self, Self::Hybrid | Self::HybridRerank)
    }
}

/// One search.
#[derive(Clone, Debug)]
pub struct SearchRequest {
    pub query: String,
    /// How many results.
    pub k: usize,
    pub mode: SearchMode,
    /// One result per file (its best chunk), ranked by file.
    pub collapse_files: bool,
    /// Only paths matching this glob (`src/**/*.rs`).
    pub path_glob: Option<String>,
    /// Only chunks of this language (`rust`, `python`, `markdown`, …).
    pub language: Option<String>,
}

impl SearchRequest {
    pub fn new(query: impl Into<String>) -> Self {
        Self {
            query: query.into(),
            k: 10,
            mode: SearchMode::default(),
            collapse_files: false,
            path_glob: None,
            language: None,
        }
    }
}

/// A result: a chunk, or with `collapse_files` the best chunk of a file.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchHit {
    pub path: String,
    pub start_line: u32,
    pub end_line: u32,
    pub score: f32,
    pub symbol: String,
    pub language: String,
    pub source: HitSource,
}

/// Where a hit's lines come from.
#[derive(Clone, Debug, PartialEq)]
pub enum HitSource {
    /// A chunk of the index (its text is the store's).
    Chunk(ChunkId),
    /// A file that waits for its chunks, found by its whole-file document: the lines around its
    /// best-matching line (`start_line..=end_line`), as read from the file by the search.
    Lines(String),
}

impl HitSource {
    pub fn chunk_id(&self) -> Option<ChunkId> {
        match self {
            Self::Chunk(id) => Some(*id),
            Self::Lines(_) => None,
        }
    }
}

/// A result on its way out, with what a reranker may read. A file that waits for its chunks
/// has no `chunk_id`, and its `meta` says no lines until the search reads them.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub chunk_id: Option<ChunkId>,
    pub meta: ChunkMeta,
    pub score: f32,
}

/// Reorders candidates: the hook for a cross-encoder or an HTTP reranker. Implementations
/// change `score`s; the caller sorts.
pub trait Reranker: Send + Sync {
    fn rerank(
        &self,
        query: &str,
        candidates: &mut [Candidate],
        snapshot: &Snapshot<'_>,
    ) -> Result<()>;

    /// The least and the most [`Reranker::rerank`] adds to a score, when bounded. A search
    /// then reranks only the candidates that can still reach the top k (and reads only their
    /// metadata); `None` reranks every candidate.
    fn score_change(&self) -> Option<(f32, f32)> {
        None
    }
}

/// The dense weight for MiniLM's vectors (see [`FusionParams::upgraded_dense`]), measured on the
/// commit benchmark over both repositories together.
const UPGRADED_DENSE: f32 = 1.6;
const UPGRADED_FILE_LEXICAL: f32 = 0.7;
/// The dense weight when queries carry meaning only (see [`FusionParams::meaning_dense`]); the
/// middle of the range where both benchmark sets gain (0.6–0.8, `docs/retrieval.md`).
const MEANING_DENSE: f32 = 0.6;

/// Tunable weights of the method. The defaults were chosen on the method's behaviour across
/// Rust and Python repositories together, never per repository.
#[derive(Clone, Debug, PartialEq)]
pub struct FusionParams {
    /// Candidates taken from each list before fusion.
    pub candidates: usize,
    pub chunk_weights: FieldWeights,
    pub file_weights: FieldWeights,
    /// Weight of the whole-file BM25 score when collapsing to files.
    pub file_lexical: f32,
    /// Weight of the best chunk's BM25 score.
    pub chunk_lexical: f32,
    /// Weight of the best chunk's cosine similarity.
    pub dense: f32,
    /// `dense` when the query's vector carries its meaning only (a hybrid search with the static
    /// embedder, see [`Embedder::embed_query_meaning`]): no longer a second count of its words.
    pub meaning_dense: f32,
    /// Reranker bonus for query words in the symbol path.
    pub symbol_bonus: f32,
    /// Reranker bonus for query words in the file name.
    pub file_name_bonus: f32,
    /// `dense` when the search reads the neural upgrade space: better vectors earn more weight.
    pub upgraded_dense: f32,
    /// `file_lexical` when the search reads the neural upgrade space.
    pub upgraded_file_lexical: f32,
}

impl Default for FusionParams {
    fn default() -> Self {
        Self {
            candidates: 100,
            chunk_weights: FieldWeights {
                body: 1.0,
                symbol: 0.5,
                path: 0.3,
            },
            file_weights: FieldWeights {
                body: 1.0,
                symbol: 0.0,
                path: 0.3,
            },
            file_lexical: 1.0,
            chunk_lexical: 0.5,
            dense: 0.2,
            meaning_dense: MEANING_DENSE,
            symbol_bonus: 0.1,
            file_name_bonus: 0.15,
            upgraded_dense: UPGRADED_DENSE,
            upgraded_file_lexical: UPGRADED_FILE_LEXICAL,
        }
    }
}

impl FusionParams {
    /// The weights for a search that reads the neural upgrade space.
    pub fn upgraded(&self) -> Self {
        Self {
            dense: self.upgraded_dense,
            file_lexical: self.upgraded_file_lexical,
            ..self.clone()
        }
    }

    /// The weights for a search whose query vectors carry meaning only.
    pub fn meaning_only(&self) -> Self {
        Self {
            dense: self.meaning_dense,
            ..self.clone()
        }
    }

    /// The weights for a search that reads the neural upgrade space (`upgraded`), or whose
    /// query vector carries meaning only (`by_meaning`), or neither.
    pub fn for_vectors(&self, upgraded: bool, by_meaning: bool) -> Self {
        if upgraded {
            self.upgraded()
        } else if by_meaning {
            self.meaning_only()
        } else {
            self.clone()
        }
    }

    /// Applies `key=value,key=value` overrides (for experiments with the eval runner).
    pub fn with_overrides(mut self, overrides: &str) -> std::result::Result<Self, String> {
        for pair in overrides
            .split(',')
            .map(str::trim)
            .filter(|pair| !pair.is_empty())
        {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("`{pair}` is not key=value"))?;
            let number: f32 = value
                .trim()
                .parse()
                .map_err(|_| format!("`{value}` in `{pair}` is not a number"))?;
            match key.trim() {
                "candidates" => self.candidates = number.max(1.0) as usize,
                "chunk_body" => self.chunk_weights.body = number,
                "chunk_symbol" => self.chunk_weights.symbol = number,
                "chunk_path" => self.chunk_weights.path = number,
                "file_body" => self.file_weights.body = number,
                "file_symbol" => self.file_weights.symbol = number,
                "file_path" => self.file_weights.path = number,
                "file_lexical" => self.file_lexical = number,
                "chunk_lexical" => self.chunk_lexical = number,
                "dense" => self.dense = number,
                "meaning_dense" => self.meaning_dense = number,
                "symbol_bonus" => self.symbol_bonus = number,
                "file_name_bonus" => self.file_name_bonus = number,
                "upgraded_dense" => self.upgraded_dense = number,
                "upgraded_file_lexical" => self.upgraded_file_lexical = number,
                other => return Err(format!("unknown search parameter `{other}`")),
            }
        }
        Ok(self)
    }
}

/// The cheap code-aware rerank: a bonus for each query word found in the candidate's symbol
/// path and file name, as a share of the query's words.
pub struct CodeAwareReranker {
    pub symbol_bonus: f32,
    pub file_name_bonus: f32,
}

impl CodeAwareReranker {
    /// What a chunk with `symbol` in the file at `path` earns for a query of `query_terms`
    /// (each once): the same bonus wherever the chunk was found (a shared base's or this
    /// index's).
    pub fn bonus(&self, query_terms: &[String], symbol: &str, path: &str) -> f32 {
        if query_terms.is_empty() {
            return 0.0;
        }
        let share = 1.0 / query_terms.len() as f32;
        let symbol_terms = terms(symbol);
        let file_name = path.rsplit('/').next().unwrap_or_default();
        let file_terms = terms(file_name.split('.').next().unwrap_or_default());
        let in_symbol = query_terms
            .iter()
            .filter(|term| symbol_terms.contains(term))
            .count() as f32;
        let in_file = query_terms
            .iter()
            .filter(|term| file_terms.contains(term))
            .count() as f32;
        share * (in_symbol * self.symbol_bonus + in_file * self.file_name_bonus)
    }

    /// The query's terms, each once, as [`CodeAwareReranker::bonus`] takes them.
    pub fn query_terms(query: &str) -> Vec<String> {
        unique(terms(query))
    }
}

impl Reranker for CodeAwareReranker {
    fn rerank(
        &self,
        query: &str,
        candidates: &mut [Candidate],
        _snapshot: &Snapshot<'_>,
    ) -> Result<()> {
        let query_terms = Self::query_terms(query);
        for candidate in candidates {
            candidate.score +=
                self.bonus(&query_terms, &candidate.meta.symbol, &candidate.meta.path);
        }
        Ok(())
    }

    /// Each bonus is earned at most once in all (a share of the query's words).
    fn score_change(&self) -> Option<(f32, f32)> {
        let bonuses = [self.symbol_bonus, self.file_name_bonus];
        Some((
            bonuses.iter().map(|bonus| bonus.min(0.0)).sum(),
            bonuses.iter().map(|bonus| bonus.max(0.0)).sum(),
        ))
    }
}

fn unique(mut items: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    items.retain(|item| seen.insert(item.clone()));
    items
}

/// Runs searches against a store with the embedder the index was built with, and optionally
/// the upgrade embedder: its vectors are read instead once they cover every chunk.
pub struct Searcher<'a> {
    store: &'a Store,
    embedder: &'a dyn Embedder,
    upgrade: Option<Arc<dyn Embedder>>,
    params: FusionParams,
    reranker: Box<dyn Reranker + 'a>,
    filter: Option<ChunkFilter<'a>>,
}

/// Keeps the chunks it returns `true` for, as the path glob and the language do: a filter the
/// caller computes (`codexos search --commit`: the chunks of files changed since a commit).
pub type ChunkFilter<'a> = Box<dyn Fn(&ChunkMeta) -> bool + Send + Sync + 'a>;

impl<'a> Searcher<'a> {
    pub fn new(store: &'a Store, embedder: &'a dyn Embedder) -> Self {
        let params = FusionParams::default();
        let reranker = Box::new(CodeAwareReranker {
            symbol_bonus: params.symbol_bonus,
            file_name_bonus: params.file_name_bonus,
        });
        Self {
            store,
            embedder,
            upgrade: None,
            params,
            reranker,
            filter: None,
        }
    }

    /// Reads the upgrade space of `upgrade`'s model when it is complete (see `upgrade.rs`).
    pub fn with_upgrade(mut self, upgrade: Option<Arc<dyn Embedder>>) -> Self {
        self.upgrade = upgrade;
        self
    }

    /// The vector space searches read now (its key), and the embedder for its queries.
    fn dense_space(
        &self,
        snapshot: &Snapshot<'_>,
    ) -> Result<Option<(codexos_store::SpaceRecord, &dyn Embedder)>> {
        let upgrade_key = self.upgrade.as_ref().map(|upgrade| upgrade.space().key());
        let Some(space) = snapshot.best_space(upgrade_key.as_deref())? else {
            return Ok(None);
        };
        let embedder = match &self.upgrade {
            Some(upgrade) if upgrade_key.as_deref() == Some(space.id.as_str()) => upgrade.as_ref(),
            _ => self.embedder,
        };
        Ok(Some((space, embedder)))
    }

    /// The key of the vector space searches read now: the upgrade space once complete.
    pub fn vector_space(&self) -> Result<Option<String>> {
        let snapshot = self.store.snapshot()?;
        Ok(self.dense_space(&snapshot)?.map(|(space, _)| space.id))
    }

    pub fn with_params(mut self, params: FusionParams) -> Self {
        self.reranker = Box::new(CodeAwareReranker {
            symbol_bonus: params.symbol_bonus,
            file_name_bonus: params.file_name_bonus,
        });
        self.params = params;
        self
    }

    pub fn with_reranker(mut self, reranker: Box<dyn Reranker + 'a>) -> Self {
        self.reranker = reranker;
        self
    }

    /// Only chunks `filter` keeps are found; like the other filters, it applies to the
    /// candidates each list brings (four times as many as without a filter).
    pub fn with_filter(mut self, filter: ChunkFilter<'a>) -> Self {
        self.filter = Some(filter);
        self
    }

    pub fn search(&self, request: &SearchRequest) -> Result<Vec<SearchHit>> {
        let glob = request
            .path_glob
            .as_deref()
            .map(|glob| {
                Glob::new(glob)
                    .map(|glob| glob.compile_matcher())
                    .map_err(|error| IndexError::Glob {
                        glob: glob.to_owned(),
                        message: error.to_string(),
                    })
            })
            .transpose()?;
        if let Some(space) = self.store.space()?
            && space.id != self.embedder.space().key()
            && request.mode != SearchMode::Bm25
        {
            return Err(IndexError::Config {
                path: self.store.dir().to_path_buf(),
                message: format!(
                    "the index holds vectors of {} but the search embedder is {}; re-index or search with that embedder",
                    space.id,
                    self.embedder.space().key()
                ),
            });
        }
        let snapshot = self.store.snapshot()?;
        let query_terms = terms(&request.query);
        let use_lexical = request.mode != SearchMode::Vector;
        // Files without chunks yet are found by their whole-file documents only.
        let unchunked = use_lexical && snapshot.unchunked_count()? > 0;
        let use_dense = request.mode != SearchMode::Bm25;
        let dense_space = if use_dense {
            self.dense_space(&snapshot)?
        } else {
            None
        };
        let upgraded = self.upgrade.as_ref().is_some_and(|upgrade| {
            dense_space
                .as_ref()
                .is_some_and(|(space, _)| space.id == upgrade.space().key())
        });
        let by_meaning = request.mode.is_hybrid()
            && dense_space
                .as_ref()
                .is_some_and(|(_, embedder)| embedder.has_meaning_queries());
        let params = &self.params.for_vectors(upgraded, by_meaning);
        // Filters shrink the lists; take more candidates so k survive.
        let filtered = glob.is_some() || request.language.is_some() || self.filter.is_some();
        let wanted = params.candidates.max(request.k * 3) * if filtered { 4 } else { 1 };
        let language = request.language.as_deref();
        let keep = |meta: &ChunkMeta| {
            glob.as_ref()
                .is_none_or(|glob: &GlobMatcher| glob.is_match(&meta.path))
                && language.is_none_or(|language| meta.language == language)
                && self.filter.as_ref().is_none_or(|filter| filter(meta))
        };

        let lexical_query = LexicalQuery {
            store: self.store,
            terms: &query_terms,
            params,
            language,
            chunks: wanted,
            files: (use_lexical && (request.collapse_files || unchunked))
                .then(|| params.candidates.max(request.k * 3)),
        };
        // The lexical lists (tantivy) and the query's nearest vectors (LMDB) are independent:
        // on a second core the search waits for the slower of the two instead of their sum.
        let (lexical, query_vector, mut dense) = std::thread::scope(|scope| {
            let lexical = use_lexical.then(|| {
                scope.spawn(|| {
                    let _step = tracing::debug_span!("search.lexical").entered();
                    lexical_query.run()
                })
            });
            let dense =
                self.nearest_to_query(&snapshot, request, by_meaning, dense_space.as_ref(), wanted);
            let lexical = match lexical {
                Some(thread) => thread
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?,
                None => LexicalLists::default(),
            };
            let QueryNeighbours { vector, nearest } = dense?;
            Ok::<_, IndexError>((lexical, vector, nearest))
        })?;
        let LexicalLists {
            chunks: lexical,
            files,
        } = lexical;
        // Dense as a re-ranker: the exact cosine of every lexical candidate too.
        if let (Some((space, _)), Some(vector)) = (&dense_space, &query_vector)
            && matches!(request.mode, SearchMode::Hybrid | SearchMode::HybridRerank)
        {
            let known: HashSet<ChunkId> = dense.iter().map(|&(id, _)| id).collect();
            let _step = tracing::debug_span!("search.rescore_lexical").entered();
            let missing: Vec<ChunkId> = lexical
                .iter()
                .map(|&(id, _)| id)
                .filter(|id| !known.contains(id))
                .collect();
            dense.extend(snapshot.similarities_in(space, vector, &missing)?);
        }

        let lexical_score: HashMap<ChunkId, f32> = lexical.iter().copied().collect();
        let dense_score: HashMap<ChunkId, f32> = dense.iter().copied().collect();
        let max_lexical = max_value(lexical_score.values());
        let max_dense = max_value(dense_score.values());
        let lexical_rank = ranks(&lexical);
        let mut dense_sorted = dense.clone();
        dense_sorted.sort_by(|a, b| b.1.total_cmp(&a.1));
        let dense_rank = ranks(&dense_sorted);
        let mut seen = HashSet::new();
        let mut scored: Vec<(ChunkId, f32)> = Vec::new();
        for id in lexical.iter().chain(dense.iter()).map(|&(id, _)| id) {
            if !seen.insert(id) {
                continue;
            }
            let lexical = lexical_score
                .get(&id)
                .map_or(0.0, |score| score / max_lexical);
            let dense = dense_score
                .get(&id)
                .map_or(0.0, |score| score.max(0.0) / max_dense);
            let score = match request.mode {
                SearchMode::Bm25 => lexical,
                SearchMode::Vector => dense,
                SearchMode::Rrf => rrf(lexical_rank.get(&id)) + rrf(dense_rank.get(&id)),
                SearchMode::Hybrid | SearchMode::HybridRerank => {
                    params.chunk_lexical * lexical + params.dense * dense
                }
            };
            scored.push((id, score));
        }
        // Metadata (path, symbol, lines) is read for the candidates that can still make the
        // top k, unless a filter or the collapse to files needs every candidate's.
        let score_change = match request.mode {
            SearchMode::HybridRerank => self.reranker.score_change(),
            _ => Some((0.0, 0.0)),
        };
        let shortlist = if filtered || request.collapse_files {
            None
        } else {
            score_change.map(|(least, most)| (request.k, least - most))
        };
        let mut candidates = {
            let _step = tracing::debug_span!("search.metadata").entered();
            candidates_with_meta(&snapshot, scored, shortlist, &keep)?
        };
        if request.collapse_files {
            candidates = collapse(
                params,
                request.mode,
                candidates,
                &files,
                &dense_rank,
                &keep,
                &snapshot,
            )?;
        } else if unchunked {
            let max_file = max_value(files.iter().map(|(_, score)| score));
            for (rank, (path, score)) in files.iter().enumerate() {
                let Some(mut candidate) = unchunked_candidate(&snapshot, path, &keep)? else {
                    continue;
                };
                // Scored as a chunk found by BM25 alone, its file's score standing for its own.
                let lexical = score / max_file;
                candidate.score = match request.mode {
                    SearchMode::Rrf => rrf(Some(&rank)),
                    SearchMode::Hybrid | SearchMode::HybridRerank => params.chunk_lexical * lexical,
                    SearchMode::Bm25 | SearchMode::Vector => lexical,
                };
                candidates.push(candidate);
            }
        }
        if request.mode == SearchMode::HybridRerank {
            let _step = tracing::debug_span!("search.rerank").entered();
            self.reranker
                .rerank(&request.query, &mut candidates, &snapshot)?;
        }
        candidates.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(a.meta.path.cmp(&b.meta.path))
                .then(a.chunk_id.cmp(&b.chunk_id))
        });
        let mut hits = Vec::with_capacity(request.k.min(candidates.len()));
        for mut candidate in candidates {
            if hits.len() == request.k {
                break;
            }
            let source = match candidate.chunk_id {
                Some(id) => HitSource::Chunk(id),
                // A file gone or no longer text since it was read has no lines to show.
                None => match crate::lines::around_best_match(
                    self.store.workspace_root(),
                    &candidate.meta.path,
                    &query_terms,
                ) {
                    Some(lines) => {
                        candidate.meta.start_line = lines.start_line;
                        candidate.meta.end_line = lines.end_line;
                        HitSource::Lines(lines.text)
                    }
                    None => continue,
                },
            };
            hits.push(SearchHit {
                path: candidate.meta.path,
                start_line: candidate.meta.start_line,
                end_line: candidate.meta.end_line,
                score: candidate.score,
                symbol: candidate.meta.symbol,
                language: candidate.meta.language,
                source,
            });
        }
        Ok(hits)
    }

    /// The query's vector (its meaning alone when `by_meaning`) and its `limit` nearest chunks
    /// in `space` (none without a space).
    fn nearest_to_query(
        &self,
        snapshot: &Snapshot<'_>,
        request: &SearchRequest,
        by_meaning: bool,
        space: Option<&(codexos_store::SpaceRecord, &dyn Embedder)>,
        limit: usize,
    ) -> Result<QueryNeighbours> {
        let Some((space, embedder)) = space else {
            return Ok(QueryNeighbours::default());
        };
        let vector = {
            let _step = tracing::debug_span!("search.embed_query").entered();
            match by_meaning {
                true => embedder.embed_query_meaning(&request.query),
                false => embedder.embed_query(&request.query),
            }
            .map_err(IndexError::EmbedQuery)?
        };
        let nearest = snapshot.nearest_in(space, &vector, limit)?;
        Ok(QueryNeighbours {
            vector: Some(vector),
            nearest,
        })
    }
}

/// The dense side of a search: the query's vector, if there is a space, and its nearest chunks.
#[derive(Default)]
struct QueryNeighbours {
    vector: Option<Vec<f32>>,
    nearest: Vec<(ChunkId, f32)>,
}

/// The BM25 side of a search: chunks, and whole files when collapsing to files.
struct LexicalQuery<'q> {
    store: &'q Store,
    terms: &'q [String],
    params: &'q FusionParams,
    language: Option<&'q str>,
    /// How many chunks.
    chunks: usize,
    /// How many files, if any.
    files: Option<usize>,
}

#[derive(Default)]
struct LexicalLists {
    chunks: Vec<(ChunkId, f32)>,
    files: Vec<(String, f32)>,
}

impl LexicalQuery<'_> {
    fn run(&self) -> Result<LexicalLists> {
        let chunks = self
            .store
            .bm25(
                DocKind::Chunk,
                self.terms,
                self.params.chunk_weights,
                self.language,
                self.chunks,
            )?
            .into_iter()
            .filter_map(|(key, score)| match key {
                LexicalKey::Chunk(id) => Some((id, score)),
                LexicalKey::File(_) => None,
            })
            .collect();
        let files = match self.files {
            Some(limit) => self
                .store
                .bm25(
                    DocKind::File,
                    self.terms,
                    self.params.file_weights,
                    self.language,
                    limit,
                )?
                .into_iter()
                .filter_map(|(key, score)| match key {
                    LexicalKey::File(path) => Some((path, score)),
                    LexicalKey::Chunk(_) => None,
                })
                .collect(),
            None => Vec::new(),
        };
        Ok(LexicalLists { chunks, files })
    }
}

/// One candidate per file: its best chunk, scored by the file's own BM25 (whole file, `files`)
/// plus its best chunk's fused score.
fn collapse(
    params: &FusionParams,
    mode: SearchMode,
    candidates: Vec<Candidate>,
    files: &[(String, f32)],
    dense_rank: &HashMap<ChunkId, usize>,
    keep: &dyn Fn(&ChunkMeta) -> bool,
    snapshot: &Snapshot<'_>,
) -> Result<Vec<Candidate>> {
    let mut best: HashMap<String, Candidate> = HashMap::new();
    for candidate in candidates {
        match best.get(&candidate.meta.path) {
            Some(existing) if existing.score >= candidate.score => {}
            _ => {
                best.insert(candidate.meta.path.clone(), candidate);
            }
        }
    }
    if mode == SearchMode::Vector {
        return Ok(best.into_values().collect());
    }
    let max_file = max_value(files.iter().map(|(_, score)| score));
    let file_rank: HashMap<&str, usize> = files
        .iter()
        .enumerate()
        .map(|(rank, (path, _))| (path.as_str(), rank))
        .collect();
    let mut file_score: HashMap<&str, f32> = HashMap::new();
    for (path, score) in files {
        file_score.insert(path, score / max_file);
        if best.contains_key(path) {
            continue;
        }
        if let Some(record) = snapshot.file(path)?
            && let Some(&first) = record.chunk_ids.first()
            && let Some(meta) = snapshot.chunk(first)?
            && keep(&meta)
        {
            best.insert(
                path.clone(),
                Candidate {
                    chunk_id: Some(first),
                    meta,
                    score: 0.0,
                },
            );
        } else if let Some(candidate) = unchunked_candidate(snapshot, path, keep)? {
            best.insert(path.clone(), candidate);
        }
    }
    let mut out: Vec<Candidate> = best.into_values().collect();
    for candidate in &mut out {
        let path = candidate.meta.path.as_str();
        candidate.score = match mode {
            SearchMode::Bm25 => file_score.get(path).copied().unwrap_or(0.0),
            SearchMode::Rrf => {
                rrf(file_rank.get(path))
                    + rrf(candidate.chunk_id.and_then(|id| dense_rank.get(&id)))
            }
            _ => {
                params.file_lexical * file_score.get(path).copied().unwrap_or(0.0) + candidate.score
            }
        };
    }
    Ok(out)
}

/// The candidates, best first, with their metadata; without those `keep` rejects or whose
/// chunk is gone. With `shortlist` `(k, margin)`: only those that can still reach the top `k`
/// once each score may move by `margin` less than the k-th's (ties with it included), so a
/// search reads metadata for about k chunks instead of every candidate.
fn candidates_with_meta(
    snapshot: &Snapshot<'_>,
    mut scored: Vec<(ChunkId, f32)>,
    shortlist: Option<(usize, f32)>,
    keep: &dyn Fn(&ChunkMeta) -> bool,
) -> Result<Vec<Candidate>> {
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut candidates = Vec::new();
    let mut threshold = f32::NEG_INFINITY;
    for (chunk_id, score) in scored {
        if score < threshold {
            break;
        }
        let Some(meta) = snapshot.chunk(chunk_id)? else {
            continue;
        };
        if !keep(&meta) {
            continue;
        }
        candidates.push(Candidate {
            chunk_id: Some(chunk_id),
            meta,
            score,
        });
        if let Some((k, margin)) = shortlist
            && candidates.len() == k
        {
            threshold = score + margin;
        }
    }
    Ok(candidates)
}

/// A candidate scored 0 for `path` if it waits for its chunks and `keep` keeps it: its
/// metadata is its file's, its lines are read once it makes the top k.
fn unchunked_candidate(
    snapshot: &Snapshot<'_>,
    path: &str,
    keep: &dyn Fn(&ChunkMeta) -> bool,
) -> Result<Option<Candidate>> {
    let Some(info) = snapshot.unchunked(path)? else {
        return Ok(None);
    };
    let meta = ChunkMeta {
        path: path.to_owned(),
        language: info.language,
        kind: crate::lines::KIND.to_owned(),
        symbol: String::new(),
        start_line: 0,
        end_line: 0,
        byte_start: 0,
        byte_end: 0,
        commit: info.commit,
        symbols: Vec::new(),
    };
    Ok(keep(&meta).then_some(Candidate {
        chunk_id: None,
        meta,
        score: 0.0,
    }))
}

fn max_value<'v>(values: impl Iterator<Item = &'v f32>) -> f32 {
    values
        .copied()
        .fold(0.0_f32, f32::max)
        .max(f32::MIN_POSITIVE)
}

fn ranks(list: &[(ChunkId, f32)]) -> HashMap<ChunkId, usize> {
    let mut out = HashMap::new();
    for (rank, &(id, _)) in list.iter().enumerate() {
        out.entry(id).or_insert(rank);
    }
    out
}

/// Reciprocal rank fusion's share of a list for an item at 0-based `rank` in it (k = 60), 0
/// when the list lacks it.
pub fn rrf(rank: Option<&usize>) -> f32 {
    rank.map_or(0.0, |rank| 1.0 / (60.0 + *rank as f32 + 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_by_meaning_weighs_the_cosine_by_meaning_dense_unless_it_reads_the_upgrade() {
        let params = FusionParams::default();
        assert_eq!(params.for_vectors(false, false), params);
        assert_eq!(params.for_vectors(false, true).dense, params.meaning_dense);
        assert_eq!(params.for_vectors(true, true), params.upgraded());
        assert!(SearchMode::HybridRerank.is_hybrid() && !SearchMode::Rrf.is_hybrid());
    }
}
