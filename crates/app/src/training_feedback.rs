//! The coach's words: feedback after each new run (the key numbers, how
//! it compares with similar runs, form, the goal-race countdown and one
//! piece of advice), the chat commands `/runs`, `/form`, `/race`, and the
//! briefings' *Training* lines (daily: yesterday, form, the race; Sunday
//! review: the week).
//!
//! **Invariants:** every figure comes from the store and the pure metrics;
//! a model may only rephrase the plain message, and only a model on this
//! machine or network (Strava's data never goes to a cloud): a phrasing
//! that drops or changes a figure is not sent, the plain one is; feedback
//! for an activity is queued once (keyed by its source id).

use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use openzero_core::agent::{ChatMessage, Role};
use openzero_core::briefing::{self, Kind};
use openzero_core::llm::{ChatRequest, Locality};
use openzero_store::training::ActivityRow;
use openzero_training::metrics;

use crate::training_coach::{self, GoalOut, Metrics};
use crate::{AppError, Services, clock};

/// Days back similar runs are looked for.
const SIMILAR_DAYS: i64 = 180;
/// At most this many similar runs are compared.
const SIMILAR_MAX: usize = 12;

/// A run (any kind of running: road, trail, treadmill).
pub fn is_run(sport: &str) -> bool {
    sport.to_ascii_lowercase().contains("run")
}

/// Feedback on one run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Feedback {
    /// The facts, as composed.
    pub plain: String,
    /// What is sent: the model's phrasing when it kept every figure, else
    /// the plain text.
    pub text: String,
    pub phrased: bool,
}

/// Sends feedback on a newly kept run, once (errors are logged: the run
/// is kept either way).
pub async fn after_new(services: &Arc<Services>, row: &ActivityRow) {
    if row.source == crate::strava::SOURCE && !services.loaded.settings.strava.feedback {
        return;
    }
    if !is_run(&row.sport) {
        return;
    }
    match compose(services, row, true).await {
        Ok(f) => {
            let key = format!("run-feedback:{}:{}", row.source, row.external_id);
            if let Err(e) = services.notify_once(&key, &f.text).await {
                tracing::warn!(error = %e, "run feedback not queued");
            } else {
                tracing::info!(id = row.id, phrased = f.phrased, "run feedback queued");
            }
        }
        Err(e) => tracing::warn!(error = %e, "run feedback not composed"),
    }
}

/// `m:ss` per km of `metres` in `seconds`.
fn pace(seconds: f64, metres: f64) -> Option<String> {
    (metres > 100.0 && seconds > 0.0).then(|| metrics::clock(seconds / (metres / 1000.0)))
}

/// Metres climbed per km, as a word.
fn terrain(climb_m: f64, metres: f64) -> &'static str {
    match climb_m / (metres / 1000.0).max(0.1) {
        x if x < 10.0 => "flat",
        x if x < 25.0 => "rolling",
        _ => "hilly",
    }
}

async fn climb(services: &Services, id: i64) -> Result<Option<f64>, AppError> {
    let Some((row, samples, laps)) = services.store.activity_get(id).await? else {
        return Ok(None);
    };
    Ok(
        openzero_training::Activity::from_stored(&row.sport, &samples, &laps)
            .ok()
            .map(|a| metrics::elevation_gain(&a)),
    )
}

