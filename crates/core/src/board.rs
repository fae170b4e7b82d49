//! Boards by life domain: the seed's structure, and which board a task
//! written in plain words belongs on.
//!
//! **Invariant:** pure; boards, lists and cards are stored through the
//! `BoardStore` port.

/// The boards a new user starts with, their lists in order and whether each
/// list counts as done (the structure migration 0014 creates).
pub const SEED: &[(&str, &[(&str, bool)])] = &[
    (
        "Career",
        &[
            ("Inbox", false),
            ("In Progress", false),
            ("Blocked", false),
            ("Done", true),
        ],
    ),
    (
        "Health",
        &[("Inbox", false), ("Habits", false), ("Completed", true)],
    ),
    (
        "Family",
        &[("Inbox", false), ("This Week", false), ("Done", true)],
    ),
    (
        "Finance",
        &[("Inbox", false), ("Pending", false), ("Resolved", true)],
    ),
    (
        "Creative",
        &[("Ideas", false), ("Active", false), ("Shipped", true)],
    ),
];

/// Words that put a task on a domain's board, checked as whole words,
/// case-insensitively. The first domain with a match wins, in this order.
const WORDS: &[(&str, &[&str])] = &[
    (
        "finance",
        &[
            "pay",
            "bill",
            "bills",
            "invoice",
            "tax",
            "taxes",
            "bank",
            "budget",
            "rent",
            "insurance",
            "refund",
            "transfer",
            "savings",
            "mortgage",
            "loan",
            "subscription",
            "renew",
            "passport",
        ],
    ),
    (
        "health",
        &[
            "doctor", "dentist", "gym", "run", "running", "workout", "physio", "meds", "medicine",
            "pharmacy", "checkup", "vaccine", "sleep", "yoga", "therapy",
        ],
    ),
    (
        "family",
        &[
            "mum",
            "mom",
            "dad",
            "kids",
            "kid",
            "school",
            "birthday",
            "grandma",
            "grandpa",
            "wife",
            "husband",
            "partner",
            "family",
            "daughter",
            "son",
            "anniversary",
            "groceries",
        ],
    ),
    (
        "creative",
        &[
            "write", "draw", "paint", "blog", "song", "guitar", "piano", "photo", "photos",
            "novel", "poem", "sketch", "idea", "podcast",
        ],
    ),
    (
        "career",
        &[
            "cv",
            "resume",
            "interview",
            "recruiter",
            "job",
            "boss",
            "meeting",
            "client",
            "project",
            "deadline",
            "report",
            "review",
            "presentation",
            "colleague",
            "promotion",
        ],
    ),
];

/// The domain a task's words point to (`career`, `health`, `family`,
/// `finance`, `creative`), or `None` when nothing does.
pub fn guess_domain(text: &str) -> Option<&'static str> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    WORDS
        .iter()
        .find(|(_, ws)| words.iter().any(|w| ws.contains(w)))
        .map(|(d, _)| *d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_words_find_their_board() {
        assert_eq!(guess_domain("Renew my passport"), Some("finance"));
        assert_eq!(guess_domain("Book the DENTIST"), Some("health"));
        assert_eq!(guess_domain("call mum about Sunday"), Some("family"));
        assert_eq!(guess_domain("Update CV for the interview"), Some("career"));
        assert_eq!(guess_domain("sketch the album cover"), Some("creative"));
        assert_eq!(guess_domain("water the plants"), None);
        // Whole words only: "running" yes, "brunch" is not "run".
        assert_eq!(guess_domain("brunch"), None);
    }
}
