use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Europe::Berlin;
use chrono_tz::Tz;

use super::*;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn local(tz: Tz, y: i32, m: u32, d: u32) -> DateTime<Utc> {
    tz.with_ymd_and_hms(y, m, d, 0, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

/// Wednesday 13 May 2026, 08:00 in Berlin.
fn wednesday() -> DateTime<Utc> {
    utc("2026-05-13T06:00:00Z")
}

fn span(q: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    named_period(q, wednesday(), Berlin).map(|p| (p.start, p.end))
}

#[test]
fn weeks_weekends_and_days_are_counted_back_in_the_owners_zone() {
    assert_eq!(
        span("what did I do last week?"),
        Some((local(Berlin, 2026, 5, 4), local(Berlin, 2026, 5, 11)))
    );
    let weekend = span("What did I do last weekend?").unwrap();
    assert_eq!(
        weekend,
        (local(Berlin, 2026, 5, 9), local(Berlin, 2026, 5, 11))
    );
    // 00:30 on Monday in Berlin is still Sunday in UTC: not the weekend.
    let monday_night = utc("2026-05-10T22:30:00Z");
    assert!(
        !Period {
            start: weekend.0,
            end: weekend.1
        }
        .contains(monday_night)
    );
    assert_eq!(
        span("who called yesterday"),
        Some((local(Berlin, 2026, 5, 12), local(Berlin, 2026, 5, 13)))
    );
    assert_eq!(
        span("what happened 3 days ago"),
        Some((local(Berlin, 2026, 5, 10), local(Berlin, 2026, 5, 11)))
    );
    assert_eq!(
        span("on Monday I said something"),
        Some((local(Berlin, 2026, 5, 11), local(Berlin, 2026, 5, 12)))
    );
    assert_eq!(
        span("on Wednesday?"),
        Some((local(Berlin, 2026, 5, 6), local(Berlin, 2026, 5, 7))),
        "on the same weekday means a week ago"
    );
}

#[test]
fn months_and_dates_are_the_latest_that_has_begun() {
    assert_eq!(
        span("what did I buy in March?"),
        Some((local(Berlin, 2026, 3, 1), local(Berlin, 2026, 4, 1)))
    );
    assert_eq!(
        span("in September"),
        Some((local(Berlin, 2025, 9, 1), local(Berlin, 2025, 10, 1))),
        "a month not yet begun this year is last year's"
    );
    assert_eq!(
        span("in May 2025"),
        Some((local(Berlin, 2025, 5, 1), local(Berlin, 2025, 6, 1)))
    );
    assert_eq!(
        span("last month"),
        Some((local(Berlin, 2026, 4, 1), local(Berlin, 2026, 5, 1)))
    );
    assert_eq!(
        span("what did we say on 12 March"),
        Some((local(Berlin, 2026, 3, 12), local(Berlin, 2026, 3, 13)))
    );
    assert_eq!(
        span("notes from 2025-11-02"),
        Some((local(Berlin, 2025, 11, 2), local(Berlin, 2025, 11, 3)))
    );
    assert_eq!(
        span("in 2025"),
        Some((local(Berlin, 2025, 1, 1), local(Berlin, 2026, 1, 1)))
    );
}

#[test]
fn questions_without_a_period_have_none() {
    for q in [
        "what did I decide about the bike?",
        "I may go running",
        "the 2 of us",
        "",
        "in 99999",
        "last",
    ] {
        assert_eq!(span(q), None, "{q}");
    }
}

#[test]
fn intent_reads_when_and_latest() {
    let i = intent(
        "When did I last talk to my sister about the move?",
        wednesday(),
        Berlin,
    );
    assert!(i.asks_when && i.wants_latest && i.period.is_none());
    let i = intent("What did I decide about the bike?", wednesday(), Berlin);
    assert!(!i.asks_when && !i.wants_latest);
}

#[test]
fn dates_in_text_are_recognised() {
    for t in [
        "Dentist on 12 May at 9:30",
        "flu shot on Tuesday",
        "meeting 2026-03-04",
        "call at 14:00",
        "May 3rd works",
    ] {
        assert!(carries_date(t), "{t}");
    }
    for t in ["I may come", "ran 10 km", "the ratio was 3:2:1 overall", ""] {
        assert!(!carries_date(t), "{t}");
    }
}

fn cand(id: MemoryId, dense: f32, words: Option<usize>, days: i64) -> Candidate {
    Candidate {
        id,
        created_at: utc("2026-01-01T00:00:00Z") + chrono::Duration::days(days),
        dense: Some(dense),
        words_rank: words,
        context: None,
        dated: false,
        updates: false,
        conversation: None,
        by_assistant: false,
    }
}

#[test]
fn plain_rankings_are_dense_order_and_fusion() {
    let c = [
        cand(1, 0.9, None, 0),
        cand(2, 0.5, Some(2), 1),
        cand(3, 0.7, Some(1), 2),
        cand(4, 0.4, Some(0), 3),
    ];
    let none = |_: MemoryId, _: MemoryId| None;
    let dense: Vec<MemoryId> = rank(Ranking::Dense, &c, &Intent::default(), 4, &none)
        .iter()
        .map(|x| x.0)
        .collect();
    assert_eq!(dense, [1, 3, 2, 4]);
    let hybrid: Vec<MemoryId> = rank(Ranking::Hybrid, &c, &Intent::default(), 3, &none)
        .iter()
        .map(|x| x.0)
        .collect();
    assert_eq!(hybrid[0], 3, "second in both lists beats first in one");
}

#[test]
fn the_full_ranking_favours_the_named_period_and_drops_duplicates() {
    let c = [
        cand(1, 0.6, None, 10),
        cand(2, 0.5, None, 40),
        cand(3, 0.59, None, 11),
    ];
    let p = Period {
        start: utc("2026-02-01T00:00:00Z"),
        end: utc("2026-03-01T00:00:00Z"),
    };
    let i = Intent {
        period: Some(p),
        ..Intent::default()
    };
    let none = |_: MemoryId, _: MemoryId| None;
    let r = rank(Ranking::Full, &c, &i, 3, &none);
    assert_eq!(r[0].0, 2, "the memory from the named month comes first");
    let twins = |a: MemoryId, b: MemoryId| Some(if a + b == 4 { 0.99 } else { 0.1 });
    let r: Vec<MemoryId> = rank(Ranking::Full, &c, &Intent::default(), 3, &twins)
        .iter()
        .map(|x| x.0)
        .collect();
    assert_eq!(
        r,
        [3, 2],
        "3 says what 1 says, and is newer: 1 is collapsed into it"
    );
}

#[test]
fn a_newer_note_that_says_it_changed_comes_before_the_one_it_updates() {
    let old = cand(1, 0.62, None, 10);
    let mut new = cand(2, 0.55, None, 40);
    new.updates = true;
    let other = cand(3, 0.58, None, 50);
    let sim = |a: MemoryId, b: MemoryId| {
        Some(if a.min(b) == 1 && a.max(b) == 2 {
            0.5
        } else {
            0.2
        })
    };
    let order = |c: &[Candidate]| -> Vec<MemoryId> {
        rank(Ranking::Full, c, &Intent::default(), 3, &sim)
            .iter()
            .map(|x| x.0)
            .collect()
    };
    assert_eq!(
        order(&[old.clone(), new.clone(), other.clone()]),
        [2, 1, 3],
        "both kept, the update first"
    );
    // Without a word of change, 0.5 apart is not the same thing.
    new.updates = false;
    assert_eq!(order(&[old, new, other]), [1, 3, 2]);
    assert!(says_change(
        "Changed my mind about the bike: the Cube instead."
    ));
    assert!(!says_change("Decided on the bike: the Canyon."));
}

#[test]
fn a_conversation_found_several_times_over_lifts_its_turns() {
    // 1 is alone; 2 and 3 are turns of one conversation that both match.
    let lone = cand(1, 0.60, None, 1);
    let mut a = cand(2, 0.55, None, 2);
    let mut b = cand(3, 0.50, None, 2);
    a.conversation = Some(2);
    b.conversation = Some(2);
    let none = |_: MemoryId, _: MemoryId| None;
    let order = |c: &[Candidate], w: &Weights| -> Vec<MemoryId> {
        rank_with(Ranking::Full, c, &Intent::default(), 3, &none, w)
            .iter()
            .map(|x| x.0)
            .collect()
    };
    let without = Weights {
        conversation: 0.0,
        ..Weights::default()
    };
    let c = [lone, a, b];
    assert_eq!(order(&c, &without), [1, 2, 3]);
    assert_eq!(
        order(&c, &Weights::default()),
        [2, 1, 3],
        "the turn whose conversation also matched comes first"
    );
}

#[test]
fn the_owners_words_come_before_an_assistants_reply_that_matches_as_well() {
    let owner = cand(1, 0.50, None, 1);
    let mut reply = cand(2, 0.53, None, 1);
    reply.by_assistant = true;
    let none = |_: MemoryId, _: MemoryId| None;
    let got: Vec<MemoryId> = rank(Ranking::Full, &[owner, reply], &Intent::default(), 2, &none)
        .iter()
        .map(|x| x.0)
        .collect();
    assert_eq!(got, [1, 2], "both kept, the owner's words first");
    assert!(by_assistant(r#"{"speaker":"Assistant","session":"x"}"#));
    assert!(by_assistant(r#"{"role":"assistant"}"#));
    assert!(!by_assistant(r#"{"speaker":"User"}"#));
    assert!(!by_assistant(r#"{"role":"user"}"#));
    assert!(!by_assistant("not json"));
    assert!(!by_assistant(r#"["assistant"]"#));
}

#[test]
fn rows_are_read_for_every_candidate_that_could_still_reach_the_head() {
    // 40 candidates 0.01 apart: the 10th scores 0.81 × 7/6 before the rows
    // are read; an assistant's reply among the first ten may fall by 0.08,
    // so everything within 0.08 of it must be read, and nothing far below.
    let c: Vec<Candidate> = (0..40)
        .map(|i| cand(i + 1, 0.9 - 0.01 * i as f32, None, 0))
        .collect();
    let read = within_reach(&c, &Intent::default(), 10);
    let tenth = 0.81 * (1.0 + Weights::default().conversation / 3.0);
    for x in &c {
        let score = x.dense.unwrap_or(0.0) * (1.0 + Weights::default().conversation / 3.0);
        let reachable = score >= tenth - Weights::default().assistant - 1e-4;
        let far = score < tenth - Weights::default().assistant - 0.02;
        if reachable {
            assert!(read.contains(&x.id), "{} not read", x.id);
        }
        if far {
            assert!(!read.contains(&x.id), "{} read needlessly", x.id);
        }
    }
    assert!(read.len() < 40 && read.len() > 10, "{}", read.len());
}