/// The comparison with similar runs (distance within a fifth, the same
/// terrain) in the half year before.
async fn similar(services: &Services, row: &ActivityRow, gain: f64) -> Result<String, AppError> {
    let kind = terrain(gain, row.distance_m);
    let (lo, hi) = (row.distance_m * 0.8, row.distance_m * 1.2);
    let since = row.start_at - Duration::days(SIMILAR_DAYS);
    let mut same = Vec::new();
    for a in services.store.activities(5_000).await? {
        if same.len() >= SIMILAR_MAX {
            break;
        }
        if a.id == row.id
            || !is_run(&a.sport)
            || a.start_at >= row.start_at
            || a.start_at < since
            || a.distance_m < lo
            || a.distance_m > hi
            || a.moving_s <= 0.0
        {
            continue;
        }
        let Some(g) = climb(services, a.id).await? else {
            continue;
        };
        if terrain(g, a.distance_m) == kind {
            same.push(a);
        }
    }
    let range = format!("{:.0}–{:.0} km, {kind}", lo / 1000.0, hi / 1000.0);
    if same.is_empty() {
        return Ok(format!(
            "No similar run ({range}) in the half year before: this one sets the mark."
        ));
    }
    let n = same.len() as f64;
    let their_pace = same
        .iter()
        .map(|a| a.moving_s / (a.distance_m / 1000.0))
        .sum::<f64>()
        / n;
    let this_pace = row.moving_s / (row.distance_m / 1000.0).max(0.001);
    let d = (this_pace - their_pace).round();
    let mut s = format!(
        "Against your {} similar runs ({range}): {}",
        same.len(),
        match d {
            d if d < 0.0 => format!("{} /km faster", metrics::clock(-d)),
            d if d > 0.0 => format!("{} /km slower", metrics::clock(d)),
            _ => "the same pace".to_owned(),
        }
    );
    let hrs: Vec<f64> = same.iter().filter_map(|a| a.avg_hr).collect();
    if let (Some(hr), false) = (row.avg_hr, hrs.is_empty()) {
        let diff = (hr - hrs.iter().sum::<f64>() / hrs.len() as f64).round();
        s.push_str(&match diff {
            d if d < 0.0 => format!(", heart rate {} bpm lower", -d),
            d if d > 0.0 => format!(", heart rate {d} bpm higher"),
            _ => ", the same heart rate".to_owned(),
        });
    }
    s.push('.');
    Ok(s)
}

/// One piece of advice from form, the load ratio and the race countdown.
fn advice(m: &Metrics, goal: Option<&GoalOut>) -> String {
    let taper = goal.is_some_and(|g| g.days_left <= 14);
    match (m.tsb, m.acute_chronic) {
        // The ratio means little on a small base (a new user's first
        // weeks): only from a fitness of 15 on.
        (_, Some(r)) if r > 1.5 && m.ctl >= 15.0 => "This week's load is over one and a half times your usual: back off for a few days, injuries start here.".into(),
        _ if taper => "Race in two weeks or less: keep the volume down and the legs fresh; short strides, no long run.".into(),
        (t, _) if t < -25.0 => "Fatigue is high: make tomorrow a rest day or very easy.".into(),
        (t, _) if t < -10.0 => "You are carrying fatigue: keep the next run easy.".into(),
        (t, _) if t > 5.0 => "You are fresh: a good time for a quality session.".into(),
        _ => "Steady: keep building, one step at a time.".into(),
    }
}

fn form_line(m: &Metrics) -> String {
    let mut s = format!(
        "Form: fitness {:.1}, fatigue {:.1}, form {:+.1}",
        m.ctl, m.atl, m.tsb
    );
    if let Some(r) = m.acute_chronic {
        s.push_str(&format!(" (acute:chronic {r:.2})"));
    }
    s.push('.');
    s
}

fn race_line(g: &GoalOut, prediction: Option<String>) -> String {
    let mut s = format!(
        "{} on {}: {:.1} weeks left; {} needs {} /km",
        g.name, g.date, g.weeks_left, g.target, g.pace_needed
    );
    if let Some(p) = prediction.or_else(|| g.predicted.clone()) {
        s.push_str(&format!("; your running predicts {p}"));
    }
    if let Some(on) = g.on_track {
        s.push_str(if on {
            " (on track)"
        } else {
            " (not on track yet)"
        });
    }
    s.push('.');
    s
}

