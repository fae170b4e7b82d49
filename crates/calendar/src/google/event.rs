//! One Google event as iCalendar: the conversion every Google event goes
//! through, so the one expander reads every source.

use super::*;

/// What one Google event becomes.
pub(super) enum Conversion {
    Put(String),
    /// Deleted (`status: cancelled`, not an instance of a series).
    Removed,
    /// Not shown (a working location is not something the owner attends).
    Ignored,
}

/// One Google event as a VCALENDAR text with one VEVENT (CRLF lines,
/// folded at 75 octets, TEXT values escaped per RFC 5545; UID as the module
/// docs say, no VTIMEZONE: TZIDs are IANA names). `Ok(None)` for
/// an event that is not shown: a deleted one (cancelled, not an instance of
/// a series) or a working location; `Err` says why it cannot be read.
pub fn event_to_ics(event: &Value) -> Result<Option<String>, String> {
    match convert(event)? {
        Conversion::Put(ics) => Ok(Some(ics)),
        Conversion::Removed | Conversion::Ignored => Ok(None),
    }
}

pub(super) fn convert(event: &Value) -> Result<Conversion, String> {
    let obj = event
        .as_object()
        .ok_or_else(|| "not a JSON object".to_owned())?;
    let id = string(obj, "id")?.filter(|s| !s.is_empty());
    let status = string(obj, "status")?;
    let series = string(obj, "recurringEventId")?.filter(|s| !s.is_empty());
    let cancelled = status == Some("cancelled");
    if cancelled && series.is_none() {
        return Ok(Conversion::Removed);
    }
    if string(obj, "eventType")? == Some("workingLocation") {
        return Ok(Conversion::Ignored);
    }
    // The UID is the series' Google event id, not its iCalUID: a cancelled
    // instance is only sure to carry `id`, `recurringEventId` and
    // `originalStartTime`, so only the id ties it to its series in every
    // sync (the master need not be among the same changes).
    let ical_uid = string(obj, "iCalUID")?.filter(|s| !s.is_empty());
    let uid = series
        .or(id)
        .or(ical_uid)
        .ok_or_else(|| "no id".to_owned())?;

    let original = match series {
        Some(_) => Some(
            date_time(obj, "originalStartTime")?
                .ok_or_else(|| "an instance of a series without originalStartTime".to_owned())?,
        ),
        None => None,
    };
    let start = match (date_time(obj, "start")?, &original) {
        (Some(s), _) => s,
        // A cancelled instance keeps only its original start.
        (None, Some(o)) if cancelled => o.clone(),
        (None, _) => return Err("no start".to_owned()),
    };
    let end = date_time(obj, "end")?;
    let recurrence = match (series, obj.get("recurrence")) {
        (None, Some(Value::Array(lines))) => lines
            .iter()
            .map(|l| {
                l.as_str()
                    .ok_or_else(|| "a recurrence line that is not a string".to_owned())
                    .and_then(recurrence_line)
            })
            .collect::<Result<Vec<&str>, String>>()?,
        (None, Some(Value::Null) | None) | (Some(_), _) => Vec::new(),
        (None, Some(_)) => return Err("recurrence is not a list".to_owned()),
    };

    let mut out = String::new();
    line(&mut out, "BEGIN:VCALENDAR");
    line(&mut out, "VERSION:2.0");
    line(&mut out, "PRODID:-//OpenZero//Google Calendar//EN");
    line(&mut out, "BEGIN:VEVENT");
    line(&mut out, &format!("UID:{}", escape(uid)));
    if let Some(u) = ical_uid {
        line(&mut out, &format!("X-GOOGLE-ICALUID:{}", escape(u)));
    }
    let stamp = [string(obj, "updated")?, string(obj, "created")?]
        .into_iter()
        .flatten()
        .find_map(utc_stamp)
        .unwrap_or_else(|| "19700101T000000Z".to_owned());
    line(&mut out, &format!("DTSTAMP:{stamp}"));
    line(&mut out, &format!("DTSTART{start}"));
    if let Some(e) = end {
        line(&mut out, &format!("DTEND{e}"));
    }
    if let Some(o) = &original {
        line(&mut out, &format!("RECURRENCE-ID{o}"));
    }
    for r in recurrence {
        line(&mut out, r);
    }
    for (prop, field) in [
        ("SUMMARY", "summary"),
        ("LOCATION", "location"),
        ("DESCRIPTION", "description"),
    ] {
        if let Some(v) = string(obj, field)?.filter(|s| !s.is_empty()) {
            line(&mut out, &format!("{prop}:{}", escape(v)));
        }
    }
    match status {
        Some("cancelled") => line(&mut out, "STATUS:CANCELLED"),
        Some("tentative") => line(&mut out, "STATUS:TENTATIVE"),
        Some("confirmed") => line(&mut out, "STATUS:CONFIRMED"),
        _ => {}
    }
    match string(obj, "transparency")? {
        Some("transparent") => line(&mut out, "TRANSP:TRANSPARENT"),
        Some("opaque") => line(&mut out, "TRANSP:OPAQUE"),
        _ => {}
    }
    if let Some(n) = obj.get("sequence").and_then(Value::as_u64) {
        line(&mut out, &format!("SEQUENCE:{n}"));
    }
    if let Some(c) = string(obj, "created")?.and_then(utc_stamp) {
        line(&mut out, &format!("CREATED:{c}"));
    }
    if let Some(u) = string(obj, "updated")?.and_then(utc_stamp) {
        line(&mut out, &format!("LAST-MODIFIED:{u}"));
    }
    line(&mut out, "END:VEVENT");
    line(&mut out, "END:VCALENDAR");
    Ok(Conversion::Put(out))
}

