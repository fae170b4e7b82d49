//! The weekly training report by email (`openzero training report`, the
//! `training-report` job): the last seven days' runs, the week's load
//! against the four before, fitness / fatigue / form now with a twelve-week
//! chart drawn here as inline SVG (no script, no image to fetch), weekly
//! volume bars, and the goal race; one `multipart/alternative` message,
//! plain text first and HTML second, sent over SMTP with lettre.
//!
//! **Invariants:** every figure is formatted once, in [`Figures`], and both
//! parts are written from those strings, so the text and the HTML cannot
//! disagree; the headline numbers and the weeks are
//! `training_coach::metrics`'s own, as `training metrics` shows them; every
//! string from outside (activity and race names) is HTML-escaped; the SMTP
//! password goes only into lettre's credentials, never into a log, a
//! `Debug` or an error; without TLS, mail goes only to this machine.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{Datelike, Duration, NaiveDate};
use chrono_tz::Tz;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Serialize;

use openzero_config::Loaded;
use openzero_config::SmtpSettings;
use openzero_store::training::ActivityRow;
use openzero_training::metrics::{self, clock};

use crate::jobs::{Job, Task};
use crate::training_coach::{self, GoalOut, Metrics};
use crate::{AppError, Services};

/// The job's name, as `jobs list` shows it.
pub const JOB: &str = "training-report";

/// Weeks the form chart and the volume bars cover.
pub const CHART_WEEKS: u32 = 12;

/// Days of history the chart's fitness and fatigue are computed over: the
/// coach's window, so the chart ends on the numbers `training metrics`
/// shows (CTL needs about three of its 42-day time constants to settle).
const HISTORY_DAYS: i64 = 180;

/// Days of activities the report reads: the last seven and the four weeks
/// before them.
pub const RECENT_DAYS: i64 = 35;

/// How long one SMTP exchange may take.
const SMTP_TIMEOUT: StdDuration = StdDuration::from_secs(30);

/// A report, ready to send or show.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The day it is for, in the owner's zone.
    pub date: NaiveDate,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Runs in the last seven days.
    pub runs: usize,
}

/// What the report is made of: read from the store by [`build`], or given
/// by a test.
#[derive(Debug, Clone)]
pub struct Input {
    pub tz: Tz,
    /// `training_coach::metrics` with [`CHART_WEEKS`] weeks.
    pub metrics: Metrics,
    /// The activities of the last [`RECENT_DAYS`] days (today included),
    /// oldest first: the last seven listed, the four weeks before compared.
    pub recent: Vec<ActivityRow>,
    /// The daily chart over the last [`CHART_WEEKS`] weeks, oldest first.
    pub chart: Vec<metrics::Day>,
    pub goal: Option<GoalOut>,
}

/// The report for today (in the owner's zone).
pub async fn build(services: &Services) -> Result<Report, AppError> {
    Ok(compose(&input(services).await?))
}

/// The report's two charts as inline SVG — fitness, fatigue and form over
/// 12 weeks, and weekly distance — for the dashboard's Training page.
pub async fn charts(services: &Services) -> Result<(String, String), AppError> {
    let input = input(services).await?;
    let volume: Vec<WeekFig> = input
        .metrics
        .weeks
        .iter()
        .map(|w| WeekFig {
            label: w.monday.format("%-d %b").to_string(),
            km_value: w.distance_m / 1000.0,
            km: format!("{:.1}", w.distance_m / 1000.0),
        })
        .collect();
    // The dashboard's policy allows no inline style (`style-src 'self'`):
    // its stylesheet sizes the charts; the font is an SVG attribute.
    let page = |svg: String| {
        svg.replacen(
            " style=\"max-width:100%;height:auto;font-family:Helvetica,Arial,sans-serif\"",
            " font-family=\"Helvetica,Arial,sans-serif\"",
            1,
        )
    };
    Ok((page(form_chart(&input.chart)), page(volume_bars(&volume))))
}

async fn input(services: &Services) -> Result<Input, AppError> {
    let m = training_coach::metrics(services, CHART_WEEKS).await?;
    let goal = training_coach::goal(services).await?;
    let tz = services.tz();
    let today = m.date;
    let from = today - Duration::days(HISTORY_DAYS);
    let rows = services.store.activities(100_000).await?;
    let day = |a: &ActivityRow| a.start_at.with_timezone(&tz).date_naive();
    let loads: Vec<(NaiveDate, f64)> = rows
        .iter()
        .map(|a| (day(a), a.trimp.unwrap_or(0.0)))
        .filter(|(d, _)| *d >= from)
        .collect();
    let chart = metrics::form(&loads, from, today);
    let keep = chart.len().saturating_sub(CHART_WEEKS as usize * 7);
    let recent_from = today - Duration::days(RECENT_DAYS - 1);
    let mut recent: Vec<ActivityRow> = rows
        .into_iter()
        .filter(|a| (recent_from..=today).contains(&day(a)))
        .collect();
    recent.reverse();
    Ok(Input {
        tz,
        metrics: m,
        recent,
        chart: chart[keep..].to_vec(),
        goal,
    })
}

/// One run, formatted.
#[derive(Debug, Clone)]
struct RunFig {
    when: String,
    /// As it came (escaped only when written into HTML).
    name: String,
    km: String,
    time: String,
    pace: String,
    hr: String,
    trimp: String,
}

