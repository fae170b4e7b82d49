#![allow(clippy::unwrap_used)]

use super::smtp::*;
use super::*;
use chrono::{TimeZone, Utc};
use openzero_config::Secret;
use training_coach::WeekOut;

fn day(d: NaiveDate, ctl: f64) -> metrics::Day {
    metrics::Day {
        date: d,
        load: 0.0,
        ctl,
        atl: ctl * 1.5,
        tsb: -ctl / 2.0,
    }
}

fn input() -> Input {
    let today = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
    let weeks: Vec<WeekOut> = (0..12)
        .map(|i| WeekOut {
            monday: NaiveDate::from_ymd_opt(2026, 9, 7).unwrap() + Duration::weeks(i),
            runs: 2,
            distance_m: 10_000.0 + i as f64 * 1000.0,
            moving_s: 3600.0,
            load: 100.0,
        })
        .collect();
    let run = ActivityRow {
        id: 7,
        source: "file".into(),
        external_id: "x".into(),
        sport: "running".into(),
        name: Some("<script>alert('x')</script> & co".into()),
        start_at: Utc.with_ymd_and_hms(2026, 11, 28, 23, 30, 0).unwrap(),
        elapsed_s: 3000.0,
        moving_s: 2990.0,
        distance_m: 10_012.0,
        avg_hr: Some(151.4),
        trimp: Some(97.2),
        efficiency: None,
        imported_at: Utc.with_ymd_and_hms(2026, 11, 29, 8, 0, 0).unwrap(),
    };
    Input {
        tz: chrono_tz::Europe::Berlin,
        metrics: Metrics {
            date: today,
            ctl: 23.456,
            atl: 41.2,
            tsb: -12.04,
            acute_chronic: Some(1.756),
            weeks,
            chart: Vec::new(),
        },
        recent: vec![
            ActivityRow {
                id: 5,
                name: None,
                start_at: Utc.with_ymd_and_hms(2026, 11, 9, 7, 0, 0).unwrap(),
                trimp: Some(120.0),
                ..run.clone()
            },
            ActivityRow {
                id: 6,
                name: Some("Easy".into()),
                start_at: Utc.with_ymd_and_hms(2026, 11, 19, 7, 0, 0).unwrap(),
                trimp: Some(80.0),
                ..run.clone()
            },
            run,
        ],
        chart: (0..84)
            .map(|i| day(today - Duration::days(83 - i), i as f64 / 3.0))
            .collect(),
        goal: None,
    }
}

#[test]
fn both_parts_carry_the_same_figures_and_names_are_escaped() {
    let r = compose(&input());
    for part in [&r.text, &r.html] {
        assert!(part.contains("23.5"), "CTL");
        assert!(part.contains("41.2"), "ATL");
        assert!(part.contains("-12.0"), "TSB");
        assert!(part.contains("1.76"), "acute:chronic");
        assert!(part.contains("10.01 km"), "distance");
        assert!(part.contains("49:50"), "time");
        assert!(part.contains("4:59 /km"), "pace");
        assert!(part.contains("151 bpm"), "heart rate");
        assert!(part.contains("97"), "TRIMP");
        // The owner's zone: 23:30 UTC is Sunday 00:30 in Berlin.
        assert!(
            part.contains("Sun 29 Nov 00:30"),
            "date in the owner's zone"
        );
        assert!(part.contains("21.0"), "the last week's distance");
    }
    assert!(r.text.contains("<script>alert('x')</script> & co"));
    assert!(!r.html.contains("<script"));
    assert!(
        r.html
            .contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co")
    );
    assert!(r.html.contains("<svg") && r.html.contains("<polyline"));
    assert_eq!(r.html.matches("<polyline").count(), 3);
    assert!(
        r.subject
            .starts_with("Training 23 Nov – 29 Nov: 1 run, 10.0 km, 49:50, load 97, form -12.0")
    );
    assert!(!r.subject.contains('\n'));
    // The last seven days against the four weeks before them (loads
    // 120 on 9 Nov and 80 on 19 Nov there: 50 a week).
    assert!(r.text.contains(
        "The last 7 days (Mon 23 Nov – Sun 29 Nov): 1 run · 10.0 km · 49:50 · load 97; \
         the 4 weeks before averaged load 50 a week (+94 %)."
    ));
    assert!(r.html.contains("(+94 %)"));
    assert_eq!(r.runs, 1);
}

