//! The web dashboard through `openzero serve`, over HTTP as a browser
//! speaks it (cookies, forms, redirects): only the owner gets in, every
//! change needs the session's CSRF token and is audited, wrong passwords
//! lock sign-in and Z says so on Telegram, a `/login` link works once, and
//! hostile text is escaped on every page. `dashboard_browser` drives the
//! same pages in a real Chromium.

use crate::common::{self, Oz, Served};
use crate::telegram;

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// A browser without JavaScript: keeps its cookies, never follows redirects
/// on its own.
pub(crate) struct Browser {
    http: reqwest::Client,
    pub base: String,
    cookies: std::collections::BTreeMap<String, String>,
}

impl Browser {
    pub fn new(base: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: base.trim_end_matches('/').to_owned(),
            cookies: Default::default(),
        }
    }

    fn keep(&mut self, res: &reqwest::Response) {
        for v in res.headers().get_all(SET_COOKIE) {
            let v = v.to_str().unwrap();
            let (kv, attrs) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = kv.split_once('=').unwrap();
            if val.is_empty() || attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), val.to_owned());
            }
        }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn has_session(&self) -> bool {
        self.cookies.contains_key("oz_session")
    }

    /// GET: (status, Location, body).
    pub async fn get(&mut self, path: &str) -> (StatusCode, String, String) {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep(&res);
        let loc = location(&res);
        (res.status(), loc, res.text().await.unwrap())
    }

    /// POST a form: (status, Location, body).
    pub async fn post(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, String, String) {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.keep(&res);
        let loc = location(&res);
        (res.status(), loc, res.text().await.unwrap())
    }

    /// The CSRF token in the page at `path`.
    pub async fn csrf(&mut self, path: &str) -> String {
        let (status, _, body) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        csrf_in(&body)
    }

    /// Signs in with the password; returns the status of the answer.
    pub async fn login(&mut self, password: &str) -> (StatusCode, String) {
        let csrf = self.csrf("/login").await;
        let (status, _, body) = self
            .post("/login", &[("csrf", &csrf), ("password", password)])
            .await;
        (status, body)
    }
}

fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

pub(crate) fn csrf_in(body: &str) -> String {
    let at = body.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    body[at..at + 64].to_owned()
}

pub(crate) fn set_password(oz: &Oz) {
    oz.cmd()
        .args(["dashboard", "set-password", "--stdin"])
        .write_stdin(format!("{PASSWORD}\n"))
        .assert()
        .success();
}

