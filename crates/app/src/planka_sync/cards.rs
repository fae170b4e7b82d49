//! One board's cards: moves between boards, the plan, and applying it.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use openzero_core::board_sync::{self, Action, Fields, Side};
use openzero_planka::{BoardDetail, CardFields, CardUpdate, POSITION_GAP, Planka, PlankaError};
use openzero_store::Store;
use openzero_store::board::{CardPatch, CardRow, NewCard};
use openzero_store::sync_link::SyncLink;

use super::{
    Base, Pair, Report, SERVICE, base_of, colour, due_from_text, local_fields, planka_error,
    put_link, remote_due, remote_fields,
};
use crate::AppError;

/// Moves cards that went to another board on one side to the same board
/// on the other (the side that moved wins; both moved: the later).
/// Whether any moved.
pub(super) async fn move_between_boards(
    store: &dyn Store,
    planka: &Planka,
    tz: Tz,
    pairs: &[Pair],
    links: &[SyncLink],
    cards: &[CardRow],
    report: &mut Report,
) -> Result<bool, AppError> {
    let e = |e: PlankaError| planka_error(&e);
    let by_id: HashMap<i64, &CardRow> = cards.iter().map(|c| (c.id, c)).collect();
    let mut moved = false;
    for link in links {
        let Some(local) = by_id.get(&link.local_id) else {
            continue;
        };
        if local.archived {
            continue;
        }
        let Some(lp) = pairs.iter().position(|p| p.local.id == local.board_id) else {
            continue;
        };
        let Some((rp, remote)) = pairs
            .iter()
            .enumerate()
            .find_map(|(i, p)| p.detail.card(&link.remote_id).map(|c| (i, c.clone())))
        else {
            continue;
        };
        if lp == rp {
            continue;
        }
        let base = base_of(link);
        let local_moved = local.board_id != base.board;
        let remote_moved = pairs[rp].local.id != base.board;
        let local_wins = match (local_moved, remote_moved) {
            (true, false) => true,
            (false, true) => false,
            _ => local.updated_at >= remote.changed_at().unwrap_or(local.updated_at),
        };
        if local_wins {
            let target = &pairs[lp];
            let Some(list_id) = target
                .remote_list
                .get(&local.list)
                .cloned()
                .or_else(|| target.detail.lists.first().map(|l| l.id.clone()))
            else {
                continue;
            };
            let position = end_of(&target.detail, &list_id);
            planka
                .update_card(
                    &remote.id,
                    &CardUpdate {
                        board_id: Some(target.detail.board.id.clone()),
                        list_id: Some(list_id),
                        position: Some(position),
                        ..CardUpdate::default()
                    },
                )
                .await
                .map_err(e)?;
        } else {
            let source = &pairs[rp];
            let Some((list_id, _)) = source.lists.get(&remote.list_id).cloned() else {
                continue;
            };
            let was_done = local.list_done;
            if let Some(m) = store.card_move(local.id, list_id).await? {
                crate::boards::next_if_done(store, tz, crate::clock::now(), was_done, &m).await;
            }
        }
        let mut base = base;
        base.board = if local_wins {
            local.board_id
        } else {
            pairs[rp].local.id
        };
        let text = serde_json::to_string(&base).unwrap_or_default();
        put_link(store, "card", local.id, &link.remote_id, &text).await?;
        report.moved_boards += 1;
        moved = true;
    }
    Ok(moved)
}

/// The position after a list's last card.
fn end_of(d: &BoardDetail, list_id: &str) -> f64 {
    d.cards
        .iter()
        .filter(|c| c.list_id == list_id)
        .map(|c| c.position)
        .fold(0.0, f64::max)
        + POSITION_GAP
}

