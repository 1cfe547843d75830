//! Loading the GGUF weights in a form candle multiplies fast on this CPU.
//!
//! candle 0.11's CPU dot product for Q4_1 blocks (SmolLM2's published format) has no SIMD path,
//! while Q8_0 uses AVX2/FMA (and NEON/simd128) through runtime detection. So the Q4_1 tensors are
//! re-quantized at load: dequantized to f32 and quantized to Q8_0, which keeps every value the
//! Q4_1 file holds to within Q8_0's rounding (8 bits against 4), so the answers stay the model's.
//!
//! Measured on a 2-core AVX-512 machine under load, one candle thread (SmolLM2-135M; prompt of
//! 331 tokens, 64 generated; see `benches/generate.rs`):
//!
//! | weights           | prompt tok/s | generated tok/s | RSS    | greedy "capital of France" |
//! |-------------------|--------------|-----------------|--------|----------------------------|
//! | Q4_1 (as stored)  | 11           | 10              | 265 MB | Paris                      |
//! | Q8_0              | 30–50        | 15–18           | 340 MB | Paris                      |
//! | Q4_0              | 18           | 11              | 260 MB | Paris, with a changed sentence |
//! | f32 (dense, gemm) | 60           | 7–8             | 620 MB | Paris                      |
//!
//! Q4K cannot hold SmolLM2's 576-wide rows (its blocks are 256 wide); f16 storage is widened to
//! f32 by candle's `QMatMul`, so it costs what f32 does.

use std::collections::HashMap;
use std::io::{Cursor, Read, Seek};

use candle_core::Device;
use candle_core::quantized::GgmlDType;
use candle_core::quantized::QTensor;
use candle_core::quantized::gguf_file::{Content, TensorInfo};
use candle_transformers::models::quantized_llama::ModelWeights;

/// Stored types whose CPU dot product candle 0.11 only has in scalar code.
fn is_slow_on_cpu(dtype: GgmlDType) -> bool {
    matches!(dtype, GgmlDType::Q4_1 | GgmlDType::Q5_1 | GgmlDType::Q8_1)
}

/// What the slow tensors become.
const FAST_TYPE: GgmlDType = GgmlDType::Q8_0;

/// Reads every tensor of `content` from `file`, re-quantizing the slow ones to [`FAST_TYPE`], and
/// builds the model from the result.
pub(crate) fn load<R: Read + Seek>(
    content: Content,
    file: &mut R,
) -> candle_core::Result<ModelWeights> {
    let device = Device::Cpu;
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort_by_key(|name| content.tensor_infos[*name].offset);
    let mut data: Vec<u8> = Vec::new();
    let mut infos = HashMap::with_capacity(names.len());
    for name in names {
        let info = &content.tensor_infos[name];
        let stored = info.read(file, content.tensor_data_offset, &device)?;
        let tensor = if is_slow_on_cpu(info.ggml_dtype) {
            QTensor::quantize(&stored.dequantize(&device)?, FAST_TYPE)?
        } else {
            stored
        };
        let offset = data.len() as u64;
        data.extend_from_slice(&tensor.data()?);
        infos.insert(
            name.clone(),
            TensorInfo {
                ggml_dtype: tensor.dtype(),
                shape: info.shape.clone(),
                offset,
            },
        );
    }
    let converted = Content {
        magic: content.magic,
        metadata: content.metadata,
        tensor_infos: infos,
        tensor_data_offset: 0,
    };
    ModelWeights::from_gguf(converted, &mut Cursor::new(data), &device)
}
