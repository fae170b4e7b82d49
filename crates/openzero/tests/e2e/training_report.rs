//! The weekly training report through the binary: shown as text, written
//! as HTML, and sent to a real SMTP server (`scripts/smtp-test-server`:
//! aiosmtpd requiring STARTTLS and a login) with `smtp.ca_file`, then read
//! back from the file the server stored and parsed with mail-parser: the
//! MIME structure, the headers, the chart, the numbers against `training
//! metrics --json`, an activity name arriving escaped. Settings that
//! cannot work are refused with the reason before anything is sent.

use std::path::{Path, PathBuf};

use crate::common::Oz;
use mail_parser::{MessageParser, MimeHeaders, PartType};
use predicates::prelude::*;

/// The sink `scripts/test` started; required in CI, skipped elsewhere
/// with a line on stderr.
struct Sink {
    port: String,
    plain_port: String,
    dir: PathBuf,
    ca: String,
    user: String,
    password: String,
}

fn sink() -> Option<Sink> {
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set"));
    match std::env::var("OPENZERO_TEST_SMTP_PORT") {
        Ok(port) => Some(Sink {
            port,
            plain_port: var("OPENZERO_TEST_SMTP_PLAIN_PORT"),
            dir: PathBuf::from(var("OPENZERO_TEST_SMTP_DIR")),
            ca: var("OPENZERO_TEST_SMTP_CA"),
            user: var("OPENZERO_TEST_SMTP_USER"),
            password: var("OPENZERO_TEST_SMTP_PASSWORD"),
        }),
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "OPENZERO_TEST_SMTP_PORT must be set in CI (scripts/test starts scripts/smtp-test-server)"
            );
            eprintln!(
                "skipped: OPENZERO_TEST_SMTP_PORT not set (eval \"$(scripts/smtp-test-server start)\")"
            );
            None
        }
    }
}

fn recent_run(name: &str, km: f64, days_ago: i64) -> String {
    crate::training::named_run(Some(name), km, days_ago)
}

fn json(a: assert_cmd::assert::Assert) -> serde_json::Value {
    serde_json::from_slice(&a.get_output().stdout).unwrap()
}

/// The message the sink stored for `rcpt`, with the sink's note on it
/// (port, tls, login). The sink writes it before it answers 250.
fn received(dir: &Path, rcpt: &str) -> (serde_json::Value, Vec<u8>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let meta: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            if meta["rcpt_tos"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == rcpt)
            {
                let eml = std::fs::read(path.with_extension("eml")).unwrap();
                return (meta, eml);
            }
        }
    }
    panic!("no message for {rcpt} in {}", dir.display());
}

/// An address no other test run uses, so parallel runs share the sink.
fn unique_rcpt() -> String {
    format!(
        "report-{}-{}@example.test",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap()
    )
}

