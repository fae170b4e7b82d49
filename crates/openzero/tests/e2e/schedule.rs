//! `openzero serve` runs the briefings at the right local time, exactly
//! once, with its clock moved (`--clock`) to the mornings that matter:
//! daylight-saving changes, a service down across 07:30, a restart right
//! after a run, a paused job, a dead model.

use crate::common;

use std::time::{Duration, Instant};

use common::{Oz, Served};
use serde_json::Value;

/// The settings every scenario shares: the model is down (the plain
/// briefing must still go out), and only the daily job is scheduled.
fn env(tz: &str, daily: &str) -> Vec<(String, String)> {
    [
        ("USER_TIMEZONE", tz),
        ("OPENZERO__SCHEDULE__DAILY_BRIEFING", daily),
        ("OPENZERO__SCHEDULE__WEEKLY_REVIEW", ""),
        ("OPENZERO__SCHEDULE__MONTHLY_REVIEW", ""),
        ("LLM_PROVIDER", "llamacpp"),
        ("OPENAI_BASE_URL", "http://127.0.0.1:1/v1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Starts `serve` with its clock at `clock` and waits for the scheduler's
/// first pass (catching up on what was missed) to end.
fn serve(oz: &Oz, clock: &str, env: &[(String, String)]) -> Served {
    let served = common::serve(oz, &["--clock", clock], env.iter().map(|(k, v)| (k, v)));
    let start = Instant::now();
    while !served.log().contains("scheduler: caught up") {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the scheduler did not start: {}",
            served.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    served
}

/// The daily briefing's runs, newest first.
fn runs(oz: &Oz, env: &[(String, String)]) -> Vec<Value> {
    common::json_lines(oz.cmd().envs(env.iter().map(|(k, v)| (k, v))).args([
        "jobs",
        "history",
        "daily-briefing",
        "--json",
    ]))
}

fn wait_for_runs(oz: &Oz, env: &[(String, String)], n: usize, served: &Served) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let r = runs(oz, env);
        if r.len() >= n && r.iter().all(|r| r["outcome"] != "running") {
            return r;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no run: {r:?}\n{}",
            served.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn slot(run: &Value) -> (&str, &str) {
    (
        run["scheduled_local"].as_str().unwrap(),
        run["outcome"].as_str().unwrap(),
    )
}

fn last_briefing(oz: &Oz) -> String {
    String::from_utf8(oz.ok(&["briefing", "last"]).get_output().stdout.clone()).unwrap()
}

#[test]
fn the_briefing_goes_out_at_0730_local_once_even_across_a_restart_and_with_the_model_down() {
    let oz = Oz::new();
    oz.ok(&["init"]);
    oz.ok(&["project", "add", "Career", "--priority", "1"]);
    let env = env("Europe/Berlin", "30 7 * * MON-FRI");
    // Monday after the spring change, three seconds before 07:30 CEST.
    let served = serve(&oz, "2026-03-30T07:29:57+02:00", &env);
    assert!(runs(&oz, &env).is_empty(), "ran before its time");
    let r = wait_for_runs(&oz, &env, 1, &served);
    let log = served.stop();
    assert_eq!(slot(&r[0]), ("2026-03-30 07:30:00 CEST", "ok"), "{log}");
    assert!(log.contains("unphrased"), "the model was not tried: {log}");
    let text = last_briefing(&oz);
    assert!(
        text.starts_with("Good morning. Monday 30 March 2026."),
        "{text}"
    );
    assert!(text.contains("Career"), "{text}");

    // Restarted a minute later: the slot is not run a second time.
    let served = serve(&oz, "2026-03-30T07:31:00+02:00", &env);
    std::thread::sleep(Duration::from_secs(2));
    let log = served.stop();
    let r = runs(&oz, &env);
    assert_eq!(
        r.len(),
        1,
        "a second briefing after the restart: {r:?}\n{log}"
    );
}

#[test]
fn down_across_0730_back_at_0815_it_runs_once_back_at_1100_it_is_missed() {
    let env = env("Europe/Berlin", "30 7 * * MON-FRI");
    for (back, expected) in [("08:15", "ok"), ("11:00", "missed")] {
        let oz = Oz::new();
        oz.ok(&["init"]);
        serve(&oz, "2026-03-31T07:00:00+02:00", &env).stop();
        assert!(runs(&oz, &env).is_empty());
        let served = serve(&oz, &format!("2026-03-31T{back}:00+02:00"), &env);
        let r = wait_for_runs(&oz, &env, 1, &served);
        std::thread::sleep(Duration::from_secs(1));
        let log = served.stop();
        let r2 = runs(&oz, &env);
        assert_eq!(r2.len(), 1, "back at {back}: {r2:?}\n{log}");
        assert_eq!(
            slot(&r[0]),
            ("2026-03-31 07:30:00 CEST", expected),
            "back at {back}\n{log}"
        );
        if expected == "missed" {
            assert!(
                oz.ok(&["briefing", "last"])
                    .get_output()
                    .stdout
                    .starts_with(b"No briefing yet"),
                "a missed briefing was delivered late"
            );
        }
    }
}

#[test]
fn a_paused_job_stays_paused_across_a_restart_and_runs_again_when_resumed() {
    let oz = Oz::new();
    oz.ok(&["init"]);
    let env = env("Europe/Berlin", "30 7 * * MON-FRI");
    serve(&oz, "2026-04-01T07:00:00+02:00", &env).stop();
    oz.cmd()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(["jobs", "pause", "daily-briefing"])
        .assert()
        .success();
    let served = serve(&oz, "2026-04-01T07:29:58+02:00", &env);
    std::thread::sleep(Duration::from_secs(4));
    let log = served.stop();
    assert!(runs(&oz, &env).is_empty(), "a paused job ran\n{log}");

    oz.cmd()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(["jobs", "resume", "daily-briefing"])
        .assert()
        .success();
    let served = serve(&oz, "2026-04-01T07:35:00+02:00", &env);
    let r = wait_for_runs(&oz, &env, 1, &served);
    served.stop();
    assert_eq!(slot(&r[0]), ("2026-04-01 07:30:00 CEST", "ok"));
}

#[test]
fn across_daylight_saving_changes_a_nightly_job_runs_once() {
    // Berlin, 29 March: 02:00 jumps to 03:00, so 02:30 never happens; the
    // job runs once, right after the jump.
    let env = env("Europe/Berlin", "30 2 * * *");
    let oz = Oz::new();
    oz.ok(&["init"]);
    let served = serve(&oz, "2026-03-29T01:59:57+01:00", &env);
    let r = wait_for_runs(&oz, &env, 1, &served);
    let log = served.stop();
    assert_eq!(slot(&r[0]), ("2026-03-29 03:00:00 CEST", "ok"), "{log}");

    // Berlin, 25 October: 03:00 goes back to 02:00, so 02:30 happens twice;
    // the job runs at the first, and not again an hour later.
    let oz = Oz::new();
    oz.ok(&["init"]);
    let served = serve(&oz, "2026-10-25T02:29:57+02:00", &env);
    let r = wait_for_runs(&oz, &env, 1, &served);
    served.stop();
    assert_eq!(slot(&r[0]), ("2026-10-25 02:30:00 CEST", "ok"));
    let served = serve(&oz, "2026-10-25T02:29:57+01:00", &env);
    std::thread::sleep(Duration::from_secs(5));
    let log = served.stop();
    let r = runs(&oz, &env);
    assert_eq!(r.len(), 1, "ran twice in the repeated hour: {r:?}\n{log}");

    // New York, 8 March 2026: the same gap on the other side of the ocean.
    let env = self::env("America/New_York", "30 2 * * *");
    let oz = Oz::new();
    oz.ok(&["init"]);
    let served = serve(&oz, "2026-03-08T01:59:57-05:00", &env);
    let r = wait_for_runs(&oz, &env, 1, &served);
    served.stop();
    assert_eq!(slot(&r[0]), ("2026-03-08 03:00:00 EDT", "ok"));
}
