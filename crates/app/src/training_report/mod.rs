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

mod chart;
mod smtp;
#[cfg(test)]
mod tests;

pub use chart::form_chart;
use chart::volume_bars;
pub use smtp::{Security, SendError, Sent, not_configured, send};