/// The feedback on `row`: plain, and phrased by a local model when
/// `phrase` and one is at hand.
pub async fn compose(
    services: &Services,
    row: &ActivityRow,
    phrase: bool,
) -> Result<Feedback, AppError> {
    let tz = services.tz();
    let gain = climb(services, row.id).await?.unwrap_or(0.0);
    let name = row.name.clone().unwrap_or_else(|| "Run".to_owned());
    let mut lines = vec![format!(
        "🏃 {name} — {}",
        row.start_at.with_timezone(&tz).format("%a %-d %b, %H:%M")
    )];
    let mut figures = format!(
        "{:.2} km in {}",
        row.distance_m / 1000.0,
        metrics::clock(row.moving_s)
    );
    if let Some(p) = pace(row.moving_s, row.distance_m) {
        figures.push_str(&format!(" · {p} /km"));
    }
    if let Some(hr) = row.avg_hr {
        figures.push_str(&format!(" · {hr:.0} bpm"));
    }
    if let Some(t) = row.trimp {
        figures.push_str(&format!(" · TRIMP {t:.0}"));
    }
    if gain >= 1.0 {
        figures.push_str(&format!(" · climb {gain:.0} m"));
    }
    lines.push(figures);
    lines.push(similar(services, row, gain).await?);
    let m = training_coach::metrics(services, 5).await?;
    lines.push(form_line(&m));
    let goal = training_coach::goal(services).await?;
    if let Some(g) = &goal {
        let from_this = metrics::riegel(row.moving_s, row.distance_m, g.distance_m)
            .filter(|_| row.distance_m >= 3000.0)
            .map(|t| format!("{} from this run", metrics::clock(t)));
        lines.push(race_line(g, from_this));
    }
    lines.push(advice(&m, goal.as_ref()));
    let plain = lines.join("\n");
    if !phrase {
        return Ok(Feedback {
            text: plain.clone(),
            plain,
            phrased: false,
        });
    }
    let mut names = vec![name.as_str()];
    if let Some(g) = &goal {
        names.push(g.name.as_str());
    }
    match phrased(services, &plain, &names).await {
        Some(text) => Ok(Feedback {
            text,
            plain,
            phrased: true,
        }),
        None => Ok(Feedback {
            text: plain.clone(),
            plain,
            phrased: false,
        }),
    }
}

/// The local model's phrasing of `plain` in the race-countdown voice, if
/// it kept every name and figure.
async fn phrased(services: &Services, plain: &str, names: &[&str]) -> Option<String> {
    let model = match services.chat_model().await {
        Ok(m) if m.info().locality == Locality::Local => m,
        _ => return None,
    };
    let req = ChatRequest {
        messages: vec![
            ChatMessage::new(
                Role::System,
                "You are Z, the owner's running coach, counting down to their goal race. \
                 Rewrite this feedback on today's run: encouraging, direct, at most six lines. \
                 Keep every name, number, pace and date exactly as written; add no number.",
            ),
            ChatMessage::new(Role::User, plain.to_owned()),
        ],
        max_tokens: 300,
        temperature: 0.2,
        tools: Vec::new(),
    };
    match tokio::time::timeout(std::time::Duration::from_secs(60), model.chat(req, None)).await {
        Ok(Ok(r)) if !r.text.trim().is_empty() => {
            match briefing::check_phrasing(plain, r.text.trim(), names) {
                Ok(()) => Some(r.text.trim().to_owned()),
                Err(why) => {
                    tracing::info!(%why, "run feedback sent plain: the phrasing changed a figure");
                    None
                }
            }
        }
        _ => None,
    }
}

/// `/runs`: the last runs, newest first.
pub async fn chat_runs(services: &Services) -> Result<String, AppError> {
    let tz = services.tz();
    let runs: Vec<String> = services
        .store
        .activities(10)
        .await?
        .iter()
        .map(
            |a| match a.name.as_deref().filter(|n| !n.trim().is_empty()) {
                Some(name) => format!("{name}: {}", crate::training::line(a, tz)),
                None => crate::training::line(a, tz),
            },
        )
        .collect();
    if runs.is_empty() {
        return Ok("No activities yet. Connect Strava (`openzero strava connect`) or import files (`openzero training import`).".into());
    }
    Ok(format!("Your last activities:\n{}", runs.join("\n")))
}

