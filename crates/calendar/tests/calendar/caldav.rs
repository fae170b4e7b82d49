//! The read-only CalDAV client against a real Radicale
//! (`eval "$(scripts/radicale-test-server start)"`), each test as its own
//! user with calendars and events made here by plain HTTP (MKCALENDAR, PUT,
//! DELETE: the test writes, the client under test only reads); and against
//! a tiny canned server for answers that cannot be read.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use openzero_calendar::caldav::{CalDav, CalDavError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../scripts/radicale-test-server"
);
const TIMEOUT: Duration = Duration::from_secs(20);

/// A Radicale user of one test.
struct Account {
    url: String,
    user: String,
    password: String,
    http: reqwest::Client,
}

/// A fresh user on the test server, or None (skipped) when none runs;
/// under CI a missing server fails.
fn account(tag: &str) -> Option<Account> {
    let Ok(url) = std::env::var("OPENZERO_TEST_CALDAV_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "OPENZERO_TEST_CALDAV_URL is not set: run eval \"$(scripts/radicale-test-server start)\""
        );
        eprintln!(
            "skipped: OPENZERO_TEST_CALDAV_URL is not set (eval \"$(scripts/radicale-test-server start)\")"
        );
        return None;
    };
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let user = format!(
        "{tag}-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let password = format!("pw:{user}:s3cret");
    adduser(&user, &password);
    Some(Account {
        url,
        user,
        password,
        http: reqwest::Client::new(),
    })
}

