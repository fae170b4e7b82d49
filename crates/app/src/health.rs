//! Component health, shared by `GET /health` and `openzero doctor`.

use std::collections::BTreeMap;
use std::time::Duration;

use openzero_core::health::{Component, ComponentStatus};
use openzero_store::Store;

/// How long a component may take to answer a health check.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// Checks the storage component.
pub async fn storage(store: &dyn Store) -> Component {
    let target = format!("{} at {}", store.backend().as_str(), store.target());
    match tokio::time::timeout(CHECK_TIMEOUT, store.ping()).await {
        Ok(Ok(())) => Component::new(ComponentStatus::Ok, target, true),
        Ok(Err(e)) => Component::new(ComponentStatus::Down, e.to_string(), true),
        Err(_) => Component::new(
            ComponentStatus::Down,
            format!("{target}: no answer within {} s", CHECK_TIMEOUT.as_secs()),
            true,
        ),
    }
}

/// Every component of the running service, by name.
pub async fn components(store: &dyn Store) -> BTreeMap<String, Component> {
    let mut out = BTreeMap::new();
    out.insert("storage".to_owned(), storage(store).await);
    out
}
