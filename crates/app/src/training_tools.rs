//! The coach's agent tools, read-only: `training_recent` (the last
//! activities with their figures) and `training_metrics` (fitness,
//! fatigue, form, weekly volume, the goal race). "How was my running this
//! week?" is answered from the store, never from memory of a chat.
//!
//! Items from Strava are marked `"source": "strava"`: Strava's terms keep
//! its data to the athlete, and the agent never runs on a cloud model
//! without the owner's approval of each message (see `agent.rs`).

use async_trait::async_trait;
use chrono_tz::Tz;
use openzero_core::tools::{Tier, ToolSpec};
use serde_json::{Value, json};

use crate::tools::{Registry, Tool, ToolEnv};

/// Adds the coach's tools to `r`; days are the owner's, in `tz`.
pub fn add(r: &mut Registry, tz: Tz) {
    r.add(Box::new(TrainingRecent(tz)));
    r.add(Box::new(TrainingMetrics(tz)));
}

struct TrainingRecent(Tz);

#[async_trait]
impl Tool for TrainingRecent {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "training_recent".into(),
            description: "The owner's most recent activities (runs, rides…), newest first: date, sport, distance, moving time, pace, average heart rate, training load (TRIMP).".into(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "limit": {"type": "integer", "description": "How many (default 7, at most 50)"}
                }
            }),
            tier: Tier::Read,
        }
    }

    async fn call(&self, env: ToolEnv<'_>, args: &Value) -> Result<String, String> {
        let limit = args
            .get("limit")
            .and_then(Value::as_i64)
            .unwrap_or(7)
            .clamp(1, 50);
        let rows = env
            .store
            .activities(limit)
            .await
            .map_err(|e| e.to_string())?;
        let items: Vec<Value> = rows
            .iter()
            .map(|a| {
                json!({
                    "id": a.id,
                    "source": a.source,
                    "name": a.name,
                    "sport": a.sport,
                    "start": a.start_at.with_timezone(&self.0).to_rfc3339(),
                    "distance_km": (a.distance_m / 10.0).round() / 100.0,
                    "moving": openzero_training::metrics::clock(a.moving_s),
                    "pace_per_km": (a.distance_m > 100.0)
                        .then(|| openzero_training::metrics::clock(a.moving_s / (a.distance_m / 1000.0))),
                    "avg_hr": a.avg_hr.map(f64::round),
                    "trimp": a.trimp.map(f64::round),
                })
            })
            .collect();
        Ok(json!({ "activities": items }).to_string())
    }
}

struct TrainingMetrics(Tz);

#[async_trait]
impl Tool for TrainingMetrics {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "training_metrics".into(),
            description: "The owner's training state today: fitness (CTL), fatigue (ATL), form (TSB), acute:chronic ratio, the last weeks' volume and load, and the goal race (weeks left, pace needed, predicted time, on track, race-day form).".into(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "weeks": {"type": "integer", "description": "Weeks of volume (default 4, at most 12)"}
                }
            }),
            tier: Tier::Read,
        }
    }

    async fn call(&self, env: ToolEnv<'_>, args: &Value) -> Result<String, String> {
        let weeks = args
            .get("weeks")
            .and_then(Value::as_u64)
            .unwrap_or(4)
            .clamp(1, 12) as u32;
        let m = crate::training_coach::metrics_in(env.store, self.0, weeks)
            .await
            .map_err(|e| e.to_string())?;
        let goal = crate::training_coach::goal_in(env.store, self.0)
            .await
            .map_err(|e| e.to_string())?;
        let round = |x: f64| (x * 10.0).round() / 10.0;
        Ok(json!({
            "date": m.date,
            "fitness_ctl": round(m.ctl),
            "fatigue_atl": round(m.atl),
            "form_tsb": round(m.tsb),
            "acute_chronic": m.acute_chronic.map(|r| (r * 100.0).round() / 100.0),
            "weeks": m.weeks.iter().map(|w| json!({
                "monday": w.monday,
                "activities": w.runs,
                "distance_km": round(w.distance_m / 1000.0),
                "moving": openzero_training::metrics::clock(w.moving_s),
                "load": w.load.round(),
            })).collect::<Vec<_>>(),
            "goal": goal,
        })
        .to_string())
    }
}
