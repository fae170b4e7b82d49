//! Back-filling Strava history (the `strava-harvest` job): every activity
//! since a date, oldest first, within Strava's rate limits as each answer's
//! headers state them. It stops when a window is nearly spent or on a 429
//! and resumes at the next run after the window ends; the cursor (the
//! start of the last activity kept) is saved after each activity, so a
//! restart loses nothing. Also the way new runs arrive where Strava's
//! webhook cannot reach this server.
//!
//! **Invariants:** an activity kept already is never fetched again (the
//! store is asked first); the harvest leaves [`MARGIN`] requests of each
//! window to the webhook's fetches; its state is in the preference
//! `strava.harvest`.

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use openzero_config::Loaded;
use openzero_strava::{RateLimits, StravaError, SummaryActivity};
use serde::{Deserialize, Serialize};

use super::follow::{pause, paused_until, resume_after_429};
use super::{SOURCE, StravaFetchError, access, client, fetch_and_keep, tokens};
use crate::jobs::{Job, Task};
use crate::{AppError, Services, clock};

/// The job's name, as `jobs list` shows it.
pub const JOB: &str = "strava-harvest";
/// Where the harvest's state is kept.
pub const STATE_KEY: &str = "strava.harvest";
/// Requests of each window left to the webhook's fetches.
pub const MARGIN: u32 = 10;
/// Activities per list page (Strava allows up to 200).
const PER_PAGE: u32 = 100;
/// List pages read in one run at most.
const MAX_PAGES: u32 = 100;

/// Where the harvest stands.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct State {
    /// How far back it goes.
    pub since: Option<NaiveDate>,
    /// The start (seconds since the epoch) of the last activity handled.
    pub cursor: Option<i64>,
    /// Activities fetched and kept so far.
    pub fetched: u64,
    /// Activities listed that were kept already (by the webhook).
    pub already: u64,
    /// A rate limit was spent: nothing before this.
    pub resume_at: Option<DateTime<Utc>>,
    /// The last time it reached the newest activity.
    pub caught_up_at: Option<DateTime<Utc>>,
}

/// The harvest job.
pub fn jobs(loaded: &Loaded) -> Result<Vec<Job>, AppError> {
    Ok(vec![Job::new(
        loaded,
        JOB,
        &loaded.settings.schedule.strava_harvest,
        std::time::Duration::from_secs(50 * 60),
        Arc::new(HarvestTask),
    )?])
}

#[derive(Debug)]
struct HarvestTask;

#[async_trait::async_trait]
impl Task for HarvestTask {
    async fn run(&self, services: &Arc<Services>) -> Result<String, AppError> {
        run(services).await
    }
}

/// `strava.harvest_since`, else a year before today.
pub fn default_since(loaded: &Loaded) -> NaiveDate {
    loaded
        .settings
        .strava
        .harvest_since
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok())
        .unwrap_or_else(|| clock::now().date_naive() - Duration::days(365))
}

/// The harvest's state.
pub async fn state(services: &Services) -> Result<State, AppError> {
    Ok(services
        .store
        .get_preference(STATE_KEY)
        .await?
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default())
}

async fn save(services: &Services, s: &State) -> Result<(), AppError> {
    let text = serde_json::to_string(s).map_err(|e| AppError::Invalid(e.to_string()))?;
    services.store.set_preference(STATE_KEY, &text).await?;
    Ok(())
}

/// (Re)starts the harvest from `since` (activities kept stay kept).
pub async fn start(services: &Services, since: NaiveDate) -> Result<State, AppError> {
    let mut s = state(services).await?;
    s.since = Some(since);
    s.cursor = since
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp() - 1);
    s.resume_at = None;
    save(services, &s).await?;
    Ok(s)
}

