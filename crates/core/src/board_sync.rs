//! Two-way sync of cards between OpenZero's boards and another board
//! service (Planka): what to do, decided from the two sides and what both
//! agreed on at the last sync. Pure: the adapter reads both sides, applies
//! the plan and records the new agreed state.
//!
//! The rule, per card and per field (title, description, due, list,
//! labels), against the value both sides had at the last sync (the base):
//! - changed on one side only: that side's value goes to the other;
//! - changed on both sides to different values: the side whose card was
//!   updated last wins; the losing value is kept in the card's history;
//! - a card new on one side is created on the other;
//! - a card deleted on one side is deleted on the other, unless the other
//!   side changed it since the last sync: then the edit wins and the card
//!   is created again where it was deleted;
//! - a card deleted on both sides is forgotten.
//!
//! - unlinked cards with the same fields on both sides are linked, not
//!   copied.
//!
//! Applying a plan and syncing again plans nothing (idempotent). Links are
//! keyed by their (local, remote) pair; a plan lists a link's `Forget`
//! before any `Create` that replaces it. A card moved to another board is
//! seen by each board's sync as deleted there and new here (the board is
//! not one of the fields).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

/// The synced fields of a card, as both sides can hold them.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Fields {
    pub title: String,
    pub description: String,
    /// A due date as text both sides agree on (`2026-12-03` or RFC 3339 UTC).
    pub due: Option<String>,
    /// The list's name (lists are matched by name within a board).
    pub list: String,
    /// Label names, sorted.
    pub labels: Vec<String>,
}

/// One side's card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    pub id: String,
    pub fields: Fields,
    pub updated_at: DateTime<Utc>,
}

/// A pair of cards synced before, and the fields they agreed on then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub local: String,
    pub remote: String,
    pub base: Fields,
}

/// Which side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Local,
    Remote,
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Create on `side` a copy of the other side's card `from` (a new link).
    Create {
        side: Side,
        from: String,
        fields: Fields,
    },
    /// Set `fields` on `side`'s card `id` (only what changes is named in
    /// `changed`).
    Update {
        side: Side,
        id: String,
        fields: Fields,
        changed: Vec<&'static str>,
    },
    Delete {
        side: Side,
        id: String,
    },
    /// A field both sides changed: `kept` won, `lost` goes to history.
    Conflict {
        local: String,
        field: &'static str,
        kept: String,
        lost: String,
    },
    /// The link's agreed state after this sync (for links that stay).
    Agree {
        local: String,
        remote: String,
        base: Fields,
    },
    /// The link is gone (both sides deleted, or deleted by this plan).
    Forget {
        local: String,
        remote: String,
    },
}

fn text(f: &Fields, name: &str) -> String {
    match name {
        "title" => f.title.clone(),
        "description" => f.description.clone(),
        "due" => f.due.clone().unwrap_or_default(),
        "list" => f.list.clone(),
        _ => f.labels.join(", "),
    }
}

const NAMES: [&str; 5] = ["title", "description", "due", "list", "labels"];

fn differs(a: &Fields, b: &Fields, name: &str) -> bool {
    match name {
        "title" => a.title != b.title,
        "description" => a.description != b.description,
        "due" => a.due != b.due,
        "list" => a.list != b.list,
        _ => a.labels != b.labels,
    }
}

fn take(into: &mut Fields, from: &Fields, name: &str) {
    match name {
        "title" => into.title.clone_from(&from.title),
        "description" => into.description.clone_from(&from.description),
        "due" => into.due.clone_from(&from.due),
        "list" => into.list.clone_from(&from.list),
        _ => into.labels.clone_from(&from.labels),
    }
}

/// A linked card that is gone on one side: the deletion crosses over
/// unless the card left (`present`, on `side`) was edited since; then the
/// edit wins and it is created again where it was deleted. The old link
/// goes first either way.
fn one_sided(out: &mut Vec<Action>, link: &Link, present: &Card, side: Side) {
    out.push(Action::Forget {
        local: link.local.clone(),
        remote: link.remote.clone(),
    });
    if present.fields == link.base {
        out.push(Action::Delete {
            side,
            id: present.id.clone(),
        });
    } else {
        out.push(Action::Create {
            side: match side {
                Side::Local => Side::Remote,
                Side::Remote => Side::Local,
            },
            from: present.id.clone(),
            fields: present.fields.clone(),
        });
    }
}

