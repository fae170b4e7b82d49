//! The conformance suite every storage adapter runs, so SQLite and
//! PostgreSQL behave the same. Adapters call [`store_suite!`](crate::store_suite)
//! from their tests with an async factory returning a fresh, empty store.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use chrono::{Duration, TimeZone, Utc};
use openzero_core::{Domain, NewProject, Priority, Progress, ProjectPatch, Status};

pub use crate::backup_testsuite::*;
pub use crate::board_testsuite::*;
pub use crate::calendar_testsuite::*;
pub use crate::dashboard_testsuite::*;
pub use crate::finance_testsuite::*;
pub use crate::mail_testsuite::*;
pub use crate::memory_hygiene_testsuite::*;
pub use crate::news_testsuite::*;
pub use crate::training_testsuite::*;
use crate::{Embedding, MemoryRecord, Store, StoreError};
use openzero_core::memory::{Filters, Source};

/// Generates one `#[tokio::test]` per conformance case. `$make` is an
/// expression of type `impl Future<Output = Option<Box<dyn Store>>>`;
/// `None` means the backend is not available on this machine (the factory
/// itself decides whether that is allowed, e.g. never in CI).
#[macro_export]
macro_rules! store_suite {
    ($make:expr) => {
        $crate::store_suite!(@cases $make;
            empty_store_has_no_projects,
            create_and_get_round_trip,
            unicode_and_long_names_round_trip,
            update_changes_only_given_fields,
            update_missing_project_is_not_found,
            remove_moves_children_to_grandparent,
            remove_root_makes_children_roots,
            remove_missing_project_is_not_found,
            mark_reviewed_is_stored,
            preferences_set_get_overwrite_list,
            schema_is_migrated,
            ids_are_never_reused_after_remove,
            memory_round_trip_and_dedupe,
            memory_text_search_ranks_and_filters,
            memory_vectors_never_mix_models,
            memory_vectors_page_in_id_order,
            memory_batches_keep_order_and_dedupe,
            memory_changes_track_every_write,
            memory_changes_report_pruned_gaps,
            memory_dense_search_is_exact_when_offered,
            memory_forget_removes_everywhere,
            memory_stats_and_listing,
            memories_between_a_day_newest_first,
            memory_merges_hide_and_undo_exactly,
            memory_summaries_are_written_and_undone,
            memory_review_marks_are_kept,
            conversations_keep_order_per_channel,
            summaries_cover_turns_up_to_a_point,
            inbox_events_are_handled_once_and_replies_queued,
            job_slots_are_claimed_once_and_pauses_kept,
            thoughts_round_trip_and_decide_once,
            thoughts_expire_and_race,
            disclosures_are_logged_newest_first,
            mail_is_kept_once_with_its_watermark,
            mail_list_filters_and_searches,
            mail_rules_keep_their_order,
            outbox_keys_queue_once,
            calendar_sources_calendars_and_objects_round_trip,
            calendar_snapshots_keep_the_latest_look,
            boards_come_with_the_seed_structure,
            boards_and_lists_are_edited,
            cards_are_added_moved_done_and_listed,
            sync_links_are_one_per_record_and_the_stamp_moves,
            news_feeds_items_and_fetch_state,
            finance_imports_dedupe_undo_rules_and_budgets,
            dashboard_sessions_links_lockout_and_audit,
            memory_uses_are_kept_and_go_with_the_memory,
            activities_are_kept_once_newest_first,
            a_dump_is_one_snapshot_in_dependency_order
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let Some(store) = $make.await else { return };
                $crate::testsuite::$case(&*store).await;
                store.close().await;
            }
        )*
    };
}

fn named(name: &str) -> NewProject {
    NewProject::new(name).unwrap()
}

pub async fn empty_store_has_no_projects(s: &dyn Store) {
    assert!(s.list_projects().await.unwrap().is_empty());
    assert!(s.get_project(1).await.unwrap().is_none());
    s.ping().await.unwrap();
}

pub async fn create_and_get_round_trip(s: &dyn Store) {
    let before = Utc::now() - Duration::seconds(1);
    let parent = s.create_project(&named("Career")).await.unwrap();
    let mut child = named("Job Applications");
    child.parent_id = Some(parent.id);
    child.status = Status::Paused;
    child.priority = Priority::try_from(1).unwrap();
    child.domain = Domain::Career;
    child.progress = Progress::try_from(20).unwrap();
    child.description = Some("three a week".into());
    let c = s.create_project(&child).await.unwrap();

    assert_ne!(parent.id, c.id);
    assert_eq!(c.name, "Job Applications");
    assert_eq!(c.parent_id, Some(parent.id));
    assert_eq!(c.status, Status::Paused);
    assert_eq!(c.priority.get(), 1);
    assert_eq!(c.domain, Domain::Career);
    assert_eq!(c.progress.get(), 20);
    assert_eq!(c.description.as_deref(), Some("three a week"));
    assert!(c.created_at >= before && c.created_at <= Utc::now() + Duration::seconds(1));
    assert_eq!(c.last_reviewed_at, None);

    let got = s.get_project(c.id).await.unwrap().unwrap();
    assert_eq!(got, c, "what was stored is what comes back");
    let all = s.list_projects().await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.contains(&c) && all.contains(&parent));
}

pub async fn unicode_and_long_names_round_trip(s: &dyn Store) {
    let names = [
        "Umzug nach München 🏠",
        "家族",
        "O'Brien \"quotes\"; DROP TABLE projects; --",
    ];
    for n in names {
        s.create_project(&named(n)).await.unwrap();
    }
    let long = "ü".repeat(200);
    s.create_project(&named(&long)).await.unwrap();
    let got: Vec<String> = s
        .list_projects()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    for n in names {
        assert!(got.iter().any(|g| g == n), "{n} missing from {got:?}");
    }
    assert!(got.contains(&long));
}

