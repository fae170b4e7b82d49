//! The fake's HTTP side: the axum handler, the OAuth token endpoint, the
//! Gmail API routes, request parsing and Google's error shapes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::codec::{base64url, header_value, headers, parse_urlencoded, percent_decode, snippet};
use super::{EXPIRES_IN, GRANTED_SCOPE, Msg, State, lock, mint};

const INVALID_CREDENTIALS: &str = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";
const MISSING_CREDENTIALS: &str = "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";

pub(super) async fn handle(state: Arc<Mutex<State>>, req: Request) -> Response {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let path_query = req
        .uri()
        .path_and_query()
        .map_or_else(|| path.clone(), |pq| pq.as_str().to_owned());
    let authz = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = axum::body::to_bytes(req.into_body(), 16 << 20)
        .await
        .unwrap_or_default();
    let mut st = lock(&state);
    st.calls.push((method.clone(), path_query, authz.clone()));
    if path == "/token" {
        if method != "POST" {
            return respond(StatusCode::METHOD_NOT_ALLOWED, &[], String::new());
        }
        return token_endpoint(&mut st, &body, authz.as_deref());
    }
    if let Some(rest) = path.strip_prefix("/gmail/v1/") {
        return api(&mut st, &method, rest, &query, authz.as_deref());
    }
    respond(StatusCode::NOT_FOUND, &[], "Not Found".to_owned())
}

// ---------------------------------------------------------------- OAuth

fn token_endpoint(st: &mut State, body: &[u8], authz: Option<&str>) -> Response {
    let form: BTreeMap<String, String> = parse_urlencoded(&String::from_utf8_lossy(body))
        .into_iter()
        .collect();
    st.token_requests.push(form.clone());
    let get = |k: &str| form.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let basic = authz.is_some_and(|a| a.len() > 6 && a[..6].eq_ignore_ascii_case("basic "));
    if get("client_id").is_none() && !basic {
        return oauth_error(
            "invalid_request",
            "Could not determine client ID from request.",
        );
    }
    match get("grant_type") {
        Some("authorization_code") => {
            let Some(code) = get("code") else {
                return oauth_error("invalid_request", "Missing required parameter: code");
            };
            if get("redirect_uri").is_none() {
                return oauth_error(
                    "invalid_request",
                    "Missing required parameter: redirect_uri",
                );
            }
            let Some(refresh) = st.auth_codes.remove(code) else {
                return oauth_error("invalid_grant", "Bad Request");
            };
            st.refresh_tokens.insert(refresh.clone());
            let access = mint(st);
            token_ok(json!({
                "access_token": access,
                "expires_in": EXPIRES_IN,
                "refresh_token": refresh,
                "scope": GRANTED_SCOPE,
                "token_type": "Bearer",
            }))
        }
        Some("refresh_token") => {
            let Some(refresh) = get("refresh_token") else {
                return oauth_error(
                    "invalid_request",
                    "Missing required parameter: refresh_token",
                );
            };
            if !st.refresh_tokens.contains(refresh) {
                return oauth_error("invalid_grant", "Token has been expired or revoked.");
            }
            let access = mint(st);
            token_ok(json!({
                "access_token": access,
                "expires_in": EXPIRES_IN,
                "scope": GRANTED_SCOPE,
                "token_type": "Bearer",
            }))
        }
        other => oauth_error(
            "unsupported_grant_type",
            &format!("Invalid grant_type: {}", other.unwrap_or("")),
        ),
    }
}

const NO_STORE: [(&str, &str); 2] = [
    (
        "cache-control",
        "no-cache, no-store, max-age=0, must-revalidate",
    ),
    ("pragma", "no-cache"),
];

fn token_ok(body: Value) -> Response {
    respond(StatusCode::OK, &NO_STORE, body.to_string())
}

fn oauth_error(error: &str, description: &str) -> Response {
    let body = json!({"error": error, "error_description": description});
    respond(StatusCode::BAD_REQUEST, &NO_STORE, body.to_string())
}

