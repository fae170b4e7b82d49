//! The fake's routes: OAuth (`/oauth/*`) and the API (`/api/v3/*`), each
//! answering Strava's JSON and Strava's Fault bodies.
//!
//! **Invariants:** the lock on the state is never held across an `.await`
//! (the subscription handshake calls out to the callback with it
//! released); parameters are read from the query and the body alike.

use std::collections::HashMap;

use axum::Json;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::activity;
use super::{
    ATHLETE_ID, CLIENT_ID, CLIENT_SECRET, GRANTED_SCOPE, Shared, Subscription, fault, lock,
    with_query,
};

/// Strava returns the existing access token from a refresh grant while it
/// has more than this many seconds left.
const REUSE_ACCESS_ABOVE: i64 = 3_600;
/// `per_page` of the activity list: default and maximum.
const PER_PAGE_DEFAULT: usize = 30;
const PER_PAGE_MAX: usize = 200;

/// The request's parameters: the query, then the body (a JSON object, or
/// else a form), the body winning.
pub(crate) fn params(query: &str, headers: &HeaderMap, body: &[u8]) -> HashMap<String, String> {
    let mut p: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("application/json") {
        if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) {
            for (k, v) in map {
                let v = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                p.insert(k, v);
            }
        }
    } else if !body.is_empty() {
        p.extend(url::form_urlencoded::parse(body).into_owned());
    }
    p
}

fn param<'a>(p: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    p.get(name).map(String::as_str).filter(|v| !v.is_empty())
}

fn bad_request(resource: &str, field: &str, code: &str) -> Response {
    fault(
        StatusCode::BAD_REQUEST,
        "Bad Request",
        resource,
        field,
        code,
    )
}

/// 404 for a path the API does not have.
pub(crate) fn not_found_path() -> Response {
    fault(
        StatusCode::NOT_FOUND,
        "Record Not Found",
        "resource",
        "path",
        "invalid",
    )
}

fn activity_not_found() -> Response {
    fault(
        StatusCode::NOT_FOUND,
        "Record Not Found",
        "Activity",
        "id",
        "invalid",
    )
}

fn unauthorized() -> Response {
    fault(
        StatusCode::UNAUTHORIZED,
        "Authorization Error",
        "Athlete",
        "access_token",
        "invalid",
    )
}

