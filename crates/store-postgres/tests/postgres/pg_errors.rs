//! Connection failures are reported with the cause and never leak the password.

use openzero_store::StoreError;
use openzero_store::prelude::*;
use openzero_store_postgres::{PgStore, testing};
use sqlx::Connection;

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

#[tokio::test]
async fn missing_pgvector_rights_say_how_to_get_them() {
    let Some(url) = testing::fresh_database_url().await else {
        return;
    };
    // oz_pw owns the database but is no superuser: it may not create the
    // pgvector extension, which is what an owner on a managed server meets.
    let (base, db) = url.rsplit_once('/').unwrap();
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query(&format!("ALTER DATABASE {db} OWNER TO oz_pw"))
        .execute(&mut admin)
        .await
        .unwrap();
    sqlx::query("GRANT ALL ON SCHEMA public TO oz_pw")
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.ok();
    let host = base.split('@').nth(1).unwrap();
    let err = PgStore::connect(&format!("postgres://oz_pw:the-right-password@{host}/{db}"))
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("pgvector"), "{msg}");
    assert!(msg.contains("CREATE EXTENSION vector"), "{msg}");
    assert!(!msg.contains("the-right-password"), "{msg}");
}

#[tokio::test]
async fn old_byte_vectors_convert_exactly() {
    let Some(url) = testing::fresh_database_url().await else {
        return;
    };
    let store = PgStore::connect(&url).await.unwrap();
    store.close().await;
    // The migration's decoder, kept in the schema, on awkward values:
    // negative zero, a subnormal, the largest and smallest normal floats.
    let values = [
        0.0f32,
        -0.0,
        1.0,
        -0.123_456_79,
        f32::MIN_POSITIVE,
        1e-45,
        f32::MAX,
        -3.402_823e38,
        0.333_333_34,
    ];
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let (v,): (pgvector::Vector,) = sqlx::query_as("SELECT openzero_f32le_to_vector($1)")
        .bind(bytes)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let got = v.to_vec();
    assert_eq!(got.len(), values.len());
    for (g, w) in got.iter().zip(values) {
        assert_eq!(g.to_bits(), w.to_bits(), "{g} != {w}");
    }
}
