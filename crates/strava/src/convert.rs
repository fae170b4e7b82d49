//! An activity and its streams → an [`Activity`] the coach reads like one
//! from a file. Streams are parallel arrays (one value per sample, `time`
//! in seconds from `start_date`); a manual activity has none.

use chrono::Duration;
use openzero_training::{Activity, Format, Lap, ParseError, Sample};

use crate::model::{DetailedActivity, Streams};

/// The activity with its samples, checked as a file's would be. Strava's
/// own figures (distance, moving time, average heart rate) stay on the
/// summary: the owner compares with what the Strava app shows.
pub fn activity(a: &DetailedActivity, streams: &Streams) -> Result<Activity, ParseError> {
    let s = &a.summary;
    let column = |key: &str| streams.get(key).map(|st| st.data.as_slice());
    let num = |v: Option<&serde_json::Value>| v.and_then(serde_json::Value::as_f64);
    let mut samples = Vec::new();
    if let Some(time) = column("time") {
        let (distance, latlng, altitude, hr, cadence, velocity, temp) = (
            column("distance"),
            column("latlng"),
            column("altitude"),
            column("heartrate"),
            column("cadence"),
            column("velocity_smooth"),
            column("temp"),
        );
        samples.reserve(time.len());
        for (i, t) in time.iter().enumerate() {
            let Some(t) = t.as_f64().filter(|t| t.is_finite() && *t >= 0.0) else {
                continue;
            };
            let at = s.start_date + Duration::milliseconds((t * 1000.0).round() as i64);
            let mut sample = Sample::at(at);
            sample.distance_m = num(distance.and_then(|d| d.get(i)));
            if let Some(p) = latlng.and_then(|l| l.get(i)).and_then(|p| p.as_array())
                && let (Some(lat), Some(lon)) = (num(p.first()), num(p.get(1)))
                && (-90.0..=90.0).contains(&lat)
                && (-180.0..=180.0).contains(&lon)
            {
                sample.lat = Some(lat);
                sample.lon = Some(lon);
            }
            sample.altitude_m = num(altitude.and_then(|d| d.get(i)));
            sample.heart_rate = num(hr.and_then(|d| d.get(i)))
                .filter(|h| (20.0..=250.0).contains(h))
                .map(|h| h.round() as u16);
            sample.cadence = num(cadence.and_then(|d| d.get(i)))
                .filter(|c| (0.0..=300.0).contains(c))
                .map(|c| c.round() as u16);
            sample.speed_mps = num(velocity.and_then(|d| d.get(i))).filter(|v| v.is_finite());
            sample.temperature_c =
                num(temp.and_then(|d| d.get(i))).filter(|t| (-60.0..=70.0).contains(t));
            samples.push(sample);
        }
    }
    if samples.is_empty() {
        // A manual entry (or one whose streams are gone): start and end,
        // with the distance Strava knows.
        let mut first = Sample::at(s.start_date);
        first.distance_m = Some(0.0);
        let mut last = Sample::at(
            s.start_date + Duration::milliseconds((s.elapsed_time.max(1.0) * 1000.0) as i64),
        );
        last.distance_m = Some(s.distance);
        samples = vec![first, last];
    }
    let laps = a
        .laps
        .iter()
        .map(|l| Lap {
            start: l.start_date,
            elapsed_s: l.elapsed_time,
            distance_m: l.distance,
        })
        .collect();
    openzero_training::checked(Activity {
        format: Format::Strava,
        sport: s.sport(),
        name: Some(s.name.clone()).filter(|n| !n.trim().is_empty()),
        samples,
        laps,
        warnings: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Stream;

    fn detailed(json: &str) -> DetailedActivity {
        serde_json::from_str(json).expect("activity")
    }

    #[test]
    fn streams_become_samples_and_a_manual_run_keeps_its_distance() {
        let a = detailed(
            r#"{"id":1,"resource_state":3,"name":"Morning Run","sport_type":"Run","type":"Run",
                "start_date":"2026-11-29T07:00:00Z","distance":20.0,"moving_time":10,"elapsed_time":10,
                "laps":[{"id":9,"start_date":"2026-11-29T07:00:00Z","elapsed_time":10,"distance":20.0}]}"#,
        );
        let mut st = Streams::new();
        let col = |v: serde_json::Value| Stream {
            data: v.as_array().cloned().unwrap_or_default(),
        };
        st.insert("time".into(), col(serde_json::json!([0, 5, 10])));
        st.insert("distance".into(), col(serde_json::json!([0.0, 10.0, 20.0])));
        st.insert("heartrate".into(), col(serde_json::json!([120, 140, 999])));
        st.insert(
            "latlng".into(),
            col(serde_json::json!([[52.5, 13.4], [52.50009, 13.4], "x"])),
        );
        let act = activity(&a, &st).expect("activity");
        assert_eq!(act.format, Format::Strava);
        assert_eq!(act.sport, "run");
        assert_eq!(act.samples.len(), 3);
        assert_eq!(act.samples[1].heart_rate, Some(140));
        assert_eq!(
            act.samples[2].heart_rate, None,
            "999 bpm is not a heart rate"
        );
        assert_eq!(act.samples[2].lat, None);
        assert_eq!(act.distance_m(), 20.0);
        assert_eq!(act.laps.len(), 1);

        let manual = detailed(
            r#"{"id":2,"name":"Treadmill","type":"Run","start_date":"2026-11-28T18:00:00Z",
                "distance":5000.0,"moving_time":1500,"elapsed_time":1500,"manual":true}"#,
        );
        let act = activity(&manual, &Streams::new()).expect("manual");
        assert_eq!(act.distance_m(), 5000.0);
        assert_eq!(act.elapsed_s(), 1500.0);
    }
}