/// The application's credentials: a wrong or missing id is 400, a wrong
/// secret 401 (what Strava answers, per reports of both).
fn client_refused(p: &HashMap<String, String>) -> Option<Response> {
    if param(p, "client_id") != Some(CLIENT_ID) {
        return Some(bad_request("Application", "client_id", "invalid"));
    }
    if param(p, "client_secret") != Some(CLIENT_SECRET) {
        return Some(fault(
            StatusCode::UNAUTHORIZED,
            "Authorization Error",
            "Application",
            "",
            "invalid",
        ));
    }
    None
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// `GET /oauth/authorize`: the athlete approves at once; 302 to the
/// redirect URI with `state`, `code` and `scope`.
pub(crate) fn authorize(shared: &Shared, p: &HashMap<String, String>) -> Response {
    if param(p, "client_id") != Some(CLIENT_ID) {
        return bad_request("Application", "client_id", "invalid");
    }
    let Some(redirect) = param(p, "redirect_uri").filter(|r| url::Url::parse(r).is_ok()) else {
        return bad_request("Application", "redirect_uri", "invalid");
    };
    if param(p, "response_type") != Some("code") {
        return bad_request("Application", "response_type", "invalid");
    }
    let code = {
        let mut d = lock(shared);
        let code = d.token();
        d.codes.insert(code.clone());
        code
    };
    let state = p.get("state").map(String::as_str).unwrap_or("");
    let location = with_query(
        redirect,
        &[("state", state), ("code", &code), ("scope", GRANTED_SCOPE)],
    );
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

/// `POST /oauth/token`: the `authorization_code` and `refresh_token`
/// grants.
pub(crate) fn token(shared: &Shared, p: &HashMap<String, String>) -> Response {
    if let Some(r) = client_refused(p) {
        return r;
    }
    let now = Utc::now().timestamp();
    let mut d = lock(shared);
    match param(p, "grant_type") {
        Some("authorization_code") => {
            let code = param(p, "code").unwrap_or("");
            if !d.codes.remove(code) {
                return bad_request("AuthorizationCode", "code", "invalid");
            }
            let (access, expires_at) = d.new_access();
            let refresh = d.token();
            d.refresh.insert(refresh.clone());
            Json(json!({
                "token_type": "Bearer",
                "expires_at": expires_at,
                "expires_in": expires_at - now,
                "refresh_token": refresh,
                "access_token": access,
                "athlete": summary_athlete(),
            }))
            .into_response()
        }
        Some("refresh_token") => {
            let old = param(p, "refresh_token").unwrap_or("");
            if !d.refresh.remove(old) {
                return bad_request("RefreshToken", "refresh_token", "invalid");
            }
            let refresh = d.token();
            d.refresh.insert(refresh.clone());
            d.refresh_grants += 1;
            let reuse = d
                .access
                .iter()
                .filter(|a| !a.revoked && a.expires_at - now > REUSE_ACCESS_ABOVE)
                .max_by_key(|a| a.expires_at)
                .map(|a| (a.token.clone(), a.expires_at));
            let (access, expires_at) = match reuse {
                Some(found) => found,
                None => d.new_access(),
            };
            Json(json!({
                "token_type": "Bearer",
                "access_token": access,
                "expires_at": expires_at,
                "expires_in": expires_at - now,
                "refresh_token": refresh,
            }))
            .into_response()
        }
        _ => bad_request("Application", "grant_type", "invalid"),
    }
}

/// `POST /oauth/deauthorize`: revokes every token of the athlete.
pub(crate) fn deauthorize(
    shared: &Shared,
    headers: &HeaderMap,
    p: &HashMap<String, String>,
) -> Response {
    let token = param(p, "access_token")
        .or_else(|| bearer(headers))
        .unwrap_or("")
        .to_string();
    let mut d = lock(shared);
    if !d.access_ok(&token) {
        return unauthorized();
    }
    d.revoke_all();
    Json(json!({ "access_token": token })).into_response()
}

/// Everything under `/api/v3` (`rest` is the path after it); the rate
/// limits were counted already.
pub(crate) async fn api(
    shared: &Shared,
    method: &Method,
    rest: &str,
    headers: &HeaderMap,
    p: &HashMap<String, String>,
) -> Response {
    let segments: Vec<&str> = rest.trim_matches('/').split('/').collect();
    if segments.first() == Some(&"push_subscriptions") {
        return push_subscriptions(shared, method, &segments[1..], p).await;
    }
    let live = bearer(headers).is_some_and(|t| lock(shared).access_ok(t));
    if !live {
        return unauthorized();
    }
    if method != Method::GET {
        return not_found_path();
    }
    match segments.as_slice() {
        ["athlete"] => Json(detailed_athlete()).into_response(),
        ["athlete", "activities"] => list_activities(shared, p),
        ["activities", id] => with_activity(shared, id, activity::detailed),
        ["activities", id, "laps"] => {
            with_activity(shared, id, |id, a| Value::Array(activity::laps(id, a)))
        }
        ["activities", id, "streams"] => streams(shared, id, param(p, "keys").unwrap_or(""), p),
        // The older form with the keys in the path.
        ["activities", id, "streams", keys] => streams(shared, id, keys, p),
        _ => not_found_path(),
    }
}

fn with_activity(
    shared: &Shared,
    id: &str,
    render: impl FnOnce(i64, &activity::FakeActivity) -> Value,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return activity_not_found();
    };
    let d = lock(shared);
    match d.activities.get(&id) {
        Some(a) => Json(render(id, a)).into_response(),
        None => activity_not_found(),
    }
}

fn streams(shared: &Shared, id: &str, keys: &str, p: &HashMap<String, String>) -> Response {
    let keys: Vec<String> = keys
        .split(',')
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty())
        .collect();
    let by_type = param(p, "key_by_type") == Some("true");
    with_activity(shared, id, |_, a| activity::streams(a, &keys, by_type))
}

