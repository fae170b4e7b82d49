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
    assert_eq!(list[0]["start_at"], "2017-07-29T14:46:35Z", "{}", list[0]);
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
