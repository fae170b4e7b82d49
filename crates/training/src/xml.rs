//! GPX and TCX, read in one pass with quick-xml (element names compared
//! without their namespace prefix, so every vendor's prefixes read alike).

use chrono::{DateTime, Utc};
use quick_xml::events::Event;

use crate::{Activity, Format, Lap, ParseError, Sample};

fn time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
        // Some devices write local times without an offset: read as UTC.
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|n| n.and_utc())
        })
}

fn num(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

fn whole(s: &str) -> Option<u16> {
    num(s)
        .filter(|v| (0.0..=u16::MAX as f64).contains(v))
        .map(|v| v.round() as u16)
}

pub(crate) fn parse(bytes: &[u8]) -> Result<Activity, ParseError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = String::from_utf8_lossy(bytes);
    let head: String = text.chars().take(2048).collect::<String>().to_lowercase();
    let format = if head.contains("<gpx") {
        Format::Gpx
    } else if head.contains("<trainingcenterdatabase") {
        Format::Tcx
    } else {
        return Err(ParseError::UnknownFormat);
    };
    let label = if format == Format::Gpx { "GPX" } else { "TCX" };
    let mut reader = quick_xml::Reader::from_str(&text);
    // Untrimmed pieces: "Easy &amp; short" keeps its spaces; each value is
    // trimmed whole at its end tag.
    reader.config_mut().trim_text(false);
    let mut path: Vec<String> = Vec::new();
    let mut a = Activity {
        format,
        sport: String::new(),
        name: None,
        samples: Vec::new(),
        laps: Vec::new(),
        warnings: Vec::new(),
    };
    let mut point: Option<(Sample, bool)> = None; // the sample, whether it had a time
    let mut lap: Option<Lap> = None;
    let mut untimed = 0usize;
    let mut buf = String::new();
    loop {
        let ev = reader.read_event().map_err(|e| ParseError::Malformed {
            format: label,
            detail: format!("{e} (near byte {})", reader.buffer_position()),
        })?;
        let empty = matches!(ev, Event::Empty(_));
        match ev {
            Event::Start(e) | Event::Empty(e) => {
                let name = e.local_name().as_ref().to_owned();
                buf.clear();
                let attr = |key: &str| -> Option<String> {
                    e.attributes().flatten().find_map(|a| {
                        (a.key.local_name().as_ref() == key).then(|| a.value.to_string())
                    })
                };
                match (format, name.as_str()) {
                    (Format::Gpx, "trkpt") | (Format::Tcx, "Trackpoint") => {
                        let mut s = Sample::at(DateTime::UNIX_EPOCH);
                        s.lat = attr("lat").as_deref().and_then(num);
                        s.lon = attr("lon").as_deref().and_then(num);
                        point = Some((s, false));
                    }
                    (Format::Tcx, "Activity") if a.sport.is_empty() => {
                        a.sport = attr("Sport").unwrap_or_default().to_lowercase();
                    }
                    (Format::Tcx, "Lap") => {
                        lap = attr("StartTime")
                            .as_deref()
                            .and_then(time)
                            .map(|start| Lap {
                                start,
                                elapsed_s: 0.0,
                                distance_m: None,
                            });
                    }
                    _ => {}
                }
                if !empty {
                    path.push(name);
                } else if let Some((s, timed)) = point.take().filter(|_| name == "trkpt") {
                    // A track point without children has no time.
                    if timed {
                        a.samples.push(s);
                    } else {
                        untimed += 1;
                    }
                }
            }
            Event::Text(t) => buf.push_str(&t.xml10_content()),
            Event::CData(t) => buf.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    buf.push(c);
                } else {
                    buf.push_str(match &*r.into_inner() {
                        "amp" => "&",
                        "lt" => "<",
                        "gt" => ">",
                        "quot" => "\"",
                        "apos" => "'",
                        _ => "",
                    });
                }
            }
            Event::End(_) => {
                let name = path.pop().unwrap_or_default();
                let parent = path.last().map(String::as_str).unwrap_or_default();
                let value = std::mem::take(&mut buf);
                let value = value.trim();
                let in_point = point.is_some();
                match (format, name.as_str(), parent) {
                    (Format::Gpx, "trkpt", _) | (Format::Tcx, "Trackpoint", _) => {
                        if let Some((s, timed)) = point.take() {
                            if timed {
                                a.samples.push(s);
                            } else {
                                untimed += 1;
                            }
                        }
                    }
                    (_, "time", _) | (_, "Time", _) if in_point => {
                        if let Some((s, timed)) = point.as_mut()
                            && let Some(t) = time(value)
                        {
                            s.at = t;
                            *timed = true;
                        }
                    }
                    (Format::Gpx, "ele", _) if in_point => {
                        set(&mut point, |s| s.altitude_m = num(value))
                    }
                    (Format::Tcx, "AltitudeMeters", _) => {
                        set(&mut point, |s| s.altitude_m = num(value))
                    }
                    (Format::Tcx, "LatitudeDegrees", _) => set(&mut point, |s| s.lat = num(value)),
                    (Format::Tcx, "LongitudeDegrees", _) => set(&mut point, |s| s.lon = num(value)),
                    (Format::Tcx, "DistanceMeters", "Trackpoint") => {
                        set(&mut point, |s| s.distance_m = num(value))
                    }
                    (Format::Tcx, "DistanceMeters", "Lap") => {
                        if let Some(l) = lap.as_mut() {
                            l.distance_m = num(value);
                        }
                    }
                    (Format::Tcx, "TotalTimeSeconds", "Lap") => {
                        if let Some(l) = lap.as_mut() {
                            l.elapsed_s = num(value).unwrap_or(0.0);
                        }
                    }
                    (Format::Tcx, "Lap", _) => a.laps.extend(lap.take()),
                    (Format::Tcx, "Value", "HeartRateBpm") | (_, "hr", _) | (_, "HeartRate", _) => {
                        set(&mut point, |s| s.heart_rate = whole(value))
                    }
                    (_, "cad", _)
                    | (_, "RunCadence", _)
                    | (Format::Tcx, "Cadence", "Trackpoint") => {
                        set(&mut point, |s| s.cadence = whole(value))
                    }
                    (_, "atemp", _) | (_, "Temperature", "Trackpoint") => set(&mut point, |s| {
                        s.temperature_c = num(value).filter(|t| (-60.0..=70.0).contains(t))
                    }),
                    (_, "Speed", _) | (_, "speed", _) => {
                        set(&mut point, |s| s.speed_mps = num(value))
                    }
                    (Format::Gpx, "name", "trk") => {
                        a.name = Some(value.to_owned()).filter(|n| !n.is_empty());
                    }
                    (Format::Gpx, "type", "trk") if a.sport.is_empty() => {
                        a.sport = value.to_lowercase();
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !path.is_empty() {
        return Err(ParseError::Malformed {
            format: label,
            detail: format!("the file ends inside <{}>", path.join("><")),
        });
    }
    if untimed > 0 && !a.samples.is_empty() {
        a.warnings.push(format!(
            "{untimed} track points without a time were left out"
        ));
    }
    Ok(a)
}

fn set(point: &mut Option<(Sample, bool)>, f: impl FnOnce(&mut Sample)) {
    if let Some((s, _)) = point.as_mut() {
        f(s);
    }
}