/// `/form`: fitness, fatigue, form and the last weeks' volume.
pub async fn chat_form(services: &Services) -> Result<String, AppError> {
    let m = training_coach::metrics(services, 4).await?;
    let mut out = vec![form_line(&m)];
    for w in &m.weeks {
        out.push(format!(
            "Week of {}: {} {}, {:.1} km, load {:.0}",
            w.monday.format("%-d %b"),
            w.runs,
            if w.runs == 1 {
                "activity"
            } else {
                "activities"
            },
            w.distance_m / 1000.0,
            w.load
        ));
    }
    out.push(advice(&m, training_coach::goal(services).await?.as_ref()));
    Ok(out.join("\n"))
}

/// `/race`: the goal race countdown.
pub async fn chat_race(services: &Services) -> Result<String, AppError> {
    match training_coach::goal(services).await? {
        Some(g) => Ok(format!(
            "{}\nRace-day form with a two-week taper: {:+.1}.",
            race_line(&g, None),
            g.race_day_tsb
        )),
        None => Ok("No goal race set. Set one with `openzero training goal \"Half marathon\" 2027-03-14 1:45:00`.".into()),
    }
}

/// The briefing's *Training* lines: daily — yesterday, form, the race;
/// weekly — the week against the four before, form, the race. Empty when
/// there is nothing to say (no activity, no goal).
pub async fn briefing_lines(services: &Services, kind: Kind) -> Result<Vec<String>, AppError> {
    if kind == Kind::Monthly {
        return Ok(Vec::new());
    }
    let tz = services.tz();
    let recent = services.store.activities(1).await?;
    let goal = training_coach::goal(services).await?;
    if recent.is_empty() && goal.is_none() {
        return Ok(Vec::new());
    }
    let m = training_coach::metrics(services, 5).await?;
    let today: NaiveDate = clock::now().with_timezone(&tz).date_naive();
    let mut out = Vec::new();
    match kind {
        Kind::Daily => {
            let yesterday = today - Duration::days(1);
            let load = m
                .chart
                .iter()
                .find(|d| d.date == yesterday)
                .map_or(0.0, |d| d.load);
            let done: Vec<ActivityRow> = services
                .store
                .activities(50)
                .await?
                .into_iter()
                .filter(|a| a.start_at.with_timezone(&tz).date_naive() == yesterday)
                .collect();
            out.push(if done.is_empty() {
                "Yesterday: rest day.".to_owned()
            } else {
                format!(
                    "Yesterday: {} {}, {:.1} km, load {load:.0}.",
                    done.len(),
                    if done.len() == 1 {
                        "activity"
                    } else {
                        "activities"
                    },
                    done.iter().map(|a| a.distance_m).sum::<f64>() / 1000.0
                )
            });
        }
        _ => {
            if let Some((this, before)) = m.weeks.split_last() {
                let avg = if before.is_empty() {
                    0.0
                } else {
                    before.iter().map(|w| w.load).sum::<f64>() / before.len() as f64
                };
                out.push(format!(
                    "This week: {} {}, {:.1} km in {}, load {:.0} (the {} weeks before averaged {avg:.0}).",
                    this.runs,
                    if this.runs == 1 { "activity" } else { "activities" },
                    this.distance_m / 1000.0,
                    metrics::clock(this.moving_s),
                    this.load,
                    before.len()
                ));
            }
        }
    }
    out.push(form_line(&m));
    if let Some(g) = &goal {
        out.push(race_line(g, None));
    }
    Ok(out)
}

/// The briefing's *Training* (yesterday, form, the race) and the weekly
/// review's *Training this week*.
pub async fn briefing_part(
    services: &std::sync::Arc<Services>,
    kind: Kind,
    _now: chrono::DateTime<chrono_tz::Tz>,
) -> Result<crate::briefings::Part, AppError> {
    use openzero_core::briefing::Place;
    let (heading, rank) = match kind {
        Kind::Daily => ("Training", 10),
        Kind::Weekly => ("Training this week", 30),
        Kind::Monthly => return Ok(crate::briefings::Part::default()),
    };
    let lines = briefing_lines(services, kind).await?;
    Ok(crate::briefings::Part::section(
        heading,
        lines,
        Place::Tail,
        rank,
    ))
}
