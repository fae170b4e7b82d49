//! Consent before disclosure: what a request to a cloud model would carry,
//! with the owner's identifiers redacted, shown item by item before anything
//! leaves; and the rules for deciding a pending thought (grant once, never
//! after it expired).
//!
//! **Invariants:** the text sent is built only from the items the owner was
//! shown (the same strings); redaction placeholders are stable within one
//! disclosure, so the answer can be restored locally, and the map from
//! placeholder to original never leaves the machine.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::agent::{Budget, ChatMessage, Context, messages};

/// What kind of the owner's data an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    Question,
    Persona,
    Memory,
    Projects,
    AboutMe,
    Preference,
    Conversation,
}

/// One piece of what would be sent, as the owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub kind: ItemKind,
    /// Short name: "memory #12 (2026-11-02)", "your question".
    pub label: String,
    /// The text exactly as it would be sent (after redaction).
    pub text: String,
}

/// A kind of identifier that is redacted before disclosure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentifierKind {
    Email,
    Iban,
    Phone,
    Address,
}

impl IdentifierKind {
    fn word(self) -> &'static str {
        match self {
            IdentifierKind::Email => "email",
            IdentifierKind::Iban => "iban",
            IdentifierKind::Phone => "phone",
            IdentifierKind::Address => "address",
        }
    }
}

/// One identifier replaced by a placeholder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redaction {
    pub kind: IdentifierKind,
    /// `[email 1]`
    pub placeholder: String,
    /// What it stood for (kept on this machine only).
    pub original: String,
}

struct Patterns {
    date: Regex,
    email: Regex,
    iban: Regex,
    phone: Regex,
    address: Regex,
}

