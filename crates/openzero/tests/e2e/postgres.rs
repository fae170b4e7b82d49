//! The same user journey on PostgreSQL, chosen by DATABASE_URL alone.

use crate::common;

use common::Oz;
use predicates::prelude::*;

#[tokio::test]
async fn project_tree_on_postgres() {
    let Some(url) = openzero_store_postgres::testing::fresh_database_url().await else {
        return;
    };
    let oz = Oz::new();
    let run = |args: &[&str]| {
        oz.cmd()
            .args(args)
            .env("DATABASE_URL", &url)
            .assert()
            .success()
    };
    run(&[
        "project",
        "add",
        "Career",
        "--priority",
        "1",
        "--progress",
        "40",
    ]);
    run(&[
        "project",
        "add",
        "Job Applications",
        "--parent",
        "Career",
        "--status",
        "paused",
        "--progress",
        "20",
    ]);
    run(&[
        "project",
        "add",
        "Family",
        "--priority",
        "2",
        "--progress",
        "60",
    ]);
    run(&[
        "project",
        "add",
        "Kindergarten Registration",
        "--parent",
        "family",
        "--status",
        "completed",
        "--progress",
        "100",
    ]);
    run(&["tree"]).stdout(
        "[ACTIVE] Career [40%]\n  [PAUSED] Job Applications [20%]\n[ACTIVE] Family [60%]\n  [DONE] Kindergarten Registration [100%]\n",
    );
    run(&["project", "remove", "Career"])
        .stdout(predicate::str::contains("moved up to the top level"));
    run(&["doctor"]).stdout(predicate::str::contains(
        "postgres at postgres://postgres@127.0.0.1",
    ));
    assert!(
        !oz.data.join("openzero.db").exists(),
        "no SQLite file when PostgreSQL is configured"
    );
}

#[tokio::test]
async fn wrong_password_on_postgres_is_a_clear_error() {
    let Some(url) = openzero_store_postgres::testing::fresh_database_url().await else {
        return;
    };
    let host = url.split('@').nth(1).unwrap();
    let oz = Oz::new();
    let out = oz
        .cmd()
        .args(["tree"])
        .env("DATABASE_URL", format!("postgres://oz_pw:wrong-one@{host}"))
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("refused the login"), "{stderr}");
    assert!(
        stderr.contains("check the user and password in DATABASE_URL"),
        "{stderr}"
    );
    assert!(!stderr.contains("wrong-one"));
}
