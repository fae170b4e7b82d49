//! Activities from files (GPX, TCX, FIT): read with `openzero_training`,
//! given their training load with the owner's heart rates, kept once each
//! (the SHA-256 of the file's bytes is its id, so importing a folder again
//! adds only what is new).

use serde::Serialize;
use sha2::{Digest, Sha256};

use openzero_store::training::{ActivityRow, NewActivity};
use openzero_training::load::{HeartRates, efficiency_factor, trimp};

use crate::{AppError, Services, clock};

/// What became of one file.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "lowercase")]
pub enum FileOutcome {
    Added {
        activity: ActivityRow,
        warnings: Vec<String>,
    },
    /// The same file was imported before.
    Already,
    /// Not an activity, or not one that can be believed; why.
    Skipped { reason: String },
}

/// The owner's heart-rate frame from the settings.
pub fn heart_rates(services: &Services) -> HeartRates {
    let t = &services.loaded.settings.training;
    HeartRates {
        rest: f64::from(t.hr_rest),
        max: f64::from(t.hr_max),
        ..HeartRates::default()
    }
}

/// Imports one file's bytes.
pub async fn import(services: &Services, bytes: &[u8]) -> Result<FileOutcome, AppError> {
    let activity = match openzero_training::parse(bytes) {
        Ok(a) => a,
        Err(e) => {
            return Ok(FileOutcome::Skipped {
                reason: e.to_string(),
            });
        }
    };
    let hr = heart_rates(services);
    let new = NewActivity {
        source: "file".into(),
        external_id: Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        sport: activity.sport.clone(),
        name: activity.name.clone(),
        start_at: activity.start(),
        elapsed_s: activity.elapsed_s(),
        moving_s: activity.moving_s(),
        distance_m: activity.distance_m(),
        avg_hr: activity.average_hr(),
        trimp: trimp(&activity, hr),
        efficiency: efficiency_factor(&activity),
        samples: json(&activity.samples)?,
        laps: json(&activity.laps)?,
    };
    Ok(
        match services.store.activity_add(&new, clock::now()).await? {
            Some(row) => {
                tracing::info!(id = row.id, sport = %row.sport, "activity imported");
                FileOutcome::Added {
                    activity: row,
                    warnings: activity.warnings,
                }
            }
            None => FileOutcome::Already,
        },
    )
}

/// Compact JSON text (a portable column).
fn json<T: Serialize>(v: &T) -> Result<String, AppError> {
    serde_json::to_string(v)
        .map_err(|e| AppError::Invalid(format!("could not keep the samples: {e}")))
}

/// `m:ss`, or `h:mm:ss` from an hour, of whole seconds.
fn clock_time(seconds: f64) -> String {
    let total = seconds.max(0.0).round() as i64;
    if total >= 3600 {
        format!("{}:{:02}:{:02}", total / 3600, total / 60 % 60, total % 60)
    } else {
        format!("{}:{:02}", total / 60, total % 60)
    }
}

/// One line for a person: `#3 running · Sun 30 Nov 07:12 · 10.01 km in 52:13 · 5:13 /km · TRIMP 97`.
pub fn line(a: &ActivityRow, tz: chrono_tz::Tz) -> String {
    let mut s = format!(
        "#{} {} · {} · {:.2} km in {}",
        a.id,
        if a.sport.is_empty() {
            "activity"
        } else {
            &a.sport
        },
        a.start_at.with_timezone(&tz).format("%a %-d %b %Y %H:%M"),
        a.distance_m / 1000.0,
        clock_time(a.moving_s)
    );
    if a.distance_m > 100.0 && a.moving_s > 0.0 {
        s.push_str(&format!(
            " · {} /km",
            clock_time(a.moving_s / (a.distance_m / 1000.0))
        ));
    }
    if let Some(hr) = a.avg_hr {
        s.push_str(&format!(" · {hr:.0} bpm"));
    }
    if let Some(t) = a.trimp {
        s.push_str(&format!(" · TRIMP {t:.0}"));
    }
    s
}
