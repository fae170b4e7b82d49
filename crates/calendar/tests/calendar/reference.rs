//! Every iCalendar file of the public corpora expanded over 45 years in two
//! zones, compared occurrence by occurrence with an independent
//! implementation: Python's `icalendar` + `recurring-ical-events`
//! (`scripts/calendar-reference`, pinned by SHA-256). Files the reference
//! cannot read are only required not to panic here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::NaiveDate;
use chrono_tz::Tz;
use openzero_core::calendar::{When, midnight};

/// Where the two disagree on purpose, and why. Keep this short.
const KNOWN: &[(&str, &str)] = &[
    // Its VTIMEZONE "US-Eastern" only defines 1998-99; before that we read
    // the first rule's TZOFFSETFROM (-04:00) as RFC 5545 says, the reference
    // guesses America/New_York from the name (-05:00 in March 1998).
    ("libical/2445.ics", "truncated VTIMEZONE"),
    // A run of iTIP messages (PUBLISH, REQUEST, CANCEL) for the same UIDs,
    // not a calendar: the two merge the messages differently.
    ("libical/2446.ics", "iTIP message exchange"),
    // RDATE;VALUE=PERIOD with bare dates (not valid RFC 5545): skipped here.
    (
        "icalendar/calendars/issue_1633_rdate_with_dates_and_tzid.ics",
        "date periods",
    ),
    // "DTSTART;;VALUE=DATE-TIME:…": the reference drops the event without a
    // word; the parser here reads it.
    ("icalendar/calendars/broken_ical.ics", "empty parameter"),
    // Content lines split by empty lines: the parser drops that event.
    (
        "icalendar/calendars/multiple_calendar_components.ics",
        "blank-line folding",
    ),
];

fn fixtures() -> Option<PathBuf> {
    let dir = std::env::var_os("OPENZERO_FIXTURES").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"),
        PathBuf::from,
    );
    if dir.join("ics").is_dir() {
        return Some(dir.join("ics"));
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "no fixtures at {}: set OPENZERO_FIXTURES to the shared fixtures directory",
        dir.display()
    );
    eprintln!("skipped: no fixtures at {}", dir.display());
    None
}

fn ics_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "ics") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

type Occ = (Option<String>, String, String);

/// Occurrences per file, and the files the reference could not read.
type Reference = (BTreeMap<String, Vec<Occ>>, BTreeSet<String>);

fn ours(file: &Path, tz: Tz, from: NaiveDate, to: NaiveDate) -> Vec<Occ> {
    let cal = openzero_calendar::parse(&std::fs::read(file).unwrap());
    let (occ, _) =
        openzero_calendar::expand(&cal.events, "x", tz, midnight(tz, from), midnight(tz, to));
    occ.into_iter()
        .map(|o| {
            let uid = (!o.uid.starts_with("no-uid:")).then_some(o.uid);
            match o.when {
                When::Timed { start, end } => (
                    uid,
                    start.with_timezone(&tz).to_rfc3339(),
                    end.with_timezone(&tz).to_rfc3339(),
                ),
                When::AllDay { start, end } => (uid, start.to_string(), end.to_string()),
            }
        })
        .collect()
}

/// The reference's occurrences per file, and the files it could not read.
fn reference(files: &[PathBuf], tz: &str, from: &str, to: &str) -> Option<Reference> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/calendar-reference");
    let out = Command::new(&script)
        .args(["expand", "--tz", tz, "--from", from, "--to", to])
        .args(files)
        .output();
    let out = match out {
        Ok(o) if o.status.success() => o,
        other => {
            assert!(
                std::env::var_os("CI").is_none(),
                "scripts/calendar-reference failed: {other:?}"
            );
            eprintln!("skipped: scripts/calendar-reference failed: {other:?}");
            return None;
        }
    };
    let mut by_file: BTreeMap<String, Vec<Occ>> = BTreeMap::new();
    let mut failed = BTreeSet::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let file = v["file"].as_str().unwrap().to_string();
        if v.get("error").is_some() {
            failed.insert(file);
            continue;
        }
        by_file.entry(file).or_default().push((
            v["uid"].as_str().map(str::to_string),
            v["start"].as_str().unwrap().to_string(),
            v["end"].as_str().unwrap().to_string(),
        ));
    }
    Some((by_file, failed))
}

#[test]
fn the_corpus_expands_as_the_reference_does() {
    let Some(dir) = fixtures() else { return };
    let files = ics_files(&dir);
    assert!(
        files.len() >= 100,
        "only {} ICS files under {}",
        files.len(),
        dir.display()
    );
    let (from, to) = ("1990-01-01", "2035-01-01");
    let mut compared = 0;
    let mut occurrences = 0;
    for tz in ["Europe/Berlin", "America/New_York"] {
        let Some((reference, failed)) = reference(&files, tz, from, to) else {
            return;
        };
        let zone: Tz = tz.parse().unwrap();
        let mut wrong = Vec::new();
        for f in &files {
            let name = f.to_string_lossy().to_string();
            let rel = f.strip_prefix(&dir).unwrap().to_string_lossy().to_string();
            let mut mine = ours(f, zone, from.parse().unwrap(), to.parse().unwrap());
            if failed.contains(&name) || KNOWN.iter().any(|(k, _)| *k == rel) {
                continue;
            }
            let mut theirs = reference.get(&name).cloned().unwrap_or_default();
            mine.sort();
            theirs.sort();
            compared += 1;
            occurrences += theirs.len();
            if mine != theirs {
                let only_ours: Vec<_> = mine
                    .iter()
                    .filter(|o| !theirs.contains(o))
                    .take(3)
                    .collect();
                let only_theirs: Vec<_> = theirs
                    .iter()
                    .filter(|o| !mine.contains(o))
                    .take(3)
                    .collect();
                wrong.push(format!("{rel} ({tz}): ours {} vs reference {}; only ours {only_ours:?}; only reference {only_theirs:?}", mine.len(), theirs.len()));
            }
        }
        assert!(
            wrong.is_empty(),
            "{} files differ:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
    }
    // The comparison is not vacuous: most files and thousands of occurrences.
    assert!(compared >= 140, "only {compared} file comparisons");
    assert!(
        occurrences >= 20_000,
        "only {occurrences} occurrences compared"
    );
}
