//! Who may see a page: the owner's session cookie, the CSRF token of every
//! change, and the sign-in pages (password, one-time link from Telegram).

use axum::extract::{Form, FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Router, http::HeaderValue};
use openzero_app::dashboard::{self, COOKIE, Login};
use serde::Deserialize;

use crate::{NAV, NavItem, PageError, Web, render};

const FLASH: &str = "oz_flash";
const LOGIN_CSRF: &str = "oz_login";

/// The signed-in owner, for a page handler. Anyone else is sent to `/login`.
#[derive(Debug, Clone)]
pub struct Owner {
    pub session_id: i64,
    pub csrf: String,
    /// A message left by the previous change (shown once).
    pub flash: Option<String>,
}

/// What every page's frame needs.
#[derive(Debug, Clone)]
pub struct Layout {
    pub nav: &'static [NavItem],
    pub current: &'static str,
    pub csrf: String,
    pub flash: Option<String>,
    pub signed_in: bool,
}

impl Owner {
    pub fn layout(&self, current: &'static str) -> Layout {
        Layout {
            nav: NAV,
            current,
            csrf: self.csrf.clone(),
            flash: self.flash.clone(),
            signed_in: true,
        }
    }

    /// Refuses a change whose token is not this session's.
    pub fn check(&self, csrf: &str) -> Result<(), PageError> {
        if same(csrf.as_bytes(), self.csrf.as_bytes()) {
            Ok(())
        } else {
            Err(PageError(
                StatusCode::FORBIDDEN,
                "This form is out of date (or did not come from your dashboard): reload the page and try again.".into(),
            ))
        }
    }

    /// Shows a page, clearing the flash it displayed.
    pub fn page(&self, t: &impl askama::Template) -> Response {
        let mut res = render(t).into_response();
        if self.flash.is_some() {
            set_cookie(
                &mut res,
                &format!("{FLASH}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"),
            );
        }
        res
    }

    /// Records a change in the audit log.
    pub async fn audit(&self, web: &Web, action: &str, detail: &str) {
        if let Err(e) = web
            .services
            .store
            .web_audit_add(
                Some(self.session_id),
                action,
                detail,
                openzero_app::clock::now(),
            )
            .await
        {
            tracing::error!(error = %e, action, "audit line not written");
        }
    }
}

/// Constant-time comparison of two tokens.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn set_cookie(res: &mut Response, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// The value of cookie `name` in the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<String> {
    let bytes: Option<Vec<u8>> = (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect();
    bytes.and_then(|b| String::from_utf8(b).ok())
}

/// A redirect after a change, carrying a message for the next page.
pub fn done(to: &str, message: &str) -> Response {
    let mut res = Redirect::to(to).into_response();
    let text: String = message.chars().take(300).collect();
    set_cookie(
        &mut res,
        &format!("{FLASH}={}; Path=/; HttpOnly; SameSite=Strict", hex(&text)),
    );
    res
}

impl FromRequestParts<Web> for Owner {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, web: &Web) -> Result<Self, Self::Rejection> {
        let to_login = || Redirect::to("/login").into_response();
        let Some(token) = cookie(&parts.headers, COOKIE) else {
            return Err(to_login());
        };
        match dashboard::session(&*web.services.store, token).await {
            Ok(Some(s)) => Ok(Owner {
                session_id: s.session.id,
                csrf: s.csrf,
                flash: cookie(&parts.headers, FLASH).and_then(unhex),
            }),
            Ok(None) => Err(to_login()),
            Err(e) => Err(PageError::from(e).into_response()),
        }
    }
}

/// A change: the owner, and a form that carried their CSRF token (checked).
#[derive(Debug)]
pub struct Change<T> {
    pub owner: Owner,
    pub form: T,
}

#[derive(Debug, Deserialize)]
struct WithCsrf<T> {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    inner: T,
}

impl<T> FromRequest<Web> for Change<T>
where
    T: serde::de::DeserializeOwned + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, web: &Web) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let owner = Owner::from_request_parts(&mut parts, web).await?;
        let header_token = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let req = Request::from_parts(parts, body);
        let Form(f) = Form::<WithCsrf<T>>::from_request(req, web)
            .await
            .map_err(|e| {
                PageError(
                    StatusCode::BAD_REQUEST,
                    format!("This form could not be read: {e}"),
                )
                .into_response()
            })?;
        owner
            .check(header_token.as_deref().unwrap_or(&f.csrf))
            .map_err(IntoResponse::into_response)?;
        Ok(Change {
            owner,
            form: f.inner,
        })
    }
}

/// Sign-in and sign-out.
pub fn routes() -> Router<Web> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/login/link/{token}", get(link_page).post(link_login))
        .route("/logout", post(logout))
}

#[derive(askama::Template)]
#[template(path = "login.html")]
pub(crate) struct LoginPage {
    layout: Layout,
    error: Option<String>,
    locked: Option<String>,
    no_password: bool,
}

