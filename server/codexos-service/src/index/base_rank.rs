//! One ranking for the shared base's chunks and the overlay's: every candidate, wherever it
//! came from, is scored by BM25 with the base's statistics (document counts, average field
//! lengths and document frequencies, published beside the base) and by its cosine in the
//! base's vector space, then fused the way the local hybrid search fuses (each signal divided
//! by its best among the candidates, then weighted; with files, the whole file's BM25 added to
//! its best chunk's score). An overlay hit thus ranks where it would in a full local index: a
//! weak one below a strong base hit, a strong one above it.
//!
//! BM25 is tantivy's (k1 1.2, b 0.75, per field, summed with the local search's field weights),
//! computed with the index's own code-aware tokenizer, so the numbers match what the local
//! index gives a chunk or a file of the same base.

use std::collections::{BTreeMap, HashMap, HashSet};

use codexos_index::{CodeAwareReranker, FusionParams, SearchMode, rrf};
use codexos_shared::{CorpusStats, LexicalStats};
use codexos_store::tokens::terms;

use super::{SearchHit, SearchQuery};

const K1: f32 = 1.2;
const B: f32 = 0.75;

/// What BM25 ranks: chunks (body, symbol path, file path) or whole files (every chunk's text,
/// the symbols, the path).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Corpus {
    Chunks,
    Files,
}

impl Corpus {
    /// The prefixes of its fields' term ids in the terms collection.
    fn prefixes(self) -> [&'static str; 3] {
        match self {
            Corpus::Chunks => ["b", "s", "p"],
            Corpus::Files => ["fb", "fs", "fp"],
        }
    }

    fn weights(self) -> [f32; 3] {
        let params = FusionParams::default();
        let weights = match self {
            Corpus::Chunks => params.chunk_weights,
            Corpus::Files => params.file_weights,
        };
        [weights.body, weights.symbol, weights.path]
    }

    fn stats(self, lexical: &LexicalStats) -> CorpusStats {
        match self {
            Corpus::Chunks => lexical.chunks,
            Corpus::Files => lexical.files,
        }
    }
}

/// One field's terms with their counts, and its length in terms.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Counts {
    terms: HashMap<String, u32>,
    length: u32,
}

impl Counts {
    pub(crate) fn of(text: &str) -> Counts {
        let mut counts = Counts::default();
        for term in terms(text) {
            *counts.terms.entry(term).or_default() += 1;
            counts.length += 1;
        }
        counts
    }

    /// A file's body as the files collection holds it: ` term:count term:count `, sorted.
    pub(crate) fn document(&self) -> String {
        let sorted: BTreeMap<&String, &u32> = self.terms.iter().collect();
        let mut document = String::from(" ");
        for (term, count) in sorted {
            document.push_str(&format!("{term}:{count} "));
        }
        document
    }

    /// The counts a [`Counts::document`] holds; what is not `term:count` is left out.
    pub(crate) fn parse(document: &str) -> Counts {
        let mut counts = Counts::default();
        for (term, count) in document
            .split_whitespace()
            .filter_map(|pair| pair.rsplit_once(':'))
            .filter_map(|(term, count)| Some((term, count.parse::<u32>().ok()?)))
        {
            counts.terms.insert(term.to_owned(), count);
            counts.length += count;
        }
        counts
    }
}

/// A chunk's fields, counted.
pub(crate) fn chunk_fields(text: &str, symbol: &str, path: &str) -> [Counts; 3] {
    [Counts::of(text), Counts::of(symbol), Counts::of(path)]
}

/// A file's fields: its body counted from its term document, no symbols (the local search
/// gives them no weight in files), its path.
pub(crate) fn file_fields(body: Counts, path: &str) -> [Counts; 3] {
    [body, Counts::default(), Counts::of(path)]
}

/// The distinct terms of a document's fields, sorted: what the base lists for it.
pub(crate) fn distinct_terms(fields: &[Counts; 3]) -> Vec<String> {
    let mut terms: Vec<String> = fields
        .iter()
        .flat_map(|field| field.terms.keys().cloned())
        .collect();
    terms.sort_unstable();
    terms.dedup();
    terms
}

