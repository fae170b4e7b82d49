//! Activities as the fake holds them (samples, as a device records them)
//! and as Strava serves them: SummaryActivity, DetailedActivity with laps
//! and metric splits, and streams.
//!
//! **Invariants:** every number served is derived here from the samples
//! (nothing is stored twice); laps and splits share their boundary sample,
//! so their times add up to the activity's; streams are all as long as the
//! samples.

use std::f64::consts::PI;

use chrono::{DateTime, Datelike, Duration, NaiveDate, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::ATHLETE_ID;

/// Where [`FakeActivity::run`] starts (Berlin's Tiergarten).
const START_LAT: f64 = 52.5145;
const START_LNG: f64 = 13.3501;
/// The radius of the loop [`FakeActivity::run`] goes round, in metres.
const LOOP_RADIUS_M: f64 = 500.0;
const METRES_PER_DEGREE: f64 = 111_320.0;
/// The time zone every activity is in, as Strava labels it.
const TIMEZONE: &str = "(GMT+01:00) Europe/Berlin";
/// The one pair of shoes.
const GEAR_ID: &str = "g13481501";

/// One recorded sample.
#[derive(Clone, Debug)]
pub struct FakeSample {
    /// Seconds since the start.
    pub t_s: u32,
    /// Metres since the start.
    pub distance_m: f64,
    pub latlng: Option<(f64, f64)>,
    pub altitude_m: Option<f64>,
    pub heartrate: Option<u16>,
    /// Strava's cadence: per minute, one leg (runs) or crank turns (rides).
    pub cadence: Option<u16>,
    pub velocity_mps: Option<f64>,
    pub moving: bool,
    pub temp_c: Option<f64>,
}

/// An activity of the athlete.
#[derive(Clone, Debug)]
pub struct FakeActivity {
    pub name: String,
    /// Strava's `sport_type`: "Run", "Ride", "TrailRun", ...
    pub sport_type: String,
    pub start: DateTime<Utc>,
    /// "Only You" visibility.
    pub private: bool,
    pub samples: Vec<FakeSample>,
    pub device_name: Option<String>,
}

fn round_to(x: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (x * f).round() / f
}

impl FakeActivity {
    /// A steady run recorded every second: `km` kilometres at
    /// `pace_s_per_km`, heart rate `hr` (None: no HR strap), near a fixed
    /// start point, with gentle altitude changes; everything Strava derives
    /// (distance, moving_time, elapsed_time, average_speed, max_speed,
    /// average_heartrate, max_heartrate, total_elevation_gain,
    /// elev_high/low, average_cadence) computed from the samples.
    ///
    /// The speed sways ±3 % around the pace (so `max_speed` is above the
    /// average), the heart rate ±3 bpm around `hr`, the cadence 84–86, the
    /// altitude ±4 m around 38 m once per 1.5 km; the route is a loop of
    /// 500 m radius; the temperature is 18 °C.
    pub fn run(
        name: &str,
        start: DateTime<Utc>,
        km: f64,
        pace_s_per_km: f64,
        hr: Option<u16>,
    ) -> Self {
        let target_m = (km * 1000.0).max(0.0);
        let seconds = (km * pace_s_per_km).round().max(0.0) as u32;
        let speed = if pace_s_per_km > 0.0 {
            1000.0 / pace_s_per_km
        } else {
            0.0
        };
        let sway = |t: u32| speed * (1.0 + 0.03 * (2.0 * PI * f64::from(t) / 240.0).sin());
        let mut raw = Vec::with_capacity(seconds as usize + 1);
        let mut d = 0.0;
        for t in 0..=seconds {
            if t > 0 {
                d += sway(t);
            }
            raw.push(d);
        }
        let scale = if d > 0.0 { target_m / d } else { 0.0 };
        let lat_m = METRES_PER_DEGREE;
        let lng_m = METRES_PER_DEGREE * START_LAT.to_radians().cos();
        let samples = raw
            .iter()
            .zip(0u32..)
            .map(|(&raw_d, t)| {
                let distance_m = round_to(raw_d * scale, 1);
                let theta = distance_m / LOOP_RADIUS_M;
                let lat = START_LAT + LOOP_RADIUS_M * theta.sin() / lat_m;
                let lng = START_LNG + LOOP_RADIUS_M * (1.0 - theta.cos()) / lng_m;
                let wave = |period: f64, amplitude: f64| {
                    (amplitude * (2.0 * PI * f64::from(t) / period).sin()).round()
                };
                FakeSample {
                    t_s: t,
                    distance_m,
                    latlng: Some((round_to(lat, 6), round_to(lng, 6))),
                    altitude_m: Some(round_to(
                        38.0 + 4.0 * (2.0 * PI * distance_m / 1500.0).sin(),
                        1,
                    )),
                    heartrate: hr.map(|h| (f64::from(h) + wave(300.0, 3.0)).max(0.0) as u16),
                    cadence: Some((85.0 + wave(120.0, 1.0)) as u16),
                    velocity_mps: Some(round_to(if t == 0 { 0.0 } else { sway(t) * scale }, 3)),
                    moving: true,
                    temp_c: Some(18.0),
                }
            })
            .collect();
        FakeActivity {
            name: name.to_string(),
            sport_type: "Run".to_string(),
            start,
            private: false,
            samples,
            device_name: Some("Garmin Forerunner 255".to_string()),
        }
    }
}

/// What Strava derives from a stretch of samples.
#[derive(Debug, Default)]
struct Stats {
    distance: f64,
    moving_time: i64,
    elapsed_time: i64,
    average_speed: f64,
    max_speed: f64,
    average_heartrate: Option<f64>,
    max_heartrate: Option<f64>,
    elevation_gain: f64,
    elevation_difference: Option<f64>,
    elev_high: Option<f64>,
    elev_low: Option<f64>,
    average_cadence: Option<f64>,
    average_temp: Option<i64>,
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.fold((0.0, 0u32), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / f64::from(n))
}

/// The numbers of `s` (a slice of samples: the first one is where the
/// stretch starts, so its own time and moving flag do not count).
fn stats(s: &[FakeSample]) -> Stats {
    let (Some(first), Some(last)) = (s.first(), s.last()) else {
        return Stats::default();
    };
    let mut st = Stats {
        distance: round_to(last.distance_m - first.distance_m, 1),
        elapsed_time: i64::from(last.t_s) - i64::from(first.t_s),
        ..Stats::default()
    };
    let mut max_speed: f64 = 0.0;
    for w in s.windows(2) {
        let dt = i64::from(w[1].t_s) - i64::from(w[0].t_s);
        if w[1].moving {
            st.moving_time += dt;
        }
        let v = match w[1].velocity_mps {
            Some(v) => v,
            None if dt > 0 => (w[1].distance_m - w[0].distance_m) / dt as f64,
            None => 0.0,
        };
        max_speed = max_speed.max(v);
        if let (Some(a), Some(b)) = (w[0].altitude_m, w[1].altitude_m) {
            st.elevation_gain += (b - a).max(0.0);
        }
    }
    st.max_speed = round_to(max_speed, 3);
    st.average_speed = if st.moving_time > 0 {
        round_to(st.distance / st.moving_time as f64, 3)
    } else {
        0.0
    };
    st.elevation_gain = round_to(st.elevation_gain, 1);
    let hr = || s.iter().filter_map(|x| x.heartrate).map(f64::from);
    st.average_heartrate = mean(hr()).map(|v| round_to(v, 1));
    st.max_heartrate = hr().reduce(f64::max);
    let alt = || s.iter().filter_map(|x| x.altitude_m);
    st.elev_high = alt().reduce(f64::max);
    st.elev_low = alt().reduce(f64::min);
    st.elevation_difference = match (alt().next(), alt().next_back()) {
        (Some(a), Some(b)) => Some(round_to(b - a, 1)),
        _ => None,
    };
    st.average_cadence =
        mean(s.iter().filter_map(|x| x.cadence).map(f64::from)).map(|v| round_to(v, 1));
    st.average_temp = mean(s.iter().filter_map(|x| x.temp_c)).map(|v| v.round() as i64);
    st
}

/// The (start, end) sample indices of consecutive stretches of
/// `every_m` metres; the last one may be shorter. The boundary sample is
/// shared. No distance: one stretch over everything.
fn stretches(s: &[FakeSample], every_m: f64) -> Vec<(usize, usize)> {
    let Some(last) = s.len().checked_sub(1) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut start = 0;
    let mut mark = every_m;
    for (i, x) in s.iter().enumerate().skip(1) {
        if x.distance_m >= mark {
            out.push((start, i));
            start = i;
            while x.distance_m >= mark {
                mark += every_m;
            }
        }
    }
    if start < last || out.is_empty() {
        out.push((start, last));
    }
    out
}

/// Strava's legacy `type` for a `sport_type`.
fn legacy_type(sport_type: &str) -> &str {
    const LEGACY: &[&str] = &[
        "AlpineSki",
        "BackcountrySki",
        "Canoeing",
        "Crossfit",
        "EBikeRide",
        "Elliptical",
        "Golf",
        "Handcycle",
        "Hike",
        "IceSkate",
        "InlineSkate",
        "Kayaking",
        "Kitesurf",
        "NordicSki",
        "Ride",
        "RockClimbing",
        "RollerSki",
        "Rowing",
        "Run",
        "Sail",
        "Skateboard",
        "Snowboard",
        "Snowshoe",
        "Soccer",
        "StairStepper",
        "StandUpPaddling",
        "Surfing",
        "Swim",
        "Velomobile",
        "VirtualRide",
        "VirtualRun",
        "Walk",
        "WeightTraining",
        "Wheelchair",
        "Windsurf",
        "Workout",
        "Yoga",
    ];
    match sport_type {
        s if LEGACY.contains(&s) => s,
        "TrailRun" => "Run",
        "MountainBikeRide" | "GravelRide" => "Ride",
        "EMountainBikeRide" => "EBikeRide",
        _ => "Workout",
    }
}

/// The last Sunday of `month` at 01:00 UTC (when Europe's summer time
/// starts in March and ends in October).
fn last_sunday_1am(year: i32, month: u32) -> Option<DateTime<Utc>> {
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)?
    };
    let last = next.pred_opt()?;
    let sunday = last - Duration::days(i64::from(last.weekday().num_days_from_sunday()));
    Some(sunday.and_hms_opt(1, 0, 0)?.and_utc())
}

