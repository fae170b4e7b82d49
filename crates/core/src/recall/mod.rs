//! How memory search ranks what it found: the plain rankings (dense only,
//! or dense and words fused by reciprocal rank) and the full one, which
//! also weighs the turns around a memory and how much of its conversation
//! the question found, whether it is the owner's words or an assistant's
//! reply, the period a question names, whether a "when" question's memory
//! carries a date, and which of two memories about the same thing is
//! newer — and collapses near-duplicates. Every weight here was kept only
//! because `openzero bench recall` said it helps (see docs/benchmarks.md).
//!
//! **Invariant:** pure: vectors, scores and times come in from adapters,
//! no clock reads and no I/O here.

pub mod period;

use std::cmp::Ordering;
use std::collections::HashMap;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use crate::memory::{MemoryId, RRF_K, fuse};
pub use period::{Period, named_period};

/// Which ranking a search uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ranking {
    /// Context, time, freshness and duplicates on top of the hybrid ranking.
    #[default]
    Full,
    /// Dense and full-text lists fused by reciprocal rank, nothing else.
    Hybrid,
    /// Cosine similarity alone.
    Dense,
}

impl FromStr for Ranking {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "full" => Ok(Self::Full),
            "hybrid" => Ok(Self::Hybrid),
            "dense" => Ok(Self::Dense),
            other => Err(format!(
                "unknown ranking '{other}': use full, hybrid or dense"
            )),
        }
    }
}

/// What a question asks for, beyond its words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Intent {
    /// The period it names ("last week", "in May"), in the owner's zone.
    pub period: Option<Period>,
    /// "When did …": the answer is a date, so memories that carry one help.
    pub asks_when: bool,
    /// "last time", "latest", "most recent": the newest relevant memory.
    pub wants_latest: bool,
}

/// Reads a question asked at `now` in the owner's zone `tz`.
pub fn intent(question: &str, now: DateTime<Utc>, tz: Tz) -> Intent {
    let q = question.to_lowercase();
    let words: Vec<&str> = q
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let has = |w: &str| words.contains(&w);
    let pair = |a: &str, b: &str| words.windows(2).any(|p| p[0] == a && p[1] == b);
    let asks_when = has("when")
        || pair("what", "date")
        || pair("what", "day")
        || pair("which", "day")
        || pair("how", "long");
    let wants_latest = has("latest")
        || pair("most", "recent")
        || pair("most", "recently")
        || pair("last", "time")
        || (asks_when && words.windows(3).any(|p| p[0] == "i" && p[1] == "last"))
        || pair("did", "last")
        || has("currently")
        || has("now");
    Intent {
        period: named_period(question, now, tz),
        asks_when,
        wants_latest,
    }
}

/// Cosine below which a neighbour lends a memory no context.
const CONTEXT_FLOOR: f32 = 0.2;

/// One memory found by either list, with what the full ranking weighs.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub id: MemoryId,
    pub created_at: DateTime<Utc>,
    /// Cosine similarity to the question (`None`: no vector, or no model).
    pub dense: Option<f32>,
    /// Place in the full-text list (0 = best), if there.
    pub words_rank: Option<usize>,
    /// Best cosine of the memories just before and after it in the same
    /// conversation (same source, close in time).
    pub context: Option<f32>,
    /// The text names a date or a time of day.
    pub dated: bool,
    /// The text says something changed ("changed my mind", "instead",
    /// "moved to"): an update of an older memory it resembles.
    pub updates: bool,
    /// Its conversation (any key shared by the candidates of one
    /// conversation), when known.
    pub conversation: Option<MemoryId>,
    /// An assistant's reply in an imported chat, not the owner's words
    /// (see [`by_assistant`]).
    pub by_assistant: bool,
}

/// The weights of the full ranking (see the module docs for how they were chosen).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights {
    /// Added for a full-text match at the top of the words list (falls off with rank).
    pub words: f32,
    /// Share of a neighbour's cosine lent to a memory.
    pub context: f32,
    /// Added for a memory inside the period the question names.
    pub period: f32,
    /// Added for a memory that carries a date, to "when" questions.
    pub dated: f32,
    /// Added to the newest relevant memory for "latest" questions (older ones get less).
    pub latest: f32,
    /// Cosine at or above which a newer memory is taken to update an older
    /// one about the same thing, and is lifted above it.
    pub same_subject: f32,
    /// Share of the best three cosines among the candidates of a memory's
    /// conversation (itself included) added to it: a conversation the
    /// question found several times over is about it.
    pub conversation: f32,
    /// Taken from an assistant's reply: the owner's own words carry the
    /// facts about them, a reply mostly advice that shares their words.
    pub assistant: f32,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            words: 0.08,
            context: 0.3,
            period: 0.35,
            dated: 0.05,
            latest: 0.1,
            same_subject: 0.9,
            conversation: 0.5,
            assistant: 0.08,
        }
    }
}