/// One run: lists what is new since the cursor, then fetches each
/// activity not kept yet, oldest first, until done or a window is spent.
pub async fn run(services: &Arc<Services>) -> Result<String, AppError> {
    let loaded = &services.loaded;
    let Some(client) = client(loaded) else {
        return Ok(
            "skipped: Strava is not configured (STRAVA_CLIENT_ID, STRAVA_CLIENT_SECRET)".into(),
        );
    };
    let client = client?;
    let Some(grant) = tokens(loaded)? else {
        return Ok("skipped: Strava is not connected (`openzero strava connect`)".into());
    };
    let mut s = state(services).await?;
    if s.since.is_none() {
        s = start(services, default_since(loaded)).await?;
    }
    let now = clock::now();
    if let Some(until) = s.resume_at.filter(|r| *r > now).or(paused_until(now)) {
        return Ok(format!(
            "waiting for Strava's rate limit until {}",
            until.format("%Y-%m-%d %H:%M UTC")
        ));
    }
    let token = access(loaded, &client).await?;
    let after = s.cursor;
    // Every page after the cursor first (a request per hundred), sorted
    // here: the order Strava lists in does not matter.
    let mut listed: Vec<SummaryActivity> = Vec::new();
    let mut limits: Option<RateLimits> = None;
    for page in 1..=MAX_PAGES {
        match client.activities(&token, after, None, page, PER_PAGE).await {
            Ok(a) => {
                limits = a.limits.or(limits);
                let n = a.value.len();
                listed.extend(a.value);
                if n < PER_PAGE as usize {
                    break;
                }
            }
            Err(StravaError::RateLimited(l)) => {
                return stop(services, &mut s, resume_after_429(l, clock::now())).await;
            }
            Err(e) => return Err(AppError::Invalid(e.to_string())),
        }
        if let Some(until) = limits.and_then(|l| l.wait_until(clock::now(), MARGIN)) {
            return stop(services, &mut s, until).await;
        }
    }
    listed.sort_by_key(|a| (a.start_date, a.id));
    listed.dedup_by_key(|a| a.id);
    let (mut fetched, mut already) = (0u64, 0u64);
    for a in &listed {
        if services
            .store
            .activity_find(SOURCE, &a.id.to_string())
            .await?
            .is_some()
        {
            already += 1;
        } else {
            if let Some(until) = limits.and_then(|l| l.wait_until(clock::now(), MARGIN)) {
                s.fetched += fetched;
                s.already += already;
                return stop(services, &mut s, until).await;
            }
            match fetch_and_keep(services, &client, a.id, &mut limits).await {
                Ok(Some(row)) => {
                    fetched += 1;
                    // A run done since connecting, reaching us this way
                    // (no webhook): the same feedback.
                    if row.start_at > grant.connected_at
                        && clock::now() - row.start_at < Duration::hours(24)
                    {
                        crate::training_feedback::after_new(services, &row).await;
                    }
                }
                Ok(None) => {}
                Err(StravaFetchError::Strava(StravaError::RateLimited(l))) => {
                    s.fetched += fetched;
                    s.already += already;
                    return stop(
                        services,
                        &mut s,
                        resume_after_429(l.or(limits), clock::now()),
                    )
                    .await;
                }
                Err(e) => {
                    s.fetched += fetched;
                    s.already += already;
                    save(services, &s).await?;
                    return Err(AppError::Invalid(format!(
                        "stopped at activity {} ({e}); the next run goes on from there",
                        a.id
                    )));
                }
            }
        }
        s.cursor = Some(a.start_date.timestamp());
        save(services, &s).await?;
    }
    s.fetched += fetched;
    s.already += already;
    s.resume_at = None;
    s.caught_up_at = Some(clock::now());
    save(services, &s).await?;
    Ok(format!(
        "caught up: {fetched} activities fetched, {already} already here ({} in all from Strava)",
        s.fetched
    ))
}

/// Stops for a spent window: the pause is kept and shared with the webhook.
async fn stop(
    services: &Services,
    s: &mut State,
    until: DateTime<Utc>,
) -> Result<String, AppError> {
    pause(until);
    s.resume_at = Some(until);
    save(services, s).await?;
    tracing::info!(%until, "strava harvest: rate limit window spent; resuming later");
    Ok(format!(
        "paused for Strava's rate limit until {} ({} fetched so far); the next run after that goes on",
        until.format("%Y-%m-%d %H:%M UTC"),
        s.fetched
    ))
}
