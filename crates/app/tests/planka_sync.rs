//! The two-way Planka sync against the stateful fake of Planka's REST API
//! (`openzero_planka::fake`), on SQLite and on PostgreSQL: the seed's
//! structure made in Planka, idempotence, edits and conflicts, deletions,
//! Planka down and a sync stopped midway, cards moved between boards,
//! repeating cards, and 100 random edits on both sides.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use chrono::{NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use openzero_app::planka_sync::{Report, sync_over};
use openzero_core::when::Due;
use openzero_planka::Planka;
use openzero_planka::fake::{EMAIL, FakeCard, FakePlanka, PASSWORD};
use openzero_store::Store;
use openzero_store::board::{CardPatch, CardQuery, CardRow, NewCard};

const TZ: Tz = chrono_tz::Europe::Paris;

async fn sqlite() -> (tempfile::TempDir, Box<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store = openzero_store_sqlite::SqliteStore::open(&dir.path().join("oz.db"))
        .await
        .unwrap();
    (dir, Box::new(store))
}

async fn postgres() -> Option<Box<dyn Store>> {
    let url = openzero_store_postgres::testing::fresh_database_url().await?;
    Some(Box::new(
        openzero_store_postgres::PgStore::connect(&url)
            .await
            .unwrap(),
    ))
}

async fn login(fake: &FakePlanka) -> Planka {
    Planka::login(fake.url(), EMAIL, PASSWORD, Duration::from_secs(5))
        .await
        .unwrap()
}

async fn sync(store: &dyn Store, planka: &Planka) -> Report {
    sync_over(store, planka, "OpenZero", TZ).await.unwrap()
}

async fn list_id(store: &dyn Store, board: &str, list: &str) -> i64 {
    let boards = store.boards().await.unwrap();
    let b = boards.iter().find(|b| b.name == board).unwrap();
    b.lists.iter().find(|l| l.name == list).unwrap().id
}

async fn add(store: &dyn Store, board: &str, list: &str, title: &str) -> CardRow {
    store
        .card_add(&NewCard {
            list_id: list_id(store, board, list).await,
            title: title.into(),
            description: String::new(),
            due: None,
            labels: vec![],
            project_id: None,
            repeat: None,
        })
        .await
        .unwrap()
}

async fn local_cards(store: &dyn Store) -> Vec<CardRow> {
    store
        .cards(&CardQuery {
            include_done: true,
            ..CardQuery::default()
        })
        .await
        .unwrap()
}

fn remote_named(fake: &FakePlanka, title: &str) -> FakeCard {
    let found: Vec<FakeCard> = fake
        .cards()
        .into_iter()
        .filter(|c| c.name == title)
        .collect();
    assert_eq!(found.len(), 1, "one card {title:?} in Planka: {found:?}");
    found.into_iter().next().unwrap()
}

async fn first_sync_builds_the_seed_and_a_second_changes_nothing(store: &dyn Store) {
    let fake = FakePlanka::start().await;
    let planka = login(&fake).await;
    let day = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
    let at = Utc.with_ymd_and_hms(2026, 12, 4, 13, 30, 0).unwrap();
    let passport = store
        .card_add(&NewCard {
            list_id: list_id(store, "Family", "Inbox").await,
            title: "Renew passport".into(),
            description: "Photos first".into(),
            due: Some(Due::Day { date: day }),
            labels: vec!["admin".into(), "urgent".into()],
            project_id: None,
            repeat: None,
        })
        .await
        .unwrap();
    store
        .card_add(&NewCard {
            list_id: list_id(store, "Career", "In Progress").await,
            title: "Send the report".into(),
            description: String::new(),
            due: Some(Due::At { at }),
            labels: vec![],
            project_id: None,
            repeat: None,
        })
        .await
        .unwrap();

    let first = sync(store, &planka).await;
    assert_eq!(first.created_there, 2, "{first:?}");
    assert_eq!(fake.project_names(), ["OpenZero"]);
    assert_eq!(
        fake.board_names(),
        ["Career", "Health", "Family", "Finance", "Creative"]
    );
    let lists: Vec<String> = fake.lists_of("Career").into_iter().map(|l| l.1).collect();
    assert_eq!(lists, ["Inbox", "In Progress", "Blocked", "Done"]);
    let p = remote_named(&fake, "Renew passport");
    assert_eq!(fake.list_name(&p.list_id).as_deref(), Some("Inbox"));
    assert_eq!(fake.board_of(&p.id).as_deref(), Some("Family"));
    assert_eq!(p.description.as_deref(), Some("Photos first"));
    // A due day is midnight in the owner's zone in Planka.
    assert_eq!(p.due_date, Some(openzero_core::calendar::midnight(TZ, day)));
    assert_eq!(fake.label_names_on(&p.id), ["admin", "urgent"]);
    assert_eq!(remote_named(&fake, "Send the report").due_date, Some(at));

    // Nothing changed: nothing written anywhere, one read per board.
    let before = fake.request_count();
    let second = sync(store, &planka).await;
    assert!(!second.changed(), "{second:?}");
    let log = fake.requests();
    let since = &log[usize::try_from(before).unwrap()..];
    assert!(
        since.iter().all(|(m, _)| m == "GET"),
        "only reads: {since:?}"
    );
    assert_eq!(since.len(), 1 + 5, "projects + one detail per board");
    assert_eq!(second.requests, 6);
    // The local card is untouched (no history line from the sync).
    let history = store.card_history(passport.id).await.unwrap();
    assert_eq!(history.len(), 1, "{history:?}");
}