// ---------------------------------------------------------------- Gmail API

fn api(st: &mut State, method: &str, rest: &str, query: &str, authz: Option<&str>) -> Response {
    if st.throttle > 0 {
        st.throttle -= 1;
        return google_error(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many concurrent requests for user.",
            json!([{"message": "Too many concurrent requests for user.",
                    "domain": "usageLimits", "reason": "rateLimitExceeded"}]),
            "RESOURCE_EXHAUSTED",
            &[("retry-after", "1")],
        );
    }
    let token = authz.and_then(|a| {
        (a.len() > 7 && a[..7].eq_ignore_ascii_case("bearer ")).then(|| a[7..].trim())
    });
    match token {
        None => {
            return google_error(
                StatusCode::UNAUTHORIZED,
                MISSING_CREDENTIALS,
                json!([{"message": "Login Required.", "domain": "global", "reason": "required",
                        "location": "Authorization", "locationType": "header"}]),
                "UNAUTHENTICATED",
                &[(
                    "www-authenticate",
                    "Bearer realm=\"https://accounts.google.com/\"",
                )],
            );
        }
        Some(t) if !st.access_tokens.contains(t) => {
            return google_error(
                StatusCode::UNAUTHORIZED,
                INVALID_CREDENTIALS,
                json!([{"message": "Invalid Credentials", "domain": "global", "reason": "authError",
                        "location": "Authorization", "locationType": "header"}]),
                "UNAUTHENTICATED",
                &[(
                    "www-authenticate",
                    "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"",
                )],
            );
        }
        Some(_) => {}
    }
    if method != "GET" {
        // The token carries gmail.readonly only: any write is refused.
        let mut body = error_body(
            StatusCode::FORBIDDEN,
            "Request had insufficient authentication scopes.",
            json!([{"message": "Insufficient Permission", "domain": "global",
                    "reason": "insufficientPermissions"}]),
            "PERMISSION_DENIED",
        );
        body["error"]["details"] = json!([{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
            "domain": "googleapis.com",
            "metadata": {"service": "gmail.googleapis.com"},
        }]);
        return respond(
            StatusCode::FORBIDDEN,
            &[(
                "www-authenticate",
                "Bearer realm=\"https://accounts.google.com/\", error=\"insufficient_scope\", scope=\"https://mail.google.com/ https://www.googleapis.com/auth/gmail.modify\"",
            )],
            body.to_string(),
        );
    }
    let segments: Vec<String> = rest.split('/').map(percent_decode).collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let params = parse_urlencoded(query);
    match segments.as_slice() {
        ["users", user, tail @ ..] => {
            if *user != "me" && *user != st.email {
                return google_error(
                    StatusCode::FORBIDDEN,
                    &format!("Delegation denied for {}", st.email),
                    json!([{"message": format!("Delegation denied for {}", st.email),
                            "domain": "global", "reason": "forbidden"}]),
                    "PERMISSION_DENIED",
                    &[],
                );
            }
            match tail {
                ["profile"] => profile(st),
                ["messages"] => messages_list(st, &params),
                ["messages", id] => messages_get(st, id, &params),
                ["history"] => history_list(st, &params),
                _ => not_found(),
            }
        }
        _ => not_found(),
    }
}

fn profile(st: &State) -> Response {
    let threads: BTreeSet<&str> = st.messages.iter().map(|m| m.thread_id.as_str()).collect();
    ok(json!({
        "emailAddress": st.email,
        "messagesTotal": st.messages.len(),
        "threadsTotal": threads.len(),
        "historyId": st.history_id.to_string(),
    }))
}

