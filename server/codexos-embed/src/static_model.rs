//! A static embedder distilled from MiniLM, Model2Vec-style: every vocabulary token is run once
//! through the neural model (`[CLS] token [SEP]`, mean-pooled), the vectors are reduced with PCA
//! and weighted by an estimate of how rare the token is (SIF over Zipf ranks), and stored. At run
//! time a text's vector is the weighted sum of its tokens' vectors: no neural network, no matrix
//! product, only table look-ups.
//!
//! Each vector also carries a lexical half: the built-in embedder's hashed identifiers, identifier
//! parts and trigrams in 256 buckets, weighted equally with the distilled half. On the commit
//! benchmark in `../shared/eval` (dense only, MRR) that took ripgrep from 0.476 (distilled half
//! alone) and 0.518 (hashing alone) to 0.580, and flask from 0.563 and 0.611 to 0.601-0.613:
//! the distilled half knows that `config` and `settings` are related, the lexical half knows
//! `walk_dir` when the query says `walk`.
//!
//! Code-aware tokenization: identifiers are split into their parts (`parse_http_request`,
//! `parseHttpRequest` → `parse`, `http`, `request`) before WordPiece, and an identifier whose
//! joined lowercase form is itself a vocabulary word (`file_name` → `filename`) also counts as
//! that word.
//!
//! [`DistillOptions::corpus`] also averages each token's states in the texts of a corpus into its
//! vector (an experiment measured in `docs/retrieval.md`; `codexos models install` distills
//! without one).

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::minilm::MiniLmEmbedder;
use crate::model_files::{Fnv, bad_file, fingerprint, read};
use crate::pca::principal_components;
use crate::words::{identifier_parts, identifiers, lowercase_into, word_weight};
use crate::{EmbedError, Embedder, HashingEmbedder, SpaceId, normalize};

/// The file name of the distilled model inside the models directory.
pub const STATIC_MODEL_FILE: &str = "static-minilm-256.bin";
const MAGIC: &[u8; 8] = b"CXSTATIC";
/// 2: rows are stored unweighted and SIF weights are applied when loading.
const FORMAT_VERSION: u32 = 2;
/// Sequences per forward pass while distilling; all are three tokens long, so no padding.
const DISTILL_BATCH: usize = 512;
/// Corpus texts per forward pass while averaging contexts.
const DISTILL_TEXT_BATCH: usize = 16;
/// Longest word WordPiece tries to split, as in BERT; longer runs are base64, hashes or minified code.
const MAX_WORD_CHARS: usize = 100;
/// Model2Vec's SIF coefficient: a token's weight is `SIF / (SIF + p(token))`.
const SIF_COEFFICIENT: f64 = 1e-4;
/// Buckets of the lexical half of each vector.
const LEXICAL_DIM: usize = 256;

/// How to distill.
#[derive(Clone, Debug)]
pub struct DistillOptions {
    /// Dimensions kept after PCA (at most the model's hidden size).
    pub dim: usize,
    /// Distill only these vocabulary tokens (WordPiece form, e.g. `##ing`); `None` = the whole
    /// vocabulary. A subset makes a quick model for tests.
    pub only_tokens: Option<Vec<String>>,
    /// Texts to run through the model: each token seen in them is moved towards the mean of
    /// its contextual states ([`blend_contexts`]). Empty (the default): tokens are only run alone.
    pub corpus: Vec<String>,
    /// How many occurrences a token's vector run alone counts for against its contexts.
    pub context_prior: f32,
    /// What the corpus is (`pip 26.3, 16000 texts`), written into the model so an install can
    /// tell a model made from another corpus.
    pub corpus_name: String,
}

impl Default for DistillOptions {
    fn default() -> Self {
        Self {
            dim: 256,
            only_tokens: None,
            corpus: Vec::new(),
            context_prior: 5.0,
            corpus_name: String::new(),
        }
    }
}

