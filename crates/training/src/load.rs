//! Training load from heart rate: Banister's TRIMP, and the efficiency
//! factor (speed per heartbeat) that shows aerobic fitness moving.

use crate::Activity;

/// The owner's heart-rate frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeartRates {
    pub rest: f64,
    pub max: f64,
    /// Banister's weighting: 1.92 for men, 1.67 for women.
    pub k: f64,
    /// Lactate-threshold heart rate, when the athlete knows it: zones are
    /// then taken from it (Friel) instead of the reserve.
    pub threshold: Option<f64>,
}

impl Default for HeartRates {
    fn default() -> Self {
        Self {
            rest: 60.0,
            max: 190.0,
            k: 1.92,
            threshold: None,
        }
    }
}

/// Banister's TRIMP: for each stretch between samples that carry a heart
/// rate, minutes × reserve fraction × 0.64·e^(k·fraction). Pauses (gaps
/// over [`crate::PAUSE_S`]) count nothing.
pub fn trimp(a: &Activity, hr: HeartRates) -> Option<f64> {
    let span = hr.max - hr.rest;
    if span <= 0.0 {
        return None;
    }
    let mut total = 0.0;
    let mut any = false;
    for w in a.samples.windows(2) {
        let (Some(h), dt) = (
            w[0].heart_rate,
            (w[1].at - w[0].at).num_milliseconds() as f64 / 1000.0,
        ) else {
            continue;
        };
        if dt <= 0.0 || dt > crate::PAUSE_S {
            continue;
        }
        any = true;
        let x = ((f64::from(h) - hr.rest) / span).clamp(0.0, 1.0);
        total += dt / 60.0 * x * 0.64 * (hr.k * x).exp();
    }
    any.then_some(total)
}

/// Efficiency factor: metres per minute while moving, per beat per minute
/// (higher is fitter at the same effort).
pub fn efficiency_factor(a: &Activity) -> Option<f64> {
    let (moving, hr) = (a.moving_s(), a.average_hr()?);
    (moving > 0.0 && hr > 0.0).then(|| a.distance_m() / (moving / 60.0) / hr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Format, Sample};
    use chrono::DateTime;

    fn run(hr: u16, minutes: i64) -> Activity {
        let samples = (0..=minutes * 60)
            .step_by(5)
            .map(|s| {
                let mut x = Sample::at(DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap());
                x.heart_rate = Some(hr);
                x.distance_m = Some(s as f64 * 3.0);
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

    #[test]
    fn trimp_grows_with_time_and_much_faster_with_effort() {
        let hr = HeartRates::default();
        let easy = trimp(&run(125, 60), hr).unwrap();
        // An hour at 50 % of reserve: 60 × 0.5 × 0.64 × e^0.96 ≈ 50.1.
        assert!((easy - 50.1).abs() < 0.5, "{easy}");
        let long = trimp(&run(125, 120), hr).unwrap();
        assert!((long / easy - 2.0).abs() < 0.01);
        let hard = trimp(&run(177, 60), hr).unwrap();
        assert!(hard > 2.5 * easy, "{hard} vs {easy}");
        assert_eq!(
            trimp(
                &run(0, 1),
                HeartRates {
                    rest: 60.0,
                    max: 60.0,
                    k: 1.92,
                    threshold: None,
                }
            ),
            None
        );
    }

    #[test]
    fn efficiency_factor_is_speed_per_beat() {
        // 3 m/s = 180 m/min at 150 bpm → 1.2.
        let ef = efficiency_factor(&run(150, 30)).unwrap();
        assert!((ef - 1.2).abs() < 1e-9, "{ef}");
    }
}
