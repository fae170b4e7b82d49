//! The coach's numbers, as pure functions: heart-rate zones, aerobic
//! decoupling, an elevation-fair efficiency factor, fitness / fatigue /
//! form (CTL, ATL, TSB), the acute:chronic ratio, weekly volume, Riegel's
//! race prediction and the goal race with a taper projection.
//!
//! Nothing here reads a clock: "today" is passed in.

use chrono::{Datelike, Duration, NaiveDate};

use crate::Activity;
use crate::load::HeartRates;

/// Seconds spent in each of five heart-rate zones. By fraction of
/// heart-rate reserve (Karvonen): Z1 < 60 %, Z2 60–70 %, Z3 70–80 %,
/// Z4 80–90 %, Z5 ≥ 90 %; or, when the lactate-threshold heart rate is
/// known, by fraction of it (Friel's running zones, simplified to five):
/// Z1 < 85 %, Z2 85–90 %, Z3 90–95 %, Z4 95–100 %, Z5 ≥ 100 %. Pauses
/// count nothing.
pub fn zones(a: &Activity, hr: HeartRates) -> Option<[f64; 5]> {
    let span = hr.max - hr.rest;
    let zone: Box<dyn Fn(f64) -> usize> = match hr.threshold {
        Some(t) if t > 0.0 => Box::new(move |h| match h / t {
            x if x < 0.85 => 0,
            x if x < 0.90 => 1,
            x if x < 0.95 => 2,
            x if x < 1.0 => 3,
            _ => 4,
        }),
        _ if span <= 0.0 => return None,
        _ => Box::new(move |h| match (h - hr.rest) / span {
            x if x < 0.6 => 0,
            x if x < 0.7 => 1,
            x if x < 0.8 => 2,
            x if x < 0.9 => 3,
            _ => 4,
        }),
    };
    let mut out = [0.0; 5];
    let mut any = false;
    for w in a.samples.windows(2) {
        let Some(h) = w[0].heart_rate else { continue };
        let dt = (w[1].at - w[0].at).num_milliseconds() as f64 / 1000.0;
        if dt <= 0.0 || dt > crate::PAUSE_S {
            continue;
        }
        any = true;
        out[zone(f64::from(h))] += dt;
    }
    any.then_some(out)
}

/// Metres covered and heartbeats spent while moving, from sample `from` to `to`.
fn effort(a: &Activity, from: usize, to: usize) -> Option<(f64, f64)> {
    let (mut metres, mut beats) = (0.0, 0.0);
    for w in a.samples.get(from..=to)?.windows(2) {
        let dt = (w[1].at - w[0].at).num_milliseconds() as f64 / 1000.0;
        if dt <= 0.0 || dt > crate::PAUSE_S {
            continue;
        }
        let (Some(m), Some(h)) = (crate::step_m(&w[0], &w[1]), w[0].heart_rate) else {
            continue;
        };
        metres += m;
        beats += f64::from(h) * dt / 60.0;
    }
    (beats > 0.0).then_some((metres, beats))
}

/// Aerobic decoupling (Friel's Pa:HR), in percent: how much the efficiency
/// factor (speed ÷ heart rate) falls from the first half of the moving time
/// to the second. Under 5 % on a long steady run means aerobic endurance is
/// there; a negative value means the second half was more efficient.
pub fn decoupling(a: &Activity) -> Option<f64> {
    let n = a.samples.len();
    if n < 4 {
        return None;
    }
    let mid = n / 2;
    let (m1, b1) = effort(a, 0, mid)?;
    let (m2, b2) = effort(a, mid, n - 1)?;
    // EF = speed ÷ heart rate = (metres / minutes) ÷ (beats / minutes) = metres per beat.
    let (ef1, ef2) = (m1 / b1, m2 / b2);
    (ef1 > 0.0).then(|| (ef1 - ef2) / ef1 * 100.0)
}

/// Metres climbed (sum of rises between samples, ignoring rises under
/// 0.5 m as altimeter noise once they have accumulated).
pub fn elevation_gain(a: &Activity) -> f64 {
    let mut gain = 0.0;
    let mut base: Option<f64> = None;
    for s in &a.samples {
        let Some(alt) = s.altitude_m else { continue };
        match base {
            None => base = Some(alt),
            Some(b) if alt - b >= 0.5 => {
                gain += alt - b;
                base = Some(alt);
            }
            Some(b) if alt < b => base = Some(alt),
            Some(_) => {}
        }
    }
    gain
}

