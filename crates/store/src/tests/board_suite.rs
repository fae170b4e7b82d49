//! The boards port's conformance cases (part of [`crate::testsuite`]).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use chrono::{NaiveDate, Utc};
use openzero_core::when::Due;

use crate::Store;
use crate::board::{CardPatch, CardQuery, CheckItem, NewCard};

pub async fn boards_come_with_the_seed_structure(s: &dyn Store) {
    let boards = s.boards().await.unwrap();
    let shape: Vec<(String, Vec<String>)> = boards
        .iter()
        .map(|b| {
            (
                b.name.clone(),
                b.lists.iter().map(|l| l.name.clone()).collect(),
            )
        })
        .collect();
    let want = [
        ("Career", vec!["Inbox", "In Progress", "Blocked", "Done"]),
        ("Health", vec!["Inbox", "Habits", "Completed"]),
        ("Family", vec!["Inbox", "This Week", "Done"]),
        ("Finance", vec!["Inbox", "Pending", "Resolved"]),
        ("Creative", vec!["Ideas", "Active", "Shipped"]),
    ];
    assert_eq!(shape.len(), 5);
    for ((name, lists), (wn, wl)) in shape.iter().zip(want) {
        assert_eq!(name, wn);
        assert_eq!(lists, &wl);
    }
    let done: Vec<&str> = boards
        .iter()
        .flat_map(|b| b.lists.iter().filter(|l| l.done).map(|l| l.name.as_str()))
        .collect();
    assert_eq!(done, ["Done", "Completed", "Done", "Resolved", "Shipped"]);
}