/// What a distillation did.
#[derive(Clone, Debug)]
pub struct DistillReport {
    pub tokens: usize,
    pub dim: usize,
    pub seconds: f64,
    pub path: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct Header {
    source_model: String,
    source_version: String,
    dim: usize,
    /// What the tokens were averaged over in context ([`DistillOptions::corpus_name`]); empty
    /// when each was only run alone.
    #[serde(default)]
    corpus: String,
    /// Vocabulary tokens in WordPiece form, in row order; rows follow the header as f32 LE.
    tokens: Vec<String>,
}

/// Distills the MiniLM model in `model_dir` into a static model written atomically to `out_path`.
pub fn distill(
    model_dir: &Path,
    out_path: &Path,
    options: &DistillOptions,
) -> Result<DistillReport, EmbedError> {
    let started = Instant::now();
    let model = MiniLmEmbedder::load(model_dir)?;
    let hidden = model.dim();
    if options.dim == 0 || options.dim > hidden {
        return Err(EmbedError::Config(format!(
            "static model dimension {} must be between 1 and the model's {hidden}",
            options.dim
        )));
    }
    let vocabulary = model.tokenizer().get_vocab(true);
    let (cls, sep) = match (vocabulary.get("[CLS]"), vocabulary.get("[SEP]")) {
        (Some(&cls), Some(&sep)) => (cls, sep),
        _ => {
            return Err(bad_file(
                &model_dir.join("tokenizer.json"),
                "the vocabulary has no [CLS] or [SEP] token",
            ));
        }
    };
    let mut tokens: Vec<(u32, String)> = vocabulary
        .into_iter()
        .filter(|(token, _)| !(token.starts_with('[') && token.ends_with(']')))
        .filter(|(token, _)| {
            options
                .only_tokens
                .as_ref()
                .is_none_or(|only| only.contains(token))
        })
        .map(|(token, id)| (id, token))
        .collect();
    // Vocabulary order stands in for frequency rank (WordPiece vocabularies list common pieces first).
    tokens.sort_unstable();

    let mut rows = Vec::with_capacity(tokens.len() * hidden);
    for batch in tokens.chunks(DISTILL_BATCH) {
        let ids: Vec<u32> = batch.iter().flat_map(|&(id, _)| [cls, id, sep]).collect();
        let attention = vec![1u32; ids.len()];
        for vector in model.pooled(&ids, &attention, batch.len())? {
            rows.extend(vector);
        }
    }
    if !options.corpus.is_empty() {
        let contexts = context_sums(&model, &tokens, &options.corpus)?;
        blend_contexts(&mut rows, &contexts, options.context_prior);
    }
    let vectors = principal_components(&rows, hidden, options.dim);

    let header = Header {
        source_model: model.space().model().to_string(),
        source_version: model.space().version().to_string(),
        dim: options.dim,
        corpus: match options.corpus.is_empty() {
            true => String::new(),
            false => options.corpus_name.clone(),
        },
        tokens: tokens.into_iter().map(|(_, token)| token).collect(),
    };
    write_model(out_path, &header, &vectors)?;
    Ok(DistillReport {
        tokens: header.tokens.len(),
        dim: options.dim,
        seconds: started.elapsed().as_secs_f64(),
        path: out_path.to_path_buf(),
    })
}

/// Lines of source in one corpus text: about a function's worth, under the model's 256 tokens.
const CORPUS_WINDOW_LINES: usize = 12;

/// Cuts source files into texts of [`CORPUS_WINDOW_LINES`] lines (skipping those with 40
/// characters or fewer besides whitespace) and keeps `wanted` of them at an even stride, so
/// the sample spans every file in the order given.
pub fn corpus_windows<'a>(files: impl IntoIterator<Item = &'a str>, wanted: usize) -> Vec<String> {
    let mut windows = Vec::new();
    for file in files {
        let lines: Vec<&str> = file.lines().collect();
        windows.extend(
            lines
                .chunks(CORPUS_WINDOW_LINES)
                .map(|window| window.join("\n"))
                .filter(|window| window.trim().len() > 40),
        );
    }
    let stride = (windows.len() / wanted.max(1)).max(1);
    windows.into_iter().step_by(stride).take(wanted).collect()
}

/// Each token's contextual states in a corpus, summed: `sums` is row-major like the rows.
struct ContextSums {
    hidden: usize,
    sums: Vec<f64>,
    counts: Vec<u32>,
}

/// Runs `corpus` through the model and sums the output state of every occurrence of each of
/// `tokens` (row order).
fn context_sums(
    model: &MiniLmEmbedder,
    tokens: &[(u32, String)],
    corpus: &[String],
) -> Result<ContextSums, EmbedError> {
    let hidden = model.dim();
    let row_of: HashMap<u32, usize> = tokens
        .iter()
        .enumerate()
        .map(|(row, &(id, _))| (id, row))
        .collect();
    let mut contexts = ContextSums {
        hidden,
        sums: vec![0.0; tokens.len() * hidden],
        counts: vec![0; tokens.len()],
    };
    // Texts of similar length share a batch, so padding wastes little.
    let mut texts: Vec<&str> = corpus.iter().map(String::as_str).collect();
    texts.sort_by_key(|text| text.len());
    for (done, batch) in texts.chunks(DISTILL_TEXT_BATCH).enumerate() {
        model.token_states(batch, |id, state| {
            if let Some(&row) = row_of.get(&id) {
                contexts.counts[row] += 1;
                contexts.sums[row * hidden..(row + 1) * hidden]
                    .iter_mut()
                    .zip(state)
                    .for_each(|(sum, &x)| *sum += f64::from(x));
            }
        })?;
        tracing::debug!(
            texts = done * DISTILL_TEXT_BATCH,
            of = texts.len(),
            "distilling contexts"
        );
    }
    Ok(contexts)
}

