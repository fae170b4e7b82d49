//! The report's charts, drawn as inline SVG from numbers and dates only
//! (no script, no remote image: mail clients and the dashboard's policy
//! allow it).

use super::*;

/// A round step near `span / 4`: 1, 2 or 5 times a power of ten.
pub(super) fn nice_step(span: f64) -> f64 {
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
pub(super) fn volume_bars(weeks: &[WeekFig]) -> String {
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