pub async fn update_changes_only_given_fields(s: &dyn Store) {
    let a = s.create_project(&named("A")).await.unwrap();
    let mut bn = named("B");
    bn.parent_id = Some(a.id);
    bn.description = Some("desc".into());
    let b = s.create_project(&bn).await.unwrap();

    let patch = ProjectPatch {
        progress: Some(Progress::try_from(75).unwrap()),
        status: Some(Status::Completed),
        ..Default::default()
    };
    let b2 = s.update_project(b.id, &patch).await.unwrap();
    assert_eq!(b2.progress.get(), 75);
    assert_eq!(b2.status, Status::Completed);
    assert_eq!(b2.name, "B");
    assert_eq!(b2.parent_id, Some(a.id));
    assert_eq!(b2.description.as_deref(), Some("desc"));
    assert!(b2.updated_at >= b.updated_at);
    assert_eq!(b2.created_at, b.created_at);

    let patch = ProjectPatch {
        name: Some("B renamed".into()),
        parent_id: Some(None),
        description: Some(None),
        domain: Some(Domain::Finance),
        priority: Some(Priority::try_from(5).unwrap()),
        ..Default::default()
    };
    let b3 = s.update_project(b.id, &patch).await.unwrap();
    assert_eq!(b3.name, "B renamed");
    assert_eq!(b3.parent_id, None);
    assert_eq!(b3.description, None);
    assert_eq!(b3.domain, Domain::Finance);
    assert_eq!(b3.priority.get(), 5);
    assert_eq!(s.get_project(b.id).await.unwrap().unwrap(), b3);
}

pub async fn update_missing_project_is_not_found(s: &dyn Store) {
    let patch = ProjectPatch {
        name: Some("x".into()),
        ..Default::default()
    };
    let err = s.update_project(4242, &patch).await.unwrap_err();
    assert!(
        matches!(err, StoreError::ProjectNotFound(4242)),
        "got {err:?}"
    );
}

pub async fn remove_moves_children_to_grandparent(s: &dyn Store) {
    let root = s.create_project(&named("Root")).await.unwrap();
    let mut mid = named("Mid");
    mid.parent_id = Some(root.id);
    let mid = s.create_project(&mid).await.unwrap();
    let mut leaves = Vec::new();
    for n in ["Leaf 1", "Leaf 2"] {
        let mut l = named(n);
        l.parent_id = Some(mid.id);
        leaves.push(s.create_project(&l).await.unwrap());
    }
    let removed = s.remove_project(mid.id).await.unwrap();
    assert_eq!(removed.project.id, mid.id);
    assert_eq!(removed.children_moved, 2);
    assert!(s.get_project(mid.id).await.unwrap().is_none());
    for l in leaves {
        let l = s.get_project(l.id).await.unwrap().unwrap();
        assert_eq!(l.parent_id, Some(root.id), "{} moved up", l.name);
    }
    assert_eq!(s.list_projects().await.unwrap().len(), 3);
}

pub async fn remove_root_makes_children_roots(s: &dyn Store) {
    let root = s.create_project(&named("Root")).await.unwrap();
    let mut c = named("Child");
    c.parent_id = Some(root.id);
    let c = s.create_project(&c).await.unwrap();
    let removed = s.remove_project(root.id).await.unwrap();
    assert_eq!(removed.children_moved, 1);
    assert_eq!(s.get_project(c.id).await.unwrap().unwrap().parent_id, None);
}

pub async fn remove_missing_project_is_not_found(s: &dyn Store) {
    let err = s.remove_project(999).await.unwrap_err();
    assert!(
        matches!(err, StoreError::ProjectNotFound(999)),
        "got {err:?}"
    );
}

pub async fn mark_reviewed_is_stored(s: &dyn Store) {
    let p = s.create_project(&named("P")).await.unwrap();
    let at = Utc.with_ymd_and_hms(2026, 3, 29, 1, 30, 0).unwrap();
    s.mark_reviewed(p.id, at).await.unwrap();
    let got = s.get_project(p.id).await.unwrap().unwrap();
    assert_eq!(got.last_reviewed_at, Some(at));
    assert!(matches!(
        s.mark_reviewed(777, at).await,
        Err(StoreError::ProjectNotFound(777))
    ));
}

pub async fn preferences_set_get_overwrite_list(s: &dyn Store) {
    assert_eq!(s.get_preference("tone").await.unwrap(), None);
    s.set_preference("tone", "direct").await.unwrap();
    s.set_preference("language", "de").await.unwrap();
    assert_eq!(
        s.get_preference("tone").await.unwrap().as_deref(),
        Some("direct")
    );
    s.set_preference("tone", "gentle").await.unwrap();
    assert_eq!(
        s.get_preference("tone").await.unwrap().as_deref(),
        Some("gentle")
    );
    assert_eq!(
        s.list_preferences().await.unwrap(),
        vec![
            ("language".to_owned(), "de".to_owned()),
            ("tone".to_owned(), "gentle".to_owned())
        ]
    );
}

pub async fn schema_is_migrated(s: &dyn Store) {
    assert!(s.schema_version().await.unwrap() >= 1);
}