/// Moves each token's row (its vector run alone) towards the mean of its contextual states:
/// `(prior · alone + n · context) / (prior + n)` for a token seen `n` times; unseen tokens keep
/// their row. A state in context and a token run alone differ by an offset (the latter pools
/// `[CLS]` and `[SEP]` with it), so the contextual means are first shifted by the mean difference
/// between the two over the tokens seen; otherwise seen and unseen tokens would sit apart.
fn blend_contexts(rows: &mut [f32], contexts: &ContextSums, prior: f32) {
    let hidden = contexts.hidden;
    let seen: Vec<usize> = (0..contexts.counts.len())
        .filter(|&row| contexts.counts[row] > 0)
        .collect();
    if seen.is_empty() || hidden == 0 {
        return;
    }
    let context_mean =
        |row: usize, d: usize| contexts.sums[row * hidden + d] / f64::from(contexts.counts[row]);
    let mut offset = vec![0.0f64; hidden];
    for &row in &seen {
        for (d, o) in offset.iter_mut().enumerate() {
            *o += f64::from(rows[row * hidden + d]) - context_mean(row, d);
        }
    }
    offset.iter_mut().for_each(|o| *o /= seen.len() as f64);
    let prior = f64::from(prior.max(0.0));
    for &row in &seen {
        let n = f64::from(contexts.counts[row]);
        for (d, o) in offset.iter().enumerate() {
            let alone = f64::from(rows[row * hidden + d]);
            let context = context_mean(row, d) + o;
            rows[row * hidden + d] = ((prior * alone + n * context) / (prior + n)) as f32;
        }
    }
}

/// Weights by estimated rarity: Zipf's law puts the probability of the token at `rank` at
/// `1 / (rank + 2)` (normalised), and SIF turns it into `a / (a + p)`.
fn sif_weights(count: usize) -> Vec<f32> {
    let harmonic: f64 = (0..count).map(|rank| 1.0 / (rank as f64 + 2.0)).sum();
    (0..count)
        .map(|rank| {
            let probability = 1.0 / (rank as f64 + 2.0) / harmonic;
            (SIF_COEFFICIENT / (SIF_COEFFICIENT + probability)) as f32
        })
        .collect()
}

/// Writes to a temporary file beside `path`, syncs it, then renames it over `path`: a reader
/// never sees half a model.
fn write_model(path: &Path, header: &Header, vectors: &[f32]) -> Result<(), EmbedError> {
    let write_error = |source| EmbedError::Write {
        path: path.to_path_buf(),
        source,
    };
    let header_json =
        serde_json::to_vec(header).map_err(|error| write_error(std::io::Error::other(error)))?;
    let mut bytes = Vec::with_capacity(16 + header_json.len() + vectors.len() * 4);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&(header_json.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&header_json);
    vectors
        .iter()
        .for_each(|x| bytes.extend_from_slice(&x.to_le_bytes()));

    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(write_error)?;
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp_path = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&temp_path)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp_path, path)
    })();
    if result.is_err() {
        let _cleanup_is_best_effort = std::fs::remove_file(&temp_path);
    }
    result.map_err(write_error)
}

type FastMap<V> = HashMap<String, V, BuildHasherDefault<Fnv>>;

/// The distilled embedder: WordPiece look-ups and a weighted sum of stored token vectors.
pub struct StaticEmbedder {
    space: SpaceId,
    /// Dimensions of the distilled half.
    dim: usize,
    lexical: HashingEmbedder,
    vectors: Vec<f32>,
    /// Row of each word-initial piece (`parse`).
    word_starts: FastMap<u32>,
    /// Row of each continuation piece, stored without its `##` (`##ing` → `ing`).
    continuations: FastMap<u32>,
    corpus: String,
}