fn messages_list(st: &State, params: &[(String, String)]) -> Response {
    let max = match max_results(params) {
        Ok(m) => m,
        Err(message) => return invalid_argument(&message),
    };
    let offset = match param(params, "pageToken") {
        None => 0,
        Some(t) => match t.strip_prefix('m').and_then(|d| d.parse::<usize>().ok()) {
            Some(o) => o,
            None => return invalid_argument("Invalid pageToken"),
        },
    };
    let include_spam_trash = param(params, "includeSpamTrash") == Some("true");
    let wanted = params_all(params, "labelIds");
    let q = param(params, "q").unwrap_or("");
    let matched: Vec<&Msg> = st
        .messages
        .iter()
        .rev()
        .filter(|m| include_spam_trash || !m.labels.iter().any(|l| l == "SPAM" || l == "TRASH"))
        .filter(|m| wanted.iter().all(|w| m.labels.iter().any(|l| l == w)))
        .filter(|m| matches_query(m, q))
        .collect();
    let page: Vec<Value> = matched
        .iter()
        .skip(offset)
        .take(max)
        .map(|m| json!({"id": m.id, "threadId": m.thread_id}))
        .collect();
    let mut body = json!({"resultSizeEstimate": matched.len()});
    if !page.is_empty() {
        body["messages"] = Value::Array(page);
    }
    if offset + max < matched.len() {
        body["nextPageToken"] = json!(format!("m{:019}", offset + max));
    }
    ok(body)
}

fn messages_get(st: &State, id: &str, params: &[(String, String)]) -> Response {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return invalid_argument("Invalid id value");
    }
    let Some(m) = st.messages.iter().find(|m| m.id == id) else {
        return not_found();
    };
    let format = param(params, "format")
        .unwrap_or("full")
        .to_ascii_lowercase();
    let mut body = json!({
        "id": m.id,
        "threadId": m.thread_id,
        "labelIds": m.labels,
        "snippet": snippet(&m.raw),
        "sizeEstimate": m.raw.len(),
        "historyId": m.history_id.to_string(),
        "internalDate": m.internal_date.to_string(),
    });
    match format.as_str() {
        "raw" => body["raw"] = json!(base64url(&m.raw, st.pad_raw)),
        "minimal" => {}
        "full" | "metadata" => {
            let hs = headers(&m.raw);
            let mime = header_value(&hs, "content-type")
                .and_then(|c| c.split(';').next())
                .map_or("text/plain", str::trim)
                .to_owned();
            let list: Vec<Value> = hs
                .iter()
                .map(|(n, v)| json!({"name": n, "value": v}))
                .collect();
            body["payload"] =
                json!({"partId": "", "mimeType": mime, "filename": "", "headers": list});
        }
        other => {
            return invalid_argument(&format!(
                "Invalid value at 'format' (type.googleapis.com/caribou.api.proto.MessageFormat), \"{other}\""
            ));
        }
    }
    ok(body)
}

fn history_list(st: &State, params: &[(String, String)]) -> Response {
    let Some(start) = param(params, "startHistoryId").and_then(|s| s.parse::<u64>().ok()) else {
        return invalid_argument("Missing/invalid parameter: startHistoryId");
    };
    if start < st.forgotten_before {
        return not_found();
    }
    let max = match max_results(params) {
        Ok(m) => m,
        Err(message) => return invalid_argument(&message),
    };
    let after = match param(params, "pageToken") {
        None => start,
        Some(t) => match t.strip_prefix('h').and_then(|d| d.parse::<u64>().ok()) {
            Some(a) => a.max(start),
            None => return invalid_argument("Invalid pageToken"),
        },
    };
    let types = params_all(params, "historyTypes");
    let added_wanted = types.is_empty() || types.contains(&"messageAdded");
    let label = param(params, "labelId");
    let records: Vec<(u64, &Msg)> = st
        .history
        .iter()
        .filter(|(hid, _)| added_wanted && *hid > after)
        .map(|(hid, i)| (*hid, &st.messages[*i]))
        .filter(|(_, m)| label.is_none_or(|l| m.labels.iter().any(|x| x == l)))
        .collect();
    let page: Vec<Value> = records
        .iter()
        .take(max)
        .map(|(hid, m)| {
            json!({
                "id": hid.to_string(),
                "messages": [{"id": m.id, "threadId": m.thread_id}],
                "messagesAdded": [{"message": {"id": m.id, "threadId": m.thread_id, "labelIds": m.labels}}],
            })
        })
        .collect();
    let mut body = json!({"historyId": st.history_id.to_string()});
    if records.len() > max {
        body["nextPageToken"] = json!(format!("h{:019}", records[max - 1].0));
    }
    if !page.is_empty() {
        body["history"] = Value::Array(page);
    }
    ok(body)
}

