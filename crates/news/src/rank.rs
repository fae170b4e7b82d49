//! Which stories matter to the owner: similarity of a story's embedding to
//! what they care about (`about-me.md`, active projects — each an
//! embedding), what they opened or marked before (a bonus for stories like
//! those), and freshness (a half-life of a day). Pure arithmetic: the
//! caller embeds.

use chrono::{DateTime, Utc};

/// Hours after which a story's freshness is halved.
pub const HALF_LIFE_HOURS: f64 = 24.0;

/// Cosine similarity (0 for empty or mismatched vectors).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    let (mut dot, mut na, mut nb) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

/// A story's score: its best similarity to an interest, plus half its
/// best similarity to something the owner opened or marked, times its
/// freshness. Stories without a date count as a day old.
pub fn score(
    story: &[f32],
    interests: &[Vec<f32>],
    liked: &[Vec<f32>],
    published: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> f32 {
    let best = |set: &[Vec<f32>]| set.iter().map(|v| cosine(story, v)).fold(0.0f32, f32::max);
    let relevance = best(interests) + 0.5 * best(liked);
    let hours = published
        .map(|p| (now - p).num_minutes().max(0) as f64 / 60.0)
        .unwrap_or(HALF_LIFE_HOURS);
    let fresh = 0.5f64.powf(hours / HALF_LIFE_HOURS) as f32;
    // Relevance leads; freshness breaks ties and sinks old news.
    relevance * (0.5 + 0.5 * fresh)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn relevant_fresh_news_first_and_old_news_sinks() {
        let now = Utc::now();
        let running = vec![1.0, 0.0, 0.0];
        let interests = vec![running.clone()];
        let about_running = [0.9, 0.1, 0.0];
        let about_stocks = [0.0, 0.2, 0.9];
        let a = score(
            &about_running,
            &interests,
            &[],
            Some(now - Duration::hours(2)),
            now,
        );
        let b = score(
            &about_stocks,
            &interests,
            &[],
            Some(now - Duration::hours(2)),
            now,
        );
        let old = score(
            &about_running,
            &interests,
            &[],
            Some(now - Duration::days(7)),
            now,
        );
        assert!(a > b && a > old, "{a} {b} {old}");
        let liked = score(
            &about_stocks,
            &interests,
            &[vec![0.0, 0.0, 1.0]],
            Some(now),
            now,
        );
        assert!(liked > b, "what the owner opened counts");
        assert_eq!(cosine(&[], &[]), 0.0);
        assert_eq!(cosine(&[1.0], &[1.0, 2.0]), 0.0);
    }
}
