//! Strava's JSON, as far as OpenZero reads it (API v3 reference:
//! `SummaryActivity`, `DetailedActivity`, `StreamSet`, `Lap`, the token
//! endpoint's answer and the webhook's event). Unknown fields are ignored;
//! fields Strava may leave out are optional.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The token endpoint's answer (authorization code or refresh grant).
#[derive(Clone, Deserialize, Serialize)]
pub struct Token {
    pub access_token: String,
    /// Strava may hand back a new refresh token on each refresh: keep the
    /// newest, the old one stops working.
    pub refresh_token: String,
    /// When the access token expires, seconds since the epoch.
    pub expires_at: i64,
    /// Only with the authorization-code grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub athlete: Option<Athlete>,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("expires_at", &self.expires_at)
            .field("athlete", &self.athlete)
            .finish_non_exhaustive()
    }
}

/// The athlete who granted access.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Athlete {
    pub id: i64,
    #[serde(default)]
    pub firstname: Option<String>,
    #[serde(default)]
    pub lastname: Option<String>,
}

/// An athlete named by id only.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub struct AthleteRef {
    pub id: i64,
}

/// An activity as the list endpoint gives it (`resource_state` 2).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct SummaryActivity {
    pub id: i64,
    #[serde(default)]
    pub name: String,
    /// The newer, finer sport (`Run`, `TrailRun`, `Ride`…).
    #[serde(default)]
    pub sport_type: Option<String>,
    /// The legacy type, for activities from before `sport_type`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    pub start_date: DateTime<Utc>,
    #[serde(default)]
    pub distance: f64,
    #[serde(default)]
    pub moving_time: f64,
    #[serde(default)]
    pub elapsed_time: f64,
    #[serde(default)]
    pub total_elevation_gain: Option<f64>,
    #[serde(default)]
    pub average_heartrate: Option<f64>,
    #[serde(default)]
    pub max_heartrate: Option<f64>,
    /// Whose it is (`resource_state` 1: only the id).
    #[serde(default)]
    pub athlete: Option<AthleteRef>,
    #[serde(default)]
    pub manual: bool,
    #[serde(default)]
    pub private: bool,
}

impl SummaryActivity {
    /// The sport, lower case (`run`, `trailrun`, `ride`), as files name it.
    pub fn sport(&self) -> String {
        self.sport_type
            .as_deref()
            .or(self.kind.as_deref())
            .unwrap_or("")
            .to_ascii_lowercase()
    }
}

/// An activity with its details (`resource_state` 3).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct DetailedActivity {
    #[serde(flatten)]
    pub summary: SummaryActivity,
    #[serde(default)]
    pub laps: Vec<Lap>,
    #[serde(default)]
    pub device_name: Option<String>,
}

/// One lap of an activity.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Lap {
    pub start_date: DateTime<Utc>,
    #[serde(default)]
    pub elapsed_time: f64,
    #[serde(default)]
    pub distance: Option<f64>,
}

/// One stream (`key_by_type=true`): its data, one value per sample.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Stream {
    #[serde(default)]
    pub data: Vec<serde_json::Value>,
}

/// The streams of an activity, keyed by type (`time`, `distance`,
/// `latlng`, `altitude`, `heartrate`, `cadence`, `velocity_smooth`,
/// `moving`, `temp`…).
pub type Streams = BTreeMap<String, Stream>;

/// The stream types asked for.
pub const STREAM_KEYS: &str =
    "time,distance,latlng,altitude,heartrate,cadence,velocity_smooth,moving,temp";

/// A push subscription of the application.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Subscription {
    pub id: i64,
    #[serde(default)]
    pub callback_url: String,
}

/// A webhook event, as Strava posts it.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Event {
    /// `create`, `update` or `delete`.
    pub aspect_type: String,
    pub event_time: i64,
    pub object_id: i64,
    /// `activity` or `athlete`.
    pub object_type: String,
    pub owner_id: i64,
    #[serde(default)]
    pub subscription_id: i64,
    /// For updates: `title`, `type`, `private` of an activity;
    /// `authorized: "false"` when the athlete revoked access.
    #[serde(default)]
    pub updates: serde_json::Map<String, serde_json::Value>,
}

impl Event {
    /// The athlete took OpenZero's access back.
    pub fn is_deauthorization(&self) -> bool {
        self.object_type == "athlete"
            && self
                .updates
                .get("authorized")
                .is_some_and(|v| v.as_str() == Some("false") || v.as_bool() == Some(false))
    }

    /// One id per event: the same event delivered twice (Strava retries
    /// up to three times) is stored once.
    pub fn external_id(&self) -> String {
        format!(
            "{}:{}:{}:{}",
            self.object_type, self.object_id, self.aspect_type, self.event_time
        )
    }
}