fn serve(oz: &Oz) -> Served {
    common::serve(oz, &[], [("TZ", "UTC")])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_owner_gets_in_and_every_change_needs_the_token() {
    let oz = Oz::new();
    oz.ok(&["init"]);
    let served = serve(&oz);
    let mut b = Browser::new(&served.url);

    // Signed out, every page leads to the sign-in page, which says how to
    // set a password when there is none.
    for page in [
        "/",
        "/projects",
        "/memory",
        "/jobs",
        "/backups",
        "/settings",
        "/memory/export",
    ] {
        let (status, to, _) = b.get(page).await;
        assert_eq!(
            (status, to.as_str()),
            (StatusCode::SEE_OTHER, "/login"),
            "{page}"
        );
    }
    let (status, body) = b.login(PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("openzero dashboard set-password"), "{body}");

    // A short password is refused with the reason; nothing is set.
    oz.cmd()
        .args(["dashboard", "set-password", "--stdin"])
        .write_stdin("short\n")
        .assert()
        .code(1)
        .stderr(predicates::str::contains("at least 10 characters"));
    set_password(&oz);

    let (status, body) = b.login("not the password").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("Wrong password."));
    assert!(!b.has_session());
    // A sign-in form not from the page (no login cookie) is refused.
    let mut stranger = Browser::new(&served.url);
    let (status, _, _) = stranger
        .post(
            "/login",
            &[("csrf", &"a".repeat(64)), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!stranger.has_session());

    let (status, _) = b.login(PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(b.has_session());
    for page in [
        "/",
        "/projects",
        "/memory",
        "/jobs",
        "/thoughts",
        "/sessions",
        "/audit",
        "/settings",
    ] {
        let (status, _, body) = b.get(page).await;
        assert_eq!(status, StatusCode::OK, "{page}: {body}");
        assert!(body.contains("Sign out"), "{page}");
    }

    // A change without the session's token changes nothing.
    let (status, _, body) = b.post("/projects", &[("name", "Forged")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _, _) = b
        .post(
            "/projects",
            &[("csrf", &"0".repeat(64)), ("name", "Forged")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let csrf = b.csrf("/projects").await;
    let (status, to, _) = b
        .post("/projects", &[("csrf", &csrf), ("name", "Garden")])
        .await;
    assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, "/projects"));
    let (_, _, page) = b.get("/projects").await;
    assert!(
        page.contains("Added Garden."),
        "the change is confirmed once"
    );
    assert!(page.contains(">Garden</a>"));
    let (_, _, page) = b.get("/projects").await;
    assert!(!page.contains("Added Garden."), "and only once");
    oz.ok(&["project", "list"])
        .stdout(predicates::str::contains("Garden"))
        .stdout(predicates::str::contains("Forged").not());

    // A card moved from its page (no script), then one added from the board.
    oz.ok(&["task", "add", "Update CV", "--board", "Career"]);
    let (_, _, board) = b.get("/boards/1").await;
    let done_list = board
        .split("<section class=\"column done\" data-list=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let (_, _, card) = b.get("/cards/1").await;
    assert!(card.contains(&format!("<option value=\"{done_list}\">Done</option>")));
    let csrf = csrf_in(&card);
    let (status, to, _) = b
        .post("/cards/1/move", &[("csrf", &csrf), ("list", &done_list)])
        .await;
    assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, "/boards/1"));
    oz.ok(&["task", "list", "--all", "--json"])
        .stdout(predicates::str::contains("\"list\":\"Done\""));
    let (status, _, _) = b
        .post("/cards/1/move", &[("csrf", "forged"), ("list", "1")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = b
        .post(
            "/boards/1/cards",
            &[
                ("csrf", &csrf),
                ("title", "Ask for a raise"),
                ("list", "1"),
                ("due", "friday"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, board) = b.get("/boards/1").await;
    assert!(board.contains("Added Ask for a raise.") && board.contains("class=\"due\""));

    // The audit log has the sign-ins, the failure and the change.
    let (_, _, audit) = b.get("/audit").await;
    for line in [
        "login.failed",
        ">login<",
        "project.add",
        "#1 Garden",
        "card.move",
        "card.add",
    ] {
        assert!(audit.contains(line), "{line} in {audit}");
    }

    // A setting changed from the page: a bad value is refused with the
    // reason and the file is left alone; a good one is written, comments kept.
    let config = oz.data.join("openzero.toml");
    let before = std::fs::read_to_string(&config).unwrap();
    let csrf = b.csrf("/settings").await;
    let (status, _, body) = b
        .post(
            "/settings",
            &[
                ("csrf", &csrf),
                ("key", "schedule.daily_briefing"),
                ("value", "every morning"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("is not a cron expression"), "{body}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before);
    let (status, _, _) = b
        .post(
            "/settings",
            &[
                ("csrf", &csrf),
                ("key", "database.url"),
                ("value", "postgres://evil"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "not editable here");
    let (status, to, _) = b
        .post(
            "/settings",
            &[
                ("csrf", &csrf),
                ("key", "schedule.daily_briefing"),
                ("value", "0 6 * * *"),
            ],
        )
        .await;
    assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, "/settings"));
    let after = std::fs::read_to_string(&config).unwrap();
    assert!(after.contains("daily_briefing = \"0 6 * * *\""), "{after}");
    let comments = |t: &str| {
        t.lines()
            .filter(|l| l.trim_start().starts_with('#'))
            .count()
    };
    assert_eq!(
        comments(&after),
        comments(&before),
        "the file's comments are kept"
    );
    oz.ok(&["config", "show"])
        .stdout(predicates::str::contains("daily_briefing = \"0 6 * * *\""));

    // Security headers on every answer.
    let res = reqwest::get(format!("{}/login", served.url)).await.unwrap();
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(res.headers()["x-frame-options"], "DENY");

    // Sessions: listed by the CLI, signed out from it; the browser is out.
    oz.ok(&["dashboard", "sessions", "--json"])
        .stdout(predicates::str::contains("\"via\": \"password\""));
    oz.ok(&["dashboard", "revoke", "1"]);
    let (status, to, _) = b.get("/").await;
    assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, "/login"));
    oz.fails(&["dashboard", "revoke", "1"])
        .stderr(predicates::str::contains("not signed in"));

    // Sign out from the page.
    b.login(PASSWORD).await;
    let csrf = b.csrf("/").await;
    let (status, to, _) = b.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, "/login"));
    let (_, to, _) = b.get("/").await;
    assert_eq!(to, "/login");

    // An open Logs page does not hold up a shutdown: its stream ends.
    b.login(PASSWORD).await;
    let stream = reqwest::Client::new()
        .get(format!("{}/logs/stream", served.url.trim_end_matches('/')))
        .header(COOKIE, b.cookie_header())
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let t = std::time::Instant::now();
    let log = served.stop();
    assert!(
        t.elapsed() < std::time::Duration::from_secs(10),
        "serve took {:?} to stop with a Logs page open",
        t.elapsed()
    );
    assert!(log.contains("stopped cleanly"), "{log}");
    drop(stream);
}

use predicates::prelude::PredicateBooleanExt;

/// The dashboard's chat answers `/commands` from the same table and
/// handlers as Telegram: the answer is shown, the change is made, and the
/// conversation keeps only what was said to Z.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_commands_answer_on_the_dashboard_as_on_telegram() {
    let oz = Oz::new();
    oz.ok(&["init"]);
    set_password(&oz);
    let served = serve(&oz);
    let mut b = Browser::new(&served.url);
    b.login(PASSWORD).await;
    let mut say = async |text: &str| {
        let csrf = b.csrf("/chat").await;
        let (status, _, body) = b.post("/chat", &[("csrf", &csrf), ("text", text)]).await;
        assert_eq!(status, StatusCode::OK, "{text}: {body}");
        body
    };
    let page = say("/tasks").await;
    assert!(page.contains("No open tasks"), "{page}");
    let page = say("/project add Garden shed").await;
    assert!(page.contains("Added #1 Garden shed"), "{page}");
    let page = say("/project").await;
    assert!(page.contains("Usage: /project add"), "{page}");
    let page = say("/memory").await;
    assert!(page.contains("What should I look for?"), "{page}");
    let page = say("/frobnicate").await;
    assert!(page.contains("know /frobnicate"), "{page}");
    assert!(page.contains("/tasks"), "the help follows: {page}");
    oz.ok(&["project", "list"])
        .stdout(predicates::str::contains("Garden shed"));
    // With script: the answer arrives as the stream's end.
    let csrf = b.csrf("/chat").await;
    let (status, _, body) = b
        .post("/chat/stream", &[("csrf", &csrf), ("text", "/help")])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("event: done"), "{body}");
    assert!(body.contains("/project"), "{body}");
    // Commands are not the conversation: the page shows none of them.
    let (_, _, page) = b.get("/chat").await;
    assert!(!page.contains("Garden shed"), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_lock_sign_in_and_z_tells_the_owner() {
    let (api, fake) = telegram::start_fake().await;
    let oz = Oz::new();
    oz.ok(&["init"]);
    set_password(&oz);
    let served = telegram::serve(&oz, &api, &[]);
    let mut b = Browser::new(&served.url);
    for _ in 0..4 {
        let (status, _) = b.login("guess").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, body) = b.login("guess").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "the fifth locks");
    assert!(body.contains("sign-in is locked until"), "{body}");
    // Locked: even the right password is refused, and says why.
    let (status, body) = b.login(PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(body.contains("locked"));
    assert!(!b.has_session());
    telegram::wait_for("the lockout alert", || {
        telegram::sent_to(&fake, telegram::OWNER)
            .iter()
            .any(|t| t.contains("wrong dashboard password 5 times"))
    });
    // Told once, not once per refused try.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let alerts = telegram::sent_to(&fake, telegram::OWNER)
        .iter()
        .filter(|t| t.contains("dashboard password"))
        .count();
    assert_eq!(alerts, 1);

    // /login on Telegram gives a link that signs in once, even now
    // (it proves the owner holds the Telegram account).
    telegram::push(&fake, vec![telegram::message(1, telegram::OWNER, "/login")]);
    telegram::wait_for("the login link", || {
        telegram::sent_to(&fake, telegram::OWNER)
            .iter()
            .any(|t| t.contains("/login/link/"))
    });
    let text = telegram::sent_to(&fake, telegram::OWNER)
        .into_iter()
        .find(|t| t.contains("/login/link/"))
        .unwrap();
    let token = text.split("/login/link/").nth(1).unwrap()[..64].to_owned();
    // A stranger's /login gets nothing.
    telegram::push(&fake, vec![telegram::message(2, 777, "/login")]);
    let path = format!("/login/link/{token}");
    // Opening the link (as a link preview would) does not use it up.
    let (status, _, page) = b.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("use-link"));
    let (status, to, _) = b.post(&path, &[]).await;
    assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, "/"));
    assert!(b.has_session());
    let (status, _, _) = b.get("/").await;
    assert_eq!(status, StatusCode::OK);
    let mut other = Browser::new(&served.url);
    let (status, _, body) = other.post(&path, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a link works once");
    assert!(body.contains("already used or has expired"));
    assert!(telegram::sent_to(&fake, 777).is_empty());
    served.stop();
}

/// Text from outside (a project name, a memory, a thought's question) that
/// would run script if shown raw.
const HOSTILE: &str = "<script>alert('x')</script><img src=x onerror=alert(1)>\"'&";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_text_is_escaped_on_every_page() {
    let (cloud, sent) = crate::consent::fake_cloud(crate::consent::REPLY, None).await;
    let oz = Oz::new();
    oz.ok(&["init"]);
    set_password(&oz);
    oz.ok(&["project", "add", HOSTILE]);
    oz.ok(&["memory", "add", &format!("My note {HOSTILE}")]);
    oz.ok(&[
        "task",
        "add",
        &format!("Call {HOSTILE}"),
        "--board",
        "Career",
    ]);
    // An activity whose file names it with markup.
    let gpx = oz.work.join("hostile.gpx");
    let name = HOSTILE
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    std::fs::write(
        &gpx,
        format!(
            "<?xml version=\"1.0\"?><gpx version=\"1.1\" creator=\"t\"><trk><name>{name}</name><trkseg>\
             <trkpt lat=\"48.1\" lon=\"11.5\"><time>2026-11-01T07:00:00Z</time></trkpt>\
             <trkpt lat=\"48.1001\" lon=\"11.5\"><time>2026-11-01T07:00:05Z</time></trkpt>\
             </trkseg></trk></gpx>"
        ),
    )
    .unwrap();
    oz.ok(&["training", "import", gpx.to_str().unwrap()]);
    // A mail and a calendar event with markup in them.
    let eml = oz.work.join("hostile.eml");
    std::fs::write(
        &eml,
        format!(
            "From: Mallory <m@example.org>\r\nTo: me@example.org\r\nSubject: Invoice {HOSTILE}\r\n\
             Date: Mon, 30 Nov 2026 07:00:00 +0000\r\nMessage-ID: <h1@example.org>\r\n\r\nPay now {HOSTILE}\r\n"
        ),
    )
    .unwrap();
    oz.ok(&["mail", "import", eml.to_str().unwrap()]);
    let ics = oz.work.join("hostile.ics");
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y%m%d");
    std::fs::write(
        &ics,
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:h1\r\n\
             DTSTAMP:20261101T000000Z\r\nDTSTART:{tomorrow}T100000Z\r\nDTEND:{tomorrow}T110000Z\r\n\
             SUMMARY:Meet {HOSTILE}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        ),
    )
    .unwrap();
    oz.ok(&["calendar", "import", ics.to_str().unwrap()]);
    oz.cmd()
        .env("DEEP_THINK_PROVIDER", "openai")
        .env("DEEP_THINK_MODEL", "gpt-test")
        .env("OPENAI_BASE_URL", &cloud)
        .env("OPENAI_API_KEY", "sk-test-secret")
        .args(["think", &format!("What about {HOSTILE}?")])
        .assert()
        .success();
    let served = common::serve(
        &oz,
        &[],
        [
            ("DEEP_THINK_PROVIDER", "openai"),
            ("DEEP_THINK_MODEL", "gpt-test"),
            ("LLM_PROVIDER", "openai"),
            ("OPENZERO__LLM__MODEL", "gpt-test"),
            ("OPENAI_BASE_URL", cloud.as_str()),
            ("OPENAI_API_KEY", "sk-test-secret"),
        ],
    );
    let mut b = Browser::new(&served.url);
    b.login(PASSWORD).await;
    // The flash after a change carries the hostile name too.
    let csrf = b.csrf("/projects").await;
    b.post(
        "/projects",
        &[("csrf", &csrf), ("name", &format!("{HOSTILE} 2"))],
    )
    .await;
    // Chat with a cloud model (no script): held as a thought, nothing sent.
    let csrf = b.csrf("/chat").await;
    let (status, to, _) = b
        .post(
            "/chat",
            &[("csrf", &csrf), ("text", &format!("Plan {HOSTILE}"))],
        )
        .await;
    assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, "/thoughts"));
    assert!(sent.lock().unwrap().is_empty(), "nothing left without Send");
    let (_, _, thoughts) = b.get("/thoughts").await;
    assert!(thoughts.contains("waits for your Send"));
    let mut seen = 0;
    for page in [
        "/",
        "/projects",
        "/projects/1",
        "/memory",
        "/memory/1",
        "/memory/1/forget",
        "/memory?q=note",
        "/thoughts",
        "/audit",
        "/jobs",
        "/sessions",
        "/settings",
        "/boards/1",
        "/cards/1",
        "/logs",
        "/chat",
        "/persona",
        "/training",
        "/mail",
        "/mail/1",
        "/mail?q=invoice",
        "/calendar",
        "/backups",
    ] {
        let (status, _, body) = b.get(page).await;
        assert_eq!(status, StatusCode::OK, "{page}: {body}");
        assert!(!body.contains("<script>alert"), "{page} shows raw script");
        assert!(!body.contains("<img src=x"), "{page} shows a raw tag");
        // Either spelling of the escaped bracket.
        if body.contains("&#60;script&#62;alert") || body.contains("&lt;script&gt;alert") {
            seen += 1;
        }
    }
    assert!(
        seen >= 14,
        "the hostile text is shown, escaped, on the pages that hold it ({seen})"
    );
    for page in ["/mail", "/mail/1", "/calendar", "/training", "/boards/1"] {
        let (_, _, body) = b.get(page).await;
        assert!(
            body.contains("&#60;script&#62;alert"),
            "{page} shows the text, escaped"
        );
    }
    // A memory's page says what used it: the held /think question, then,
    // once sent, the disclosure that carried it off the machine.
    let (_, _, one) = b.get("/memory/1").await;
    assert!(one.contains("a /think question"), "{one}");
    assert!(one.contains("Never sent off this machine."));
    let csrf = b.csrf("/thoughts").await;
    let (status, _, _) = b.post("/thoughts/1/send", &[("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(sent.lock().unwrap().len(), 1);
    let (_, _, one) = b.get("/memory/1").await;
    assert!(one.contains("disclosure #1"), "{one}");
    assert!(!one.contains("Never sent off this machine."));

    // The training page lists the activity and its week.
    let (_, _, training) = b.get("/training").await;
    assert!(
        training.contains("Week of") && training.contains("Sun 1 Nov 2026 07:00"),
        "{training}"
    );
    assert!(
        training.contains("&#60;script&#62;alert"),
        "the activity's name, escaped"
    );
    // Charts, drawn on the server as inline SVG the page's policy allows
    // (no inline style).
    let figure = |id: &str| {
        let from = training
            .find(&format!("<figure id=\"{id}\">"))
            .unwrap_or_else(|| panic!("no {id}: {training}"));
        let rest = &training[from..];
        rest[..rest.find("</figure>").unwrap()].to_owned()
    };
    for id in ["form-chart", "volume-chart"] {
        let svg = figure(id);
        assert!(svg.contains("<svg") && svg.contains("</svg>"), "{svg}");
        assert!(!svg.contains("style="), "{svg}");
    }
    assert_eq!(
        figure("form-chart").matches("<polyline").count(),
        3,
        "fitness, fatigue, form"
    );
    assert!(training.contains("Form: fitness"), "{training}");

    // The secret never reaches the settings page.
    let (_, _, settings) = b.get("/settings").await;
    assert!(!settings.contains("sk-test-secret"));
    assert!(settings.contains("********"));
    served.stop();
}
