//! The tokenizer, rebuilt from the GGUF file's own metadata (the package ships no
//! tokenizer.json): a byte-level BPE with the vocabulary and merges stored under
//! `tokenizer.ggml.*`, its control tokens (`<|im_start|>`, …) kept whole.

use std::collections::HashMap;

use candle_core::quantized::gguf_file::{Content, Value};
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::BPE;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{AddedToken, PreTokenizerWrapper, Tokenizer};

use crate::LocalModelError;

/// GGUF's token type for control tokens.
const CONTROL: i32 = 3;

pub(crate) struct GgufTokenizer {
    pub tokenizer: Tokenizer,
    pub eos: u32,
}

fn strings<'a>(
    content: &'a Content,
    key: &str,
    path: &str,
) -> Result<Vec<&'a str>, LocalModelError> {
    let bad = |detail: String| LocalModelError::Tokenizer {
        path: path.to_owned(),
        detail,
    };
    let value = content
        .metadata
        .get(key)
        .ok_or_else(|| bad(format!("no `{key}` in the metadata")))?;
    let items = value.to_vec().map_err(|e| bad(format!("`{key}`: {e}")))?;
    items
        .iter()
        .map(|v| {
            v.to_string()
                .map(String::as_str)
                .map_err(|e| bad(format!("`{key}`: {e}")))
        })
        .collect()
}

fn u32_of(content: &Content, key: &str) -> Option<u32> {
    content.metadata.get(key).and_then(|v| v.to_u32().ok())
}

pub(crate) fn from_gguf(content: &Content, path: &str) -> Result<GgufTokenizer, LocalModelError> {
    let bad = |detail: String| LocalModelError::Tokenizer {
        path: path.to_owned(),
        detail,
    };
    let kind = content
        .metadata
        .get("tokenizer.ggml.model")
        .and_then(|v| v.to_string().ok())
        .map(String::as_str);
    if kind != Some("gpt2") {
        return Err(bad(format!(
            "tokenizer model {kind:?} is not supported (only byte-level BPE, `gpt2`)"
        )));
    }
    let tokens = strings(content, "tokenizer.ggml.tokens", path)?;
    let merges = strings(content, "tokenizer.ggml.merges", path)?;
    let vocab: HashMap<String, u32> = tokens
        .iter()
        .enumerate()
        .map(|(id, token)| ((*token).to_owned(), id as u32))
        .collect();
    let merges = merges
        .iter()
        .map(|merge| {
            merge
                .split_once(' ')
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                .ok_or_else(|| bad(format!("merge `{merge}` is not two tokens")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let bpe = BPE::builder()
        .vocab_and_merges(
            vocab
                .into_iter()
                .collect::<tokenizers::models::bpe::Vocab>(),
            merges,
        )
        .build()
        .map_err(|e| bad(format!("cannot build the BPE model: {e}")))?;
    let mut tokenizer = Tokenizer::new(bpe);
    // SmolLM's pre-tokenizer: single digits, then GPT-2's byte-level split (no prefix space).
    tokenizer.with_pre_tokenizer(Some(PreTokenizerWrapper::Sequence(Sequence::new(vec![
        PreTokenizerWrapper::Digits(Digits::new(true)),
        PreTokenizerWrapper::ByteLevel(ByteLevel::new(false, true, true)),
    ]))));
    tokenizer.with_decoder(Some(ByteLevelDecoder::default()));
    let types: Vec<i32> = content
        .metadata
        .get("tokenizer.ggml.token_type")
        .and_then(|v| v.to_vec().ok())
        .map(|values| {
            values
                .iter()
                .map(|v| match v {
                    Value::I32(t) => *t,
                    Value::U32(t) => *t as i32,
                    _ => 0,
                })
                .collect()
        })
        .unwrap_or_default();
    let specials: Vec<AddedToken> = tokens
        .iter()
        .zip(&types)
        .filter(|(_, t)| **t == CONTROL)
        .map(|(token, _)| AddedToken::from((*token).to_owned(), true))
        .collect();
    tokenizer
        .add_special_tokens(specials)
        .map_err(|e| bad(format!("cannot add the control tokens: {e}")))?;
    let eos = u32_of(content, "tokenizer.ggml.eos_token_id")
        .ok_or_else(|| bad("no `tokenizer.ggml.eos_token_id` in the metadata".into()))?;
    Ok(GgufTokenizer { tokenizer, eos })
}