/// A number parameter; Err names it when it is not a number.
fn number<'a, T: std::str::FromStr>(
    p: &HashMap<String, String>,
    name: &'a str,
) -> Result<Option<T>, &'a str> {
    param(p, name)
        .map(|v| v.parse::<T>().map_err(|_| name))
        .transpose()
}

/// `GET /athlete/activities`: every activity of the athlete, private ones
/// too (the token has `activity:read_all`), filtered by `before`/`after`
/// (epoch seconds, strict), paged by `page` (from 1) and `per_page`
/// (default 30, at most 200).
///
/// Order, as Strava does it: newest first, except when only `after` is
/// given, then oldest first. Strava's reference does not say so; it is what
/// clients observe (a harvest "since" a time pages forward from that time,
/// so the newest activities come last, on the last page), so a client must
/// neither assume one order nor stop paging early. Strava rejects an
/// `after` in the future (`{"resource":"Application","field":"after",
/// "code":"future"}`, seen when milliseconds were sent for seconds).
fn list_activities(shared: &Shared, p: &HashMap<String, String>) -> Response {
    let parsed = (|| {
        Ok::<_, &str>((
            number::<i64>(p, "before")?,
            number::<i64>(p, "after")?,
            number::<usize>(p, "page")?,
            number::<usize>(p, "per_page")?,
        ))
    })();
    let (before, after, page, per_page) = match parsed {
        Ok(v) => v,
        Err(field) => return bad_request("Application", field, "invalid"),
    };
    if after.is_some_and(|a| a > Utc::now().timestamp() + 60) {
        return bad_request("Application", "after", "future");
    }
    let page = page.unwrap_or(1).max(1);
    let per_page = match per_page {
        None | Some(0) => PER_PAGE_DEFAULT,
        Some(n) => n.min(PER_PAGE_MAX),
    };
    let d = lock(shared);
    let mut chosen: Vec<(i64, &activity::FakeActivity)> = d
        .activities
        .iter()
        .filter(|(_, a)| {
            let t = a.start.timestamp();
            before.is_none_or(|b| t < b) && after.is_none_or(|x| t > x)
        })
        .map(|(id, a)| (*id, a))
        .collect();
    chosen.sort_by_key(|(id, a)| (a.start, *id));
    if !(after.is_some() && before.is_none()) {
        chosen.reverse();
    }
    let page: Vec<Value> = chosen
        .into_iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .map(|(id, a)| activity::summary(id, a))
        .collect();
    Json(Value::Array(page)).into_response()
}

/// `/push_subscriptions[/{id}]`, authenticated by the application's
/// credentials instead of a token.
async fn push_subscriptions(
    shared: &Shared,
    method: &Method,
    rest: &[&str],
    p: &HashMap<String, String>,
) -> Response {
    if let Some(r) = client_refused(p) {
        return r;
    }
    match (method, rest) {
        (&Method::POST, []) => create_subscription(shared, p).await,
        (&Method::GET, []) => {
            let d = lock(shared);
            let list: Vec<Value> = d
                .subscription
                .iter()
                .map(|s| {
                    json!({
                        "id": s.id,
                        "resource_state": 2,
                        "application_id": CLIENT_ID.parse::<i64>().unwrap_or_default(),
                        "callback_url": s.callback_url,
                        "created_at": s.created_at,
                        "updated_at": s.created_at,
                    })
                })
                .collect();
            Json(Value::Array(list)).into_response()
        }
        (&Method::DELETE, [id]) => {
            let mut d = lock(shared);
            let matches = d
                .subscription
                .as_ref()
                .is_some_and(|s| id.parse::<i64>() == Ok(s.id));
            if matches {
                d.subscription = None;
                StatusCode::NO_CONTENT.into_response()
            } else {
                fault(
                    StatusCode::NOT_FOUND,
                    "Record Not Found",
                    "PushSubscription",
                    "id",
                    "invalid",
                )
            }
        }
        _ => not_found_path(),
    }
}