pub async fn ids_are_never_reused_after_remove(s: &dyn Store) {
    let a = s.create_project(&named("A")).await.unwrap();
    s.remove_project(a.id).await.unwrap();
    let b = s.create_project(&named("B")).await.unwrap();
    assert!(b.id > a.id, "an old id must not point at a new project");
}

fn mem(text: &str, source: &str, at: (i32, u32, u32)) -> MemoryRecord {
    MemoryRecord {
        text: text.to_owned(),
        created_at: Utc.with_ymd_and_hms(at.0, at.1, at.2, 12, 0, 0).unwrap(),
        source: Source::new(source).unwrap(),
        external_id: None,
        metadata: None,
        embedding: None,
    }
}

fn emb(model: &str, v: &[f32]) -> Option<Embedding> {
    Some(Embedding {
        model: model.to_owned(),
        vector: v.to_vec(),
    })
}

pub async fn memory_round_trip_and_dedupe(s: &dyn Store) {
    let mut r = mem("Dentist on Tuesday at 9:30 🦷", "chat", (2026, 3, 29));
    r.external_id = Some("ext-1".into());
    r.metadata = Some(r#"{"k":1}"#.into());
    let (m, new) = s.add_memory(&r).await.unwrap();
    assert!(new);
    assert_eq!(m.text, r.text);
    assert_eq!(m.created_at, r.created_at);
    assert_eq!(m.source.as_str(), "chat");
    assert_eq!(m.external_id.as_deref(), Some("ext-1"));
    assert_eq!(m.metadata.as_deref(), Some(r#"{"k":1}"#));
    assert_eq!(m.model, None, "stored before it is embedded");

    let (again, new) = s.add_memory(&r).await.unwrap();
    assert!(!new, "same text, same source: one memory");
    assert_eq!(again.id, m.id);
    let (other, new) = s
        .add_memory(&mem(&r.text, "telegram", (2026, 3, 29)))
        .await
        .unwrap();
    assert!(new, "another source is another memory");
    assert_ne!(other.id, m.id);
    let got = s.get_memories(&[m.id, other.id, 99_999]).await.unwrap();
    assert_eq!(got.len(), 2);
    assert!(got.contains(&m));
}

pub async fn memory_text_search_ranks_and_filters(s: &dyn Store) {
    let a = s
        .add_memory(&mem(
            "Dentist appointment on Tuesday",
            "chat",
            (2026, 1, 10),
        ))
        .await
        .unwrap()
        .0;
    let b = s
        .add_memory(&mem(
            "Call the dentist about the dentist bill",
            "email",
            (2026, 2, 10),
        ))
        .await
        .unwrap()
        .0;
    let c = s
        .add_memory(&mem("Marathon training on Tuesday", "chat", (2026, 3, 10)))
        .await
        .unwrap()
        .0;
    s.add_memory(&mem(
        "Die Steuererklärung ist fällig",
        "chat",
        (2026, 3, 11),
    ))
    .await
    .unwrap();
    let all = Filters::default();
    let terms = |q: &str| openzero_core::memory::query_terms(q);

    let hits = s.text_search(&terms("dentist"), &all, 10).await.unwrap();
    assert_eq!(hits.len(), 2);
    assert!(hits.contains(&a.id) && hits.contains(&b.id));
    let hits = s.text_search(&terms("tuesday"), &all, 10).await.unwrap();
    assert_eq!(hits.len(), 2);
    assert!(hits.contains(&a.id) && hits.contains(&c.id));
    let hits = s
        .text_search(&terms("dentist tuesday"), &all, 10)
        .await
        .unwrap();
    assert_eq!(
        hits[0], a.id,
        "the memory with both words ranks first: {hits:?}"
    );
    assert_eq!(
        s.text_search(&terms("steuererklärung"), &all, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    // Search syntax in user text is just words.
    assert!(
        s.text_search(&terms("\"dentist* OR (x"), &all, 10)
            .await
            .is_ok()
    );
    assert!(s.text_search(&[], &all, 10).await.unwrap().is_empty());

    let since_feb = Filters {
        since: Some(Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap()),
        ..Default::default()
    };
    assert_eq!(
        s.text_search(&terms("dentist"), &since_feb, 10)
            .await
            .unwrap(),
        [b.id]
    );
    let until_feb = Filters {
        until: Some(Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap()),
        ..Default::default()
    };
    assert_eq!(
        s.text_search(&terms("dentist"), &until_feb, 10)
            .await
            .unwrap(),
        [a.id]
    );
    let email = Filters {
        source: Some(Source::new("email").unwrap()),
        ..Default::default()
    };
    assert_eq!(
        s.text_search(&terms("dentist"), &email, 10).await.unwrap(),
        [b.id]
    );
    assert_eq!(
        s.text_search(&terms("dentist"), &all, 1)
            .await
            .unwrap()
            .len(),
        1
    );
}

pub async fn memory_vectors_never_mix_models(s: &dyn Store) {
    let mut r = mem("one", "chat", (2026, 1, 1));
    r.embedding = emb("model-a", &[1.0, 0.0, 0.5]);
    let one = s.add_memory(&r).await.unwrap().0;
    assert_eq!(one.model.as_deref(), Some("model-a"));
    let mut r = mem("two", "chat", (2026, 1, 2));
    r.embedding = emb("model-b", &[0.0, 1.0]);
    let two = s.add_memory(&r).await.unwrap().0;
    let three = s
        .add_memory(&mem("three", "chat", (2026, 1, 3)))
        .await
        .unwrap()
        .0;

    let a = vectors(s, "model-a").await;
    assert_eq!(a, vec![(one.id, vec![1.0, 0.0, 0.5])]);
    let todo: Vec<i64> = s
        .memories_needing_embedding("model-a", 10)
        .await
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(todo, [two.id, three.id]);

    s.set_embedding(
        three.id,
        &Embedding {
            model: "model-a".into(),
            vector: vec![0.25, -1.5, 3.0],
        },
    )
    .await
    .unwrap();
    let a = vectors(s, "model-a").await;
    assert_eq!(a.len(), 2);
    assert!(
        a.contains(&(three.id, vec![0.25, -1.5, 3.0])),
        "vectors round-trip exactly"
    );
    let of = s
        .memory_vectors_of("model-a", &[three.id, two.id, 999_999])
        .await
        .unwrap();
    assert_eq!(
        of.len(),
        1,
        "two has no model-a vector, 999999 does not exist"
    );
    assert_eq!(of[0].id, three.id);
    assert_eq!(of[0].source.as_str(), "chat");
    assert_eq!(
        of[0].created_at,
        Utc.with_ymd_and_hms(2026, 1, 3, 12, 0, 0).unwrap()
    );
}

/// All vectors of `model` as (id, vector), read page by page.
async fn vectors(s: &dyn Store, model: &str) -> Vec<(i64, Vec<f32>)> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = s.memory_vectors(model, after, 2).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.id;
        out.extend(page.into_iter().map(|r| (r.id, r.vector)));
    }
    out
}

pub async fn memory_batches_keep_order_and_dedupe(s: &dyn Store) {
    let old = s
        .add_memory(&mem("already here", "chat", (2026, 1, 1)))
        .await
        .unwrap()
        .0;
    let mut with_vector = mem("embedded", "email", (2026, 1, 2));
    with_vector.embedding = emb("m", &[0.5, -0.5]);
    let batch = [
        mem("first", "chat", (2026, 1, 3)),
        mem("already here", "chat", (2026, 1, 1)),
        with_vector,
        mem("first", "chat", (2026, 1, 3)),
        mem("first", "email", (2026, 1, 3)),
    ];
    let got = s.add_memories(&batch).await.unwrap();
    let flags: Vec<bool> = got.iter().map(|g| g.1).collect();
    assert_eq!(flags, [true, false, true, false, true]);
    assert_eq!(got[0].0.text, "first");
    assert_eq!(
        got[1].0.id, old.id,
        "existing memory returned, not duplicated"
    );
    assert_eq!(
        got[3].0.id, got[0].0.id,
        "duplicate inside the batch is one memory"
    );
    assert_ne!(
        got[4].0.id, got[0].0.id,
        "same text, other source: another memory"
    );
    assert_eq!(got[2].0.model.as_deref(), Some("m"));
    assert_eq!(s.memory_stats("m").await.unwrap().total, 4);
    assert!(s.add_memories(&[]).await.unwrap().is_empty());
}

pub async fn memory_vectors_page_in_id_order(s: &dyn Store) {
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut r = mem(&format!("note {i}"), "chat", (2026, 1, 1));
        r.embedding = emb("m", &[i as f32, 1.0]);
        ids.push(s.add_memory(&r).await.unwrap().0.id);
    }
    let page = s.memory_vectors("m", 0, 3).await.unwrap();
    assert_eq!(page.iter().map(|r| r.id).collect::<Vec<_>>(), ids[..3]);
    let rest = s.memory_vectors("m", ids[2], 3).await.unwrap();
    assert_eq!(rest.iter().map(|r| r.id).collect::<Vec<_>>(), ids[3..]);
    assert_eq!(rest[1].vector, vec![4.0, 1.0]);
}

pub async fn memory_changes_track_every_write(s: &dyn Store) {
    let start = s.memory_changes(0).await.unwrap();
    assert!(start.ids.is_empty() && !start.truncated);
    let a = s
        .add_memory(&mem("alpha", "chat", (2026, 1, 1)))
        .await
        .unwrap()
        .0;
    let b = s
        .add_memory(&mem("beta", "chat", (2026, 1, 1)))
        .await
        .unwrap()
        .0;
    let c1 = s.memory_changes(start.last).await.unwrap();
    assert_eq!(c1.ids, [a.id, b.id]);
    assert!(c1.last > start.last);
    // A duplicate add changes nothing.
    s.add_memory(&mem("alpha", "chat", (2026, 1, 1)))
        .await
        .unwrap();
    assert!(s.memory_changes(c1.last).await.unwrap().ids.is_empty());
    s.set_embedding(
        a.id,
        &Embedding {
            model: "m".into(),
            vector: vec![1.0, 0.0],
        },
    )
    .await
    .unwrap();
    assert!(s.forget_memory(b.id).await.unwrap());
    let c2 = s.memory_changes(c1.last).await.unwrap();
    assert_eq!(c2.ids, [a.id, b.id], "re-embedded and forgotten");
    // Each id once, however often it changed.
    let all = s.memory_changes(0).await.unwrap();
    assert_eq!(all.ids, [a.id, b.id]);
    assert_eq!(all.last, c2.last);
}

pub async fn memory_changes_report_pruned_gaps(s: &dyn Store) {
    let mut last = 0;
    for i in 0..4 {
        s.add_memory(&mem(&format!("m{i}"), "chat", (2026, 1, 1)))
            .await
            .unwrap();
        if i == 1 {
            last = s.memory_changes(0).await.unwrap().last;
        }
    }
    s.prune_memory_changes(2).await.unwrap();
    let behind = s.memory_changes(0).await.unwrap();
    assert!(behind.truncated, "a reader from the start lost entries");
    let caught_up = s.memory_changes(last).await.unwrap();
    assert!(
        !caught_up.truncated,
        "a reader at the kept window lost nothing"
    );
    assert_eq!(caught_up.ids.len(), 2);
    assert_eq!(caught_up.last, behind.last);
}

pub async fn memory_dense_search_is_exact_when_offered(s: &dyn Store) {
    let unit = |x: f32, y: f32| {
        let n = (x * x + y * y).sqrt();
        vec![x / n, y / n]
    };
    let points = [(1.0, 0.0), (0.8, 0.6), (0.0, 1.0), (-1.0, 0.1), (0.6, 0.8)];
    let mut ids = Vec::new();
    for (i, (x, y)) in points.iter().enumerate() {
        let mut r = mem(
            &format!("p{i}"),
            if i == 4 { "email" } else { "chat" },
            (2026, 1, 1 + i as u32),
        );
        r.embedding = emb("m", &unit(*x, *y));
        ids.push(s.add_memory(&r).await.unwrap().0.id);
    }
    let other = {
        let mut r = mem("other model", "chat", (2026, 1, 1));
        r.embedding = emb("n", &[1.0, 0.0]);
        s.add_memory(&r).await.unwrap().0.id
    };
    let q = unit(1.0, 0.0);
    let Some(top) = s
        .dense_search("m", &q, 3, -1.0, &Filters::default())
        .await
        .unwrap()
    else {
        return; // this backend searches in process
    };
    let order: Vec<i64> = top.iter().map(|t| t.0).collect();
    assert_eq!(order, [ids[0], ids[1], ids[4]]);
    assert!(
        !order.contains(&other),
        "another model's vector was compared"
    );
    assert!((top[0].1 - 1.0).abs() < 1e-5 && (top[1].1 - 0.8).abs() < 1e-5);
    let related = s
        .dense_search("m", &q, 10, 0.5, &Filters::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(related.len(), 3, "scores below the floor are dropped");
    let email = Filters {
        source: Some(Source::new("email").unwrap()),
        ..Default::default()
    };
    let only = s
        .dense_search("m", &q, 10, -1.0, &email)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(only.iter().map(|t| t.0).collect::<Vec<_>>(), [ids[4]]);
    let window = Filters {
        since: Some(Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap()),
        until: Some(Utc.with_ymd_and_hms(2026, 1, 4, 0, 0, 0).unwrap()),
        ..Default::default()
    };
    let mid = s
        .dense_search("m", &q, 10, -1.0, &window)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        mid.iter().map(|t| t.0).collect::<Vec<_>>(),
        [ids[1], ids[2]]
    );
}

pub async fn memory_forget_removes_everywhere(s: &dyn Store) {
    let mut r = mem("secret plan for the surprise party", "chat", (2026, 1, 1));
    r.embedding = emb("m", &[1.0, 0.0]);
    let m = s.add_memory(&r).await.unwrap().0;
    let keep = s
        .add_memory(&mem("party supplies list", "chat", (2026, 1, 2)))
        .await
        .unwrap()
        .0;
    assert!(s.forget_memory(m.id).await.unwrap());
    assert!(!s.forget_memory(m.id).await.unwrap(), "already gone");
    let terms = openzero_core::memory::query_terms("secret surprise party");
    assert_eq!(
        s.text_search(&terms, &Filters::default(), 10)
            .await
            .unwrap(),
        [keep.id]
    );
    assert!(vectors(s, "m").await.is_empty());
    assert!(s.get_memories(&[m.id]).await.unwrap().is_empty());
    // Adding it again is a new memory, not a resurrection.
    let (back, new) = s.add_memory(&r).await.unwrap();
    assert!(new && back.id != m.id);
}

pub async fn memory_stats_and_listing(s: &dyn Store) {
    assert_eq!(s.memory_stats("m").await.unwrap().total, 0);
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut r = mem(
            &format!("memory {i}"),
            if i < 3 { "chat" } else { "email" },
            (2026, 1, 1),
        );
        if i % 2 == 0 {
            r.embedding = emb("m", &[1.0]);
        }
        ids.push(s.add_memory(&r).await.unwrap().0.id);
    }
    let st = s.memory_stats("m").await.unwrap();
    assert_eq!((st.total, st.embedded, st.backlog), (5, 3, 2));
    assert_eq!(st.by_source, vec![("chat".into(), 3), ("email".into(), 2)]);
    let first = s.list_memories(0, 2).await.unwrap();
    assert_eq!(first.iter().map(|m| m.id).collect::<Vec<_>>(), ids[..2]);
    let rest = s.list_memories(ids[1], 10).await.unwrap();
    assert_eq!(rest.iter().map(|m| m.id).collect::<Vec<_>>(), ids[2..]);
}

pub async fn memories_between_a_day_newest_first(s: &dyn Store) {
    let at = |d, h| Utc.with_ymd_and_hms(2025, 11, d, h, 0, 0).unwrap();
    for (text, d, h) in [
        ("eve", 23, 23),
        ("morning", 24, 8),
        ("night", 24, 23),
        ("next", 25, 0),
    ] {
        let mut r = mem(text, "chat", (2025, 1, 1));
        r.created_at = at(d, h);
        s.add_memory(&r).await.unwrap();
    }
    let day = s.memories_between(at(24, 0), at(25, 0), 10).await.unwrap();
    let texts: Vec<&str> = day.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["night", "morning"], "the end is excluded");
    assert_eq!(
        s.memories_between(at(24, 0), at(25, 0), 1)
            .await
            .unwrap()
            .len(),
        1
    );
}

