//! The coach's view of the training: fitness, fatigue and form (CTL, ATL,
//! TSB) with the acute:chronic ratio, weekly volume, and the goal race
//! (`openzero training metrics|goal`). The numbers come from
//! `openzero_training::metrics`; this module reads the activities and the
//! goal (kept in the preferences) and fixes "today" in the owner's zone.

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use openzero_training::metrics::{self, Goal};

use openzero_store::Store;

use crate::{AppError, Services, clock};

/// Preference key holding the goal race.
const GOAL_KEY: &str = "training.goal";

/// Days of history the form chart is computed over (CTL needs about three
/// of its 42-day time constants to settle).
const HISTORY_DAYS: i64 = 180;

/// Fitness, fatigue and form today, and the weeks behind them.
#[derive(Debug, Clone, Serialize)]
pub struct Metrics {
    pub date: NaiveDate,
    pub ctl: f64,
    pub atl: f64,
    pub tsb: f64,
    /// ATL ÷ CTL (none while CTL is under 1).
    pub acute_chronic: Option<f64>,
    pub weeks: Vec<WeekOut>,
    /// The last 42 days, for a chart.
    pub chart: Vec<DayOut>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WeekOut {
    pub monday: NaiveDate,
    pub runs: u32,
    pub distance_m: f64,
    pub moving_s: f64,
    pub load: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DayOut {
    pub date: NaiveDate,
    pub load: f64,
    pub ctl: f64,
    pub atl: f64,
    pub tsb: f64,
}

/// The stored goal.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredGoal {
    name: String,
    date: NaiveDate,
    distance_m: f64,
    target_s: f64,
}

/// The goal race and where it stands.
#[derive(Debug, Clone, Serialize)]
pub struct GoalOut {
    pub name: String,
    pub date: NaiveDate,
    pub distance_m: f64,
    pub target: String,
    pub days_left: i64,
    pub weeks_left: f64,
    /// The pace the target needs, `M:SS` per km.
    pub pace_needed: String,
    pub predicted: Option<String>,
    pub predicted_from: Option<NaiveDate>,
    pub on_track: Option<bool>,
    /// Form expected on race day with a two-week taper from today's load.
    pub race_day_tsb: f64,
}

/// Today's date in the owner's zone.
fn today(services: &Services) -> NaiveDate {
    today_in(services.tz())
}

fn today_in(tz: chrono_tz::Tz) -> NaiveDate {
    clock::now().with_timezone(&tz).date_naive()
}

/// Every activity's (day in the owner's zone, distance, moving time, load).
async fn history(
    store: &dyn Store,
    tz: chrono_tz::Tz,
    since: NaiveDate,
) -> Result<Vec<(NaiveDate, f64, f64, f64)>, AppError> {
    Ok(store
        .activities(100_000)
        .await?
        .into_iter()
        .map(|a| {
            (
                a.start_at.with_timezone(&tz).date_naive(),
                a.distance_m,
                a.moving_s,
                a.trimp.unwrap_or(0.0),
            )
        })
        .filter(|(d, ..)| *d >= since)
        .collect())
}

/// Fitness, fatigue, form and the last `weeks` weeks.
pub async fn metrics(services: &Services, weeks: u32) -> Result<Metrics, AppError> {
    metrics_in(&*services.store, services.tz(), weeks).await
}

/// [`metrics`] from a store, "today" in `tz` (for the agent's tools).
pub async fn metrics_in(
    store: &dyn Store,
    tz: chrono_tz::Tz,
    weeks: u32,
) -> Result<Metrics, AppError> {
    let today = today_in(tz);
    let from = today - Duration::days(HISTORY_DAYS);
    let runs = history(store, tz, from).await?;
    let loads: Vec<(NaiveDate, f64)> = runs.iter().map(|(d, _, _, l)| (*d, *l)).collect();
    let chart = metrics::form(&loads, from, today);
    let last = chart.last().copied().unwrap_or(metrics::Day {
        date: today,
        load: 0.0,
        ctl: 0.0,
        atl: 0.0,
        tsb: 0.0,
    });
    Ok(Metrics {
        date: today,
        ctl: last.ctl,
        atl: last.atl,
        tsb: last.tsb,
        acute_chronic: metrics::acute_chronic(&last),
        weeks: metrics::weekly(&runs, today, weeks)
            .into_iter()
            .map(|w| WeekOut {
                monday: w.monday,
                runs: w.runs,
                distance_m: w.distance_m,
                moving_s: w.moving_s,
                load: w.load,
            })
            .collect(),
        chart: chart
            .iter()
            .rev()
            .take(42)
            .rev()
            .map(|d| DayOut {
                date: d.date,
                load: d.load,
                ctl: d.ctl,
                atl: d.atl,
                tsb: d.tsb,
            })
            .collect(),
    })
}

/// Sets the goal race: a name that says its distance ("Half marathon",
/// "10k", "30 km"), a date, a target time (`H:MM:SS` or `MM:SS`).
pub async fn set_goal(
    services: &Services,
    name: &str,
    date: &str,
    target: &str,
) -> Result<GoalOut, AppError> {
    let invalid = |m: String| AppError::Invalid(m);
    let distance_m = metrics::race_distance(name).ok_or_else(|| {
        invalid(format!(
            "cannot tell the distance of \"{name}\": say marathon, half marathon, 10k, 5 km, 30 km or 10 mi"
        ))
    })?;
    let date = NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d")
        .map_err(|_| invalid(format!("\"{date}\" is not a date (YYYY-MM-DD)")))?;
    if date < today(services) {
        return Err(invalid(format!("{date} has passed")));
    }
    let target_s = metrics::parse_duration(target)
        .ok_or_else(|| invalid(format!("\"{target}\" is not a time (H:MM:SS or MM:SS)")))?;
    let stored = StoredGoal {
        name: name.trim().to_owned(),
        date,
        distance_m,
        target_s,
    };
    let json = serde_json::to_string(&stored).map_err(|e| invalid(e.to_string()))?;
    services.store.set_preference(GOAL_KEY, &json).await?;
    goal(services)
        .await?
        .ok_or_else(|| invalid("the goal was not kept".into()))
}

/// Forgets the goal race.
pub async fn clear_goal(services: &Services) -> Result<(), AppError> {
    services.store.set_preference(GOAL_KEY, "").await?;
    Ok(())
}

/// The goal race and where it stands, if one is set.
pub async fn goal(services: &Services) -> Result<Option<GoalOut>, AppError> {
    goal_in(&*services.store, services.tz()).await
}

/// [`goal`] from a store, "today" in `tz` (for the agent's tools).
pub async fn goal_in(store: &dyn Store, tz: chrono_tz::Tz) -> Result<Option<GoalOut>, AppError> {
    let Some(text) = store.get_preference(GOAL_KEY).await? else {
        return Ok(None);
    };
    let Ok(g) = serde_json::from_str::<StoredGoal>(&text) else {
        return Ok(None);
    };
    let today = today_in(tz);
    let from = today - Duration::days(HISTORY_DAYS);
    let runs = history(store, tz, from).await?;
    let loads: Vec<(NaiveDate, f64)> = runs.iter().map(|(d, _, _, l)| (*d, *l)).collect();
    let efforts: Vec<(NaiveDate, f64, f64)> =
        runs.iter().map(|(d, m, s, _)| (*d, *m, *s)).collect();
    let goal = Goal {
        name: g.name.clone(),
        date: g.date,
        distance_m: g.distance_m,
        target_s: g.target_s,
    };
    let s = metrics::goal_status(&goal, today, from, &loads, &efforts);
    Ok(Some(GoalOut {
        name: g.name,
        date: g.date,
        distance_m: g.distance_m,
        target: metrics::clock(g.target_s),
        days_left: s.days_left,
        weeks_left: (s.weeks_left * 10.0).round() / 10.0,
        pace_needed: metrics::clock(s.pace_needed_s_per_km),
        predicted: s.predicted_s.map(metrics::clock),
        predicted_from: s.predicted_from,
        on_track: s.on_track,
        race_day_tsb: (s.race_day_tsb * 10.0).round() / 10.0,
    }))
}

/// One activity with what its samples tell.
#[derive(Debug, Clone, Serialize)]
pub struct Shown {
    #[serde(flatten)]
    pub activity: openzero_store::training::ActivityRow,
    /// Seconds in heart-rate zones 1–5 (fractions of heart-rate reserve:
    /// under 60 %, 60–70, 70–80, 80–90, 90 % and over).
    pub zones_s: Option<[f64; 5]>,
    /// Aerobic decoupling, percent (efficiency lost from the first half to the second).
    pub decoupling_pct: Option<f64>,
    pub elevation_gain_m: f64,
    /// The efficiency factor with climbing counted as flat distance.
    pub efficiency_flat: Option<f64>,
    /// The mean air temperature while moving, °C, where the file has it.
    pub temperature_c: Option<f64>,
    /// The efficiency factor fair to hills and heat (0.4 % per °C above
    /// 15 °C on top of the flat one).
    pub efficiency_fair: Option<f64>,
    pub laps: usize,
}

/// Activity `id` with its zones, decoupling and elevation-fair efficiency.
pub async fn show(services: &Services, id: i64) -> Result<Option<Shown>, AppError> {
    let Some((row, samples, laps)) = services.store.activity_get(id).await? else {
        return Ok(None);
    };
    let a = openzero_training::Activity::from_stored(&row.sport, &samples, &laps)
        .map_err(AppError::Invalid)?;
    let hr = crate::training::heart_rates(services).await?;
    Ok(Some(Shown {
        zones_s: metrics::zones(&a, hr),
        decoupling_pct: metrics::decoupling(&a),
        elevation_gain_m: metrics::elevation_gain(&a),
        efficiency_flat: metrics::efficiency_factor_flat(&a),
        temperature_c: metrics::mean_temperature(&a),
        efficiency_fair: metrics::efficiency_factor_fair(&a),
        laps: a.laps.len(),
        activity: row,
    }))
}