/// `adduser` rewrites the users file through one temporary name: tests in
/// parallel processes take turns (a file lock).
fn adduser(user: &str, password: &str) {
    let dir = PathBuf::from(
        std::env::var_os("OPENZERO_TEST_CALDAV_DIR")
            .unwrap_or_else(|| "/tmp/openzero-test-caldav".into()),
    );
    let lock = std::fs::File::create(dir.join("openzero-tests-adduser.lock")).unwrap();
    lock.lock().unwrap();
    let out = std::process::Command::new(SCRIPT)
        .args(["adduser", user, password])
        .env("OZ_CALDAV_DIR", &dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "adduser: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn method(name: &str) -> reqwest::Method {
    reqwest::Method::from_bytes(name.as_bytes()).unwrap()
}

impl Account {
    fn client(&self) -> CalDav {
        CalDav::new(&self.url, &self.user, &self.password, TIMEOUT).unwrap()
    }

    fn href(&self, rest: &str) -> String {
        format!("/{}/{rest}", self.user)
    }

    async fn call(&self, m: &str, href: &str, body: String) -> u16 {
        let status = self
            .http
            .request(
                method(m),
                format!("{}{}", self.url, href.trim_start_matches('/')),
            )
            .basic_auth(&self.user, Some(&self.password))
            .header("Content-Type", "text/calendar; charset=utf-8")
            .body(body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        assert!((200..300).contains(&status), "{m} {href}: HTTP {status}");
        status
    }

    /// A calendar `/USER/slug/` holding `comps`.
    async fn mkcalendar(
        &self,
        slug: &str,
        name: Option<&str>,
        color: Option<&str>,
        comps: &[&str],
    ) -> String {
        let mut props = String::new();
        if let Some(n) = name {
            props.push_str(&format!(
                "<D:displayname>{}</D:displayname>",
                n.replace('&', "&amp;")
            ));
        }
        if let Some(c) = color {
            props.push_str(&format!("<I:calendar-color>{c}</I:calendar-color>"));
        }
        props.push_str("<C:supported-calendar-component-set>");
        for c in comps {
            props.push_str(&format!("<C:comp name=\"{c}\"/>"));
        }
        props.push_str("</C:supported-calendar-component-set>");
        let body = format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:I="http://apple.com/ns/ical/"><D:set><D:prop>{props}</D:prop></D:set></C:mkcalendar>"#
        );
        let href = self.href(&format!("{slug}/"));
        self.call("MKCALENDAR", &href, body).await;
        href
    }

    async fn put(&self, calendar: &str, name: &str, ics: String) -> String {
        let href = format!("{calendar}{name}");
        self.call("PUT", &href, ics).await;
        href
    }

    async fn delete(&self, href: &str) {
        self.call("DELETE", href, String::new()).await;
    }
}

/// One VEVENT (CRLF lines); `start` like `20260310T090000Z`.
fn event(uid: &str, summary: &str, start: &str, rrule: Option<&str>) -> String {
    let rrule = rrule.map(|r| format!("RRULE:{r}\n")).unwrap_or_default();
    format!(
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//openzero//test//EN\nBEGIN:VEVENT\nUID:{uid}\nDTSTAMP:20260101T000000Z\nDTSTART:{start}\nDURATION:PT1H\n{rrule}SUMMARY:{summary}\nEND:VEVENT\nEND:VCALENDAR\n"
    )
    .replace('\n', "\r\n")
}

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[tokio::test]
async fn discovery_finds_the_event_calendars_with_their_names() {
    let Some(acct) = account("discover") else {
        return;
    };
    let work = acct
        .mkcalendar("work", Some("Work"), Some("#FF0000FF"), &["VEVENT"])
        .await;
    let family = acct
        .mkcalendar("family", Some("Home & Family"), None, &["VEVENT", "VTODO"])
        .await;
    let plain = acct.mkcalendar("plain", None, None, &["VEVENT"]).await;
    acct.mkcalendar("tasks", Some("Tasks"), None, &["VTODO"])
        .await;

    let mut found = acct.client().discover().await.unwrap();
    found.sort_by(|a, b| a.href.cmp(&b.href));
    let seen: Vec<(&str, &str, Option<&str>)> = found
        .iter()
        .map(|c| (c.href.as_str(), c.name.as_str(), c.color.as_deref()))
        .collect();
    assert_eq!(
        seen,
        [
            (family.as_str(), "Home & Family", None),
            (plain.as_str(), "plain", None),
            (work.as_str(), "Work", Some("#FF0000FF")),
        ]
    );
    for c in &found {
        assert!(
            c.sync_token.as_deref().is_some_and(|t| !t.is_empty()),
            "{c:?}"
        );
        assert!(c.ctag.as_deref().is_some_and(|t| !t.is_empty()), "{c:?}");
    }

    // The same from an address below the root (the principal itself).
    let deeper = CalDav::new(
        &format!("{}{}/", acct.url, acct.user),
        &acct.user,
        &acct.password,
        TIMEOUT,
    )
    .unwrap();
    assert_eq!(deeper.discover().await.unwrap().len(), 3);
    // And from the well-known address, which Radicale redirects (301) to /.
    let well_known = CalDav::new(
        &format!("{}.well-known/caldav", acct.url),
        &acct.user,
        &acct.password,
        TIMEOUT,
    )
    .unwrap();
    assert_eq!(well_known.discover().await.unwrap().len(), 3);
}

#[tokio::test]
async fn sync_gives_everything_then_only_what_changed() {
    let Some(acct) = account("sync") else { return };
    let cal = acct.mkcalendar("cal", Some("Cal"), None, &["VEVENT"]).await;
    let a = acct
        .put(&cal, "a.ics", event("uid-a", "A", "20260310T090000Z", None))
        .await;
    let b = acct
        .put(&cal, "b.ics", event("uid-b", "B", "20260311T090000Z", None))
        .await;
    let c = acct
        .put(&cal, "c.ics", event("uid-c", "C", "20260312T090000Z", None))
        .await;
    let dav = acct.client();

    let first = dav.sync(&cal, None).await.unwrap();
    let hrefs: Vec<&str> = first.changed.iter().map(|(h, _)| h.as_str()).collect();
    assert_eq!(hrefs, [a.as_str(), b.as_str(), c.as_str()]);
    assert!(first.changed.iter().all(|(_, e)| !e.is_empty()));
    assert!(first.removed.is_empty());
    assert!(!first.token.is_empty());

    // The etags listing (the fallback) agrees with the sync.
    let mut etags = dav.etags(&cal).await.unwrap();
    etags.sort();
    assert_eq!(etags, first.changed);

    let second = dav.sync(&cal, Some(&first.token)).await.unwrap();
    assert!(second.changed.is_empty(), "{second:?}");
    assert!(second.removed.is_empty(), "{second:?}");

    acct.put(
        &cal,
        "b.ics",
        event("uid-b", "B moved", "20260318T090000Z", None),
    )
    .await;
    acct.delete(&c).await;
    let third = dav.sync(&cal, Some(&second.token)).await.unwrap();
    assert_eq!(third.changed.len(), 1, "{third:?}");
    assert_eq!(third.changed[0].0, b);
    let old_b = &first.changed[1].1;
    assert_ne!(&third.changed[0].1, old_b, "b's etag did not change");
    assert_eq!(third.removed, [c]);
    assert_ne!(third.token, second.token);

    let etags = dav.etags(&cal).await.unwrap();
    assert_eq!(etags.len(), 2);
    assert!(etags.contains(&third.changed[0]));
}

#[tokio::test]
async fn an_unknown_sync_token_asks_for_a_fresh_start() {
    let Some(acct) = account("token") else { return };
    let cal = acct.mkcalendar("cal", Some("Cal"), None, &["VEVENT"]).await;
    let dav = acct.client();
    for token in [
        "http://radicale.org/ns/sync/0000000000000000000000000000000000000000000000000000000000000000",
        "not a token <&>",
    ] {
        let err = dav.sync(&cal, Some(token)).await.unwrap_err();
        assert_eq!(err, CalDavError::TokenInvalid, "{token}");
    }
    // Starting again works.
    assert!(dav.sync(&cal, None).await.is_ok());
}

#[tokio::test]
async fn fetch_returns_the_text_and_names_what_is_gone() {
    let Some(acct) = account("fetch") else { return };
    let cal = acct.mkcalendar("cal", Some("Cal"), None, &["VEVENT"]).await;
    // More than one multiget batch (50), and a name that needs encoding.
    let mut hrefs = Vec::new();
    for i in 0..53 {
        let start = format!("202603{:02}T090000Z", 1 + i % 28);
        hrefs.push(
            acct.put(
                &cal,
                &format!("e{i}.ics"),
                event(&format!("uid-{i}"), "E", &start, None),
            )
            .await,
        );
    }
    let spaced = acct
        .put(
            &cal,
            "Team%20Lunch%20%C3%A4.ics",
            event("uid-lunch", "Lunch", "20260320T120000Z", None),
        )
        .await;
    let dav = acct.client();

    // Hrefs come back in one form, and that form fetches.
    let listed = dav.etags(&cal).await.unwrap();
    assert_eq!(listed.len(), 54);
    assert!(
        listed.iter().any(|(h, _)| h == &spaced),
        "{spaced} not in {listed:?}"
    );
    let synced = dav.sync(&cal, None).await.unwrap();
    assert!(synced.changed.iter().any(|(h, _)| h == &spaced));

    let gone = acct.href("cal/never-there.ics");
    let mut ask = hrefs.clone();
    ask.push(spaced.clone());
    ask.push(gone.clone());
    let got = dav.fetch(&cal, &ask).await.unwrap();
    assert_eq!(got.missing, [gone]);
    assert!(got.failed.is_empty(), "{:?}", got.failed);
    assert_eq!(got.resources.len(), 54);
    for r in &got.resources {
        let (_, etag) = listed.iter().find(|(h, _)| h == &r.href).unwrap();
        assert_eq!(&r.etag, etag);
    }
    let lunch = got.resources.iter().find(|r| r.href == spaced).unwrap();
    assert!(lunch.ics.contains("UID:uid-lunch"), "{}", lunch.ics);
    let parsed = openzero_calendar::parse(lunch.ics.as_bytes());
    assert_eq!(parsed.events.len(), 1);
    assert_eq!(parsed.events[0].uid, "uid-lunch");
    let e7 = got
        .resources
        .iter()
        .find(|r| r.href == acct.href("cal/e7.ics"))
        .unwrap();
    assert!(e7.ics.contains("UID:uid-7"));

    // The same resource asked for in another spelling is the same href.
    let other_spelling = format!("{}{}/cal/Team%20Lunch%20%c3%a4.ics", acct.url, acct.user);
    let again = dav.fetch(&cal, &[other_spelling]).await.unwrap();
    assert_eq!(again.resources.len(), 1);
    assert_eq!(again.resources[0].href, spaced);
}

#[tokio::test]
async fn query_range_returns_only_events_in_the_window() {
    let Some(acct) = account("range") else { return };
    let cal = acct.mkcalendar("cal", Some("Cal"), None, &["VEVENT"]).await;
    acct.put(
        &cal,
        "before.ics",
        event("before", "Before", "20260215T090000Z", None),
    )
    .await;
    let inside = acct
        .put(
            &cal,
            "inside.ics",
            event("inside", "Inside", "20260310T090000Z", None),
        )
        .await;
    acct.put(
        &cal,
        "after.ics",
        event("after", "After", "20260401T000000Z", None),
    )
    .await;
    // Weekly since 2020: only an expanded series falls in March 2026.
    let weekly = acct
        .put(
            &cal,
            "weekly.ics",
            event(
                "weekly",
                "Standup",
                "20200106T090000Z",
                Some("FREQ=WEEKLY;BYDAY=MO"),
            ),
        )
        .await;
    acct.put(
        &cal,
        "ended.ics",
        event(
            "ended",
            "Old series",
            "20200107T090000Z",
            Some("FREQ=WEEKLY;UNTIL=20211231T235959Z"),
        ),
    )
    .await;

    let found = acct
        .client()
        .query_range(
            &cal,
            utc("2026-03-01T00:00:00Z"),
            utc("2026-04-01T00:00:00Z"),
        )
        .await
        .unwrap();
    let mut hrefs: Vec<&str> = found.iter().map(|r| r.href.as_str()).collect();
    hrefs.sort_unstable();
    assert_eq!(hrefs, [inside.as_str(), weekly.as_str()]);
    let series = found.iter().find(|r| r.href == weekly).unwrap();
    assert!(
        series.ics.contains("RRULE:FREQ=WEEKLY"),
        "the whole series comes back"
    );
    assert!(!series.etag.is_empty());
}

#[tokio::test]
async fn a_wrong_password_is_unauthorized_and_never_shown() {
    let Some(acct) = account("auth") else { return };
    let cal = acct.mkcalendar("cal", Some("Cal"), None, &["VEVENT"]).await;
    let wrong = "wrong-Pa55word-xyzzy";
    let dav = CalDav::new(&acct.url, &acct.user, wrong, TIMEOUT).unwrap();
    let debug = format!("{dav:?}");
    assert!(!debug.contains(wrong), "{debug}");
    assert!(!format!("{:?}", acct.client()).contains(&acct.password));

    let err = dav.discover().await.unwrap_err();
    assert_eq!(err, CalDavError::Unauthorized);
    assert_eq!(
        err.to_string(),
        "the server refused the user name or password"
    );
    for err in [
        dav.sync(&cal, None).await.unwrap_err(),
        dav.etags(&cal).await.unwrap_err(),
        dav.fetch(&cal, &[format!("{cal}x.ics")]).await.unwrap_err(),
    ] {
        assert_eq!(err, CalDavError::Unauthorized);
        assert!(!err.to_string().contains(wrong));
        assert!(!format!("{err:?}").contains(wrong));
    }
}

/// What a fake server answers: status code, extra headers, body.
struct Reply(u16, Vec<(&'static str, String)>, Vec<u8>);

/// A fake server on a free port answering by `handler(method, path, host)`;
/// its base URL and the requests seen ("METHOD path").
async fn fake<F>(handler: F) -> (String, Arc<Mutex<Vec<String>>>)
where
    F: Fn(&str, &str, &str) -> Reply + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let handler = Arc::new(handler);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let handler = Arc::clone(&handler);
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                let head_end = loop {
                    let Ok(n) = sock.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    req.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&req).into_owned();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if req.len() >= end + 4 + len {
                            break text[..end].to_owned();
                        }
                    }
                };
                let mut words = head_end.split_whitespace();
                let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
                let host = head_end
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("host").then(|| v.trim().to_owned())
                    })
                    .unwrap_or_default();
                log.lock().unwrap().push(format!("{method} {path}"));
                let Reply(status, headers, body) = handler(method, path, &host);
                let mut head = format!(
                    "HTTP/1.1 {status} Fake\r\nContent-Type: application/xml; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n",
                    body.len()
                );
                for (k, v) in headers {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str("\r\n");
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(&body).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    (format!("http://{addr}/"), seen)
}