/// Berlin's offset from UTC at `t`, in seconds.
fn utc_offset(t: DateTime<Utc>) -> i64 {
    match (last_sunday_1am(t.year(), 3), last_sunday_1am(t.year(), 10)) {
        (Some(from), Some(to)) if t >= from && t < to => 7200,
        _ => 3600,
    }
}

fn utc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Strava's `start_date_local`: the local wall time, written with a `Z`.
fn local(t: DateTime<Utc>) -> String {
    utc(t + Duration::seconds(utc_offset(t)))
}

/// Google's encoded polyline (precision 5).
fn polyline(points: &[(f64, f64)]) -> String {
    fn push(v: i64, out: &mut String) {
        let mut v = if v < 0 { !(v << 1) } else { v << 1 };
        while v >= 0x20 {
            out.push(char::from((0x20 | (v & 0x1f)) as u8 + 63));
            v >>= 5;
        }
        out.push(char::from(v as u8 + 63));
    }
    let mut out = String::new();
    let (mut lat0, mut lng0) = (0i64, 0i64);
    for &(lat, lng) in points {
        let (lat, lng) = ((lat * 1e5).round() as i64, (lng * 1e5).round() as i64);
        push(lat - lat0, &mut out);
        push(lng - lng0, &mut out);
        (lat0, lng0) = (lat, lng);
    }
    out
}