impl Weights {
    /// The defaults, or the weights named in `OPENZERO_RECALL_WEIGHTS`
    /// (`words=0.1,context=0.2,period=…,dated=…,latest=…,same=…,
    /// conversation=…,assistant=…`): the
    /// knob `openzero bench recall` is tuned with, read where the ranking
    /// runs (the search's own process).
    pub fn tuned() -> Self {
        static TUNED: std::sync::OnceLock<Weights> = std::sync::OnceLock::new();
        *TUNED.get_or_init(Self::from_env)
    }

    fn from_env() -> Self {
        let mut w = Self::default();
        if let Ok(spec) = std::env::var("OPENZERO_RECALL_WEIGHTS") {
            for kv in spec.split(',') {
                let Some((k, v)) = kv.split_once('=') else {
                    continue;
                };
                let Ok(v) = v.parse::<f32>() else { continue };
                match k {
                    "words" => w.words = v,
                    "context" => w.context = v,
                    "period" => w.period = v,
                    "dated" => w.dated = v,
                    "latest" => w.latest = v,
                    "same" => w.same_subject = v,
                    "conversation" => w.conversation = v,
                    "assistant" => w.assistant = v,
                    _ => {}
                }
            }
        }
        w
    }
}

/// The score of one candidate under the full ranking; `conversation` is
/// the sum of the best three cosines among the candidates of its
/// conversation.
fn full_score(
    c: &Candidate,
    intent: &Intent,
    w: &Weights,
    newest: Option<DateTime<Utc>>,
    oldest: Option<DateTime<Utc>>,
    conversation: f32,
) -> f32 {
    let dense = c.dense.unwrap_or(0.0);
    let words = c
        .words_rank
        .map_or(0.0, |r| w.words * (RRF_K + 1.0) / (RRF_K + r as f32 + 1.0));
    let context = c
        .context
        .filter(|x| *x > CONTEXT_FLOOR && *x > dense)
        .map_or(0.0, |x| w.context * (x - dense));
    let mut s = dense + words + context + w.conversation * conversation / 3.0;
    if c.by_assistant {
        s -= w.assistant;
    }
    if intent.period.is_some_and(|p| p.contains(c.created_at)) {
        s += w.period;
    }
    if intent.asks_when && c.dated {
        s += w.dated;
    }
    if intent.wants_latest
        && let (Some(new), Some(old)) = (newest, oldest)
    {
        let span = (new - old).num_seconds().max(1) as f32;
        let age = (new - c.created_at).num_seconds().max(0) as f32;
        s += w.latest * (1.0 - age / span);
    }
    s
}

/// Ranks candidates, best first, at most `k`. `similar(a, b)` gives the
/// cosine between two memories' vectors when both have one; the full
/// ranking uses it to keep only the best of near-duplicates.
pub fn rank(
    ranking: Ranking,
    candidates: &[Candidate],
    intent: &Intent,
    k: usize,
    similar: &dyn Fn(MemoryId, MemoryId) -> Option<f32>,
) -> Vec<(MemoryId, f32)> {
    rank_with(ranking, candidates, intent, k, similar, &Weights::tuned())
}

/// The candidates whose rows decide whether they reach the first `n`
/// of the full ranking: every one whose score, before what only the row
/// says (an assistant's reply, a date in the text), is within reach of
/// the `n`-th. Reading just these keeps the ranking the same as reading
/// them all.
pub fn within_reach(candidates: &[Candidate], intent: &Intent, n: usize) -> Vec<MemoryId> {
    let w = Weights::tuned();
    let found = conversations(candidates);
    let (newest, oldest) = span(candidates);
    let mut scored: Vec<(MemoryId, f32)> = candidates
        .iter()
        .map(|c| {
            let plain = Candidate {
                by_assistant: false,
                dated: false,
                ..c.clone()
            };
            let conv = conversation_of(c, &found);
            (c.id, full_score(&plain, intent, &w, newest, oldest, conv))
        })
        .collect();
    scored.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap_or(Ordering::Equal));
    let Some(nth) = scored.get(n.saturating_sub(1)).map(|x| x.1) else {
        return scored.into_iter().map(|x| x.0).collect();
    };
    let reach = w.assistant + if intent.asks_when { w.dated } else { 0.0 };
    scored
        .into_iter()
        .take_while(|x| x.1 >= nth - reach)
        .map(|x| x.0)
        .collect()
}

