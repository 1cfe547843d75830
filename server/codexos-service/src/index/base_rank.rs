//! One ranking for the shared base's chunks and the overlay's: every candidate, wherever it
//! came from, is scored by BM25 with the base's statistics (chunk count, average field lengths
//! and document frequencies, published beside the base) and by its cosine in the base's vector
//! space, then fused the way the local hybrid search fuses (each signal divided by its best
//! among the candidates, then weighted). An overlay hit thus ranks where it would in a full
//! local index: a weak one below a strong base hit, a strong one above it.
//!
//! BM25 is tantivy's (k1 1.2, b 0.75, per field, summed with the local search's field weights),
//! computed from each candidate's text with the index's own code-aware tokenizer, so the
//! numbers match what the local index would give a chunk of the same base.

use std::collections::{HashMap, HashSet};

use codexos_index::{FusionParams, SearchMode};
use codexos_shared::LexicalStats;
use codexos_store::tokens::terms;

use super::{SearchHit, SearchQuery};

const K1: f32 = 1.2;
const B: f32 = 0.75;
/// The fields a chunk is searched by, in [`LexicalStats::average_lengths`]' order, each with
/// the prefix of its term ids in the terms collection.
const FIELD_PREFIXES: [&str; 3] = ["b", "s", "p"];

/// A chunk's three fields: body text, symbol path, file path.
pub(crate) fn fields<'a>(text: &'a str, symbol: &'a str, path: &'a str) -> [&'a str; 3] {
    [text, symbol, path]
}

/// The id of `term` of field `field` (an index into the fields) in the terms collection.
pub(crate) fn term_id(field: usize, term: &str) -> String {
    format!("{}:{term}", FIELD_PREFIXES[field])
}

/// Counts a corpus' BM25 statistics while a publish reads its chunks.
#[derive(Default)]
pub(crate) struct StatsBuilder {
    chunks: u64,
    lengths: [u64; 3],
    frequencies: HashMap<String, u64>,
}

impl StatsBuilder {
    pub(crate) fn add(&mut self, fields: [&str; 3]) {
        self.chunks += 1;
        for (field, text) in fields.into_iter().enumerate() {
            let terms = terms(text);
            self.lengths[field] += terms.len() as u64;
            let unique: HashSet<String> = terms.into_iter().collect();
            for term in unique {
                *self.frequencies.entry(term_id(field, &term)).or_default() += 1;
            }
        }
    }

    /// The statistics, and the frequencies worth publishing: those of terms in two chunks or
    /// more (a term the terms collection lacks counts as in one chunk, which is exact for the
    /// half of a code base's terms that occur once).
    pub(crate) fn finish(self) -> (LexicalStats, HashMap<String, u64>) {
        let chunks = self.chunks.max(1) as f32;
        let stats = LexicalStats {
            chunks: self.chunks,
            average_lengths: self.lengths.map(|total| total as f32 / chunks),
        };
        let mut frequencies = self.frequencies;
        frequencies.retain(|_, df| *df >= 2);
        (stats, frequencies)
    }
}

/// A query's BM25 against the base's statistics.
pub(crate) struct Bm25 {
    stats: LexicalStats,
    /// The query's unique terms, each with its idf per field.
    terms: Vec<(String, [f32; 3])>,
    weights: [f32; 3],
}

impl Bm25 {
    /// The term ids whose frequencies `query` needs.
    pub(crate) fn term_ids(query: &str) -> Vec<String> {
        unique_terms(query)
            .iter()
            .flat_map(|term| (0..FIELD_PREFIXES.len()).map(move |field| term_id(field, term)))
            .collect()
    }

    pub(crate) fn new(
        query: &str,
        stats: LexicalStats,
        frequencies: &HashMap<String, u64>,
    ) -> Bm25 {
        let n = stats.chunks as f32;
        let terms = unique_terms(query)
            .into_iter()
            .map(|term| {
                let idf = std::array::from_fn(|field| {
                    let df = frequencies
                        .get(&term_id(field, &term))
                        .copied()
                        .unwrap_or(1) as f32;
                    (1.0 + (n - df + 0.5) / (df + 0.5)).ln().max(0.0)
                });
                (term, idf)
            })
            .collect();
        let weights = FusionParams::default().chunk_weights;
        Bm25 {
            stats,
            terms,
            weights: [weights.body, weights.symbol, weights.path],
        }
    }

    /// The query's terms rarest in the base's chunk bodies first: the ones that pick out the
    /// chunks BM25 ranks best.
    pub(crate) fn rarest_terms(&self, count: usize) -> Vec<&str> {
        let mut by_rarity: Vec<&(String, [f32; 3])> = self.terms.iter().collect();
        by_rarity.sort_by(|a, b| b.1[0].total_cmp(&a.1[0]));
        by_rarity
            .into_iter()
            .take(count)
            .map(|(term, _)| term.as_str())
            .collect()
    }