pub async fn conversations_keep_order_per_channel(s: &dyn Store) {
    use openzero_core::agent::{Role, Turn};
    assert!(s.recent_turns("terminal", 10).await.unwrap().is_empty());
    let at = crate::now();
    let turn = |role, content: &str| Turn {
        role,
        content: content.into(),
        at,
    };
    s.add_turns(
        "terminal",
        &[
            turn(Role::User, "hi Z"),
            turn(Role::Assistant, "Hallo! 🏃 What's next?"),
        ],
    )
    .await
    .unwrap();
    s.add_turns("telegram", &[turn(Role::User, "elsewhere")])
        .await
        .unwrap();
    s.add_turns("terminal", &[turn(Role::User, "third")])
        .await
        .unwrap();
    let all = s.recent_turns("terminal", 10).await.unwrap();
    let texts: Vec<&str> = all.iter().map(|t| t.content.as_str()).collect();
    assert_eq!(texts, ["hi Z", "Hallo! 🏃 What's next?", "third"]);
    assert_eq!(all[1].role, Role::Assistant);
    assert_eq!(all[0].at, at, "time round-trips exactly");
    let last_two = s.recent_turns("terminal", 2).await.unwrap();
    assert_eq!(last_two[0].content, "Hallo! 🏃 What's next?");
    assert_eq!(s.recent_turns("telegram", 10).await.unwrap().len(), 1);
}