fn signed_out(csrf: String) -> Layout {
    Layout {
        nav: NAV,
        current: "",
        csrf,
        flash: None,
        signed_in: false,
    }
}

fn secure(web: &Web, headers: &HeaderMap) -> bool {
    dashboard::public_url(&web.services.loaded).starts_with("https://")
        || headers
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes() == b"https")
}

async fn login_page(State(web): State<Web>, headers: HeaderMap) -> Response {
    if let Some(t) = cookie(&headers, COOKIE)
        && let Ok(Some(_)) = dashboard::session(&*web.services.store, t).await
    {
        return Redirect::to("/").into_response();
    }
    let locked = dashboard::locked(&*web.services.store).await.ok().flatten();
    let no_password = matches!(web.services.store.web_password().await, Ok(None));
    login_form(&web, &headers, None, locked, no_password, StatusCode::OK)
}

fn login_form(
    web: &Web,
    headers: &HeaderMap,
    error: Option<String>,
    locked: Option<chrono::DateTime<chrono::Utc>>,
    no_password: bool,
    status: StatusCode,
) -> Response {
    let token = match cookie(headers, LOGIN_CSRF) {
        Some(t) if t.len() == 64 => t.to_owned(),
        _ => dashboard::new_token().unwrap_or_default(),
    };
    let tz = web.services.tz();
    let page = LoginPage {
        layout: signed_out(token.clone()),
        error,
        locked: locked.map(|u| u.with_timezone(&tz).format("%H:%M").to_string()),
        no_password,
    };
    let mut res = (status, render(&page)).into_response();
    set_cookie(
        &mut res,
        &format!(
            "{LOGIN_CSRF}={token}; Path=/login; HttpOnly; SameSite=Strict{}",
            if secure(web, headers) { "; Secure" } else { "" }
        ),
    );
    res
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
}

/// The password never appears in `Debug` output.
impl std::fmt::Debug for LoginForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginForm")
            .field("password", &"********")
            .finish_non_exhaustive()
    }
}

fn signed_in(web: &Web, headers: &HeaderMap, token: &str) -> Response {
    let mut res = Redirect::to("/").into_response();
    let age = dashboard::session_life().num_seconds();
    set_cookie(
        &mut res,
        &format!(
            "{COOKIE}={token}; Path=/; Max-Age={age}; HttpOnly; SameSite=Strict{}",
            if secure(web, headers) { "; Secure" } else { "" }
        ),
    );
    res
}

fn user_agent(headers: &HeaderMap) -> &str {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

async fn login(State(web): State<Web>, headers: HeaderMap, Form(f): Form<LoginForm>) -> Response {
    let expected = cookie(&headers, LOGIN_CSRF).unwrap_or("");
    if expected.is_empty() || !same(expected.as_bytes(), f.csrf.as_bytes()) {
        return login_form(
            &web,
            &headers,
            Some("This sign-in form is out of date: try again.".into()),
            None,
            false,
            StatusCode::FORBIDDEN,
        );
    }
    match dashboard::login_password(&web.services, &f.password, user_agent(&headers)).await {
        Ok(Login::In { token, .. }) => signed_in(&web, &headers, &token),
        Ok(Login::Wrong) => login_form(
            &web,
            &headers,
            Some("Wrong password.".into()),
            None,
            false,
            StatusCode::UNAUTHORIZED,
        ),
        Ok(Login::Locked(until)) => login_form(
            &web,
            &headers,
            None,
            Some(until),
            false,
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Ok(Login::NoPassword) => {
            login_form(&web, &headers, None, None, true, StatusCode::UNAUTHORIZED)
        }
        Err(e) => PageError::from(e).into_response(),
    }
}

#[derive(askama::Template)]
#[template(path = "link.html")]
pub(crate) struct LinkPage {
    layout: Layout,
    token: String,
}

/// The link from `/login` shows a button: a link preview that fetches the
/// address does not use it up.
async fn link_page(Path(token): Path<String>) -> Response {
    render(&LinkPage {
        layout: signed_out(String::new()),
        token,
    })
    .into_response()
}

async fn link_login(
    State(web): State<Web>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    match dashboard::login_with_link(&*web.services.store, &token, user_agent(&headers)).await {
        Ok(Some((t, _))) => signed_in(&web, &headers, &t),
        Ok(None) => PageError(
            StatusCode::UNAUTHORIZED,
            "This sign-in link was already used or has expired (links work once, for 10 minutes). Send /login to Z for a new one.".into(),
        )
        .into_response(),
        Err(e) => PageError::from(e).into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct Nothing {}

async fn logout(State(web): State<Web>, c: Change<Nothing>) -> Response {
    let now = openzero_app::clock::now();
    if let Err(e) = web
        .services
        .store
        .web_session_revoke(c.owner.session_id, now)
        .await
    {
        return PageError::from(e).into_response();
    }
    c.owner.audit(&web, "logout", "").await;
    let mut res = Redirect::to("/login").into_response();
    set_cookie(
        &mut res,
        &format!("{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"),
    );
    res
}
