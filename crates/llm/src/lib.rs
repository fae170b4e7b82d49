//! Chat models behind one interface: the embedded provider (a GGUF model
//! run in this process with candle; no server, no network, no key), and
//! HTTP providers for OpenAI-compatible servers, Ollama's native API and
//! Gemini, sharing one transport (timeouts, retries, streamed lines).
//!
//! The port ([`ChatModel`] and its types) lives in `openzero_core::llm`, so
//! code that only talks to a model never compiles an engine; it is
//! re-exported here.
//!
//! **Invariants:** every provider says whether it is `local` or `cloud`
//! ([`Locality`]), so the agent can refuse to send the owner's context to a
//! cloud model without consent; a provider never panics on any input; errors
//! say what to do.

pub use openzero_core::llm::{
    ChatModel, ChatRequest, ChatResponse, Finish, LlmError, Locality, ProviderInfo,
};

pub mod embedded;
pub mod fallback;
pub mod gemini;
mod http;
pub mod ollama;
pub mod openai;
mod spm;
