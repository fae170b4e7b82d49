//! What the client makes of Planka down, slow, or answering garbage, and
//! its request counter.

use std::time::Duration;

use openzero_planka::{Planka, PlankaError};

use crate::client::{TIMEOUT, logged_in, seed};
use openzero_planka::fake::{EMAIL, FakePlanka, PASSWORD};

#[tokio::test]
async fn planka_down_is_unreachable_and_calls_work_again_after() {
    let (fake, planka) = logged_in().await;
    let (project, _) = seed(&planka).await;
    fake.go_down();
    let e = planka.projects().await.unwrap_err();
    assert!(e.is_unreachable(), "{e:?}");
    assert!(e.to_string().contains("503"), "{e}");
    let e = planka.create_project("Other").await.unwrap_err();
    assert!(e.is_unreachable(), "{e:?}");
    fake.come_back();
    let projects = planka.projects().await.unwrap();
    assert_eq!(projects.len(), 1, "nothing was created while down");
    assert_eq!(projects[0].id, project.id);
    assert_eq!(projects[0].boards.len(), 5);
}

#[tokio::test]
async fn a_closed_port_and_a_hung_server_are_unreachable() {
    // A port that was just free: connection refused.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = Planka::login(
        &format!("http://127.0.0.1:{port}"),
        EMAIL,
        PASSWORD,
        TIMEOUT,
    )
    .await
    .unwrap_err();
    assert!(e.is_unreachable(), "{e:?}");
    assert!(!e.to_string().contains(PASSWORD));

    // An answer slower than the timeout.
    let fake = FakePlanka::start().await;
    let planka = Planka::login(fake.url(), EMAIL, PASSWORD, Duration::from_millis(300))
        .await
        .unwrap();
    fake.set_delay(Duration::from_secs(2));
    let e = planka.projects().await.unwrap_err();
    assert!(e.is_unreachable(), "{e:?}");
    assert!(e.to_string().contains("timed out"), "{e}");
    fake.set_delay(Duration::ZERO);
    assert!(planka.projects().await.is_ok());
}

#[tokio::test]
async fn garbage_answers_are_malformed_not_panics() {
    let (fake, planka) = logged_in().await;
    let (_, made) = seed(&planka).await;
    let board = &made[0].0.id;
    let board_path = format!("/api/boards/{board}");
    for body in [
        "{not json",
        "",
        "<html>hello</html>",
        r#"{"items": 5}"#,
        r#"{"item": {"id": "1"}}"#,
        r#"{"item": {"id": "1", "projectId": "2", "name": "B", "position": "first"}}"#,
        r#"{"item": {"id": "1", "projectId": "2", "name": "B"}, "included": {"cards": [{"id": "9"}]}}"#,
        r#"{"item": {"id": "1", "projectId": "2", "name": "B"}, "included": {"cards": [{"id": "9", "boardId": "1", "listId": "3", "name": "c", "dueDate": "tomorrow"}]}}"#,
        "[]",
        "null",
    ] {
        fake.answer_next("GET", &board_path, 200, body);
        let e = planka.board(board).await.unwrap_err();
        assert!(matches!(e, PlankaError::Malformed(_)), "{body}: {e:?}");
    }
    fake.answer_next("GET", "/api/projects", 200, r#"{"items": [{"id": "1"}]}"#);
    assert!(matches!(
        planka.projects().await,
        Err(PlankaError::Malformed(_))
    ));
    // A login answer without a usable token.
    for body in [
        r#"{"item": 42}"#,
        r#"{"item": ""}"#,
        r#"{"item": "two words"}"#,
        "{}",
    ] {
        fake.answer_next("POST", "/api/access-tokens", 200, body);
        let e = Planka::login(fake.url(), EMAIL, PASSWORD, TIMEOUT)
            .await
            .unwrap_err();
        assert!(matches!(e, PlankaError::Malformed(_)), "{body}: {e:?}");
    }
    // A lenient read: nulls and missing optional parts are fine.
    fake.answer_next(
        "GET",
        &board_path,
        200,
        r#"{"item": {"id": "1", "projectId": "2", "name": "B", "position": null, "extra": [1, 2]}}"#,
    );
    let detail = planka.board(board).await.unwrap();
    assert!(detail.lists.is_empty() && detail.cards.is_empty());
    // And the real answer is back after the canned ones.
    assert_eq!(planka.board(board).await.unwrap().lists.len(), 4);
}

#[tokio::test]
async fn requests_made_counts_every_request() {
    let fake = FakePlanka::start().await;
    let planka = Planka::login(fake.url(), EMAIL, PASSWORD, TIMEOUT)
        .await
        .unwrap();
    assert_eq!(planka.requests_made(), 1, "the login");
    let (_, made) = seed(&planka).await;
    // 1 project + 5 boards + 16 lists.
    assert_eq!(planka.requests_made(), 1 + 1 + 5 + 16);
    let before = planka.requests_made();
    planka.board(&made[0].0.id).await.unwrap();
    assert_eq!(planka.requests_made(), before + 1);
    // A label needs the board's labels first (for its position): two.
    planka
        .create_label(&made[0].0.id, "x", "lagoon-blue")
        .await
        .unwrap();
    assert_eq!(planka.requests_made(), before + 3);
    // Failed requests count too.
    fake.go_down();
    let _ = planka.projects().await;
    assert_eq!(planka.requests_made(), before + 4);
    assert_eq!(planka.requests_made(), fake.request_count());
}