/// A fake server answering every request with `status` and `body`.
async fn canned(status: u16, body: &'static [u8]) -> String {
    fake(move |_, _, _| Reply(status, Vec::new(), body.to_vec()))
        .await
        .0
}

/// Discovery the long way, as a Nextcloud-like server answers it: the base
/// names no principal, /.well-known/caldav redirects, prefixes differ,
/// hrefs come as full URLs and in other encodings; the redirect keeps the
/// method; only PROPFIND is sent.
#[tokio::test]
async fn discovery_falls_back_to_well_known_and_follows_its_redirect() {
    fn ms(inner: &str) -> Vec<u8> {
        format!(
            r#"<?xml version="1.0"?><d:multistatus xmlns:d="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav" xmlns:cs="http://calendarserver.org/ns/" xmlns:x1="http://apple.com/ns/ical/">{inner}</d:multistatus>"#
        )
        .into_bytes()
    }
    let (url, seen) = fake(|method, path, host| {
        let ok = |inner: &str| Reply(207, Vec::new(), ms(inner));
        if method != "PROPFIND" {
            return Reply(405, Vec::new(), Vec::new());
        }
        match path {
            "/" => ok(
                r#"<d:response><d:href>/</d:href><d:propstat><d:prop><d:current-user-principal/></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat></d:response>"#,
            ),
            "/.well-known/caldav" => Reply(301, vec![("Location", "/remote.php/dav/".to_owned())], Vec::new()),
            "/remote.php/dav/" => ok(
                r#"<d:response><d:href>/remote.php/dav/</d:href><d:propstat><d:prop><d:current-user-principal><d:href>/remote.php/dav/principals/users/ann/</d:href></d:current-user-principal></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"#,
            ),
            "/remote.php/dav/principals/users/ann/" => ok(
                r#"<d:response><d:href>/remote.php/dav/principals/users/ann/</d:href><d:propstat><d:prop><cal:calendar-home-set><d:href>/remote.php/dav/calendars/ann/</d:href></cal:calendar-home-set></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"#,
            ),
            "/remote.php/dav/calendars/ann/" => ok(&[
                r#"<d:response><d:href>/remote.php/dav/calendars/ann/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"#,
                r#"<d:response><d:href>/remote.php/dav/calendars/ann/personal/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><cal:calendar/></d:resourcetype><d:displayname>Personal</d:displayname><cs:getctag>c1</cs:getctag><d:sync-token>http://sabre.io/ns/sync/7</d:sync-token><x1:calendar-color>#0082c9</x1:calendar-color><cal:supported-calendar-component-set><cal:comp name="VEVENT"/><cal:comp name="VTODO"/></cal:supported-calendar-component-set></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"#,
                r#"<d:response><d:href>http://{HOST}/remote.php/dav/calendars/ann/urlaub%20plan/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><cal:calendar/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat><d:propstat><d:prop><d:displayname/><x1:calendar-color/></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat></d:response>"#,
                r#"<d:response><d:href>/remote.php/dav/calendars/ann/tasks/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><cal:calendar/></d:resourcetype><d:displayname>Tasks</d:displayname><cal:supported-calendar-component-set><cal:comp name="VTODO"/></cal:supported-calendar-component-set></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"#,
                r#"<d:response><d:href>/remote.php/dav/calendars/ann/inbox/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><cal:schedule-inbox/></d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"#,
            ]
            .concat()
            .replace("{HOST}", host)),
            _ => Reply(404, Vec::new(), Vec::new()),
        }
    })
    .await;
    let dav = CalDav::new(&url, "ann", "pw", TIMEOUT).unwrap();
    let found = dav.discover().await.unwrap();
    let seen_requests = seen.lock().unwrap().clone();
    assert!(
        seen_requests.iter().all(|r| r.starts_with("PROPFIND ")),
        "{seen_requests:?}"
    );
    assert!(seen_requests.contains(&"PROPFIND /remote.php/dav/".to_owned()));
    let names: Vec<(&str, &str)> = found
        .iter()
        .map(|c| (c.href.as_str(), c.name.as_str()))
        .collect();
    assert_eq!(
        names[0],
        ("/remote.php/dav/calendars/ann/personal/", "Personal")
    );
    assert_eq!(found[0].ctag.as_deref(), Some("c1"));
    assert_eq!(
        found[0].sync_token.as_deref(),
        Some("http://sabre.io/ns/sync/7")
    );
    assert_eq!(found[0].color.as_deref(), Some("#0082c9"));
    assert_eq!(
        names[1..],
        [(
            "/remote.php/dav/calendars/ann/urlaub%20plan/",
            "urlaub plan"
        )]
    );
}