/// One week's volume, formatted.
#[derive(Debug, Clone)]
struct WeekFig {
    label: String,
    km_value: f64,
    km: String,
}

/// The goal race, formatted.
#[derive(Debug, Clone)]
struct GoalFig {
    title: String,
    left: String,
    prediction: String,
    race_day: String,
}

/// Every figure of the report, formatted once for both parts.
#[derive(Debug, Clone)]
struct Figures {
    day: String,
    ctl: String,
    atl: String,
    tsb: String,
    form_word: &'static str,
    acute_chronic: Option<String>,
    /// The last seven days, `Tue 24 Nov – Mon 30 Nov`.
    span: String,
    /// The same, `24 Nov – 30 Nov`.
    span_short: String,
    week_line: String,
    before_line: String,
    runs: Vec<RunFig>,
    volume: Vec<WeekFig>,
    goal: Option<GoalFig>,
}

/// How the form (TSB) reads, in the bands coaches commonly use
/// (TrainingPeaks' performance management chart guidance).
fn form_word(tsb: f64) -> &'static str {
    match tsb {
        t if t > 25.0 => "very fresh, fitness may be fading",
        t if t > 5.0 => "fresh",
        t if t >= -10.0 => "neutral",
        t if t >= -30.0 => "building, productive fatigue",
        _ => "very tired, rest soon",
    }
}

fn plural(n: u32, one: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {one}s")
    }
}

fn figures(input: &Input) -> Figures {
    let m = &input.metrics;
    let today = m.date;
    let tz = input.tz;
    let day = |a: &ActivityRow| a.start_at.with_timezone(&tz).date_naive();
    // The seven days ending `k` weeks before today.
    let block = |k: i64| {
        let to = today - Duration::weeks(k);
        let from = to - Duration::days(6);
        input
            .recent
            .iter()
            .filter(move |a| (from..=to).contains(&day(a)))
    };
    let last7: Vec<&ActivityRow> = block(0).collect();
    let load = last7.iter().map(|a| a.trimp.unwrap_or(0.0)).sum::<f64>();
    let week_line = format!(
        "{} · {:.1} km · {} · load {load:.0}",
        plural(last7.len() as u32, "run"),
        last7.iter().map(|a| a.distance_m).sum::<f64>() / 1000.0,
        clock(last7.iter().map(|a| a.moving_s).sum::<f64>()),
    );
    let before = (1..=4)
        .map(|k| block(k).map(|a| a.trimp.unwrap_or(0.0)).sum::<f64>())
        .sum::<f64>()
        / 4.0;
    let change = if before >= 1.0 {
        format!(" ({:+.0} %)", (load / before - 1.0) * 100.0)
    } else {
        String::new()
    };
    let before_line = format!("the 4 weeks before averaged load {before:.0} a week{change}");
    let first = today - Duration::days(6);
    let runs = last7
        .iter()
        .map(|a| RunFig {
            when: a
                .start_at
                .with_timezone(&input.tz)
                .format("%a %-d %b %H:%M")
                .to_string(),
            name: a
                .name
                .clone()
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| {
                    if a.sport.is_empty() {
                        "activity".into()
                    } else {
                        a.sport.clone()
                    }
                }),
            km: format!("{:.2} km", a.distance_m / 1000.0),
            time: clock(a.moving_s),
            pace: if a.distance_m > 100.0 && a.moving_s > 0.0 {
                format!("{} /km", clock(a.moving_s / (a.distance_m / 1000.0)))
            } else {
                "–".into()
            },
            hr: a
                .avg_hr
                .map_or_else(|| "–".into(), |h| format!("{h:.0} bpm")),
            trimp: a.trimp.map_or_else(|| "–".into(), |t| format!("{t:.0}")),
        })
        .collect();
    let volume = m
        .weeks
        .iter()
        .map(|w| WeekFig {
            label: w.monday.format("%-d %b").to_string(),
            km_value: w.distance_m / 1000.0,
            km: format!("{:.1}", w.distance_m / 1000.0),
        })
        .collect();
    let goal = input.goal.as_ref().map(|g| GoalFig {
        title: format!(
            "{} on {}, target {}",
            g.name,
            g.date.format("%a %-d %b %Y"),
            g.target
        ),
        left: format!(
            "{} days ({:.1} weeks) left; it needs {} /km.",
            g.days_left, g.weeks_left, g.pace_needed
        ),
        prediction: match (&g.predicted, g.predicted_from, g.on_track) {
            (Some(p), Some(from), Some(ok)) => format!(
                "Predicted {p} from your run of {}: {}.",
                from.format("%a %-d %b"),
                if ok { "on track" } else { "not yet on track" }
            ),
            _ => "No prediction yet: no run of 3 km or more in the last six weeks.".into(),
        },
        race_day: format!(
            "Form on race day with a two-week taper: {:+.1}.",
            g.race_day_tsb
        ),
    });
    Figures {
        day: m.date.format("%A %-d %B %Y").to_string(),
        ctl: format!("{:.1}", m.ctl),
        atl: format!("{:.1}", m.atl),
        tsb: format!("{:+.1}", m.tsb),
        form_word: form_word(m.tsb),
        acute_chronic: m.acute_chronic.map(|r| format!("{r:.2}")),
        span: format!(
            "{} – {}",
            first.format("%a %-d %b"),
            today.format("%a %-d %b")
        ),
        span_short: format!("{} – {}", first.format("%-d %b"), today.format("%-d %b")),
        week_line,
        before_line,
        runs,
        volume,
        goal,
    }
}