fn thought(question: &str, expires_in: Duration) -> crate::NewThought {
    use openzero_core::agent::{ChatMessage, Role};
    use openzero_core::consent::{Disclosure, Item, ItemKind, Redactor};
    let mut redactor = Redactor::new();
    let text = redactor.redact(question);
    let created_at = crate::now();
    crate::NewThought {
        created_at,
        expires_at: created_at + expires_in,
        channel: "terminal".into(),
        provider: "openai".into(),
        model: "gpt-test".into(),
        question: question.into(),
        disclosure: Disclosure {
            items: vec![Item {
                kind: ItemKind::Question,
                label: "your question".into(),
                text: text.clone(),
            }],
            messages: vec![ChatMessage::new(Role::User, text)],
            redactor,
        },
    }
}

pub async fn thoughts_round_trip_and_decide_once(s: &dyn Store) {
    use crate::{Decided, ThoughtEnd};
    use openzero_core::consent::{DecideError, Decision, ThoughtState};
    let t = s
        .add_thought(&thought(
            "Mail bob@example.com about Ünïcode 🏃?",
            Duration::hours(24),
        ))
        .await
        .unwrap();
    assert_eq!(t.state, ThoughtState::Pending);
    let got = s.get_thought(t.id).await.unwrap().unwrap();
    assert_eq!(got, t, "round trip");
    assert_eq!(got.disclosure.redactor.redactions.len(), 1);
    assert!(s.get_thought(t.id + 1000).await.unwrap().is_none());

    let now = crate::now();
    let Decided::Done(granted) = s
        .decide_thought(t.id, Decision::Grant, "owner (terminal)", now)
        .await
        .unwrap()
    else {
        panic!("first grant refused")
    };
    assert_eq!(granted.state, ThoughtState::Granted);
    assert_eq!(granted.decided_by.as_deref(), Some("owner (terminal)"));
    assert_eq!(granted.decided_at, Some(now));
    // A double tap, or a cancel after the grant, changes nothing.
    for d in [Decision::Grant, Decision::Cancel] {
        match s.decide_thought(t.id, d, "owner", now).await.unwrap() {
            Decided::Refused(DecideError::AlreadyDecided(ThoughtState::Granted), _) => {}
            other => panic!("second decision taken: {other:?}"),
        }
    }
    s.finish_thought(t.id, &ThoughtEnd::Answered("42".into()))
        .await
        .unwrap();
    let done = s.get_thought(t.id).await.unwrap().unwrap();
    assert_eq!(done.state, ThoughtState::Answered);
    assert_eq!(done.answer.as_deref(), Some("42"));
    assert!(matches!(
        s.decide_thought(999_999, Decision::Grant, "owner", now)
            .await
            .unwrap(),
        Decided::NotFound
    ));
    let listed = s.list_thoughts(10).await.unwrap();
    assert_eq!(listed.len(), 1);
}