#[test]
fn the_weekly_report_is_emailed_over_starttls_and_matches_the_metrics() {
    let Some(sink) = sink() else { return };
    let oz = Oz::new();
    oz.ok(&["init"]);
    let runs = [
        ("Long run", 10.0, 12),
        ("<script>alert(\"x\")</script> Tempo", 5.0, 3),
        ("Easy & short", 6.0, 1),
    ];
    let mut files = Vec::new();
    for (i, (name, km, ago)) in runs.iter().enumerate() {
        let f = oz.work.join(format!("run{i}.gpx"));
        std::fs::write(&f, recent_run(name, *km, *ago)).unwrap();
        files.push(f.display().to_string());
    }
    let mut args = vec!["training", "import"];
    args.extend(files.iter().map(String::as_str));
    oz.ok(&args).stdout(predicate::str::contains("3 imported"));
    let race_day = (chrono::Utc::now() + chrono::Duration::days(100))
        .format("%Y-%m-%d")
        .to_string();
    oz.ok(&["training", "goal", "Half marathon", &race_day, "1:45:00"]);

    let metrics = json(oz.ok(&["training", "metrics", "--json"]));
    let goal = json(oz.ok(&["training", "goal", "--json"]));
    let list = json(oz.ok(&["training", "list", "--json"]));
    let ctl = format!("{:.1}", metrics["ctl"].as_f64().unwrap());
    let atl = format!("{:.1}", metrics["atl"].as_f64().unwrap());
    let tsb = format!("{:+.1}", metrics["tsb"].as_f64().unwrap());
    assert_ne!(ctl, "0.0", "{metrics}");
    let tempo = list
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"].as_str().unwrap().contains("Tempo"))
        .unwrap();
    let tempo_km = format!("{:.2} km", tempo["distance_m"].as_f64().unwrap() / 1000.0);
    let weeks_left = format!("{:.1} weeks", goal["weeks_left"].as_f64().unwrap());
    let pace = format!("it needs {} /km", goal["pace_needed"].as_str().unwrap());
    let predicted = format!("Predicted {}", goal["predicted"].as_str().unwrap());

    // Shown: the text part, with the HTML written beside it.
    let html_file = oz.work.join("week.html");
    let shown = oz
        .ok(&["training", "report", "--html", html_file.to_str().unwrap()])
        .get_output()
        .stdout
        .clone();
    let shown = String::from_utf8(shown).unwrap();
    for needle in [&ctl, &atl, &tsb, &tempo_km, &weeks_left, &pace, &predicted] {
        assert!(shown.contains(needle.as_str()), "{needle} not in\n{shown}");
    }
    let html = std::fs::read_to_string(&html_file).unwrap();
    assert!(
        html.contains("<svg") && html.contains("<polyline"),
        "{html}"
    );
    let report = json(oz.ok(&["training", "report", "--json"]));
    let subject = report["subject"].as_str().unwrap().to_owned();
    assert_eq!(report["html"].as_str().unwrap(), html);

    // Sent over STARTTLS with a login, trusting the sink's CA.
    let rcpt = unique_rcpt();
    let send = |oz: &Oz, extra: &[(&str, &str)]| {
        let mut c = oz.cmd();
        c.args(["training", "report", "--send"])
            .env("SMTP_HOST", "localhost")
            .env("SMTP_PORT", &sink.port)
            .env("SMTP_USER", &sink.user)
            .env("SMTP_PASSWORD", &sink.password)
            .env("SMTP_FROM", "Z <z@example.test>")
            .env("REPORT_EMAIL_TO", &rcpt)
            .env("OPENZERO__SMTP__CA_FILE", &sink.ca);
        for (k, v) in extra {
            c.env(k, v);
        }
        c.assert()
    };
    send(&oz, &[])
        .success()
        .stdout(predicate::str::contains(format!(
            "to {rcpt} via localhost:{} (STARTTLS)",
            sink.port
        )));
    let (meta, eml) = received(&sink.dir, &rcpt);
    assert_eq!(meta["tls"], true, "{meta}");
    assert_eq!(meta["login"], sink.user.as_str(), "{meta}");
    assert_eq!(meta["mail_from"], "z@example.test", "{meta}");

    let msg = MessageParser::default().parse(&eml).unwrap();
    assert_eq!(msg.subject(), Some(subject.as_str()));
    assert_eq!(
        msg.from().and_then(|a| a.first()).and_then(|a| a.address()),
        Some("z@example.test")
    );
    assert_eq!(
        msg.to().and_then(|a| a.first()).and_then(|a| a.address()),
        Some(rcpt.as_str())
    );
    assert!(msg.date().is_some(), "a Date header");
    assert!(msg.message_id().is_some_and(|id| id.contains('@')));
    // multipart/alternative holding text/plain, then text/html.
    let root = msg.root_part();
    let ct = root.content_type().unwrap();
    assert_eq!(
        (ct.ctype(), ct.subtype()),
        ("multipart", Some("alternative"))
    );
    let parts = root.sub_parts().unwrap();
    assert_eq!(parts.len(), 2, "{:?}", msg.parts);
    let kind = |i: usize| {
        let ct = msg.part(parts[i]).unwrap().content_type().unwrap();
        format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or(""))
    };
    assert_eq!(kind(0), "text/plain");
    assert_eq!(kind(1), "text/html");
    let (PartType::Text(text), PartType::Html(mail_html)) = (
        &msg.part(parts[0]).unwrap().body,
        &msg.part(parts[1]).unwrap().body,
    ) else {
        panic!("not a text and an HTML part: {:?}", msg.parts);
    };
    // The same report that was shown, every figure in both parts.
    // (Lines end in CRLF on the wire.)
    assert_eq!(
        text.replace("\r\n", "\n").trim_end(),
        report["text"].as_str().unwrap().trim_end()
    );
    for needle in [&ctl, &atl, &tsb, &tempo_km, &weeks_left, &pace, &predicted] {
        assert!(
            text.contains(needle.as_str()),
            "{needle} not in the text part"
        );
        assert!(
            mail_html.contains(needle.as_str()),
            "{needle} not in the HTML part"
        );
    }
    assert!(mail_html.contains("<svg") && mail_html.contains("<polyline"));
    assert!(mail_html.contains("Fitness, fatigue and form, 12 weeks"));
    // The name from the file (as it was read) arrives as text, never as
    // markup.
    let name = tempo["name"].as_str().unwrap();
    assert!(name.starts_with("<script>alert(\"x\")</script>"), "{name}");
    assert!(text.contains(name));
    assert!(!mail_html.contains("<script"), "unescaped name in the HTML");
    let escaped = name
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    assert!(
        mail_html.contains(&escaped),
        "{escaped} not in the HTML part"
    );
    assert!(
        mail_html.contains("Easy &amp; short"),
        "an & escaped, the name whole"
    );

    // A wrong password: the server's refusal, said as such.
    send(&oz, &[("SMTP_PASSWORD", "wrong")])
        .code(1)
        .stderr(predicate::str::contains(
            "the server refused the login: 535",
        ));
    // Without the sink's CA its certificate is not trusted: nothing sent.
    let mut c = oz.cmd();
    c.args(["training", "report", "--send"])
        .env("SMTP_HOST", "localhost")
        .env("SMTP_PORT", &sink.port)
        .env("SMTP_USER", &sink.user)
        .env("SMTP_PASSWORD", &sink.password)
        .env("SMTP_FROM", "z@example.test")
        .env("REPORT_EMAIL_TO", "nobody@example.test");
    c.assert().code(1).stderr(predicate::str::contains(format!(
        "TLS with localhost:{} failed",
        sink.port
    )));
    // Without TLS, to this machine only: allowed, and stored unencrypted.
    let plain_rcpt = unique_rcpt();
    oz.cmd()
        .args(["training", "report", "--send"])
        .env("SMTP_HOST", "127.0.0.1")
        .env("SMTP_PORT", &sink.plain_port)
        .env("SMTP_SECURITY", "none")
        .env("SMTP_FROM", "z@example.test")
        .env("REPORT_EMAIL_TO", &plain_rcpt)
        .assert()
        .success()
        .stdout(predicate::str::contains("(no encryption)"));
    let (meta, _) = received(&sink.dir, &plain_rcpt);
    assert_eq!(meta["tls"], false, "{meta}");

    // The scheduled job sends the same report.
    let job_rcpt = unique_rcpt();
    oz.cmd()
        .args(["jobs", "run", "training-report"])
        .env("SMTP_HOST", "localhost")
        .env("SMTP_PORT", &sink.port)
        .env("SMTP_USER", &sink.user)
        .env("SMTP_PASSWORD", &sink.password)
        .env("SMTP_FROM", "z@example.test")
        .env("REPORT_EMAIL_TO", &job_rcpt)
        .env("OPENZERO__SMTP__CA_FILE", &sink.ca)
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "sent \"{subject}\" to {job_rcpt}"
        )));
    let (meta, eml) = received(&sink.dir, &job_rcpt);
    assert_eq!(meta["tls"], true);
    let msg = MessageParser::default().parse(&eml).unwrap();
    assert_eq!(msg.subject(), Some(subject.as_str()));
}

