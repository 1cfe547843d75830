//! all-MiniLM-L6-v2 run in-process with candle on the CPU, read from a sentence-transformers folder
//! (`config.json`, `model.safetensors`, `tokenizer.json`): mean pooling over the attention mask,
//! L2-normalised, inputs truncated to 256 tokens like sentence-transformers does.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::model_files::{bad_file, fingerprint, read};
use crate::{EmbedError, Embedder, SpaceId, normalize};

/// The folder name of the model inside the models directory.
pub const MINILM_DIR_NAME: &str = "all-MiniLM-L6-v2";
/// sentence-transformers' `max_seq_length` for this model.
pub const MINILM_MAX_TOKENS: usize = 256;
/// Texts per forward pass: big enough to keep the matrix kernels busy, small enough that padding
/// to the longest text in a batch wastes little.
const BATCH_SIZE: usize = 16;

/// The neural sentence embedder: accurate, about a hundred times slower than the static one.
pub struct MiniLmEmbedder {
    model: BertModel,
    tokenizer: Tokenizer,
    space: SpaceId,
    device: Device,
    dir: PathBuf,
}

impl MiniLmEmbedder {
    /// Loads the model from a sentence-transformers folder such as
    /// `~/.local/share/codexos/models/all-MiniLM-L6-v2`.
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        let device = Device::Cpu;
        let config_path = dir.join("config.json");
        let config: Config = serde_json::from_slice(&read(&config_path)?)
            .map_err(|error| bad_file(&config_path, error))?;

        let tokenizer_path = dir.join("tokenizer.json");
        let tokenizer_bytes = read(&tokenizer_path)?;
        let mut tokenizer = Tokenizer::from_bytes(&tokenizer_bytes)
            .map_err(|error| bad_file(&tokenizer_path, error))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MINILM_MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|error| bad_file(&tokenizer_path, error))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..Default::default()
        }));

        let weights_path = dir.join("model.safetensors");
        let weights = read(&weights_path)?;
        let tensors = candle_core::safetensors::load_buffer(&weights, &device)
            .map_err(|error| bad_file(&weights_path, error))?;
        let model = BertModel::load(
            VarBuilder::from_tensors(tensors, DType::F32, &device),
            &config,
        )
        .map_err(|error| bad_file(&weights_path, error))?;

        let version = format!("{:016x}", fingerprint(&weights));
        Ok(Self {
            model,
            tokenizer,
            space: SpaceId::new("all-MiniLM-L6-v2", config.hidden_size, version),
            device,
            dir: dir.to_path_buf(),
        })
    }

    /// The tokenizer the model was trained with (the static embedder is distilled through it).
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Runs the model on token id sequences of equal length (`attention` marks real tokens) and
    /// returns the mean-pooled, normalised vector of each.
    pub(crate) fn pooled(
        &self,
        ids: &[u32],
        attention: &[u32],
        rows: usize,
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.forward_pooled(ids, attention, rows)
            .map_err(|error| self.model_error(error))
    }

    fn forward_pooled(
        &self,
        ids: &[u32],
        attention: &[u32],
        rows: usize,
    ) -> candle_core::Result<Vec<Vec<f32>>> {
        let columns = ids.len() / rows.max(1);
        let input_ids = Tensor::from_slice(ids, (rows, columns), &self.device)?;
        let mask = Tensor::from_slice(attention, (rows, columns), &self.device)?;
        let token_types = input_ids.zeros_like()?;
        let hidden = self.model.forward(&input_ids, &token_types, Some(&mask))?;
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
        let mut vectors = summed.broadcast_div(&counts)?.to_vec2::<f32>()?;
        vectors.iter_mut().for_each(|vector| normalize(vector));
        Ok(vectors)
    }

    /// Runs the model on `texts` and calls `visit(token_id, hidden_state)` for every real token
    /// of every text (special tokens included), in order.
    pub(crate) fn token_states(
        &self,
        texts: &[&str],
        mut visit: impl FnMut(u32, &[f32]),
    ) -> Result<(), EmbedError> {
        let rows = texts.len();
        if rows == 0 {
            return Ok(());
        }
        let (ids, attention) = self.encode(texts)?;
        let columns = ids.len() / rows;
        let states = (|| {
            let input_ids = Tensor::from_slice(&ids, (rows, columns), &self.device)?;
            let mask = Tensor::from_slice(&attention, (rows, columns), &self.device)?;
            let token_types = input_ids.zeros_like()?;
            self.model
                .forward(&input_ids, &token_types, Some(&mask))?
                .flatten_all()?
                .to_vec1::<f32>()
        })()
        .map_err(|error: candle_core::Error| self.model_error(error))?;
        let hidden = states.len() / ids.len().max(1);
        for (position, (&id, &real)) in ids.iter().zip(&attention).enumerate() {
            if real == 1 {
                visit(id, &states[position * hidden..(position + 1) * hidden]);
            }
        }
        Ok(())
    }

    fn model_error(&self, error: impl ToString) -> EmbedError {
        EmbedError::Model {
            model: format!("all-MiniLM-L6-v2 at {}", self.dir.display()),
            reason: error.to_string(),
        }
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let (ids, attention) = self.encode(texts)?;
        self.pooled(&ids, &attention, texts.len())
    }

    /// The token ids of `texts`, padded to the longest, and the mask of their real tokens.
    fn encode(&self, texts: &[&str]) -> Result<(Vec<u32>, Vec<u32>), EmbedError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|error| self.model_error(format!("tokenizing: {error}")))?;
        let ids = encodings
            .iter()
            .flat_map(|encoding| encoding.get_ids().iter().copied())
            .collect();
        let attention = encodings
            .iter()
            .flat_map(|encoding| encoding.get_attention_mask().iter().copied())
            .collect();
        Ok((ids, attention))
    }
}

impl Embedder for MiniLmEmbedder {
    fn space(&self) -> &SpaceId {
        &self.space
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        // Batches of similar length waste little on padding; the answer keeps the input order.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&index| texts[index].len());
        let mut vectors = vec![Vec::new(); texts.len()];
        for batch in order.chunks(BATCH_SIZE) {
            let batch_texts: Vec<&str> = batch.iter().map(|&index| texts[index]).collect();
            for (&index, vector) in batch.iter().zip(self.embed_batch(&batch_texts)?) {
                vectors[index] = vector;
            }
        }
        Ok(vectors)
    }
}
