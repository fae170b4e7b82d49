//! `openzero memory consolidate` and the weekly `memory-consolidate` job:
//! proposals to merge near-duplicates and to summarise clusters of small
//! memories, applied only when the owner asks, undone exactly.
//!
//! **Invariants:** nothing is merged without the owner (the job only
//! notifies); a merge keeps every original (hidden, linked, restored by
//! undo — the store's `MemoryHygieneStore`); a summary is written by a
//! local chat model only, checked like the briefings' phrasing, else the
//! texts are joined — and the merge records which; the grouping rules are
//! `openzero_core::memory_hygiene`'s.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use openzero_config::Loaded;
use openzero_core::llm::{ChatRequest, Locality};
use openzero_core::memory::{Filters, Memory, MemoryId, Source};
use openzero_core::memory_hygiene::{
    CLUSTER_MIN, Candidate, Proposal, ProposalKind, check_summary, joined_summary, notice, propose,
    summary_prompt,
};
use openzero_embed::MODEL_ID;
use openzero_store::memory_hygiene::{MergeInto, MergeKind, MergeRecord, NewMerge};
use openzero_store::{Embedding, MemoryRecord};
use serde::Serialize;

use crate::jobs::{Job, Task};
use crate::{AppError, Services, clock};

/// Memories consolidate looks at in one pass, oldest unreviewed first (a
/// pass at 100,000 memories would take minutes; the rest wait for the next).
pub const SEEDS_PER_PASS: i64 = 2_000;
/// Nearest memories read for each one looked at.
const NEIGHBOURS: usize = 16;
/// How long the local model may take over one summary.
const SUMMARY_TIMEOUT: StdDuration = StdDuration::from_secs(90);
/// Where a written summary says it came from.
pub const SUMMARY_SOURCE: &str = "consolidate";
/// The weekly job's name.
pub const JOB: &str = "memory-consolidate";

/// One pass's proposals, with the memories they name.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub proposals: Vec<Proposal>,
    /// Every member of every proposal, by id.
    #[serde(skip)]
    pub memories: HashMap<MemoryId, Memory>,
    /// Memories looked at in this pass.
    pub looked_at: usize,
    /// Left for a later pass (more unreviewed memories than one pass takes).
    pub more: bool,
    /// Looked at but without a vector of the current model (`memory reindex`).
    pub not_embedded: usize,
}

impl Plan {
    pub fn count(&self, kind: ProposalKind) -> usize {
        self.proposals.iter().filter(|p| p.kind == kind).count()
    }
}

