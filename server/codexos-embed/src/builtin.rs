//! The built-in embedder: feature hashing of code-aware words. It needs no model file, so
//! indexing always works; its vectors capture shared vocabulary (identifiers, their parts and
//! their character trigrams), not meaning.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::words::{identifier_parts, identifiers, lowercase_into, word_weight};
use crate::{EmbedError, Embedder, SpaceId, normalize};

/// Vector length of the built-in embedder.
pub const HASHING_DIM: usize = 512;

const PART_WEIGHT: f32 = 1.0;
const WHOLE_IDENTIFIER_WEIGHT: f32 = 1.0;
const TRIGRAM_WEIGHT: f32 = 0.4;

/// Distinguishes feature kinds that could otherwise hash alike (the trigram `abc` and the word `abc`).
const WORD_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
const TRIGRAM_SEED: u64 = 0x9e_37_79_b9_7f_4a_7c_15;

/// Feature hashing of identifiers, identifier parts and character trigrams into
/// signed buckets ([`HASHING_DIM`] by default), with sublinear term frequency.
pub struct HashingEmbedder {
    space: SpaceId,
}

impl Default for HashingEmbedder {
    fn default() -> Self {
        Self::new()
    }
}

impl HashingEmbedder {
    pub fn new() -> Self {
        Self::with_dim(HASHING_DIM)
    }

    /// Hashes into `dim` buckets (at least 1): fewer buckets, more collisions, smaller vectors.
    pub fn with_dim(dim: usize) -> Self {
        Self {
            space: SpaceId::new("builtin-hashing", dim.max(1), "v1"),
        }
    }

    /// The normalised vector of one text.
    pub fn embed_one(&self, text: &str) -> Vec<f32> {
        let mut features = FeatureCounts::default();
        let mut lower = String::new();
        let mut whole = String::new();
        for identifier in identifiers(text) {
            let mut part_count = 0;
            whole.clear();
            for part in identifier_parts(identifier) {
                part_count += 1;
                lowercase_into(part, &mut lower);
                whole.push_str(&lower);
                add_word(&mut features, &lower);
            }
            if part_count > 1 {
                *features
                    .entry(hash_bytes(WORD_SEED, whole.as_bytes()))
                    .or_default() += WHOLE_IDENTIFIER_WEIGHT;
            }
        }
        let dim = self.space.dim();
        let mut vector = vec![0.0f32; dim];
        for (hash, weight) in features {
            let bucket = (hash % dim as u64) as usize;
            let sign = if hash >> 63 == 0 { 1.0 } else { -1.0 };
            vector[bucket] += sign * (1.0 + weight).ln();
        }
        normalize(&mut vector);
        vector
    }
}

type FeatureCounts = HashMap<u64, f32, BuildHasherDefault<PassThroughHasher>>;

fn add_word(features: &mut FeatureCounts, word: &str) {
    let weight = word_weight(word) * PART_WEIGHT;
    *features
        .entry(hash_bytes(WORD_SEED, word.as_bytes()))
        .or_default() += weight;
    if weight < PART_WEIGHT || word.len() < 4 {
        return;
    }
    // Trigrams of `^word$` relate inflections and abbreviations (`parser`, `parsing`, `parse`).
    let mut padded = [0u8; 3];
    let bytes = word.as_bytes();
    let framed = std::iter::once(b'^')
        .chain(bytes.iter().copied())
        .chain(std::iter::once(b'$'));
    for (index, byte) in framed.enumerate() {
        padded.rotate_left(1);
        padded[2] = byte;
        if index >= 2 {
            *features
                .entry(hash_bytes(TRIGRAM_SEED, &padded))
                .or_default() += TRIGRAM_WEIGHT;
        }
    }
}

/// FNV-1a followed by a 64-bit finaliser, so both the low bits (bucket) and the top bit (sign)
/// are well mixed.
fn hash_bytes(seed: u64, bytes: &[u8]) -> u64 {
    let mut hash = seed ^ 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    hash ^ (hash >> 33)
}

/// The feature keys are already hashes; hashing them again would only cost time.
#[derive(Default)]
struct PassThroughHasher(u64);

impl Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }
    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

impl Embedder for HashingEmbedder {
    fn space(&self) -> &SpaceId {
        &self.space
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(texts.iter().map(|text| self.embed_one(text)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cosine;

    #[test]
    fn the_same_text_always_gets_the_same_vector() {
        let embedder = HashingEmbedder::new();
        let text = "fn parse_http_request(buf: &[u8]) -> Request { todo!() }";
        assert_eq!(embedder.embed_one(text), embedder.embed_one(text));
        assert_eq!(
            HashingEmbedder::new().embed_one(text),
            embedder.embed_one(text)
        );
    }

    #[test]
    fn vectors_have_unit_length_and_empty_text_is_zero() {
        let embedder = HashingEmbedder::new();
        let vectors = embedder
            .embed(&["def load_config(path): ...", "", "+-*/ {}"])
            .unwrap();
        let length: f32 = vectors[0].iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((length - 1.0).abs() < 1e-5, "length {length}");
        assert!(vectors[1].iter().all(|&x| x == 0.0));
        assert!(vectors[2].iter().all(|&x| x == 0.0));
        assert_eq!(vectors[0].len(), embedder.dim());
    }

    #[test]
    fn a_query_in_plain_words_is_closer_to_the_code_it_names_than_to_unrelated_code() {
        let embedder = HashingEmbedder::new();
        let query = embedder.embed_one("parse the http request header");
        let related = embedder
            .embed_one("fn parseHttpRequestHeader(input: &str) -> Result<Header, ParseError> {}");
        let unrelated = embedder
            .embed_one("def render_template(name, context): return jinja.render(name, context)");
        assert!(cosine(&query, &related) > cosine(&query, &unrelated) + 0.2);
    }

    #[test]
    fn inflected_words_share_trigrams() {
        let embedder = HashingEmbedder::new();
        let parser = embedder.embed_one("parser");
        let parsing = embedder.embed_one("parsing");
        let banana = embedder.embed_one("banana");
        assert!(cosine(&parser, &parsing) > 0.2);
        assert!(cosine(&parser, &parsing) > cosine(&parser, &banana) + 0.2);
    }
}