/// Control characters out of a header value (a name from outside could
/// carry a line break).
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The report from its input: pure, so tests give it any week.
pub fn compose(input: &Input) -> Report {
    let f = figures(input);
    let mut subject = format!(
        "Training {}: {}, form {}",
        f.span_short,
        f.week_line.replace(" · ", ", "),
        f.tsb
    );
    if let Some(g) = &input.goal {
        subject.push_str(&format!("; {:.1} weeks to {}", g.weeks_left, g.name));
    }
    let subject = one_line(&subject);
    Report {
        date: input.metrics.date,
        text: text(&f),
        html: html(&f, &subject, input),
        subject,
        runs: f.runs.len(),
    }
}

fn text(f: &Figures) -> String {
    let mut t = format!("Your training report for {}\n\n", f.day);
    t.push_str(&format!(
        "Now: fitness (CTL) {} · fatigue (ATL) {} · form (TSB) {} ({}){}\n\n",
        f.ctl,
        f.atl,
        f.tsb,
        f.form_word,
        f.acute_chronic
            .as_ref()
            .map(|r| format!(" · acute:chronic {r}"))
            .unwrap_or_default()
    ));
    t.push_str(&format!(
        "The last 7 days ({}): {}; {}.\n",
        f.span, f.week_line, f.before_line
    ));
    if f.runs.is_empty() {
        t.push_str("No runs in the last 7 days.\n\n");
    } else {
        for r in &f.runs {
            t.push_str(&format!(
                "  {} · {} · {} in {} · {} · {} · TRIMP {}\n",
                r.when, r.name, r.km, r.time, r.pace, r.hr, r.trimp
            ));
        }
        t.push('\n');
    }
    let volume: Vec<String> = f
        .volume
        .iter()
        .map(|w| format!("{} {}", w.label, w.km))
        .collect();
    t.push_str(&format!(
        "Weekly distance in km, from the week of {}:\n  {}\n\n",
        f.volume.first().map_or("", |w| w.label.as_str()),
        volume.join(" · ")
    ));
    match &f.goal {
        Some(g) => t.push_str(&format!(
            "Goal race: {}\n  {}\n  {}\n  {}\n\n",
            g.title, g.left, g.prediction, g.race_day
        )),
        None => t.push_str(
            "No goal race: set one with `openzero training goal \"Half marathon\" 2027-03-14 1:45:00`.\n\n",
        ),
    }
    t.push_str(
        "The chart of fitness, fatigue and form over 12 weeks is in the HTML part.\n\
         -- \nSent by OpenZero (`openzero training report`).\n",
    );
    t
}

/// `s` safe inside HTML text and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const INK: &str = "#18181b";
const MUTED: &str = "#71717a";
const CTL_COLOUR: &str = "#2563eb";
const ATL_COLOUR: &str = "#dc2626";
const TSB_COLOUR: &str = "#16a34a";