pub async fn thoughts_expire_and_race(s: &dyn Store) {
    use crate::Decided;
    use openzero_core::consent::{DecideError, Decision, ThoughtState};
    let old = s
        .add_thought(&thought("late", Duration::seconds(1)))
        .await
        .unwrap();
    let later = crate::now() + Duration::seconds(5);
    match s
        .decide_thought(old.id, Decision::Grant, "owner", later)
        .await
        .unwrap()
    {
        Decided::Refused(DecideError::Expired, t) => assert_eq!(t.state, ThoughtState::Expired),
        other => panic!("expired thought granted: {other:?}"),
    }
    assert_eq!(
        s.get_thought(old.id).await.unwrap().unwrap().state,
        ThoughtState::Expired,
        "stored as expired"
    );

    // Two decisions at once: exactly one wins, the other is told.
    let t = s
        .add_thought(&thought("race", Duration::hours(1)))
        .await
        .unwrap();
    let now = crate::now();
    let (a, b) = tokio::join!(
        s.decide_thought(t.id, Decision::Grant, "tap 1", now),
        s.decide_thought(t.id, Decision::Grant, "tap 2", now)
    );
    let outcomes = [a.unwrap(), b.unwrap()];
    let won = outcomes
        .iter()
        .filter(|o| matches!(o, Decided::Done(_)))
        .count();
    assert_eq!(won, 1, "{outcomes:?}");
    // Cancelled is final too.
    let c = s
        .add_thought(&thought("no", Duration::hours(1)))
        .await
        .unwrap();
    assert!(matches!(
        s.decide_thought(c.id, Decision::Cancel, "owner", now)
            .await
            .unwrap(),
        Decided::Done(ref t) if t.state == ThoughtState::Cancelled
    ));
    assert!(matches!(
        s.decide_thought(c.id, Decision::Grant, "owner", now)
            .await
            .unwrap(),
        Decided::Refused(DecideError::AlreadyDecided(ThoughtState::Cancelled), _)
    ));
}

