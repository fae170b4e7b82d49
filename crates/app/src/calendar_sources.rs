//! Calendar sources: adding and removing them (an ICS file, an ICS
//! subscription, a CalDAV account; Google in [`crate::calendar_google`]),
//! syncing them (the `calendar-sync` job, every quarter hour by default),
//! and their secrets.
//!
//! **Invariants:** every source is read-only (GET, PROPFIND and REPORT
//! only); a sync's changes and its new state commit together, so a failed
//! or interrupted sync leaves the last good copy and the next run picks up
//! from its state; CalDAV passwords and Google refresh tokens live in
//! `DATA_DIR/calendar-secrets.json` (mode 0600), never in the database,
//! logs or errors.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use openzero_calendar::caldav::{CalDav, CalDavError};
use openzero_calendar::feed::{self, Fetched};
use openzero_config::Loaded;
use openzero_store::calendar::{
    CalendarRow, CalendarStore, NewSource, ObjectChanges, SourceKind, SourceRow, SyncState,
};

use crate::jobs::Task;
use crate::{AppError, Services};

/// Where CalDAV passwords are kept, in the data directory.
pub const SECRETS_FILE: &str = "calendar-secrets.json";

const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// The one calendar and resource of an ICS subscription: a fixed name, so
/// the feed's address (often carrying a secret token) is kept only once,
/// in its source.
const FEED_HREF: &str = "feed";

/// What adding or importing found.
#[derive(Debug, Clone)]
pub struct AddReport {
    pub source: String,
    pub calendars: usize,
    pub events: usize,
    pub problems: Vec<String>,
    /// A feed whose times look stored in UTC although it is local.
    pub shifted: bool,
}

fn secrets_path(loaded: &Loaded) -> PathBuf {
    loaded.data_dir.join(SECRETS_FILE)
}

