//! The client's calls, read back through the client and the fake's state.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use openzero_planka::{
    Board, CardFields, CardUpdate, List, ListUpdate, POSITION_GAP, Planka, PlankaError, Project,
};

use openzero_planka::fake::{EMAIL, FakePlanka, PASSWORD, USERNAME};

pub const TIMEOUT: Duration = Duration::from_secs(5);

/// The seed's boards and their lists, left to right.
const SEED: &[(&str, &[&str])] = &[
    ("Career", &["Inbox", "In Progress", "Blocked", "Done"]),
    ("Health", &["Inbox", "Habits", "Completed"]),
    ("Family", &["Inbox", "This Week", "Done"]),
    ("Finance", &["Inbox", "Pending", "Resolved"]),
    ("Creative", &["Ideas", "Active", "Shipped"]),
];

pub async fn logged_in() -> (FakePlanka, Planka) {
    let fake = FakePlanka::start().await;
    let planka = Planka::login(fake.url(), EMAIL, PASSWORD, TIMEOUT)
        .await
        .expect("log in");
    (fake, planka)
}

/// Creates the seed's project, boards and lists through the client.
pub async fn seed(planka: &Planka) -> (Project, Vec<(Board, Vec<List>)>) {
    let project = planka.create_project("OpenZero").await.unwrap();
    let mut boards = Vec::new();
    for (i, (name, lists)) in SEED.iter().enumerate() {
        let board = planka
            .create_board(&project.id, name, POSITION_GAP * (i as f64 + 1.0))
            .await
            .unwrap();
        let mut made = Vec::new();
        for (j, list) in lists.iter().enumerate() {
            made.push(
                planka
                    .create_list(&board.id, list, POSITION_GAP * (j as f64 + 1.0))
                    .await
                    .unwrap(),
            );
        }
        boards.push((board, made));
    }
    (project, boards)
}

fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
}

#[tokio::test]
async fn login_by_email_or_username_and_the_token_stays_hidden() {
    let fake = FakePlanka::start().await;
    let planka = Planka::login(fake.url(), EMAIL, PASSWORD, TIMEOUT)
        .await
        .unwrap();
    // A trailing slash and the username work too.
    let by_name = Planka::login(&format!("{}/", fake.url()), USERNAME, PASSWORD, TIMEOUT)
        .await
        .unwrap();
    assert!(planka.projects().await.unwrap().is_empty());
    assert!(by_name.projects().await.unwrap().is_empty());
    let debug = format!("{planka:?}");
    assert!(debug.contains("[hidden]"), "{debug}");
    assert!(
        !debug.contains("eyJ"),
        "the token leaked into Debug: {debug}"
    );
    assert!(!debug.contains(PASSWORD));
    // Only the login went to /api/access-tokens; no token in any path.
    let log = fake.requests();
    assert_eq!(log[0], ("POST".to_owned(), "/api/access-tokens".to_owned()));
    assert!(log.iter().all(|(_, p)| !p.contains("eyJ")));
}

#[tokio::test]
async fn a_bad_password_or_user_is_unauthorized_and_the_password_never_shows() {
    let fake = FakePlanka::start().await;
    let wrong = "hunter2-not-the-password";
    let e = Planka::login(fake.url(), EMAIL, wrong, TIMEOUT)
        .await
        .unwrap_err();
    assert_eq!(e, PlankaError::Unauthorized);
    assert!(!e.to_string().contains(wrong));
    assert!(!format!("{e:?}").contains(wrong));
    let e = Planka::login(fake.url(), "nobody", PASSWORD, TIMEOUT)
        .await
        .unwrap_err();
    assert_eq!(e, PlankaError::Unauthorized);
    assert!(!e.to_string().contains(PASSWORD));
    // A validation error that quotes the password is scrubbed.
    fake.answer_next(
        "POST",
        "/api/access-tokens",
        400,
        &format!(
            r#"{{"code":"E_MISSING_OR_INVALID_PARAMS","message":"Invalid \"password\": Value ('{wrong}') is too long"}}"#
        ),
    );
    let e = Planka::login(fake.url(), EMAIL, wrong, TIMEOUT)
        .await
        .unwrap_err();
    assert!(matches!(e, PlankaError::Http { status: 400, .. }), "{e:?}");
    assert!(!e.to_string().contains(wrong), "{e}");
    assert!(!format!("{e:?}").contains(wrong));
}

#[tokio::test]
async fn a_token_planka_no_longer_accepts_is_unauthorized() {
    let (fake, planka) = logged_in().await;
    fake.revoke_tokens();
    assert_eq!(
        planka.projects().await.unwrap_err(),
        PlankaError::Unauthorized
    );
}

