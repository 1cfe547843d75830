//! The in-process local model: SmolLM2-135M-Instruct (a quantized GGUF file) run on the CPU with
//! candle, so every flow and the chat work with no key and no network. It streams tokens through
//! the same [`codexos_llm::Provider`] seam as the HTTP providers and is registered as `local`,
//! the last link of every default fallback chain.

mod provider;
mod tokenizer;
mod weights;

use std::fs::File;
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use candle_transformers::models::quantized_llama::ModelWeights;
use candle_transformers::utils::apply_repeat_penalty;
use codexos_llm::{Message, Role};

pub use provider::LocalProvider;

/// The file the setup script puts in the models directory.
pub const DEFAULT_MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

#[derive(Debug, thiserror::Error)]
pub enum LocalModelError {
    #[error(
        "cannot open the local model {path}: {source} (install it with `codexos models install`)"
    )]
    Open {
        path: String,
        source: std::io::Error,
    },
    #[error("the local model {path} is not a usable GGUF file: {detail}")]
    Format { path: String, detail: String },
    #[error("the local model {path} has no usable tokenizer: {detail}")]
    Tokenizer { path: String, detail: String },
    #[error("the local model failed while generating: {0}")]
    Generation(String),
}

/// The variable candle reads once, when its CPU thread pool starts (the first matrix product).
pub const COMPUTE_THREADS_VARIABLE: &str = "CANDLE_NUM_THREADS";

/// How many threads candle's matrix products should use on a machine with `cores` cores: all but
/// one. Its threads meet at a spin barrier after every product, so when they outnumber the cores
/// that are free (the language server, the indexer and the editor keep one busy) each product
/// waits for a thread the scheduler has not run yet. Measured on 2 busy cores: 18 tokens/s with
/// one thread against 2–3 with two.
pub fn compute_threads(cores: usize) -> usize {
    cores.saturating_sub(1).max(1)
}

/// Sets [`COMPUTE_THREADS_VARIABLE`] to [`compute_threads`] of this machine's cores, unless the
/// user set it.
///
/// # Safety
/// It writes the environment: call it before the process starts a second thread (first thing in
/// `main`), as [`std::env::set_var`] requires.
pub unsafe fn configure_compute_threads() {
    if std::env::var_os(COMPUTE_THREADS_VARIABLE).is_some() {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    // SAFETY: the caller guarantees no other thread exists yet.
    unsafe { std::env::set_var(COMPUTE_THREADS_VARIABLE, compute_threads(cores).to_string()) };
}

/// How many of the likeliest tokens top-p sampling chooses from.
const SAMPLED_CANDIDATES: usize = 40;

/// How to sample one answer.
#[derive(Clone, Debug)]
pub struct GenerationParams {
    pub max_tokens: usize,
    /// 0 means greedy (deterministic).
    pub temperature: f64,
    pub top_p: f64,
    pub seed: u64,
    /// Divides the score of every token among the answer's last [`Self::repeat_window`] (1.0:
    /// off). A 135M model otherwise loops on one sentence.
    pub repeat_penalty: f32,
    pub repeat_window: usize,
}

impl Default for GenerationParams {
    fn default() -> Self {
        GenerationParams {
            max_tokens: 256,
            temperature: 0.0,
            top_p: 0.9,
            seed: 42,
            // llama.cpp's defaults.
            repeat_penalty: 1.1,
            repeat_window: 64,
        }
    }
}

/// What a finished generation reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Generation {
    pub text: String,
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    /// False when `max_tokens` cut the answer.
    pub stopped: bool,
}

/// A loaded model. Generation needs `&mut` (the attention cache lives in the weights).
pub struct LocalModel {
    path: PathBuf,
    weights: ModelWeights,
    tokenizer: tokenizers::Tokenizer,
    eos: u32,
    context_length: usize,
}

