//! The memory-hygiene port's conformance cases (part of [`crate::testsuite`]):
//! merges hide their members from every search path and come back exactly.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use chrono::{TimeZone, Utc};
use openzero_core::memory::{Filters, Memory, MemoryId, Source, query_terms};

use crate::memory_hygiene::{MergeInto, MergeKind, NewMerge};
use crate::{Embedding, MemoryRecord, Store};

fn rec(text: &str, day: u32, v: &[f32]) -> MemoryRecord {
    MemoryRecord {
        text: text.to_owned(),
        created_at: Utc.with_ymd_and_hms(2026, 3, day, 9, 0, 0).unwrap(),
        source: Source::new("cli").unwrap(),
        external_id: None,
        metadata: None,
        embedding: Some(Embedding {
            model: "m".into(),
            vector: v.to_vec(),
        }),
    }
}

async fn add(s: &dyn Store, text: &str, day: u32, v: &[f32]) -> Memory {
    s.add_memory(&rec(text, day, v)).await.unwrap().0
}

/// Every id the searches can return for `words` (full text), the vectors
/// of model `m` and the day listing: what the owner can still find.
async fn findable(s: &dyn Store, words: &str) -> (Vec<MemoryId>, Vec<MemoryId>, Vec<MemoryId>) {
    let mut text = s
        .text_search(&query_terms(words), &Filters::default(), 50)
        .await
        .unwrap();
    text.sort_unstable();
    let mut vectors: Vec<MemoryId> = s
        .memory_vectors("m", 0, 100)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    let all: Vec<MemoryId> = s
        .list_memories(0, 100)
        .await
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect();
    let of = s.memory_vectors_of("m", &all).await.unwrap();
    assert_eq!(
        of.iter().map(|r| r.id).collect::<Vec<_>>().len(),
        vectors.len(),
        "memory_vectors_of hides what memory_vectors hides"
    );
    vectors.sort_unstable();
    let mut day: Vec<MemoryId> = s
        .memories_between(
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap(),
            100,
        )
        .await
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect();
    day.sort_unstable();
    (text, vectors, day)
}

pub async fn memory_merges_hide_and_undo_exactly(s: &dyn Store) {
    let a = add(s, "sister Anna moves to Lisbon in June", 1, &[1.0, 0.0]).await;
    let b = add(s, "my sister Anna moves to Lisbon in June", 2, &[0.99, 0.1]).await;
    let c = add(s, "bike needs new brakes", 3, &[0.0, 1.0]).await;
    let at = Utc.with_ymd_and_hms(2026, 3, 10, 8, 0, 0).unwrap();
    let before = findable(s, "Anna Lisbon bike").await;
    assert_eq!(before.0, vec![a.id, b.id, c.id]);
    let changes = s.memory_changes(0).await.unwrap().last;

    let merge = s
        .merge_memories(&NewMerge {
            kind: MergeKind::Duplicates,
            into: MergeInto::Existing(b.id),
            members: vec![a.id],
            method: "kept the newest".into(),
            at,
        })
        .await
        .unwrap()
        .expect("merged");
    assert_eq!(
        (merge.kind, merge.into_id, merge.members.clone()),
        (MergeKind::Duplicates, b.id, vec![a.id])
    );
    let hidden = findable(s, "Anna Lisbon bike").await;
    assert_eq!(hidden.0, vec![b.id, c.id], "full text");
    assert_eq!(hidden.1, vec![b.id, c.id], "vectors");
    assert_eq!(hidden.2, vec![b.id, c.id], "listing by time");
    if let Some(dense) = s
        .dense_search("m", &[1.0, 0.0], 10, -1.0, &Filters::default())
        .await
        .unwrap()
    {
        assert!(!dense.iter().any(|(id, _)| *id == a.id), "dense search");
    }
    // The change log tells in-process indexes about the hidden memory.
    assert!(s.memory_changes(changes).await.unwrap().ids.contains(&a.id));
    // Still stored, still readable by id; stats count it as merged.
    assert_eq!(s.get_memories(&[a.id]).await.unwrap(), vec![a.clone()]);
    let st = s.memory_stats("m").await.unwrap();
    assert_eq!((st.total, st.merged, st.unreviewed), (3, 1, 1));
    assert_eq!(s.memory_merges(10).await.unwrap(), vec![merge.clone()]);
    // A hidden memory cannot be merged again; nothing changes.
    let again = s
        .merge_memories(&NewMerge {
            kind: MergeKind::Duplicates,
            into: MergeInto::Existing(c.id),
            members: vec![a.id],
            method: "x".into(),
            at,
        })
        .await
        .unwrap();
    assert_eq!(again, None);
    assert_eq!(s.memory_merges(10).await.unwrap().len(), 1);

    let undone = s.unmerge_memories(merge.id).await.unwrap();
    assert_eq!(undone, Some(merge.clone()));
    assert_eq!(findable(s, "Anna Lisbon bike").await, before);
    assert_eq!(s.get_memories(&[a.id]).await.unwrap(), vec![a.clone()]);
    assert_eq!(s.unmerge_memories(merge.id).await.unwrap(), None);
    assert!(s.memory_merges(10).await.unwrap().is_empty());
    assert_eq!(s.memory_stats("m").await.unwrap().merged, 0);
}

