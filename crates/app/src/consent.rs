//! Consent before disclosure, end to end: a request to a cloud model that
//! carries the owner's context is held as a pending thought; the owner sees
//! each item, the provider and the model; only after a grant are the exact
//! approved messages sent, and the disclosure (hash of the exact bytes,
//! size, items, who approved) is logged *before* the bytes leave.
//!
//! **Invariant:** this module is the only caller of a cloud model
//! (`Chat::send` refuses one), and it sends nothing for a thought that is
//! not granted.

use chrono::{Duration, Utc};
use openzero_core::agent::{Budget, Context, Role, Turn};
use openzero_core::consent::{Decision, StreamRestore, disclose, sha256_hex};
use openzero_core::memory::{Filters, Memory};
use openzero_core::{agent::project_list, consent::ThoughtState};
use openzero_llm::{ChatModel, ChatRequest, Locality, ProviderInfo};
use openzero_store::{Decided, NewDisclosure, NewThought, Store, Thought, ThoughtEnd, ThoughtId};
use tokio::sync::mpsc::UnboundedSender;

use crate::AppError;
use crate::agent::{ABOUT_ME_FILE, persona};
use crate::memory::MemoryService;

/// Memories a deep-thinking question may carry, at most.
const THINK_MEMORIES: usize = 5;
/// How similar (cosine, local embedding model) a paragraph of about-me or
/// a preference must be to the question to go along.
const RELEVANT: f32 = 0.3;
/// The same for a project line ("- Move flat (active, 40% done)"): the
/// status words dilute it, so the bar is lower. Measured with MiniLM:
/// related questions score 0.16–0.68, unrelated ones 0.0–0.07. A project
/// whose name the question mentions always goes along.
const RELEVANT_PROJECT: f32 = 0.15;
/// Above this similarity to a planning question, the whole project list
/// goes along ("what should I focus on this week?").
const PLANNING: f32 = 0.35;
const PLANNING_PROBE: &str =
    "What should I work on next? My projects, plans, priorities, goals and progress.";

/// The context a deep-thinking question needs, chosen on this machine: the
/// memories hybrid search finds for it, and the projects, about-me
/// paragraphs and preferences the local embedding model rates relevant.
/// No conversation history goes along.
pub async fn think_context(
    loaded: &openzero_config::Loaded,
    store: &dyn Store,
    memory: &MemoryService<'_>,
    question: &str,
) -> Result<Context, AppError> {
    let memories: Vec<Memory> = match memory
        .search(question, THINK_MEMORIES, &Filters::default())
        .await
    {
        Ok(found) => found
            .hits
            .into_iter()
            .map(|h| Memory {
                id: h.id,
                text: h.text,
                created_at: h.created_at,
                source: h.source,
                external_id: h.external_id,
                metadata: None,
                model: None,
            })
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "no memories for the question");
            Vec::new()
        }
    };
    crate::agent::record_uses(store, &memories, "a /think question").await;
    let all_projects = project_list(&crate::projects::list(store).await?);
    let project_lines: Vec<String> = all_projects.lines().map(str::to_owned).collect();
    let about: Vec<String> = crate::agent::owner_file(&loaded.data_dir.join(ABOUT_ME_FILE))
        .unwrap_or_default()
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    let prefs = store.list_preferences().await?;
    // The Strava link's own state is not the owner's words, and Strava's
    // terms keep its data away from cloud models.
    let pref_lines: Vec<String> = prefs
        .iter()
        .filter(|(k, _)| !k.starts_with("strava."))
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();

    let mut texts = vec![PLANNING_PROBE.to_owned()];
    texts.extend(project_lines.iter().cloned());
    texts.extend(about.iter().cloned());
    texts.extend(pref_lines.iter().cloned());
    let keep: Vec<bool> = match memory.similarity(question, &texts).await {
        Some(sims) => {
            let planning = sims.first().is_some_and(|s| *s >= PLANNING);
            sims.iter()
                .enumerate()
                .skip(1)
                .map(|(i, s)| {
                    if i <= project_lines.len() {
                        planning || *s >= RELEVANT_PROJECT || shares_words(question, &texts[i])
                    } else {
                        *s >= RELEVANT
                    }
                })
                .collect()
        }
        // Without the model: words the question shares.
        None => texts[1..]
            .iter()
            .map(|t| shares_words(question, t))
            .collect(),
    };
    let (p_keep, rest) = keep.split_at(project_lines.len().min(keep.len()));
    let (a_keep, r_keep) = rest.split_at(about.len().min(rest.len()));
    let projects: Vec<&str> = project_lines
        .iter()
        .zip(p_keep)
        .filter(|(_, k)| **k)
        .map(|(l, _)| l.as_str())
        .collect();
    let about_me: Vec<&str> = about
        .iter()
        .zip(a_keep)
        .filter(|(_, k)| **k)
        .map(|(l, _)| l.as_str())
        .collect();
    let preferences = prefs
        .into_iter()
        .zip(r_keep)
        .filter(|(_, k)| **k)
        .map(|(p, _)| p)
        .collect();
    Ok(Context {
        memories,
        projects: projects.join("\n"),
        about_me: (!about_me.is_empty()).then(|| about_me.join("\n\n")),
        preferences,
        history: Vec::new(),
        summary: None,
    })
}

