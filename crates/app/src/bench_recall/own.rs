//! Our own evaluation cases, for what RealMem lacks: questions that name a
//! period in the owner's zone (Europe/Berlin here, so "last weekend" must
//! not take in a note written at 00:30 on Monday, which is still Sunday in
//! UTC), "when did I …" questions whose answer is a dated note, and facts
//! that changed (the newer must come first; both stay). Around them, a
//! few hundred everyday notes from the same months, the same every run.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Europe::Berlin;

use super::{Probe, Set};
use crate::memory::Line;

/// Kinds of our questions.
pub const TEMPORAL: &str = "Temporal (own)";
pub const WHEN: &str = "When did (own)";
pub const CHANGED: &str = "Changed facts (own)";

/// Notes that answer questions: (id, local time in Berlin, text).
const NOTES: &[(&str, &str, &str)] = &[
    // The sister and the move.
    (
        "mia-1",
        "2026-02-03 19:10",
        "Talked to my sister Mia about the move to Leipzig; she can lend us boxes.",
    ),
    (
        "mia-2",
        "2026-03-15 20:30",
        "My sister Mia called, we went over the moving van booking for Leipzig.",
    ),
    (
        "mia-3",
        "2026-04-20 18:05",
        "Phone call with my sister Mia about the Leipzig move date: 30 May it is.",
    ),
    (
        "mia-x1",
        "2026-04-25 12:00",
        "Mia's birthday lunch at the Italian place, she loved the scarf.",
    ),
    // A weekend in May (Sat 9 – Sun 10 May 2026), with notes just outside it.
    (
        "wk-fri",
        "2026-05-08 23:30",
        "Late evening: finished the quarterly report draft at home.",
    ),
    (
        "wk-sat",
        "2026-05-09 10:15",
        "Hiked the Malerweg in Saxon Switzerland with Jonas, 18 km.",
    ),
    (
        "wk-sun",
        "2026-05-10 11:30",
        "Brunch at Café Kranz with Lea, then a lazy afternoon in the park.",
    ),
    (
        "wk-mon",
        "2026-05-11 00:30",
        "Could not sleep, watched a documentary about octopuses.",
    ),
    // Purchases by month.
    (
        "buy-feb",
        "2026-02-12 17:00",
        "Bought a new rain jacket for running, the Gore one.",
    ),
    (
        "buy-mar",
        "2026-03-18 16:40",
        "Bought a standing desk for the home office.",
    ),
    (
        "buy-apr",
        "2026-04-09 13:20",
        "Bought a cast-iron pan and a chef's knife.",
    ),
    // Books by month.
    (
        "book-jan",
        "2026-01-14 22:00",
        "Reading 'The Overstory' before bed, the tree chapters are wonderful.",
    ),
    (
        "book-mar",
        "2026-03-22 21:45",
        "Started 'Project Hail Mary', hard to put down.",
    ),
    // When did … (the answer is the note's own date).
    (
        "flu-shot",
        "2026-01-27 08:45",
        "Got my flu shot at the pharmacy on Tuesday 27 January.",
    ),
    (
        "tyres",
        "2026-03-28 09:30",
        "Changed the car to summer tyres at the garage.",
    ),
    (
        "passport",
        "2026-02-19 10:00",
        "Handed in the passport renewal at the Bürgeramt.",
    ),
    (
        "boiler",
        "2026-04-14 15:00",
        "The plumber serviced the boiler today; next service in a year.",
    ),
    // Facts that changed: older first, newer second.
    (
        "bike-1",
        "2026-03-02 20:00",
        "Decided on the bike: I'll buy the Canyon Grizl gravel bike.",
    ),
    (
        "bike-2",
        "2026-04-10 19:30",
        "Changed my mind about the bike: ordering the Cube Nuroad instead.",
    ),
    (
        "dent-1",
        "2026-04-02 09:00",
        "Dentist appointment booked for 12 May at 9:30.",
    ),
    (
        "dent-2",
        "2026-04-29 11:15",
        "The dentist moved my appointment to 19 May at 14:00.",
    ),
    (
        "goal-1",
        "2026-01-05 07:30",
        "Running goal for this year: a 10k under 50 minutes in spring.",
    ),
    (
        "goal-2",
        "2026-04-18 07:45",
        "New running goal: the Leipzig half marathon in October instead of the 10k.",
    ),
    (
        "diet-1",
        "2026-01-20 19:00",
        "Lea is vegetarian, remember when cooking for her.",
    ),
    (
        "diet-2",
        "2026-04-22 19:20",
        "Lea went vegan this month, so no cheese or eggs in her food.",
    ),
    (
        "wifi-1",
        "2026-02-08 14:00",
        "The new wifi password is maple-orbit-42.",
    ),
    (
        "wifi-2",
        "2026-05-02 14:10",
        "Changed the wifi password to copper-lantern-17.",
    ),
];