    pub(crate) fn score(&self, fields: [&str; 3]) -> f32 {
        let mut score = 0.0;
        for (field, text) in fields.into_iter().enumerate() {
            if self.weights[field] <= 0.0 {
                continue;
            }
            let terms = terms(text);
            let length = terms.len() as f32;
            let average = self.stats.average_lengths[field].max(f32::MIN_POSITIVE);
            for (term, idf) in &self.terms {
                let tf = terms.iter().filter(|found| *found == term).count() as f32;
                if tf == 0.0 {
                    continue;
                }
                let norm = K1 * (1.0 - B + B * length / average);
                score += self.weights[field] * idf[field] * tf * (K1 + 1.0) / (tf + norm);
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

/// The candidates ranked as the local hybrid search would rank them (see the module doc): a
/// chunk found twice counts once, one per file when the query asks for files, best first.
pub(crate) fn rank(candidates: Vec<Candidate>, query: &SearchQuery) -> Vec<SearchHit> {
    let params = FusionParams::default();
    let mut seen = HashSet::new();
    let candidates: Vec<Candidate> = candidates
        .into_iter()
        .filter(|candidate| {
            let hit = &candidate.hit;
            seen.insert((hit.path.clone(), hit.start_line, hit.end_line))
        })
        .collect();
    let best = |signal: fn(&Candidate) -> f32| {
        candidates
            .iter()
            .map(signal)
            .fold(0.0_f32, f32::max)
            .max(f32::MIN_POSITIVE)
    };
    let (best_bm25, best_cosine) = (best(|c| c.bm25), best(|c| c.cosine.max(0.0)));
    let mut ranked: Vec<SearchHit> = candidates
        .into_iter()
        .map(|candidate| {
            let lexical = candidate.bm25 / best_bm25;
            let dense = candidate.cosine.max(0.0) / best_cosine;
            let score = match query.mode {
                SearchMode::Bm25 => lexical,
                SearchMode::Vector => dense,
                SearchMode::Rrf | SearchMode::Hybrid | SearchMode::HybridRerank => {
                    params.chunk_lexical * lexical + params.dense * dense
                }
            };
            SearchHit {
                score,
                ..candidate.hit
            }
        })
        .filter(|hit| hit.score > 0.0)
        .collect();
    ranked.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.path.cmp(&b.path))
            .then(a.start_line.cmp(&b.start_line))
    });
    if query.files {
        let mut files = HashSet::new();
        ranked.retain(|hit| files.insert(hit.path.clone()));
    }
    ranked.truncate(query.k);
    ranked
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
            bm25: bm25.score(fields(text, "", path)),
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
            builder.add(fields(text, "", "src/lib.rs"));
        }
        builder.finish()
    }

    #[test]
    fn a_weak_overlay_hit_ranks_below_a_strong_base_hit_and_a_strong_one_above_it() {
        let (stats, frequencies) = base_statistics();
        let query = SearchQuery::new("wind speed knots");
        let bm25 = Bm25::new(&query.query, stats, &frequencies);
        let base = candidate("wind.rs", "fn wind_speed_knots() -> u32 { 12 }", &bm25, 0.8);
        let weak = candidate("sound.rs", "fn speed_of_sound() -> u32 { 340 }", &bm25, 0.3);
        let order = |hits: Vec<SearchHit>| -> Vec<String> {
            hits.into_iter().map(|hit| hit.path).collect()
        };
        // The overlay's list comes first, as it did under reciprocal rank fusion.
        assert_eq!(
            order(rank(vec![weak, base], &query)),
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
            order(rank(vec![base, strong], &query)),
            ["gust.rs", "wind.rs"]
        );
    }

    #[test]
    fn bm25_weighs_a_term_by_how_rare_it_is_in_the_base() {
        let (stats, frequencies) = base_statistics();
        assert_eq!(stats.chunks, 4);
        assert_eq!(frequencies.get("b:speed"), Some(&2), "{frequencies:?}");
        assert_eq!(frequencies.get("b:wind"), None, "one chunk: not published");
        let bm25 = Bm25::new("wind speed", stats, &frequencies);
        assert_eq!(bm25.rarest_terms(1), ["wind"]);
        let rare = bm25.score(fields("wind", "", "a.rs"));
        let common = bm25.score(fields("speed", "", "a.rs"));
        assert!(rare > common, "{rare} vs {common}");
        assert_eq!(bm25.score(fields("tide", "", "a.rs")), 0.0);
    }
}