impl StaticEmbedder {
    /// Loads a model written by [`distill`].
    pub fn load(path: &Path) -> Result<Self, EmbedError> {
        let bytes = read(path)?;
        let (header, body) = split_file(&bytes).map_err(|reason| {
            bad_file(
                path,
                format!("{reason}; rebuild it with `codexos models install`"),
            )
        })?;
        let header: Header =
            serde_json::from_slice(header).map_err(|error| bad_file(path, error))?;
        let expected = header.tokens.len() * header.dim * 4;
        if header.dim == 0 || body.len() != expected {
            return Err(bad_file(
                path,
                format!(
                    "expected {expected} bytes of vectors for {} tokens of {} dims, found {}",
                    header.tokens.len(),
                    header.dim,
                    body.len()
                ),
            ));
        }
        let mut vectors: Vec<f32> = body
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        for (row, weight) in vectors
            .chunks_mut(header.dim)
            .zip(sif_weights(header.tokens.len()))
        {
            row.iter_mut().for_each(|x| *x *= weight);
        }
        if vectors.iter().any(|x| !x.is_finite()) {
            return Err(bad_file(path, "the vectors contain NaN or infinite values"));
        }
        let mut word_starts = FastMap::default();
        let mut continuations = FastMap::default();
        for (row, token) in header.tokens.into_iter().enumerate() {
            match token.strip_prefix("##") {
                Some(rest) => continuations.insert(rest.to_string(), row as u32),
                None => word_starts.insert(token, row as u32),
            };
        }
        let version = format!("{:016x}-lexical{LEXICAL_DIM}", fingerprint(&bytes));
        let space = SpaceId::new("static-minilm", header.dim + LEXICAL_DIM, version);
        Ok(Self {
            space,
            dim: header.dim,
            lexical: HashingEmbedder::with_dim(LEXICAL_DIM),
            vectors,
            word_starts,
            continuations,
            corpus: header.corpus,
        })
    }

    /// What the model's tokens were averaged over in context; empty for none.
    pub fn corpus(&self) -> &str {
        &self.corpus
    }

    /// The normalised vector of one text: the distilled half, then the lexical half.
    pub fn embed_one(&self, text: &str) -> Vec<f32> {
        let mut vector = self.distilled(text);
        vector.extend(self.lexical.embed_one(text));
        normalize(&mut vector);
        vector
    }

    /// The normalised distilled half alone (the token vectors pooled).
    pub fn distilled(&self, text: &str) -> Vec<f32> {
        let mut pieces: Vec<(u32, f32)> = Vec::new();
        let mut lower = String::new();
        let mut whole = String::new();
        for identifier in identifiers(text) {
            whole.clear();
            let mut part_count = 0;
            for part in identifier_parts(identifier) {
                part_count += 1;
                lowercase_into(part, &mut lower);
                whole.push_str(&lower);
                self.word_pieces(&lower, word_weight(&lower), &mut pieces);
            }
            let whole_word = (part_count > 1)
                .then(|| self.word_starts.get(whole.as_str()))
                .flatten();
            if let Some(&row) = whole_word {
                pieces.push((row, 1.0));
            }
        }
        self.pool(pieces)
    }

    /// Greedy longest-match-first WordPiece, as BERT's tokenizer does; a word that cannot be
    /// split into known pieces contributes nothing (BERT would make it `[UNK]`).
    fn word_pieces(&self, word: &str, weight: f32, pieces: &mut Vec<(u32, f32)>) {
        if word.chars().count() > MAX_WORD_CHARS {
            return;
        }
        let first_piece = pieces.len();
        let mut start = 0;
        while start < word.len() {
            let table = if start == 0 {
                &self.word_starts
            } else {
                &self.continuations
            };
            let mut end = word.len();
            let found = loop {
                if let Some(&row) = table.get(&word[start..end]) {
                    break Some(row);
                }
                match word[start..end].char_indices().next_back() {
                    Some((last, _)) if last > 0 => end = start + last,
                    _ => break None,
                }
            };
            match found {
                Some(row) => {
                    pieces.push((row, weight));
                    start = end;
                }
                None => {
                    pieces.truncate(first_piece);
                    return;
                }
            }
        }
    }

    /// Sums each distinct piece's vector once, scaled by the log of its total weight, so a name
    /// repeated twenty times in a chunk does not drown out everything else.
    fn pool(&self, mut pieces: Vec<(u32, f32)>) -> Vec<f32> {
        pieces.sort_unstable_by_key(|&(row, _)| row);
        let mut vector = vec![0.0f32; self.dim];
        let mut index = 0;
        while index < pieces.len() {
            let row = pieces[index].0;
            let mut total = 0.0;
            while index < pieces.len() && pieces[index].0 == row {
                total += pieces[index].1;
                index += 1;
            }
            let scale = (1.0 + total).ln();
            let start = row as usize * self.dim;
            for (sum, value) in vector
                .iter_mut()
                .zip(&self.vectors[start..start + self.dim])
            {
                *sum += scale * value;
            }
        }
        normalize(&mut vector);
        vector
    }
}

