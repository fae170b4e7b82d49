//! Activity files to what a running coach needs, with no I/O: `parse`
//! reads GPX (tracks, with Garmin's heart rate and cadence extensions),
//! TCX (laps and track points) and FIT (records, laps, sessions; the
//! `fitparser` crate) into one [`Activity`] of timed samples and laps;
//! [`Activity`] tells its pauses, moving time and distance; `load` turns
//! heart rate into training load (TRIMP) and the efficiency factor.
//!
//! **Invariants:** a file never panics the parser and is never half
//! believed: bad dates, times running backwards or nothing timed refuse the
//! file with a reason ([`ParseError`]); a few samples out of order are
//! dropped and counted in [`Activity::warnings`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

mod fit;
pub mod load;
pub mod metrics;
mod xml;

/// One moment of an activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub at: DateTime<Utc>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub altitude_m: Option<f64>,
    /// Distance from the start, as the device counted it.
    pub distance_m: Option<f64>,
    pub heart_rate: Option<u16>,
    pub cadence: Option<u16>,
    pub speed_mps: Option<f64>,
    /// Air temperature at the device, °C (FIT `temperature`, Garmin's GPX
    /// `atemp`, Strava's `temp` stream). Absent from samples kept before it
    /// was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_c: Option<f64>,
}

impl Sample {
    pub fn at(at: DateTime<Utc>) -> Self {
        Self {
            at,
            lat: None,
            lon: None,
            altitude_m: None,
            distance_m: None,
            heart_rate: None,
            cadence: None,
            speed_mps: None,
            temperature_c: None,
        }
    }
}

/// A lap as the device recorded it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lap {
    pub start: DateTime<Utc>,
    pub elapsed_s: f64,
    pub distance_m: Option<f64>,
}

/// Which file format a file was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Gpx,
    Tcx,
    Fit,
    /// Read back from what was kept at import (samples and laps as JSON).
    Stored,
    /// From Strava's API (an activity and its streams).
    Strava,
}

/// One activity, read from a file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Activity {
    pub format: Format,
    /// As the file names it (`running`, `Biking`…), lower case; `""` when it does not say.
    pub sport: String,
    pub name: Option<String>,
    pub samples: Vec<Sample>,
    pub laps: Vec<Lap>,
    /// What was dropped or looked odd, for the import report.
    pub warnings: Vec<String>,
}

impl Activity {
    /// An activity kept earlier, back from the samples and laps stored at
    /// import (the JSON of [`Sample`]s and [`Lap`]s).
    pub fn from_stored(sport: &str, samples: &str, laps: &str) -> Result<Self, String> {
        Ok(Self {
            format: Format::Stored,
            sport: sport.to_owned(),
            name: None,
            samples: serde_json::from_str(samples).map_err(|e| format!("stored samples: {e}"))?,
            laps: serde_json::from_str(laps).map_err(|e| format!("stored laps: {e}"))?,
            warnings: Vec::new(),
        })
    }
}

/// Why a file was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("not an activity file this version reads (GPX, TCX or FIT)")]
    UnknownFormat,
    #[error("malformed {format}: {detail}")]
    Malformed {
        format: &'static str,
        detail: String,
    },
    #[error("no timed samples: {0}")]
    Empty(String),
    #[error("its dates cannot be right: {0}")]
    BadDates(String),
    #[error("its times run backwards: {0}")]
    Backwards(String),
}

/// A gap between samples longer than this is a pause (auto-pause, a stop).
pub const PAUSE_S: f64 = 10.0;

/// Reads an activity from the bytes of a GPX, TCX or FIT file.
pub fn parse(bytes: &[u8]) -> Result<Activity, ParseError> {
    let activity = if bytes.len() >= 12 && &bytes[8..12] == b".FIT" {
        fit::parse(bytes)?
    } else {
        xml::parse(bytes)?
    };
    check(activity)
}

/// Refuses what cannot be right, drops the few samples out of order: what
/// [`parse`] does to a file's activity, for activities from elsewhere.
pub fn checked(a: Activity) -> Result<Activity, ParseError> {
    check(a)
}

/// Refuses what cannot be right, drops the few samples out of order.
fn check(mut a: Activity) -> Result<Activity, ParseError> {
    let format = a.format;
    if a.samples.is_empty() {
        return Err(ParseError::Empty(match format {
            Format::Gpx => {
                "no track point has a time (a route or waypoints, not a recorded activity)".into()
            }
            _ => "the file holds no timed record".into(),
        }));
    }
    // Devices without a clock fix write 1989/1990 dates; nothing is from the future.
    let floor = DateTime::<Utc>::from_timestamp(946_684_800, 0).unwrap_or_default(); // 2000-01-01
    let ceiling = Utc::now() + chrono::Duration::days(1);
    let (first, last) = (a.samples[0].at, a.samples[a.samples.len() - 1].at);
    if first < floor || last > ceiling {
        return Err(ParseError::BadDates(format!(
            "from {} to {}",
            first.format("%Y-%m-%d %H:%M"),
            last.format("%Y-%m-%d %H:%M")
        )));
    }
    let total = a.samples.len();
    let mut kept: Vec<Sample> = Vec::with_capacity(total);
    let mut dropped = 0usize;
    for s in a.samples.drain(..) {
        match kept.last() {
            Some(prev) if s.at < prev.at => dropped += 1,
            Some(prev) if s.at == prev.at => dropped += 1,
            _ => kept.push(s),
        }
    }
    if dropped * 10 > total {
        return Err(ParseError::Backwards(format!(
            "{dropped} of {total} samples come before the one they follow"
        )));
    }
    if dropped > 0 {
        a.warnings.push(format!(
            "{dropped} samples out of order or repeated were left out"
        ));
    }
    a.samples = kept;
    Ok(a)
}