fn html(f: &Figures, subject: &str, input: &Input) -> String {
    let e = escape;
    let h2 = |title: &str| {
        format!(
            "<h2 style=\"font-size:16px;margin:24px 0 8px;color:{INK}\">{}</h2>\n",
            e(title)
        )
    };
    let mut b = String::new();
    b.push_str(&format!(
        "<h1 style=\"font-size:20px;margin:0 0 4px;color:{INK}\">Training, {}</h1>\n\
         <p style=\"margin:0 0 16px;color:{MUTED}\">Your report for {}</p>\n",
        e(&f.span),
        e(&f.day)
    ));
    // Now: three figures side by side.
    let cell = |label: &str, value: &str, colour: &str| {
        format!(
            "<td style=\"padding:8px 12px;border-left:4px solid {colour}\">\
             <div style=\"font-size:12px;color:{MUTED}\">{}</div>\
             <div style=\"font-size:22px;font-weight:bold;color:{INK}\">{}</div></td>",
            e(label),
            e(value)
        )
    };
    b.push_str(&format!(
        "<table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\"><tr>{}{}{}</tr></table>\n",
        cell("Fitness (CTL)", &f.ctl, CTL_COLOUR),
        cell("Fatigue (ATL)", &f.atl, ATL_COLOUR),
        cell("Form (TSB)", &f.tsb, TSB_COLOUR)
    ));
    b.push_str(&format!(
        "<p style=\"margin:8px 0 0\">Form: {}{}.</p>\n",
        e(f.form_word),
        f.acute_chronic
            .as_ref()
            .map(|r| format!(" · acute:chronic {}", e(r)))
            .unwrap_or_default()
    ));
    b.push_str(&h2("Fitness, fatigue and form, 12 weeks"));
    b.push_str(&form_chart(&input.chart));
    b.push_str(&format!(
        "<p style=\"margin:4px 0 0;font-size:12px;color:{MUTED}\">\
         <span style=\"color:{CTL_COLOUR}\">■</span> fitness (CTL, 42-day load) \
         <span style=\"color:{ATL_COLOUR}\">■</span> fatigue (ATL, 7-day load) \
         <span style=\"color:{TSB_COLOUR}\">■</span> form (TSB = yesterday's CTL − ATL)</p>\n"
    ));
    b.push_str(&h2("The last 7 days"));
    b.push_str(&format!(
        "<p style=\"margin:0 0 8px\">{}: {}; {}.</p>\n",
        e(&f.span),
        e(&f.week_line),
        e(&f.before_line)
    ));
    if f.runs.is_empty() {
        b.push_str("<p style=\"margin:0\">No runs in the last 7 days.</p>\n");
    } else {
        let th = |s: &str, align: &str| {
            format!(
                "<th style=\"text-align:{align};padding:4px 6px;border-bottom:1px solid #e4e4e7;font-size:12px;color:{MUTED}\">{}</th>",
                e(s)
            )
        };
        b.push_str(&format!(
            "<table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" style=\"border-collapse:collapse;width:100%;font-size:14px\">\n<tr>{}{}{}{}{}{}{}</tr>\n",
            th("Date", "left"),
            th("Run", "left"),
            th("Distance", "right"),
            th("Time", "right"),
            th("Pace", "right"),
            th("Avg HR", "right"),
            th("TRIMP", "right")
        ));
        for r in &f.runs {
            let td = |s: &str, align: &str| {
                format!(
                    "<td style=\"text-align:{align};padding:4px 6px;border-bottom:1px solid #f4f4f5\">{}</td>",
                    e(s)
                )
            };
            b.push_str(&format!(
                "<tr>{}{}{}{}{}{}{}</tr>\n",
                td(&r.when, "left"),
                td(&r.name, "left"),
                td(&r.km, "right"),
                td(&r.time, "right"),
                td(&r.pace, "right"),
                td(&r.hr, "right"),
                td(&r.trimp, "right")
            ));
        }
        b.push_str("</table>\n");
    }
    b.push_str(&h2("Weekly distance (km)"));
    b.push_str(&volume_bars(&f.volume));
    b.push_str(&h2("Goal race"));
    match &f.goal {
        Some(g) => b.push_str(&format!(
            "<p style=\"margin:0;font-weight:bold\">{}</p>\n<p style=\"margin:4px 0 0\">{}<br>{}<br>{}</p>\n",
            e(&g.title),
            e(&g.left),
            e(&g.prediction),
            e(&g.race_day)
        )),
        None => b.push_str(
            "<p style=\"margin:0\">No goal race: set one with <code>openzero training goal \"Half marathon\" 2027-03-14 1:45:00</code>.</p>\n",
        ),
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n</head>\n\
         <body style=\"margin:0;padding:0;background:#f4f4f5\">\n\
         <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" style=\"background:#f4f4f5\"><tr><td align=\"center\" style=\"padding:16px\">\n\
         <table role=\"presentation\" width=\"640\" cellpadding=\"0\" cellspacing=\"0\" style=\"max-width:640px;width:100%;background:#ffffff;border-radius:8px;font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:{INK};line-height:1.4\">\n\
         <tr><td style=\"padding:20px 24px\">\n{b}\
         <p style=\"margin:24px 0 0;font-size:12px;color:{MUTED}\">Sent by OpenZero (<code>openzero training report</code>).</p>\n\
         </td></tr></table>\n</td></tr></table>\n</body>\n</html>\n",
        e(subject)
    )
}

/// A round step near `span / 4`: 1, 2 or 5 times a power of ten.
fn nice_step(span: f64) -> f64 {
    let raw = (span / 4.0).max(0.5);
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * p)
}

/// The performance management chart (CTL, ATL, TSB by day) as inline SVG.
pub fn form_chart(days: &[metrics::Day]) -> String {
    let (w, h) = (600.0, 240.0);
    let (left, right, top, bottom) = (40.0, 10.0, 10.0, 26.0);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let values = days.iter().flat_map(|d| [d.ctl, d.atl, d.tsb]);
    let lo = values.clone().fold(0.0_f64, f64::min);
    let hi = values.fold(1.0_f64, f64::max);
    let step = nice_step(hi - lo);
    let (lo, hi) = ((lo / step).floor() * step, (hi / step).ceil() * step);
    let y = |v: f64| top + (hi - v) / (hi - lo) * ph;
    let n = days.len().max(2) as f64 - 1.0;
    let x = |i: usize| left + i as f64 / n * pw;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"Fitness, fatigue and form over {CHART_WEEKS} weeks\" style=\"max-width:100%;height:auto;font-family:Helvetica,Arial,sans-serif\">\n\
         <title>Fitness (CTL), fatigue (ATL) and form (TSB) over {CHART_WEEKS} weeks</title>\n"
    );
    let mut v = lo;
    while v <= hi + step / 2.0 {
        let stroke = if v.abs() < step / 2.0 {
            "#a1a1aa"
        } else {
            "#e4e4e7"
        };
        s.push_str(&format!(
            "<line x1=\"{left}\" y1=\"{0:.1}\" x2=\"{1}\" y2=\"{0:.1}\" stroke=\"{stroke}\" stroke-width=\"1\"/>\
             <text x=\"{2}\" y=\"{3:.1}\" font-size=\"10\" fill=\"{MUTED}\" text-anchor=\"end\">{v:.0}</text>\n",
            y(v),
            w - right,
            left - 4.0,
            y(v) + 3.5
        ));
        v += step;
    }
    for (i, d) in days.iter().enumerate() {
        if d.date.weekday() == chrono::Weekday::Mon && (days.len() - i) % 14 <= 6 {
            // A label at the right edge ends there instead of running off.
            let anchor = if x(i) > w - right - 20.0 {
                "end"
            } else {
                "middle"
            };
            s.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{}\" font-size=\"10\" fill=\"{MUTED}\" text-anchor=\"{anchor}\">{}</text>\n",
                x(i),
                h - 8.0,
                escape(&d.date.format("%-d %b").to_string())
            ));
        }
    }
    for (colour, value) in [
        (
            CTL_COLOUR,
            (|d: &metrics::Day| d.ctl) as fn(&metrics::Day) -> f64,
        ),
        (ATL_COLOUR, |d: &metrics::Day| d.atl),
        (TSB_COLOUR, |d: &metrics::Day| d.tsb),
    ] {
        let points: Vec<String> = days
            .iter()
            .enumerate()
            .map(|(i, d)| format!("{:.1},{:.1}", x(i), y(value(d))))
            .collect();
        s.push_str(&format!(
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" stroke-linejoin=\"round\" points=\"{}\"/>\n",
            points.join(" ")
        ));
    }
    s.push_str("</svg>\n");
    s
}

