//! Deep thinking with consent, written once for every channel (the
//! terminal, Telegram, later the dashboard): ask, hold for the owner's
//! decision, decide and send. Channels only show what comes back.
//!
//! **Invariants:** nothing reaches a cloud model before the owner granted
//! the exact thought (see [`crate::consent`]); a local model answers at
//! once with the same context a cloud one would get; both answers are kept
//! in the channel's conversation.

use std::sync::Arc;

use openzero_core::agent::{Budget, Role, Turn, messages};
use openzero_core::consent::{DecideError, Decision, ThoughtState};
use openzero_core::llm::{ChatModel, ChatRequest};
use openzero_store::Thought;
use tokio::sync::mpsc::UnboundedSender;

use crate::agent::{ChatTarget, persona};
use crate::consent::{self, Sent, needs_consent};
use crate::{AppError, Services};

/// What asking did.
#[derive(Debug, Clone)]
pub enum Asked {
    /// A model on the owner's machine or network answered: nothing left.
    Answered(String),
    /// Held for the owner: show the thought and ask.
    Held(Box<Thought>),
}

/// Asks the deep-thinking model `question` from `channel`. Pieces of a
/// local answer go to `deltas` as they come.
pub async fn ask(
    services: &Services,
    channel: &str,
    question: &str,
    deltas: Option<UnboundedSender<String>>,
) -> Result<Asked, AppError> {
    let model = services
        .think_model()
        .await
        .map_err(AppError::ModelUnavailable)?;
    let memory = services.memory().await;
    let ctx = consent::think_context(&services.loaded, &*services.store, &memory, question).await?;
    let info = model.info();
    if needs_consent(&info) {
        let t = consent::hold(
            &services.loaded,
            &*services.store,
            &info,
            channel,
            question,
            ctx,
        )
        .await?;
        return Ok(Asked::Held(Box::new(t)));
    }
    let asked_at = openzero_store::now();
    let req = ChatRequest {
        messages: messages(
            &persona(&services.loaded.data_dir),
            chrono::Utc::now().with_timezone(&services.tz()),
            &ctx,
            Budget::default(),
            question,
        ),
        max_tokens: services.loaded.settings.llm.max_tokens.max(1),
        temperature: 0.2,
        tools: Vec::new(),
    };
    let answer = model.chat(req, deltas).await?;
    services
        .store
        .add_turns(
            channel,
            &[
                Turn {
                    role: Role::User,
                    content: question.to_owned(),
                    at: asked_at,
                },
                Turn {
                    role: Role::Assistant,
                    content: answer.text.clone(),
                    at: openzero_store::now(),
                },
            ],
        )
        .await?;
    Ok(Asked::Answered(answer.text))
}

/// What the owner's decision did.
#[derive(Debug, Clone)]
pub enum Decided {
    /// Cancelled: nothing was sent.
    Cancelled,
    /// Granted and sent; the answer came back.
    Sent(Box<Sent>),
    /// Refused (expired, already decided).
    Refused(DecideError),
    NotFound,
}

/// Grants or cancels thought `id` for the owner (`by`: "owner (terminal)"),
/// and on a grant sends it to the model it was made for.
pub async fn decide(
    services: &Services,
    id: i64,
    decision: Decision,
    by: &str,
    deltas: Option<UnboundedSender<String>>,
) -> Result<Decided, AppError> {
    let thought = match consent::decide(&*services.store, id, decision, by).await? {
        openzero_store::Decided::Done(t) => t,
        openzero_store::Decided::Refused(why, _) => return Ok(Decided::Refused(why)),
        openzero_store::Decided::NotFound => return Ok(Decided::NotFound),
    };
    if thought.state == ThoughtState::Cancelled {
        return Ok(Decided::Cancelled);
    }
    let model = model_for(services, &thought).await?;
    let sent = consent::send(
        &services.loaded,
        &*services.store,
        &*model,
        &thought,
        deltas,
    )
    .await?;
    Ok(Decided::Sent(Box::new(sent)))
}

/// The configured model a thought was made for (the process's own).
async fn model_for(services: &Services, t: &Thought) -> Result<Arc<dyn ChatModel>, AppError> {
    let made_for = |target: &ChatTarget| {
        matches!(target, ChatTarget::Server { provider, model, .. }
            if *provider == t.provider && *model == t.model)
    };
    let model = if made_for(&services.think_target) {
        services.think_model().await
    } else if made_for(&services.chat_target) {
        services.chat_model().await
    } else {
        return Err(AppError::ModelUnavailable(format!(
            "thought #{} was made for {} ({}), which is no longer configured; ask again",
            t.id, t.provider, t.model
        )));
    };
    model.map_err(AppError::ModelUnavailable)
}
