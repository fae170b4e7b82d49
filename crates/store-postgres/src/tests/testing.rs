//! Test support: a fresh, empty database per test on the PostgreSQL server
//! named by `OPENZERO_TEST_POSTGRES_URL` (set by `scripts/test`).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Connection;

/// Environment variable holding an admin URL to the test server.
pub const ENV: &str = "OPENZERO_TEST_POSTGRES_URL";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Creates a new database and returns its URL, or `None` when no test server
/// is configured. In CI (`CI` set) a missing server is a failure, never a skip.
pub async fn fresh_database_url() -> Option<String> {
    let Ok(admin) = std::env::var(ENV) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "{ENV} is not set: the PostgreSQL suite must run in CI (use scripts/test)"
        );
        eprintln!("skipped: {ENV} not set (scripts/test starts a PostgreSQL server for you)");
        return None;
    };
    let name = format!(
        "oz_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        chrono::Utc::now().timestamp_micros() % 1_000_000
    );
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("connect to the test PostgreSQL server");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create test database");
    conn.close().await.ok();
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    Some(format!("{base}/{name}"))
}