#[tokio::test]
async fn bad_base_addresses_are_refused_before_any_request() {
    for bad in ["planka.local", "ftp://planka.local", "http://", "not a url"] {
        let e = Planka::login(bad, EMAIL, PASSWORD, TIMEOUT)
            .await
            .unwrap_err();
        assert!(matches!(e, PlankaError::BadUrl(_)), "{bad}: {e:?}");
    }
    let e = Planka::login("http://me:pw-in-url@127.0.0.1:1", EMAIL, PASSWORD, TIMEOUT)
        .await
        .unwrap_err();
    assert!(matches!(e, PlankaError::BadUrl(_)));
    assert!(!e.to_string().contains("pw-in-url"));
}

#[tokio::test]
async fn the_seed_structure_reads_back_through_projects_and_board() {
    let (_fake, planka) = logged_in().await;
    let (project, made) = seed(&planka).await;
    assert_eq!(project.name, "OpenZero");
    assert!(project.id.bytes().all(|b| b.is_ascii_digit()));
    assert!(project.created_at.is_some());
    assert_eq!(project.updated_at, None, "never changed yet");

    let projects = planka.projects().await.unwrap();
    assert_eq!(projects.len(), 1);
    let p = &projects[0];
    assert_eq!(
        (p.id.as_str(), p.name.as_str()),
        (project.id.as_str(), "OpenZero")
    );
    let names: Vec<&str> = p.boards.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["Career", "Health", "Family", "Finance", "Creative"]);
    assert!(p.boards.windows(2).all(|w| w[0].position < w[1].position));

    for ((board, lists), (name, list_names)) in made.iter().zip(SEED) {
        let detail = planka.board(&board.id).await.unwrap();
        assert_eq!(detail.board.name, *name);
        assert_eq!(detail.board.project_id, project.id);
        let got: Vec<&str> = detail
            .lists
            .iter()
            .map(|l| l.name.as_deref().unwrap_or(""))
            .collect();
        assert_eq!(got, *list_names);
        let ids: Vec<&str> = detail.lists.iter().map(|l| l.id.as_str()).collect();
        let made_ids: Vec<&str> = lists.iter().map(|l| l.id.as_str()).collect();
        assert_eq!(ids, made_ids);
        assert!(detail.cards.is_empty() && detail.labels.is_empty());
    }
}

