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

/// Where the owner's heart rates are kept (`openzero training profile`);
/// the settings' `training.hr_rest|hr_max` until then.
pub const PROFILE_KEY: &str = "training.profile";

/// The owner's heart rates as set with `training profile`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Profile {
    pub hr_rest: Option<u32>,
    pub hr_max: Option<u32>,
    /// Lactate-threshold heart rate: zones by it when set.
    pub hr_threshold: Option<u32>,
    /// `female` weights TRIMP with 1.67 instead of 1.92 (Banister).
    pub female: Option<bool>,
}

/// The heart-rate frame in effect, and where each figure came from.
#[derive(Debug, Clone, Serialize)]
pub struct ProfileOut {
    pub hr_rest: u32,
    pub hr_max: u32,
    pub hr_threshold: Option<u32>,
    pub female: bool,
    /// `profile` (set with `training profile`) or `settings` (openzero.toml).
    pub from: &'static str,
    /// Activities whose load was recomputed by this change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recomputed: Option<usize>,
}

async fn stored_profile(services: &Services) -> Result<Option<Profile>, AppError> {
    Ok(services
        .store
        .get_preference(PROFILE_KEY)
        .await?
        .filter(|t| !t.is_empty())
        .and_then(|t| serde_json::from_str(&t).ok()))
}

/// The owner's profile in effect.
pub async fn profile(services: &Services) -> Result<ProfileOut, AppError> {
    let t = &services.loaded.settings.training;
    let p = stored_profile(services).await?;
    let q = p.unwrap_or_default();
    Ok(ProfileOut {
        hr_rest: q.hr_rest.unwrap_or(t.hr_rest),
        hr_max: q.hr_max.unwrap_or(t.hr_max),
        hr_threshold: q.hr_threshold,
        female: q.female.unwrap_or(false),
        from: if p.is_some() { "profile" } else { "settings" },
        recomputed: None,
    })
}

/// Changes the profile (only what is given), checks it makes sense, and
/// recomputes every kept activity's load with it.
pub async fn set_profile(services: &Services, change: Profile) -> Result<ProfileOut, AppError> {
    let now = profile(services).await?;
    let next = Profile {
        hr_rest: Some(change.hr_rest.unwrap_or(now.hr_rest)),
        hr_max: Some(change.hr_max.unwrap_or(now.hr_max)),
        hr_threshold: change.hr_threshold.or(now.hr_threshold),
        female: Some(change.female.unwrap_or(now.female)),
    };
    let (rest, max) = (next.hr_rest.unwrap_or(60), next.hr_max.unwrap_or(190));
    let bad = |m: String| Err(AppError::Invalid(m));
    if !(25..=120).contains(&rest) {
        return bad(format!(
            "a resting heart rate of {rest} bpm cannot be right (25–120)"
        ));
    }
    if !(100..=240).contains(&max) {
        return bad(format!(
            "a maximum heart rate of {max} bpm cannot be right (100–240)"
        ));
    }
    if rest >= max {
        return bad(format!(
            "the resting heart rate ({rest}) must be below the maximum ({max})"
        ));
    }
    if let Some(t) = next.hr_threshold
        && !(rest < t && t <= max)
    {
        return bad(format!(
            "a threshold of {t} bpm must lie between the resting ({rest}) and the maximum ({max})"
        ));
    }
    let text = serde_json::to_string(&next).map_err(|e| AppError::Invalid(e.to_string()))?;
    services.store.set_preference(PROFILE_KEY, &text).await?;
    let hr = heart_rates(services).await?;
    let mut recomputed = 0;
    for a in services.store.activities(1_000_000).await? {
        let Some((row, samples, laps)) = services.store.activity_get(a.id).await? else {
            continue;
        };
        let Ok(act) = openzero_training::Activity::from_stored(&row.sport, &samples, &laps) else {
            continue;
        };
        let load = trimp(&act, hr);
        if load != row.trimp {
            services.store.activity_set_load(row.id, load).await?;
            recomputed += 1;
        }
    }
    let mut out = profile(services).await?;
    out.recomputed = Some(recomputed);
    Ok(out)
}

/// The owner's heart-rate frame: the profile, else the settings.
pub async fn heart_rates(services: &Services) -> Result<HeartRates, AppError> {
    let p = profile(services).await?;
    Ok(HeartRates {
        rest: f64::from(p.hr_rest),
        max: f64::from(p.hr_max),
        k: if p.female { 1.67 } else { 1.92 },
        threshold: p.hr_threshold.map(f64::from),
    })
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
    let id: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(match keep(services, "file", &id, &activity, None).await? {
        Some(row) => FileOutcome::Added {
            activity: row,
            warnings: activity.warnings,
        },
        None => FileOutcome::Already,
    })
}

/// Figures the source measured itself (Strava's distance, times, average
/// heart rate), kept instead of ours so they match what its app shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourceFigures {
    pub distance_m: f64,
    pub moving_s: f64,
    pub elapsed_s: f64,
    pub avg_hr: Option<f64>,
}

/// Keeps an activity with its load under `source` and `external_id`;
/// `None` when it was kept before (nothing changes).
pub async fn keep(
    services: &Services,
    source: &str,
    external_id: &str,
    activity: &openzero_training::Activity,
    figures: Option<SourceFigures>,
) -> Result<Option<ActivityRow>, AppError> {
    let hr = heart_rates(services).await?;
    let f = figures.unwrap_or(SourceFigures {
        distance_m: activity.distance_m(),
        moving_s: activity.moving_s(),
        elapsed_s: activity.elapsed_s(),
        avg_hr: activity.average_hr(),
    });
    let new = NewActivity {
        source: source.into(),
        external_id: external_id.into(),
        sport: activity.sport.clone(),
        name: activity.name.clone(),
        start_at: activity.start(),
        elapsed_s: f.elapsed_s,
        moving_s: f.moving_s,
        distance_m: f.distance_m,
        avg_hr: f.avg_hr.or_else(|| activity.average_hr()),
        trimp: trimp(activity, hr),
        efficiency: efficiency_factor(activity),
        samples: json(&activity.samples)?,
        laps: json(&activity.laps)?,
    };
    let row = services.store.activity_add(&new, clock::now()).await?;
    if let Some(r) = &row {
        tracing::info!(id = r.id, source, sport = %r.sport, "activity kept");
    }
    Ok(row)
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
