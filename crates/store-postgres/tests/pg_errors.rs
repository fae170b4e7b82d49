//! Connection failures are reported with the cause and never leak the password.

use openzero_store::StoreError;
use openzero_store_postgres::{PgStore, testing};

#[tokio::test]
async fn unreachable_server_is_named_without_password() {
    // Port 1 on loopback: nothing listens there.
    let err = PgStore::connect("postgres://oz:s3cr3t-pw@127.0.0.1:1/oz")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unreachable { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("127.0.0.1:1"), "{msg}");
    assert!(msg.contains("is PostgreSQL running"), "{msg}");
    assert!(!msg.contains("s3cr3t-pw"), "{msg}");
    assert!(!format!("{err:?}").contains("s3cr3t-pw"));
}

#[tokio::test]
async fn wrong_password_is_an_auth_error() {
    let Some(url) = testing::fresh_database_url().await else {
        return;
    };
    // The test server's `oz_pw` role has password auth (see scripts/pg-test-server).
    let base = url.split('@').nth(1).expect("url has a host part");
    let wrong = format!("postgres://oz_pw:definitely-wrong@{base}");
    let err = PgStore::connect(&wrong).await.unwrap_err();
    assert!(matches!(err, StoreError::Auth { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("refused the login"), "{msg}");
    assert!(!msg.contains("definitely-wrong"), "{msg}");
}

#[tokio::test]
async fn missing_database_says_create_it() {
    let Some(url) = testing::fresh_database_url().await else {
        return;
    };
    let base = url.rsplit_once('/').unwrap().0;
    let err = PgStore::connect(&format!("{base}/no_such_db_here"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("createdb"), "{err}");
}
