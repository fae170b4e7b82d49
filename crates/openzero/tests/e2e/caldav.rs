//! A CalDAV account against a real Radicale
//! (`eval "$(scripts/radicale-test-server start)"`), on SQLite and on
//! PostgreSQL: discovered, synced, changed and deleted on the server,
//! synced again; the password kept readable by the owner only.

use crate::common;

use common::Oz;

/// A fresh Radicale user (URL, user, password), or None (skipped) when no
/// server runs; under CI a missing server fails.
fn radicale_user(tag: &str) -> Option<(String, String, String)> {
    let Ok(url) = std::env::var("OPENZERO_TEST_CALDAV_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "OPENZERO_TEST_CALDAV_URL is not set: run eval \"$(scripts/radicale-test-server start)\""
        );
        eprintln!("skipped: no Radicale (eval \"$(scripts/radicale-test-server start)\")");
        return None;
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let user = format!("{tag}-{}-{nanos}", std::process::id());
    let password = format!("pw-{nanos}-Zq");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/radicale-test-server"
    );
    let out = std::process::Command::new(script)
        .args(["adduser", &user, &password])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some((url, user, password))
}

async fn call(url: &str, user: &str, pw: &str, method: &str, path: &str, body: &str) {
    let resp = reqwest::Client::new()
        .request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{url}{user}/{path}"),
        )
        .basic_auth(user, Some(pw))
        .header("Content-Type", "text/calendar; charset=utf-8")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    assert!(
        resp.status().is_success(),
        "{method} {path}: {}",
        resp.status()
    );
}

fn event(uid: &str, summary: &str, start: &str, end: &str, extra: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n\
         DTSTAMP:20260301T000000Z\r\nSUMMARY:{summary}\r\nDTSTART;TZID=Europe/Berlin:{start}\r\n\
         DTEND;TZID=Europe/Berlin:{end}\r\n{extra}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

fn agenda(oz: &Oz, db: &Option<String>, from: &str, to: &str) -> Vec<String> {
    let mut c = oz.cmd();
    c.env("USER_TIMEZONE", "Europe/Berlin");
    if let Some(u) = db {
        c.env("DATABASE_URL", u);
    }
    c.args(["calendar", "agenda", "--from", from, "--to", to, "--json"]);
    common::json_lines(&mut c)
        .into_iter()
        .map(|v| {
            format!(
                "{} {} [{}]",
                v["start"].as_str().unwrap(),
                v["summary"].as_str().unwrap(),
                v["calendar"].as_str().unwrap()
            )
        })
        .collect()
}

async fn journey(db: Option<String>) {
    let Some((url, user, pw)) = radicale_user("oz") else {
        return;
    };
    call(&url, &user, &pw, "MKCALENDAR", "work/", "").await;
    call(&url, &user, &pw, "MKCALENDAR", "family/", "").await;
    call(
        &url,
        &user,
        &pw,
        "PUT",
        "work/sync.ics",
        &event(
            "sync@w",
            "Weekly sync",
            "20260316T090000",
            "20260316T100000",
            "RRULE:FREQ=WEEKLY;BYDAY=MO\r\n",
        ),
    )
    .await;
    call(
        &url,
        &user,
        &pw,
        "PUT",
        "family/swim.ics",
        &event(
            "swim@f",
            "Swimming",
            "20260330T170000",
            "20260330T180000",
            "",
        ),
    )
    .await;

    let oz = Oz::new();
    let run = |args: &[&str]| {
        let mut c = oz.cmd();
        c.env("USER_TIMEZONE", "Europe/Berlin")
            .env("CALDAV_PASSWORD", &pw);
        if let Some(u) = &db {
            c.env("DATABASE_URL", u);
        }
        let out = c.args(args).assert().success().get_output().stdout.clone();
        String::from_utf8(out).unwrap()
    };
    run(&["init"]);
    let out = run(&[
        "calendar",
        "add-caldav",
        &url,
        "--user",
        &user,
        "--name",
        "Home server",
    ]);
    assert!(
        out.contains("Added \"Home server\": 2 calendars, 2 events."),
        "{out}"
    );
    assert_eq!(
        agenda(&oz, &db, "2026-03-30", "2026-03-30"),
        vec![
            "2026-03-30T09:00:00+02:00 Weekly sync [work]",
            "2026-03-30T17:00:00+02:00 Swimming [family]",
        ]
    );

    // Changed on the server: this week's sync moved, swimming deleted.
    call(
        &url,
        &user,
        &pw,
        "PUT",
        "work/sync.ics",
        &event("sync@w", "Weekly sync", "20260316T090000", "20260316T100000", "RRULE:FREQ=WEEKLY;BYDAY=MO\r\n")
                .replace(
                    "END:VCALENDAR\r\n",
                    "BEGIN:VEVENT\r\nUID:sync@w\r\nDTSTAMP:20260301T000000Z\r\nSUMMARY:Weekly sync\r\n\
                     RECURRENCE-ID;TZID=Europe/Berlin:20260330T090000\r\n\
                     DTSTART;TZID=Europe/Berlin:20260330T130000\r\nDTEND;TZID=Europe/Berlin:20260330T140000\r\n\
                     END:VEVENT\r\nEND:VCALENDAR\r\n"
                ),
    )
    .await;
    call(&url, &user, &pw, "DELETE", "family/swim.ics", "").await;
    let out = run(&["calendar", "sync"]);
    assert!(out.contains("Home server: 2 calendars changed"), "{out}");
    assert_eq!(
        agenda(&oz, &db, "2026-03-30", "2026-03-30"),
        vec!["2026-03-30T13:00:00+02:00 Weekly sync [work]"]
    );
    // Nothing changed since: nothing read again.
    let out = run(&["calendar", "sync"]);
    assert!(out.contains("Home server: 0 calendars changed"), "{out}");

    // The password is in a file only the owner can read, and nowhere shown.
    let secrets = oz.data.join("calendar-secrets.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secrets).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let list = run(&["calendar", "list", "--json"]);
    assert!(!list.contains(&pw), "{list}");
    if db.is_none() {
        let bytes = std::fs::read(oz.data.join("openzero.db")).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(&pw),
            "the password is in the database"
        );
    }

    // A wrong password: a readable error, nothing added.
    let mut c = oz.cmd();
    c.env("USER_TIMEZONE", "Europe/Berlin")
        .env("CALDAV_PASSWORD", "wrong");
    if let Some(u) = &db {
        c.env("DATABASE_URL", u);
    }
    let err = c
        .args([
            "calendar",
            "add-caldav",
            &url,
            "--user",
            &user,
            "--name",
            "Again",
        ])
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(err).unwrap();
    assert!(err.contains("refused"), "{err}");

    // Removed: its events and its password go.
    run(&["calendar", "remove", "Home server"]);
    assert!(agenda(&oz, &db, "2026-03-30", "2026-03-30").is_empty());
    let kept = std::fs::read_to_string(&secrets).unwrap();
    assert!(!kept.contains(&pw), "{kept}");
}

#[tokio::test]
async fn a_caldav_account_syncs_changes_and_deletions_on_sqlite() {
    journey(None).await;
}

#[tokio::test]
async fn a_caldav_account_syncs_changes_and_deletions_on_postgres() {
    let Some(url) = openzero_store_postgres::testing::fresh_database_url().await else {
        return;
    };
    journey(Some(url)).await;
}