/// Syncs one board's cards.
pub(super) async fn sync_cards(
    store: &dyn Store,
    planka: &Planka,
    tz: Tz,
    pair: &Pair,
    board_cards: &[&CardRow],
    links: &[&SyncLink],
    report: &mut Report,
) -> Result<(), AppError> {
    let open: BTreeSet<i64> = pair.lists.values().map(|(id, _)| *id).collect();
    let hidden_local: BTreeSet<i64> = board_cards
        .iter()
        .filter(|c| !c.archived && !open.contains(&c.list_id))
        .map(|c| c.id)
        .collect();
    let hidden_remote: BTreeSet<&str> = pair
        .detail
        .cards
        .iter()
        .filter(|c| !pair.lists.contains_key(&c.list_id))
        .map(|c| c.id.as_str())
        .collect();
    // A card hidden on one side (its list archived here, or in a Planka
    // list that maps to no open list) hides its linked twin too: neither is
    // deleted nor copied while hidden.
    let (links, hidden): (Vec<&SyncLink>, Vec<&SyncLink>) = links.iter().copied().partition(|l| {
        !hidden_local.contains(&l.local_id) && !hidden_remote.contains(l.remote_id.as_str())
    });
    let twin_local: BTreeSet<i64> = hidden.iter().map(|l| l.local_id).collect();
    let twin_remote: BTreeSet<&str> = hidden.iter().map(|l| l.remote_id.as_str()).collect();
    let local: Vec<board_sync::Card> = board_cards
        .iter()
        .filter(|c| !c.archived && open.contains(&c.list_id) && !twin_local.contains(&c.id))
        .map(|c| board_sync::Card {
            id: c.id.to_string(),
            fields: local_fields(c),
            updated_at: c.updated_at,
        })
        .collect();
    let remote: Vec<board_sync::Card> = pair
        .detail
        .cards
        .iter()
        .filter(|c| !twin_remote.contains(c.id.as_str()))
        .filter_map(|c| {
            let (_, list) = pair.lists.get(&c.list_id)?;
            Some(board_sync::Card {
                id: c.id.clone(),
                fields: remote_fields(&pair.detail, c, list, tz),
                updated_at: c.changed_at().unwrap_or(DateTime::<Utc>::MIN_UTC),
            })
        })
        .collect();
    let stored: HashMap<i64, Base> = links.iter().map(|l| (l.local_id, base_of(l))).collect();
    let plan_links: Vec<board_sync::Link> = links
        .iter()
        .map(|l| board_sync::Link {
            local: l.local_id.to_string(),
            remote: l.remote_id.clone(),
            base: stored
                .get(&l.local_id)
                .map(|b| b.fields.clone())
                .unwrap_or_default(),
        })
        .collect();
    let plan = board_sync::plan(&local, &remote, &plan_links);
    let mut apply = Apply {
        store,
        planka,
        tz,
        pair,
        stored,
        labels: pair
            .detail
            .labels
            .iter()
            .filter_map(|l| Some((l.name.clone()?, l.id.clone())))
            .collect(),
        ends: HashMap::new(),
        report,
    };
    for action in plan {
        apply.one(action).await?;
    }
    Ok(())
}

/// Applies one board's plan, recording each step as it is done.
struct Apply<'a> {
    store: &'a dyn Store,
    planka: &'a Planka,
    tz: Tz,
    pair: &'a Pair,
    /// The stored base of each linked local card.
    stored: HashMap<i64, Base>,
    /// Label name → id on the Planka board.
    labels: HashMap<String, String>,
    /// The next free position per Planka list.
    ends: HashMap<String, f64>,
    report: &'a mut Report,
}

fn id_of(text: &str) -> Result<i64, AppError> {
    text.parse()
        .map_err(|_| AppError::Invalid(format!("sync: {text:?} is not a card id")))
}

