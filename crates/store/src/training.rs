//! The training port: activities (from files now, Strava later), each kept
//! once by its source and external id, with the figures the coach reads
//! and the samples and laps as JSON.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::StoreError;

/// An activity to keep.
#[derive(Debug, Clone, PartialEq)]
pub struct NewActivity {
    /// `file` (the SHA-256 of its bytes is the external id) or `strava`.
    pub source: String,
    pub external_id: String,
    pub sport: String,
    pub name: Option<String>,
    pub start_at: DateTime<Utc>,
    pub elapsed_s: f64,
    pub moving_s: f64,
    pub distance_m: f64,
    pub avg_hr: Option<f64>,
    pub trimp: Option<f64>,
    pub efficiency: Option<f64>,
    /// JSON arrays, as `openzero_training` serialises them.
    pub samples: String,
    pub laps: String,
}

/// A kept activity, without its samples.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActivityRow {
    pub id: i64,
    pub source: String,
    pub external_id: String,
    pub sport: String,
    pub name: Option<String>,
    /// `start` in JSON (`training list --json`), RFC 3339 UTC.
    #[serde(rename = "start")]
    pub start_at: DateTime<Utc>,
    pub elapsed_s: f64,
    pub moving_s: f64,
    pub distance_m: f64,
    pub avg_hr: Option<f64>,
    pub trimp: Option<f64>,
    pub efficiency: Option<f64>,
    pub imported_at: DateTime<Utc>,
}

#[async_trait]
pub trait TrainingStore: Send + Sync + std::fmt::Debug {
    /// Keeps an activity; `None` when one with the same source and external
    /// id is kept already (nothing changes).
    async fn activity_add(
        &self,
        a: &NewActivity,
        now: DateTime<Utc>,
    ) -> Result<Option<ActivityRow>, StoreError>;

    /// The newest `limit` activities by start, newest first.
    async fn activities(&self, limit: i64) -> Result<Vec<ActivityRow>, StoreError>;

    /// The activity kept under `source` and `external_id`, if any.
    async fn activity_find(
        &self,
        source: &str,
        external_id: &str,
    ) -> Result<Option<ActivityRow>, StoreError>;

    /// Changes an activity's name and sport (a rename at the source);
    /// `false` when there is no such activity.
    async fn activity_rename(
        &self,
        source: &str,
        external_id: &str,
        name: Option<&str>,
        sport: Option<&str>,
    ) -> Result<bool, StoreError>;

    /// Sets an activity's training load (recomputed after the owner's
    /// heart rates changed); `false` when there is no such activity.
    async fn activity_set_load(&self, id: i64, trimp: Option<f64>) -> Result<bool, StoreError>;

    /// Forgets an activity (deleted at the source); `false` when there was
    /// none.
    async fn activity_remove(&self, source: &str, external_id: &str) -> Result<bool, StoreError>;

    /// One activity with its samples and laps (JSON).
    async fn activity_get(
        &self,
        id: i64,
    ) -> Result<Option<(ActivityRow, String, String)>, StoreError>;
}
