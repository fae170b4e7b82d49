//! FIT, decoded by the `fitparser` crate (the FIT SDK's profile), a
//! message at a time: `record` messages become samples, `lap` messages
//! laps, `session` the sport.

use chrono::{DateTime, Utc};
use fitparser::de::{FitObject, FitStreamProcessor};
use fitparser::profile::MesgNum;
use fitparser::{FitDataField, FitDataRecord, Value};

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
fn degrees(f: &FitDataField) -> Option<f64> {
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

/// A `record` message as a sample, in one pass over its fields: the first
/// field of a name counts, and the enhanced altitude and speed win over
/// the plain ones.
fn sample(r: &FitDataRecord) -> Option<Sample> {
    let mut s = Sample::at(DateTime::UNIX_EPOCH);
    let (mut at, mut altitude, mut enhanced_altitude, mut speed, mut enhanced_speed) =
        (None, None, None, None, None);
    let mut seen = 0u16;
    for f in r.fields() {
        let bit = match f.name() {
            "timestamp" => 0,
            "position_lat" => 1,
            "position_long" => 2,
            "enhanced_altitude" => 3,
            "altitude" => 4,
            "distance" => 5,
            "heart_rate" => 6,
            "cadence" => 7,
            "enhanced_speed" => 8,
            "speed" => 9,
            "temperature" => 10,
            _ => continue,
        };
        if seen & (1 << bit) != 0 {
            continue;
        }
        seen |= 1 << bit;
        let v = f.value();
        match bit {
            0 => {
                at = match v {
                    Value::Timestamp(t) => Some(t.with_timezone(&Utc)),
                    _ => None,
                }
            }
            1 => s.lat = degrees(f),
            2 => s.lon = degrees(f),
            3 => enhanced_altitude = float(v),
            4 => altitude = float(v),
            5 => s.distance_m = float(v),
            6 => s.heart_rate = whole(float(v)),
            7 => s.cadence = whole(float(v)),
            8 => enhanced_speed = float(v),
            9 => speed = float(v),
            _ => s.temperature_c = float(v).filter(|t| (-60.0..=70.0).contains(t)),
        }
    }
    s.at = at?;
    s.altitude_m = enhanced_altitude.or(altitude);
    s.speed_mps = enhanced_speed.or(speed);
    Some(s)
}

fn malformed(detail: String) -> ParseError {
    ParseError::Malformed {
        format: "FIT",
        detail,
    }
}

pub(crate) fn parse(bytes: &[u8]) -> Result<Activity, ParseError> {
    // A decoder bug on a strange file must not take the process down.
    std::panic::catch_unwind(|| decode(bytes))
        .map_err(|_| malformed("the decoder gave up on it".into()))?
}

/// Decodes one message at a time and keeps only what a sample, lap or
/// sport needs: collecting every decoded message first (what
/// `fitparser::from_bytes` does) and converting afterwards was 40 % slower
/// on a 10-hour file, most of it in allocating and freeing the messages'
/// names and units all at once (`openzero bench training`).
fn decode(mut bytes: &[u8]) -> Result<Activity, ParseError> {
    let mut a = Activity {
        format: Format::Fit,
        sport: String::new(),
        name: None,
        samples: Vec::new(),
        laps: Vec::new(),
        warnings: Vec::new(),
    };
    let mut untimed = 0usize;
    let mut fit = FitStreamProcessor::new();
    while !bytes.is_empty() {
        let (rest, object) = fit
            .deserialize_next(bytes)
            .map_err(|e| malformed(e.to_string()))?;
        bytes = rest;
        let message = match object {
            // The end of one FIT file; another may follow (chained files).
            FitObject::Crc(_) => {
                fit.reset();
                continue;
            }
            FitObject::DataMessage(m) => m,
            FitObject::Header(_) | FitObject::DefinitionMessage(_) => continue,
        };
        let r = fit
            .decode_message(message)
            .map_err(|e| malformed(e.to_string()))?;
        match r.kind() {
            MesgNum::Record => match sample(&r) {
                Some(s) => a.samples.push(s),
                None => untimed += 1,
            },
            MesgNum::Lap => {
                if let Some(start) = when(&r, "start_time") {
                    a.laps.push(Lap {
                        start,
                        elapsed_s: num(&r, "total_elapsed_time").unwrap_or(0.0),
                        distance_m: num(&r, "total_distance"),
                    });
                }
            }
            MesgNum::Session if a.sport.is_empty() => {
                if let Some(Value::String(s)) = field(&r, "sport") {
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