/// Counts a corpus' BM25 statistics while a publish reads its chunks and files.
#[derive(Default)]
pub(crate) struct StatsBuilder {
    chunks: CorpusBuilder,
    files: CorpusBuilder,
    frequencies: HashMap<String, u64>,
}

#[derive(Default)]
struct CorpusBuilder {
    documents: u64,
    lengths: [u64; 3],
}

impl StatsBuilder {
    pub(crate) fn add(&mut self, corpus: Corpus, fields: &[Counts; 3]) {
        let builder = match corpus {
            Corpus::Chunks => &mut self.chunks,
            Corpus::Files => &mut self.files,
        };
        builder.documents += 1;
        for (field, (counts, prefix)) in fields.iter().zip(corpus.prefixes()).enumerate() {
            builder.lengths[field] += u64::from(counts.length);
            for term in counts.terms.keys() {
                *self
                    .frequencies
                    .entry(format!("{prefix}:{term}"))
                    .or_default() += 1;
            }
        }
    }

    /// The statistics, and the frequencies worth publishing: those of terms in two documents
    /// or more (a term the terms collection lacks counts as in one, which is exact for the
    /// half of a code base's terms that occur once).
    pub(crate) fn finish(self) -> (LexicalStats, HashMap<String, u64>) {
        let stats = |builder: &CorpusBuilder| {
            let documents = builder.documents.max(1) as f32;
            CorpusStats {
                documents: builder.documents,
                average_lengths: builder.lengths.map(|total| total as f32 / documents),
            }
        };
        let lexical = LexicalStats {
            chunks: stats(&self.chunks),
            files: stats(&self.files),
        };
        let mut frequencies = self.frequencies;
        frequencies.retain(|_, df| *df >= 2);
        (lexical, frequencies)
    }
}

/// A query's BM25 against one corpus of the base's statistics.
pub(crate) struct Bm25 {
    stats: CorpusStats,
    /// The query's unique terms, each with its idf per field.
    terms: Vec<(String, [f32; 3])>,
    weights: [f32; 3],
}

impl Bm25 {
    /// The term ids whose frequencies `query` needs, in both corpora.
    pub(crate) fn term_ids(query: &str) -> Vec<String> {
        let terms = unique_terms(query);
        let mut ids = Vec::new();
        for corpus in [Corpus::Chunks, Corpus::Files] {
            for prefix in corpus.prefixes() {
                ids.extend(terms.iter().map(|term| format!("{prefix}:{term}")));
            }
        }
        ids
    }

    pub(crate) fn new(
        query: &str,
        corpus: Corpus,
        lexical: &LexicalStats,
        frequencies: &HashMap<String, u64>,
    ) -> Bm25 {
        let stats = corpus.stats(lexical);
        let n = stats.documents as f32;
        let prefixes = corpus.prefixes();
        let terms = unique_terms(query)
            .into_iter()
            .map(|term| {
                let idf = prefixes.map(|prefix| {
                    let df = frequencies
                        .get(&format!("{prefix}:{term}"))
                        .copied()
                        .unwrap_or(1) as f32;
                    (1.0 + (n - df + 0.5) / (df + 0.5)).ln().max(0.0)
                });
                (term, idf)
            })
            .collect();
        Bm25 {
            stats,
            terms,
            weights: corpus.weights(),
        }
    }

    /// The query's terms rarest in the corpus' bodies first: the ones that pick out the
    /// documents BM25 ranks best.
    pub(crate) fn rarest_terms(&self, count: usize) -> Vec<&str> {
        let mut by_rarity: Vec<&(String, [f32; 3])> = self.terms.iter().collect();
        by_rarity.sort_by(|a, b| b.1[0].total_cmp(&a.1[0]));
        by_rarity
            .into_iter()
            .take(count)
            .map(|(term, _)| term.as_str())
            .collect()
    }

    pub(crate) fn score(&self, fields: &[Counts; 3]) -> f32 {
        let mut score = 0.0;
        for (field, counts) in fields.iter().enumerate() {
            if self.weights[field] <= 0.0 {
                continue;
            }
            let average = self.stats.average_lengths[field].max(f32::MIN_POSITIVE);
            let norm = K1 * (1.0 - B + B * counts.length as f32 / average);
            for (term, idf) in &self.terms {
                let tf = counts.terms.get(term).copied().unwrap_or(0) as f32;
                if tf > 0.0 {
                    score += self.weights[field] * idf[field] * tf * (K1 + 1.0) / (tf + norm);
                }
            }
        }
        score
    }
}