fn patterns() -> &'static Patterns {
    static P: std::sync::OnceLock<Patterns> = std::sync::OnceLock::new();
    P.get_or_init(|| Patterns {
        date: compile(
            r"^[0-9]{4}[-/.][0-9]{1,2}[-/.][0-9]{1,2}|^[0-9]{1,2}[-/.][0-9]{1,2}[-/.][0-9]{2,4}",
        ),
        email: compile(r"(?i)\b[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b"),
        iban: compile(r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}\b"),
        phone: compile(r"(?:\+|\b)[0-9][0-9 ().\-/]{5,}[0-9]\b"),
        // "221B Baker Street", "12 Rue de Rivoli" (number first) and
        // "Hauptstraße 5", "Am Mühlenweg 12a" (number last).
        address: compile(
            r"(?x)
            \b[0-9]{1,5}[A-Za-z]?,?\s+(?:[A-Z][\p{L}'.-]*\s+){0,3}
              (?:Street|St\.|Road|Rd\.?|Avenue|Ave\.?|Lane|Ln\.?|Boulevard|Blvd\.?|Drive|Dr\.|Way|Court|Ct\.?|Place|Pl\.|Square|Terrace|Close)\b
            | \b(?:Rue|Via|Calle|Avenida)\s+(?:[\p{L}'.-]+\s+){0,3}[\p{L}'.-]+\s+[0-9]{1,5}[a-z]?\b
            | \b[0-9]{1,5}[a-z]?,?\s+(?:Rue|Via|Calle|Avenida)\s+(?:de\s+|del\s+|la\s+|des\s+)?[\p{L}'.-]+
            | \b(?:[\p{Lu}][\p{L}-]*\s+){0,2}[\p{L}-]*(?:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm|ufer)\s+[0-9]{1,5}[a-z]?\b
            ",
        ),
    })
}

fn compile(re: &str) -> Regex {
    // The patterns are constants checked by the tests below; a failure here
    // is a programming error, found before any release.
    Regex::new(re).unwrap_or_else(|e| panic!("bad built-in pattern: {e}"))
}

/// IBAN check digits (ISO 13616, mod 97).
fn iban_valid(s: &str) -> bool {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if !(15..=34).contains(&s.len()) {
        return false;
    }
    let (head, tail) = s.split_at(4);
    let mut rem: u32 = 0;
    for c in tail.chars().chain(head.chars()) {
        let v = match c.to_digit(36) {
            Some(v) => v,
            None => return false,
        };
        for d in if v >= 10 {
            vec![v / 10, v % 10]
        } else {
            vec![v]
        } {
            rem = (rem * 10 + d) % 97;
        }
    }
    rem == 1
}

/// Whether a run of digits is a phone number rather than a date, a time,
/// an amount or a version.
fn looks_like_phone(s: &str) -> bool {
    let digits = s.chars().filter(char::is_ascii_digit).count();
    if !(7..=15).contains(&digits) {
        return false;
    }
    !patterns().date.is_match(s)
}

/// Replaces identifiers with numbered placeholders, the same original
/// always with the same placeholder, and restores them in text that comes
/// back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redactor {
    pub redactions: Vec<Redaction>,
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    fn placeholder(&mut self, kind: IdentifierKind, original: &str) -> String {
        if let Some(r) = self
            .redactions
            .iter()
            .find(|r| r.kind == kind && r.original == original)
        {
            return r.placeholder.clone();
        }
        let n = self.redactions.iter().filter(|r| r.kind == kind).count() + 1;
        let placeholder = format!("[{} {n}]", kind.word());
        self.redactions.push(Redaction {
            kind,
            placeholder: placeholder.clone(),
            original: original.to_owned(),
        });
        placeholder
    }

    /// `text` with every email address, IBAN, phone number and street
    /// address replaced.
    pub fn redact(&mut self, text: &str) -> String {
        let p = patterns();
        let mut out = text.to_owned();
        for (kind, re) in [
            (IdentifierKind::Email, &p.email),
            (IdentifierKind::Iban, &p.iban),
            (IdentifierKind::Address, &p.address),
            (IdentifierKind::Phone, &p.phone),
        ] {
            let mut next = String::with_capacity(out.len());
            let mut last = 0;
            for m in re.find_iter(&out) {
                let s = m.as_str();
                let keep = match kind {
                    IdentifierKind::Iban => iban_valid(s),
                    IdentifierKind::Phone => looks_like_phone(s) && !s.contains('['),
                    _ => true,
                };
                if !keep {
                    continue;
                }
                next.push_str(&out[last..m.start()]);
                next.push_str(&self.placeholder(kind, s.trim()));
                last = m.end();
            }
            next.push_str(&out[last..]);
            out = next;
        }
        out
    }

    /// Puts the originals back into text that used the placeholders.
    pub fn restore(&self, text: &str) -> String {
        let mut out = text.to_owned();
        // Longest placeholder first so "[email 1]" never eats "[email 12]".
        let mut rs: Vec<&Redaction> = self.redactions.iter().collect();
        rs.sort_by_key(|r| std::cmp::Reverse(r.placeholder.len()));
        for r in rs {
            out = out.replace(&r.placeholder, &r.original);
        }
        out
    }
}

/// Restores placeholders in an answer that arrives in pieces: text is held
/// back only while a `[` may still be the start of a placeholder.
#[derive(Debug)]
pub struct StreamRestore<'a> {
    redactor: &'a Redactor,
    pending: String,
}

impl<'a> StreamRestore<'a> {
    pub fn new(redactor: &'a Redactor) -> Self {
        Self {
            redactor,
            pending: String::new(),
        }
    }

    /// Takes the next piece; returns what can be shown now.
    pub fn push(&mut self, piece: &str) -> String {
        self.pending.push_str(piece);
        let cut = match self.pending.rfind('[') {
            // Placeholders are short: "[address 12]".
            Some(i) if !self.pending[i..].contains(']') && self.pending.len() - i < 16 => i,
            _ => self.pending.len(),
        };
        let out = self.redactor.restore(&self.pending[..cut]);
        self.pending.drain(..cut);
        out
    }

    /// What is left at the end.
    pub fn finish(self) -> String {
        self.redactor.restore(&self.pending)
    }
}

/// What a request to a cloud model would carry: the items shown to the
/// owner and the messages built from exactly those items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Disclosure {
    pub items: Vec<Item>,
    pub messages: Vec<ChatMessage>,
    pub redactor: Redactor,
}

