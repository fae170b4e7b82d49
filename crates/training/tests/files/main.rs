//! Every public activity file in `../shared/fixtures/activities` (GPX from
//! Garmin, Strava, Wahoo and others, TCX, FIT from Garmin, Wahoo, COROS,
//! Strava's app, and broken ones) either read or refused with a reason —
//! never a panic — and what is read agrees with the decoded records the FIT
//! files' upstream publishes beside them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use openzero_training::{Format, ParseError, parse};

/// `OPENZERO_FIXTURES`, or `../shared/fixtures` beside the repository.
/// `None` (skip) only outside CI.
fn activities() -> Option<PathBuf> {
    let dir = std::env::var_os("OPENZERO_FIXTURES").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"),
        PathBuf::from,
    );
    if dir.join("activities").is_dir() {
        return Some(dir.join("activities"));
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "no fixtures at {}: set OPENZERO_FIXTURES to the shared fixtures directory",
        dir.display()
    );
    eprintln!("skipped: no fixtures at {}", dir.display());
    None
}

fn read(dir: &Path, rel: &str) -> Vec<u8> {
    std::fs::read(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for sub in std::fs::read_dir(dir).unwrap() {
        let sub = sub.unwrap().path();
        if sub.is_dir() {
            for f in std::fs::read_dir(&sub).unwrap() {
                let f = f.unwrap().path();
                let ext = f
                    .extension()
                    .and_then(|e| e.to_str())
                    .unwrap_or_default()
                    .to_lowercase();
                if ["gpx", "tcx", "fit", "xml"].contains(&ext.as_str()) {
                    out.push(f);
                }
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_file_is_read_or_refused_with_a_reason() {
    let Some(dir) = activities() else { return };
    let all = files(&dir);
    assert!(all.len() >= 55, "{} files", all.len());
    let (mut read_ok, mut refused) = (0, 0);
    for f in &all {
        let bytes = std::fs::read(f).unwrap();
        match parse(&bytes) {
            Ok(a) => {
                read_ok += 1;
                assert!(!a.samples.is_empty(), "{}", f.display());
                assert!(
                    a.samples.windows(2).all(|w| w[0].at < w[1].at),
                    "{}: samples in order",
                    f.display()
                );
                assert!(a.elapsed_s() >= 0.0 && a.moving_s() <= a.elapsed_s());
            }
            Err(e) => {
                refused += 1;
                assert!(!e.to_string().is_empty());
                eprintln!(
                    "refused {}: {e}",
                    f.strip_prefix(&dir).unwrap_or(f).display()
                );
            }
        }
        // The same bytes cut short are refused or read, never a panic.
        for cut in [bytes.len() / 2, bytes.len().saturating_sub(7)] {
            let _ = parse(&bytes[..cut]);
        }
    }
    eprintln!("{read_ok} activities read, {refused} files refused");
    assert!(read_ok >= 25, "{read_ok} read");
}

#[test]
fn gpx_tracks_with_heart_rate_routes_and_broken_files() {
    let Some(dir) = activities() else { return };
    let a = parse(&read(&dir, "gpx/garmin-activity.gpx")).unwrap();
    assert_eq!(a.format, Format::Gpx);
    assert!(a.samples.len() > 10);
    assert!(
        a.samples.iter().any(|s| s.heart_rate.is_some()),
        "Garmin's TrackPointExtension heart rate is read"
    );
    assert!(a.distance_m() > 100.0, "{}", a.distance_m());
    // A planned route has no times: not an activity.
    let e = parse(&read(&dir, "gpx/strava_route_example.gpx")).unwrap_err();
    assert!(matches!(e, ParseError::Empty(_)), "{e}");
    assert!(e.to_string().contains("route"), "{e}");
    assert!(parse(&read(&dir, "gpx/badcharacter.xml")).is_err());
}

#[test]
fn tcx_laps_heart_rate_and_a_file_without_it() {
    let Some(dir) = activities() else { return };
    let a = parse(&read(&dir, "python-tcxparser/test.tcx")).unwrap();
    assert_eq!(a.format, Format::Tcx);
    assert!(!a.laps.is_empty());
    assert_eq!(a.sport, "running");
    assert!(a.average_hr().is_some());
    let lap_total: f64 = a.laps.iter().filter_map(|l| l.distance_m).sum();
    assert!(
        (lap_total - a.distance_m()).abs() / lap_total < 0.05,
        "laps {lap_total} vs track {}",
        a.distance_m()
    );
    let b = parse(&read(&dir, "python-tcxparser/no_hr.tcx")).unwrap();
    assert_eq!(b.average_hr(), None);
    assert!(openzero_training::load::trimp(&b, Default::default()).is_none());
}

/// (time as published, heart rate) per row of a `*-records.csv`.
fn reference(dir: &Path, rel: &str) -> Vec<(String, Option<u16>)> {
    let text = String::from_utf8(read(dir, rel)).unwrap();
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let hr = head.iter().position(|h| *h == "heart_rate").unwrap();
    lines
        .map(|l| {
            let cols: Vec<&str> = l.split(',').collect();
            (cols[0].to_owned(), cols[hr].parse().ok())
        })
        .collect()
}

#[test]
fn fit_records_agree_with_the_published_decoding() {
    let Some(dir) = activities() else { return };
    for name in [
        "garmin-fenix-5-run",
        "garmin-fenix-5-bike",
        "garmin-fenix-5-walk",
        "garmin-edge-820-bike",
    ] {
        let a = parse(&read(&dir, &format!("python-fitparse/{name}.fit"))).unwrap();
        let want = reference(&dir, &format!("python-fitparse/{name}-records.csv"));
        assert_eq!(a.samples.len(), want.len(), "{name}: records");
        let got: Vec<Option<u16>> = a.samples.iter().map(|s| s.heart_rate).collect();
        let want_hr: Vec<Option<u16>> = want.iter().map(|w| w.1).collect();
        assert_eq!(got, want_hr, "{name}: heart rates");
        assert!(!a.sport.is_empty(), "{name}: sport from the session");
    }
    let run = parse(&read(&dir, "python-fitparse/garmin-fenix-5-run.fit")).unwrap();
    let first = &run.samples[0];
    // 456099128 semicircles north, -1463077077 east (the CSV's first row).
    assert!(
        (first.lat.unwrap() - 38.2297).abs() < 1e-3,
        "{:?}",
        first.lat
    );
    assert!(
        (first.lon.unwrap() + 122.6337).abs() < 1e-3,
        "{:?}",
        first.lon
    );
    assert_eq!(run.sport, "running");
}

#[test]
fn broken_and_non_activity_fit_files_are_refused() {
    let Some(dir) = activities() else { return };
    for (file, why) in [
        ("python-fitparse/activity-unexpected-eof.fit", "cut short"),
        (
            "python-fitparse/activity-settings-corruptheader.fit",
            "corrupt header",
        ),
        ("python-fitparse/activity-settings-nodata.fit", "no data"),
        ("python-fitparse/Settings.fit", "settings, not an activity"),
        (
            "python-fitparse/WorkoutRepeatSteps.fit",
            "a planned workout",
        ),
        (
            "python-fitparse/WeightScaleSingleUser.fit",
            "a weight scale",
        ),
    ] {
        let e = parse(&read(&dir, file)).expect_err(file);
        eprintln!("{file} ({why}): {e}");
    }
}
