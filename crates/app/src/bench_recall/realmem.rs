//! RealMem (zhiyuan5986/RealMemBench): one JSON file per simulated user,
//! dated sessions of chat turns; query turns name, in the assistant turn
//! after them, the earlier memory points they needed. Read at run time
//! from the fixtures, never copied.
//!
//! Each turn becomes one memory (external id `<session>:<turn>`), on a
//! timeline that follows the file's order (the README of the corpus: dates
//! sometimes step back between interleaved projects): a session starts at
//! 09:00 UTC of its day or an hour after the previous one ended, turns a
//! minute apart. A question is asked when its session starts, so its own
//! session is not searched. Its evidence is the turns the cited memory
//! points were written from (matched on the snapshot text, else the turn
//! number).

use std::collections::HashSet;
use std::path::Path;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::Value;

use super::{Probe, Set};
use crate::AppError;
use crate::memory::Line;

/// Reads one RealMem file, keeping at most `sessions` sessions (0: all).
pub fn read(path: &Path, sessions: usize) -> Result<Set, AppError> {
    let bad = |why: &str| AppError::Invalid(format!("{}: {why}", path.display()));
    let text = std::fs::read_to_string(path)
        .map_err(|e| AppError::Invalid(format!("cannot read {}: {e}", path.display())))?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| bad(&format!("not JSON: {e}")))?;
    let dialogues = doc["dialogues"]
        .as_array()
        .ok_or_else(|| bad("no 'dialogues' list"))?;
    let limit = if sessions == 0 {
        dialogues.len()
    } else {
        sessions.min(dialogues.len())
    };
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("realmem")
        .trim_end_matches("_dialogues_256k")
        .to_owned();
    let mut memories = Vec::new();
    let mut probes = Vec::new();
    let mut last_end: Option<DateTime<Utc>> = None;
    let mut kept_sessions: HashSet<String> = HashSet::new();
    for d in &dialogues[..limit] {
        let uuid = d["session_uuid"].as_str().unwrap_or_default().to_owned();
        let day = d["current_time"]
            .as_str()
            .and_then(|s| s.get(..10))
            .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok());
        let Some(nine) = day
            .and_then(|d| d.and_hms_opt(9, 0, 0))
            .map(|t| t.and_utc())
        else {
            continue;
        };
        let start = match last_end {
            Some(end) if end + Duration::hours(1) > nine => end + Duration::hours(1),
            _ => nine,
        };
        let turns: &[Value] = d["dialogue_turns"].as_array().map_or(&[], Vec::as_slice);
        for (j, t) in turns.iter().enumerate() {
            let at = start + Duration::minutes(j as i64);
            last_end = Some(at);
            let content = t["content"].as_str().unwrap_or_default();
            if content.trim().is_empty() {
                continue;
            }
            memories.push(Line {
                id: Some(format!("{uuid}:{j}")),
                text: content.to_owned(),
                created_at: Some(at),
                source: Some("chat".into()),
                metadata: Some(serde_json::json!({
                    "session": uuid,
                    "speaker": t["speaker"].as_str().unwrap_or_default(),
                })),
            });
            if t["is_query"].as_bool() != Some(true) {
                continue;
            }
            let Some(answer) = turns.get(j + 1) else {
                continue;
            };
            let evidence = evidence_of(dialogues, answer);
            // Evidence outside the kept sessions cannot be found: such a
            // question is left out rather than counted as a miss.
            if evidence.is_empty()
                || evidence
                    .iter()
                    .any(|e| !kept_sessions.contains(e.split(':').next().unwrap_or_default()))
            {
                continue;
            }
            probes.push(Probe {
                id: t["query_id"].as_str().unwrap_or_default().to_owned(),
                text: content.to_owned(),
                at: start,
                kind: t["category_name"]
                    .as_str()
                    .unwrap_or("Unlabelled")
                    .to_owned(),
                evidence,
            });
        }
        kept_sessions.insert(uuid);
    }
    Ok(Set {
        name,
        zone: "UTC".into(),
        memories,
        probes,
    })
}

/// The turns (as `<session>:<turn>`) the memory points cited by an
/// assistant turn were written from.
fn evidence_of(dialogues: &[Value], answer: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for used in answer["memory_used"].as_array().into_iter().flatten() {
        let (Some(session), Some(content)) =
            (used["session_uuid"].as_str(), used["content"].as_str())
        else {
            continue;
        };
        let Some(d) = dialogues
            .iter()
            .find(|d| d["session_uuid"].as_str() == Some(session))
        else {
            continue;
        };
        let Some(point) = d["extracted_memory"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["content"].as_str() == Some(content))
        else {
            continue;
        };
        let turns: &[Value] = d["dialogue_turns"].as_array().map_or(&[], Vec::as_slice);
        let snapshot = point["source_content_snapshot"]
            .as_str()
            .unwrap_or_default()
            .trim();
        let by_text = turns.iter().position(|t| {
            let c = t["content"].as_str().unwrap_or_default().trim();
            !snapshot.is_empty() && (c == snapshot || (snapshot.len() > 40 && c.contains(snapshot)))
        });
        let by_number = point["source_turn"]
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .and_then(|n| n.checked_sub(1))
            .filter(|n| *n < turns.len());
        if let Some(j) = by_text.or(by_number) {
            let id = format!("{session}:{j}");
            if !out.contains(&id) {
                out.push(id);
            }
        }
    }
    out
}