/// Weekly distance as bars with their kilometres, inline SVG.
fn volume_bars(weeks: &[WeekFig]) -> String {
    let (w, h) = (600.0, 160.0);
    let (top, bottom) = (18.0, 22.0);
    let ph = h - top - bottom;
    let max = weeks.iter().map(|x| x.km_value).fold(0.0_f64, f64::max);
    let slot = w / weeks.len().max(1) as f64;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"Weekly distance\" style=\"max-width:100%;height:auto;font-family:Helvetica,Arial,sans-serif\">\n\
         <title>Weekly distance in km</title>\n"
    );
    for (i, wk) in weeks.iter().enumerate() {
        let bh = if max > 0.0 {
            wk.km_value / max * ph
        } else {
            0.0
        };
        let cx = slot * (i as f64 + 0.5);
        s.push_str(&format!(
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{CTL_COLOUR}\" rx=\"2\"/>\
             <text x=\"{cx:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"{INK}\" text-anchor=\"middle\">{}</text>\
             <text x=\"{cx:.1}\" y=\"{}\" font-size=\"10\" fill=\"{MUTED}\" text-anchor=\"middle\">{}</text>\n",
            cx - slot * 0.3,
            top + ph - bh,
            slot * 0.6,
            top + ph - bh - 4.0,
            escape(&wk.km),
            h - 6.0,
            escape(&wk.label)
        ));
    }
    s.push_str("</svg>\n");
    s
}

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain connection upgraded with STARTTLS, which is required: a server
    /// that does not offer it gets nothing.
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only to a server on this machine.
    None,
}

impl Security {
    fn parse(s: &str) -> Result<Self, SendError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "starttls" => Ok(Self::StartTls),
            "tls" | "ssl" => Ok(Self::Tls),
            "none" | "plain" => Ok(Self::None),
            other => Err(SendError::Settings(format!(
                "SMTP_SECURITY must be starttls, tls or none, not \"{other}\""
            ))),
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Self::StartTls => 587,
            Self::Tls => 465,
            Self::None => 25,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::StartTls => "STARTTLS",
            Self::Tls => "TLS",
            Self::None => "no encryption",
        }
    }
}

/// Why a report was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// A setting is missing or unusable.
    #[error("{0}")]
    Settings(String),
    #[error("the server refused the login: {0}")]
    Login(String),
    #[error("cannot connect to {target}: {detail}")]
    Connect { target: String, detail: String },
    #[error("TLS with {target} failed: {detail}")]
    Tls { target: String, detail: String },
    #[error(
        "{target} does not offer STARTTLS, and the report is not sent in clear (SMTP_SECURITY=tls if it speaks TLS from the first byte, usually on port 465)"
    )]
    NoStartTls { target: String },
    #[error("{target} refused the report: {detail}")]
    Rejected { target: String, detail: String },
    #[error("sending through {target} failed: {detail}")]
    Other { target: String, detail: String },
}

/// Where a report went.
#[derive(Debug, Clone, Serialize)]
pub struct Sent {
    pub to: Vec<String>,
    /// `host:port`.
    pub server: String,
    pub security: &'static str,
}

impl std::fmt::Display for Sent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} via {} ({})",
            self.to.join(", "),
            self.server,
            self.security
        )
    }
}

fn set(v: Option<&String>) -> Option<&str> {
    v.map(|s| s.trim()).filter(|s| !s.is_empty())
}

/// Why reports cannot be sent with these settings, if they cannot.
pub fn not_configured(smtp: &SmtpSettings) -> Option<&'static str> {
    if set(smtp.host.as_ref()).is_none() {
        Some("SMTP_HOST is not set")
    } else if set(smtp.report_to.as_ref()).is_none() {
        Some("REPORT_EMAIL_TO is not set")
    } else {
        None
    }
}

/// A host name or address on this machine.
fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn mailbox(key: &str, value: &str) -> Result<Mailbox, SendError> {
    value
        .trim()
        .parse()
        .map_err(|e| SendError::Settings(format!("{key} \"{value}\" is not an address: {e}")))
}

