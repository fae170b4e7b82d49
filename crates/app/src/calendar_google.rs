//! Google Calendar as a calendar source: connecting (the same installed-app
//! OAuth as Gmail, scope `calendar.readonly`), and syncing each of the
//! account's calendars by sync token, with a full resync when Google says
//! the token is gone (410).
//!
//! **Invariants:** only GET requests reach Google (the adapter's own
//! check); the refresh token is kept with the CalDAV passwords in
//! `DATA_DIR/calendar-secrets.json` (0600), never in the database; a
//! sync's changes and its next token commit together.

use std::collections::HashSet;
use std::time::Duration;

use openzero_calendar::google::{GoogleCalendar, GoogleError, SCOPE};
use openzero_config::Loaded;
use openzero_store::calendar::{
    CalendarStore, NewSource, ObjectChanges, SourceKind, SourceRow, SyncState,
};

use crate::AppError;

const TIMEOUT: Duration = Duration::from_secs(30);

struct Client {
    id: String,
    secret: String,
}

fn client(loaded: &Loaded) -> Result<Client, AppError> {
    let g = &loaded.settings.google;
    let id = g
        .client_id
        .clone()
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| {
            AppError::Invalid(
                "set GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET first: a Google OAuth client of type \"Desktop app\" from your Google Cloud project, with the Google Calendar API enabled".into(),
            )
        })?;
    Ok(Client {
        id,
        secret: g
            .client_secret
            .as_ref()
            .map(|s| s.expose().to_owned())
            .unwrap_or_default(),
    })
}

/// Connects a Google account: `refresh_token` given (from a file), or
/// granted now in a browser. The account's calendars are synced at once.
pub async fn connect(
    loaded: &Loaded,
    store: &dyn CalendarStore,
    name: &str,
    refresh_token: Option<String>,
    say: &(dyn Fn(&str) + Sync),
    pasted: impl std::future::Future<Output = Option<String>>,
) -> Result<super::calendar::AddReport, AppError> {
    let c = client(loaded)?;
    if store.cal_sources().await?.iter().any(|s| s.name == name) {
        return Err(AppError::Invalid(format!(
            "a calendar source is already called \"{name}\"; choose another name with --name"
        )));
    }
    let refresh = match refresh_token {
        Some(t) => t,
        None => {
            let g = &loaded.settings.google;
            let endpoints = crate::oauth_flow::Endpoints {
                auth_url: g.auth_url.clone(),
                token_url: g.token_url.clone(),
                client_id: c.id.clone(),
                client_secret: c.secret.clone(),
                scope: SCOPE.to_owned(),
                what: "read-only access to Google Calendar",
            };
            crate::oauth_flow::grant(&endpoints, say, pasted).await?
        }
    };
    // The token works before anything is kept.
    let api = api(loaded)?;
    let access = access_token(loaded, &c, &refresh).await?;
    api.calendars(&access)
        .await
        .map_err(|e| AppError::Invalid(explain(e)))?;
    let source = store
        .cal_source_add(&NewSource {
            name: name.to_string(),
            kind: SourceKind::Google,
            url: loaded.settings.google.calendar_api_base.clone(),
            username: None,
        })
        .await?
        .ok_or_else(|| AppError::Invalid(format!("\"{name}\" was added meanwhile")))?;
    super::calendar::keep_secret(loaded, name, &refresh)?;
    let result = sync(loaded, store, &source, &refresh).await;
    store
        .cal_source_synced(source.id, result.as_ref().err().map(String::as_str))
        .await?;
    let (calendars, _) = result.map_err(AppError::Invalid)?;
    let events = super::calendar::count_source_events(store, source.id).await?;
    Ok(super::calendar::AddReport {
        source: name.to_string(),
        calendars,
        events,
        problems: vec![],
        shifted: false,
    })
}

fn api(loaded: &Loaded) -> Result<GoogleCalendar, AppError> {
    GoogleCalendar::new(&loaded.settings.google.calendar_api_base, TIMEOUT)
        .map_err(|e| AppError::Invalid(e.to_string()))
}

async fn access_token(loaded: &Loaded, c: &Client, refresh: &str) -> Result<String, AppError> {
    openzero_mail::oauth::refresh(
        &loaded.settings.google.token_url,
        &c.id,
        &c.secret,
        refresh,
        TIMEOUT,
    )
    .await
    .map(|(token, _)| token)
    .map_err(|e| {
        AppError::Invalid(format!(
            "Google did not renew the calendar access ({e}); run `openzero calendar connect google` again"
        ))
    })
}

fn explain(e: GoogleError) -> String {
    match e {
        GoogleError::Unauthorized => {
            "Google refused the access token; run `openzero calendar connect google` again".into()
        }
        other => other.to_string(),
    }
}

/// Syncs every calendar of a connected account. Returns (calendars,
/// changed), or a readable error.
pub async fn sync(
    loaded: &Loaded,
    store: &dyn CalendarStore,
    source: &SourceRow,
    refresh: &str,
) -> Result<(usize, usize), String> {
    let c = client(loaded).map_err(|e| e.to_string())?;
    let api = api(loaded).map_err(|e| e.to_string())?;
    let access = access_token(loaded, &c, refresh)
        .await
        .map_err(|e| e.to_string())?;
    let remote = api.calendars(&access).await.map_err(explain)?;
    let listed: Vec<(&str, &str, Option<&str>)> = remote
        .iter()
        .map(|r| (r.id.as_str(), r.name.as_str(), r.color.as_deref()))
        .collect();
    let cals = crate::calendar_sources::reconcile(store, source.id, &listed).await?;
    let mut changed = 0;
    for (r, cal) in remote.iter().zip(cals) {
        let (full, changes) = match api
            .sync(&access, &r.id, cal.state.sync_token.as_deref())
            .await
        {
            Ok(ch) => (cal.state.sync_token.is_none(), ch),
            Err(GoogleError::SyncTokenExpired) => {
                tracing::info!(calendar = %r.name, "Google asked for a full resync");
                (true, api.sync(&access, &r.id, None).await.map_err(explain)?)
            }
            Err(e) => return Err(format!("{}: {}", r.name, explain(e))),
        };
        for s in &changes.skipped {
            tracing::warn!(calendar = %r.name, event = %s, "Google event skipped");
        }
        // A deleted series takes its stored instances (ids "SERIES_…") along.
        let gone: HashSet<&str> = changes.removed.iter().map(String::as_str).collect();
        let mut removed = changes.removed.clone();
        if !gone.is_empty() && !full {
            for (href, _) in store.cal_etags(cal.id).await.map_err(|e| e.to_string())? {
                // An instance id is "SERIES_20260330T070000Z" (or a date);
                // "SERIES_R2026…" is a split-off series of its own.
                if let Some((series, when)) = href.rsplit_once('_')
                    && gone.contains(series)
                    && when.starts_with(|c: char| c.is_ascii_digit())
                {
                    removed.push(href);
                }
            }
        }
        if full || !changes.put.is_empty() || !removed.is_empty() {
            changed += 1;
        }
        store
            .cal_apply(
                cal.id,
                &ObjectChanges {
                    replace_all: full,
                    put: changes
                        .put
                        .into_iter()
                        .map(|(id, ics)| (id, None, ics))
                        .collect(),
                    removed,
                },
                &SyncState {
                    sync_token: Some(changes.next_sync_token),
                    ..SyncState::default()
                },
            )
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok((remote.len(), changed))
}