fn latlngs(a: &FakeActivity) -> Vec<(f64, f64)> {
    a.samples.iter().filter_map(|s| s.latlng).collect()
}

fn pair(p: Option<(f64, f64)>) -> Value {
    p.map_or_else(|| json!([]), |(lat, lng)| json!([lat, lng]))
}

fn set(m: &mut Map<String, Value>, k: &str, v: Value) {
    m.insert(k.to_string(), v);
}

/// A SummaryActivity (resource_state 2), as the activity list serves it.
pub(crate) fn summary(id: i64, a: &FakeActivity) -> Value {
    let st = stats(&a.samples);
    let points = latlngs(a);
    let step = (points.len() / 100).max(1);
    let mut coarse: Vec<(f64, f64)> = points.iter().copied().step_by(step).collect();
    if let Some(&end) = points.last()
        && coarse.last() != Some(&end)
    {
        coarse.push(end);
    }
    let kind = legacy_type(&a.sport_type);
    let workout_type = match kind {
        "Run" => json!(0),
        "Ride" => json!(10),
        _ => Value::Null,
    };
    let has_heartrate = st.average_heartrate.is_some();
    let mut m = Map::new();
    for (k, v) in [
        ("resource_state", json!(2)),
        ("athlete", json!({"id": ATHLETE_ID, "resource_state": 1})),
        ("name", json!(a.name)),
        ("distance", json!(st.distance)),
        ("moving_time", json!(st.moving_time)),
        ("elapsed_time", json!(st.elapsed_time)),
        ("total_elevation_gain", json!(st.elevation_gain)),
        ("type", json!(kind)),
        ("sport_type", json!(a.sport_type)),
        ("workout_type", workout_type),
        ("id", json!(id)),
        ("start_date", json!(utc(a.start))),
        ("start_date_local", json!(local(a.start))),
        ("timezone", json!(TIMEZONE)),
        ("utc_offset", json!(utc_offset(a.start) as f64)),
        ("location_city", Value::Null),
        ("location_state", Value::Null),
        ("location_country", json!("Germany")),
        ("achievement_count", json!(0)),
        ("kudos_count", json!(0)),
        ("comment_count", json!(0)),
        ("athlete_count", json!(1)),
        ("photo_count", json!(0)),
        (
            "map",
            json!({
                "id": format!("a{id}"),
                "summary_polyline": polyline(&coarse),
                "resource_state": 2,
            }),
        ),
        ("trainer", json!(false)),
        ("commute", json!(false)),
        ("manual", json!(a.samples.is_empty())),
        ("private", json!(a.private)),
        (
            "visibility",
            json!(if a.private { "only_me" } else { "everyone" }),
        ),
        ("flagged", json!(false)),
        ("gear_id", json!(GEAR_ID)),
        ("start_latlng", pair(points.first().copied())),
        ("end_latlng", pair(points.last().copied())),
        ("average_speed", json!(st.average_speed)),
        ("max_speed", json!(st.max_speed)),
        ("device_watts", json!(false)),
        ("has_heartrate", json!(has_heartrate)),
        ("heartrate_opt_out", json!(false)),
        ("display_hide_heartrate_option", json!(has_heartrate)),
        ("upload_id", json!(id + 1_000_000_000)),
        ("upload_id_str", json!((id + 1_000_000_000).to_string())),
        ("external_id", json!(format!("garmin_ping_{id}.fit"))),
        ("from_accepted_tag", json!(false)),
        ("pr_count", json!(0)),
        ("total_photo_count", json!(0)),
        ("has_kudoed", json!(false)),
    ] {
        set(&mut m, k, v);
    }
    if let Some(v) = st.average_cadence {
        set(&mut m, "average_cadence", json!(v));
    }
    if let Some(v) = st.average_temp {
        set(&mut m, "average_temp", json!(v));
    }
    if let (Some(avg), Some(max)) = (st.average_heartrate, st.max_heartrate) {
        set(&mut m, "average_heartrate", json!(avg));
        set(&mut m, "max_heartrate", json!(max));
    }
    if let (Some(high), Some(low)) = (st.elev_high, st.elev_low) {
        set(&mut m, "elev_high", json!(high));
        set(&mut m, "elev_low", json!(low));
    }
    Value::Object(m)
}