pub async fn memory_summaries_are_written_and_undone(s: &dyn Store) {
    let a = add(s, "tea: oolong", 1, &[1.0, 0.0]).await;
    let b = add(s, "tea: sencha", 2, &[0.9, 0.1]).await;
    let c = add(s, "tea: assam", 3, &[0.8, 0.2]).await;
    let at = Utc.with_ymd_and_hms(2026, 3, 10, 8, 0, 0).unwrap();
    let mut summary = rec("Teas: oolong, sencha, assam.", 3, &[0.9, 0.1]);
    summary.source = Source::new("consolidate").unwrap();
    let merge = s
        .merge_memories(&NewMerge {
            kind: MergeKind::Summary,
            into: MergeInto::New(summary.clone()),
            members: vec![c.id, a.id, b.id],
            method: "texts joined".into(),
            at,
        })
        .await
        .unwrap()
        .expect("merged");
    assert_eq!(merge.members, vec![a.id, b.id, c.id], "in id order");
    let (text, vectors, _) = findable(s, "oolong sencha assam").await;
    assert_eq!(text, vec![merge.into_id]);
    assert_eq!(vectors, vec![merge.into_id]);
    let written = &s.get_memories(&[merge.into_id]).await.unwrap()[0];
    assert_eq!(
        (written.text.as_str(), written.source.as_str()),
        ("Teas: oolong, sencha, assam.", "consolidate")
    );
    // The members and the summary count as reviewed.
    assert_eq!(s.memory_stats("m").await.unwrap().unreviewed, 0);

    s.unmerge_memories(merge.id).await.unwrap().expect("undone");
    assert!(
        s.get_memories(&[merge.into_id]).await.unwrap().is_empty(),
        "the summary goes with its merge"
    );
    let (text, vectors, _) = findable(s, "oolong sencha assam").await;
    assert_eq!(text, vec![a.id, b.id, c.id]);
    assert_eq!(vectors, vec![a.id, b.id, c.id]);

    // Forgetting the memory a merge stands behind undoes the merge: its
    // members come back to every search; nothing is deleted but what was named.
    let m2 = s
        .merge_memories(&NewMerge {
            kind: MergeKind::Summary,
            into: MergeInto::New(summary),
            members: vec![a.id, b.id, c.id],
            method: "texts joined".into(),
            at,
        })
        .await
        .unwrap()
        .expect("merged again");
    // Forgetting a hidden member deletes it (and only it).
    assert!(s.forget_memory(a.id).await.unwrap());
    assert_eq!(
        s.memory_merges(1).await.unwrap()[0].members,
        vec![b.id, c.id]
    );
    assert!(s.forget_memory(m2.into_id).await.unwrap());
    assert!(s.memory_merges(10).await.unwrap().is_empty());
    let (text, vectors, _) = findable(s, "oolong sencha assam").await;
    assert_eq!(text, vec![b.id, c.id]);
    assert_eq!(vectors, vec![b.id, c.id]);
}

pub async fn memory_review_marks_are_kept(s: &dyn Store) {
    let a = add(s, "first", 1, &[1.0]).await;
    let b = add(s, "second", 2, &[1.0]).await;
    let c = add(s, "third", 3, &[1.0]).await;
    let ids = |v: Vec<Memory>| v.iter().map(|m| m.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.unreviewed_memories(10).await.unwrap()),
        vec![a.id, b.id, c.id],
        "oldest first"
    );
    assert_eq!(ids(s.unreviewed_memories(1).await.unwrap()), vec![a.id]);
    let at = Utc.with_ymd_and_hms(2026, 3, 10, 8, 0, 0).unwrap();
    s.mark_memories_reviewed(&[a.id, c.id, 9999], at)
        .await
        .unwrap();
    assert_eq!(ids(s.unreviewed_memories(10).await.unwrap()), vec![b.id]);
    let mut reviewed = s.reviewed_memories(&[a.id, b.id, c.id]).await.unwrap();
    reviewed.sort_unstable();
    assert_eq!(reviewed, vec![a.id, c.id]);
    assert_eq!(s.memory_stats("m").await.unwrap().unreviewed, 1);
    // A large batch is marked in chunks.
    let many: Vec<MemoryId> = (1..=1_200).collect();
    s.mark_memories_reviewed(&many, at).await.unwrap();
    assert!(s.unreviewed_memories(10).await.unwrap().is_empty());
}