/// The plan that brings both sides to the same cards.
pub fn plan(local: &[Card], remote: &[Card], links: &[Link]) -> Vec<Action> {
    let loc: BTreeMap<&str, &Card> = local.iter().map(|c| (c.id.as_str(), c)).collect();
    let rem: BTreeMap<&str, &Card> = remote.iter().map(|c| (c.id.as_str(), c)).collect();
    let mut linked_local = BTreeSet::new();
    let mut linked_remote = BTreeSet::new();
    let mut out = Vec::new();
    for link in links {
        linked_local.insert(link.local.as_str());
        linked_remote.insert(link.remote.as_str());
        match (loc.get(link.local.as_str()), rem.get(link.remote.as_str())) {
            (None, None) => out.push(Action::Forget {
                local: link.local.clone(),
                remote: link.remote.clone(),
            }),
            (Some(l), None) => one_sided(&mut out, link, l, Side::Local),
            (None, Some(r)) => one_sided(&mut out, link, r, Side::Remote),
            (Some(l), Some(r)) => {
                let mut merged = link.base.clone();
                let mut to_local = Vec::new();
                let mut to_remote = Vec::new();
                for name in NAMES {
                    let lc = differs(&l.fields, &link.base, name);
                    let rc = differs(&r.fields, &link.base, name);
                    match (lc, rc) {
                        (false, false) => {}
                        (true, false) => {
                            take(&mut merged, &l.fields, name);
                            to_remote.push(name);
                        }
                        (false, true) => {
                            take(&mut merged, &r.fields, name);
                            to_local.push(name);
                        }
                        (true, true) => {
                            if !differs(&l.fields, &r.fields, name) {
                                take(&mut merged, &l.fields, name);
                                continue;
                            }
                            let local_wins = l.updated_at >= r.updated_at;
                            let (win, lose) = if local_wins {
                                (&l.fields, &r.fields)
                            } else {
                                (&r.fields, &l.fields)
                            };
                            take(&mut merged, win, name);
                            if local_wins {
                                to_remote.push(name);
                            } else {
                                to_local.push(name);
                            }
                            out.push(Action::Conflict {
                                local: l.id.clone(),
                                field: name,
                                kept: text(win, name),
                                lost: text(lose, name),
                            });
                        }
                    }
                }
                if !to_local.is_empty() {
                    out.push(Action::Update {
                        side: Side::Local,
                        id: l.id.clone(),
                        fields: merged.clone(),
                        changed: to_local,
                    });
                }
                if !to_remote.is_empty() {
                    out.push(Action::Update {
                        side: Side::Remote,
                        id: r.id.clone(),
                        fields: merged.clone(),
                        changed: to_remote,
                    });
                }
                out.push(Action::Agree {
                    local: link.local.clone(),
                    remote: link.remote.clone(),
                    base: merged,
                });
            }
        }
    }
    // Unlinked cards with the same fields on both sides (made twice, or a
    // link lost) are one card: linked, not copied across.
    let mut fresh_remote: Vec<&Card> = remote
        .iter()
        .filter(|c| !linked_remote.contains(c.id.as_str()))
        .collect();
    for l in local
        .iter()
        .filter(|c| !linked_local.contains(c.id.as_str()))
    {
        if let Some(i) = fresh_remote.iter().position(|r| r.fields == l.fields) {
            let r = fresh_remote.remove(i);
            out.push(Action::Agree {
                local: l.id.clone(),
                remote: r.id.clone(),
                base: l.fields.clone(),
            });
        } else {
            out.push(Action::Create {
                side: Side::Remote,
                from: l.id.clone(),
                fields: l.fields.clone(),
            });
        }
    }
    for r in fresh_remote {
        out.push(Action::Create {
            side: Side::Local,
            from: r.id.clone(),
            fields: r.fields.clone(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-30T08:00:00Z")
            .expect("time")
            .with_timezone(&Utc)
    }

    fn fields(title: &str, list: &str) -> Fields {
        Fields {
            title: title.into(),
            list: list.into(),
            ..Fields::default()
        }
    }

    /// Two in-memory sides and their links, synced by applying plans.
    #[derive(Default)]
    struct World {
        local: BTreeMap<String, Card>,
        remote: BTreeMap<String, Card>,
        links: Vec<Link>,
        next: u64,
        clock: i64,
        history: Vec<String>,
    }

    impl World {
        fn tick(&mut self) -> DateTime<Utc> {
            self.clock += 1;
            t0() + Duration::seconds(self.clock)
        }

        fn id(&mut self, p: &str) -> String {
            self.next += 1;
            format!("{p}{}", self.next)
        }

        fn side(&mut self, s: Side) -> &mut BTreeMap<String, Card> {
            match s {
                Side::Local => &mut self.local,
                Side::Remote => &mut self.remote,
            }
        }

        fn sync(&mut self) -> usize {
            let local: Vec<Card> = self.local.values().cloned().collect();
            let remote: Vec<Card> = self.remote.values().cloned().collect();
            let plan = plan(&local, &remote, &self.links);
            let steps = plan
                .iter()
                .filter(|a| !matches!(a, Action::Agree { .. }))
                .count();
            let mut links = Vec::new();
            let mut forget = BTreeSet::new();
            for a in plan {
                match a {
                    Action::Create { side, from, fields } => {
                        let id = self.id(if side == Side::Local { "l" } else { "r" });
                        let at = self.tick();
                        self.side(side).insert(
                            id.clone(),
                            Card {
                                id: id.clone(),
                                fields: fields.clone(),
                                updated_at: at,
                            },
                        );
                        let (local, remote) = match side {
                            Side::Local => (id, from),
                            Side::Remote => (from, id),
                        };
                        links.push(Link {
                            local,
                            remote,
                            base: fields,
                        });
                    }
                    Action::Update {
                        side, id, fields, ..
                    } => {
                        let at = self.tick();
                        if let Some(c) = self.side(side).get_mut(&id) {
                            c.fields = fields;
                            c.updated_at = at;
                        }
                    }
                    Action::Delete { side, id } => {
                        self.side(side).remove(&id);
                    }
                    Action::Conflict { lost, .. } => self.history.push(lost),
                    Action::Agree {
                        local,
                        remote,
                        base,
                    } => links.push(Link {
                        local,
                        remote,
                        base,
                    }),
                    Action::Forget { local, remote } => {
                        forget.insert((local, remote));
                    }
                }
            }
            links.retain(|l| !forget.contains(&(l.local.clone(), l.remote.clone())));
            self.links = links;
            steps
        }

        fn same(&self) -> bool {
            let mut a: Vec<&Fields> = self.local.values().map(|c| &c.fields).collect();
            let mut b: Vec<&Fields> = self.remote.values().map(|c| &c.fields).collect();
            a.sort_by(|x, y| (&x.title, &x.list).cmp(&(&y.title, &y.list)));
            b.sort_by(|x, y| (&x.title, &x.list).cmp(&(&y.title, &y.list)));
            a == b && self.links.len() == self.local.len() && self.local.len() == self.remote.len()
        }
    }

    #[test]
    fn new_cards_cross_over_and_a_second_sync_does_nothing() {
        let mut w = World::default();
        let at = w.tick();
        w.local.insert(
            "l0".into(),
            Card {
                id: "l0".into(),
                fields: fields("Update CV", "Inbox"),
                updated_at: at,
            },
        );
        w.remote.insert(
            "r0".into(),
            Card {
                id: "r0".into(),
                fields: fields("Call bank", "Pending"),
                updated_at: at,
            },
        );
        assert_eq!(w.sync(), 2);
        assert!(w.same());
        assert_eq!(w.sync(), 0, "idempotent");
    }

    #[test]
    fn both_sides_edit_the_same_field_the_later_wins_and_the_loser_is_kept() {
        let mut w = World::default();
        let at = w.tick();
        w.local.insert(
            "l0".into(),
            Card {
                id: "l0".into(),
                fields: fields("Update CV", "Inbox"),
                updated_at: at,
            },
        );
        w.sync();
        let rid = w.links[0].remote.clone();
        let t1 = w.tick();
        if let Some(c) = w.local.get_mut("l0") {
            c.fields.title = "Update CV (EN)".into();
            c.fields.list = "In Progress".into();
            c.updated_at = t1;
        }
        let t2 = w.tick();
        if let Some(c) = w.remote.get_mut(&rid) {
            c.fields.title = "Update CV (DE)".into();
            c.fields.description = "for Berlin".into();
            c.updated_at = t2;
        }
        w.sync();
        assert!(w.same());
        let l = &w.local["l0"].fields;
        assert_eq!(l.title, "Update CV (DE)", "the later edit wins");
        assert_eq!(
            l.list, "In Progress",
            "a field changed on one side only is kept"
        );
        assert_eq!(l.description, "for Berlin");
        assert_eq!(w.history, ["Update CV (EN)"]);
        assert_eq!(w.sync(), 0);
    }

    #[test]
    fn a_deletion_goes_across_unless_the_other_side_edited() {
        let mut w = World::default();
        let at = w.tick();
        for i in 0..2 {
            let id = format!("l{i}");
            w.local.insert(
                id.clone(),
                Card {
                    id,
                    fields: fields(&format!("T{i}"), "Inbox"),
                    updated_at: at,
                },
            );
        }
        w.sync();
        // Deleted in Planka, untouched here: deleted here too.
        let r0 = w
            .links
            .iter()
            .find(|l| l.local == "l0")
            .map(|l| l.remote.clone())
            .unwrap_or_default();
        w.remote.remove(&r0);
        // Deleted in Planka but edited here: the edit wins, recreated there.
        let r1 = w
            .links
            .iter()
            .find(|l| l.local == "l1")
            .map(|l| l.remote.clone())
            .unwrap_or_default();
        w.remote.remove(&r1);
        if let Some(c) = w.local.get_mut("l1") {
            c.fields.title = "T1 edited".into();
        }
        w.sync();
        assert!(!w.local.contains_key("l0"));
        assert!(w.same());
        assert_eq!(
            w.remote.values().next().map(|c| c.fields.title.as_str()),
            Some("T1 edited")
        );
        assert_eq!(w.sync(), 0);
    }

    #[test]
    fn a_hundred_random_edits_on_both_sides_end_equal_without_duplicates() {
        let mut w = World::default();
        let mut seed: u64 = 0x5eed;
        let mut rnd = |n: u64| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) % n
        };
        let lists = ["Inbox", "In Progress", "Blocked", "Done"];
        for step in 0..100u64 {
            let side = if rnd(2) == 0 {
                Side::Local
            } else {
                Side::Remote
            };
            let at = w.tick();
            let ids: Vec<String> = w.side(side).keys().cloned().collect();
            match rnd(5) {
                0 | 1 if !ids.is_empty() => {
                    let id = &ids[rnd(ids.len() as u64) as usize];
                    let list = lists[rnd(4) as usize];
                    if let Some(c) = w.side(side).get_mut(id) {
                        if rnd(2) == 0 {
                            c.fields.title = format!("{} · {step}", c.fields.title);
                        } else {
                            c.fields.list = list.into();
                        }
                        c.updated_at = at;
                    }
                }
                2 if !ids.is_empty() => {
                    let id = ids[rnd(ids.len() as u64) as usize].clone();
                    w.side(side).remove(&id);
                }
                _ => {
                    let id = w.id(if side == Side::Local { "l" } else { "r" });
                    let f = fields(&format!("Task {step}"), lists[rnd(4) as usize]);
                    w.side(side).insert(
                        id.clone(),
                        Card {
                            id,
                            fields: f,
                            updated_at: at,
                        },
                    );
                }
            }
            // Sync now and then, as the job and the local changes would.
            if rnd(3) == 0 {
                w.sync();
                assert!(w.same(), "after step {step}");
            }
        }
        w.sync();
        assert!(w.same());
        assert_eq!(w.sync(), 0, "no echo: a synced state plans nothing");
        let mut titles: Vec<&str> = w.local.values().map(|c| c.fields.title.as_str()).collect();
        let n = titles.len();
        titles.sort_unstable();
        titles.dedup();
        assert_eq!(titles.len(), n, "no duplicate card");
    }

    #[test]
    fn the_same_card_made_on_both_sides_is_linked_not_doubled() {
        let mut w = World::default();
        let at = w.tick();
        let card = |id: &str| Card {
            id: id.into(),
            fields: fields("Pay rent", "Inbox"),
            updated_at: at,
        };
        w.local.insert("l0".into(), card("l0"));
        w.remote.insert("r0".into(), card("r0"));
        w.sync();
        assert_eq!((w.local.len(), w.remote.len(), w.links.len()), (1, 1, 1));
        assert_eq!(w.sync(), 0);
    }
}