/// Metres of flat running one metre of climb costs. Minetti et al. (2002)
/// measured the energy cost of running uphill at gradients of 10–20 % at
/// roughly 4–5× the flat cost per metre travelled; over a run's climbs that
/// comes to about 8 flat metres per metre climbed, the figure Naismith-style
/// rules for runners use. An approximation, stated as such.
pub const FLAT_METRES_PER_METRE_CLIMBED: f64 = 8.0;

/// The efficiency factor with the climbing counted as flat distance, so a
/// hilly run compares fairly with a flat one.
pub fn efficiency_factor_flat(a: &Activity) -> Option<f64> {
    let (moving, hr) = (a.moving_s(), a.average_hr()?);
    let distance = a.distance_m() + FLAT_METRES_PER_METRE_CLIMBED * elevation_gain(a);
    (moving > 0.0 && hr > 0.0).then(|| distance / (moving / 60.0) / hr)
}

/// Above this air temperature (°C) heat costs a runner speed at the same
/// effort.
pub const HEAT_FROM_C: f64 = 15.0;

/// Speed lost per °C above [`HEAT_FROM_C`] at the same heart rate, as a
/// fraction: about 0.4 %. Ely et al. (2007, "Impact of weather on marathon-
/// running performance", Med Sci Sports Exerc 39:487) found marathon times
/// slowing steadily as it warms past the cool optimum; a rule of about
/// 0.3–0.5 % per °C for recreational runners follows from their curves.
/// Heart rate drifts up with heat too, so the efficiency factor (speed ÷
/// heart rate) falls at least this much. An approximation, stated as such.
pub const HEAT_LOSS_PER_C: f64 = 0.004;

/// The mean air temperature over the moving samples that carry one, °C.
pub fn mean_temperature(a: &Activity) -> Option<f64> {
    let (mut sum, mut time) = (0.0, 0.0);
    for w in a.samples.windows(2) {
        let Some(t) = w[0].temperature_c else {
            continue;
        };
        let dt = (w[1].at - w[0].at).num_milliseconds() as f64 / 1000.0;
        if dt <= 0.0 || dt > crate::PAUSE_S {
            continue;
        }
        sum += t * dt;
        time += dt;
    }
    (time > 0.0).then(|| sum / time)
}

/// The efficiency factor fair to hills and heat: climbing counted as flat
/// distance ([`efficiency_factor_flat`]), then raised by
/// [`HEAT_LOSS_PER_C`] for each °C the run's mean temperature was above
/// [`HEAT_FROM_C`] — what the same effort would have given in the cool.
/// Without a temperature it is the flat one.
pub fn efficiency_factor_fair(a: &Activity) -> Option<f64> {
    let flat = efficiency_factor_flat(a)?;
    let heat = mean_temperature(a).map_or(0.0, |t| (t - HEAT_FROM_C).max(0.0));
    Some(flat * (1.0 + HEAT_LOSS_PER_C * heat))
}

/// One day of the performance management chart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Day {
    pub date: NaiveDate,
    /// That day's load (sum of TRIMP).
    pub load: f64,
    /// Chronic training load, "fitness": the 42-day exponentially weighted
    /// average of daily load (Coggan's CTL: CTL += (load − CTL) / 42).
    pub ctl: f64,
    /// Acute training load, "fatigue": the same over 7 days.
    pub atl: f64,
    /// Training stress balance, "form": yesterday's CTL − ATL (so a hard
    /// day shows in tomorrow's form, as in Coggan's chart).
    pub tsb: f64,
}

/// The daily chart from `from` to `to` (inclusive) for loads on dates
/// (several on one day add up; days without one count zero).
pub fn form(loads: &[(NaiveDate, f64)], from: NaiveDate, to: NaiveDate) -> Vec<Day> {
    let mut out = Vec::new();
    let (mut ctl, mut atl) = (0.0_f64, 0.0_f64);
    let mut d = from;
    while d <= to {
        let load: f64 = loads.iter().filter(|(x, _)| *x == d).map(|(_, l)| l).sum();
        let tsb = ctl - atl;
        ctl += (load - ctl) / 42.0;
        atl += (load - atl) / 7.0;
        out.push(Day {
            date: d,
            load,
            ctl,
            atl,
            tsb,
        });
        let Some(next) = d.succ_opt() else { break };
        d = next;
    }
    out
}