/// A DetailedActivity (resource_state 3): the summary plus description,
/// calories, device, laps, metric and imperial splits, gear, no segment
/// efforts.
pub(crate) fn detailed(id: i64, a: &FakeActivity) -> Value {
    let mut v = summary(id, a);
    let st = stats(&a.samples);
    if let Value::Object(m) = &mut v {
        let points = latlngs(a);
        if let Some(Value::Object(map)) = m.get_mut("map") {
            set(map, "polyline", json!(polyline(&points)));
            set(map, "resource_state", json!(3));
        }
        for (k, val) in [
            ("resource_state", json!(3)),
            ("description", json!("")),
            ("calories", json!(round_to(st.distance / 1000.0 * 70.0, 1))),
            ("device_name", json!(a.device_name)),
            (
                "embed_token",
                json!(format!(
                    "{:040x}",
                    (id as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15)
                )),
            ),
            ("segment_efforts", json!([])),
            ("best_efforts", json!([])),
            ("splits_metric", splits(a, 1000.0)),
            ("splits_standard", splits(a, 1609.34)),
            ("laps", Value::Array(laps(id, a))),
            ("gear", shoes()),
            ("photos", json!({"primary": null, "count": 0})),
            ("hide_from_home", json!(false)),
            ("perceived_exertion", Value::Null),
            ("available_zones", json!([])),
        ] {
            set(m, k, val);
        }
    }
    v
}

