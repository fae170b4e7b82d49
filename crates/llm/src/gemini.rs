//! Google's Gemini API: `POST {base}/v1beta/models/{model}:streamGenerateContent?alt=sse`
//! with the key in `x-goog-api-key`. Each server-sent event is a whole
//! `GenerateContentResponse`; the stream ends when the connection closes
//! (there is no `[DONE]`), the last event carrying `finishReason` and
//! `usageMetadata`. The system prompt goes in `systemInstruction`; the
//! assistant's role is called `model`. Always a cloud provider.

use std::time::Duration;

use async_trait::async_trait;
use openzero_core::agent::Role;
use serde::Deserialize;
use tokio::sync::mpsc::UnboundedSender;

use crate::http::Http;
use crate::{ChatModel, ChatRequest, ChatResponse, Finish, LlmError, Locality, ProviderInfo};
use openzero_core::tools::ToolCall;

/// Gemini, by API key.
pub struct Gemini {
    http: Http,
    api_key: String,
    model: String,
}

impl std::fmt::Debug for Gemini {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gemini")
            .field("http", &self.http)
            .field("api_key", &"***")
            .field("model", &self.model)
            .finish()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    #[serde(default)]
    candidates: Vec<Candidate>,
    #[serde(default)]
    usage_metadata: Option<Usage>,
    #[serde(default)]
    prompt_feedback: Option<PromptFeedback>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    #[serde(default)]
    content: Option<Content>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Content {
    #[serde(default)]
    parts: Vec<Part>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Part {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    function_call: Option<FunctionCall>,
    /// Thought summaries of thinking models are not part of the answer.
    #[serde(default)]
    thought: Option<bool>,
}

#[derive(Deserialize)]
struct FunctionCall {
    #[serde(default)]
    id: Option<String>,
    name: String,
    #[serde(default)]
    args: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Usage {
    #[serde(default)]
    prompt_token_count: usize,
    #[serde(default)]
    candidates_token_count: usize,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptFeedback {
    #[serde(default)]
    block_reason: Option<String>,
}

impl Gemini {
    /// `base_url` is the API root (`https://generativelanguage.googleapis.com`).
    pub fn new(
        base_url: &str,
        api_key: &str,
        model: &str,
        timeout: Duration,
    ) -> Result<Self, LlmError> {
        Ok(Self {
            http: Http::new("gemini", base_url, timeout)?,
            api_key: api_key.to_owned(),
            model: model.to_owned(),
        })
    }

    /// How many times a 429 or 5xx answer is retried (default 3).
    pub fn with_retries(mut self, retries: u32) -> Self {
        self.http.set_retries(retries);
        self
    }

    fn body(&self, req: &ChatRequest) -> Result<Vec<u8>, LlmError> {
        let system: Vec<&str> = req
            .messages
            .iter()
            .filter(|m| m.role == Role::System)
            .map(|m| m.content.as_str())
            .collect();
        let mut contents: Vec<serde_json::Value> = Vec::new();
        for m in req.messages.iter().filter(|m| m.role != Role::System) {
            match m.role {
                Role::Tool => {
                    let part = serde_json::json!({"functionResponse": {
                        "name": m.tool_name.clone().unwrap_or_default(),
                        "response": {"content": m.content},
                    }});
                    // All results of one round go back in one turn.
                    let merge = contents
                        .last()
                        .is_some_and(|c| c["parts"][0].get("functionResponse").is_some());
                    match contents.last_mut() {
                        Some(last) if merge => {
                            if let Some(parts) = last["parts"].as_array_mut() {
                                parts.push(part);
                            }
                        }
                        _ => contents.push(serde_json::json!({"role": "user", "parts": [part]})),
                    }
                }
                Role::Assistant => {
                    let mut parts: Vec<serde_json::Value> = Vec::new();
                    if !m.content.is_empty() {
                        parts.push(serde_json::json!({"text": m.content}));
                    }
                    for c in &m.tool_calls {
                        parts.push(serde_json::json!({"functionCall": {"name": c.name, "args": c.arguments}}));
                    }
                    if parts.is_empty() {
                        parts.push(serde_json::json!({"text": ""}));
                    }
                    contents.push(serde_json::json!({"role": "model", "parts": parts}));
                }
                _ => contents
                    .push(serde_json::json!({"role": "user", "parts": [{"text": m.content}]})),
            }
        }
        let mut body = serde_json::json!({
            "contents": contents,
            "generationConfig": {
                "maxOutputTokens": req.max_tokens,
                "temperature": req.temperature,
            },
        });
        if !req.tools.is_empty() {
            let declarations: Vec<serde_json::Value> = req
                .tools
                .iter()
                .map(|t| {
                    let mut d = serde_json::json!({"name": t.name, "description": t.description});
                    // Gemini rejects an object schema without properties.
                    let empty = t.parameters["properties"]
                        .as_object()
                        .is_none_or(|p| p.is_empty());
                    if !empty {
                        d["parameters"] = t.parameters.clone();
                    }
                    d
                })
                .collect();
            body["tools"] = serde_json::json!([{ "functionDeclarations": declarations }]);
        }
        if !system.is_empty() {
            body["systemInstruction"] =
                serde_json::json!({ "parts": [{ "text": system.join("\n\n") }] });
        }
        serde_json::to_vec(&body)
            .map_err(|e| self.http.failed(format!("cannot encode the request ({e})")))
    }
}

#[async_trait]
impl ChatModel for Gemini {
    fn supports_tools(&self) -> bool {
        true
    }

    fn info(&self) -> ProviderInfo {
        ProviderInfo {
            provider: "gemini".into(),
            model: self.model.clone(),
            locality: Locality::Cloud,
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
        let url = format!(
            "{}/v1beta/models/{}:streamGenerateContent?alt=sse",
            self.http.base_url(),
            self.model
        );
        let resp = self
            .http
            .post(&url, &[("x-goog-api-key", self.api_key.as_str())], &body)
            .await?;
        let mut text = String::new();
        let mut calls: Vec<ToolCall> = Vec::new();
        let mut finish: Option<String> = None;
        let mut usage: Option<Usage> = None;
        let mut take = |line: &str| -> Result<bool, LlmError> {
            let Some(data) = line.trim().strip_prefix("data:") else {
                return Ok(false);
            };
            let ev: Event = serde_json::from_str(data.trim()).map_err(|e| {
                self.http.failed(format!(
                    "malformed event in the answer ({e}): {}",
                    data.trim().chars().take(120).collect::<String>()
                ))
            })?;
            if let Some(reason) = ev.prompt_feedback.and_then(|f| f.block_reason) {
                return Err(self
                    .http
                    .failed(format!("Gemini refused the request ({reason})")));
            }
            for c in ev.candidates {
                for p in c.content.map(|c| c.parts).unwrap_or_default() {
                    if p.thought == Some(true) {
                        continue;
                    }
                    if let Some(f) = p.function_call {
                        let n = calls.len();
                        calls.push(ToolCall {
                            id: f.id.unwrap_or_else(|| format!("call_{n}")),
                            name: f.name,
                            arguments: match f.args {
                                serde_json::Value::Null => serde_json::json!({}),
                                a => a,
                            },
                        });
                        continue;
                    }
                    if let Some(piece) = p.text.filter(|t| !t.is_empty()) {
                        if let Some(tx) = &deltas {
                            let _ = tx.send(piece.clone());
                        }
                        text.push_str(&piece);
                    }
                }
                if c.finish_reason.is_some() {
                    finish = c.finish_reason;
                }
            }
            if ev.usage_metadata.is_some() {
                usage = ev.usage_metadata;
            }
            Ok(false)
        };
        let rest = self.http.lines(resp, &mut take).await?;
        if !rest.trim().is_empty() {
            take(&rest)?;
        }
        let finish = match finish.as_deref() {
            Some("STOP") => Finish::Stop,
            Some("MAX_TOKENS") => Finish::Length,
            Some(other) => {
                return Err(self
                    .http
                    .failed(format!("Gemini stopped the answer ({other})")));
            }
            None => {
                return Err(self
                    .http
                    .failed("the server ended the answer without finishing it (no finishReason)"));
            }
        };
        let (prompt_tokens, completion_tokens) =
            usage.map_or((0, 0), |u| (u.prompt_token_count, u.candidates_token_count));
        Ok(ChatResponse {
            tool_calls: calls,
            text,
            prompt_tokens,
            completion_tokens,
            finish,
        })
    }
}