/// Creates the subscription after the handshake: a GET to the callback with
/// `hub.mode=subscribe`, `hub.challenge` and `hub.verify_token`, which must
/// answer 200 with `{"hub.challenge": <the same>}` within two seconds.
async fn create_subscription(shared: &Shared, p: &HashMap<String, String>) -> Response {
    let Some(callback) = param(p, "callback_url").filter(|c| c.len() <= 255) else {
        return bad_request("PushSubscription", "callback url", "invalid");
    };
    let Some(verify_token) = param(p, "verify_token") else {
        return bad_request("PushSubscription", "verify_token", "invalid");
    };
    let challenge = {
        let mut d = lock(shared);
        if d.subscription.is_some() {
            return bad_request("PushSubscription", "", "already exists");
        }
        let mut c = d.token();
        c.truncate(32);
        c
    };
    let url = with_query(
        callback,
        &[
            ("hub.mode", "subscribe"),
            ("hub.challenge", &challenge),
            ("hub.verify_token", verify_token),
        ],
    );
    let not_verifiable = || bad_request("PushSubscription", "callback url", "not verifiable");
    let response = match shared.http.get(&url).send().await {
        Ok(r) => r,
        Err(_) => return not_verifiable(),
    };
    if response.status() != reqwest::StatusCode::OK {
        return bad_request(
            "PushSubscription",
            "callback url",
            "GET to callback URL does not return 200",
        );
    }
    let echoed = response.json::<Value>().await.ok().and_then(|body| {
        body.get("hub.challenge")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    if echoed.as_deref() != Some(challenge.as_str()) {
        return not_verifiable();
    }
    let mut d = lock(shared);
    if d.subscription.is_some() {
        return bad_request("PushSubscription", "", "already exists");
    }
    let id = d.next_subscription_id;
    d.next_subscription_id += 1;
    d.subscription = Some(Subscription {
        id,
        callback_url: callback.to_string(),
        created_at: Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
    });
    (StatusCode::CREATED, Json(json!({ "id": id }))).into_response()
}

fn created_at() -> String {
    DateTime::<Utc>::from_timestamp(1_425_719_561, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The athlete as the token exchange returns it (resource_state 2).
fn summary_athlete() -> Value {
    json!({
        "id": ATHLETE_ID,
        "username": "fake_runner",
        "resource_state": 2,
        "firstname": "Alex",
        "lastname": "Runner",
        "bio": "",
        "city": "Berlin",
        "state": "Berlin",
        "country": "Germany",
        "sex": "M",
        "premium": false,
        "summit": false,
        "created_at": created_at(),
        "updated_at": created_at(),
        "badge_type_id": 0,
        "weight": 70.0,
        "profile_medium": "https://dgalywyr863hv.cloudfront.net/pictures/athletes/134815/medium.jpg",
        "profile": "https://dgalywyr863hv.cloudfront.net/pictures/athletes/134815/large.jpg",
        "friend": null,
        "follower": null,
    })
}

/// `GET /athlete`: the authenticated athlete (resource_state 3).
fn detailed_athlete() -> Value {
    let mut a = summary_athlete();
    if let Value::Object(m) = &mut a {
        for (k, v) in [
            ("resource_state", json!(3)),
            ("follower_count", json!(5)),
            ("friend_count", json!(5)),
            ("mutual_friend_count", json!(0)),
            ("athlete_type", json!(1)),
            ("date_preference", json!("%m/%d/%Y")),
            ("measurement_preference", json!("meters")),
            ("clubs", json!([])),
            ("ftp", Value::Null),
            ("bikes", json!([])),
            ("shoes", json!([activity::shoes()])),
        ] {
            m.insert(k.to_string(), v);
        }
    }
    a
}