fn unique_terms(query: &str) -> Vec<String> {
    let mut seen = HashSet::new();
    terms(query)
        .into_iter()
        .filter(|term| seen.insert(term.clone()))
        .collect()
}

/// A chunk that may answer, from the base or the overlay, with its two signals.
pub(crate) struct Candidate {
    pub hit: SearchHit,
    pub bm25: f32,
    /// Cosine in the base's vector space.
    pub cosine: f32,
}

/// The candidates ranked as the local search would rank them in `query.mode` (see the module
/// doc): a chunk found twice counts once, best first. With files (`query.files`), one hit per
/// file, each file's best chunk plus its whole-file BM25 from `files`; a file found by that
/// alone is a hit without text or lines yet (the caller fills in its first chunk).
pub(crate) fn rank(
    candidates: Vec<Candidate>,
    files: &HashMap<String, f32>,
    query: &SearchQuery,
    params: &FusionParams,
) -> Vec<SearchHit> {
    let mut seen = HashSet::new();
    let candidates: Vec<Candidate> = candidates
        .into_iter()
        .filter(|candidate| {
            let hit = &candidate.hit;
            seen.insert((hit.path.clone(), hit.start_line, hit.end_line))
        })
        .collect();
    let best = |values: &mut dyn Iterator<Item = f32>| {
        values.fold(0.0_f32, f32::max).max(f32::MIN_POSITIVE)
    };
    let best_bm25 = best(&mut candidates.iter().map(|c| c.bm25));
    let best_cosine = best(&mut candidates.iter().map(|c| c.cosine.max(0.0)));
    // Each candidate's place in the lexical and the dense list, for reciprocal rank fusion.
    let lexical_rank = places(candidates.iter().map(|c| c.bm25).collect());
    let dense_rank = places(candidates.iter().map(|c| c.cosine).collect());
    let mut ranked: Vec<(SearchHit, Option<usize>)> = candidates
        .into_iter()
        .enumerate()
        .map(|(index, candidate)| {
            let lexical = candidate.bm25 / best_bm25;
            let dense = candidate.cosine.max(0.0) / best_cosine;
            let score = match query.mode {
                SearchMode::Bm25 => lexical,
                SearchMode::Vector => dense,
                SearchMode::Rrf => {
                    rrf(lexical_rank[index].as_ref()) + rrf(dense_rank[index].as_ref())
                }
                SearchMode::Hybrid | SearchMode::HybridRerank => {
                    params.chunk_lexical * lexical + params.dense * dense
                }
            };
            let hit = SearchHit {
                score,
                ..candidate.hit
            };
            (hit, dense_rank[index])
        })
        .collect();
    if query.files {
        ranked.sort_by(|a, b| b.0.score.total_cmp(&a.0.score));
        let mut by_file: HashMap<String, (SearchHit, Option<usize>)> = HashMap::new();
        for (hit, dense) in ranked {
            by_file.entry(hit.path.clone()).or_insert((hit, dense));
        }
        if query.mode != SearchMode::Vector {
            let best_file = best(&mut files.values().copied());
            let mut by_score: Vec<(&String, f32)> =
                files.iter().map(|(path, score)| (path, *score)).collect();
            by_score.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
            let file_rank: HashMap<&String, usize> = by_score
                .iter()
                .enumerate()
                .filter(|(_, (_, score))| *score > 0.0)
                .map(|(place, (path, _))| (*path, place))
                .collect();
            for (path, score) in files {
                let file = score / best_file;
                let (hit, dense) = by_file.entry(path.clone()).or_insert_with(|| {
                    let hit = SearchHit {
                        path: path.clone(),
                        start_line: 0,
                        end_line: 0,
                        score: 0.0,
                        symbol: String::new(),
                        text: String::new(),
                    };
                    (hit, None)
                });
                hit.score = match query.mode {
                    SearchMode::Bm25 => file,
                    SearchMode::Rrf => rrf(file_rank.get(path)) + rrf(dense.as_ref()),
                    _ => params.file_lexical * file + hit.score,
                };
            }
        }
        ranked = by_file.into_values().collect();
    }
    let mut ranked: Vec<SearchHit> = ranked.into_iter().map(|(hit, _)| hit).collect();
    if query.mode == SearchMode::HybridRerank {
        let reranker = CodeAwareReranker {
            symbol_bonus: params.symbol_bonus,
            file_name_bonus: params.file_name_bonus,
        };
        let query_terms = CodeAwareReranker::query_terms(&query.query);
        for hit in &mut ranked {
            hit.score += reranker.bonus(&query_terms, &hit.symbol, &hit.path);
        }
    }
    ranked.retain(|hit| hit.score > 0.0);
    ranked.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.path.cmp(&b.path))
            .then(a.start_line.cmp(&b.start_line))
    });
    ranked.truncate(query.k);
    ranked
}

