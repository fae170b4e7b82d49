//! OpenAI-compatible chat completions (`POST {base}/chat/completions`,
//! streamed as server-sent events): llama.cpp's server, vLLM, and the cloud
//! services that speak the same format.
//!
//! Retries 429 and 5xx answers with exponential backoff and jitter, honouring
//! `Retry-After`; gives up on a server that does not answer within the
//! timeout, or goes silent that long mid-answer.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use tokio::sync::mpsc::UnboundedSender;

use crate::http::Http;
use crate::{ChatModel, ChatRequest, ChatResponse, Finish, LlmError, Locality, ProviderInfo};
use openzero_core::agent::ChatMessage;
use openzero_core::tools::{ToolCall, ToolSpec};

/// An OpenAI-compatible endpoint.
pub struct OpenAiCompatible {
    http: Http,
    api_key: Option<String>,
    model: String,
    locality: Locality,
}

impl std::fmt::Debug for OpenAiCompatible {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiCompatible")
            .field("http", &self.http)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("model", &self.model)
            .field("locality", &self.locality)
            .finish()
    }
}

/// Whether `base_url` points at this machine or a private network.
pub fn locality_of(base_url: &str) -> Locality {
    match host_of(base_url) {
        Ok(host) => {
            openzero_core::llm::judge_host(&host, &[], |_| Err("not looked up here".to_owned()))
                .locality()
        }
        Err(_) => Locality::Cloud,
    }
}

/// The host of a server URL, read by a real URL parser (so
/// `http://evil.example#@127.0.0.1/` is `evil.example`, not loopback).
pub fn host_of(base_url: &str) -> Result<openzero_core::llm::Host, String> {
    let url = reqwest::Url::parse(base_url.trim()).map_err(|e| e.to_string())?;
    match url.host() {
        Some(url::Host::Ipv4(ip)) => Ok(openzero_core::llm::Host::Ip(ip.into())),
        Some(url::Host::Ipv6(ip)) => Ok(openzero_core::llm::Host::Ip(ip.into())),
        Some(url::Host::Domain(d)) => Ok(openzero_core::llm::Host::Name(d.to_owned())),
        None => Err("no host".to_owned()),
    }
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Option<Vec<ChunkChoice>>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    delta: Option<Delta>,
    /// Non-streamed answers carry `message` instead of `delta`.
    #[serde(default)]
    message: Option<Delta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<ToolCallDelta>>,
}

/// A piece of a tool call: the first carries id and name, the following
/// ones pieces of the arguments (a JSON string), matched by `index`.
#[derive(Deserialize)]
struct ToolCallDelta {
    #[serde(default)]
    index: Option<usize>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<FunctionDelta>,
}

#[derive(Deserialize)]
struct FunctionDelta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default)]
    prompt_tokens: usize,
    #[serde(default)]
    completion_tokens: usize,
}

/// A tool call being assembled from pieces: id, name, arguments text.
#[derive(Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

#[derive(Default)]
struct Collected {
    text: String,
    calls: std::collections::BTreeMap<usize, PartialCall>,
    finish: Option<String>,
    usage: Option<Usage>,
    done: bool,
}

impl Collected {
    fn take(&mut self, chunk: Chunk, deltas: Option<&UnboundedSender<String>>) {
        for c in chunk.choices.unwrap_or_default() {
            let Some(d) = c.delta.or(c.message) else {
                if c.finish_reason.is_some() {
                    self.finish = c.finish_reason;
                }
                continue;
            };
            if let Some(piece) = d.content
                && !piece.is_empty()
            {
                if let Some(tx) = deltas {
                    let _ = tx.send(piece.clone());
                }
                self.text.push_str(&piece);
            }
            for (n, t) in d.tool_calls.unwrap_or_default().into_iter().enumerate() {
                let slot = self.calls.entry(t.index.unwrap_or(n)).or_default();
                if let Some(id) = t.id {
                    slot.id = id;
                }
                if let Some(f) = t.function {
                    if let Some(name) = f.name {
                        slot.name.push_str(&name);
                    }
                    if let Some(a) = f.arguments {
                        slot.arguments.push_str(&a);
                    }
                }
            }
            if c.finish_reason.is_some() {
                self.finish = c.finish_reason;
            }
        }
        if chunk.usage.is_some() {
            self.usage = chunk.usage;
        }
    }
}