/// TLS settings: the webpki roots, and those in `smtp.ca_file`.
async fn tls(host: &str, smtp: &SmtpSettings) -> Result<TlsParameters, SendError> {
    let mut b =
        TlsParameters::builder(host.to_owned()).certificate_store(CertificateStore::Default);
    if let Some(file) = &smtp.ca_file {
        let bad = |d: String| SendError::Settings(format!("smtp.ca_file {}: {d}", file.display()));
        let pem = tokio::fs::read(file)
            .await
            .map_err(|e| bad(e.to_string()))?;
        if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
            return Err(bad("no certificate in it (PEM expected)".into()));
        }
        b = b.add_root_certificate(Certificate::from_pem(&pem).map_err(|e| bad(e.to_string()))?);
    }
    b.build_rustls()
        .map_err(|e| SendError::Settings(format!("TLS settings: {e}")))
}

/// Sends `report` as configured in `smtp` (`SMTP_*`, `REPORT_EMAIL_TO`).
pub async fn send(smtp: &SmtpSettings, report: &Report) -> Result<Sent, SendError> {
    let host = set(smtp.host.as_ref())
        .ok_or_else(|| SendError::Settings("SMTP_HOST is not set".into()))?;
    let to_list = set(smtp.report_to.as_ref())
        .ok_or_else(|| SendError::Settings("REPORT_EMAIL_TO is not set".into()))?;
    let security = Security::parse(&smtp.security)?;
    let port = smtp.port.unwrap_or_else(|| security.default_port());
    let target = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    if security == Security::None && !is_loopback(host) {
        return Err(SendError::Settings(format!(
            "SMTP_SECURITY=none is refused for {host}: without TLS the login and the report would cross the network in clear; it is allowed only to a server on this machine (localhost, 127.0.0.1, ::1). Use starttls (port 587) or tls (port 465)"
        )));
    }
    let user = set(smtp.user.as_ref());
    let password = smtp
        .password
        .as_ref()
        .map(|p| p.expose())
        .filter(|p| !p.is_empty());
    let from = match (set(smtp.from.as_ref()), user) {
        (Some(from), _) => mailbox("SMTP_FROM", from)?,
        (None, Some(user)) => user.parse::<Mailbox>().map_err(|_| {
            SendError::Settings(format!(
                "SMTP_FROM is not set and SMTP_USER \"{user}\" is not an address to send from: set SMTP_FROM"
            ))
        })?,
        (None, None) => {
            return Err(SendError::Settings(
                "SMTP_FROM (or SMTP_USER) is not set".into(),
            ));
        }
    };
    let mut builder = Message::builder()
        .from(from)
        .subject(report.subject.clone())
        .message_id(None);
    let mut to = Vec::new();
    for address in to_list.split(',').filter(|a| !a.trim().is_empty()) {
        let m = mailbox("REPORT_EMAIL_TO", address)?;
        to.push(m.to_string());
        builder = builder.to(m);
    }
    let message = builder
        .multipart(MultiPart::alternative_plain_html(
            report.text.clone(),
            report.html.clone(),
        ))
        .map_err(|e| SendError::Settings(format!("cannot write the message: {e}")))?;

    let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(port)
        .timeout(Some(SMTP_TIMEOUT))
        .tls(match security {
            Security::StartTls => Tls::Required(tls(host, smtp).await?),
            Security::Tls => Tls::Wrapper(tls(host, smtp).await?),
            Security::None => Tls::None,
        });
    match (user, password) {
        (Some(u), Some(p)) => {
            transport = transport.credentials(Credentials::new(u.to_owned(), p.to_owned()));
        }
        (Some(_), None) => {
            tracing::warn!("SMTP_USER is set without SMTP_PASSWORD: sending without a login");
        }
        _ => {}
    }
    let transport = transport.build();
    transport
        .send(message)
        .await
        .map_err(|e| explain(&e, &target, security, user.is_some() && password.is_some()))?;
    tracing::info!(server = %target, to = %to.join(", "), "training report sent");
    Ok(Sent {
        to,
        server: target,
        security: security.name(),
    })
}

/// Every message in an error's chain.
fn chain(e: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut out = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        out.push(s.to_string());
        source = s.source();
    }
    out
}

