//! `openzero training import|list|show|metrics|goal|report`: activities from
//! GPX, TCX and FIT files, the coach's numbers and the weekly report.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use openzero_app::training::{self, FileOutcome};
use openzero_config::Loaded;

#[derive(Debug, Subcommand)]
pub enum TrainingCommand {
    /// Import activity files (GPX, TCX, FIT from Garmin, Coros, Wahoo, Suunto, Apple exports)
    #[command(after_help = "\
Examples:
  openzero training import ~/Downloads/Morning_Run.fit
  openzero training import exports/*.gpx exports/*.tcx
  openzero training import run.fit --json

Each file is read whole or skipped with the reason (bad dates, times
running backwards, no timed samples, a damaged file); the rest are
imported. A file imported before is recognised by its bytes and not added
twice. Training load (TRIMP) uses your heart rates (`training profile`).")]
    Import {
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
        /// One JSON object per file: file, outcome (added, already, skipped), activity or reason
        #[arg(long)]
        json: bool,
    },

    /// The activities, newest first
    #[command(after_help = "\
Examples:
  openzero training list
  openzero training list --limit 5 --json")]
    List {
        #[arg(long, default_value_t = 20)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },

    /// One activity: time in heart-rate zones, aerobic decoupling, climbing, efficiency
    #[command(after_help = "\
Examples:
  openzero training show 3
  openzero training show 3 --json

Zones are fractions of heart-rate reserve (`training profile`): Z1 under
60 %, Z2 60–70, Z3 70–80, Z4 80–90, Z5 above; or of the threshold heart
rate when one is set (under 85 %, 85–90, 90–95, 95–100, above).
Decoupling is the efficiency lost from the first half to the second (under
5 % on a long steady run: the aerobic base holds). The flat efficiency
counts each metre climbed as 8 m on the flat; where the file has the air
temperature, the efficiency for the heat adds 0.4 % per °C above 15 °C.")]
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },

    /// Fitness, fatigue and form (CTL, ATL, TSB), the acute:chronic ratio, weekly volume
    #[command(after_help = "\
Examples:
  openzero training metrics
  openzero training metrics --weeks 12 --json

CTL (fitness) and ATL (fatigue) are the 42- and 7-day exponentially
weighted averages of daily TRIMP; TSB (form) is yesterday's CTL − ATL. An
acute:chronic ratio above 1.5 means load is rising faster than fitness.")]
    Metrics {
        /// Weeks of volume shown
        #[arg(long, default_value_t = 4)]
        weeks: u32,
        #[arg(long)]
        json: bool,
    },

    /// Your heart rates (resting, maximum, threshold): see or change them
    #[command(after_help = "\
Examples:
  openzero training profile
  openzero training profile --hr-rest 48 --hr-max 188
  openzero training profile --threshold 171
  openzero training profile --female --json

Until set here, training.hr_rest and training.hr_max from the settings are
used. Training load (Banister's TRIMP) uses the heart-rate reserve and a
weighting of 1.92 (1.67 with --female); time in zones uses the threshold
when one is set (Friel: under 85 %, 85–90, 90–95, 95–100, above), else the
reserve. A change recomputes the load of every activity kept.")]
    Profile {
        /// Resting heart rate, bpm
        #[arg(long)]
        hr_rest: Option<u32>,
        /// Maximum heart rate, bpm
        #[arg(long)]
        hr_max: Option<u32>,
        /// Lactate-threshold heart rate, bpm
        #[arg(long)]
        threshold: Option<u32>,
        /// Weight TRIMP as Banister did for women (1.67)
        #[arg(long, conflicts_with = "male")]
        female: bool,
        /// Weight TRIMP as Banister did for men (1.92, the default)
        #[arg(long)]
        male: bool,
        #[arg(long)]
        json: bool,
    },

    /// The goal race: set it, or see where it stands
    #[command(after_help = "\
Examples:
  openzero training goal \"Half marathon\" 2027-03-14 1:45:00
  openzero training goal                 # weeks left, pace needed, prediction, form on race day
  openzero training goal --json
  openzero training goal --clear

The prediction is Riegel's formula from your best run of 3 km or more in
the last six weeks; race-day form assumes today's load until two weeks
out, then 60 % and 40 % of it.")]
    Goal {
        /// Race name saying its distance (marathon, half marathon, 10k, 30 km, 10 mi)
        name: Option<String>,
        /// Race day, YYYY-MM-DD
        date: Option<String>,
        /// Target time, H:MM:SS or MM:SS
        target: Option<String>,
        #[arg(long, conflicts_with_all = ["name", "date", "target"])]
        clear: bool,
        #[arg(long)]
        json: bool,
    },

    /// The weekly report: runs, load, a fitness/fatigue/form chart, the goal race; shown or emailed
    #[command(after_help = "\
Examples:
  openzero training report                     # the plain-text part
  openzero training report --html week.html    # and the HTML part, to open in a browser
  openzero training report --json              # subject, text and html
  openzero training report --send              # email it to REPORT_EMAIL_TO

The email is multipart/alternative: plain text, then HTML with the last
12 weeks of fitness (CTL), fatigue (ATL) and form (TSB) drawn as inline
SVG and weekly distance as bars. --send uses SMTP_HOST, SMTP_PORT,
SMTP_SECURITY (starttls, the default; tls; or none, only to this
machine), SMTP_USER, SMTP_PASSWORD, SMTP_FROM and smtp.ca_file for a
server with its own certificate. The training-report job sends it on
schedule.training_report (Sundays at 18:00).")]
    Report {
        /// Email it (SMTP_HOST, REPORT_EMAIL_TO)
        #[arg(long)]
        send: bool,
        /// Also write the HTML part to FILE
        #[arg(long, value_name = "FILE")]
        html: Option<std::path::PathBuf>,
        /// Subject, text and html as JSON
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(loaded: &Loaded, cmd: TrainingCommand) -> Result<ExitCode> {
    let services = openzero_server::services(loaded.clone()).await?;
    let result = command(&services, cmd).await;
    services.store.close().await;
    result
}

async fn command(services: &openzero_app::Services, cmd: TrainingCommand) -> Result<ExitCode> {
    let tz = services.tz();
    match cmd {
        TrainingCommand::Import { files, json } => {
            let bar = (files.len() > 3 && std::io::stderr().is_terminal())
                .then(|| crate::memory_cmd::bar(files.len() as u64, "importing"));
            let (mut added, mut already, mut skipped) = (0, 0, 0);
            for path in &files {
                let shown = path.display().to_string();
                let outcome = match std::fs::read(path) {
                    Ok(bytes) => training::import(services, &bytes).await?,
                    Err(e) => FileOutcome::Skipped {
                        reason: format!("cannot read it: {e}"),
                    },
                };
                match &outcome {
                    FileOutcome::Added { .. } => added += 1,
                    FileOutcome::Already => already += 1,
                    FileOutcome::Skipped { .. } => skipped += 1,
                }
                if json {
                    let mut v = serde_json::to_value(&outcome)?;
                    v["file"] = shown.into();
                    outln!("{v}");
                } else {
                    match outcome {
                        FileOutcome::Added { activity, warnings } => {
                            outln!("{shown}: {}", training::line(&activity, tz));
                            for w in warnings {
                                outln!("  note: {w}");
                            }
                        }
                        FileOutcome::Already => outln!("{shown}: imported before"),
                        FileOutcome::Skipped { reason } => outln!("{shown}: skipped: {reason}"),
                    }
                }
                if let Some(b) = &bar {
                    b.inc(1);
                }
            }
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            if !json {
                outln!("{added} imported, {already} imported before, {skipped} skipped.");
            }
            // Every file refused: say so with the exit status.
            if added + already == 0 {
                return Ok(ExitCode::FAILURE);
            }
        }
        TrainingCommand::Show { id, json } => {
            let Some(a) = openzero_app::training_coach::show(services, id).await? else {
                anyhow::bail!("there is no activity #{id} (see `openzero training list`)");
            };
            if json {
                outln!("{}", serde_json::to_string_pretty(&a)?);
            } else {
                outln!("{}", training::line(&a.activity, tz));
                if let Some(z) = a.zones_s {
                    let total: f64 = z.iter().sum::<f64>().max(1.0);
                    let parts: Vec<String> = z
                        .iter()
                        .enumerate()
                        .map(|(i, s)| {
                            format!(
                                "Z{} {} ({:.0} %)",
                                i + 1,
                                openzero_training::metrics::clock(*s),
                                s / total * 100.0
                            )
                        })
                        .collect();
                    outln!("heart-rate zones: {}", parts.join(" · "));
                }
                if let Some(d) = a.decoupling_pct {
                    outln!("aerobic decoupling: {d:.1} %");
                }
                outln!("climbed: {:.0} m", a.elevation_gain_m);
                if let Some(t) = a.temperature_c {
                    outln!("temperature: {t:.1} °C");
                }
                if let (Some(ef), Some(flat)) = (a.activity.efficiency, a.efficiency_flat) {
                    match (a.temperature_c, a.efficiency_fair) {
                        (Some(_), Some(fair)) => outln!(
                            "efficiency factor: {ef:.2} (with climbing as flat distance: {flat:.2}; and for the heat: {fair:.2})"
                        ),
                        _ => outln!(
                            "efficiency factor: {ef:.2} (with climbing as flat distance: {flat:.2})"
                        ),
                    }
                }
                if a.laps > 0 {
                    outln!("laps: {}", a.laps);
                }
            }
        }
        TrainingCommand::Metrics { weeks, json } => {
            let m = openzero_app::training_coach::metrics(services, weeks.clamp(1, 52)).await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&m)?);
            } else {
                outln!(
                    "{}: fitness (CTL) {:.1} · fatigue (ATL) {:.1} · form (TSB) {:+.1}{}",
                    m.date,
                    m.ctl,
                    m.atl,
                    m.tsb,
                    m.acute_chronic
                        .map(|r| format!(" · acute:chronic {r:.2}"))
                        .unwrap_or_default()
                );
                for w in &m.weeks {
                    outln!(
                        "week of {}: {} run{}, {:.1} km, {}, load {:.0}",
                        w.monday,
                        w.runs,
                        if w.runs == 1 { "" } else { "s" },
                        w.distance_m / 1000.0,
                        openzero_training::metrics::clock(w.moving_s),
                        w.load
                    );
                }
            }
        }
        TrainingCommand::Goal {
            name,
            date,
            target,
            clear,
            json,
        } => {
            use openzero_app::training_coach;
            if clear {
                training_coach::clear_goal(services).await?;
                outln!("The goal race is cleared.");
                return Ok(ExitCode::SUCCESS);
            }
            let goal = match (name, date, target) {
                (Some(n), Some(d), Some(t)) => {
                    Some(training_coach::set_goal(services, &n, &d, &t).await?)
                }
                (None, None, None) => training_coach::goal(services).await?,
                _ => anyhow::bail!("give the race name, its date and the target time (see --help)"),
            };
            match (goal, json) {
                (Some(g), true) => outln!("{}", serde_json::to_string_pretty(&g)?),
                (None, true) => outln!("null"),
                (None, false) => outln!(
                    "No goal race: `openzero training goal \"Half marathon\" 2027-03-14 1:45:00`."
                ),
                (Some(g), false) => {
                    outln!(
                        "{} on {} in {}: {} days ({:.1} weeks) left; it needs {} /km.",
                        g.name,
                        g.date,
                        g.target,
                        g.days_left,
                        g.weeks_left,
                        g.pace_needed
                    );
                    match (&g.predicted, g.predicted_from, g.on_track) {
                        (Some(p), Some(from), Some(ok)) => outln!(
                            "Predicted {p} from your run of {from}: {}.",
                            if ok { "on track" } else { "not yet on track" }
                        ),
                        _ => outln!(
                            "No prediction yet: no run of 3 km or more in the last six weeks."
                        ),
                    }
                    outln!(
                        "Form on race day with a two-week taper: {:+.1}.",
                        g.race_day_tsb
                    );
                }
            }
        }
        TrainingCommand::Profile {
            hr_rest,
            hr_max,
            threshold,
            female,
            male,
            json,
        } => {
            let change = training::Profile {
                hr_rest,
                hr_max,
                hr_threshold: threshold,
                female: (female || male).then_some(female),
            };
            let p = if change == training::Profile::default() {
                training::profile(services).await?
            } else {
                training::set_profile(services, change).await?
            };
            if json {
                outln!("{}", serde_json::to_string_pretty(&p)?);
            } else {
                outln!(
                    "Resting {} bpm · maximum {} bpm · threshold {} · TRIMP weighting {} ({})",
                    p.hr_rest,
                    p.hr_max,
                    p.hr_threshold
                        .map_or_else(|| "not set".to_owned(), |t| format!("{t} bpm")),
                    if p.female { "1.67" } else { "1.92" },
                    if p.from == "profile" {
                        "your profile"
                    } else {
                        "from the settings; set them here"
                    }
                );
                if let Some(n) = p.recomputed {
                    outln!("The load of {n} activities was recomputed.");
                }
            }
        }
        TrainingCommand::Report { send, html, json } => {
            use openzero_app::training_report;
            let report = training_report::build(services).await?;
            if let Some(path) = &html {
                std::fs::write(path, &report.html).map_err(|e| {
                    anyhow::anyhow!("cannot write the HTML to {}: {e}", path.display())
                })?;
            }
            let sent = if send {
                Some(training_report::send(&services.loaded.settings.smtp, &report).await?)
            } else {
                None
            };
            if json {
                let mut v = serde_json::to_value(&report)?;
                v["sent"] = serde_json::to_value(&sent)?;
                outln!("{}", serde_json::to_string_pretty(&v)?);
            } else if let Some(s) = sent {
                outln!("Sent \"{}\" to {s}.", report.subject);
            } else {
                outln!("Subject: {}\n", report.subject);
                outln!("{}", report.text.trim_end());
            }
            if let (Some(path), false) = (&html, json) {
                outln!("The HTML part is in {}.", path.display());
            }
        }
        TrainingCommand::List { limit, json } => {
            let all = services.store.activities(limit.max(1)).await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&all)?);
            } else if all.is_empty() {
                outln!("No activities yet: `openzero training import FILE...` (GPX, TCX or FIT).");
            } else {
                for a in &all {
                    outln!("{}", training::line(a, tz));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