impl OpenAiCompatible {
    /// `base_url` ends before `/chat/completions` (e.g. `http://127.0.0.1:8080/v1`).
    pub fn new(
        provider: &str,
        base_url: &str,
        api_key: Option<String>,
        model: &str,
        timeout: Duration,
    ) -> Result<Self, LlmError> {
        Ok(Self {
            http: Http::new(provider, base_url, timeout)?,
            api_key: api_key.filter(|k| !k.is_empty()),
            model: model.to_owned(),
            locality: locality_of(base_url),
        })
    }

    /// Marks the provider local or cloud, as the caller decided (by address,
    /// name resolution or the owner's `llm.local_hosts`).
    pub fn with_locality(mut self, locality: Locality) -> Self {
        self.locality = locality;
        self
    }

    /// How many times a 429 or 5xx answer is retried (default 3).
    pub fn with_retries(mut self, retries: u32) -> Self {
        self.http.set_retries(retries);
        self
    }
}

#[async_trait]
impl ChatModel for OpenAiCompatible {
    fn supports_tools(&self) -> bool {
        true
    }

    fn info(&self) -> ProviderInfo {
        ProviderInfo {
            provider: self.http.provider().to_owned(),
            model: self.model.clone(),
            locality: self.locality,
        }
    }

    async fn chat(
        &self,
        req: ChatRequest,
        deltas: Option<UnboundedSender<String>>,
    ) -> Result<ChatResponse, LlmError> {
        let body = self.body(&req)?;
        self.send_encoded(body, deltas).await
    }

    fn encode(&self, req: &ChatRequest) -> Result<Option<Vec<u8>>, LlmError> {
        self.body(req).map(Some)
    }

    async fn send_encoded(
        &self,
        body: Vec<u8>,
        deltas: Option<UnboundedSender<String>>,
    ) -> Result<ChatResponse, LlmError> {
        let url = format!("{}/chat/completions", self.http.base_url());
        let auth = self.api_key.as_ref().map(|k| format!("Bearer {k}"));
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|a| ("authorization", a))
            .into_iter()
            .collect();
        let resp = self.http.post(&url, &headers, &body).await?;
        let mut got = Collected::default();
        let rest = self
            .http
            .lines(resp, |line| {
                self.line(line.trim(), &mut got, deltas.as_ref())?;
                Ok(got.done)
            })
            .await?;
        if !got.done {
            let rest = rest.trim();
            if rest.starts_with('{') {
                // A server that ignored `stream` and sent one JSON answer.
                let c: Chunk = serde_json::from_str(rest)
                    .map_err(|e| self.http.failed(format!("malformed answer ({e})")))?;
                got.take(c, deltas.as_ref());
            } else if !rest.is_empty() {
                self.line(rest, &mut got, deltas.as_ref())?;
            }
        }
        if !got.done && got.finish.is_none() {
            // llama.cpp's Python server, for one, starts a 200 stream and
            // then drops it when the prompt does not fit.
            return Err(self.http.failed(
                "the server ended the answer without finishing it (its log says why; a prompt longer than its context is a common cause)",
            ));
        }
        let finish = match got.finish.as_deref() {
            Some("length") => Finish::Length,
            _ => Finish::Stop,
        };
        let (prompt_tokens, completion_tokens) = got
            .usage
            .map_or((0, 0), |u| (u.prompt_tokens, u.completion_tokens));
        let tool_calls = got
            .calls
            .into_values()
            .enumerate()
            .map(|(n, c)| ToolCall {
                id: if c.id.is_empty() {
                    format!("call_{n}")
                } else {
                    c.id
                },
                name: c.name,
                arguments: parse_arguments(&c.arguments),
            })
            .collect();
        Ok(ChatResponse {
            tool_calls,
            text: got.text,
            prompt_tokens,
            completion_tokens,
            finish,
        })
    }
}

