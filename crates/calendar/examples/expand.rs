//! Prints the occurrences of ICS files as JSON lines, in the format of
//! `scripts/calendar-reference expand`, to compare the two by hand:
//!
//!     cargo run -p openzero-calendar --example expand -- Europe/Berlin 2000-01-01 2030-01-01 FILE.ics…
use chrono::NaiveDate;
use chrono_tz::Tz;
use openzero_core::calendar::{When, midnight};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [tz, from, to, files @ ..] = args.as_slice() else {
        eprintln!("usage: expand ZONE FROM TO FILE…");
        std::process::exit(2);
    };
    let (Ok(tz), Ok(from), Ok(to)) = (
        tz.parse::<Tz>(),
        from.parse::<NaiveDate>(),
        to.parse::<NaiveDate>(),
    ) else {
        eprintln!("bad zone or date");
        std::process::exit(2);
    };
    for f in files {
        let Ok(bytes) = std::fs::read(f) else {
            println!("{}", serde_json::json!({"file": f, "error": "unreadable"}));
            continue;
        };
        let cal = openzero_calendar::parse(&bytes);
        let (occ, problems) =
            openzero_calendar::expand(&cal.events, "x", tz, midnight(tz, from), midnight(tz, to));
        for p in cal.problems.iter().chain(&problems) {
            eprintln!("{f}: {p}");
        }
        for o in occ {
            let (start, end, all_day) = match o.when {
                When::Timed { start, end } => (
                    start.with_timezone(&tz).to_rfc3339(),
                    end.with_timezone(&tz).to_rfc3339(),
                    false,
                ),
                When::AllDay { start, end } => (start.to_string(), end.to_string(), true),
            };
            println!(
                "{}",
                serde_json::json!({"file": f, "uid": o.uid, "summary": o.summary, "start": start, "end": end, "all_day": all_day, "status": o.status.as_str()})
            );
        }
    }
}