impl Disclosure {
    /// Characters that would leave (all messages).
    pub fn chars(&self) -> usize {
        self.messages
            .iter()
            .map(|m| m.content.chars().count())
            .sum()
    }
}

/// Builds the disclosure for `question` with `ctx` (already chosen as what
/// the question needs), redacting identifiers when `redact` is set.
pub fn disclose(
    persona: &str,
    now: DateTime<Tz>,
    mut ctx: Context,
    question: &str,
    budget: Budget,
    redact: bool,
) -> Disclosure {
    let mut r = Redactor::new();
    let mut red = |s: &str| if redact { r.redact(s) } else { s.to_owned() };
    let question = red(question);
    for m in &mut ctx.memories {
        m.text = red(&m.text);
    }
    ctx.projects = red(&ctx.projects);
    ctx.about_me = ctx.about_me.as_deref().map(&mut red);
    for (_, v) in &mut ctx.preferences {
        *v = red(v);
    }
    for t in &mut ctx.history {
        t.content = red(&t.content);
    }
    ctx.summary = ctx.summary.as_deref().map(&mut red);
    let mut items = vec![Item {
        kind: ItemKind::Persona,
        label: "Z's persona and your local time".into(),
        text: format!(
            "{} ({})",
            now.format("%A %-d %B %Y, %H:%M"),
            now.timezone().name()
        ),
    }];
    if let Some(a) = &ctx.about_me {
        items.push(Item {
            kind: ItemKind::AboutMe,
            label: "about-me.md".into(),
            text: a.trim().to_owned(),
        });
    }
    for m in &ctx.memories {
        items.push(Item {
            kind: ItemKind::Memory,
            label: format!("memory #{} ({})", m.id, m.created_at.format("%Y-%m-%d")),
            text: m.text.trim().to_owned(),
        });
    }
    if let Some(sm) = &ctx.summary {
        items.push(Item {
            kind: ItemKind::Conversation,
            label: "summary of our earlier conversation".into(),
            text: sm.trim().to_owned(),
        });
    }
    if !ctx.projects.trim().is_empty() {
        items.push(Item {
            kind: ItemKind::Projects,
            label: "your projects".into(),
            text: ctx.projects.trim().to_owned(),
        });
    }
    for (k, v) in &ctx.preferences {
        items.push(Item {
            kind: ItemKind::Preference,
            label: format!("preference {k}"),
            text: v.clone(),
        });
    }
    let msgs = messages(persona, now, &ctx, budget, &question);
    let earlier = msgs.len().saturating_sub(2);
    if earlier > 0 {
        items.push(Item {
            kind: ItemKind::Conversation,
            label: format!("{earlier} earlier messages of this conversation"),
            text: msgs[1..1 + earlier]
                .iter()
                .map(|m| format!("{}: {}", m.role.as_str(), m.content))
                .collect::<Vec<_>>()
                .join("\n"),
        });
    }
    items.push(Item {
        kind: ItemKind::Question,
        label: "your question".into(),
        text: question,
    });
    Disclosure {
        items,
        messages: msgs,
        redactor: r,
    }
}

/// SHA-256 of the bytes, hex: recorded for every disclosure so the owner
/// can prove what left.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Where a pending thought is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThoughtState {
    /// Waiting for the owner.
    Pending,
    /// Approved; being sent.
    Granted,
    /// The owner said no; nothing was sent.
    Cancelled,
    /// The owner did not decide in time; nothing was sent.
    Expired,
    /// Sent, and the answer is stored.
    Answered,
    /// Sent (or attempted) and the provider failed.
    Failed,
}

