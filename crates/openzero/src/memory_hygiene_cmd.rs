//! `openzero memory consolidate` and `memory stats`: proposals to merge
//! near-duplicates and summarise small memories, the merges in place, and
//! the counts with what consolidate has not looked at yet.

use std::process::ExitCode;

use anyhow::Result;
use openzero_app::Services;
use openzero_app::memory_consolidate::{self as mc, Plan};
use openzero_core::memory::Memory;
use openzero_core::memory_hygiene::ProposalKind;
use openzero_store::memory_hygiene::{MergeKind, MergeRecord};

/// Oldest unreviewed memories `memory stats` shows.
const OLDEST: i64 = 5;

fn line(m: &Memory, tz: chrono_tz::Tz) -> String {
    let when = m.created_at.with_timezone(&tz).format("%Y-%m-%d");
    let text = m.text.replace('\n', " ");
    let short: String = text.chars().take(100).collect();
    let more = if short.len() < text.len() { "…" } else { "" };
    format!("#{:<5} {when} {:<9} {short}{more}", m.id, m.source.as_str())
}

fn memory_json(m: &Memory) -> serde_json::Value {
    serde_json::json!({
        "id": m.id,
        "text": m.text,
        "created_at": m.created_at,
        "source": m.source,
    })
}

fn plan_json(plan: &Plan) -> serde_json::Value {
    let proposals: Vec<_> = plan
        .proposals
        .iter()
        .map(|p| {
            serde_json::json!({
                "id": p.id,
                "kind": p.kind,
                "keep": p.keep,
                "min_similarity": p.min_similarity,
                "members": p.members.iter().filter_map(|id| plan.memories.get(id)).map(memory_json).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::json!({
        "proposals": proposals,
        "looked_at": plan.looked_at,
        "more": plan.more,
        "not_embedded": plan.not_embedded,
    })
}

fn print_plan(plan: &Plan, tz: chrono_tz::Tz) {
    if plan.proposals.is_empty() {
        outln!(
            "Nothing to merge: no near-duplicates or clusters of small memories ({} looked at).",
            plan.looked_at
        );
    }
    for p in &plan.proposals {
        match p.kind {
            ProposalKind::Duplicates => outln!(
                "{}  near-duplicates (similarity ≥ {:.2}): keep #{}, hide the others behind it",
                p.id,
                p.min_similarity,
                p.keep.unwrap_or_default()
            ),
            ProposalKind::Cluster => outln!(
                "{}  {} small memories on one subject (similarity ≥ {:.2}): summarise into one",
                p.id,
                p.members.len(),
                p.min_similarity
            ),
        }
        for id in &p.members {
            if let Some(m) = plan.memories.get(id) {
                let mark = if p.keep == Some(*id) { "keep" } else { "    " };
                outln!("  {mark} {}", line(m, tz));
            }
        }
    }
    if !plan.proposals.is_empty() {
        outln!(
            "\nApply with `openzero memory consolidate --apply ID` (or --apply for all); originals are kept and --undo restores them."
        );
    }
    if plan.more {
        outln!(
            "Looked at the oldest {} unreviewed memories; run again for the rest.",
            plan.looked_at
        );
    }
    if plan.not_embedded > 0 {
        outln!(
            "{} memories have no vector yet and were not compared: run `openzero memory reindex`.",
            plan.not_embedded
        );
    }
}

fn merge_line(m: &MergeRecord) -> String {
    let members = m
        .members
        .iter()
        .map(|id| format!("#{id}"))
        .collect::<Vec<_>>()
        .join(", ");
    match m.kind {
        MergeKind::Duplicates => format!(
            "merge #{}: {members} hidden behind #{} ({})",
            m.id, m.into_id, m.method
        ),
        MergeKind::Summary => format!(
            "merge #{}: {members} summarised as #{} ({})",
            m.id, m.into_id, m.method
        ),
    }
}

pub async fn consolidate(
    services: &Services,
    apply: Option<String>,
    undo: Option<i64>,
    merges: bool,
    json: bool,
) -> Result<ExitCode> {
    let tz = services.tz();
    if let Some(id) = undo {
        let m = mc::undo(services, id).await?;
        if json {
            outln!("{}", serde_json::to_string_pretty(&m)?);
        } else {
            let what = match m.kind {
                MergeKind::Duplicates => format!("#{} stays as it was", m.into_id),
                MergeKind::Summary => format!("the summary #{} is deleted", m.into_id),
            };
            let back = m
                .members
                .iter()
                .map(|id| format!("#{id}"))
                .collect::<Vec<_>>()
                .join(", ");
            outln!("Undid merge #{}: {back} are back in search; {what}.", m.id);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if merges {
        let all = services.store.memory_merges(1_000).await?;
        if json {
            outln!("{}", serde_json::to_string_pretty(&all)?);
        } else if all.is_empty() {
            outln!("No merges in place.");
        } else {
            for m in &all {
                let when = m.created_at.with_timezone(&tz).format("%Y-%m-%d %H:%M");
                outln!("{when}  {}", merge_line(m));
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    // Listing counts as looking: memories with nothing to propose are reviewed.
    let plan = mc::plan(services, true).await?;
    let Some(which) = apply else {
        if json {
            outln!("{}", serde_json::to_string_pretty(&plan_json(&plan))?);
        } else {
            print_plan(&plan, tz);
        }
        return Ok(ExitCode::SUCCESS);
    };
    let only = (which != "all").then_some(which.as_str());
    let applied = mc::apply(services, &plan, only).await?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&applied)?);
    } else if applied.is_empty() {
        outln!("Nothing to apply.");
    } else {
        for a in &applied {
            match (&a.merge, &a.skipped) {
                (Some(m), _) => outln!("{}  applied: {}", a.proposal, merge_line(m)),
                (None, why) => outln!(
                    "{}  skipped: {}",
                    a.proposal,
                    why.as_deref().unwrap_or("nothing changed")
                ),
            }
        }
        outln!("Undo one with `openzero memory consolidate --undo MERGE`.");
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn stats(services: &Services, json: bool) -> Result<ExitCode> {
    let tz = services.tz();
    // Counts only: the embedding model is not loaded.
    let st = services
        .store
        .memory_stats(openzero_embed::MODEL_ID)
        .await?;
    // What consolidate would propose now; looking here marks nothing.
    let plan = mc::plan(services, false).await?;
    let dup_groups = plan.count(ProposalKind::Duplicates);
    let dup_memories: usize = plan
        .proposals
        .iter()
        .filter(|p| p.kind == ProposalKind::Duplicates)
        .map(|p| p.members.len())
        .sum();
    let clusters = plan.count(ProposalKind::Cluster);
    let oldest = services.store.unreviewed_memories(OLDEST).await?;
    if json {
        let by: serde_json::Map<String, serde_json::Value> = st
            .by_source
            .iter()
            .map(|(s, n)| (s.clone(), (*n).into()))
            .collect();
        outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "total": st.total,
                "embedded": st.embedded,
                "backlog": st.backlog,
                "model": openzero_embed::MODEL_ID,
                "by_source": by,
                "merged": st.merged,
                "duplicates": {"groups": dup_groups, "memories": dup_memories},
                "clusters": clusters,
                "unreviewed": st.unreviewed,
                "oldest_unreviewed": oldest.iter().map(memory_json).collect::<Vec<_>>(),
            }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    outln!("memories:  {}", st.total);
    outln!("embedded:  {} ({})", st.embedded, openzero_embed::MODEL_ID);
    outln!("backlog:   {} waiting to be embedded", st.backlog);
    for (s, n) in &st.by_source {
        outln!("  {s:<12} {n}");
    }
    outln!(
        "merged:    {} hidden behind a merge (kept for undo)",
        st.merged
    );
    outln!(
        "duplicates: {dup_groups} near-duplicate groups ({dup_memories} memories), {clusters} clusters of small memories"
    );
    outln!(
        "unreviewed: {} not looked at by consolidate yet, or waiting on a proposal",
        st.unreviewed
    );
    for m in &oldest {
        outln!("  {}", line(m, tz));
    }
    if st.backlog > 0 {
        outln!("\nRun `openzero memory reindex` to embed the backlog.");
    }
    if dup_groups + clusters > 0 {
        outln!("\nRun `openzero memory consolidate` to review the proposals.");
    }
    Ok(ExitCode::SUCCESS)
}