/// The JSON header and the vector bytes of a model file, or why the file is not one.
fn split_file(bytes: &[u8]) -> Result<(&[u8], &[u8]), String> {
    let not_a_model = || "not a CodexOS static model (bad magic or truncated header)".to_string();
    let rest = bytes
        .strip_prefix(MAGIC.as_slice())
        .ok_or_else(not_a_model)?;
    let word = |range: std::ops::Range<usize>| {
        rest.get(range)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
            .ok_or_else(not_a_model)
    };
    let version = word(0..4)?;
    if version != FORMAT_VERSION {
        return Err(format!(
            "format version {version}, this build reads version {FORMAT_VERSION}"
        ));
    }
    let header_len = word(4..8)? as usize;
    let header = rest.get(8..8 + header_len).ok_or_else(not_a_model)?;
    Ok((header, &rest[8 + header_len..]))
}

impl Embedder for StaticEmbedder {
    fn space(&self) -> &SpaceId {
        &self.space
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(texts.iter().map(|text| self.embed_one(text)).collect())
    }

    fn has_meaning_queries(&self) -> bool {
        true
    }

    /// The distilled half alone, the lexical half left at zero. Stored vectors hold both halves
    /// at equal weight, so its cosine with a chunk is the distilled halves' cosine (over √2):
    /// what the words *mean*. Their hashed spelling would repeat what a hybrid search's BM25
    /// side already scores; without it, better vectors lift the hybrid ranking
    /// (`docs/retrieval.md`).
    fn embed_query_meaning(&self, query: &str) -> Result<Vec<f32>, EmbedError> {
        let mut vector = self.distilled(query);
        vector.resize(self.dim + LEXICAL_DIM, 0.0);
        Ok(vector)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_seen_in_context_moves_towards_its_aligned_contextual_mean_and_an_unseen_one_stays() {
        // Three tokens of two dimensions, run alone.
        let mut rows = vec![1.0, 0.0, 0.0, 1.0, 5.0, 5.0];
        let contexts = ContextSums {
            hidden: 2,
            // Token 0 seen twice (mean [2, 1]), token 1 once (mean [1, 3]), token 2 never.
            sums: vec![4.0, 2.0, 1.0, 3.0, 0.0, 0.0],
            counts: vec![2, 1, 0],
        };
        blend_contexts(&mut rows, &contexts, 1.0);
        // Offset: the mean of (alone − contextual mean) over tokens 0 and 1 = [−1, −1.5].
        // Token 0: (1·[1, 0] + 2·[1, −0.5]) / 3; token 1: (1·[0, 1] + 1·[0, 1.5]) / 2.
        let expected = [1.0, -1.0 / 3.0, 0.0, 1.25, 5.0, 5.0];
        for (got, want) in rows.iter().zip(expected) {
            assert!((got - want).abs() < 1e-6, "{rows:?} != {expected:?}");
        }
    }

    #[test]
    fn a_corpus_is_cut_into_windows_of_twelve_lines_sampled_evenly() {
        let long_line = "x".repeat(50);
        let file: String = (0..48)
            .map(|line| format!("{line} {long_line}\n"))
            .collect();
        let blank = "\n".repeat(30);
        let all = corpus_windows([file.as_str(), blank.as_str()], 100);
        assert_eq!(all.len(), 4, "blank windows are skipped");
        assert!(all[0].starts_with("0 ") && all[0].lines().count() == 12);
        assert!(all[1].starts_with("12 "));
        let two = corpus_windows([file.as_str()], 2);
        assert_eq!(two.len(), 2);
        assert!(two[0].starts_with("0 ") && two[1].starts_with("24 "));
    }

    #[test]
    fn a_corpus_where_no_token_is_seen_leaves_every_row_as_it_was() {
        let mut rows = vec![1.0, 2.0, 3.0, 4.0];
        let contexts = ContextSums {
            hidden: 2,
            sums: vec![0.0; 4],
            counts: vec![0, 0],
        };
        blend_contexts(&mut rows, &contexts, 5.0);
        assert_eq!(rows, [1.0, 2.0, 3.0, 4.0]);
    }
}