impl Apply<'_> {
    async fn one(&mut self, action: Action) -> Result<(), AppError> {
        let e = |e: PlankaError| planka_error(&e);
        match action {
            Action::Forget { local, .. } => {
                self.store
                    .sync_link_forget(SERVICE, "card", id_of(&local)?)
                    .await?;
            }
            Action::Agree {
                local,
                remote,
                base,
            } => {
                let id = id_of(&local)?;
                let base = Base {
                    board: self.pair.local.id,
                    fields: base,
                };
                if self.stored.get(&id) != Some(&base) {
                    let text = serde_json::to_string(&base).unwrap_or_default();
                    put_link(self.store, "card", id, &remote, &text).await?;
                    self.stored.insert(id, base);
                }
            }
            Action::Conflict {
                local,
                field,
                kept,
                lost,
            } => {
                self.report.conflicts += 1;
                let what = format!(
                    "sync conflict on {field}: kept {kept:?} (the side changed last), lost {lost:?}"
                );
                self.store
                    .card_update(id_of(&local)?, &CardPatch::default(), &what)
                    .await?;
            }
            Action::Delete {
                side: Side::Local,
                id,
            } => {
                let patch = CardPatch {
                    archived: Some(true),
                    ..CardPatch::default()
                };
                self.store
                    .card_update(id_of(&id)?, &patch, "deleted in Planka: archived here")
                    .await?;
                self.report.deleted_here += 1;
            }
            Action::Delete {
                side: Side::Remote,
                id,
            } => {
                match self.planka.delete_card(&id).await {
                    Ok(()) | Err(PlankaError::NotFound(_)) => {}
                    Err(x) => return Err(e(x)),
                }
                self.report.deleted_there += 1;
            }
            Action::Create {
                side: Side::Local,
                from,
                fields,
            } => {
                let list = self
                    .pair
                    .local
                    .lists
                    .iter()
                    .filter(|l| !l.archived)
                    .find(|l| l.name == fields.list)
                    .or_else(|| self.pair.local.lists.iter().find(|l| !l.archived))
                    .ok_or_else(|| {
                        AppError::Invalid(format!(
                            "board {} has no open list",
                            self.pair.local.name
                        ))
                    })?;
                let made = self
                    .store
                    .card_add(&NewCard {
                        list_id: list.id,
                        title: fields.title.clone(),
                        description: fields.description.clone(),
                        due: fields.due.as_deref().and_then(due_from_text),
                        labels: fields.labels.clone(),
                        project_id: None,
                        repeat: None,
                    })
                    .await?;
                let base = Base {
                    board: self.pair.local.id,
                    fields: local_fields(&made),
                };
                let text = serde_json::to_string(&base).unwrap_or_default();
                put_link(self.store, "card", made.id, &from, &text).await?;
                self.stored.insert(made.id, base);
                self.report.created_here += 1;
            }
            Action::Create {
                side: Side::Remote,
                from,
                fields,
            } => {
                let local = id_of(&from)?;
                let list = self.remote_list(&fields.list)?;
                let position = self.next_position(&list);
                let card = self
                    .planka
                    .create_card(
                        &list,
                        &CardFields {
                            name: fields.title.clone(),
                            position,
                            description: Some(fields.description.clone()).filter(|d| !d.is_empty()),
                            due_date: fields.due.as_deref().and_then(|d| remote_due(d, self.tz)),
                        },
                    )
                    .await
                    .map_err(e)?;
                // Linked at once, labels not yet: a stop before they are
                // on sends them at the next sync instead of copying the card.
                let mut base = Base {
                    board: self.pair.local.id,
                    fields: Fields {
                        labels: Vec::new(),
                        ..fields.clone()
                    },
                };
                let text = serde_json::to_string(&base).unwrap_or_default();
                put_link(self.store, "card", local, &card.id, &text).await?;
                self.set_labels(&card.id, &[], &fields.labels).await?;
                base.fields.labels = fields.labels.clone();
                let text = serde_json::to_string(&base).unwrap_or_default();
                put_link(self.store, "card", local, &card.id, &text).await?;
                self.stored.insert(local, base);
                self.report.created_there += 1;
            }
            Action::Update {
                side: Side::Local,
                id,
                fields,
                changed,
            } => {
                let id = id_of(&id)?;
                let mut patch = CardPatch::default();
                for name in &changed {
                    match *name {
                        "title" => patch.title = Some(fields.title.clone()),
                        "description" => patch.description = Some(fields.description.clone()),
                        "due" => patch.due = Some(fields.due.as_deref().and_then(due_from_text)),
                        "labels" => patch.labels = Some(fields.labels.clone()),
                        _ => {}
                    }
                }
                if patch != CardPatch::default() {
                    let what = format!(
                        "changed in Planka: {}",
                        changed
                            .iter()
                            .filter(|n| **n != "list")
                            .copied()
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                    self.store.card_update(id, &patch, &what).await?;
                }
                let target = changed
                    .contains(&"list")
                    .then(|| {
                        self.pair
                            .local
                            .lists
                            .iter()
                            .find(|l| !l.archived && l.name == fields.list)
                    })
                    .flatten();
                if let Some(list) = target {
                    let was_done = self.store.card_get(id).await?.is_some_and(|c| c.list_done);
                    if let Some(m) = self.store.card_move(id, list.id).await? {
                        crate::boards::next_if_done(
                            self.store,
                            self.tz,
                            crate::clock::now(),
                            was_done,
                            &m,
                        )
                        .await;
                    }
                }
                self.report.updated_here += 1;
            }
            Action::Update {
                side: Side::Remote,
                id,
                fields,
                changed,
            } => {
                let mut u = CardUpdate::default();
                for name in &changed {
                    match *name {
                        "title" => u.name = Some(fields.title.clone()),
                        "description" => {
                            u.description =
                                Some(Some(fields.description.clone()).filter(|d| !d.is_empty()));
                        }
                        "due" => {
                            u.due_date =
                                Some(fields.due.as_deref().and_then(|d| remote_due(d, self.tz)));
                        }
                        "list" => {
                            let list = self.remote_list(&fields.list)?;
                            u.position = Some(self.next_position(&list));
                            u.list_id = Some(list);
                        }
                        _ => {}
                    }
                }
                if u != CardUpdate::default() {
                    match self.planka.update_card(&id, &u).await {
                        Ok(_) => {}
                        Err(x) => return Err(e(x)),
                    }
                }
                if changed.contains(&"labels") {
                    let now: Vec<String> = self
                        .pair
                        .detail
                        .labels_of(&id)
                        .into_iter()
                        .filter_map(|l| l.name.clone())
                        .collect();
                    self.set_labels(&id, &now, &fields.labels).await?;
                }
                self.report.updated_there += 1;
            }
        }
        Ok(())
    }

    /// The Planka list for a local list name (the board's first if none).
    fn remote_list(&self, name: &str) -> Result<String, AppError> {
        self.pair
            .remote_list
            .get(name)
            .or_else(|| {
                self.pair
                    .local
                    .lists
                    .iter()
                    .find(|l| !l.archived)
                    .and_then(|l| self.pair.remote_list.get(&l.name))
            })
            .cloned()
            .ok_or_else(|| {
                AppError::Invalid(format!(
                    "board {} has no list in Planka to put a card in",
                    self.pair.local.name
                ))
            })
    }

    fn next_position(&mut self, list: &str) -> f64 {
        let end = *self
            .ends
            .entry(list.to_owned())
            .or_insert_with(|| end_of(&self.pair.detail, list));
        self.ends.insert(list.to_owned(), end + POSITION_GAP);
        end
    }

    /// Puts exactly `want` labels on a Planka card that has `now`.
    async fn set_labels(
        &mut self,
        card: &str,
        now: &[String],
        want: &[String],
    ) -> Result<(), AppError> {
        let e = |e: PlankaError| planka_error(&e);
        for name in want.iter().filter(|n| !now.contains(n)) {
            let label = match self.labels.get(name) {
                Some(id) => id.clone(),
                None => {
                    let made = self
                        .planka
                        .create_label(&self.pair.detail.board.id, name, colour(name))
                        .await
                        .map_err(e)?;
                    self.labels.insert(name.clone(), made.id.clone());
                    made.id
                }
            };
            match self.planka.add_card_label(card, &label).await {
                Ok(()) | Err(PlankaError::Http { status: 409, .. }) => {}
                Err(x) => return Err(e(x)),
            }
        }
        for name in now.iter().filter(|n| !want.contains(n)) {
            if let Some(label) = self.labels.get(name) {
                match self.planka.remove_card_label(card, label).await {
                    Ok(()) | Err(PlankaError::NotFound(_)) => {}
                    Err(x) => return Err(e(x)),
                }
            }
        }
        Ok(())
    }
}
