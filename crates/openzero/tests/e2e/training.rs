//! Activity files through the binary: GPX, TCX and FIT from the public
//! corpus imported with their load, a route and a damaged file skipped with
//! the reason, nothing imported twice.

use crate::common::{self, Oz};
use predicates::prelude::*;

#[test]
fn activity_files_are_imported_once_and_bad_ones_skipped_with_the_reason() {
    let Some(dir) = common::fixtures("activities") else {
        return;
    };
    let oz = Oz::new();
    oz.ok(&["init"]);
    let f = |rel: &str| dir.join(rel).display().to_string();
    let (run, tcx, gpx, route, broken) = (
        f("python-fitparse/garmin-fenix-5-run.fit"),
        f("python-tcxparser/test.tcx"),
        f("gpx/garmin-activity.gpx"),
        f("gpx/strava_route_example.gpx"),
        f("python-fitparse/activity-unexpected-eof.fit"),
    );
    oz.ok(&["training", "import", &run, &tcx, &gpx, &route, &broken])
        .stdout(predicate::str::contains(
            "3 imported, 0 imported before, 2 skipped.",
        ))
        .stdout(predicate::str::contains(
            "strava_route_example.gpx: skipped: no timed samples",
        ))
        .stdout(predicate::str::contains(
            "activity-unexpected-eof.fit: skipped: malformed FIT",
        ))
        .stdout(predicate::str::contains("4.69 km in 33:12"))
        .stdout(predicate::str::contains("12.82 km in 1:26:32"));
    // Again: recognised by its bytes, not added twice.
    oz.ok(&["training", "import", &tcx])
        .stdout(predicate::str::contains("imported before"));
    // Nothing usable at all: exit 1 with the reasons.
    oz.fails(&["training", "import", &route])
        .stdout(predicate::str::contains(
            "0 imported, 0 imported before, 1 skipped.",
        ));

    let out = oz.ok(&["training", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3);
    // Newest first; heart rate gives a training load, more for the longer run.
    assert_eq!(list[0]["start"], "2017-07-29T14:46:35Z", "{}", list[0]);
    for key in [
        "id",
        "source",
        "sport",
        "distance_m",
        "moving_s",
        "elapsed_s",
        "avg_hr",
        "trimp",
    ] {
        assert!(list[0].get(key).is_some(), "{key} missing: {}", list[0]);
    }
    let trimp = |i: usize| list[i]["trimp"].as_f64().unwrap();
    assert!(trimp(0) > trimp(2), "12.8 km loads more than 4.7 km");
    assert!(list.iter().all(|a| a["sport"] == "running"));
    // A lower maximum heart rate makes the same run harder.
    let oz2 = Oz::new();
    oz2.ok(&["init"]);
    oz2.cmd()
        .args(["training", "import", &tcx, "--json"])
        .env("OPENZERO__TRAINING__HR_MAX", "170")
        .assert()
        .success()
        .stdout(predicate::function(|out: &str| {
            let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
            v["activity"]["trimp"].as_f64().unwrap() > 83.5
        }));
}

/// A GPX run of `km` at 3 m/s starting `days_ago` days ago, heart rate 150.
pub(crate) fn recent_run(km: f64, days_ago: i64) -> String {
    named_run(None, km, days_ago)
}

/// [`recent_run`] with a track name (XML-escaped here).
pub(crate) fn named_run(name: Option<&str>, km: f64, days_ago: i64) -> String {
    let start = chrono::Utc::now() - chrono::Duration::days(days_ago);
    let points = (km * 1000.0 / 30.0) as i64;
    let name = name.map_or_else(String::new, |n| {
        format!(
            "<name>{}</name>",
            n.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        )
    });
    let mut gpx = format!(
        "<?xml version=\"1.0\"?>\n<gpx version=\"1.1\" creator=\"test\" xmlns=\"http://www.topografix.com/GPX/1/1\" \
         xmlns:gpxtpx=\"http://www.garmin.com/xmlschemas/TrackPointExtension/v1\"><trk>{name}<type>running</type><trkseg>\n",
    );
    for i in 0..=points {
        let t = start + chrono::Duration::seconds(i * 10);
        gpx.push_str(&format!(
            "<trkpt lat=\"{:.7}\" lon=\"6.9500000\"><ele>50</ele><time>{}</time><extensions><gpxtpx:TrackPointExtension><gpxtpx:hr>150</gpxtpx:hr></gpxtpx:TrackPointExtension></extensions></trkpt>\n",
            50.9 + i as f64 * 30.0 / 111_195.0,
            t.format("%Y-%m-%dT%H:%M:%SZ")
        ));
    }
    gpx.push_str("</trkseg></trk></gpx>\n");
    gpx
}

#[test]
fn form_and_the_goal_race_come_from_the_runs() {
    let oz = Oz::new();
    oz.ok(&["init"]);
    // Nothing yet: zero form, no goal.
    let empty: serde_json::Value = serde_json::from_slice(
        &oz.ok(&["training", "metrics", "--json"])
            .get_output()
            .stdout,
    )
    .unwrap();
    assert_eq!(empty["ctl"], 0.0);
    oz.ok(&["training", "goal"])
        .stdout(predicate::str::contains("No goal race"));

    let ten = oz.work.join("ten.gpx");
    std::fs::write(&ten, recent_run(10.0, 10)).unwrap();
    let five = oz.work.join("five.gpx");
    std::fs::write(&five, recent_run(5.0, 3)).unwrap();
    oz.ok(&[
        "training",
        "import",
        ten.to_str().unwrap(),
        five.to_str().unwrap(),
    ])
    .stdout(predicate::str::contains("2 imported"));

    let m: serde_json::Value = serde_json::from_slice(
        &oz.ok(&["training", "metrics", "--json", "--weeks", "3"])
            .get_output()
            .stdout,
    )
    .unwrap();
    let (ctl, atl) = (m["ctl"].as_f64().unwrap(), m["atl"].as_f64().unwrap());
    // Two runs in ten days: fatigue (7-day) above fitness (42-day).
    assert!(ctl > 0.0 && atl > ctl, "{m}");
    let weeks = m["weeks"].as_array().unwrap();
    assert_eq!(weeks.len(), 3);
    let runs: u64 = weeks.iter().map(|w| w["runs"].as_u64().unwrap()).sum();
    let km: f64 = weeks
        .iter()
        .map(|w| w["distance_m"].as_f64().unwrap())
        .sum::<f64>()
        / 1000.0;
    assert_eq!(runs, 2, "{m}");
    assert!((km - 15.0).abs() < 0.2, "{km}");
    assert_eq!(m["chart"].as_array().unwrap().len(), 42);

    // One run in detail: all of it in one zone at a steady 150 bpm
    // (training.hr_rest 60, hr_max 190: 69 % of reserve is zone 2), no
    // decoupling, nothing climbed.
    let shown: serde_json::Value = serde_json::from_slice(
        &oz.ok(&["training", "show", "1", "--json"])
            .get_output()
            .stdout,
    )
    .unwrap();
    let zones: Vec<f64> = shown["zones_s"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| z.as_f64().unwrap())
        .collect();
    assert!(
        (zones[1] - shown["moving_s"].as_f64().unwrap()).abs() < 1.0,
        "{shown}"
    );
    assert!(
        shown["decoupling_pct"].as_f64().unwrap().abs() < 0.5,
        "{shown}"
    );
    assert_eq!(shown["elevation_gain_m"], 0.0);
    oz.ok(&["training", "show", "1"])
        .stdout(predicate::str::contains(
            "heart-rate zones: Z1 0:00 (0 %) · Z2 55:30 (100 %)",
        ));
    oz.fails(&["training", "show", "99"])
        .stderr(predicate::str::contains("there is no activity #99"));

    let race_day = (chrono::Utc::now() + chrono::Duration::days(100))
        .format("%Y-%m-%d")
        .to_string();
    let g: serde_json::Value = serde_json::from_slice(
        &oz.ok(&[
            "training",
            "goal",
            "Half marathon",
            &race_day,
            "1:45:00",
            "--json",
        ])
        .get_output()
        .stdout,
    )
    .unwrap();
    assert_eq!(g["distance_m"], 21_097.5);
    assert_eq!(g["pace_needed"], "4:59");
    // 10 km in 55:30 predicts about 2:02:35 by Riegel: slower than the target.
    assert!(g["predicted"].as_str().unwrap().starts_with("2:02:"), "{g}");
    assert_eq!(g["on_track"], false);
    assert!(g["days_left"].as_i64().unwrap() >= 99);
    // Kept: asked again, it is there.
    oz.ok(&["training", "goal"])
        .stdout(predicate::str::contains("Half marathon on"))
        .stdout(predicate::str::contains("not yet on track"));
    // Words it cannot read are refused with the reason.
    oz.fails(&["training", "goal", "Park run", &race_day, "25:00"])
        .stderr(predicate::str::contains("cannot tell the distance"));
    oz.fails(&["training", "goal", "10k", "2020-01-01", "45:00"])
        .stderr(predicate::str::contains("has passed"));
    oz.fails(&["training", "goal", "10k", &race_day, "fast"])
        .stderr(predicate::str::contains("is not a time"));
    oz.ok(&["training", "goal", "--clear"]);
    oz.ok(&["training", "goal"])
        .stdout(predicate::str::contains("No goal race"));
}

/// `training profile` changes the heart rates every load is computed
/// from (recomputing what is kept), and the briefings carry a *Training*
/// section: yesterday, form, the race.
#[test]
fn the_profile_recomputes_the_load_and_the_briefing_tells_the_training() {
    let oz = Oz::new();
    oz.ok(&["init"]);
    let json = |args: &[&str]| -> serde_json::Value {
        serde_json::from_slice(&oz.ok(args).get_output().stdout).unwrap()
    };
    let p = json(&["training", "profile", "--json"]);
    assert_eq!(
        (p["hr_rest"].as_u64(), p["hr_max"].as_u64()),
        (Some(60), Some(190))
    );
    assert_eq!(p["from"], "settings");
    // The briefing says nothing of training before there is any.
    oz.ok(&["briefing", "daily", "--dry-run"])
        .stdout(predicate::str::contains("Training").not());

    let yesterday = oz.work.join("y.gpx");
    std::fs::write(&yesterday, recent_run(10.0, 1)).unwrap();
    let older = oz.work.join("o.gpx");
    std::fs::write(&older, recent_run(6.0, 5)).unwrap();
    oz.ok(&[
        "training",
        "import",
        yesterday.to_str().unwrap(),
        older.to_str().unwrap(),
    ]);
    let before = json(&["training", "list", "--json"]);
    let trimp_before = before[0]["trimp"].as_f64().unwrap();

    let p = json(&[
        "training",
        "profile",
        "--hr-rest",
        "50",
        "--hr-max",
        "185",
        "--threshold",
        "165",
        "--json",
    ]);
    assert_eq!(p["from"], "profile");
    assert_eq!(p["recomputed"], 2);
    let after = json(&["training", "list", "--json"]);
    let trimp_after = after[0]["trimp"].as_f64().unwrap();
    // 150 bpm is a larger share of a 50–185 reserve than of 60–190.
    assert!(
        trimp_after > trimp_before,
        "{trimp_before} -> {trimp_after}"
    );
    // Zones by the threshold: 150 / 165 = 91 %, zone 3.
    let shown = json(&["training", "show", &after[0]["id"].to_string(), "--json"]);
    let z = shown["zones_s"].as_array().unwrap();
    assert!(
        z[2].as_f64().unwrap() > 0.0 && z[1].as_f64().unwrap() == 0.0,
        "{shown}"
    );
    // Nonsense is refused and changes nothing.
    oz.fails(&["training", "profile", "--hr-rest", "200"])
        .stderr(predicate::str::contains("resting heart rate of 200"));
    oz.fails(&["training", "profile", "--threshold", "40"])
        .stderr(predicate::str::contains("threshold of 40"));
    assert_eq!(json(&["training", "profile", "--json"])["hr_rest"], 50);

    let day = (chrono::Utc::now() + chrono::Duration::days(100))
        .format("%Y-%m-%d")
        .to_string();
    oz.ok(&["training", "goal", "Half marathon", &day, "1:45:00"]);
    let daily = String::from_utf8(
        oz.ok(&["briefing", "daily", "--dry-run"])
            .get_output()
            .stdout
            .clone(),
    )
    .unwrap();
    let section = daily
        .split("\nTraining\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no Training section: {daily}"));
    assert!(
        section.contains("Yesterday: 1 activity, 10.0 km"),
        "{daily}"
    );
    assert!(section.contains("Form: fitness"), "{daily}");
    assert!(
        section.contains("Half marathon on") && section.contains("1:45:00 needs 4:59 /km"),
        "{daily}"
    );
    let weekly = String::from_utf8(
        oz.ok(&["briefing", "weekly", "--dry-run"])
            .get_output()
            .stdout
            .clone(),
    )
    .unwrap();
    assert!(
        weekly.contains("Training this week\n- This week: "),
        "{weekly}"
    );
}