/// A lettre error as the owner can act on it.
fn explain(
    e: &lettre::transport::smtp::Error,
    target: &str,
    security: Security,
    login: bool,
) -> SendError {
    use std::error::Error as _;
    let server_said = e
        .source()
        .map(ToString::to_string)
        .unwrap_or_default()
        .trim()
        .to_owned();
    if let Some(code) = e.status() {
        let code = code.to_string();
        let detail = format!("{code} {server_said}");
        return match code.as_str() {
            "534" | "535" | "538" if login => SendError::Login(detail),
            "530" if !login => SendError::Rejected {
                target: target.to_owned(),
                detail: format!("{detail} (it wants a login: set SMTP_USER and SMTP_PASSWORD)"),
            },
            _ => SendError::Rejected {
                target: target.to_owned(),
                detail,
            },
        };
    }
    let messages = chain(e);
    let all = messages.join(": ");
    let io = {
        let mut found = None;
        let mut source = e.source();
        while let Some(s) = source {
            if let Some(io) = s.downcast_ref::<std::io::Error>() {
                found = Some(io.kind());
                break;
            }
            source = s.source();
        }
        found
    };
    let lower = all.to_lowercase();
    if lower.contains("starttls is not supported") {
        return SendError::NoStartTls {
            target: target.to_owned(),
        };
    }
    if lower.contains("no compatible authentication mechanism") {
        return SendError::Login(
            "it offers no login method OpenZero can use (PLAIN or LOGIN)".into(),
        );
    }
    match io {
        Some(std::io::ErrorKind::ConnectionRefused) => {
            return SendError::Connect {
                target: target.to_owned(),
                detail: "connection refused (is the server running there, and is SMTP_PORT right?)"
                    .into(),
            };
        }
        Some(std::io::ErrorKind::TimedOut) => {
            return SendError::Connect {
                target: target.to_owned(),
                detail: format!("no answer within {} s", SMTP_TIMEOUT.as_secs()),
            };
        }
        _ => {}
    }
    let innermost = messages.last().cloned().unwrap_or_default();
    if security == Security::Tls && lower.contains("corrupt message") {
        return SendError::Tls {
            target: target.to_owned(),
            detail: format!(
                "it did not answer in TLS ({innermost}); on a STARTTLS port (587) set SMTP_SECURITY=starttls"
            ),
        };
    }
    if e.is_tls()
        || (security != Security::None
            && ["certificate", "tls", "handshake", "corrupt message"]
                .iter()
                .any(|w| lower.contains(w)))
    {
        return SendError::Tls {
            target: target.to_owned(),
            detail: format!(
                "{innermost}; check SMTP_SECURITY (starttls on 587, tls on 465), and smtp.ca_file for a server with its own certificate"
            ),
        };
    }
    SendError::Other {
        target: target.to_owned(),
        // lettre's own text already carries its sources.
        detail: e.to_string(),
    }
}

/// The weekly report as a scheduled job.
pub fn jobs(loaded: &Loaded) -> Result<Vec<Job>, AppError> {
    Ok(vec![Job::new(
        loaded,
        JOB,
        &loaded.settings.schedule.training_report,
        StdDuration::from_secs(180),
        Arc::new(ReportTask),
    )?])
}

#[derive(Debug)]
struct ReportTask;