#[tokio::test]
async fn answers_that_cannot_be_read_are_malformed_not_a_panic() {
    let bodies: [&[u8]; 7] = [
        // Truncated mid-element.
        br#"<?xml version="1.0"?><D:multistatus xmlns:D="DAV:"><D:response><D:href>/c/a.ics</D:href><D:propstat><D:prop><D:getetag>"1"</D:ge"#,
        // Truncated after a whole response.
        br#"<D:multistatus xmlns:D="DAV:"><D:response><D:href>/c/a.ics</D:href><D:status>HTTP/1.1 404 Not Found</D:status></D:response>"#,
        b"\x00\x01garbage <<<>>> &&& \xff\xfe",
        br#"<D:multistatus xmlns:D="DAV:"><D:response></D:multistatus></D:response>"#,
        b"<html><body>It works!</body></html>",
        br#"<D:multistatus xmlns:D="DAV:"><D:response><D:href>/c/a.ics</D:href><D:propstat><D:prop/><D:status>bogus</D:status></D:propstat></D:response></D:multistatus>"#,
        br#"<D:multistatus xmlns:D="DAV:"><X:response><D:href>/c/a.ics</D:href></X:response></D:multistatus>"#,
    ];
    for body in bodies {
        let url = canned(207, body).await;
        let dav = CalDav::new(&url, "u", "p", TIMEOUT).unwrap();
        let shown = String::from_utf8_lossy(body);
        let results = [
            dav.etags("/c/").await.map(|_| ()),
            dav.sync("/c/", None).await.map(|_| ()),
            dav.fetch("/c/", &["/c/a.ics".to_owned()]).await.map(|_| ()),
            dav.query_range(
                "/c/",
                utc("2026-01-01T00:00:00Z"),
                utc("2026-02-01T00:00:00Z"),
            )
            .await
            .map(|_| ()),
            dav.discover().await.map(|_| ()),
        ];
        for r in results {
            assert!(
                matches!(r, Err(CalDavError::Malformed(_))),
                "{shown}: {r:?}"
            );
        }
    }
}

