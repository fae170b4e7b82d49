//! Memory search: gathering candidates (dense, full-text, the turns around
//! the best dense hits, the period a question names) and handing them to
//! the ranking in `openzero_core::recall`.

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use openzero_core::memory::{Filters, MIN_SIMILARITY, Memory, MemoryId, query_terms};
use openzero_core::recall::{self, Candidate, Intent, Ranking};
use openzero_core::vector_index::dot;
use openzero_embed::MODEL_ID;

use crate::AppError;
use crate::memory::{Found, Hit, MemoryService};

/// Candidates taken from each list, at least.
const CANDIDATES: usize = 50;
/// Results whose texts the full ranking reads (dates, words of change).
const HEAD: usize = 20;
/// Dense hits whose neighbours in their conversation become candidates.
const AROUND: usize = 20;
/// Two memories from one source this close in time are turns of one conversation.
const CONVERSATION_GAP_MINUTES: i64 = 30;

/// A question, and when it is asked.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    pub text: String,
    /// The moment it is asked: only memories made before it are searched,
    /// and periods ("last week") count back from it. `None`: now.
    pub at: Option<DateTime<Utc>>,
}

impl Question {
    /// A question asked now.
    pub fn now(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            at: None,
        }
    }
}

/// Within the filters' time span (a neighbour shares the source of the
/// hit it stands beside, which passed any source filter already).
fn in_span(f: &Filters, created: DateTime<Utc>) -> bool {
    f.since.is_none_or(|s| created >= s) && f.until.is_none_or(|u| created < u)
}

