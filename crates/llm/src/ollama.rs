//! Ollama's native chat API (`POST {base}/api/chat`), streamed as
//! newline-delimited JSON: one object per piece, the last with
//! `"done": true`, `done_reason` and token counts. Errors come as
//! `{"error": "..."}`, before or in the middle of the stream.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use tokio::sync::mpsc::UnboundedSender;

use crate::http::Http;
use crate::openai::{function_tool, locality_of, parse_arguments};
use crate::{ChatModel, ChatRequest, ChatResponse, Finish, LlmError, Locality, ProviderInfo};
use openzero_core::tools::ToolCall;

/// An Ollama server.
#[derive(Debug)]
pub struct Ollama {
    http: Http,
    model: String,
    locality: Locality,
}

#[derive(Deserialize)]
struct Line {
    #[serde(default)]
    message: Option<Message>,
    #[serde(default)]
    done: bool,
    #[serde(default)]
    done_reason: Option<String>,
    #[serde(default)]
    prompt_eval_count: Option<usize>,
    #[serde(default)]
    eval_count: Option<usize>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<WireCall>>,
}

/// Ollama sends each tool call whole, arguments as an object.
#[derive(Deserialize)]
struct WireCall {
    #[serde(default)]
    id: Option<String>,
    function: WireFunction,
}

#[derive(Deserialize)]
struct WireFunction {
    name: String,
    #[serde(default)]
    arguments: serde_json::Value,
}

/// The answer so far.
#[derive(Default)]
struct Got {
    text: String,
    calls: Vec<ToolCall>,
    /// The final line, once seen.
    last: Option<Line>,
}

impl Ollama {
    /// One line of the stream; `true` once the final line is seen.
    fn take(
        &self,
        raw: &str,
        got: &mut Got,
        deltas: Option<&UnboundedSender<String>>,
    ) -> Result<bool, LlmError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(false);
        }
        let mut line: Line = serde_json::from_str(raw).map_err(|e| {
            self.http.failed(format!(
                "malformed line in the answer ({e}): {}",
                raw.chars().take(120).collect::<String>()
            ))
        })?;
        if let Some(err) = &line.error {
            return Err(self.http.failed(err));
        }
        if let Some(piece) = line.message.as_ref().and_then(|m| m.content.as_deref())
            && !piece.is_empty()
        {
            if let Some(tx) = deltas {
                let _ = tx.send(piece.to_owned());
            }
            got.text.push_str(piece);
        }
        let calls = line
            .message
            .as_mut()
            .and_then(|m| m.tool_calls.take())
            .unwrap_or_default();
        for c in calls {
            let n = got.calls.len();
            let arguments = match c.function.arguments {
                // Some models put the arguments in a JSON string.
                serde_json::Value::String(raw) => parse_arguments(&raw),
                serde_json::Value::Null => serde_json::json!({}),
                other => other,
            };
            got.calls.push(ToolCall {
                id: c.id.unwrap_or_else(|| format!("call_{n}")),
                name: c.function.name,
                arguments,
            });
        }
        let done = line.done;
        if done {
            got.last = Some(line);
        }
        Ok(done)
    }

    /// `base_url` is the server's root (e.g. `http://127.0.0.1:11434`).
    pub fn new(base_url: &str, model: &str, timeout: Duration) -> Result<Self, LlmError> {
        Ok(Self {
            http: Http::new("ollama", base_url, timeout)?,
            model: model.to_owned(),
            locality: locality_of(base_url),
        })
    }

    /// Marks the server local or cloud, as the caller decided (by address,
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

    fn body(&self, req: &ChatRequest) -> Result<Vec<u8>, LlmError> {
        let messages: Vec<serde_json::Value> = req
            .messages
            .iter()
            .map(|m| {
                let mut v = serde_json::json!({ "role": m.role.as_str(), "content": m.content });
                if !m.tool_calls.is_empty() {
                    v["tool_calls"] = m
                        .tool_calls
                        .iter()
                        .map(|c| serde_json::json!({"function": {"name": c.name, "arguments": c.arguments}}))
                        .collect();
                }
                if let Some(name) = &m.tool_name {
                    v["tool_name"] = name.clone().into();
                }
                v
            })
            .collect();
        let mut body = serde_json::json!({
            "model": self.model,
            "messages": messages,
            "stream": true,
            "options": { "num_predict": req.max_tokens, "temperature": req.temperature },
        });
        if !req.tools.is_empty() {
            body["tools"] = req.tools.iter().map(function_tool).collect();
        }
        serde_json::to_vec(&body)
            .map_err(|e| self.http.failed(format!("cannot encode the request ({e})")))
    }
}

#[async_trait]
impl ChatModel for Ollama {
    fn supports_tools(&self) -> bool {
        true
    }

    fn info(&self) -> ProviderInfo {
        ProviderInfo {
            provider: "ollama".into(),
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
        let url = format!("{}/api/chat", self.http.base_url());
        let resp = self.http.post(&url, &[], &body).await?;
        let mut got = Got::default();
        let rest = self
            .http
            .lines(resp, |raw| self.take(raw, &mut got, deltas.as_ref()))
            .await?;
        if got.last.is_none() && !rest.trim().is_empty() {
            self.take(&rest, &mut got, deltas.as_ref())?;
        }
        let Got { text, calls, last } = got;
        let Some(last) = last else {
            return Err(self.http.failed(
                "the server ended the answer without finishing it (no final \"done\" line)",
            ));
        };
        Ok(ChatResponse {
            tool_calls: calls,
            text,
            prompt_tokens: last.prompt_eval_count.unwrap_or(0),
            completion_tokens: last.eval_count.unwrap_or(0),
            finish: match last.done_reason.as_deref() {
                Some("length") => Finish::Length,
                _ => Finish::Stop,
            },
        })
    }
}