impl OpenAiCompatible {
    /// The JSON request body.
    fn body(&self, req: &ChatRequest) -> Result<Vec<u8>, LlmError> {
        let messages: Vec<serde_json::Value> = req.messages.iter().map(wire_message).collect();
        let mut body = serde_json::json!({
            "model": self.model,
            "messages": messages,
            "stream": true,
            "max_tokens": req.max_tokens,
            "temperature": req.temperature,
        });
        if !req.tools.is_empty() {
            body["tools"] = req.tools.iter().map(function_tool).collect();
        }
        serde_json::to_vec(&body)
            .map_err(|e| self.http.failed(format!("cannot encode the request ({e})")))
    }

    /// One line of the event stream.
    fn line(
        &self,
        line: &str,
        got: &mut Collected,
        deltas: Option<&UnboundedSender<String>>,
    ) -> Result<(), LlmError> {
        let Some(data) = line.strip_prefix("data:") else {
            return Ok(()); // comments, `event:`, blank separators
        };
        let data = data.trim();
        if data == "[DONE]" {
            got.done = true;
            return Ok(());
        }
        let chunk: Chunk = serde_json::from_str(data).map_err(|e| {
            self.http.failed(format!(
                "malformed chunk in the answer ({e}): {}",
                data.chars().take(120).collect::<String>()
            ))
        })?;
        got.take(chunk, deltas);
        Ok(())
    }
}

/// A message as chat completions (and Ollama) expect it.
fn wire_message(m: &ChatMessage) -> serde_json::Value {
    let mut v = serde_json::json!({ "role": m.role.as_str(), "content": m.content });
    if !m.tool_calls.is_empty() {
        v["tool_calls"] = m
            .tool_calls
            .iter()
            .map(|c| {
                serde_json::json!({
                    "id": c.id,
                    "type": "function",
                    "function": { "name": c.name, "arguments": c.arguments.to_string() },
                })
            })
            .collect();
    }
    if let Some(id) = &m.tool_call_id {
        v["tool_call_id"] = id.clone().into();
    }
    v
}

/// A tool as chat completions (and Ollama) declare it.
pub(crate) fn function_tool(t: &ToolSpec) -> serde_json::Value {
    serde_json::json!({
        "type": "function",
        "function": { "name": t.name, "description": t.description, "parameters": t.parameters },
    })
}

/// Tool arguments as the model wrote them: a JSON object when they parse,
/// else the raw text (the tool registry then answers with what is wrong).
pub(crate) fn parse_arguments(raw: &str) -> serde_json::Value {
    let raw = raw.trim();
    if raw.is_empty() {
        return serde_json::json!({});
    }
    serde_json::from_str(raw).unwrap_or_else(|_| serde_json::Value::String(raw.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_are_local_everything_else_cloud() {
        for url in [
            "http://127.0.0.1:8080/v1",
            "http://localhost:11434",
            "http://192.168.1.10:8000/v1",
            "http://10.0.0.5/v1",
            "http://[::1]:8080/v1",
            "http://nas.local:8080/v1",
            "http://user:pw@172.16.0.2:8080/v1",
        ] {
            assert_eq!(locality_of(url), Locality::Local, "{url}");
        }
        for url in [
            "https://api.openai.com/v1",
            "https://api.groq.com/openai/v1",
            "https://openrouter.ai/api/v1",
            "http://8.8.8.8/v1",
            "https://localhost.evil.com/v1",
            // A parser that looks for '@' would read 127.0.0.1 here; the
            // request goes to evil.example.
            "http://evil.example#@127.0.0.1:8080/v1",
            "http://evil.example?@127.0.0.1:8080/v1",
            "http://evil.example\\@127.0.0.1:8080/v1",
            "http://127.0.0.1.evil.example/v1",
            "not a url",
        ] {
            assert_eq!(locality_of(url), Locality::Cloud, "{url}");
        }
    }

    #[test]
    fn debug_never_shows_the_key() {
        let p = OpenAiCompatible::new(
            "openai",
            "https://api.openai.com/v1",
            Some("sk-very-secret".into()),
            "gpt",
            Duration::from_secs(5),
        )
        .expect("client");
        let d = format!("{p:?}");
        assert!(!d.contains("sk-very-secret"), "{d}");
        assert!(d.contains("***"));
    }
}