pub async fn disclosures_are_logged_newest_first(s: &dyn Store) {
    assert!(s.list_disclosures(10).await.unwrap().is_empty());
    let t = s
        .add_thought(&thought("q", Duration::hours(1)))
        .await
        .unwrap();
    let at = crate::now();
    let d = crate::NewDisclosure {
        at,
        thought_id: Some(t.id),
        provider: "openai".into(),
        model: "gpt-test".into(),
        bytes: 1234,
        sha256: "ab".repeat(32),
        items: vec!["memory #3 (2026-11-02)".into(), "your question".into()],
        approved_by: "owner (terminal)".into(),
    };
    let first = s.add_disclosure(&d).await.unwrap();
    assert_eq!(first.outcome, None, "open until the send ends");
    let second = s
        .add_disclosure(&crate::NewDisclosure {
            thought_id: None,
            ..d.clone()
        })
        .await
        .unwrap();
    s.finish_disclosure(first.id, "answered").await.unwrap();
    let all = s.list_disclosures(10).await.unwrap();
    assert_eq!(
        all.iter().map(|r| r.id).collect::<Vec<_>>(),
        [second.id, first.id]
    );
    assert_eq!(all[1].outcome.as_deref(), Some("answered"));
    assert_eq!(all[1].items, d.items);
    assert_eq!(all[1].at, at);
    assert_eq!(all[1].bytes, 1234);
    assert_eq!(all[1].thought_id, Some(t.id));
    assert_eq!(s.list_disclosures(1).await.unwrap().len(), 1);
}

pub async fn summaries_cover_turns_up_to_a_point(s: &dyn Store) {
    use openzero_core::agent::{Role, Turn};
    assert_eq!(s.latest_summary("terminal").await.unwrap(), None);
    let at = crate::now();
    let turns: Vec<Turn> = (0..6)
        .map(|i| Turn {
            role: if i % 2 == 0 {
                Role::User
            } else {
                Role::Assistant
            },
            content: format!("turn {i}"),
            at,
        })
        .collect();
    s.add_turns("terminal", &turns).await.unwrap();
    s.add_turns("telegram", &turns[..1]).await.unwrap();
    let all = s.turns_after("terminal", 0, 100).await.unwrap();
    assert_eq!(all.len(), 6);
    assert!(
        all.windows(2).all(|w| w[0].0 < w[1].0),
        "oldest first, by id"
    );
    let upto = all[3].0;
    s.add_summary("terminal", all[1].0, "first").await.unwrap();
    s.add_summary("terminal", upto, "You said turn 0..3")
        .await
        .unwrap();
    let sm = s.latest_summary("terminal").await.unwrap().unwrap();
    assert_eq!((sm.upto, sm.text.as_str()), (upto, "You said turn 0..3"));
    let rest = s.turns_after("terminal", sm.upto, 100).await.unwrap();
    let texts: Vec<&str> = rest.iter().map(|(_, t)| t.content.as_str()).collect();
    assert_eq!(texts, ["turn 4", "turn 5"]);
    // The limit keeps the newest.
    let last = s.turns_after("terminal", 0, 2).await.unwrap();
    assert_eq!(last[1].1.content, "turn 5");
    assert_eq!(s.latest_summary("telegram").await.unwrap(), None);
}

pub async fn inbox_events_are_handled_once_and_replies_queued(s: &dyn Store) {
    use crate::{Incoming, OutMessage};
    assert_eq!(s.inbox_position("telegram").await.unwrap(), None);
    let update = |id: i64, payload: &str| Incoming {
        external_id: id.to_string(),
        position: Some(id),
        payload: payload.to_owned(),
    };
    // Arriving out of order, handled in the source's order.
    let batch = vec![update(101, "{}"), update(100, "{\"update_id\":100}")];
    assert_eq!(s.inbox_store("telegram", &batch).await.unwrap(), 2);
    // The same events sent again change nothing.
    assert_eq!(s.inbox_store("telegram", &batch).await.unwrap(), 0);
    assert_eq!(s.inbox_position("telegram").await.unwrap(), Some(101));
    // Another source with the same external id is another event, and
    // sources without positions keep arrival order.
    let strava = |id: &str| Incoming {
        external_id: id.to_owned(),
        position: None,
        payload: "{}".to_owned(),
    };
    assert_eq!(
        s.inbox_store("strava", &[strava("b"), strava("100"), strava("a")])
            .await
            .unwrap(),
        3
    );
    assert_eq!(s.inbox_position("strava").await.unwrap(), None);
    let ids = |v: Vec<crate::InboxEvent>| v.into_iter().map(|e| e.external_id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.inbox_unhandled("strava", 10).await.unwrap()),
        ["b", "100", "a"]
    );
    let pending = s.inbox_unhandled("telegram", 10).await.unwrap();
    assert_eq!(ids(pending.clone()), ["100", "101"]);
    assert_eq!(pending[0].payload, "{\"update_id\":100}");
    let reply = |t: &str| OutMessage {
        chat_id: 42,
        text: t.into(),
        buttons: None,
    };
    s.inbox_finish(pending[0].id, &[reply("one"), reply("two")])
        .await
        .unwrap();
    // Finishing twice queues nothing more.
    s.inbox_finish(pending[0].id, &[reply("again")])
        .await
        .unwrap();
    assert_eq!(s.inbox_unhandled("telegram", 10).await.unwrap().len(), 1);
    assert_eq!(s.inbox_unhandled("strava", 10).await.unwrap().len(), 3);
    s.tg_queue(&[OutMessage {
        chat_id: 42,
        text: "briefing".into(),
        buttons: Some("[[]]".into()),
    }])
    .await
    .unwrap();
    let out = s.tg_outbox(10).await.unwrap();
    let texts: Vec<&str> = out.iter().map(|o| o.message.text.as_str()).collect();
    assert_eq!(texts, ["one", "two", "briefing"]);
    s.tg_send_failed(out[0].id, "HTTP 502").await.unwrap();
    assert_eq!(s.tg_outbox(10).await.unwrap()[0].attempts, 1);
    s.tg_sent(out[0].id, 9001).await.unwrap();
    let left = s.tg_outbox(10).await.unwrap();
    assert_eq!(left.len(), 2);
    assert_eq!(left[0].message.text, "two");
    assert_eq!(
        s.inbox_position("telegram").await.unwrap(),
        Some(101),
        "the position survives handling"
    );
}