/// Metres from sample `a` to `b`: by the device's distance when both carry
/// it, else along their positions.
pub(crate) fn step_m(a: &Sample, b: &Sample) -> Option<f64> {
    match (a.distance_m, b.distance_m) {
        (Some(d0), Some(d1)) => Some((d1 - d0).max(0.0)),
        _ => Some(haversine_m((a.lat?, a.lon?), (b.lat?, b.lon?))),
    }
}

fn haversine_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, lo1, la2, lo2) = (
        a.0.to_radians(),
        a.1.to_radians(),
        b.0.to_radians(),
        b.1.to_radians(),
    );
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * 6_371_008.8 * h.sqrt().asin()
}

impl Activity {
    pub fn start(&self) -> DateTime<Utc> {
        self.samples.first().map_or(DateTime::UNIX_EPOCH, |s| s.at)
    }

    /// From the first sample to the last, pauses included.
    pub fn elapsed_s(&self) -> f64 {
        match (self.samples.first(), self.samples.last()) {
            (Some(a), Some(b)) => (b.at - a.at).num_milliseconds() as f64 / 1000.0,
            _ => 0.0,
        }
    }

    /// The pauses: gaps between samples longer than [`PAUSE_S`].
    pub fn pauses(&self) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        self.samples
            .windows(2)
            .filter(|w| (w[1].at - w[0].at).num_milliseconds() as f64 / 1000.0 > PAUSE_S)
            .map(|w| (w[0].at, w[1].at))
            .collect()
    }

    /// Elapsed time less the pauses.
    pub fn moving_s(&self) -> f64 {
        let paused: f64 = self
            .pauses()
            .iter()
            .map(|(a, b)| (*b - *a).num_milliseconds() as f64 / 1000.0)
            .sum();
        (self.elapsed_s() - paused).max(0.0)
    }

    /// The device's distance when it counted one, else along the positions.
    pub fn distance_m(&self) -> f64 {
        if let Some(d) = self.samples.iter().rev().find_map(|s| s.distance_m) {
            return d;
        }
        let points: Vec<(f64, f64)> = self
            .samples
            .iter()
            .filter_map(|s| Some((s.lat?, s.lon?)))
            .collect();
        points.windows(2).map(|w| haversine_m(w[0], w[1])).sum()
    }

    /// Mean heart rate over the samples that carry one.
    pub fn average_hr(&self) -> Option<f64> {
        let hr: Vec<f64> = self
            .samples
            .iter()
            .filter_map(|s| s.heart_rate.map(f64::from))
            .collect();
        (!hr.is_empty()).then(|| hr.iter().sum::<f64>() / hr.len() as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap()
    }

    fn activity(times: &[i64]) -> Activity {
        Activity {
            format: Format::Gpx,
            sport: String::new(),
            name: None,
            samples: times.iter().map(|t| Sample::at(at(*t))).collect(),
            laps: Vec::new(),
            warnings: Vec::new(),
        }
    }

    #[test]
    fn a_name_with_entities_keeps_its_spaces() {
        let gpx = br#"<?xml version="1.0"?>
<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1"><trk>
  <name>Easy &amp; short &#8211; &lt;5k</name><type>running</type>
  <trkseg>
    <trkpt lat="50.0" lon="7.0"><time>2026-11-01T07:00:00Z</time></trkpt>
    <trkpt lat="50.0001" lon="7.0"><time>2026-11-01T07:00:05Z</time></trkpt>
  </trkseg></trk></gpx>"#;
        let a = parse(gpx).unwrap();
        assert_eq!(a.name.as_deref(), Some("Easy & short – <5k"));
        assert_eq!(a.sport, "running");
        assert_eq!(a.samples.len(), 2);
    }

    #[test]
    fn pauses_and_moving_time() {
        let a = check(activity(&[0, 5, 10, 60, 65])).unwrap();
        assert_eq!(a.elapsed_s(), 65.0);
        assert_eq!(a.pauses(), vec![(at(10), at(60))]);
        assert_eq!(a.moving_s(), 15.0);
    }

    #[test]
    fn a_few_samples_out_of_order_are_dropped_many_refuse_the_file() {
        let times: Vec<i64> = (0..100).map(|i| if i == 50 { 10 } else { i }).collect();
        let a = check(activity(&times)).unwrap();
        assert_eq!(a.samples.len(), 99);
        assert_eq!(a.warnings.len(), 1);
        let back: Vec<i64> = (0..100).rev().collect();
        assert!(matches!(
            check(activity(&back)),
            Err(ParseError::Backwards(_))
        ));
        assert!(matches!(check(activity(&[])), Err(ParseError::Empty(_))));
    }

    #[test]
    fn dates_before_2000_or_in_the_future_are_refused() {
        let mut a = activity(&[0, 1]);
        a.samples[0].at = DateTime::from_timestamp(631_152_000, 0).unwrap(); // 1990
        assert!(matches!(check(a), Err(ParseError::BadDates(_))));
        let mut a = activity(&[0, 1]);
        a.samples[1].at = Utc::now() + chrono::Duration::days(30);
        assert!(matches!(check(a), Err(ParseError::BadDates(_))));
    }

    #[test]
    fn distance_along_positions_when_the_device_gave_none() {
        let mut a = activity(&[0, 1]);
        a.samples[0].lat = Some(48.0);
        a.samples[0].lon = Some(11.0);
        a.samples[1].lat = Some(48.01);
        a.samples[1].lon = Some(11.0);
        assert!((a.distance_m() - 1112.0).abs() < 2.0, "{}", a.distance_m());
        a.samples[1].distance_m = Some(1000.0);
        assert_eq!(a.distance_m(), 1000.0);
    }
}
