//! The embedding port: turn texts into vectors, without compiling an engine.
//! `openzero-embed` implements it (all-MiniLM-L6-v2 on ONNX Runtime or
//! candle); memory use cases and channels hold an `Arc<dyn TextEmbedder>`.
//!
//! **Invariant:** types only; no I/O.

/// Why texts could not be embedded, phrased for the owner.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EmbedFailed(pub String);

/// A sentence-embedding model loaded in this process.
pub trait TextEmbedder: Send + Sync + std::fmt::Debug {
    /// The id stored with every vector, so vectors of two models never mix.
    fn model_id(&self) -> &str;
    /// Vectors of `texts`, in order, L2-normalised (so cosine is a dot product).
    /// Blocking: call from a blocking thread.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedFailed>;
}