fn shares_words(question: &str, text: &str) -> bool {
    let words = |s: &str| -> Vec<String> {
        s.split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.chars().count() >= 4)
            .map(str::to_lowercase)
            .collect()
    };
    let q = words(question);
    words(text).iter().any(|w| q.contains(w))
}

/// Holds `question` with `ctx` for `model` as a pending thought.
pub async fn hold(
    loaded: &openzero_config::Loaded,
    store: &dyn Store,
    model: &ProviderInfo,
    channel: &str,
    question: &str,
    ctx: Context,
) -> Result<Thought, AppError> {
    let tz = loaded.settings.general.timezone.0;
    let now = Utc::now();
    let disclosure = disclose(
        &persona(&loaded.data_dir),
        now.with_timezone(&tz),
        ctx,
        question,
        Budget::default(),
        loaded.settings.llm.redact_identifiers,
    );
    let created_at = openzero_store::now();
    let hours = i64::from(loaded.settings.llm.consent_hours.max(1));
    let thought = store
        .add_thought(&NewThought {
            created_at,
            expires_at: created_at + Duration::hours(hours),
            channel: channel.to_owned(),
            provider: model.provider.clone(),
            model: model.model.clone(),
            question: question.to_owned(),
            disclosure,
        })
        .await?;
    tracing::info!(
        thought = thought.id,
        provider = %thought.provider,
        items = thought.disclosure.items.len(),
        "held for the owner's approval"
    );
    Ok(thought)
}

/// Grants or cancels a thought for the owner (`by` names where: "owner
/// (terminal)").
pub async fn decide(
    store: &dyn Store,
    id: ThoughtId,
    decision: Decision,
    by: &str,
) -> Result<Decided, AppError> {
    Ok(store
        .decide_thought(id, decision, by, openzero_store::now())
        .await?)
}

/// What a granted thought brought back.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The answer with identifiers put back.
    pub text: String,
    /// The logged disclosure, when bytes left this machine.
    pub disclosure: Option<openzero_store::DisclosureRecord>,
}