#[test]
fn a_report_that_cannot_be_sent_says_why() {
    let oz = Oz::new();
    oz.ok(&["init"]);
    // Nothing to report yet, but it still composes.
    oz.ok(&["training", "report"])
        .stdout(predicate::str::contains("No runs in the last 7 days."))
        .stdout(predicate::str::contains("No goal race"));
    // The job skips, saying why.
    oz.ok(&["jobs", "run", "training-report"])
        .stdout(predicate::str::contains("skipped: SMTP_HOST is not set"));
    oz.cmd()
        .args(["jobs", "run", "training-report"])
        .env("SMTP_HOST", "localhost")
        .env("REPORT_EMAIL_TO", "me@example.test")
        .assert()
        .success()
        .stdout(predicate::str::contains("skipped: no activities yet"));
    oz.fails(&["training", "report", "--send"])
        .stderr(predicate::str::contains("SMTP_HOST is not set"));
    oz.cmd()
        .args(["training", "report", "--send"])
        .env("SMTP_HOST", "localhost")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("REPORT_EMAIL_TO is not set"));
    // No TLS to another machine: refused with the reason, nothing sent,
    // the password nowhere in what is said.
    oz.cmd()
        .args(["training", "report", "--send"])
        .env("SMTP_HOST", "smtp.example.com")
        .env("SMTP_SECURITY", "none")
        .env("SMTP_USER", "me@example.com")
        .env("SMTP_PASSWORD", "hunter2-secret")
        .env("REPORT_EMAIL_TO", "me@example.test")
        .env("RUST_LOG", "debug")
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "SMTP_SECURITY=none is refused for smtp.example.com",
        ))
        .stderr(predicate::str::contains("in clear"))
        .stderr(predicate::str::contains("hunter2-secret").not())
        .stdout(predicate::str::contains("hunter2-secret").not());
    oz.ok(&["training", "report", "--help"])
        .stdout(predicate::str::contains("openzero training report --send"));
}