/// Acute:chronic workload ratio (ATL ÷ CTL; Gabbett): 0.8–1.3 is the band
/// where load is building safely, above 1.5 the risk of injury climbs.
pub fn acute_chronic(day: &Day) -> Option<f64> {
    (day.ctl > 1.0).then(|| day.atl / day.ctl)
}

/// One week of training (Monday to Sunday).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Week {
    pub monday: NaiveDate,
    pub runs: u32,
    pub distance_m: f64,
    pub moving_s: f64,
    pub load: f64,
}

/// Weekly totals of `(day, distance m, moving s, load)` for the `weeks`
/// weeks ending with the one holding `today`, oldest first.
pub fn weekly(runs: &[(NaiveDate, f64, f64, f64)], today: NaiveDate, weeks: u32) -> Vec<Week> {
    let this_monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    (0..weeks)
        .rev()
        .map(|back| {
            let monday = this_monday - Duration::weeks(i64::from(back));
            let sunday = monday + Duration::days(6);
            let mut w = Week {
                monday,
                runs: 0,
                distance_m: 0.0,
                moving_s: 0.0,
                load: 0.0,
            };
            for (d, m, s, l) in runs {
                if *d >= monday && *d <= sunday {
                    w.runs += 1;
                    w.distance_m += m;
                    w.moving_s += s;
                    w.load += l;
                }
            }
            w
        })
        .collect()
}

/// Riegel's prediction (1981): a time `t1` over `d1` becomes
/// `t1 · (d2 / d1)^1.06` over `d2`.
pub fn riegel(t1_s: f64, d1_m: f64, d2_m: f64) -> Option<f64> {
    (t1_s > 0.0 && d1_m > 0.0 && d2_m > 0.0).then(|| t1_s * (d2_m / d1_m).powf(1.06))
}

/// A race distance from its name: marathon, half marathon, 10k, 5 km,
/// "21.1 km", "15000 m", "10 mi".
pub fn race_distance(name: &str) -> Option<f64> {
    let n = name.trim().to_lowercase().replace(['-', '_'], " ");
    if n.contains("half") && n.contains("marathon") {
        return Some(21_097.5);
    }
    if n.contains("marathon") {
        return Some(42_195.0);
    }
    let digits: String = n
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ',')
        .collect();
    let value: f64 = digits.replace(',', ".").parse().ok()?;
    let unit = n[digits.len()..].trim();
    let metres = match unit {
        "k" | "km" | "k run" | "km run" => value * 1000.0,
        "m" => value,
        "mi" | "mile" | "miles" => value * 1609.344,
        _ => return None,
    };
    (metres > 0.0).then_some(metres)
}

/// `H:MM:SS` or `MM:SS` as seconds.
pub fn parse_duration(s: &str) -> Option<f64> {
    let parts: Vec<&str> = s.trim().split(':').collect();
    let nums: Option<Vec<f64>> = parts.iter().map(|p| p.parse::<f64>().ok()).collect();
    let nums = nums?;
    let secs = match nums.as_slice() {
        [h, m, s] if *m < 60.0 && *s < 60.0 => h * 3600.0 + m * 60.0 + s,
        [m, s] if *s < 60.0 => m * 60.0 + s,
        _ => return None,
    };
    (secs > 0.0).then_some(secs)
}