/// A string field; absent or `null` is `None`, another type an error.
pub(super) fn string<'a>(
    obj: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, String> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("{name} is not a string")),
    }
}

/// An `EventDateTime` (`start`, `end`, `originalStartTime`) as the
/// parameters and value of a date-time property, e.g.
/// `;TZID=Europe/Berlin:20260330T090000`, `:20260331T143000Z` or
/// `;VALUE=DATE:20260403`. `None` when the field is absent.
pub(super) fn date_time(obj: &Map<String, Value>, field: &str) -> Result<Option<String>, String> {
    let edt = match obj.get(field) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(o)) => o,
        Some(_) => return Err(format!("{field} is not an object")),
    };
    let named = |what: &str| format!("{field}.{what}");
    let zone: Option<Tz> = string(edt, "timeZone")
        .map_err(|e| format!("{field}.{e}"))?
        .and_then(|z| z.parse().ok());
    if let Some(dt) = string(edt, "dateTime").map_err(|e| format!("{field}.{e}"))? {
        let dt = dt.trim();
        if let Ok(at) = DateTime::parse_from_rfc3339(dt) {
            let at = at.with_timezone(&Utc);
            return Ok(Some(match zone.filter(|z| !is_utc(*z)) {
                Some(z) => format!(
                    ";TZID={}:{}",
                    z.name(),
                    at.with_timezone(&z).format("%Y%m%dT%H%M%S")
                ),
                None => format!(":{}", at.format("%Y%m%dT%H%M%SZ")),
            }));
        }
        // Without an offset the time is on the wall clock of `timeZone`.
        let local = NaiveDateTime::parse_from_str(dt, "%Y-%m-%dT%H:%M:%S%.f")
            .map_err(|_| format!("{} {dt:?} is not an RFC 3339 time", named("dateTime")))?;
        return match zone {
            Some(z) if is_utc(z) => Ok(Some(format!(":{}", local.format("%Y%m%dT%H%M%SZ")))),
            Some(z) => Ok(Some(format!(
                ";TZID={}:{}",
                z.name(),
                local.format("%Y%m%dT%H%M%S")
            ))),
            None => Err(format!(
                "{} {dt:?} has no offset and no known timeZone",
                named("dateTime")
            )),
        };
    }
    if let Some(d) = string(edt, "date").map_err(|e| format!("{field}.{e}"))? {
        let day = NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d")
            .map_err(|_| format!("{} {d:?} is not a date", named("date")))?;
        return Ok(Some(format!(";VALUE=DATE:{}", day.format("%Y%m%d"))));
    }
    Err(format!("{field} has neither date nor dateTime"))
}

pub(super) fn is_utc(z: Tz) -> bool {
    matches!(
        z.name(),
        "UTC" | "Etc/UTC" | "Etc/UCT" | "UCT" | "Etc/Universal" | "Universal" | "Etc/Zulu" | "Zulu"
    )
}

/// An RFC 3339 time as an iCalendar UTC date-time.
pub(super) fn utc_stamp(s: &str) -> Option<String> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc).format("%Y%m%dT%H%M%SZ").to_string())
}

/// One `recurrence` entry, copied as it is when it is an RRULE, EXRULE,
/// RDATE or EXDATE content line (anything else, or a line break inside,
/// could change the calendar's structure).
pub(super) fn recurrence_line(l: &str) -> Result<&str, String> {
    let shown: String = l.chars().take(80).collect();
    if l.chars().any(char::is_control) {
        return Err(format!(
            "a recurrence line with a control character: {shown:?}"
        ));
    }
    let name = l.split([';', ':']).next().unwrap_or_default();
    let known = ["RRULE", "EXRULE", "RDATE", "EXDATE"]
        .iter()
        .any(|k| k.eq_ignore_ascii_case(name));
    if !known || !l.contains(':') {
        return Err(format!("not a recurrence line: {shown:?}"));
    }
    Ok(l)
}

/// A TEXT value escaped (RFC 5545 §3.3.11): backslash, semicolon, comma,
/// line breaks as `\n`; other control characters dropped.
pub(super) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            '\t' => out.push('\t'),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends a content line, folded so no line is longer than 75 octets
/// (RFC 5545 §3.1; never inside a UTF-8 sequence), ended by CRLF.
pub(super) fn line(out: &mut String, content: &str) {
    let mut used = 0;
    for c in content.chars() {
        let n = c.len_utf8();
        if used + n > 75 {
            out.push_str("\r\n ");
            used = 1;
        }
        out.push(c);
        used += n;
    }
    out.push_str("\r\n");
}
