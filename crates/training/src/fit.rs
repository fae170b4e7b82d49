//! FIT, decoded by the `fitparser` crate (the FIT SDK's profile): `record`
//! messages become samples, `lap` messages laps, `session` the sport.

use chrono::{DateTime, Utc};
use fitparser::profile::MesgNum;
use fitparser::{FitDataRecord, Value};

use crate::{Activity, Format, Lap, ParseError, Sample};

fn float(v: &Value) -> Option<f64> {
    let f = match v {
        Value::Byte(x) | Value::Enum(x) | Value::UInt8(x) | Value::UInt8z(x) => f64::from(*x),
        Value::SInt8(x) => f64::from(*x),
        Value::SInt16(x) => f64::from(*x),
        Value::UInt16(x) | Value::UInt16z(x) => f64::from(*x),
        Value::SInt32(x) => f64::from(*x),
        Value::UInt32(x) | Value::UInt32z(x) => f64::from(*x),
        Value::Float32(x) => f64::from(*x),
        Value::Float64(x) => *x,
        Value::SInt64(x) => *x as f64,
        Value::UInt64(x) | Value::UInt64z(x) => *x as f64,
        _ => return None,
    };
    f.is_finite().then_some(f)
}

fn field<'a>(r: &'a FitDataRecord, name: &str) -> Option<&'a Value> {
    r.fields()
        .iter()
        .find(|f| f.name() == name)
        .map(|f| f.value())
}

fn num(r: &FitDataRecord, name: &str) -> Option<f64> {
    field(r, name).and_then(float)
}

fn when(r: &FitDataRecord, name: &str) -> Option<DateTime<Utc>> {
    match field(r, name)? {
        Value::Timestamp(t) => Some(t.with_timezone(&Utc)),
        _ => None,
    }
}

/// Positions come in semicircles (2^31 of them to 180°), unless already degrees.
fn degrees(r: &FitDataRecord, name: &str) -> Option<f64> {
    let f = r.fields().iter().find(|f| f.name() == name)?;
    let v = float(f.value())?;
    let d = if f.units() == "semicircles" {
        v * 180.0 / 2_147_483_648.0
    } else {
        v
    };
    (-180.0..=180.0).contains(&d).then_some(d)
}

fn whole(v: Option<f64>) -> Option<u16> {
    v.filter(|v| (0.0..=u16::MAX as f64).contains(v))
        .map(|v| v.round() as u16)
}

pub(crate) fn parse(bytes: &[u8]) -> Result<Activity, ParseError> {
    // A decoder bug on a strange file must not take the process down.
    let decoded = std::panic::catch_unwind(|| fitparser::from_bytes(bytes)).map_err(|_| {
        ParseError::Malformed {
            format: "FIT",
            detail: "the decoder gave up on it".into(),
        }
    })?;
    let records = decoded.map_err(|e| ParseError::Malformed {
        format: "FIT",
        detail: e.to_string(),
    })?;
    let mut a = Activity {
        format: Format::Fit,
        sport: String::new(),
        name: None,
        samples: Vec::new(),
        laps: Vec::new(),
        warnings: Vec::new(),
    };
    let mut untimed = 0usize;
    for r in &records {
        match r.kind() {
            MesgNum::Record => {
                let Some(at) = when(r, "timestamp") else {
                    untimed += 1;
                    continue;
                };
                let mut s = Sample::at(at);
                s.lat = degrees(r, "position_lat");
                s.lon = degrees(r, "position_long");
                s.altitude_m = num(r, "enhanced_altitude").or_else(|| num(r, "altitude"));
                s.distance_m = num(r, "distance");
                s.heart_rate = whole(num(r, "heart_rate"));
                s.cadence = whole(num(r, "cadence"));
                s.speed_mps = num(r, "enhanced_speed").or_else(|| num(r, "speed"));
                a.samples.push(s);
            }
            MesgNum::Lap => {
                if let Some(start) = when(r, "start_time") {
                    a.laps.push(Lap {
                        start,
                        elapsed_s: num(r, "total_elapsed_time").unwrap_or(0.0),
                        distance_m: num(r, "total_distance"),
                    });
                }
            }
            MesgNum::Session if a.sport.is_empty() => {
                if let Some(Value::String(s)) = field(r, "sport") {
                    a.sport = s.to_lowercase();
                }
            }
            _ => {}
        }
    }
    if untimed > 0 && !a.samples.is_empty() {
        a.warnings
            .push(format!("{untimed} records without a time were left out"));
    }
    Ok(a)
}
