//! Health of the running system: each component reports, and the overall
//! status is folded from them.

use serde::{Deserialize, Serialize};

/// State of one component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentStatus {
    /// Working.
    Ok,
    /// Working with a problem the owner should look at.
    Degraded,
    /// Configured but not working.
    Down,
    /// Not configured, or not part of this build yet; never counts against health.
    Disabled,
}

/// Overall state reported by `GET /health`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverallStatus {
    Ok,
    Degraded,
    Down,
}

/// One component's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component {
    pub status: ComponentStatus,
    pub detail: String,
    /// Whether the service is useless without this component (storage is).
    #[serde(skip)]
    pub critical: bool,
}

impl Component {
    pub fn new(status: ComponentStatus, detail: impl Into<String>, critical: bool) -> Self {
        Self {
            status,
            detail: detail.into(),
            critical,
        }
    }
}

/// A component that reports on itself in `/health`, `/status` and
/// `doctor`. Capabilities register theirs with the process's services.
#[async_trait::async_trait]
pub trait HealthCheck: Send + Sync + std::fmt::Debug {
    /// The component's name in the report ("telegram", "scheduler").
    fn name(&self) -> &str;
    async fn check(&self) -> Component;
}

/// A check whose answer is fixed (a channel that is not configured, or
/// that could not start and says why).
#[derive(Debug, Clone)]
pub struct Fixed {
    pub name: String,
    pub component: Component,
}

#[async_trait::async_trait]
impl HealthCheck for Fixed {
    fn name(&self) -> &str {
        &self.name
    }

    async fn check(&self) -> Component {
        self.component.clone()
    }
}

/// Folds component reports: a critical component down makes the whole
/// service down; any other problem makes it degraded.
pub fn overall<'a>(components: impl IntoIterator<Item = &'a Component>) -> OverallStatus {
    let mut worst = OverallStatus::Ok;
    for c in components {
        match c.status {
            ComponentStatus::Down if c.critical => return OverallStatus::Down,
            ComponentStatus::Down | ComponentStatus::Degraded => worst = OverallStatus::Degraded,
            ComponentStatus::Ok | ComponentStatus::Disabled => {}
        }
    }
    worst
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn critical_down_is_down_other_problems_degrade() {
        let ok = Component::new(ComponentStatus::Ok, "", true);
        let off = Component::new(ComponentStatus::Disabled, "", false);
        let llm_down = Component::new(ComponentStatus::Down, "", false);
        let store_down = Component::new(ComponentStatus::Down, "", true);
        assert_eq!(overall([&ok, &off]), OverallStatus::Ok);
        assert_eq!(overall([&ok, &llm_down]), OverallStatus::Degraded);
        assert_eq!(overall([&llm_down, &store_down]), OverallStatus::Down);
    }
}