/// Cosine at or above which two memories say the same thing.
pub const DUPLICATE: f32 = 0.97;

/// [`rank`] with explicit weights (for the evaluation).
pub fn rank_with(
    ranking: Ranking,
    candidates: &[Candidate],
    intent: &Intent,
    k: usize,
    similar: &dyn Fn(MemoryId, MemoryId) -> Option<f32>,
    w: &Weights,
) -> Vec<(MemoryId, f32)> {
    let by_dense = || {
        let mut d: Vec<&Candidate> = candidates.iter().filter(|c| c.dense.is_some()).collect();
        d.sort_by(|a, b| {
            b.dense
                .partial_cmp(&a.dense)
                .unwrap_or(Ordering::Equal)
                .then(a.id.cmp(&b.id))
        });
        d
    };
    match ranking {
        Ranking::Dense => by_dense()
            .into_iter()
            .take(k)
            .map(|c| (c.id, c.dense.unwrap_or(0.0)))
            .collect(),
        Ranking::Hybrid => {
            let dense: Vec<MemoryId> = by_dense().iter().map(|c| c.id).collect();
            let mut words: Vec<&Candidate> = candidates
                .iter()
                .filter(|c| c.words_rank.is_some())
                .collect();
            words.sort_by_key(|c| c.words_rank);
            let words: Vec<MemoryId> = words.iter().map(|c| c.id).collect();
            fuse(&[&dense, &words], k)
        }
        Ranking::Full => {
            let (newest, oldest) = span(candidates);
            let found = conversations(candidates);
            let mut scored: Vec<(MemoryId, f32)> = candidates
                .iter()
                .map(|c| {
                    let conv = conversation_of(c, &found);
                    (c.id, full_score(c, intent, w, newest, oldest, conv))
                })
                .collect();
            scored.sort_by(|a, b| {
                b.1.partial_cmp(&a.1)
                    .unwrap_or(Ordering::Equal)
                    .then(a.0.cmp(&b.0))
            });
            newer_first(&mut scored, candidates, w.same_subject, similar);
            let mut kept: Vec<(MemoryId, f32)> = Vec::with_capacity(k);
            for (id, s) in scored {
                if kept.len() == k {
                    break;
                }
                if kept
                    .iter()
                    .any(|(other, _)| similar(*other, id).is_some_and(|x| x >= DUPLICATE))
                {
                    continue;
                }
                kept.push((id, s));
            }
            kept
        }
    }
}

/// The newest and oldest of the relevant candidates (for "latest" questions).
fn span(candidates: &[Candidate]) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let relevant = candidates
        .iter()
        .filter(|c| c.dense.unwrap_or(0.0) >= 0.3 || c.words_rank.is_some_and(|r| r < 10));
    let newest = relevant.clone().map(|c| c.created_at).max();
    (newest, relevant.map(|c| c.created_at).min())
}

/// The sum of the best three cosines of `c`'s conversation among the
/// candidates; a memory of no known conversation is one of its own.
fn conversation_of(c: &Candidate, found: &HashMap<MemoryId, f32>) -> f32 {
    c.conversation
        .and_then(|k| found.get(&k))
        .copied()
        .unwrap_or_else(|| c.dense.unwrap_or(0.0).max(0.0))
}

/// For each conversation among the candidates, the sum of its best three
/// cosines (negative ones count as none).
fn conversations(candidates: &[Candidate]) -> HashMap<MemoryId, f32> {
    let mut best: HashMap<MemoryId, [f32; 3]> = HashMap::new();
    for c in candidates {
        let (Some(k), Some(d)) = (c.conversation, c.dense) else {
            continue;
        };
        let top = best.entry(k).or_insert([0.0; 3]);
        // Kept in descending order: insert `d` where it belongs.
        let mut x = d.max(0.0);
        for slot in top.iter_mut() {
            if x > *slot {
                std::mem::swap(slot, &mut x);
            }
        }
    }
    best.into_iter().map(|(k, t)| (k, t.iter().sum())).collect()
}

/// Names an assistant in a memory's metadata (`speaker`, `role` or
/// `author`, as chat exports write them): "assistant", "ai", "bot",
/// "model", "system", "chatgpt", "claude", "z".
pub fn by_assistant(metadata: &str) -> bool {
    let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(metadata)
    else {
        return false;
    };
    ["speaker", "role", "author"].iter().any(|key| {
        m.get(*key).and_then(|v| v.as_str()).is_some_and(|who| {
            matches!(
                who.trim().to_lowercase().as_str(),
                "assistant" | "ai" | "bot" | "model" | "system" | "chatgpt" | "claude" | "z"
            )
        })
    })
}

