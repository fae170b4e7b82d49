//! What every HTTP chat provider shares: a POST with a connect timeout,
//! retries of 429 and 5xx with exponential backoff and jitter (honouring
//! `Retry-After`, or Gemini's `retryDelay`), and reading the streamed answer
//! line by line with a timeout on silence.

use std::time::Duration;

use crate::LlmError;

/// An HTTP endpoint of one provider.
pub(crate) struct Http {
    provider: String,
    base_url: String,
    timeout: Duration,
    retries: u32,
    client: reqwest::Client,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http")
            .field("provider", &self.provider)
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .finish_non_exhaustive()
    }
}

impl Http {
    pub(crate) fn new(provider: &str, base_url: &str, timeout: Duration) -> Result<Self, LlmError> {
        let client = reqwest::Client::builder()
            .connect_timeout(timeout)
            .build()
            .map_err(|e| LlmError::Inference(format!("HTTP client: {e}")))?;
        Ok(Self {
            provider: provider.to_owned(),
            base_url: base_url.trim_end_matches('/').to_owned(),
            timeout,
            retries: 3,
            client,
        })
    }

    pub(crate) fn base_url(&self) -> &str {
        &self.base_url
    }

    pub(crate) fn provider(&self) -> &str {
        &self.provider
    }

    pub(crate) fn set_retries(&mut self, retries: u32) {
        self.retries = retries;
    }

    /// An error naming the provider and where it is.
    pub(crate) fn failed(&self, why: impl std::fmt::Display) -> LlmError {
        LlmError::Inference(format!("{} at {}: {why}", self.provider, self.base_url))
    }

    /// Backoff before retry `attempt` (0-based): 0.5 s, 1 s, 2 s … plus up
    /// to 250 ms of jitter, or what the server asks for (at most a minute).
    fn backoff(attempt: u32, asked: Option<Duration>) -> Duration {
        if let Some(d) = asked {
            return d.min(Duration::from_secs(60));
        }
        let jitter = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::from(d.subsec_millis()) % 250);
        Duration::from_millis(500 * (1u64 << attempt.min(6)) + jitter)
    }

    /// POSTs `body` (JSON) to `url` with `headers`, retrying 429 and 5xx.
    /// Returns the successful response, or an error with the server's own
    /// message.
    pub(crate) async fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<reqwest::Response, LlmError> {
        let mut attempt = 0;
        loop {
            let mut r = self
                .client
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_vec());
            for (k, v) in headers {
                r = r.header(*k, *v);
            }
            let resp = match tokio::time::timeout(self.timeout, r.send()).await {
                Err(_) => {
                    return Err(
                        self.failed(format!("no answer within {} s", self.timeout.as_secs()))
                    );
                }
                Ok(Err(e)) => return Err(self.failed(format!("cannot connect ({e})"))),
                Ok(Ok(resp)) => resp,
            };
            let status = resp.status();
            if status.is_success() {
                return Ok(resp);
            }
            let retry_after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let text = match tokio::time::timeout(self.timeout, resp.text()).await {
                Ok(Ok(t)) => t,
                _ => String::new(),
            };
            let retryable = status.as_u16() == 429 || status.is_server_error();
            if retryable && attempt < self.retries {
                let wait = Self::backoff(attempt, retry_after.or_else(|| retry_delay(&text)));
                tracing::warn!(provider = %self.provider, %status, attempt, wait_ms = wait.as_millis() as u64, "retrying");
                tokio::time::sleep(wait).await;
                attempt += 1;
                continue;
            }
            let tries = if attempt > 0 {
                format!(" after {} attempts", attempt + 1)
            } else {
                String::new()
            };
            return Err(self.failed(format!("HTTP {status}{tries}: {}", error_detail(&text))));
        }
    }

    /// Reads `resp` line by line, giving each complete line (without its
    /// line break) to `on_line` until it returns `true` (done) or the body
    /// ends. Returns what was left after the last line break.
    pub(crate) async fn lines(
        &self,
        mut resp: reqwest::Response,
        mut on_line: impl FnMut(&str) -> Result<bool, LlmError>,
    ) -> Result<String, LlmError> {
        let mut buf: Vec<u8> = Vec::new();
        loop {
            let chunk = match tokio::time::timeout(self.timeout, resp.chunk()).await {
                Err(_) => {
                    return Err(self.failed(format!(
                        "went silent for {} s mid-answer",
                        self.timeout.as_secs()
                    )));
                }
                Ok(Err(e)) => return Err(self.failed(format!("connection lost ({e})"))),
                Ok(Ok(None)) => break,
                Ok(Ok(Some(bytes))) => bytes,
            };
            buf.extend_from_slice(&chunk);
            while let Some(pos) = buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = buf.drain(..=pos).collect();
                let line = String::from_utf8_lossy(&line);
                if on_line(line.trim_end_matches(['\r', '\n']))? {
                    return Ok(String::new());
                }
            }
        }
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }
}

/// The server's own error message: OpenAI and Gemini put it at
/// `error.message`, Ollama at `error`.
pub(crate) fn error_detail(text: &str) -> String {
    let v = serde_json::from_str::<serde_json::Value>(text).ok();
    v.as_ref()
        .and_then(|v| {
            v.pointer("/error/message")
                .or_else(|| v.pointer("/error"))
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| text.chars().take(200).collect())
}

/// Gemini's `google.rpc.RetryInfo` delay ("28s" or "1.5s") in an error body.
fn retry_delay(text: &str) -> Option<Duration> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    v.pointer("/error/details")?
        .as_array()?
        .iter()
        .find_map(|d| d.get("retryDelay")?.as_str())
        .and_then(|s| s.strip_suffix('s')?.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_of_each_provider() {
        assert_eq!(
            error_detail(r#"{"error":{"message":"slow down","type":"rate_limit"}}"#),
            "slow down"
        );
        assert_eq!(
            error_detail(r#"{"error":"model \"x\" not found, try pulling it first"}"#),
            "model \"x\" not found, try pulling it first"
        );
        assert_eq!(
            error_detail("<html>bad gateway</html>"),
            "<html>bad gateway</html>"
        );
    }

    #[test]
    fn gemini_retry_delay_is_read() {
        let body = r#"{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED",
            "details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1.5s"}]}}"#;
        assert_eq!(retry_delay(body), Some(Duration::from_millis(1500)));
        assert_eq!(retry_delay(r#"{"error":{"message":"x"}}"#), None);
        assert_eq!(retry_delay("not json"), None);
    }
}