#[tokio::test]
async fn a_list_is_renamed_and_moved() {
    let (_fake, planka) = logged_in().await;
    let (_, made) = seed(&planka).await;
    let (board, lists) = &made[0];
    let renamed = planka
        .update_list(
            &lists[2].id,
            &ListUpdate {
                name: Some("Waiting".into()),
                position: Some(0.5),
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.name.as_deref(), Some("Waiting"));
    assert!(renamed.updated_at.is_some());
    let detail = planka.board(&board.id).await.unwrap();
    assert_eq!(detail.lists[0].name.as_deref(), Some("Waiting"));
    assert!(detail.list_named("Blocked").is_none());
}

#[tokio::test]
async fn a_card_is_created_changed_moved_labelled_and_deleted() {
    let (fake, planka) = logged_in().await;
    let (_, made) = seed(&planka).await;
    let (career, career_lists) = &made[0];
    let (health, health_lists) = &made[1];

    // Create, with an empty description (sent as none: Planka refuses "").
    let card = planka
        .create_card(
            &career_lists[0].id,
            &CardFields {
                name: "Update CV".into(),
                position: POSITION_GAP,
                description: Some(String::new()),
                due_date: Some(at(2025, 3, 1, 9)),
            },
        )
        .await
        .unwrap();
    assert_eq!(card.list_id, career_lists[0].id);
    assert_eq!(card.board_id, career.id);
    assert_eq!(card.description, None);
    assert_eq!(card.due_date, Some(at(2025, 3, 1, 9)));
    assert_eq!(card.is_due_date_completed, Some(false));
    assert_eq!(card.updated_at, None);
    let created = card.changed_at().unwrap();
    let detail = planka.board(&career.id).await.unwrap();
    assert_eq!(detail.card(&card.id), Some(&card));
    assert_eq!(detail.cards_in(&career_lists[0].id).len(), 1);

    // Update name, description and due date; updatedAt moves forward.
    let changed = planka
        .update_card(
            &card.id,
            &CardUpdate {
                name: Some("Update CV and LinkedIn".into()),
                description: Some(Some("Both, this week.".into())),
                due_date: Some(Some(at(2025, 3, 7, 17))),
                ..CardUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(changed.name, "Update CV and LinkedIn");
    assert_eq!(changed.description.as_deref(), Some("Both, this week."));
    assert_eq!(changed.due_date, Some(at(2025, 3, 7, 17)));
    let first_update = changed.updated_at.expect("updatedAt set by a change");
    assert!(first_update > created);
    assert_eq!(
        planka.board(&career.id).await.unwrap().card(&card.id),
        Some(&changed)
    );

    // Clear description and due date; mark... nothing to complete without a date.
    let cleared = planka
        .update_card(
            &card.id,
            &CardUpdate {
                description: Some(None),
                due_date: Some(None),
                ..CardUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(cleared.description, None);
    assert_eq!(cleared.due_date, None);
    assert_eq!(cleared.is_due_date_completed, None);
    assert!(cleared.updated_at.unwrap() > first_update);

    // Move to another list: without a position Planka answers 422.
    let e = planka
        .update_card(
            &card.id,
            &CardUpdate {
                list_id: Some(career_lists[1].id.clone()),
                ..CardUpdate::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, PlankaError::Http { status: 422, code: Some(c), .. } if c == "E_UNPROCESSABLE_ENTITY"),
        "{e:?}"
    );
    let moved = planka
        .update_card(
            &card.id,
            &CardUpdate::move_to(&career_lists[1].id, POSITION_GAP),
        )
        .await
        .unwrap();
    assert_eq!(moved.list_id, career_lists[1].id);
    let detail = planka.board(&career.id).await.unwrap();
    assert!(detail.cards_in(&career_lists[0].id).is_empty());
    assert_eq!(detail.cards_in(&career_lists[1].id)[0].id, card.id);

    // Label it; the label shows on the board, and labelling does not touch updatedAt.
    let urgent = planka
        .create_label(&career.id, "urgent", "berry-red")
        .await
        .unwrap();
    assert_eq!(urgent.board_id, career.id);
    planka.add_card_label(&card.id, &urgent.id).await.unwrap();
    let e = planka
        .add_card_label(&card.id, &urgent.id)
        .await
        .unwrap_err();
    assert!(matches!(e, PlankaError::Http { status: 409, .. }), "{e:?}");
    let detail = planka.board(&career.id).await.unwrap();
    let on: Vec<&str> = detail
        .labels_of(&card.id)
        .iter()
        .map(|l| l.name.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(on, ["urgent"]);
    assert_eq!(detail.card(&card.id).unwrap().updated_at, moved.updated_at);
    assert_eq!(fake.label_names_on(&card.id), ["urgent"]);

    // Move to another board: a list of it is needed, and the label follows by name.
    let e = planka
        .update_card(
            &card.id,
            &CardUpdate {
                board_id: Some(health.id.clone()),
                ..CardUpdate::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(e, PlankaError::Http { status: 422, .. }), "{e:?}");
    let across = planka
        .update_card(
            &card.id,
            &CardUpdate::move_to_board(&health.id, &health_lists[1].id, POSITION_GAP),
        )
        .await
        .unwrap();
    assert_eq!(
        (across.board_id.as_str(), across.list_id.as_str()),
        (health.id.as_str(), health_lists[1].id.as_str())
    );
    assert!(
        planka
            .board(&career.id)
            .await
            .unwrap()
            .card(&card.id)
            .is_none()
    );
    let detail = planka.board(&health.id).await.unwrap();
    assert_eq!(detail.card(&card.id).unwrap().list_id, health_lists[1].id);
    assert_eq!(detail.labels_of(&card.id).len(), 1);
    assert_eq!(fake.board_label_names(&health.id), ["urgent"]);
    let health_urgent = detail.labels_of(&card.id)[0].id.clone();
    assert_ne!(health_urgent, urgent.id);

    // Take the label off; taking it off again is NotFound.
    planka
        .remove_card_label(&card.id, &health_urgent)
        .await
        .unwrap();
    assert!(
        planka
            .board(&health.id)
            .await
            .unwrap()
            .labels_of(&card.id)
            .is_empty()
    );
    let e = planka
        .remove_card_label(&card.id, &health_urgent)
        .await
        .unwrap_err();
    assert!(matches!(e, PlankaError::NotFound(_)), "{e:?}");

    // Delete; gone from the board and the fake; deleting again is NotFound.
    planka.delete_card(&card.id).await.unwrap();
    assert!(planka.board(&health.id).await.unwrap().cards.is_empty());
    assert!(fake.card(&card.id).is_none());
    let e = planka.delete_card(&card.id).await.unwrap_err();
    assert!(matches!(e, PlankaError::NotFound(_)), "{e:?}");
}

#[tokio::test]
async fn edits_made_in_planka_show_on_the_next_read() {
    let (fake, planka) = logged_in().await;
    let (_, made) = seed(&planka).await;
    let (family, lists) = &made[2];
    let card = planka
        .create_card(
            &lists[0].id,
            &CardFields {
                name: "Call grandma".into(),
                position: POSITION_GAP,
                ..CardFields::default()
            },
        )
        .await
        .unwrap();
    let task = planka
        .create_task(&card.id, "find her new number", false, POSITION_GAP)
        .await
        .unwrap();
    assert_eq!(task.card_id.as_deref(), Some(card.id.as_str()));

    let edited = fake
        .edit_card_as_user(&card.id, |c| {
            c.name = "Call grandma on Sunday".into();
            c.list_id = lists[1].id.clone();
        })
        .unwrap();
    let detail = planka.board(&family.id).await.unwrap();
    let seen = detail.card(&card.id).unwrap();
    assert_eq!(seen.name, "Call grandma on Sunday");
    assert_eq!(seen.list_id, lists[1].id);
    assert_eq!(seen.updated_at, edited.updated_at);
    assert!(seen.updated_at.unwrap() > card.created_at.unwrap());
    let tasks: Vec<&str> = detail
        .tasks_of(&card.id)
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(tasks, ["find her new number"]);

    assert!(fake.delete_card_as_user(&card.id));
    let detail = planka.board(&family.id).await.unwrap();
    assert!(detail.cards.is_empty() && detail.tasks.is_empty());
    assert_eq!(fake.cards(), []);
}

#[tokio::test]
async fn unknown_ids_are_not_found() {
    let (_fake, planka) = logged_in().await;
    let (_, made) = seed(&planka).await;
    let missing = "1357158568008091999";
    for e in [
        planka.board(missing).await.unwrap_err(),
        planka
            .update_card(
                missing,
                &CardUpdate {
                    name: Some("x".into()),
                    ..CardUpdate::default()
                },
            )
            .await
            .unwrap_err(),
        planka.delete_card(missing).await.unwrap_err(),
        planka.create_list(missing, "x", 1.0).await.unwrap_err(),
        planka.create_board(missing, "x", 1.0).await.unwrap_err(),
        planka
            .create_card(
                missing,
                &CardFields {
                    name: "x".into(),
                    ..CardFields::default()
                },
            )
            .await
            .unwrap_err(),
        planka.add_card_label(missing, missing).await.unwrap_err(),
        planka
            .update_card(
                &planka
                    .create_card(
                        &made[0].1[0].id,
                        &CardFields {
                            name: "c".into(),
                            ..CardFields::default()
                        },
                    )
                    .await
                    .unwrap()
                    .id,
                &CardUpdate::move_to(missing, 1.0),
            )
            .await
            .unwrap_err(),
    ] {
        assert!(
            matches!(&e, PlankaError::NotFound(m) if m.contains("/api/")),
            "{e:?}"
        );
    }
}

#[tokio::test]
async fn invalid_input_is_planka_s_400() {
    let (_fake, planka) = logged_in().await;
    let (_, made) = seed(&planka).await;
    let e = planka
        .create_label(&made[0].0.id, "urgent", "red")
        .await
        .unwrap_err();
    assert!(
        matches!(&e, PlankaError::Http { status: 400, code: Some(c), .. } if c == "E_MISSING_OR_INVALID_PARAMS"),
        "{e:?}"
    );
    // The fake accepts exactly the colours the client offers.
    assert_eq!(
        openzero_planka::fake::LABEL_COLORS,
        openzero_planka::LABEL_COLORS
    );
    let e = planka.create_project("").await.unwrap_err();
    assert!(matches!(e, PlankaError::Http { status: 400, .. }), "{e:?}");
}

#[tokio::test]
async fn my_id_is_the_user_webhooks_name_and_a_board_can_be_renamed() {
    let (fake, planka) = logged_in().await;
    let (_, boards) = seed(&planka).await;
    let me = planka.my_id().await.unwrap();
    assert!(!me.is_empty() && me.bytes().all(|b| b.is_ascii_digit()));
    assert_ne!(me, openzero_planka::fake::HUMAN_ID);
    let renamed = planka.rename_board(&boards[0].0.id, "Work").await.unwrap();
    assert_eq!(renamed.name, "Work");
    assert_eq!(fake.board_names()[0], "Work");
    assert!(renamed.updated_at.is_some());
}