/// Seconds as `H:MM:SS` (or `M:SS` under an hour).
pub fn clock(secs: f64) -> String {
    let t = secs.round().max(0.0) as u64;
    let (h, m, s) = (t / 3600, t / 60 % 60, t % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// The goal race.
#[derive(Debug, Clone, PartialEq)]
pub struct Goal {
    pub name: String,
    pub date: NaiveDate,
    pub distance_m: f64,
    pub target_s: f64,
}

/// Where the goal stands.
#[derive(Debug, Clone, PartialEq)]
pub struct GoalStatus {
    pub days_left: i64,
    pub weeks_left: f64,
    /// The pace the target needs, seconds per km.
    pub pace_needed_s_per_km: f64,
    /// Riegel's prediction from the best recent run, and that run's day.
    pub predicted_s: Option<f64>,
    pub predicted_from: Option<NaiveDate>,
    /// Whether the prediction is at or under the target.
    pub on_track: Option<bool>,
    /// Form (TSB) on race day if training follows the planned taper.
    pub race_day_tsb: f64,
}

/// Days before the race the taper starts, and the share of the usual daily
/// load kept in its first and second week (a common two-week taper:
/// volume down to ~60 %, then ~40 %; Mujika & Padilla 2003 found 41–60 %
/// reductions over 2 weeks work best).
pub const TAPER_DAYS: i64 = 14;
const TAPER_WEEK1: f64 = 0.6;
const TAPER_WEEK2: f64 = 0.4;

/// The goal's status on `today`: `loads` for the form chart (from
/// `history_from`), `runs` as `(day, distance m, moving s)` for the
/// prediction (runs of 3 km or more in the last 42 days count).
pub fn goal_status(
    goal: &Goal,
    today: NaiveDate,
    history_from: NaiveDate,
    loads: &[(NaiveDate, f64)],
    runs: &[(NaiveDate, f64, f64)],
) -> GoalStatus {
    let days_left = (goal.date - today).num_days();
    let best = runs
        .iter()
        .filter(|(d, m, s)| {
            *m >= 3000.0 && *s > 0.0 && *d <= today && (today - *d).num_days() <= 42
        })
        .filter_map(|(d, m, s)| riegel(*s, *m, goal.distance_m).map(|p| (p, *d)))
        .min_by(|a, b| a.0.total_cmp(&b.0));
    // The planned load: the last 28 days' average per day, tapered.
    let chart = form(loads, history_from.min(today), today);
    let recent: f64 = chart.iter().rev().take(28).map(|d| d.load).sum::<f64>() / 28.0;
    let mut planned: Vec<(NaiveDate, f64)> = loads.to_vec();
    let mut d = today;
    while d < goal.date {
        let Some(next) = d.succ_opt() else { break };
        d = next;
        let before = (goal.date - d).num_days();
        let share = match before {
            b if b > TAPER_DAYS => 1.0,
            b if b > TAPER_DAYS / 2 => TAPER_WEEK1,
            _ => TAPER_WEEK2,
        };
        if d < goal.date {
            planned.push((d, recent * share));
        }
    }
    let end = goal.date.max(today);
    let projected = form(&planned, history_from.min(today), end);
    let race_day_tsb = projected.last().map_or(0.0, |x| x.tsb);
    GoalStatus {
        days_left,
        weeks_left: days_left as f64 / 7.0,
        pace_needed_s_per_km: goal.target_s / (goal.distance_m / 1000.0),
        predicted_s: best.map(|b| b.0),
        predicted_from: best.map(|b| b.1),
        on_track: best.map(|b| b.0 <= goal.target_s),
        race_day_tsb,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Format, Sample};
    use chrono::DateTime;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// A run of `minutes` at `mps`, heart rate `hr(second)`, altitude `alt(second)`.
    fn run(minutes: i64, mps: f64, hr: impl Fn(i64) -> u16, alt: impl Fn(i64) -> f64) -> Activity {
        let samples = (0..=minutes * 60)
            .step_by(5)
            .map(|s| {
                let mut x = Sample::at(DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap());
                x.heart_rate = Some(hr(s));
                x.distance_m = Some(s as f64 * mps);
                x.altitude_m = Some(alt(s));
                x
            })
            .collect();
        Activity {
            format: Format::Fit,
            sport: "running".into(),
            name: None,
            samples,
            laps: Vec::new(),
            warnings: Vec::new(),
        }
    }

    const HR: HeartRates = HeartRates {
        rest: 50.0,
        max: 190.0,
        k: 1.92,
        threshold: None,
    };

    #[test]
    fn zones_split_the_moving_time_by_heart_rate_reserve() {
        // 50 + 0.65·140 = 141 bpm is Z2; 50 + 0.95·140 = 183 is Z5.
        let a = run(20, 3.0, |s| if s < 600 { 141 } else { 183 }, |_| 0.0);
        let z = zones(&a, HR).unwrap();
        assert_eq!(z, [0.0, 600.0, 0.0, 0.0, 600.0]);
        assert_eq!(z.iter().sum::<f64>(), a.moving_s());
        // With a threshold of 170: 141 is 83 % (Z1), 183 is 108 % (Z5);
        // 160 is 94 % (Z3).
        let lthr = HeartRates {
            threshold: Some(170.0),
            ..HR
        };
        assert_eq!(zones(&a, lthr).unwrap(), [600.0, 0.0, 0.0, 0.0, 600.0]);
        let tempo = run(20, 3.0, |_| 160, |_| 0.0);
        assert_eq!(zones(&tempo, lthr).unwrap(), [0.0, 0.0, 1200.0, 0.0, 0.0]);
    }

    #[test]
    fn decoupling_is_the_efficiency_lost_in_the_second_half() {
        let steady = run(60, 3.0, |_| 150, |_| 0.0);
        assert!(decoupling(&steady).unwrap().abs() < 0.5);
        // Same pace, heart rate drifting up 10 % in the second half.
        let drift = run(60, 3.0, |s| if s < 1800 { 150 } else { 165 }, |_| 0.0);
        let d = decoupling(&drift).unwrap();
        assert!((d - 9.09).abs() < 0.5, "{d}");
    }

    #[test]
    fn heat_above_15_degrees_raises_the_fair_efficiency_factor() {
        let mut cool = run(30, 3.0, |_| 150, |_| 100.0);
        let flat = efficiency_factor_flat(&cool).unwrap();
        assert_eq!(mean_temperature(&cool), None);
        assert_eq!(
            efficiency_factor_fair(&cool),
            Some(flat),
            "no temperature: as flat"
        );
        for s in &mut cool.samples {
            s.temperature_c = Some(12.0);
        }
        assert_eq!(
            efficiency_factor_fair(&cool),
            Some(flat),
            "cool: nothing to add"
        );
        let mut hot = cool.clone();
        for s in &mut hot.samples {
            s.temperature_c = Some(30.0);
        }
        assert!((mean_temperature(&hot).unwrap() - 30.0).abs() < 1e-9);
        // 15 °C above the threshold: 6 % more.
        let fair = efficiency_factor_fair(&hot).unwrap();
        assert!((fair / flat - 1.06).abs() < 1e-9, "{fair} vs {flat}");
    }

    #[test]
    fn climbing_counts_as_flat_distance_for_a_fair_efficiency_factor() {
        let flat = run(30, 3.0, |_| 150, |_| 100.0);
        // Up 150 m over the run at the same speed and heart rate.
        let hilly = run(30, 3.0, |_| 150, |s| 100.0 + s as f64 / 12.0);
        assert!((elevation_gain(&hilly) - 150.0).abs() < 1.0);
        assert_eq!(elevation_gain(&flat), 0.0);
        let (ef_flat, ef_hilly) = (
            efficiency_factor_flat(&flat).unwrap(),
            efficiency_factor_flat(&hilly).unwrap(),
        );
        // 5400 m + 8 × 150 m.
        assert!((ef_hilly / ef_flat - 6600.0 / 5400.0).abs() < 0.01);
        // Altimeter jitter under half a metre is not climbing.
        let noisy = run(
            30,
            3.0,
            |_| 150,
            |s| 100.0 + if s % 10 == 0 { 0.3 } else { 0.0 },
        );
        assert_eq!(elevation_gain(&noisy), 0.0);
    }

    #[test]
    fn fitness_fatigue_and_form_follow_coggans_chart() {
        // 100 load every day for 42 days: CTL climbs to 1 − (41/42)^42 ≈ 63 %.
        let loads: Vec<(NaiveDate, f64)> = (0..42)
            .map(|i| (day("2026-01-01") + Duration::days(i), 100.0))
            .collect();
        let chart = form(&loads, day("2026-01-01"), day("2026-02-11"));
        let last = chart.last().unwrap();
        assert_eq!(chart.len(), 42);
        assert!((last.ctl - 100.0 * (1.0 - (41.0_f64 / 42.0).powi(42))).abs() < 1e-9);
        assert!((last.atl - 100.0 * (1.0 - (6.0_f64 / 7.0).powi(42))).abs() < 1e-9);
        // Form is yesterday's fitness minus yesterday's fatigue: negative
        // while building.
        assert!(last.tsb < 0.0);
        assert_eq!(chart[0].tsb, 0.0);
        let r = acute_chronic(last).unwrap();
        assert!(r > 1.0 && r < 1.7, "{r}");
        // A rest week afterwards turns form positive.
        let rested = form(&loads, day("2026-01-01"), day("2026-02-18"));
        assert!(rested.last().unwrap().tsb > 0.0);
    }

    #[test]
    fn weeks_run_monday_to_sunday() {
        let runs = [
            (day("2026-11-23"), 10_000.0, 3000.0, 80.0), // Monday
            (day("2026-11-29"), 5_000.0, 1500.0, 40.0),  // Sunday
            (day("2026-11-30"), 8_000.0, 2400.0, 60.0),  // next Monday
        ];
        let w = weekly(&runs, day("2026-12-02"), 2);
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].monday, day("2026-11-23"));
        assert_eq!(
            (w[0].runs, w[0].distance_m, w[0].load),
            (2, 15_000.0, 120.0)
        );
        assert_eq!((w[1].runs, w[1].distance_m), (1, 8_000.0));
    }

    #[test]
    fn riegel_and_race_names() {
        // 10 km in 45:00 predicts a half marathon in 1:39:17.
        let p = riegel(2700.0, 10_000.0, 21_097.5).unwrap();
        assert_eq!(clock(p), "1:39:17");
        assert_eq!(race_distance("Half marathon"), Some(21_097.5));
        assert_eq!(race_distance("Marathon"), Some(42_195.0));
        assert_eq!(race_distance("10k"), Some(10_000.0));
        assert_eq!(race_distance("5 km"), Some(5_000.0));
        assert_eq!(race_distance("21,1 km"), Some(21_100.0));
        assert!((race_distance("10 mi").unwrap() - 16_093.44).abs() < 1e-6);
        assert_eq!(race_distance("park run"), None);
        assert_eq!(parse_duration("1:45:00"), Some(6300.0));
        assert_eq!(parse_duration("45:30"), Some(2730.0));
        assert_eq!(parse_duration("1:75:00"), None);
        assert_eq!(parse_duration("fast"), None);
        assert_eq!(clock(6300.0), "1:45:00");
        assert_eq!(clock(299.6), "5:00");
    }

    #[test]
    fn the_goal_race_needs_a_pace_predicts_a_time_and_tapers_to_fresh_form() {
        let goal = Goal {
            name: "Half marathon".into(),
            date: day("2027-03-14"),
            distance_m: 21_097.5,
            target_s: 6300.0,
        };
        let today = day("2026-11-30");
        let loads: Vec<(NaiveDate, f64)> = (0..90)
            .map(|i| (today - Duration::days(89 - i), 70.0))
            .collect();
        // 10 km in 45:00 three weeks ago; an old faster run does not count.
        let runs = [
            (today - Duration::days(21), 10_000.0, 2700.0),
            (today - Duration::days(100), 10_000.0, 2400.0),
            (today - Duration::days(2), 2_000.0, 400.0),
        ];
        let s = goal_status(&goal, today, today - Duration::days(89), &loads, &runs);
        assert_eq!(s.days_left, 104);
        assert!(
            (s.pace_needed_s_per_km - 298.6).abs() < 0.1,
            "{}",
            s.pace_needed_s_per_km
        );
        assert_eq!(clock(s.predicted_s.unwrap()), "1:39:17");
        assert_eq!(s.predicted_from, Some(today - Duration::days(21)));
        assert_eq!(s.on_track, Some(true));
        // Steady load then a two-week taper: fresh on race day.
        assert!(s.race_day_tsb > 5.0, "{}", s.race_day_tsb);
        // Without a taper (the race tomorrow after steady load) form is ~0.
        let soon = Goal {
            date: today + Duration::days(1),
            ..goal.clone()
        };
        let t = goal_status(&soon, today, today - Duration::days(89), &loads, &runs);
        assert!(t.race_day_tsb.abs() < s.race_day_tsb, "{t:?}");
        // A slower target than possible is off track.
        let hard = Goal {
            target_s: 5400.0,
            ..goal
        };
        let h = goal_status(&hard, today, today - Duration::days(89), &loads, &runs);
        assert_eq!(h.on_track, Some(false));
    }
}