async fn edits_meet_and_the_loser_of_a_conflict_goes_to_history(store: &dyn Store) {
    let fake = FakePlanka::start().await;
    let planka = login(&fake).await;
    let card = add(store, "Health", "Inbox", "Book dentist").await;
    sync(store, &planka).await;
    let remote = remote_named(&fake, "Book dentist");

    // Here: the title and a label; there: the description, then the title.
    store
        .card_update(
            card.id,
            &CardPatch {
                title: Some("Book the dentist".into()),
                labels: Some(vec!["teeth".into()]),
                ..CardPatch::default()
            },
            "edited",
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    fake.edit_card_as_user(&remote.id, |c| {
        c.description = Some("Dr Martin, 2nd floor".into());
        c.name = "Call the dentist".into();
    });
    let report = sync(store, &planka).await;
    assert_eq!(report.conflicts, 1, "{report:?}");
    let here = store.card_get(card.id).await.unwrap().unwrap();
    let there = fake.card(&remote.id).unwrap();
    // Planka's title was changed last: it wins on both sides.
    assert_eq!(here.title, "Call the dentist");
    assert_eq!(there.name, "Call the dentist");
    assert_eq!(here.description, "Dr Martin, 2nd floor");
    assert_eq!(here.labels, ["teeth"]);
    assert_eq!(fake.label_names_on(&remote.id), ["teeth"]);
    let history = store.card_history(card.id).await.unwrap();
    assert!(
        history
            .iter()
            .any(|(_, h)| h.contains("conflict on title") && h.contains("Book the dentist")),
        "the lost title is kept: {history:?}"
    );
    assert!(!sync(store, &planka).await.changed());

    // A move in Planka moves the card here.
    let done = fake
        .lists_of("Health")
        .into_iter()
        .find(|l| l.1 == "Completed")
        .unwrap()
        .0;
    fake.edit_card_as_user(&remote.id, |c| c.list_id = done.clone());
    sync(store, &planka).await;
    let here = store.card_get(card.id).await.unwrap().unwrap();
    assert_eq!(here.list, "Completed");
    assert!(here.done_at.is_some());
}

async fn deletions_cross_unless_the_other_side_edited(store: &dyn Store) {
    let fake = FakePlanka::start().await;
    let planka = login(&fake).await;
    let gone_there = add(store, "Finance", "Inbox", "Cancel the gym").await;
    let gone_here = add(store, "Finance", "Inbox", "Old invoice").await;
    let edited_here = add(store, "Finance", "Pending", "Tax form").await;
    sync(store, &planka).await;
    assert!(fake.delete_card_as_user(&remote_named(&fake, "Cancel the gym").id));
    store
        .card_update(
            gone_here.id,
            &CardPatch {
                archived: Some(true),
                ..CardPatch::default()
            },
            "archived",
        )
        .await
        .unwrap();
    assert!(fake.delete_card_as_user(&remote_named(&fake, "Tax form").id));
    store
        .card_update(
            edited_here.id,
            &CardPatch {
                description: Some("Box 4 still empty".into()),
                ..CardPatch::default()
            },
            "edited",
        )
        .await
        .unwrap();
    let report = sync(store, &planka).await;
    assert_eq!(
        (report.deleted_here, report.deleted_there),
        (1, 1),
        "{report:?}"
    );
    // Deleted in Planka: archived here, kept with its history.
    let archived = store.card_get(gone_there.id).await.unwrap().unwrap();
    assert!(archived.archived);
    // Archived here: deleted in Planka.
    assert!(fake.cards().iter().all(|c| c.name != "Old invoice"));
    // Deleted there but edited here: the edit wins, it is back in Planka.
    let back = remote_named(&fake, "Tax form");
    assert_eq!(back.description.as_deref(), Some("Box 4 still empty"));
    assert!(!sync(store, &planka).await.changed());
}

async fn planka_down_keeps_changes_and_a_stopped_sync_resumes(store: &dyn Store) {
    let fake = FakePlanka::start().await;
    let planka = login(&fake).await;
    sync(store, &planka).await;
    fake.go_down();
    add(store, "Creative", "Ideas", "Write a song").await;
    add(store, "Creative", "Ideas", "Film a short").await;
    let e = sync_over(store, &planka, "OpenZero", TZ).await.unwrap_err();
    assert!(e.to_string().contains("unreachable"), "{e}");
    assert!(local_cards(store).await.len() == 2, "nothing lost here");
    fake.come_back();
    // The second card's creation fails: the sync stops midway.
    let creative = fake.lists_of("Creative")[0].0.clone();
    fake.answer_next(
        "POST",
        &format!("/api/lists/{creative}/cards"),
        200,
        "{\"item\": {\"oops\": true}}",
    );
    let e = sync_over(store, &planka, "OpenZero", TZ).await;
    assert!(e.is_err(), "an unreadable answer stops the sync");
    let report = sync(store, &planka).await;
    assert!(report.created_there >= 1, "{report:?}");
    assert_eq!(fake.cards().len(), 2, "no duplicate: {:?}", fake.cards());
    remote_named(&fake, "Write a song");
    remote_named(&fake, "Film a short");
    assert!(!sync(store, &planka).await.changed());
}

async fn cards_from_planka_arrive_and_moves_between_boards_follow(store: &dyn Store) {
    let fake = FakePlanka::start().await;
    let planka = login(&fake).await;
    let local = add(store, "Career", "Inbox", "Update CV").await;
    sync(store, &planka).await;
    let inbox = fake.lists_of("Family")[0].0.clone();
    fake.create_card_as_user(&inbox, "Plan the birthday", &["party"])
        .unwrap();
    // Moved to another board in Planka.
    let remote = remote_named(&fake, "Update CV");
    let creative = fake.board_id("Creative").unwrap();
    let active = fake
        .lists_of("Creative")
        .into_iter()
        .find(|l| l.1 == "Active")
        .unwrap()
        .0;
    fake.edit_card_as_user(&remote.id, |c| {
        c.board_id = creative.clone();
        c.list_id = active.clone();
    });
    let report = sync(store, &planka).await;
    assert_eq!(report.created_here, 1, "{report:?}");
    let cards = local_cards(store).await;
    let birthday = cards
        .iter()
        .find(|c| c.title == "Plan the birthday")
        .unwrap();
    assert_eq!(
        (birthday.board.as_str(), birthday.list.as_str()),
        ("Family", "Inbox")
    );
    assert_eq!(birthday.labels, ["party"]);
    let cv = store.card_get(local.id).await.unwrap().unwrap();
    assert_eq!(
        (cv.board.as_str(), cv.list.as_str()),
        ("Creative", "Active")
    );
    assert_eq!(cards.len(), 2, "moved, not copied: {cards:?}");

    // Moved here: moved there.
    store
        .card_move(cv.id, list_id(store, "Finance", "Pending").await)
        .await
        .unwrap();
    sync(store, &planka).await;
    let remote = remote_named(&fake, "Update CV");
    assert_eq!(fake.board_of(&remote.id).as_deref(), Some("Finance"));
    assert_eq!(fake.list_name(&remote.list_id).as_deref(), Some("Pending"));
    assert_eq!(fake.cards().len(), 2);
    assert!(!sync(store, &planka).await.changed());
}

async fn a_repeating_card_done_in_planka_is_followed_on_both_sides(store: &dyn Store) {
    let fake = FakePlanka::start().await;
    let planka = login(&fake).await;
    let card = store
        .card_add(&NewCard {
            list_id: list_id(store, "Health", "Habits").await,
            title: "Weigh in".into(),
            description: String::new(),
            due: Some(Due::Day {
                date: NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
            }),
            labels: vec![],
            project_id: None,
            repeat: Some("every monday".into()),
        })
        .await
        .unwrap();
    sync(store, &planka).await;
    let remote = remote_named(&fake, "Weigh in");
    let completed = fake
        .lists_of("Health")
        .into_iter()
        .find(|l| l.1 == "Completed")
        .unwrap()
        .0;
    fake.edit_card_as_user(&remote.id, |c| c.list_id = completed.clone());
    sync(store, &planka).await;
    let cards = local_cards(store).await;
    let weigh: Vec<&CardRow> = cards.iter().filter(|c| c.title == "Weigh in").collect();
    assert_eq!(weigh.len(), 2, "{weigh:?}");
    let next = weigh.iter().find(|c| c.id != card.id).unwrap();
    assert!(!next.list_done);
    let next_day = next.due.unwrap().day(TZ);
    assert!(next_day > NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
    // The next one is in Planka too, after the same sync.
    let there: Vec<FakeCard> = fake
        .cards()
        .into_iter()
        .filter(|c| c.name == "Weigh in")
        .collect();
    assert_eq!(there.len(), 2, "{there:?}");
    assert!(!sync(store, &planka).await.changed());
}

async fn another_planka_server_gets_every_card_and_nothing_is_archived(store: &dyn Store) {
    let first = FakePlanka::start().await;
    add(store, "Career", "Inbox", "Update CV").await;
    add(store, "Family", "This Week", "Call mum").await;
    sync(store, &login(&first).await).await;
    // The owner moves to a new, empty Planka (or deletes the boards there).
    let second = FakePlanka::start().await;
    let report = sync(store, &login(&second).await).await;
    assert_eq!(report.deleted_here, 0, "{report:?}");
    assert_eq!(report.created_there, 2, "{report:?}");
    assert!(local_cards(store).await.iter().all(|c| !c.archived));
    remote_named(&second, "Update CV");
    assert_eq!(
        second
            .list_name(&remote_named(&second, "Call mum").list_id)
            .as_deref(),
        Some("This Week")
    );
}

async fn two_syncs_at_once_make_no_duplicate(store: &dyn Store) {
    let fake = FakePlanka::start().await;
    let (a, b) = (login(&fake).await, login(&fake).await);
    for i in 0..8 {
        add(store, "Career", "Inbox", &format!("Task {i}")).await;
    }
    // The job and the follow loop may start together.
    let (x, y) = tokio::join!(
        sync_over(store, &a, "OpenZero", TZ),
        sync_over(store, &b, "OpenZero", TZ)
    );
    x.unwrap();
    y.unwrap();
    assert_eq!(fake.cards().len(), 8, "{:?}", fake.cards());
    assert_eq!(fake.board_names().len(), 5);
    assert_eq!(local_cards(store).await.len(), 8);
}

/// A small deterministic generator (no dependency for one test).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from((self.0 >> 33) % n as u64).unwrap()
    }
}