impl LocalModel {
    pub fn load(path: &Path) -> Result<LocalModel, LocalModelError> {
        let display = path.display().to_string();
        let mut file = File::open(path).map_err(|source| LocalModelError::Open {
            path: display.clone(),
            source,
        })?;
        let format = |detail: String| LocalModelError::Format {
            path: display.clone(),
            detail,
        };
        let content = gguf_file::Content::read(&mut file).map_err(|e| format(e.to_string()))?;
        let tokenizer = tokenizer::from_gguf(&content, &display)?;
        let context_length = content
            .metadata
            .get("llama.context_length")
            .and_then(|v| v.to_u32().ok())
            .unwrap_or(2048) as usize;
        let weights = weights::load(content, &mut file).map_err(|e| format(e.to_string()))?;
        Ok(LocalModel {
            path: path.to_owned(),
            weights,
            tokenizer: tokenizer.tokenizer,
            eos: tokenizer.eos,
            context_length,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn encode(&self, text: &str) -> Result<Vec<u32>, LocalModelError> {
        self.tokenizer
            .encode(text, false)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| LocalModelError::Generation(format!("cannot tokenize the prompt: {e}")))
    }

    pub fn decode(&self, ids: &[u32]) -> Result<String, LocalModelError> {
        self.tokenizer
            .decode(ids, true)
            .map_err(|e| LocalModelError::Generation(format!("cannot decode tokens: {e}")))
    }

    /// Generates an answer to `messages`, calling `on_text` with each new piece of text; it
    /// returns `false` to stop early (cancellation).
    pub fn generate(
        &mut self,
        messages: &[Message],
        params: &GenerationParams,
        mut on_text: impl FnMut(&str) -> bool,
    ) -> Result<Generation, LocalModelError> {
        let prompt = chat_prompt(messages);
        let mut prompt_ids = self.encode(&prompt)?;
        // Keep the newest part of a prompt that would not leave room for the answer.
        let budget = self
            .context_length
            .saturating_sub(params.max_tokens.max(1))
            .max(1);
        if prompt_ids.len() > budget {
            prompt_ids.drain(..prompt_ids.len() - budget);
        }
        let sampling = if params.temperature <= 0.0 {
            Sampling::ArgMax
        } else {
            // The 40 likeliest tokens first (llama.cpp's default): sorting all 49 152 of them
            // for top-p took a sixth of each token's time.
            Sampling::TopKThenTopP {
                k: SAMPLED_CANDIDATES,
                p: params.top_p,
                temperature: params.temperature,
            }
        };
        let mut sampler = LogitsProcessor::from_sampling(params.seed, sampling);
        let failed = |e: candle_core::Error| LocalModelError::Generation(e.to_string());
        let input = Tensor::new(prompt_ids.as_slice(), &Device::Cpu)
            .and_then(|t| t.unsqueeze(0))
            .map_err(failed)?;
        let mut logits = self
            .weights
            .forward(&input, 0)
            .and_then(|l| l.squeeze(0))
            .map_err(failed)?;
        let mut generated: Vec<u32> = Vec::new();
        let mut emitted = 0usize;
        let mut stopped = false;
        while generated.len() < params.max_tokens {
            if params.repeat_penalty != 1.0 && !generated.is_empty() {
                let recent = &generated[generated.len().saturating_sub(params.repeat_window)..];
                logits =
                    apply_repeat_penalty(&logits, params.repeat_penalty, recent).map_err(failed)?;
            }
            let next = sampler.sample(&logits).map_err(failed)?;
            if next == self.eos {
                stopped = true;
                break;
            }
            generated.push(next);
            // Decode the whole answer each time so multi-byte characters split over tokens come
            // out whole; emit only what is new.
            let text = self.decode(&generated)?;
            if text.len() > emitted && text.is_char_boundary(emitted) {
                let keep_going = on_text(&text[emitted..]);
                emitted = text.len();
                if !keep_going {
                    stopped = true;
                    break;
                }
            }
            let position = prompt_ids.len() + generated.len() - 1;
            if position + 1 >= self.context_length {
                break;
            }
            let input = Tensor::new(&[next], &Device::Cpu)
                .and_then(|t| t.unsqueeze(0))
                .map_err(failed)?;
            logits = self
                .weights
                .forward(&input, position)
                .and_then(|l| l.squeeze(0))
                .map_err(failed)?;
        }
        Ok(Generation {
            text: self.decode(&generated)?,
            prompt_tokens: prompt_ids.len(),
            completion_tokens: generated.len(),
            stopped,
        })
    }
}

/// The ChatML prompt SmolLM2 was trained on.
pub fn chat_prompt(messages: &[Message]) -> String {
    let mut prompt = String::new();
    if !messages.iter().any(|m| m.role == Role::System) {
        prompt.push_str("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n");
    }
    for message in messages {
        let role = match message.role {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            // The small model has no tool role: a tool's result reads as user-provided context.
            Role::Tool => "user",
        };
        prompt.push_str(&format!(
            "<|im_start|>{role}\n{}<|im_end|>\n",
            message.content
        ));
    }
    prompt.push_str("<|im_start|>assistant\n");
    prompt
}

#[cfg(test)]
mod tests {
    use super::compute_threads;

    #[test]
    fn candle_leaves_one_core_to_the_rest_of_the_machine_but_always_has_one_thread() {
        assert_eq!(
            [1, 2, 8].map(compute_threads),
            [1, 1, 7],
            "threads for 1, 2 and 8 cores"
        );
    }
}