#[async_trait::async_trait]
impl Task for ReportTask {
    async fn run(&self, services: &Arc<Services>) -> Result<String, AppError> {
        let smtp = &services.loaded.settings.smtp;
        if let Some(why) = not_configured(smtp) {
            return Ok(format!("skipped: {why}"));
        }
        if services.store.activities(1).await?.is_empty() {
            return Ok("skipped: no activities yet (`openzero training import FILE...`)".into());
        }
        let report = build(services).await?;
        let sent = send(smtp, &report)
            .await
            .map_err(|e| AppError::Invalid(e.to_string()))?;
        Ok(format!("sent \"{}\" to {sent}", report.subject))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use chrono::{TimeZone, Utc};
    use openzero_config::Secret;
    use training_coach::WeekOut;

    fn day(d: NaiveDate, ctl: f64) -> metrics::Day {
        metrics::Day {
            date: d,
            load: 0.0,
            ctl,
            atl: ctl * 1.5,
            tsb: -ctl / 2.0,
        }
    }

    fn input() -> Input {
        let today = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
        let weeks: Vec<WeekOut> = (0..12)
            .map(|i| WeekOut {
                monday: NaiveDate::from_ymd_opt(2026, 9, 7).unwrap() + Duration::weeks(i),
                runs: 2,
                distance_m: 10_000.0 + i as f64 * 1000.0,
                moving_s: 3600.0,
                load: 100.0,
            })
            .collect();
        let run = ActivityRow {
            id: 7,
            source: "file".into(),
            external_id: "x".into(),
            sport: "running".into(),
            name: Some("<script>alert('x')</script> & co".into()),
            start_at: Utc.with_ymd_and_hms(2026, 11, 28, 23, 30, 0).unwrap(),
            elapsed_s: 3000.0,
            moving_s: 2990.0,
            distance_m: 10_012.0,
            avg_hr: Some(151.4),
            trimp: Some(97.2),
            efficiency: None,
            imported_at: Utc.with_ymd_and_hms(2026, 11, 29, 8, 0, 0).unwrap(),
        };
        Input {
            tz: chrono_tz::Europe::Berlin,
            metrics: Metrics {
                date: today,
                ctl: 23.456,
                atl: 41.2,
                tsb: -12.04,
                acute_chronic: Some(1.756),
                weeks,
                chart: Vec::new(),
            },
            recent: vec![
                ActivityRow {
                    id: 5,
                    name: None,
                    start_at: Utc.with_ymd_and_hms(2026, 11, 9, 7, 0, 0).unwrap(),
                    trimp: Some(120.0),
                    ..run.clone()
                },
                ActivityRow {
                    id: 6,
                    name: Some("Easy".into()),
                    start_at: Utc.with_ymd_and_hms(2026, 11, 19, 7, 0, 0).unwrap(),
                    trimp: Some(80.0),
                    ..run.clone()
                },
                run,
            ],
            chart: (0..84)
                .map(|i| day(today - Duration::days(83 - i), i as f64 / 3.0))
                .collect(),
            goal: None,
        }
    }

    #[test]
    fn both_parts_carry_the_same_figures_and_names_are_escaped() {
        let r = compose(&input());
        for part in [&r.text, &r.html] {
            assert!(part.contains("23.5"), "CTL");
            assert!(part.contains("41.2"), "ATL");
            assert!(part.contains("-12.0"), "TSB");
            assert!(part.contains("1.76"), "acute:chronic");
            assert!(part.contains("10.01 km"), "distance");
            assert!(part.contains("49:50"), "time");
            assert!(part.contains("4:59 /km"), "pace");
            assert!(part.contains("151 bpm"), "heart rate");
            assert!(part.contains("97"), "TRIMP");
            // The owner's zone: 23:30 UTC is Sunday 00:30 in Berlin.
            assert!(
                part.contains("Sun 29 Nov 00:30"),
                "date in the owner's zone"
            );
            assert!(part.contains("21.0"), "the last week's distance");
        }
        assert!(r.text.contains("<script>alert('x')</script> & co"));
        assert!(!r.html.contains("<script"));
        assert!(
            r.html
                .contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co")
        );
        assert!(r.html.contains("<svg") && r.html.contains("<polyline"));
        assert_eq!(r.html.matches("<polyline").count(), 3);
        assert!(
            r.subject.starts_with(
                "Training 23 Nov – 29 Nov: 1 run, 10.0 km, 49:50, load 97, form -12.0"
            )
        );
        assert!(!r.subject.contains('\n'));
        // The last seven days against the four weeks before them (loads
        // 120 on 9 Nov and 80 on 19 Nov there: 50 a week).
        assert!(r.text.contains(
            "The last 7 days (Mon 23 Nov – Sun 29 Nov): 1 run · 10.0 km · 49:50 · load 97; \
             the 4 weeks before averaged load 50 a week (+94 %)."
        ));
        assert!(r.html.contains("(+94 %)"));
        assert_eq!(r.runs, 1);
    }

    #[test]
    fn the_goal_race_is_shown_and_its_name_escaped() {
        let mut i = input();
        i.goal = Some(GoalOut {
            name: "Half <b>marathon</b>".into(),
            date: NaiveDate::from_ymd_opt(2027, 3, 14).unwrap(),
            distance_m: 21_097.5,
            target: "1:45:00".into(),
            days_left: 105,
            weeks_left: 15.0,
            pace_needed: "4:59".into(),
            predicted: Some("2:02:35".into()),
            predicted_from: NaiveDate::from_ymd_opt(2026, 11, 20),
            on_track: Some(false),
            race_day_tsb: 12.34,
        });
        let r = compose(&i);
        for part in [&r.text, &r.html] {
            assert!(part.contains("105 days (15.0 weeks) left; it needs 4:59 /km."));
            assert!(part.contains("Predicted 2:02:35"));
            assert!(part.contains("not yet on track"));
            assert!(part.contains("+12.3"));
        }
        assert!(r.html.contains("Half &lt;b&gt;marathon&lt;/b&gt;"));
        assert!(r.subject.ends_with("15.0 weeks to Half <b>marathon</b>"));
    }

    #[test]
    fn an_empty_history_still_makes_a_report() {
        let mut i = input();
        i.recent.clear();
        i.chart = (0..84)
            .map(|d| {
                day(
                    NaiveDate::from_ymd_opt(2026, 9, 7).unwrap() + Duration::days(d),
                    0.0,
                )
            })
            .collect();
        let r = compose(&i);
        assert!(r.text.contains("No runs in the last 7 days."));
        assert!(r.html.contains("<svg"));
        assert!(!r.html.contains("NaN") && !r.html.contains("inf"));
    }

    fn smtp(host: &str, security: &str) -> SmtpSettings {
        SmtpSettings {
            host: Some(host.into()),
            security: security.into(),
            user: Some("me@example.com".into()),
            password: Some(Secret::new("hunter2")),
            report_to: Some("me@example.com".into()),
            ..SmtpSettings::default()
        }
    }

    #[tokio::test]
    async fn settings_are_checked_before_connecting() {
        let r = compose(&input());
        async fn fails(s: SmtpSettings, r: &Report) -> String {
            send(&s, r).await.unwrap_err().to_string()
        }
        let mut none = smtp("", "starttls");
        none.host = None;
        assert_eq!(fails(none, &r).await, "SMTP_HOST is not set");
        let e = fails(smtp("smtp.example.com", "none"), &r).await;
        assert!(
            e.contains("SMTP_SECURITY=none is refused for smtp.example.com"),
            "{e}"
        );
        assert!(!e.contains("hunter2"));
        let e = fails(smtp("smtp.example.com", "sometimes"), &r).await;
        assert!(e.contains("must be starttls, tls or none"), "{e}");
        assert!(is_loopback("127.0.0.1") && is_loopback("::1") && is_loopback("[::1]"));
        assert!(
            is_loopback("localhost") && !is_loopback("10.0.0.1") && !is_loopback("example.com")
        );
        // The password is not in the settings' Debug.
        assert!(!format!("{:?}", smtp("h", "tls")).contains("hunter2"));
    }

    #[tokio::test]
    async fn a_closed_port_says_connection_refused_with_the_address() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut s = smtp("127.0.0.1", "none");
        s.port = Some(port);
        let e = send(&s, &compose(&input())).await.unwrap_err().to_string();
        assert!(
            e.starts_with(&format!(
                "cannot connect to 127.0.0.1:{port}: connection refused"
            )),
            "{e}"
        );
    }
}