/// Sends a granted thought to `model` and stores the answer. Refuses any
/// thought that is not granted, and a model other than the one the owner
/// approved.
pub async fn send(
    loaded: &openzero_config::Loaded,
    store: &dyn Store,
    model: &dyn ChatModel,
    thought: &Thought,
    deltas: Option<UnboundedSender<String>>,
) -> Result<Sent, AppError> {
    let current = store
        .get_thought(thought.id)
        .await?
        .ok_or_else(|| AppError::Invalid(format!("thought #{} does not exist", thought.id)))?;
    if current.state != ThoughtState::Granted {
        return Err(AppError::Invalid(format!(
            "thought #{} is {}, not granted: nothing was sent",
            current.id,
            current.state.as_str()
        )));
    }
    let info = model.info();
    if info.provider != current.provider || info.model != current.model {
        return Err(AppError::Invalid(format!(
            "thought #{} was approved for {} ({}), not {} ({}): nothing was sent",
            current.id, current.provider, current.model, info.provider, info.model
        )));
    }
    let req = ChatRequest {
        messages: current.disclosure.messages.clone(),
        max_tokens: loaded.settings.llm.max_tokens.max(1),
        temperature: 0.2,
        tools: Vec::new(),
    };
    let redactor = &current.disclosure.redactor;
    // Pieces are shown with identifiers put back as they arrive.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let forward = async {
        let mut restore = StreamRestore::new(redactor);
        while let Some(piece) = rx.recv().await {
            let shown = restore.push(&piece);
            if let Some(d) = &deltas
                && !shown.is_empty()
            {
                let _ = d.send(shown);
            }
        }
        let rest = restore.finish();
        if let Some(d) = &deltas
            && !rest.is_empty()
        {
            let _ = d.send(rest);
        }
    };
    let call = async {
        match model.encode(&req)? {
            Some(body) => {
                let record = store
                    .add_disclosure(&NewDisclosure {
                        at: openzero_store::now(),
                        thought_id: Some(current.id),
                        provider: info.provider.clone(),
                        model: info.model.clone(),
                        bytes: i64::try_from(body.len()).unwrap_or(i64::MAX),
                        sha256: sha256_hex(&body),
                        items: current
                            .disclosure
                            .items
                            .iter()
                            .map(|i| i.label.clone())
                            .collect(),
                        approved_by: current.decided_by.clone().unwrap_or_default(),
                    })
                    .await?;
                tracing::info!(
                    disclosure = record.id,
                    provider = %info.provider,
                    bytes = record.bytes,
                    "disclosure logged; sending"
                );
                let result = model.send_encoded(body, Some(tx)).await;
                let outcome = match &result {
                    Ok(_) => "answered".to_owned(),
                    Err(e) => format!("failed: {e}"),
                };
                store.finish_disclosure(record.id, &outcome).await?;
                Ok::<_, AppError>((result, Some(record)))
            }
            None => Ok((model.chat(req.clone(), Some(tx)).await, None)),
        }
    };
    let ((result, record), ()) = tokio::try_join!(call, async {
        forward.await;
        Ok(())
    })?;
    match result {
        Ok(r) => {
            let text = redactor.restore(&r.text);
            store
                .finish_thought(current.id, &ThoughtEnd::Answered(text.clone()))
                .await?;
            let now = openzero_store::now();
            store
                .add_turns(
                    &current.channel,
                    &[
                        Turn {
                            role: Role::User,
                            content: current.question.clone(),
                            at: current.created_at,
                        },
                        Turn {
                            role: Role::Assistant,
                            content: text.clone(),
                            at: now,
                        },
                    ],
                )
                .await?;
            // Older turns are folded without a model: the cloud one would
            // need approval, and the text must not leave unasked.
            if let Err(e) = crate::agent::fold_history(store, &current.channel, None).await {
                tracing::warn!(error = %e, "conversation summary not updated");
            }
            Ok(Sent {
                text,
                disclosure: record,
            })
        }
        Err(e) => {
            store
                .finish_thought(current.id, &ThoughtEnd::Failed(e.to_string()))
                .await?;
            Err(AppError::Model(e))
        }
    }
}

/// Whether requests to this model need the owner's approval.
pub fn needs_consent(model: &ProviderInfo) -> bool {
    model.locality == Locality::Cloud
}