#[tokio::test]
async fn sync_errors_tell_a_stale_token_from_a_missing_feature() {
    const STALE: &[u8] =
        br#"<?xml version="1.0"?><D:error xmlns:D="DAV:"><D:valid-sync-token/></D:error>"#;
    const NOT_THAT: &[u8] =
        br#"<?xml version="1.0"?><D:error xmlns:D="DAV:"><D:supported-report/></D:error>"#;
    let cases: [(u16, &[u8], Option<&str>, bool); 6] = [
        (403, STALE, Some("t1"), true),
        (409, STALE, Some("t1"), true),
        (403, NOT_THAT, Some("t1"), false),
        (501, b"", Some("t1"), false),
        (405, b"", None, false),
        (400, b"", None, false),
    ];
    for (status, body, token, stale) in cases {
        let dav = CalDav::new(&canned(status, body).await, "u", "p", TIMEOUT).unwrap();
        let err = dav.sync("/c/", token).await.unwrap_err();
        if stale {
            assert_eq!(err, CalDavError::TokenInvalid, "{status}");
        } else {
            assert!(
                matches!(err, CalDavError::Unsupported(_)),
                "{status}: {err:?}"
            );
        }
    }
    // A 207 without a token cannot be continued.
    let ok_no_token: &[u8] = br#"<D:multistatus xmlns:D="DAV:"></D:multistatus>"#;
    let dav = CalDav::new(&canned(207, ok_no_token).await, "u", "p", TIMEOUT).unwrap();
    assert!(matches!(
        dav.sync("/c/", None).await,
        Err(CalDavError::Malformed(_))
    ));
    // Nobody listening.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    drop(listener);
    let dav = CalDav::new(&url, "u", "p", TIMEOUT).unwrap();
    assert!(matches!(
        dav.etags("/c/").await,
        Err(CalDavError::Network(_))
    ));
}