/// Cosine at or above which a newer memory that says something changed is
/// taken to update an older one ("bought the Canyon" → "changed my mind:
/// the Cube instead" are about 0.5 apart in MiniLM).
const UPDATE_SIMILARITY: f32 = 0.45;

/// An update comes at least this long after what it updates: turns of
/// one conversation build on each other rather than replace each other.
const UPDATE_GAP_HOURS: i64 = 1;

/// Words by which a note says something changed.
const CHANGE_CUES: &[&str] = &[
    "changed",
    "instead",
    "anymore",
    "moved",
    "switched",
    "updated",
    "rescheduled",
    "postponed",
    "cancelled",
    "canceled",
    "new",
    "now",
    "went",
    "no longer",
];

/// True when a (short) text says something changed.
pub fn says_change(text: &str) -> bool {
    let head: String = text.chars().take(400).collect::<String>().to_lowercase();
    let words: Vec<&str> = head
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    CHANGE_CUES.iter().any(|cue| match cue.split_once(' ') {
        Some((a, b)) => words.windows(2).any(|p| p[0] == a && p[1] == b),
        None => words.contains(cue),
    })
}

/// Lifts a newer memory just above an older one it updates (both among
/// the first results, similar enough to be about the same thing); both
/// stay in the results.
fn newer_first(
    scored: &mut [(MemoryId, f32)],
    candidates: &[Candidate],
    same: f32,
    similar: &dyn Fn(MemoryId, MemoryId) -> Option<f32>,
) {
    const HEAD: usize = 20;
    let find = |id: MemoryId| candidates.iter().find(|c| c.id == id);
    let head = scored.len().min(HEAD);
    // Lifts are decided on the scores as they were, so a run of similar
    // memories is not reversed wholesale.
    let before: Vec<(MemoryId, f32)> = scored[..head].to_vec();
    for (j, newer) in before.iter().enumerate() {
        let Some(n) = find(newer.0) else { continue };
        let floor = if n.updates { UPDATE_SIMILARITY } else { same };
        let lift = before[..j]
            .iter()
            .filter(|older| {
                find(older.0).is_some_and(|o| {
                    n.created_at - o.created_at >= Duration::hours(UPDATE_GAP_HOURS)
                }) && similar(older.0, newer.0).is_some_and(|x| x >= floor)
            })
            .map(|older| older.1 + 1e-4)
            .reduce(f32::max);
        if let Some(l) = lift {
            scored[j].1 = scored[j].1.max(l);
        }
    }
    scored.sort_by(|a, b| {
        b.1.partial_cmp(&a.1)
            .unwrap_or(Ordering::Equal)
            .then(a.0.cmp(&b.0))
    });
}

/// True when a text names a date or a time of day: "12 May", "2026-05-12",
/// "on Tuesday", "at 9:30", "tomorrow".
pub fn carries_date(text: &str) -> bool {
    use crate::when::parse;
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric() && c != ':' && c != '-')
        .map(|w| w.trim_matches(|c: char| c == ':' || c == '-'))
        .filter(|w| !w.is_empty())
        .collect();
    let day_beside = |i: usize| {
        let before = i.checked_sub(1).and_then(|b| words.get(b));
        [before, words.get(i + 1)]
            .into_iter()
            .flatten()
            .any(|w| period::day_of(w).is_some())
    };
    words.iter().enumerate().any(|(i, w)| {
        (parse::month(w).is_some() && day_beside(i))
            || chrono::NaiveDate::parse_from_str(w, "%Y-%m-%d").is_ok()
            // Weekdays written out ("sun" and "sat" are words too).
            || (parse::weekday(w).is_some() && w.ends_with("day"))
            || matches!(*w, "yesterday" | "today" | "tomorrow" | "tonight")
            || clock_time(w)
    })
}

/// "9:30", "14:00": hours and minutes of a day.
fn clock_time(w: &str) -> bool {
    let Some((h, m)) = w.split_once(':') else {
        return false;
    };
    let hour = h.len() <= 2 && h.parse::<u32>().is_ok_and(|h| h < 24);
    let minute = m.len() == 2 && m.parse::<u32>().is_ok_and(|m| m < 60);
    hour && minute
}

#[cfg(test)]
mod tests;