/// Computes the proposals. With `mark`, memories looked at that are in no
/// proposal count as reviewed (consolidate found nothing to do with them);
/// members of a proposal stay unreviewed until it is applied or undone.
pub async fn plan(services: &Services, mark: bool) -> Result<Plan, AppError> {
    let store = &*services.store;
    let seeds = store.unreviewed_memories(SEEDS_PER_PASS).await?;
    let more = seeds.len() as i64 == SEEDS_PER_PASS;
    let seed_ids: Vec<MemoryId> = seeds.iter().map(|m| m.id).collect();
    let seed_vectors = store.memory_vectors_of(MODEL_ID, &seed_ids).await?;
    let not_embedded = seeds.len() - seed_vectors.len();
    // Seeds oldest first, as listed: the same groups whatever order the
    // store returned the vectors in.
    let order: HashMap<MemoryId, usize> = seed_ids
        .iter()
        .enumerate()
        .map(|(i, id)| (*id, i))
        .collect();
    let mut seed_vectors = seed_vectors;
    seed_vectors.sort_by_key(|r| order.get(&r.id).copied().unwrap_or(usize::MAX));
    let filters = Filters::default();
    let mut neighbours: Vec<(MemoryId, Vec<MemoryId>)> = Vec::with_capacity(seed_vectors.len());
    if store.searches_vectors() {
        for row in &seed_vectors {
            let near = store
                .dense_search(
                    MODEL_ID,
                    &row.vector,
                    NEIGHBOURS as i64 + 1,
                    CLUSTER_MIN,
                    &filters,
                )
                .await?
                .unwrap_or_default();
            neighbours.push((row.id, near.into_iter().map(|n| n.0).collect()));
        }
    } else {
        let index = services.memory_index.synced(store).await?;
        for row in &seed_vectors {
            let near = index.search(&row.vector, NEIGHBOURS + 1, CLUSTER_MIN, &filters);
            neighbours.push((row.id, near.into_iter().map(|n| n.0).collect()));
        }
    }
    let mut ids: Vec<MemoryId> = seed_ids.clone();
    ids.extend(neighbours.iter().flat_map(|n| n.1.iter().copied()));
    ids.sort_unstable();
    ids.dedup();
    // The seeds' vectors are in hand; only their neighbours' are read.
    let mut vectors: HashMap<MemoryId, Vec<f32>> = seed_vectors
        .iter()
        .map(|r| (r.id, r.vector.clone()))
        .collect();
    let missing: Vec<MemoryId> = ids
        .iter()
        .copied()
        .filter(|id| !vectors.contains_key(id))
        .collect();
    vectors.extend(
        store
            .memory_vectors_of(MODEL_ID, &missing)
            .await?
            .into_iter()
            .map(|r| (r.id, r.vector)),
    );
    let reviewed: HashSet<MemoryId> = store.reviewed_memories(&ids).await?.into_iter().collect();
    let memories: HashMap<MemoryId, Memory> = store
        .get_memories(&ids)
        .await?
        .into_iter()
        .map(|m| (m.id, m))
        .collect();
    let candidates: Vec<Candidate> = memories
        .values()
        .filter_map(|m| {
            vectors.remove(&m.id).map(|vector| Candidate {
                id: m.id,
                created_at: m.created_at,
                text: m.text.clone(),
                vector,
                reviewed: reviewed.contains(&m.id),
            })
        })
        .collect();
    let proposals = propose(&candidates, &neighbours);
    let proposed: HashSet<MemoryId> = proposals
        .iter()
        .flat_map(|p| p.members.iter().copied())
        .collect();
    if mark {
        // Looked at and nothing to do. Without a vector a memory was not
        // compared: it waits for `memory reindex`.
        let done: Vec<MemoryId> = seed_vectors
            .iter()
            .map(|r| r.id)
            .filter(|id| !proposed.contains(id))
            .collect();
        store.mark_memories_reviewed(&done, clock::now()).await?;
    }
    let memories = memories
        .into_iter()
        .filter(|(id, _)| proposed.contains(id))
        .collect();
    Ok(Plan {
        proposals,
        memories,
        looked_at: seeds.len(),
        more,
        not_embedded,
    })
}

/// What applying one proposal did.
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    pub proposal: String,
    /// The merge made (for `--undo`), or `None` when skipped.
    pub merge: Option<MergeRecord>,
    /// Why it was skipped, if it was.
    pub skipped: Option<String>,
}

/// Applies the plan's proposals (`only`: just that one; an id no longer
/// proposed is an error saying so).
pub async fn apply(
    services: &Services,
    plan: &Plan,
    only: Option<&str>,
) -> Result<Vec<Applied>, AppError> {
    let chosen: Vec<&Proposal> = match only {
        Some(id) => {
            let p = plan
                .proposals
                .iter()
                .find(|p| p.id.eq_ignore_ascii_case(id.trim()))
                .ok_or_else(|| {
                    AppError::Invalid(format!(
                        "there is no proposal {id} now (its memories changed, or it was applied); run `openzero memory consolidate` to see the current ones"
                    ))
                })?;
            vec![p]
        }
        None => plan.proposals.iter().collect(),
    };
    let mut out = Vec::with_capacity(chosen.len());
    for p in chosen {
        let merge = match p.kind {
            ProposalKind::Duplicates => {
                let Some(keep) = p.keep.or_else(|| p.members.last().copied()) else {
                    continue;
                };
                NewMerge {
                    kind: MergeKind::Duplicates,
                    into: MergeInto::Existing(keep),
                    members: p.members.iter().copied().filter(|m| *m != keep).collect(),
                    method: format!("kept #{keep}, the newest"),
                    at: clock::now(),
                }
            }
            ProposalKind::Cluster => summary_merge(services, plan, p).await?,
        };
        let made = services.store.merge_memories(&merge).await?;
        out.push(Applied {
            proposal: p.id.clone(),
            skipped: made.is_none().then(|| {
                "a memory of it was forgotten or merged meanwhile; nothing changed".to_owned()
            }),
            merge: made,
        });
    }
    Ok(out)
}