impl ThoughtState {
    pub fn as_str(self) -> &'static str {
        match self {
            ThoughtState::Pending => "pending",
            ThoughtState::Granted => "granted",
            ThoughtState::Cancelled => "cancelled",
            ThoughtState::Expired => "expired",
            ThoughtState::Answered => "answered",
            ThoughtState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => ThoughtState::Pending,
            "granted" => ThoughtState::Granted,
            "cancelled" => ThoughtState::Cancelled,
            "expired" => ThoughtState::Expired,
            "answered" => ThoughtState::Answered,
            "failed" => ThoughtState::Failed,
            _ => return None,
        })
    }

    /// The state as the owner sees it at `now` (a pending thought past its
    /// expiry is expired even before anything marks it so).
    pub fn at(self, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        if self == ThoughtState::Pending && now >= expires_at {
            ThoughtState::Expired
        } else {
            self
        }
    }
}

/// The owner's answer to a pending thought.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Grant,
    Cancel,
}

/// Why a decision was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecideError {
    #[error("that thought expired; nothing was sent — ask again")]
    Expired,
    #[error("that thought was already {}", .0.as_str())]
    AlreadyDecided(ThoughtState),
}

/// The state a decision leads to, or why it cannot be taken. Only a pending
/// thought that has not expired can be decided, once.
pub fn decide(
    state: ThoughtState,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
    decision: Decision,
) -> Result<ThoughtState, DecideError> {
    match state.at(expires_at, now) {
        ThoughtState::Pending => Ok(match decision {
            Decision::Grant => ThoughtState::Granted,
            Decision::Cancel => ThoughtState::Cancelled,
        }),
        ThoughtState::Expired => Err(DecideError::Expired),
        other => Err(DecideError::AlreadyDecided(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::Role;
    use crate::memory::{Memory, Source};
    use chrono::TimeZone;

    fn red(s: &str) -> (String, Redactor) {
        let mut r = Redactor::new();
        (r.redact(s), r)
    }

    #[test]
    fn identifiers_are_replaced_and_restored() {
        let text = "Mail anna.schmidt@example.org or call +49 30 1234567, \
                    pay DE89 3704 0044 0532 0130 00, we live at Hauptstraße 5 in Berlin \
                    and Tom at 221B Baker Street.";
        let (out, r) = red(text);
        for gone in [
            "anna.schmidt@example.org",
            "1234567",
            "DE89",
            "Hauptstraße 5",
            "Baker Street",
        ] {
            assert!(!out.contains(gone), "{gone} left in: {out}");
        }
        assert!(out.contains("[email 1]"), "{out}");
        assert!(out.contains("[phone 1]"), "{out}");
        assert!(out.contains("[iban 1]"), "{out}");
        assert!(
            out.contains("[address 1]") && out.contains("[address 2]"),
            "{out}"
        );
        assert_eq!(r.restore(&out), text);
    }

    #[test]
    fn dates_times_amounts_and_invalid_ibans_stay() {
        for keep in [
            "The meeting is on 2026-11-24 at 14:30.",
            "It costs 1,250.00 EUR, version 1.2.3.",
            "Deadline 24.11.2026, invoice 4711.",
            "GB00 0000 0000 0000 0000 00 is not a valid IBAN",
            "Run 5 km on Sunday, 10 reps.",
        ] {
            let (out, r) = red(keep);
            assert_eq!(out, keep, "{:?}", r.redactions);
        }
    }

    #[test]
    fn the_same_identifier_gets_the_same_placeholder() {
        let mut r = Redactor::new();
        let a = r.redact("write to bob@example.com");
        let b = r.redact("bob@example.com and eve@example.com");
        assert_eq!(a, "write to [email 1]");
        assert_eq!(b, "[email 1] and [email 2]");
        assert_eq!(r.redactions.len(), 2);
    }

    #[test]
    fn placeholders_split_across_pieces_are_restored() {
        let mut r = Redactor::new();
        r.redact("ann@example.com");
        let pieces = [
            "Write to [em",
            "ail 1",
            "] today [not a placeholder] ",
            "[",
            "email 1]",
        ];
        let mut s = StreamRestore::new(&r);
        let mut shown = String::new();
        for p in pieces {
            shown.push_str(&s.push(p));
        }
        shown.push_str(&s.finish());
        assert_eq!(
            shown,
            "Write to ann@example.com today [not a placeholder] ann@example.com"
        );
        // Text without brackets is never held back.
        let mut s = StreamRestore::new(&r);
        assert_eq!(s.push("plain words "), "plain words ");
    }

    #[test]
    fn restore_does_not_confuse_placeholder_numbers() {
        let mut r = Redactor::new();
        let many: Vec<String> = (1..=12).map(|i| format!("p{i}@example.com")).collect();
        let out = r.redact(&many.join(" "));
        assert!(out.contains("[email 12]"));
        assert_eq!(r.restore(&out), many.join(" "));
    }

    fn memory(id: i64, text: &str) -> Memory {
        Memory {
            id,
            text: text.into(),
            created_at: Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap(),
            source: Source::new("chat").unwrap(),
            external_id: None,
            metadata: None,
            model: None,
        }
    }

    #[test]
    fn the_messages_carry_only_the_items_shown() {
        let now = chrono_tz::Europe::Berlin
            .with_ymd_and_hms(2026, 11, 24, 8, 0, 0)
            .unwrap();
        let ctx = Context {
            memories: vec![memory(
                7,
                "My landlord is reachable at landlord@example.com",
            )],
            projects: "- Move flat (active, 40% done)".into(),
            about_me: None,
            preferences: vec![],
            history: vec![],
            summary: None,
        };
        let d = disclose(
            "You are Z.",
            now,
            ctx,
            "Should I email the landlord?",
            Budget::default(),
            true,
        );
        let labels: Vec<&str> = d.items.iter().map(|i| i.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "Z's persona and your local time",
                "memory #7 (2026-11-02)",
                "your projects",
                "your question"
            ]
        );
        let sent: String = d.messages.iter().map(|m| m.content.clone()).collect();
        assert!(!sent.contains("landlord@example.com"), "{sent}");
        assert!(sent.contains("[email 1]"));
        // Every item's text appears in what is sent, and nothing else of the owner's.
        for item in &d.items[1..] {
            assert!(sent.contains(&item.text), "{} missing", item.label);
        }
        assert_eq!(d.messages.last().map(|m| m.role), Some(Role::User));
        assert_eq!(
            d.redactor.restore("Write to [email 1]."),
            "Write to landlord@example.com."
        );
    }

    #[test]
    fn without_redaction_the_text_is_sent_as_is() {
        let now = chrono_tz::UTC
            .with_ymd_and_hms(2026, 11, 24, 8, 0, 0)
            .unwrap();
        let d = disclose(
            "Z",
            now,
            Context::default(),
            "mail a@b.com",
            Budget::default(),
            false,
        );
        assert_eq!(
            d.items.last().map(|i| i.text.as_str()),
            Some("mail a@b.com")
        );
        assert!(d.redactor.redactions.is_empty());
    }

    #[test]
    fn a_thought_is_decided_once_and_never_after_expiry() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 24, 8, 0, 0).unwrap();
        let exp = t0 + chrono::Duration::hours(24);
        assert_eq!(
            decide(ThoughtState::Pending, exp, t0, Decision::Grant),
            Ok(ThoughtState::Granted)
        );
        assert_eq!(
            decide(ThoughtState::Pending, exp, t0, Decision::Cancel),
            Ok(ThoughtState::Cancelled)
        );
        assert_eq!(
            decide(ThoughtState::Granted, exp, t0, Decision::Grant),
            Err(DecideError::AlreadyDecided(ThoughtState::Granted))
        );
        assert_eq!(
            decide(ThoughtState::Pending, exp, exp, Decision::Grant),
            Err(DecideError::Expired)
        );
        assert_eq!(
            decide(ThoughtState::Cancelled, exp, exp, Decision::Grant),
            Err(DecideError::AlreadyDecided(ThoughtState::Cancelled))
        );
    }

    #[test]
    fn sha256_is_the_standard_digest() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