/// What a user sees of a card on either side.
type Seen = (String, String, String, String, Vec<String>);

async fn seen_here(store: &dyn Store) -> Vec<Seen> {
    let mut v: Vec<Seen> = local_cards(store)
        .await
        .into_iter()
        .map(|c| {
            let mut labels = c.labels.clone();
            labels.sort();
            (c.board, c.list, c.title, c.description, labels)
        })
        .collect();
    v.sort();
    v
}

fn seen_there(fake: &FakePlanka) -> Vec<Seen> {
    let mut v: Vec<Seen> = fake
        .cards()
        .into_iter()
        .map(|c| {
            (
                fake.board_of(&c.id).unwrap(),
                fake.list_name(&c.list_id).unwrap(),
                c.name.clone(),
                c.description.clone().unwrap_or_default(),
                fake.label_names_on(&c.id),
            )
        })
        .collect();
    v.sort();
    v
}

async fn a_hundred_random_edits_on_both_sides_end_equal(store: &dyn Store, seed: u64) {
    let fake = FakePlanka::start().await;
    let planka = login(&fake).await;
    let mut rng = Lcg(seed);
    let boards = ["Career", "Health", "Family", "Finance", "Creative"];
    for i in 0..6 {
        let b = boards[i % boards.len()];
        let lists = store.boards().await.unwrap();
        let list = &lists.iter().find(|x| x.name == b).unwrap().lists[0].name;
        add(store, b, list, &format!("seed card {i}")).await;
    }
    sync(store, &planka).await;
    let mut made = 0;
    for step in 0..100 {
        let here = local_cards(store).await;
        let there = fake.cards();
        match rng.below(9) {
            0 => {
                let b = boards[rng.below(boards.len())];
                let all = store.boards().await.unwrap();
                let board = all.iter().find(|x| x.name == b).unwrap();
                let list = &board.lists[rng.below(board.lists.len())].name;
                made += 1;
                add(store, b, list, &format!("here {made}")).await;
            }
            1 if !here.is_empty() => {
                let c = &here[rng.below(here.len())];
                store
                    .card_update(
                        c.id,
                        &CardPatch {
                            title: Some(format!("{} h{step}", c.title)),
                            labels: Some(vec![format!("l{}", rng.below(3))]),
                            ..CardPatch::default()
                        },
                        "edited",
                    )
                    .await
                    .unwrap();
            }
            2 if !here.is_empty() => {
                let c = &here[rng.below(here.len())];
                let all = store.boards().await.unwrap();
                let board = &all[rng.below(all.len())];
                let list = board.lists[rng.below(board.lists.len())].id;
                store.card_move(c.id, list).await.unwrap();
            }
            3 if !here.is_empty() => {
                let c = &here[rng.below(here.len())];
                store
                    .card_update(
                        c.id,
                        &CardPatch {
                            archived: Some(true),
                            ..CardPatch::default()
                        },
                        "archived",
                    )
                    .await
                    .unwrap();
            }
            4 => {
                let b = boards[rng.below(boards.len())];
                let lists = fake.lists_of(b);
                if !lists.is_empty() {
                    let (list, _) = &lists[rng.below(lists.len())];
                    made += 1;
                    let label = format!("l{}", rng.below(3));
                    fake.create_card_as_user(list, &format!("there {made}"), &[&label]);
                }
            }
            5 if !there.is_empty() => {
                let c = &there[rng.below(there.len())];
                fake.edit_card_as_user(&c.id, |x| {
                    x.name = format!("{} t{step}", x.name);
                    x.description = Some(format!("note {step}"));
                });
            }
            6 if !there.is_empty() => {
                let c = &there[rng.below(there.len())];
                let board = fake.board_of(&c.id).unwrap();
                let lists = fake.lists_of(&board);
                let (list, _) = lists[rng.below(lists.len())].clone();
                fake.edit_card_as_user(&c.id, |x| x.list_id = list);
            }
            7 if !there.is_empty() => {
                let c = &there[rng.below(there.len())];
                fake.delete_card_as_user(&c.id);
            }
            _ => {
                sync(store, &planka).await;
            }
        }
        // Edits land on distinct milliseconds, as people's do.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    sync(store, &planka).await;
    let last = sync(store, &planka).await;
    assert!(!last.changed(), "a settled sync changes nothing: {last:?}");
    let here = seen_here(store).await;
    let there = seen_there(&fake);
    assert_eq!(here, there, "both sides hold the same cards");
    let mut titles: Vec<&String> = here.iter().map(|s| &s.2).collect();
    titles.dedup();
    assert_eq!(titles.len(), here.len(), "no duplicate card");
    assert!(here.len() > 3, "the run kept some cards: {here:?}");
}

macro_rules! on_both {
    ($($name:ident $(($arg:expr))?),* $(,)?) => {
        mod sqlite_backend {
            $(
                #[tokio::test]
                async fn $name() {
                    let (_dir, store) = super::sqlite().await;
                    super::$name(store.as_ref() $(, $arg)?).await;
                }
            )*
        }
        mod postgres_backend {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(store) = super::postgres().await else { return };
                    super::$name(store.as_ref() $(, $arg)?).await;
                }
            )*
        }
    };
}

on_both!(
    first_sync_builds_the_seed_and_a_second_changes_nothing,
    edits_meet_and_the_loser_of_a_conflict_goes_to_history,
    deletions_cross_unless_the_other_side_edited,
    planka_down_keeps_changes_and_a_stopped_sync_resumes,
    cards_from_planka_arrive_and_moves_between_boards_follow,
    a_repeating_card_done_in_planka_is_followed_on_both_sides,
    another_planka_server_gets_every_card_and_nothing_is_archived,
    two_syncs_at_once_make_no_duplicate,
    a_hundred_random_edits_on_both_sides_end_equal(7),
);

#[tokio::test]
async fn a_hundred_random_edits_with_other_seeds() {
    for seed in [1, 42, 2026] {
        let (_dir, store) = sqlite().await;
        a_hundred_random_edits_on_both_sides_end_equal(store.as_ref(), seed).await;
    }
}