fn read_secrets(loaded: &Loaded) -> Result<BTreeMap<String, String>, AppError> {
    let path = secrets_path(loaded);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| {
            AppError::Invalid(format!(
                "{} is not valid JSON ({e}); fix it or add the CalDAV account again",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(AppError::Invalid(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// Keeps a source's secret (a CalDAV password, a Google refresh token).
pub(crate) fn keep_secret(loaded: &Loaded, name: &str, secret: &str) -> Result<(), AppError> {
    let mut secrets = read_secrets(loaded)?;
    secrets.insert(name.to_string(), secret.to_string());
    write_secrets(loaded, &secrets)
}

/// How many events the calendars of a source hold.
pub(crate) async fn count_source_events(
    store: &dyn CalendarStore,
    source_id: i64,
) -> Result<usize, AppError> {
    let ids: Vec<i64> = store
        .cal_calendars()
        .await?
        .iter()
        .filter(|c| c.source_id == source_id)
        .map(|c| c.id)
        .collect();
    let mut events = 0;
    for obj in store.cal_objects(Some(&ids)).await? {
        events += count_events(&obj.ics).0;
    }
    Ok(events)
}

fn write_secrets(loaded: &Loaded, secrets: &BTreeMap<String, String>) -> Result<(), AppError> {
    let text = serde_json::to_string_pretty(secrets)
        .map_err(|e| AppError::Invalid(format!("cannot write calendar secrets: {e}")))?;
    crate::oauth_flow::save_private(loaded, &secrets_path(loaded), &text)
}

fn http_client() -> Result<reqwest::Client, AppError> {
    reqwest::Client::builder()
        .user_agent(concat!("OpenZero/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| AppError::Invalid(format!("cannot set up HTTP: {e}")))
}

fn count_events(ics: &str) -> (usize, Vec<String>) {
    let cal = openzero_calendar::parse(ics.as_bytes());
    (
        cal.events.len(),
        cal.problems.iter().map(ToString::to_string).collect(),
    )
}

/// Timed starts of a calendar's events (not instances), for the shift check.
fn starts_of(ics: &str, tz: Tz) -> Vec<DateTime<Utc>> {
    let cal = openzero_calendar::parse(ics.as_bytes());
    cal.events
        .iter()
        .filter(|e| e.recurrence_id.is_none())
        .filter_map(|e| match &e.start {
            openzero_calendar::ics::Time::Local(n, z) => Some(z.to_utc(*n, tz)),
            openzero_calendar::ics::Time::Date(_) => None,
        })
        .collect()
}

/// Imports a local `.ics` file as a calendar (again: replaces what the
/// last import of that name brought).
pub async fn import_file(
    store: &dyn CalendarStore,
    tz: Tz,
    path: &Path,
    name: Option<&str>,
) -> Result<AddReport, AppError> {
    let bytes = std::fs::read(path)
        .map_err(|e| AppError::Invalid(format!("cannot read {}: {e}", path.display())))?;
    let parsed = openzero_calendar::parse(&bytes);
    if parsed.events.is_empty() && !parsed.problems.is_empty() {
        let first = parsed
            .problems
            .first()
            .map(ToString::to_string)
            .unwrap_or_default();
        return Err(AppError::Invalid(format!(
            "{} has no event that can be read ({first})",
            path.display()
        )));
    }
    let ics = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => e.into_bytes().iter().map(|&b| b as char).collect(),
    };
    let name = name
        .map(str::to_string)
        .or_else(|| parsed.name.clone())
        .or_else(|| path.file_stem().map(|s| s.to_string_lossy().to_string()))
        .unwrap_or_else(|| "imported".into());
    let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let source = match store
        .cal_sources()
        .await?
        .into_iter()
        .find(|s| s.name == name)
    {
        Some(s) if s.kind == SourceKind::File => s,
        Some(s) => {
            return Err(AppError::Invalid(format!(
                "a {} calendar source is already called \"{name}\"; choose another name with --name",
                s.kind.as_str()
            )));
        }
        None => store
            .cal_source_add(&NewSource {
                name: name.clone(),
                kind: SourceKind::File,
                url: abs.display().to_string(),
                username: None,
            })
            .await?
            .ok_or_else(|| AppError::Invalid(format!("\"{name}\" was added meanwhile")))?,
    };
    let cal = store
        .cal_calendar_upsert(source.id, &abs.display().to_string(), &name, None)
        .await?;
    let shifted = check_shift(store, &cal, &ics, tz).await?;
    store
        .cal_apply(
            cal.id,
            &ObjectChanges {
                replace_all: true,
                put: vec![(abs.display().to_string(), None, ics)],
                removed: vec![],
            },
            &SyncState::default(),
        )
        .await?;
    store.cal_source_synced(source.id, None).await?;
    Ok(AddReport {
        source: name,
        calendars: 1,
        events: parsed.events.len(),
        problems: parsed.problems.iter().map(ToString::to_string).collect(),
        shifted,
    })
}

/// Flags a calendar whose times look shifted, once; true when flagged now.
async fn check_shift(
    store: &dyn CalendarStore,
    cal: &CalendarRow,
    ics: &str,
    tz: Tz,
) -> Result<bool, AppError> {
    if cal.flagged_at.is_some() {
        return Ok(false);
    }
    if openzero_core::calendar::looks_shifted(&starts_of(ics, tz), tz).is_some() {
        return Ok(store.cal_flag(cal.id).await?);
    }
    Ok(false)
}

/// Subscribes to an ICS feed: fetched once now (so a wrong address fails
/// here), then refreshed by the sync job.
pub async fn add_url(
    store: &dyn CalendarStore,
    tz: Tz,
    url: &str,
    name: Option<&str>,
) -> Result<AddReport, AppError> {
    let u = feed::normalize(url).map_err(|e| AppError::Invalid(e.to_string()))?;
    let client = http_client()?;
    let Fetched::Body {
        ics,
        etag,
        last_modified,
    } = feed::fetch(&client, &u, None, None, HTTP_TIMEOUT)
        .await
        .map_err(|e| AppError::Invalid(e.to_string()))?
    else {
        return Err(AppError::Invalid(format!(
            "{} answered 304 Not Modified to a first request",
            feed::redacted(&u)
        )));
    };
    let parsed = openzero_calendar::parse(ics.as_bytes());
    let name = name
        .map(str::to_string)
        .or_else(|| parsed.name.clone())
        .or_else(|| u.host_str().map(str::to_string))
        .unwrap_or_else(|| "subscription".into());
    let source = store
        .cal_source_add(&NewSource {
            name: name.clone(),
            kind: SourceKind::Ics,
            url: u.to_string(),
            username: None,
        })
        .await?
        .ok_or_else(|| {
            AppError::Invalid(format!(
                "a calendar source is already called \"{name}\"; choose another name with --name"
            ))
        })?;
    let cal = store
        .cal_calendar_upsert(source.id, FEED_HREF, &name, None)
        .await?;
    let (events, problems) = count_events(&ics);
    let shifted = check_shift(store, &cal, &ics, tz).await?;
    store
        .cal_apply(
            cal.id,
            &ObjectChanges {
                replace_all: true,
                put: vec![(FEED_HREF.to_string(), etag.clone(), ics)],
                removed: vec![],
            },
            &SyncState {
                etag,
                last_modified,
                ..SyncState::default()
            },
        )
        .await?;
    store.cal_source_synced(source.id, None).await?;
    Ok(AddReport {
        source: name,
        calendars: 1,
        events,
        problems,
        shifted,
    })
}

fn caldav_error(e: CalDavError) -> AppError {
    AppError::Invalid(e.to_string())
}

/// Adds a CalDAV account: its calendars are discovered now (so a wrong
/// address or password fails here) and synced.
pub async fn add_caldav(
    loaded: &Loaded,
    store: &dyn CalendarStore,
    url: &str,
    user: &str,
    password: &str,
    name: Option<&str>,
) -> Result<AddReport, AppError> {
    let dav = CalDav::new(url, user, password, HTTP_TIMEOUT).map_err(caldav_error)?;
    let found = dav.discover().await.map_err(caldav_error)?;
    if found.is_empty() {
        return Err(AppError::Invalid(format!(
            "{url} has no calendar with events for {user}"
        )));
    }
    let name = name.map(str::to_string).unwrap_or_else(|| {
        url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "caldav".into())
    });
    let mut secrets = read_secrets(loaded)?;
    let source = store
        .cal_source_add(&NewSource {
            name: name.clone(),
            kind: SourceKind::Caldav,
            url: url.to_string(),
            username: Some(user.to_string()),
        })
        .await?
        .ok_or_else(|| {
            AppError::Invalid(format!(
                "a calendar source is already called \"{name}\"; choose another name with --name"
            ))
        })?;
    secrets.insert(name.clone(), password.to_string());
    write_secrets(loaded, &secrets)?;
    let report = sync_caldav(store, &source, &dav).await;
    store
        .cal_source_synced(source.id, report.as_ref().err().map(String::as_str))
        .await?;
    let (calendars, _) = report.map_err(AppError::Invalid)?;
    let mut events = 0;
    for obj in store
        .cal_objects(Some(
            &store
                .cal_calendars()
                .await?
                .iter()
                .filter(|c| c.source_id == source.id)
                .map(|c| c.id)
                .collect::<Vec<_>>(),
        ))
        .await?
    {
        events += count_events(&obj.ics).0;
    }
    Ok(AddReport {
        source: name,
        calendars,
        events,
        problems: vec![],
        shifted: false,
    })
}

/// Removes a source and everything it brought (its password too).
pub async fn remove(
    loaded: &Loaded,
    store: &dyn CalendarStore,
    name: &str,
) -> Result<bool, AppError> {
    let removed = store.cal_source_remove(name).await?;
    let mut secrets = read_secrets(loaded)?;
    if secrets.remove(name).is_some() {
        write_secrets(loaded, &secrets)?;
    }
    Ok(removed)
}

/// One source's sync.
#[derive(Debug, Clone)]
pub struct SyncReport {
    pub source: String,
    /// Calendars whose content changed.
    pub changed: usize,
    pub error: Option<String>,
}

/// Brings a source's calendars in line with what its server lists
/// (href, name, color): those gone are removed with their events, the
/// others created or renamed. Returns the rows in the order given.
pub(crate) async fn reconcile(
    store: &dyn CalendarStore,
    source_id: i64,
    listed: &[(&str, &str, Option<&str>)],
) -> Result<Vec<CalendarRow>, String> {
    for k in store
        .cal_calendars()
        .await
        .map_err(|e| e.to_string())?
        .iter()
        .filter(|c| c.source_id == source_id)
    {
        if !listed.iter().any(|(href, _, _)| *href == k.href) {
            store
                .cal_calendar_remove(k.id)
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    let mut out = Vec::with_capacity(listed.len());
    for (href, name, color) in listed {
        out.push(
            store
                .cal_calendar_upsert(source_id, href, name, *color)
                .await
                .map_err(|e| e.to_string())?,
        );
    }
    Ok(out)
}

/// Syncs one CalDAV account: its calendars, then each one's changes
/// (sync-collection, else ETags). Returns (calendars, changed).
async fn sync_caldav(
    store: &dyn CalendarStore,
    source: &SourceRow,
    dav: &CalDav,
) -> Result<(usize, usize), String> {
    let remote = dav.discover().await.map_err(|e| e.to_string())?;
    if remote.is_empty() {
        return Err(format!(
            "{} listed no calendars this time; what was synced before is kept",
            source.url
        ));
    }
    let listed: Vec<(&str, &str, Option<&str>)> = remote
        .iter()
        .map(|r| (r.href.as_str(), r.name.as_str(), r.color.as_deref()))
        .collect();
    let cals = reconcile(store, source.id, &listed).await?;
    let mut changed = 0;
    for (r, cal) in remote.iter().zip(cals) {
        // Nothing changed since the last sync: the ctag says so.
        if r.ctag.is_some() && r.ctag == cal.state.ctag {
            continue;
        }
        if sync_one(store, dav, &cal, r.ctag.clone()).await? {
            changed += 1;
        }
    }
    Ok((remote.len(), changed))
}

/// Brings one CalDAV calendar up to date; true when something changed.
async fn sync_one(
    store: &dyn CalendarStore,
    dav: &CalDav,
    cal: &CalendarRow,
    ctag: Option<String>,
) -> Result<bool, String> {
    let err = |e: CalDavError| e.to_string();
    let (replace_all, changes) = match dav.sync(&cal.href, cal.state.sync_token.as_deref()).await {
        Ok(c) => (cal.state.sync_token.is_none(), Some(c)),
        Err(CalDavError::TokenInvalid) => {
            // The server forgot our token: start over, replacing everything.
            (true, Some(dav.sync(&cal.href, None).await.map_err(err)?))
        }
        Err(CalDavError::Unsupported(_)) => (false, None),
        Err(e) => return Err(err(e)),
    };
    let (to_fetch, removed, token) = match changes {
        Some(c) => (
            c.changed.into_iter().map(|(h, _)| h).collect::<Vec<_>>(),
            c.removed,
            Some(c.token),
        ),
        None => {
            // No sync-collection: compare ETags.
            let theirs: HashMap<String, String> = dav
                .etags(&cal.href)
                .await
                .map_err(err)?
                .into_iter()
                .collect();
            let ours: HashMap<String, Option<String>> = store
                .cal_etags(cal.id)
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .collect();
            let fetch = theirs
                .iter()
                .filter(|(h, e)| ours.get(*h).and_then(|o| o.as_deref()) != Some(e.as_str()))
                .map(|(h, _)| h.clone())
                .collect();
            let removed = ours
                .keys()
                .filter(|h| !theirs.contains_key(*h))
                .cloned()
                .collect();
            (fetch, removed, None)
        }
    };
    let fetched = if to_fetch.is_empty() {
        openzero_calendar::caldav::Fetched::default()
    } else {
        dav.fetch(&cal.href, &to_fetch).await.map_err(err)?
    };
    let mut removed = removed;
    removed.extend(fetched.missing);
    // Resources the server did not answer for: keep the old token and
    // ctag, so the next sync asks for them again (what was read is kept).
    let (token, ctag) = if fetched.failed.is_empty() {
        (token, ctag)
    } else {
        (cal.state.sync_token.clone(), cal.state.ctag.clone())
    };
    // A full resync must not drop what the server failed to send this time:
    // everything else not sent again is removed instead.
    let (replace_all, removed) = if replace_all && !fetched.failed.is_empty() {
        let keep: std::collections::HashSet<&String> = fetched
            .failed
            .iter()
            .chain(fetched.resources.iter().map(|r| &r.href))
            .collect();
        let mut gone = removed;
        gone.extend(
            store
                .cal_etags(cal.id)
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|(h, _)| h)
                .filter(|h| !keep.contains(h)),
        );
        (false, gone)
    } else {
        (replace_all, removed)
    };
    let any = replace_all || !fetched.resources.is_empty() || !removed.is_empty();
    let put = fetched
        .resources
        .into_iter()
        .map(|r| (r.href, Some(r.etag), r.ics))
        .collect();
    store
        .cal_apply(
            cal.id,
            &ObjectChanges {
                replace_all,
                put,
                removed,
            },
            &SyncState {
                etag: None,
                last_modified: None,
                ctag,
                sync_token: token,
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(any)
}

/// Refreshes an ICS subscription with a conditional GET; true when changed.
async fn sync_feed(
    store: &dyn CalendarStore,
    client: &reqwest::Client,
    source: &SourceRow,
    tz: Tz,
) -> Result<(bool, bool), String> {
    let u = feed::normalize(&source.url).map_err(|e| e.to_string())?;
    let cal = store
        .cal_calendar_upsert(source.id, FEED_HREF, &source.name, None)
        .await
        .map_err(|e| e.to_string())?;
    let got = feed::fetch(
        client,
        &u,
        cal.state.etag.as_deref(),
        cal.state.last_modified.as_deref(),
        HTTP_TIMEOUT,
    )
    .await
    .map_err(|e| e.to_string())?;
    let Fetched::Body {
        ics,
        etag,
        last_modified,
    } = got
    else {
        return Ok((false, false));
    };
    // A feed that comes back empty or cut short while the last copy had
    // events is a hiccup of the server, not a cleared calendar.
    let parsed = openzero_calendar::parse(ics.as_bytes());
    let cut_short = parsed
        .problems
        .iter()
        .any(|p| p.what.contains("never ended"));
    if parsed.events.is_empty() || cut_short {
        let before: usize = store
            .cal_objects(Some(&[cal.id]))
            .await
            .map_err(|e| e.to_string())?
            .iter()
            .map(|o| count_events(&o.ics).0)
            .sum();
        if before > 0 {
            return Err(format!(
                "{} came back {}; the last copy ({before} events) is kept",
                feed::redacted(&u),
                if cut_short {
                    "cut short"
                } else {
                    "with no events"
                }
            ));
        }
    }
    let shifted = check_shift(store, &cal, &ics, tz)
        .await
        .map_err(|e| e.to_string())?;
    store
        .cal_apply(
            cal.id,
            &ObjectChanges {
                replace_all: true,
                put: vec![(FEED_HREF.to_string(), etag.clone(), ics)],
                removed: vec![],
            },
            &SyncState {
                etag,
                last_modified,
                ..SyncState::default()
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok((true, shifted))
}

/// Syncs every source (or the one named); each source's result recorded.
pub async fn sync(services: &Services, only: Option<&str>) -> Result<Vec<SyncReport>, AppError> {
    let store: &dyn CalendarStore = &*services.store;
    let tz = services.loaded.settings.general.timezone.0;
    let client = http_client()?;
    let secrets = read_secrets(&services.loaded)?;
    let mut out = Vec::new();
    let sources = store.cal_sources().await?;
    if let Some(name) = only
        && !sources.iter().any(|s| s.name == name)
    {
        return Err(AppError::Invalid(format!(
            "there is no calendar source \"{name}\" (see `openzero calendar list`)"
        )));
    }
    for source in sources.iter().filter(|s| only.is_none_or(|n| n == s.name)) {
        let result: Result<usize, String> = match source.kind {
            SourceKind::File => Ok(0),
            SourceKind::Google => match secrets.get(&source.name) {
                None => Err(format!(
                    "no Google grant kept for \"{}\"; remove it and run `openzero calendar connect google` again",
                    source.name
                )),
                Some(refresh) => {
                    crate::calendar_google::sync(&services.loaded, store, source, refresh)
                        .await
                        .map(|(_, c)| c)
                }
            },
            SourceKind::Ics => match sync_feed(store, &client, source, tz).await {
                Ok((changed, shifted)) => {
                    if shifted {
                        let text = format!(
                            "📅 The calendar \"{}\" looks shifted: most of its events fall at odd local hours, as if stored in UTC for a local calendar. Check the times against the source.",
                            source.name
                        );
                        services
                            .notify_once(&format!("calendar-shift:{}", source.id), &text)
                            .await?;
                    }
                    Ok(usize::from(changed))
                }
                Err(e) => Err(e),
            },
            SourceKind::Caldav => {
                let user = source.username.clone().unwrap_or_default();
                match secrets.get(&source.name) {
                    None => Err(format!(
                        "no password kept for \"{}\"; remove it and add it again with `openzero calendar add-caldav`",
                        source.name
                    )),
                    Some(pw) => match CalDav::new(&source.url, &user, pw, HTTP_TIMEOUT) {
                        Ok(dav) => sync_caldav(store, source, &dav).await.map(|(_, c)| c),
                        Err(e) => Err(e.to_string()),
                    },
                }
            }
        };
        let error = result.as_ref().err().cloned();
        if let Some(e) = &error {
            tracing::warn!(source = %source.name, error = %e, "calendar sync failed");
        }
        store.cal_source_synced(source.id, error.as_deref()).await?;
        out.push(SyncReport {
            source: source.name.clone(),
            changed: result.unwrap_or(0),
            error,
        });
    }
    Ok(out)
}

/// The `calendar-sync` job.
pub fn jobs(loaded: &Loaded) -> Result<Vec<crate::jobs::Job>, AppError> {
    Ok(vec![crate::jobs::Job::new(
        loaded,
        "calendar-sync",
        &loaded.settings.schedule.calendar_sync,
        Duration::from_secs(300),
        Arc::new(SyncTask),
    )?])
}

#[derive(Debug)]
struct SyncTask;

#[async_trait::async_trait]
impl Task for SyncTask {
    async fn run(&self, services: &Arc<Services>) -> Result<String, AppError> {
        let reports = sync(services, None).await?;
        let lines: Vec<String> = reports
            .iter()
            .map(|r| match &r.error {
                None => format!("{}: {} changed", r.source, r.changed),
                Some(e) => format!("{}: failed: {e}", r.source),
            })
            .collect();
        Ok(if lines.is_empty() {
            "no calendars".into()
        } else {
            lines.join("\n")
        })
    }
}

/// A feed address as shown to the owner: tokens hidden.
pub fn redact_url(url: &str) -> String {
    feed::normalize(url).map_or_else(|_| "(unreadable address)".into(), |u| feed::redacted(&u))
}