/// The athlete's one pair of shoes, as `gear` and in the athlete's `shoes`.
pub(crate) fn shoes() -> Value {
    json!({
        "id": GEAR_ID,
        "primary": true,
        "name": "Fake Trainers",
        "nickname": "Fake Trainers",
        "resource_state": 2,
        "retired": false,
        "distance": 412_000.0,
        "converted_distance": 412.0,
    })
}

fn splits(a: &FakeActivity, every_m: f64) -> Value {
    let out: Vec<Value> = stretches(&a.samples, every_m)
        .into_iter()
        .zip(1..)
        .map(|((from, to), n)| {
            let st = stats(&a.samples[from..=to]);
            let mut m = Map::new();
            for (k, v) in [
                ("distance", json!(st.distance)),
                ("elapsed_time", json!(st.elapsed_time)),
                ("elevation_difference", json!(st.elevation_difference)),
                ("moving_time", json!(st.moving_time)),
                ("split", json!(n)),
                ("average_speed", json!(st.average_speed)),
                ("average_grade_adjusted_speed", json!(st.average_speed)),
                ("pace_zone", json!(0)),
            ] {
                set(&mut m, k, v);
            }
            if let Some(hr) = st.average_heartrate {
                set(&mut m, "average_heartrate", json!(hr));
            }
            Value::Object(m)
        })
        .collect();
    Value::Array(out)
}

/// The laps: one per kilometre (the device's auto-lap), the last one
/// shorter.
pub(crate) fn laps(id: i64, a: &FakeActivity) -> Vec<Value> {
    stretches(&a.samples, 1000.0)
        .into_iter()
        .zip(1i64..)
        .map(|((from, to), n)| {
            let st = stats(&a.samples[from..=to]);
            let start = a.start + Duration::seconds(i64::from(a.samples[from].t_s));
            let mut m = Map::new();
            for (k, v) in [
                ("id", json!(id * 1000 + n)),
                ("resource_state", json!(2)),
                ("name", json!(format!("Lap {n}"))),
                ("activity", json!({"id": id, "resource_state": 1})),
                ("athlete", json!({"id": ATHLETE_ID, "resource_state": 1})),
                ("elapsed_time", json!(st.elapsed_time)),
                ("moving_time", json!(st.moving_time)),
                ("start_date", json!(utc(start))),
                ("start_date_local", json!(local(start))),
                ("distance", json!(st.distance)),
                ("start_index", json!(from)),
                ("end_index", json!(to)),
                ("total_elevation_gain", json!(st.elevation_gain)),
                ("average_speed", json!(st.average_speed)),
                ("max_speed", json!(st.max_speed)),
                ("device_watts", json!(false)),
                ("lap_index", json!(n)),
                ("split", json!(n)),
                ("pace_zone", json!(0)),
            ] {
                set(&mut m, k, v);
            }
            if let Some(c) = st.average_cadence {
                set(&mut m, "average_cadence", json!(c));
            }
            if let (Some(avg), Some(max)) = (st.average_heartrate, st.max_heartrate) {
                set(&mut m, "average_heartrate", json!(avg));
                set(&mut m, "max_heartrate", json!(max));
            }
            Value::Object(m)
        })
        .collect()
}

/// The values of a stream the samples may lack in places: None when no
/// sample has one, else every gap filled with the nearest earlier value
/// (or, before the first, the first).
fn filled<T: Copy>(values: impl Iterator<Item = Option<T>>) -> Option<Vec<T>> {
    let values: Vec<Option<T>> = values.collect();
    let first = values.iter().flatten().next().copied()?;
    let mut last = first;
    Some(
        values
            .into_iter()
            .map(|v| {
                if let Some(v) = v {
                    last = v;
                }
                last
            })
            .collect(),
    )
}

/// The stream types in the order the fake lists them.
const STREAM_TYPES: &[&str] = &[
    "time",
    "distance",
    "latlng",
    "altitude",
    "velocity_smooth",
    "heartrate",
    "cadence",
    "watts",
    "temp",
    "moving",
    "grade_smooth",
];