#[test]
fn the_goal_race_is_shown_and_its_name_escaped() {
    let mut i = input();
    i.goal = Some(GoalOut {
        name: "Half <b>marathon</b>".into(),
        date: NaiveDate::from_ymd_opt(2027, 3, 14).unwrap(),
        distance_m: 21_097.5,
        target: "1:45:00".into(),
        days_left: 105,
        weeks_left: 15.0,
        pace_needed: "4:59".into(),
        predicted: Some("2:02:35".into()),
        predicted_from: NaiveDate::from_ymd_opt(2026, 11, 20),
        on_track: Some(false),
        race_day_tsb: 12.34,
    });
    let r = compose(&i);
    for part in [&r.text, &r.html] {
        assert!(part.contains("105 days (15.0 weeks) left; it needs 4:59 /km."));
        assert!(part.contains("Predicted 2:02:35"));
        assert!(part.contains("not yet on track"));
        assert!(part.contains("+12.3"));
    }
    assert!(r.html.contains("Half &lt;b&gt;marathon&lt;/b&gt;"));
    assert!(r.subject.ends_with("15.0 weeks to Half <b>marathon</b>"));
}

#[test]
fn an_empty_history_still_makes_a_report() {
    let mut i = input();
    i.recent.clear();
    i.chart = (0..84)
        .map(|d| {
            day(
                NaiveDate::from_ymd_opt(2026, 9, 7).unwrap() + Duration::days(d),
                0.0,
            )
        })
        .collect();
    let r = compose(&i);
    assert!(r.text.contains("No runs in the last 7 days."));
    assert!(r.html.contains("<svg"));
    assert!(!r.html.contains("NaN") && !r.html.contains("inf"));
}

fn smtp(host: &str, security: &str) -> SmtpSettings {
    SmtpSettings {
        host: Some(host.into()),
        security: security.into(),
        user: Some("me@example.com".into()),
        password: Some(Secret::new("hunter2")),
        report_to: Some("me@example.com".into()),
        ..SmtpSettings::default()
    }
}

#[tokio::test]
async fn settings_are_checked_before_connecting() {
    let r = compose(&input());
    async fn fails(s: SmtpSettings, r: &Report) -> String {
        send(&s, r).await.unwrap_err().to_string()
    }
    let mut none = smtp("", "starttls");
    none.host = None;
    assert_eq!(fails(none, &r).await, "SMTP_HOST is not set");
    let e = fails(smtp("smtp.example.com", "none"), &r).await;
    assert!(
        e.contains("SMTP_SECURITY=none is refused for smtp.example.com"),
        "{e}"
    );
    assert!(!e.contains("hunter2"));
    let e = fails(smtp("smtp.example.com", "sometimes"), &r).await;
    assert!(e.contains("must be starttls, tls or none"), "{e}");
    assert!(is_loopback("127.0.0.1") && is_loopback("::1") && is_loopback("[::1]"));
    assert!(is_loopback("localhost") && !is_loopback("10.0.0.1") && !is_loopback("example.com"));
    // The password is not in the settings' Debug.
    assert!(!format!("{:?}", smtp("h", "tls")).contains("hunter2"));
}

#[tokio::test]
async fn a_closed_port_says_connection_refused_with_the_address() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut s = smtp("127.0.0.1", "none");
    s.port = Some(port);
    let e = send(&s, &compose(&input())).await.unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "cannot connect to 127.0.0.1:{port}: connection refused"
        )),
        "{e}"
    );
}
