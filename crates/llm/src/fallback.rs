//! A fallback chain: the primary model answers while it can; when it fails,
//! the next one in order does, and the failed one rests for a cooldown.
//! After the cooldown the primary is tried first again, so the chain goes
//! back to it once it recovers. When every model fails, the error names
//! each one and why.
//!
//! A model that already streamed part of an answer is not replaced halfway:
//! the owner would see two answers glued together. Its error is returned.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::mpsc::UnboundedSender;

use crate::{ChatModel, ChatRequest, ChatResponse, LlmError, Locality, ProviderInfo};

/// Models tried in order.
#[derive(Debug)]
pub struct Fallback {
    members: Vec<Arc<dyn ChatModel>>,
    cooldown: Duration,
    /// Per member: resting until then after a failure.
    resting: std::sync::Mutex<Vec<Option<Instant>>>,
}

impl Fallback {
    /// `members[0]` is the primary. Fails on an empty list.
    pub fn new(members: Vec<Arc<dyn ChatModel>>, cooldown: Duration) -> Result<Self, LlmError> {
        if members.is_empty() {
            return Err(LlmError::Inference("a fallback chain needs a model".into()));
        }
        let resting = std::sync::Mutex::new(vec![None; members.len()]);
        Ok(Self {
            members,
            cooldown,
            resting,
        })
    }

    /// The models, primary first.
    pub fn members(&self) -> &[Arc<dyn ChatModel>] {
        &self.members
    }

    /// Indices in the order to try now: those not resting, in order, then
    /// the resting ones (a last resort rather than no answer).
    fn order(&self, now: Instant) -> Vec<usize> {
        let resting = self
            .resting
            .lock()
            .map(|r| r.clone())
            .unwrap_or_else(|p| p.into_inner().clone());
        let (ready, tired): (Vec<usize>, Vec<usize>) =
            (0..self.members.len()).partition(|i| resting[*i].is_none_or(|until| now >= until));
        ready.into_iter().chain(tired).collect()
    }

    fn mark(&self, i: usize, failed: bool) {
        let mut resting = match self.resting.lock() {
            Ok(r) => r,
            Err(p) => p.into_inner(),
        };
        resting[i] = failed.then(|| Instant::now() + self.cooldown);
    }
}

fn label(info: &ProviderInfo) -> String {
    format!("{} ({})", info.provider, info.model)
}

#[async_trait]
impl ChatModel for Fallback {
    fn supports_tools(&self) -> bool {
        self.members.iter().any(|m| m.supports_tools())
    }

    /// The primary's name; `Cloud` if any member is a cloud model.
    fn info(&self) -> ProviderInfo {
        let mut info = self.members[0].info();
        if self
            .members
            .iter()
            .any(|m| m.info().locality == Locality::Cloud)
        {
            info.locality = Locality::Cloud;
        }
        info
    }

    async fn chat(
        &self,
        req: ChatRequest,
        deltas: Option<UnboundedSender<String>>,
    ) -> Result<ChatResponse, LlmError> {
        let mut tried: Vec<String> = Vec::new();
        for i in self.order(Instant::now()) {
            let model = &self.members[i];
            let streamed = Arc::new(AtomicBool::new(false));
            // Forward pieces, noting whether any reached the owner.
            let (tx, forward) = match &deltas {
                Some(outer) => {
                    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
                    let outer = outer.clone();
                    let flag = streamed.clone();
                    let task = tokio::spawn(async move {
                        while let Some(piece) = rx.recv().await {
                            flag.store(true, Ordering::SeqCst);
                            let _ = outer.send(piece);
                        }
                    });
                    (Some(tx), Some(task))
                }
                None => (None, None),
            };
            let result = model.chat(req.clone(), tx).await;
            if let Some(task) = forward {
                let _ = task.await;
            }
            match result {
                Ok(r) => {
                    self.mark(i, false);
                    if i != 0 {
                        tracing::warn!(
                            answered_by = %label(&model.info()),
                            failed = %tried.join("; "),
                            "answered by a fallback model"
                        );
                    }
                    return Ok(r);
                }
                Err(e) => {
                    self.mark(i, true);
                    tracing::warn!(model = %label(&model.info()), error = %e, "model failed");
                    tried.push(format!("{}: {e}", label(&model.info())));
                    if streamed.load(Ordering::SeqCst) {
                        return Err(LlmError::Inference(format!(
                            "the answer broke off: {}",
                            tried.join("; ")
                        )));
                    }
                }
            }
        }
        Err(LlmError::Inference(if tried.len() == 1 {
            tried.remove(0)
        } else {
            format!("no model could answer — {}", tried.join("; "))
        }))
    }
}