pub async fn boards_and_lists_are_edited(s: &dyn Store) {
    let garden = s
        .board_add(
            "Garden",
            None,
            &[("Ideas".into(), false), ("Planted".into(), true)],
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(garden.position, 6);
    assert!(s.board_add("Garden", None, &[]).await.unwrap().is_none());
    assert!(!s.board_rename(garden.id, "Career").await.unwrap());
    assert!(s.board_rename(garden.id, "Allotment").await.unwrap());
    let soon = s.list_add(garden.id, "Soon", false).await.unwrap().unwrap();
    assert!(
        s.list_add(garden.id, "Soon", false)
            .await
            .unwrap()
            .is_none()
    );
    s.list_move(soon.id, 1).await.unwrap();
    assert!(!s.list_rename(soon.id, "Ideas").await.unwrap());
    assert!(s.list_rename(soon.id, "Next").await.unwrap());
    s.list_archive(soon.id, true).await.unwrap();
    s.board_archive(garden.id, true).await.unwrap();
    let b = s
        .boards()
        .await
        .unwrap()
        .into_iter()
        .find(|b| b.id == garden.id)
        .unwrap();
    assert_eq!(b.name, "Allotment");
    assert!(b.archived);
    let names: Vec<(&str, bool)> = b
        .lists
        .iter()
        .map(|l| (l.name.as_str(), l.archived))
        .collect();
    assert_eq!(
        names,
        [("Next", true), ("Ideas", false), ("Planted", false)]
    );
    // Boards reorder: the garden first, the others after it in their order.
    s.board_move(garden.id, 1).await.unwrap();
    let order: Vec<String> = s
        .boards()
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(
        order,
        [
            "Allotment",
            "Career",
            "Health",
            "Family",
            "Finance",
            "Creative"
        ]
    );
    s.board_move(garden.id, 99).await.unwrap();
    let order: Vec<String> = s
        .boards()
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(order.last().map(String::as_str), Some("Allotment"));
    assert_eq!(order[0], "Career");
}

pub async fn cards_are_added_moved_done_and_listed(s: &dyn Store) {
    let boards = s.boards().await.unwrap();
    let career = boards.iter().find(|b| b.name == "Career").unwrap();
    let inbox = career.lists[0].id;
    let done = career.lists[3].id;
    let family_inbox = boards.iter().find(|b| b.name == "Family").unwrap().lists[0].id;
    let day = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
    let a = s
        .card_add(&NewCard {
            list_id: inbox,
            title: "Update CV ✓".into(),
            description: "for the Berlin offer".into(),
            due: Some(Due::Day { date: day }),
            labels: vec!["jobs".into()],
            project_id: None,
            repeat: None,
        })
        .await
        .unwrap();
    assert_eq!(
        (a.board.as_str(), a.list.as_str(), a.position),
        ("Career", "Inbox", 1)
    );
    assert_eq!(a.due, Some(Due::Day { date: day }));
    let at = Utc::now();
    let b = s
        .card_add(&NewCard {
            list_id: inbox,
            title: "Call recruiter".into(),
            description: String::new(),
            due: Some(Due::At { at }),
            labels: vec![],
            project_id: None,
            repeat: None,
        })
        .await
        .unwrap();
    assert_eq!(b.position, 2);
    // Microsecond precision survives both backends.
    match b.due {
        Some(Due::At { at: got }) => assert!((got - at).num_milliseconds().abs() < 1),
        other => panic!("{other:?}"),
    }

    let moved = s.card_move(a.id, done).await.unwrap().unwrap();
    assert!(moved.list_done && moved.done_at.is_some());
    let moved = s.card_move(a.id, family_inbox).await.unwrap().unwrap();
    assert_eq!(moved.board, "Family");
    assert!(moved.done_at.is_none());
    let history: Vec<String> = s
        .card_history(a.id)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, w)| w)
        .collect();
    assert_eq!(
        history,
        [
            "created",
            "moved from Inbox to Done",
            "moved from Career/Done to Family/Inbox"
        ]
    );

    let edited = s
        .card_update(
            b.id,
            &CardPatch {
                title: Some("Call the recruiter".into()),
                due: Some(None),
                checklist: Some(vec![CheckItem {
                    text: "salary".into(),
                    done: false,
                }]),
                labels: Some(vec!["jobs".into(), "urgent".into()]),
                ..CardPatch::default()
            },
            "edited title, due, checklist",
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(edited.title, "Call the recruiter");
    assert_eq!(edited.due, None);
    assert_eq!(edited.checklist.len(), 1);
    assert_eq!(edited.labels, ["jobs", "urgent"]);
    assert!(
        s.card_update(9_999, &CardPatch::default(), "x")
            .await
            .unwrap()
            .is_none()
    );
    assert!(s.card_move(9_999, inbox).await.unwrap().is_none());

    // Listing: open cards by default, done ones on request, archived never.
    s.card_move(b.id, done).await.unwrap();
    let open = s.cards(&CardQuery::default()).await.unwrap();
    assert_eq!(open.iter().map(|c| c.id).collect::<Vec<_>>(), [a.id]);
    let all = s
        .cards(&CardQuery {
            include_done: true,
            ..CardQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    let career_only = s
        .cards(&CardQuery {
            board_id: Some(career.id),
            include_done: true,
            ..CardQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(career_only.iter().map(|c| c.id).collect::<Vec<_>>(), [b.id]);
    s.card_update(
        a.id,
        &CardPatch {
            archived: Some(true),
            ..CardPatch::default()
        },
        "archived",
    )
    .await
    .unwrap();
    assert!(s.cards(&CardQuery::default()).await.unwrap().is_empty());
}

pub async fn sync_links_are_one_per_record_and_the_stamp_moves(s: &dyn Store) {
    use crate::sync_link::SyncLink;
    let link = |local: i64, remote: &str, base: &str| SyncLink {
        kind: "card".into(),
        local_id: local,
        remote_id: remote.into(),
        base: base.into(),
    };
    assert!(s.sync_links("planka", "card").await.unwrap().is_empty());
    s.sync_link_put("planka", &link(1, "100", "{}"))
        .await
        .unwrap();
    s.sync_link_put("planka", &link(2, "200", "{}"))
        .await
        .unwrap();
    // The same local id again: replaced, with its new base.
    s.sync_link_put("planka", &link(1, "100", "{\"title\":\"a\"}"))
        .await
        .unwrap();
    // A remote id linked elsewhere moves to its new local card.
    s.sync_link_put("planka", &link(3, "200", ""))
        .await
        .unwrap();
    let links = s.sync_links("planka", "card").await.unwrap();
    assert_eq!(
        links,
        vec![link(1, "100", "{\"title\":\"a\"}"), link(3, "200", "")]
    );
    // Kinds and services are apart.
    assert!(s.sync_links("planka", "list").await.unwrap().is_empty());
    assert!(s.sync_links("other", "card").await.unwrap().is_empty());
    s.sync_link_forget("planka", "card", 1).await.unwrap();
    assert_eq!(s.sync_links("planka", "card").await.unwrap().len(), 1);

    let before = s.boards_stamp().await.unwrap();
    assert_eq!(s.boards_stamp().await.unwrap(), before, "nothing changed");
    let boards = s.boards().await.unwrap();
    let inbox = boards[0].lists[0].id;
    let card = s
        .card_add(&NewCard {
            list_id: inbox,
            title: "stamp".into(),
            description: String::new(),
            due: None,
            labels: vec![],
            project_id: None,
            repeat: None,
        })
        .await
        .unwrap();
    let added = s.boards_stamp().await.unwrap();
    assert_ne!(added, before, "a card added");
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    s.card_update(
        card.id,
        &CardPatch {
            title: Some("stamp 2".into()),
            ..CardPatch::default()
        },
        "renamed",
    )
    .await
    .unwrap();
    assert_ne!(s.boards_stamp().await.unwrap(), added, "a card edited");
    let edited = s.boards_stamp().await.unwrap();
    s.list_rename(boards[1].lists[1].id, "Routines")
        .await
        .unwrap();
    assert_ne!(s.boards_stamp().await.unwrap(), edited, "a list renamed");
}
