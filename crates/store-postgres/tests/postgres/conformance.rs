//! The shared storage suite, on PostgreSQL: each test in its own database.

use openzero_store::Store;
use openzero_store_postgres::{PgStore, testing};

async fn fresh() -> Option<Box<dyn Store>> {
    let url = testing::fresh_database_url().await?;
    Some(Box::new(PgStore::connect(&url).await.expect("connect")))
}

openzero_store::store_suite!(fresh());
