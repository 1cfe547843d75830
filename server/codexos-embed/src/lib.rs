//! Text embedders behind one synchronous trait.
//!
//! The index calls [`Embedder::embed`] from worker threads with batches of chunk texts; every
//! embedder returns L2-normalised vectors of [`Embedder::dim`] floats in the vector space named
//! by [`Embedder::space`]. Vectors from different spaces are never comparable: a store keeps one
//! space per [`SpaceId`] and rebuilds it when the id changes.
//!
//! | embedder | vectors | needs | 40-line Rust chunks/s (2 busy cores) | dense-only MRR ripgrep / flask |
//! |---|---|---|---|---|
//! | [`StaticEmbedder`] (default) | 256 distilled + 256 lexical | `static-minilm-256.bin` | ~6,000–10,000 (8–14 MB/s) | 0.580 / 0.601 (tokens run alone, before the corpus) |
//! | [`HashingEmbedder`] | 512 hashed | nothing | ~15,000–26,000 (21–37 MB/s) | 0.518 / 0.611 |
//! | [`MiniLmEmbedder`] | 384 | `all-MiniLM-L6-v2/` | ~2.7 (inputs cut at 256 tokens) | 0.530 / 0.589 (README's Python run) |
//! | [`HttpEmbedder`] | the server's | a server | the server's | — |
//!
//! Speeds from `cargo bench -p codexos-embed`; MRR from the commit benchmark in `../shared/eval`
//! (`examples/dense_eval.rs`, 40-line windows with stride 30, file = best window; plain BM25 scores
//! 0.671 / 0.574 there). [`select_embedder`] picks one from `[index] embedder = "..."`, falling back
//! with a notice when model files are missing; `codexos models install` (codexos-models) installs
//! them and runs [`distill`] (about 12 minutes on 2 cores: the 29,523 tokens of MiniLM's vocabulary run alone,
//! then 12,816 texts of a pinned corpus run in context).

mod builtin;
mod error;
mod http;
mod minilm;
mod model_files;
mod pca;
mod remember;
mod select;
mod space;
mod static_model;
pub mod words;

pub use builtin::{HASHING_DIM, HashingEmbedder};
pub use error::EmbedError;
pub use http::{HttpApi, HttpEmbedder, HttpEmbedderConfig};
pub use minilm::{MINILM_DIR_NAME, MINILM_MAX_TOKENS, MiniLmEmbedder};
pub use model_files::{MODELS_DIR_ENV, default_models_dir};
pub use remember::RememberingEmbedder;
pub use select::{EmbedderConfig, EmbedderKind, ModelPaths, SelectedEmbedder, select_embedder};
pub use space::SpaceId;
pub use static_model::{
    DistillOptions, DistillReport, STATIC_MODEL_FILE, StaticEmbedder, corpus_windows, distill,
};

/// Turns texts into L2-normalised vectors of one fixed dimension in one vector space.
pub trait Embedder: Send + Sync {
    /// The vector space these vectors live in (model, dimension, version).
    fn space(&self) -> &SpaceId;

    /// The length of every vector this embedder returns.
    fn dim(&self) -> usize {
        self.space().dim()
    }

    /// Embeds documents (chunks), one vector per text, in order. Batching happens inside.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError>;

    /// Embeds a search query. Models that treat queries differently (an instruction prefix,
    /// another pooling) override this; by default a query is embedded like a document.
    fn embed_query(&self, query: &str) -> Result<Vec<f32>, EmbedError> {
        let mut vectors = self.embed(&[query])?;
        vectors.pop().ok_or_else(|| EmbedError::WrongCount {
            embedder: self.space().to_string(),
            expected: 1,
            got: 0,
        })
    }

    /// Whether [`Embedder::embed_query_meaning`] differs from [`Embedder::embed_query`].
    fn has_meaning_queries(&self) -> bool {
        false
    }

    /// A query's vector for a hybrid search, whose BM25 side already scores the query's words:
    /// an embedder that can leave them out and keep what they mean does (the static embedder),
    /// so the cosine may count as meaning alone. By default the query's vector.
    fn embed_query_meaning(&self, query: &str) -> Result<Vec<f32>, EmbedError> {
        self.embed_query(query)
    }
}

/// Boxed and shared embedders are embedders too, so `Box<dyn Embedder>` and `Arc<dyn Embedder>`
/// go wherever an `impl Embedder` is expected.
macro_rules! forward_embedder_through {
    ($($pointer:ident),*) => {$(
        impl<E: Embedder + ?Sized> Embedder for $pointer<E> {
            fn space(&self) -> &SpaceId {
                (**self).space()
            }
            fn dim(&self) -> usize {
                (**self).dim()
            }
            fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
                (**self).embed(texts)
            }
            fn embed_query(&self, query: &str) -> Result<Vec<f32>, EmbedError> {
                (**self).embed_query(query)
            }
            fn has_meaning_queries(&self) -> bool {
                (**self).has_meaning_queries()
            }
            fn embed_query_meaning(&self, query: &str) -> Result<Vec<f32>, EmbedError> {
                (**self).embed_query_meaning(query)
            }
        }
    )*};
}

use std::sync::Arc;
forward_embedder_through!(Box, Arc);

/// Scales `vector` to unit length in place; a zero vector stays zero (an empty text has no direction).
pub fn normalize(vector: &mut [f32]) {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
}

/// The cosine similarity of two vectors (their dot product when both are normalised).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norms =
        a.iter().map(|x| x * x).sum::<f32>().sqrt() * b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norms > 0.0 { dot / norms } else { 0.0 }
}