/// Each value's 0-based place among `values`, highest first; none for a value that is not
/// positive (a list the item is not in).
fn places(values: Vec<f32>) -> Vec<Option<usize>> {
    let mut order: Vec<usize> = (0..values.len()).filter(|&i| values[i] > 0.0).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]).then(a.cmp(&b)));
    let mut place = vec![None; values.len()];
    for (rank, index) in order.into_iter().enumerate() {
        place[index] = Some(rank);
    }
    place
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(path: &str, text: &str, bm25: &Bm25, cosine: f32) -> Candidate {
        Candidate {
            hit: SearchHit {
                path: path.to_owned(),
                start_line: 1,
                end_line: 1,
                score: 0.0,
                symbol: String::new(),
                text: text.to_owned(),
            },
            bm25: bm25.score(&chunk_fields(text, "", path)),
            cosine,
        }
    }

    fn base_statistics() -> (LexicalStats, HashMap<String, u64>) {
        let mut builder = StatsBuilder::default();
        for text in [
            "fn wind_speed_knots() -> u32 { 12 }",
            "fn tide_level() -> u32 { 7 }",
            "fn storm_flag() -> bool { true }",
            "fn speed_of_sound() -> u32 { 343 }",
        ] {
            builder.add(Corpus::Chunks, &chunk_fields(text, "", "src/lib.rs"));
            builder.add(Corpus::Files, &file_fields(Counts::of(text), "src/lib.rs"));
        }
        builder.finish()
    }

    fn order(hits: Vec<SearchHit>) -> Vec<String> {
        hits.into_iter().map(|hit| hit.path).collect()
    }

    #[test]
    fn a_weak_overlay_hit_ranks_below_a_strong_base_hit_and_a_strong_one_above_it() {
        let (stats, frequencies) = base_statistics();
        let query = SearchQuery::new("wind speed knots");
        let bm25 = Bm25::new(&query.query, Corpus::Chunks, &stats, &frequencies);
        let base = candidate("wind.rs", "fn wind_speed_knots() -> u32 { 12 }", &bm25, 0.8);
        let weak = candidate("sound.rs", "fn speed_of_sound() -> u32 { 340 }", &bm25, 0.3);
        let none = HashMap::new();
        // The overlay's list comes first, as it did under reciprocal rank fusion.
        assert_eq!(
            order(rank(
                vec![weak, base],
                &none,
                &query,
                &FusionParams::default()
            )),
            ["wind.rs", "sound.rs"]
        );

        let base = candidate("wind.rs", "fn wind_speed_knots() -> u32 { 12 }", &bm25, 0.8);
        let strong = candidate(
            "gust.rs",
            "/// wind speed in knots\nfn wind_speed_knots_gusting() -> u32 { wind_speed_knots() + 9 }",
            &bm25,
            0.9,
        );
        assert_eq!(
            order(rank(
                vec![base, strong],
                &none,
                &query,
                &FusionParams::default()
            )),
            ["gust.rs", "wind.rs"]
        );
    }

    #[test]
    fn with_files_a_file_whose_whole_text_matches_outranks_one_with_a_better_chunk() {
        let (stats, frequencies) = base_statistics();
        let query = SearchQuery {
            files: true,
            ..SearchQuery::new("wind speed knots")
        };
        let bm25 = Bm25::new(&query.query, Corpus::Chunks, &stats, &frequencies);
        let chunk = candidate("a.rs", "fn wind_speed_knots() {}", &bm25, 0.5);
        let files = HashMap::from([("a.rs".to_owned(), 1.0), ("b.rs".to_owned(), 4.0)]);
        let ranked = rank(vec![chunk], &files, &query, &FusionParams::default());
        assert_eq!(order(ranked.clone()), ["b.rs", "a.rs"]);
        assert_eq!((ranked[0].start_line, ranked[0].text.as_str()), (0, ""));
    }

    /// Candidates with given BM25 and cosine, the signals `rank` fuses.
    fn scored(signals: &[(&str, f32, f32)]) -> Vec<Candidate> {
        signals
            .iter()
            .map(|&(path, bm25, cosine)| Candidate {
                hit: SearchHit {
                    path: path.to_owned(),
                    start_line: 1,
                    end_line: 2,
                    score: 0.0,
                    symbol: String::new(),
                    text: String::new(),
                },
                bm25,
                cosine,
            })
            .collect()
    }

    #[test]
    fn reciprocal_rank_fusion_through_the_base_ranks_by_places_in_each_list_not_by_scores() {
        // Lexical places: a e c b; dense places: b c a e.
        let signals = [
            ("a.rs", 100.0, 0.1),
            ("b.rs", 2.0, 0.9),
            ("c.rs", 3.0, 0.8),
            ("e.rs", 50.0, 0.05),
        ];
        let none = HashMap::new();
        let in_mode = |mode| SearchQuery {
            mode,
            ..SearchQuery::new("anything")
        };
        let fused = rank(
            scored(&signals),
            &none,
            &in_mode(SearchMode::Rrf),
            &FusionParams::default(),
        );
        assert_eq!(order(fused.clone()), ["a.rs", "b.rs", "c.rs", "e.rs"]);
        let expected = 1.0 / 61.0 + 1.0 / 63.0;
        assert!(
            (fused[0].score - expected).abs() < 1e-6,
            "{}",
            fused[0].score
        );
        assert_eq!(
            order(rank(
                scored(&signals),
                &none,
                &in_mode(SearchMode::Hybrid),
                &FusionParams::default()
            )),
            ["a.rs", "e.rs", "b.rs", "c.rs"],
            "weighted scores: the strong lexical hits lead"
        );
    }

    #[test]
    fn hybrid_rerank_through_the_base_gives_the_local_bonus_for_query_words_in_the_symbol() {
        let mut candidates = scored(&[("a.rs", 1.0, 0.5), ("b.rs", 1.0, 0.5)]);
        candidates[1].hit.symbol = "Tide::level".to_owned();
        let query = SearchQuery {
            mode: SearchMode::HybridRerank,
            ..SearchQuery::new("tide level")
        };
        let ranked = rank(
            candidates,
            &HashMap::new(),
            &query,
            &FusionParams::default(),
        );
        assert_eq!(order(ranked.clone()), ["b.rs", "a.rs"]);
        let bonus = FusionParams::default().symbol_bonus;
        assert!((ranked[0].score - ranked[1].score - bonus).abs() < 1e-6);
    }

    #[test]
    fn bm25_weighs_a_term_by_how_rare_it_is_in_the_base() {
        let (stats, frequencies) = base_statistics();
        assert_eq!((stats.chunks.documents, stats.files.documents), (4, 4));
        assert_eq!(frequencies.get("b:speed"), Some(&2), "{frequencies:?}");
        assert_eq!(frequencies.get("fb:speed"), Some(&2), "{frequencies:?}");
        assert_eq!(frequencies.get("b:wind"), None, "one chunk: not published");
        let bm25 = Bm25::new("wind speed", Corpus::Chunks, &stats, &frequencies);
        assert_eq!(bm25.rarest_terms(1), ["wind"]);
        let score = |text: &str| bm25.score(&chunk_fields(text, "", "a.rs"));
        assert!(score("wind") > score("speed"));
        assert_eq!(score("tide"), 0.0);
    }

    #[test]
    fn a_files_term_document_reads_back_as_its_counts() {
        let counts = Counts::of("read the file, then read it again");
        assert_eq!(counts.document(), " again:1 file:1 read:2 ");
        assert_eq!(Counts::parse(&counts.document()), counts);
    }
}