/// (id, asked at, Berlin local, question, kind, evidence ids).
const QUESTIONS: &[(&str, &str, &str, &str, &[&str])] = &[
    (
        "own-mia",
        "2026-05-01 09:00",
        "When did I last talk to my sister about the move?",
        WHEN,
        &["mia-3"],
    ),
    (
        "own-weekend",
        "2026-05-13 08:00",
        "What did I do last weekend?",
        TEMPORAL,
        &["wk-sat", "wk-sun"],
    ),
    (
        "own-march",
        "2026-05-20 08:00",
        "What did I buy in March?",
        TEMPORAL,
        &["buy-mar"],
    ),
    (
        "own-feb-buy",
        "2026-05-20 08:00",
        "What did I buy in February?",
        TEMPORAL,
        &["buy-feb"],
    ),
    (
        "own-book-jan",
        "2026-05-20 08:00",
        "Which book was I reading in January?",
        TEMPORAL,
        &["book-jan"],
    ),
    (
        "own-book-mar",
        "2026-05-20 08:00",
        "What book did I start in March?",
        TEMPORAL,
        &["book-mar"],
    ),
    (
        "own-flu",
        "2026-05-20 08:00",
        "When did I get the flu shot?",
        WHEN,
        &["flu-shot"],
    ),
    (
        "own-tyres",
        "2026-05-20 08:00",
        "When did I change the tyres?",
        WHEN,
        &["tyres"],
    ),
    (
        "own-passport",
        "2026-05-20 08:00",
        "When did I hand in the passport renewal?",
        WHEN,
        &["passport"],
    ),
    (
        "own-boiler",
        "2026-05-20 08:00",
        "When was the boiler last serviced?",
        WHEN,
        &["boiler"],
    ),
    (
        "own-bike",
        "2026-05-20 08:00",
        "Which bike did I decide to buy?",
        CHANGED,
        &["bike-2"],
    ),
    (
        "own-dentist",
        "2026-05-05 08:00",
        "When is my dentist appointment?",
        CHANGED,
        &["dent-2"],
    ),
    (
        "own-goal",
        "2026-05-20 08:00",
        "What is my running goal?",
        CHANGED,
        &["goal-2"],
    ),
    (
        "own-diet",
        "2026-05-20 08:00",
        "What does Lea eat? I'm cooking for her.",
        CHANGED,
        &["diet-2"],
    ),
    (
        "own-wifi",
        "2026-05-20 08:00",
        "What's the wifi password?",
        CHANGED,
        &["wifi-2"],
    ),
];

const PEOPLE: &[&str] = &["Jonas", "Lea", "Anna", "Tom", "Mia", "Paul", "Sara", "Ben"];
const PLACES: &[&str] = &[
    "the office",
    "the gym",
    "the market",
    "the library",
    "Café Kranz",
    "the park",
    "the station",
];
const THINGS: &[&str] = &[
    "Met {p} at {w} to talk about the budget for the team offsite.",
    "Ran 8 km along the river, legs felt heavy after yesterday.",
    "Groceries: oats, apples, coffee, tofu and tomatoes.",
    "{p} recommended a podcast about urban gardening.",
    "Long meeting about the Q2 roadmap, too many slides.",
    "Cooked lentil curry, enough for three days.",
    "Paid the electricity bill, 84 euros this month.",
    "Called the landlord about the leaking tap in the kitchen.",
    "Watched a film with {p}, a slow French drama.",
    "Worked from {w} all afternoon, got the slides done.",
    "Swimming at lunch, 1.5 km, the pool was crowded.",
    "{p} asked whether I can help with their CV on the weekend.",
    "Booked train tickets to Berlin for the conference.",
    "Read an article about sleep and caffeine timing.",
    "Yoga class in the evening, my back feels better.",
    "Team lunch at {w}; {p} is leaving the company in summer.",
];

fn at(local: &str) -> DateTime<Utc> {
    NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M")
        .ok()
        .and_then(|t| Berlin.from_local_datetime(&t).earliest())
        .map_or(DateTime::<Utc>::UNIX_EPOCH, |t| t.with_timezone(&Utc))
}

/// The set: our notes and questions among everyday notes.
pub fn cases() -> Set {
    let mut memories: Vec<Line> = NOTES
        .iter()
        .map(|(id, when, text)| Line {
            id: Some((*id).to_owned()),
            text: (*text).to_owned(),
            created_at: Some(at(when)),
            source: Some("telegram".into()),
            metadata: None,
        })
        .collect();
    // Everyday notes, about three a day from January to May, the same every run.
    let mut seed: u64 = 0x2026_0520;
    let mut next = |n: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    let start = at("2026-01-02 08:00");
    for i in 0..420i64 {
        let template = THINGS[next(THINGS.len() as u64) as usize];
        let text = template
            .replace("{p}", PEOPLE[next(PEOPLE.len() as u64) as usize])
            .replace("{w}", PLACES[next(PLACES.len() as u64) as usize]);
        let when =
            start + chrono::Duration::hours(i * 8) + chrono::Duration::minutes(next(300) as i64);
        memories.push(Line {
            id: Some(format!("day-{i}")),
            text: format!("{text} (note {i})"),
            created_at: Some(when),
            source: Some("telegram".into()),
            metadata: None,
        });
    }
    let probes = QUESTIONS
        .iter()
        .map(|(id, asked, text, kind, evidence)| Probe {
            id: (*id).to_owned(),
            text: (*text).to_owned(),
            at: at(asked),
            kind: (*kind).to_owned(),
            evidence: evidence.iter().map(|e| (*e).to_owned()).collect(),
        })
        .collect();
    Set {
        name: "own".into(),
        zone: "Europe/Berlin".into(),
        memories,
        probes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_question_names_notes_that_exist_before_it_is_asked() {
        let set = cases();
        for p in &set.probes {
            for e in &p.evidence {
                let m = set
                    .memories
                    .iter()
                    .find(|m| m.id.as_deref() == Some(e.as_str()));
                let made = m.and_then(|m| m.created_at);
                assert!(made.is_some_and(|t| t < p.at), "{} cites {e}", p.id);
            }
        }
        // The Monday 00:30 note is Sunday in UTC: the zone matters.
        assert_eq!(
            at("2026-05-11 00:30").to_rfc3339(),
            "2026-05-10T22:30:00+00:00"
        );
    }
}