pub async fn job_slots_are_claimed_once_and_pauses_kept(s: &dyn Store) {
    let since = crate::now();
    assert_eq!(
        s.job_ensure("briefing", since).await.unwrap(),
        (false, since)
    );
    // Registering again keeps the first date.
    let later = since + Duration::days(1);
    assert_eq!(s.job_ensure("briefing", later).await.unwrap().1, since);
    assert!(s.job_set_paused("briefing", true).await.unwrap());
    assert!(
        s.job_ensure("briefing", later).await.unwrap().0,
        "pause kept"
    );
    assert!(!s.job_set_paused("nope", true).await.unwrap());

    let slot = since + Duration::hours(2);
    let lease = Duration::minutes(15);
    let (a, b) = tokio::join!(
        s.job_claim("briefing", slot, lease),
        s.job_claim("briefing", slot, lease)
    );
    assert!(a.unwrap() ^ b.unwrap(), "exactly one claim wins");
    assert!(!s.job_claim("briefing", slot, lease).await.unwrap());
    s.job_finish("briefing", slot, None).await.unwrap();
    let missed = [slot - Duration::days(2), slot - Duration::days(1)];
    s.job_missed("briefing", &missed).await.unwrap();
    assert!(
        !s.job_claim("briefing", missed[0], lease).await.unwrap(),
        "a missed slot is never run"
    );
    let runs = s.job_runs("briefing", 10).await.unwrap();
    let outcomes: Vec<&str> = runs.iter().map(|r| r.outcome.as_str()).collect();
    assert_eq!(outcomes, ["ok", "missed", "missed"]);
    assert_eq!(runs[0].scheduled_for, slot);
    assert!(runs[0].started_at.is_some() && runs[0].ended_at.is_some());
    let slot2 = slot + Duration::days(1);
    assert!(s.job_claim("briefing", slot2, lease).await.unwrap());
    s.job_finish("briefing", slot2, Some("the model timed out"))
        .await
        .unwrap();
    let runs = s.job_runs("briefing", 1).await.unwrap();
    assert_eq!(
        (runs[0].outcome.as_str(), runs[0].error.as_deref()),
        ("failed", Some("the model timed out"))
    );

    // While a run of the job is going, no other slot of it starts.
    let slot3 = slot2 + Duration::days(1);
    assert!(s.job_claim("briefing", slot3, lease).await.unwrap());
    assert!(
        !s.job_claim("briefing", slot3 + Duration::days(1), lease)
            .await
            .unwrap(),
        "a second run while one is going"
    );
    // A run whose process died is taken over once its lease is out.
    assert!(
        s.job_claim("briefing", slot3, Duration::zero())
            .await
            .unwrap(),
        "a dead run is picked up again"
    );
    s.job_finish("briefing", slot3, None).await.unwrap();
    assert!(
        !s.job_claim("briefing", slot3, Duration::zero())
            .await
            .unwrap(),
        "a finished run is never taken over"
    );

    assert_eq!(s.last_briefing(None).await.unwrap(), None);
    let items = ["done:project:4".to_owned(), "recall:memory:9".to_owned()];
    s.add_briefing("daily", "Good morning", &items)
        .await
        .unwrap();
    s.add_briefing("weekly", "The week", &[]).await.unwrap();
    assert_eq!(s.last_briefing(None).await.unwrap().unwrap().2, "The week");
    assert_eq!(
        s.last_briefing(Some("daily")).await.unwrap().unwrap().2,
        "Good morning"
    );
    let before = crate::now();
    s.add_briefing("daily", "Again", &items[1..]).await.unwrap();
    let mut got = s
        .delivered_items(&[
            "done:project:4".to_owned(),
            "recall:memory:9".to_owned(),
            "attention:project:1".to_owned(),
        ])
        .await
        .unwrap();
    got.sort();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].0, "done:project:4");
    assert!(got[0].1 <= before);
    assert_eq!(got[1].0, "recall:memory:9");
    assert!(got[1].1 >= before, "delivered again: the time moves on");
    assert!(s.delivered_items(&[]).await.unwrap().is_empty());
}