/// `maxResults`: default 100, capped at 500; `Err` is the 400 message.
fn max_results(params: &[(String, String)]) -> Result<usize, String> {
    match param(params, "maxResults") {
        None => Ok(100),
        Some(v) => match v.parse::<usize>() {
            Ok(0) => Ok(100),
            Ok(n) => Ok(n.min(500)),
            Err(_) => Err(format!(
                "Invalid value at 'max_results' (TYPE_UINT32), \"{v}\""
            )),
        },
    }
}

/// A small subset of Gmail search: `in:X`/`label:X`, `is:unread`/`is:read`,
/// `after:`/`before:` (epoch seconds or `YYYY/MM/DD`), `-` negates.
/// Anything else is ignored.
fn matches_query(m: &Msg, q: &str) -> bool {
    q.split_whitespace().all(|term| {
        let (negate, term) = term.strip_prefix('-').map_or((false, term), |t| (true, t));
        let has = |label: &str| m.labels.iter().any(|l| l.eq_ignore_ascii_case(label));
        let Some((key, value)) = term.split_once(':') else {
            return true;
        };
        let hit = match key.to_ascii_lowercase().as_str() {
            "in" | "label" => has(value),
            "is" if value.eq_ignore_ascii_case("unread") => has("UNREAD"),
            "is" if value.eq_ignore_ascii_case("read") => !has("UNREAD"),
            "after" => query_date_ms(value).is_none_or(|t| m.internal_date >= t),
            "before" => query_date_ms(value).is_none_or(|t| m.internal_date < t),
            _ => return true,
        };
        hit != negate
    })
}

fn query_date_ms(v: &str) -> Option<i64> {
    if let Ok(secs) = v.parse::<i64>() {
        return Some(secs * 1000);
    }
    let date = chrono::NaiveDate::parse_from_str(v, "%Y/%m/%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Every value of a repeatable parameter (`name=a&name=b`, also `name[]`).
fn params_all<'a>(params: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    params
        .iter()
        .filter(|(k, _)| k == name || k.strip_suffix("[]") == Some(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

fn ok(body: Value) -> Response {
    respond(StatusCode::OK, &[], body.to_string())
}

fn not_found() -> Response {
    google_error(
        StatusCode::NOT_FOUND,
        "Requested entity was not found.",
        json!([{"message": "Requested entity was not found.", "domain": "global",
                "reason": "notFound"}]),
        "NOT_FOUND",
        &[],
    )
}

fn invalid_argument(message: &str) -> Response {
    google_error(
        StatusCode::BAD_REQUEST,
        message,
        json!([{"message": message, "domain": "global", "reason": "invalidArgument"}]),
        "INVALID_ARGUMENT",
        &[],
    )
}

/// Google's standard error body.
fn google_error(
    code: StatusCode,
    message: &str,
    errors: Value,
    status: &str,
    headers: &[(&str, &str)],
) -> Response {
    respond(
        code,
        headers,
        error_body(code, message, errors, status).to_string(),
    )
}

fn error_body(code: StatusCode, message: &str, errors: Value, status: &str) -> Value {
    json!({"error": {
        "code": code.as_u16(),
        "message": message,
        "errors": errors,
        "status": status,
    }})
}

fn respond(status: StatusCode, headers: &[(&str, &str)], body: String) -> Response {
    let mut builder = Response::builder().status(status);
    if !body.is_empty() && body.starts_with('{') {
        builder = builder.header(header::CONTENT_TYPE, "application/json; charset=UTF-8");
    }
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::from(body)).expect("a valid response")
}
