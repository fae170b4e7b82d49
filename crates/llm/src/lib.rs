//! Chat models behind one interface: the embedded provider (a GGUF model
//! run in this process with candle; no server, no network, no key), and
//! HTTP providers for OpenAI-compatible servers, Ollama's native API and
//! Gemini, sharing one transport (timeouts, retries, streamed lines).
//!
//! **Invariants:** every provider says whether it is `local` or `cloud`
//! ([`Locality`]), so the agent can refuse to send the owner's context to a
//! cloud model without consent; a provider never panics on any input; errors
//! say what to do.

use std::path::PathBuf;

use async_trait::async_trait;
use openzero_core::agent::ChatMessage;
use openzero_core::tools::{ToolCall, ToolSpec};
use serde::Serialize;
use tokio::sync::mpsc::UnboundedSender;

pub mod embedded;
pub mod fallback;
pub mod gemini;
mod http;
pub mod ollama;
pub mod openai;
mod spm;

/// Where a provider runs, which decides whether consent is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Locality {
    /// On this machine or the owner's private network.
    Local,
    /// A third party's service: the owner's context leaves only with consent.
    Cloud,
}

/// Which provider and model answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderInfo {
    pub provider: String,
    pub model: String,
    pub locality: Locality,
}

/// One request to a chat model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    /// Most tokens to generate.
    pub max_tokens: usize,
    /// 0 for greedy decoding.
    pub temperature: f64,
    /// Tools the model may call (ignored by models without tool support).
    pub tools: Vec<ToolSpec>,
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Finish {
    /// The model ended its answer.
    Stop,
    /// `max_tokens` was reached.
    Length,
}

/// A model's whole answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatResponse {
    pub text: String,
    /// Tools the model asked for instead of (or besides) answering.
    pub tool_calls: Vec<ToolCall>,
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub finish: Finish,
}

/// Why a chat model could not answer.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("the chat model file {path} is missing; {how}")]
    Missing { path: PathBuf, how: &'static str },
    #[error("the chat model file {path} is not a usable GGUF model ({detail}); {how}")]
    Invalid {
        path: PathBuf,
        detail: String,
        how: &'static str,
    },
    #[error(
        "the conversation is too long for the model ({tokens} tokens; it handles {max}); start a new one or shorten the message"
    )]
    TooLong { tokens: usize, max: usize },
    #[error("the chat model failed: {0}")]
    Inference(String),
}

/// A chat model.
#[async_trait]
pub trait ChatModel: Send + Sync + std::fmt::Debug {
    fn info(&self) -> ProviderInfo;
    /// Whether the model can be offered tools.
    fn supports_tools(&self) -> bool {
        false
    }
    /// Answers `req`. When `deltas` is given, pieces of text are sent to it
    /// as they are generated (their concatenation is the answer's text).
    async fn chat(
        &self,
        req: ChatRequest,
        deltas: Option<UnboundedSender<String>>,
    ) -> Result<ChatResponse, LlmError>;

    /// The exact bytes a request for `req` sends over the network, for
    /// providers that send any (`None` for a model in this process). The
    /// consent step logs their hash before [`ChatModel::send_encoded`] sends
    /// them, so what the log says left is what left.
    fn encode(&self, _req: &ChatRequest) -> Result<Option<Vec<u8>>, LlmError> {
        Ok(None)
    }

    /// Sends a request body made by [`ChatModel::encode`], unchanged.
    async fn send_encoded(
        &self,
        _body: Vec<u8>,
        _deltas: Option<UnboundedSender<String>>,
    ) -> Result<ChatResponse, LlmError> {
        Err(LlmError::Inference(
            "this model runs in this process and sends nothing over the network".into(),
        ))
    }
}
