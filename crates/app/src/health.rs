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

/// Checks semantic memory: is the model there, and how much waits to be embedded.
pub async fn memory(store: &dyn Store, model_dir: &std::path::Path) -> Component {
    let missing: Vec<&str> = openzero_embed::MODEL_FILES
        .iter()
        .copied()
        .filter(|f| !model_dir.join(f).is_file())
        .collect();
    let stats =
        tokio::time::timeout(CHECK_TIMEOUT, store.memory_stats(openzero_embed::MODEL_ID)).await;
    let counts = match &stats {
        Ok(Ok(s)) => format!(
            "{} {}, {} waiting to be embedded",
            s.total,
            if s.total == 1 { "memory" } else { "memories" },
            s.backlog
        ),
        Ok(Err(e)) => format!("cannot count memories: {e}"),
        Err(_) => "cannot count memories: no answer".to_owned(),
    };
    if !missing.is_empty() {
        return Component::new(
            ComponentStatus::Down,
            format!(
                "embedding model missing from {} (no {}): text is stored but search is by words only; {}; {counts}",
                model_dir.display(),
                missing.join(", "),
                openzero_embed::HOW_TO_GET
            ),
            false,
        );
    }
    match stats {
        Ok(Ok(s)) if s.backlog > 0 => Component::new(
            ComponentStatus::Degraded,
            format!("{counts}; run `openzero memory reindex`"),
            false,
        ),
        Ok(Ok(_)) => Component::new(ComponentStatus::Ok, counts, false),
        _ => Component::new(ComponentStatus::Down, counts, false),
    }
}

/// Checks the chat model the settings ask for.
pub fn llm(chat: &crate::agent::ChatTarget) -> Component {
    use crate::agent::ChatTarget;
    match chat {
        ChatTarget::File(path) if path.is_file() => Component::new(
            ComponentStatus::Ok,
            format!("embedded model {} (local)", path.display()),
            false,
        ),
        ChatTarget::File(path) => Component::new(
            ComponentStatus::Down,
            format!(
                "embedded model missing: {} ({})",
                path.display(),
                openzero_llm::embedded::HOW_TO_GET
            ),
            false,
        ),
        ChatTarget::Server {
            provider,
            base_url,
            model,
            locality,
            rule,
            ..
        } => Component::new(
            ComponentStatus::Ok,
            match locality {
                openzero_llm::Locality::Local => format!(
                    "{provider} at {base_url}, model {model} (your network: {rule}; not probed)"
                ),
                openzero_llm::Locality::Cloud => format!(
                    "{provider} at {base_url}, model {model} (cloud: {rule}; each request waits for your approval; not probed)"
                ),
            },
            false,
        ),
        ChatTarget::Unavailable(why) => Component::new(ComponentStatus::Down, why.clone(), false),
    }
}

/// Every component of the running service, by name.
pub async fn components(
    store: &dyn Store,
    model_dir: &std::path::Path,
    chat: &crate::agent::ChatTarget,
) -> BTreeMap<String, Component> {
    let mut out = BTreeMap::new();
    out.insert("storage".to_owned(), storage(store).await);
    out.insert("memory".to_owned(), memory(store, model_dir).await);
    out.insert("llm".to_owned(), llm(chat));
    out
}
