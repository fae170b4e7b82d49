//! Every chat-model provider against real servers, real GGUF files and fakes of cloud APIs.
//!
//! One test binary for the crate (each file a module): one link step
//! instead of one per file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod embedded;
mod fallback;
mod gemini;
mod gemma3;
mod llamacpp;
mod ollama;
mod openai;
mod qwen2;