/// The summary of a cluster as a merge: by the local model when one is
/// configured and its text passes the check, else the texts joined.
async fn summary_merge(
    services: &Services,
    plan: &Plan,
    p: &Proposal,
) -> Result<NewMerge, AppError> {
    let members: Vec<&Memory> = p
        .members
        .iter()
        .filter_map(|id| plan.memories.get(id))
        .collect();
    let texts: Vec<&str> = members.iter().map(|m| m.text.as_str()).collect();
    let (text, method) = match summarise(services, &texts).await {
        Ok((text, model)) => (text, format!("summarised by the local model {model}")),
        Err(why) => {
            let dated: Vec<_> = members
                .iter()
                .map(|m| (m.created_at, m.text.as_str()))
                .collect();
            (joined_summary(&dated), format!("texts joined ({why})"))
        }
    };
    let embedding = match embed(services, &text).await {
        Ok(vector) => Some(Embedding {
            model: MODEL_ID.to_owned(),
            vector,
        }),
        Err(e) => {
            tracing::warn!(error = %e, "summary stored without a vector: run `openzero memory reindex`");
            None
        }
    };
    let newest = members
        .iter()
        .map(|m| m.created_at)
        .max()
        .unwrap_or_else(clock::now);
    let record = MemoryRecord {
        text,
        created_at: newest,
        source: Source::new(SUMMARY_SOURCE)?,
        external_id: None,
        metadata: Some(serde_json::json!({ "summary_of": p.members }).to_string()),
        embedding,
    };
    Ok(NewMerge {
        kind: MergeKind::Summary,
        into: MergeInto::New(record),
        members: p.members.clone(),
        method,
        at: clock::now(),
    })
}

/// A local model's checked summary and the model's name, or why not.
async fn summarise(services: &Services, texts: &[&str]) -> Result<(String, String), String> {
    let model = match services.chat_model().await {
        Ok(m) if m.info().locality == Locality::Local => m,
        Ok(_) => {
            return Err(
                "the chat model is a cloud model; memories are summarised only by a local one"
                    .into(),
            );
        }
        Err(e) => return Err(format!("no local chat model: {e}")),
    };
    let info = model.info();
    let req = ChatRequest {
        messages: summary_prompt(texts),
        max_tokens: 160,
        temperature: 0.0,
        tools: Vec::new(),
    };
    let answer = match tokio::time::timeout(SUMMARY_TIMEOUT, model.chat(req, None)).await {
        Ok(Ok(r)) => r.text,
        Ok(Err(e)) => return Err(format!("the local model failed: {e}")),
        Err(_) => return Err("the local model took too long".into()),
    };
    check_summary(texts, &answer)
        .map(|s| (s, format!("{}/{}", info.provider, info.model)))
        .map_err(|why| format!("the local model's summary was refused: {why}"))
}

async fn embed(services: &Services, text: &str) -> Result<Vec<f32>, String> {
    let embedder = services.embedder().await?;
    let text = text.to_owned();
    tokio::task::spawn_blocking(move || embedder.embed(&[text.as_str()]))
        .await
        .map_err(|e| format!("embedding task failed: {e}"))?
        .map_err(|e| e.0)?
        .pop()
        .ok_or_else(|| "the model returned no vector".to_owned())
}

/// Undoes merge `id`: its originals are shown again, a summary it wrote is deleted.
pub async fn undo(services: &Services, id: i64) -> Result<MergeRecord, AppError> {
    services.store.unmerge_memories(id).await?.ok_or_else(|| {
        AppError::Invalid(format!(
            "there is no merge #{id} (undone already, or its memory was forgotten); `openzero memory consolidate --merges` lists them"
        ))
    })
}

/// The weekly job: computes the proposals and tells the owner, applies nothing.
pub fn jobs(loaded: &Loaded) -> Result<Vec<Job>, AppError> {
    Ok(vec![Job::new(
        loaded,
        JOB,
        &loaded.settings.schedule.memory_consolidate,
        StdDuration::from_secs(600),
        Arc::new(ConsolidateTask),
    )?])
}

#[derive(Debug)]
struct ConsolidateTask;

#[async_trait::async_trait]
impl Task for ConsolidateTask {
    async fn run(&self, services: &Arc<Services>) -> Result<String, AppError> {
        let plan = plan(services, true).await?;
        let (d, c) = (
            plan.count(ProposalKind::Duplicates),
            plan.count(ProposalKind::Cluster),
        );
        let Some(text) = notice(d, c) else {
            return Ok(format!(
                "nothing to propose ({} memories looked at)",
                plan.looked_at
            ));
        };
        // One notice per set of proposals: a rerun with the same ones is quiet.
        let mut ids: Vec<&str> = plan.proposals.iter().map(|p| p.id.as_str()).collect();
        ids.sort_unstable();
        services
            .notify_once(&format!("{JOB}:{}", ids.join(",")), &text)
            .await?;
        Ok(text)
    }
}