impl MemoryService<'_> {
    /// Ranks each question's candidates; `query_vectors[i]` belongs to
    /// `questions[i]` (none: words only, `warning` says why).
    pub(crate) async fn search_ranked(
        &self,
        questions: &[Question],
        query_vectors: Option<&[Vec<f32>]>,
        warning: Option<String>,
        k: usize,
        filters: &Filters,
        ranking: Ranking,
    ) -> Result<Vec<Found>, AppError> {
        let k = k.clamp(1, 1000);
        let n = (k * 5).max(CANDIDATES);
        let store = self.store();
        let in_process = query_vectors.is_some() && !store.searches_vectors();
        let index = if in_process {
            Some(self.index().synced(store).await?)
        } else {
            None
        };
        let mut out = Vec::with_capacity(questions.len());
        for (i, q) in questions.iter().enumerate() {
            let now = q.at.unwrap_or_else(crate::clock::now);
            let mut f = filters.clone();
            if let Some(at) = q.at {
                // Stores read `until` as inclusive: strictly before `at`.
                let before = at - Duration::microseconds(1);
                f.until = Some(f.until.map_or(before, |u| u.min(before)));
            }
            let intent = if ranking == Ranking::Full {
                recall::intent(&q.text, now, self.zone())
            } else {
                Intent::default()
            };
            let qv = query_vectors.and_then(|v| v.get(i)).map(Vec::as_slice);
            // The lists: the whole span, and the named period on its own so
            // its memories are there to be favoured.
            let mut spans = vec![f.clone()];
            if let Some(p) = intent.period {
                let mut pf = f.clone();
                pf.since = Some(pf.since.map_or(p.start, |s| s.max(p.start)));
                pf.until = Some(pf.until.map_or(p.end, |u| u.min(p.end)));
                spans.push(pf);
            }
            let terms = query_terms(&q.text);
            // The full-text lists are asked for while the dense ones are
            // computed: their round trips to the store overlap the scan.
            let words_lists = async {
                let mut lists = Vec::with_capacity(spans.len());
                for span in &spans {
                    // The dense ranking reads no words.
                    lists.push(if ranking == Ranking::Dense {
                        Vec::new()
                    } else {
                        store.text_search(&terms, span, n as i64).await?
                    });
                }
                Ok::<_, AppError>(lists)
            };
            let dense_lists = async {
                let mut lists = Vec::with_capacity(spans.len());
                for (s, span) in spans.iter().enumerate() {
                    // Everything in the named period is a candidate, however
                    // little its words resemble the question's.
                    let floor = if s == 0 { MIN_SIMILARITY } else { -1.0 };
                    lists.push(match (qv, &index) {
                        (Some(v), Some(ix)) => ix.search(v, n, floor, span),
                        (Some(v), None) => store
                            .dense_search(MODEL_ID, v, n as i64, floor, span)
                            .await?
                            .unwrap_or_default(),
                        (None, _) => Vec::new(),
                    });
                }
                Ok::<_, AppError>(lists)
            };
            let (words_lists, dense_lists) = tokio::try_join!(words_lists, dense_lists)?;
            let mut cands: HashMap<MemoryId, Candidate> = HashMap::new();
            let mut dense_order: Vec<MemoryId> = Vec::new();
            for (dense, words) in dense_lists.into_iter().zip(words_lists) {
                for (id, cos) in dense {
                    if !cands.contains_key(&id) {
                        dense_order.push(id);
                    }
                    cands.entry(id).or_insert_with(|| blank(id)).dense = Some(cos);
                }
                for (rank, id) in words.into_iter().enumerate() {
                    let c = cands.entry(id).or_insert_with(|| blank(id));
                    c.words_rank = Some(c.words_rank.map_or(rank, |r| r.min(rank)));
                }
            }
            // Rows already read (the head's texts), reused for the results.
            let mut read: HashMap<MemoryId, Memory> = HashMap::new();
            let ranked = if ranking == Ranking::Full {
                // Borrowed from the index; owned when the database sent them.
                let mut vectors: HashMap<MemoryId, Cow<'_, [f32]>> = HashMap::new();
                let gap = Duration::minutes(CONVERSATION_GAP_MINUTES);
                if let Some(ix) = &index {
                    // The turns around the best dense hits join, so a reply
                    // that matches can bring up the message it answered.
                    let mut around: HashMap<MemoryId, Vec<MemoryId>> = HashMap::new();
                    for id in dense_order.iter().take(AROUND) {
                        around.insert(*id, ix.neighbours(*id, gap));
                    }
                    for ids in around.values() {
                        for id in ids {
                            let ok = ix.created_at(*id).is_some_and(|t| in_span(&f, t));
                            if ok && !cands.contains_key(id) {
                                cands.insert(*id, blank(*id));
                            }
                        }
                    }
                    let ids: Vec<MemoryId> = cands.keys().copied().collect();
                    let conversations = ix.conversations(&ids, gap);
                    for id in ids {
                        let neighbours =
                            around.remove(&id).unwrap_or_else(|| ix.neighbours(id, gap));
                        let Some(c) = cands.get_mut(&id) else {
                            continue;
                        };
                        c.created_at = ix.created_at(id).unwrap_or(c.created_at);
                        c.conversation = conversations.get(&id).copied();
                        if let (Some(v), Some(q)) = (ix.vector(id), qv) {
                            c.dense = Some(c.dense.unwrap_or_else(|| dot(q, v)));
                            vectors.insert(id, Cow::Borrowed(v));
                        }
                        if let Some(q) = qv {
                            c.context = neighbours
                                .iter()
                                .filter_map(|n| ix.vector(*n).map(|v| dot(q, v)))
                                .reduce(f32::max);
                        }
                    }
                } else {
                    let ids: Vec<MemoryId> = cands.keys().copied().collect();
                    for row in store.memory_vectors_of(MODEL_ID, &ids).await? {
                        if let Some(c) = cands.get_mut(&row.id) {
                            c.created_at = row.created_at;
                            if let Some(q) = qv {
                                c.dense = Some(c.dense.unwrap_or_else(|| dot(q, &row.vector)));
                            }
                        }
                        vectors.insert(row.id, Cow::Owned(row.vector));
                    }
                }
                fill_times(&mut cands, store).await?;
                let similar =
                    |a: MemoryId, b: MemoryId| Some(dot(vectors.get(&a)?, vectors.get(&b)?));
                // Rows are read for the head only (and what could still
                // reach it): whether a memory carries a date, says something
                // changed or is an assistant's reply, then the final order.
                let mut list: Vec<Candidate> = cands.into_values().collect();
                let ids = recall::within_reach(&list, &intent, k.max(HEAD));
                read = store
                    .get_memories(&ids)
                    .await?
                    .into_iter()
                    .map(|m| (m.id, m))
                    .collect();
                for c in &mut list {
                    if let Some(m) = read.get(&c.id) {
                        c.dated = recall::carries_date(&m.text);
                        c.updates = recall::says_change(&m.text);
                        c.by_assistant = m.metadata.as_deref().is_some_and(recall::by_assistant);
                    }
                }
                recall::rank(ranking, &list, &intent, k, &similar)
            } else {
                let list: Vec<Candidate> = cands.into_values().collect();
                recall::rank(ranking, &list, &intent, k, &|_, _| None)
            };
            out.push(Found {
                hits: self.hits(ranked, read).await?,
                warning: warning.clone(),
            });
        }
        Ok(out)
    }

    async fn hits(
        &self,
        ranked: Vec<(MemoryId, f32)>,
        mut by_id: HashMap<MemoryId, Memory>,
    ) -> Result<Vec<Hit>, AppError> {
        let missing: Vec<MemoryId> = ranked
            .iter()
            .map(|f| f.0)
            .filter(|id| !by_id.contains_key(id))
            .collect();
        if !missing.is_empty() {
            by_id.extend(
                self.store()
                    .get_memories(&missing)
                    .await?
                    .into_iter()
                    .map(|m| (m.id, m)),
            );
        }
        Ok(ranked
            .into_iter()
            .filter_map(|(id, score)| {
                by_id.get(&id).map(|m| Hit {
                    id,
                    external_id: m.external_id.clone(),
                    // Four decimals: the embedder's last bits vary between
                    // runs, and no ranking decision rests on them.
                    score: (score * 1e4).round() / 1e4,
                    text: m.text.clone(),
                    created_at: m.created_at,
                    source: m.source.clone(),
                })
            })
            .collect())
    }
}

/// A candidate known only by id (filled in by the caller).
fn blank(id: MemoryId) -> Candidate {
    Candidate {
        id,
        created_at: DateTime::<Utc>::UNIX_EPOCH,
        dense: None,
        words_rank: None,
        context: None,
        dated: false,
        updates: false,
        conversation: None,
        by_assistant: false,
    }
}

/// Reads the creation time of candidates that have none yet (found by
/// words only, or when the database searched the vectors).
async fn fill_times(
    cands: &mut HashMap<MemoryId, Candidate>,
    store: &dyn openzero_store::MemoryStore,
) -> Result<(), AppError> {
    let missing: Vec<MemoryId> = cands
        .values()
        .filter(|c| c.created_at == DateTime::<Utc>::UNIX_EPOCH)
        .map(|c| c.id)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    for m in store.get_memories(&missing).await? {
        if let Some(c) = cands.get_mut(&m.id) {
            c.created_at = m.created_at;
        }
    }
    Ok(())
}