fn stream_data(a: &FakeActivity, kind: &str) -> Option<Value> {
    let s = &a.samples;
    let altitude = || filled(s.iter().map(|x| x.altitude_m));
    match kind {
        "time" => Some(json!(s.iter().map(|x| x.t_s).collect::<Vec<_>>())),
        "distance" => Some(json!(s.iter().map(|x| x.distance_m).collect::<Vec<_>>())),
        "latlng" => filled(s.iter().map(|x| x.latlng))
            .map(|v| json!(v.into_iter().map(|(a, b)| [a, b]).collect::<Vec<_>>())),
        "altitude" => altitude().map(|v| json!(v)),
        "velocity_smooth" => {
            let v = filled(s.iter().map(|x| x.velocity_mps)).unwrap_or_else(|| {
                let mut out = vec![0.0; s.len()];
                for (i, w) in s.windows(2).enumerate() {
                    let dt = f64::from(w[1].t_s.saturating_sub(w[0].t_s));
                    if dt > 0.0 {
                        out[i + 1] = round_to((w[1].distance_m - w[0].distance_m) / dt, 3);
                    }
                }
                out
            });
            (!s.is_empty()).then(|| json!(v))
        }
        "heartrate" => filled(s.iter().map(|x| x.heartrate)).map(|v| json!(v)),
        "cadence" => filled(s.iter().map(|x| x.cadence)).map(|v| json!(v)),
        "temp" => filled(s.iter().map(|x| x.temp_c))
            .map(|v| json!(v.into_iter().map(|t| t.round() as i64).collect::<Vec<_>>())),
        "moving" => Some(json!(s.iter().map(|x| x.moving).collect::<Vec<_>>())),
        "grade_smooth" => altitude().map(|alt| {
            let last = s.len().saturating_sub(1);
            let grades: Vec<f64> = (0..s.len())
                .map(|i| {
                    let (from, to) = (i.saturating_sub(5), (i + 5).min(last));
                    let dd = s[to].distance_m - s[from].distance_m;
                    if dd < 1.0 {
                        0.0
                    } else {
                        round_to(100.0 * (alt[to] - alt[from]) / dd, 1)
                    }
                })
                .collect();
            json!(grades)
        }),
        _ => None,
    }
}

/// The streams asked for (`keys`; none: all), among those the activity
/// has, plus `time` and `distance` always; unknown keys are ignored. Keyed
/// by type (`{"time": {...}}`) or as a list of objects with a `type`.
pub(crate) fn streams(a: &FakeActivity, keys: &[String], by_type: bool) -> Value {
    let wanted = |kind: &str| {
        keys.is_empty() || kind == "time" || kind == "distance" || keys.iter().any(|k| k == kind)
    };
    let original_size = a.samples.len();
    let present = STREAM_TYPES
        .iter()
        .filter(|kind| wanted(kind))
        .filter_map(|kind| stream_data(a, kind).map(|data| (*kind, data)));
    let stream = |data: Value| {
        json!({
            "data": data,
            "series_type": "distance",
            "original_size": original_size,
            "resolution": "high",
        })
    };
    if by_type {
        let mut m = Map::new();
        for (kind, data) in present {
            set(&mut m, kind, stream(data));
        }
        Value::Object(m)
    } else {
        Value::Array(
            present
                .map(|(kind, data)| {
                    let mut v = stream(data);
                    if let Value::Object(m) = &mut v {
                        set(m, "type", json!(kind));
                    }
                    v
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_derives_what_strava_derives() {
        let start = DateTime::<Utc>::from_timestamp(1_718_000_000, 0).unwrap_or_default();
        let a = FakeActivity::run("Easy", start, 5.0, 300.0, Some(150));
        assert_eq!(a.samples.len(), 1501);
        let st = stats(&a.samples);
        assert_eq!(st.distance, 5000.0);
        assert_eq!(st.elapsed_time, 1500);
        assert_eq!(st.moving_time, 1500);
        assert!((st.average_speed - 3.333).abs() < 0.01);
        assert!(st.max_speed > st.average_speed);
        assert!((st.average_heartrate.unwrap_or_default() - 150.0).abs() < 1.0);
        assert!(st.elevation_gain > 0.0);
        let laps = laps(1, &a);
        assert_eq!(laps.len(), 5);
        let total: i64 = laps
            .iter()
            .map(|l| l["elapsed_time"].as_i64().unwrap_or_default())
            .sum();
        assert_eq!(total, 1500);
        assert_eq!(utc_offset(start), 7200);
        assert_eq!(
            polyline(&[(38.5, -120.2), (40.7, -120.95)]),
            "_p~iF~ps|U_ulLnnqC"
        );
    }
}
