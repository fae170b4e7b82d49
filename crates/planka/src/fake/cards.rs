//! The fake's card, label and task routes: v1's `cards/*`, `labels/create`,
//! `card-labels/*`, `tasks/create`, and `helpers/cards/update-one`'s rules.

use axum::http::StatusCode;
use serde_json::json;

use super::routes::{
    Answer, LABEL_COLORS, card_json, card_label_json, error, invalid, label_json, not_found,
    object, optional_bool, optional_date, optional_id, optional_number, optional_text,
    required_text, task_json,
};
use super::{CardLabel, Data, FakeCard, Label, Task};

pub fn create_card(d: &mut Data, what: &str, list_id: &str, body: &[u8]) -> Answer {
    let b = object(what, body)?;
    let name = required_text(what, &b, "name")?;
    let position = optional_number(what, &b, "position")?;
    let description = optional_text(what, &b, "description", true)?.flatten();
    let due_date = optional_date(what, &b, "dueDate")?.flatten();
    let list = d
        .lists
        .iter()
        .find(|l| l.id == list_id)
        .ok_or_else(|| not_found("List not found"))?;
    let board_id = list.board_id.clone();
    let position = position.ok_or_else(|| {
        error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "E_UNPROCESSABLE_ENTITY",
            "Position must be present",
        )
    })?;
    let (id, created_at) = (d.id(), d.now());
    let card = FakeCard {
        id,
        board_id,
        list_id: list_id.to_owned(),
        name,
        description,
        position,
        is_due_date_completed: due_date.map(|_| false),
        due_date,
        created_at,
        updated_at: None,
    };
    let v = card_json(&card);
    d.cards.push(card);
    Ok(json!({ "item": v }))
}

pub fn show_card(d: &Data, id: &str) -> Answer {
    let card = d
        .cards
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(|| not_found("Card not found"))?;
    Ok(json!({
        "item": card_json(card),
        "included": {
            "cardMemberships": [],
            "cardLabels": d.card_labels.iter().filter(|cl| cl.card_id == id).map(card_label_json).collect::<Vec<_>>(),
            "tasks": d.tasks.iter().filter(|t| t.card_id == id).map(task_json).collect::<Vec<_>>(),
            "attachments": [],
        },
    }))
}

/// v1's `cards/update` + `helpers/cards/update-one`.
pub fn update_card(d: &mut Data, what: &str, id: &str, body: &[u8]) -> Answer {
    let b = object(what, body)?;
    let name = optional_text(what, &b, "name", false)?.flatten();
    let description = optional_text(what, &b, "description", true)?;
    let due_date = optional_date(what, &b, "dueDate")?;
    let done = optional_bool(what, &b, "isDueDateCompleted")?;
    let board_id = optional_id(what, &b, "boardId")?;
    let list_id = optional_id(what, &b, "listId")?;
    let position = optional_number(what, &b, "position")?;

    let card = d
        .cards
        .iter()
        .find(|c| c.id == id)
        .cloned()
        .ok_or_else(|| not_found("Card not found"))?;
    let project_of = |d: &Data, board: &str| {
        d.boards
            .iter()
            .find(|x| x.id == board)
            .map(|x| x.project_id.clone())
    };
    // A new board: it must exist and be in the card's project; a list must come with it.
    let new_board = match board_id {
        Some(bid) if bid != card.board_id => {
            let p = project_of(d, &bid).ok_or_else(|| not_found("Board not found"))?;
            if Some(p) != project_of(d, &card.board_id) {
                return Err(error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "E_INTERNAL_SERVER_ERROR",
                    "boardInValuesMustBelongToProject",
                ));
            }
            Some(bid)
        }
        _ => None,
    };
    let target_board = new_board.clone().unwrap_or_else(|| card.board_id.clone());
    let new_list = match list_id {
        Some(lid) => {
            if !d
                .lists
                .iter()
                .any(|l| l.id == lid && l.board_id == target_board)
            {
                return Err(not_found("List not found"));
            }
            (lid != card.list_id).then_some(lid)
        }
        None => None,
    };
    if new_board.is_some() && new_list.is_none() {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "E_UNPROCESSABLE_ENTITY",
            "List must be present",
        ));
    }
    if new_list.is_some() && position.is_none() {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "E_UNPROCESSABLE_ENTITY",
            "Position must be present",
        ));
    }

    let changes = name.is_some()
        || description.is_some()
        || due_date.is_some()
        || done.is_some()
        || new_board.is_some()
        || new_list.is_some()
        || position.is_some();
    if !changes {
        return Ok(json!({ "item": card_json(&card) }));
    }
    // Moving boards: the card's labels are dropped and the new board's
    // labels of the same names put on, created when missing.
    if let Some(nb) = &new_board {
        let names: Vec<(Option<String>, String, f64)> = d
            .card_labels
            .iter()
            .filter(|cl| cl.card_id == id)
            .filter_map(|cl| d.labels.iter().find(|l| l.id == cl.label_id))
            .map(|l| (l.name.clone(), l.color.clone(), l.position))
            .collect();
        d.card_labels.retain(|cl| cl.card_id != id);
        for (name, color, position) in names {
            let existing = d
                .labels
                .iter()
                .find(|l| l.board_id == *nb && l.name == name)
                .map(|l| l.id.clone());
            let label_id = match existing {
                Some(l) => l,
                None => {
                    let (lid, created_at) = (d.id(), d.now());
                    d.labels.push(Label {
                        id: lid.clone(),
                        board_id: nb.clone(),
                        name,
                        color,
                        position,
                        created_at,
                    });
                    lid
                }
            };
            let (clid, created_at) = (d.id(), d.now());
            d.card_labels.push(CardLabel {
                id: clid,
                card_id: id.to_owned(),
                label_id,
                created_at,
            });
        }
    }
    let now = d.now();
    let Some(c) = d.cards.iter_mut().find(|c| c.id == id) else {
        return Err(not_found("Card not found"));
    };
    if let Some(n) = name {
        c.name = n;
    }
    if let Some(desc) = description {
        c.description = desc;
    }
    if let Some(due) = due_date {
        c.due_date = due;
    }
    if let Some(x) = done {
        c.is_due_date_completed = x;
    }
    if let Some(nb) = new_board {
        c.board_id = nb;
    }
    if let Some(nl) = new_list {
        c.list_id = nl;
    }
    if let Some(p) = position {
        c.position = p;
    }
    // With a due date, "completed" is false unless set; without one, null.
    if c.due_date.is_some() {
        c.is_due_date_completed.get_or_insert(false);
    } else {
        c.is_due_date_completed = None;
    }
    c.updated_at = Some(now);
    Ok(json!({ "item": card_json(c) }))
}

/// Removes a card with its card labels and tasks.
pub fn remove_card(d: &mut Data, id: &str) -> Option<FakeCard> {
    let i = d.cards.iter().position(|c| c.id == id)?;
    let card = d.cards.remove(i);
    d.card_labels.retain(|cl| cl.card_id != id);
    d.tasks.retain(|t| t.card_id != id);
    Some(card)
}

pub fn create_label(d: &mut Data, what: &str, board_id: &str, body: &[u8]) -> Answer {
    let b = object(what, body)?;
    let position = optional_number(what, &b, "position")?
        .ok_or_else(|| invalid(what, "\"position\" is required"))?;
    let name = optional_text(what, &b, "name", true)?.flatten();
    let color = required_text(what, &b, "color")?;
    if !LABEL_COLORS.contains(&color.as_str()) {
        return Err(invalid(
            what,
            &format!("Invalid \"color\": {color:?} is not one of the colors"),
        ));
    }
    if !d.boards.iter().any(|x| x.id == board_id) {
        return Err(not_found("Board not found"));
    }
    let (id, created_at) = (d.id(), d.now());
    let label = Label {
        id,
        board_id: board_id.to_owned(),
        name,
        color,
        position,
        created_at,
    };
    let v = label_json(&label);
    d.labels.push(label);
    Ok(json!({ "item": v }))
}

pub fn add_card_label(d: &mut Data, what: &str, card_id: &str, body: &[u8]) -> Answer {
    let b = object(what, body)?;
    let label_id = optional_id(what, &b, "labelId")?
        .ok_or_else(|| invalid(what, "\"labelId\" is required"))?;
    let card = d
        .cards
        .iter()
        .find(|c| c.id == card_id)
        .ok_or_else(|| not_found("Card not found"))?;
    if !d
        .labels
        .iter()
        .any(|l| l.id == label_id && l.board_id == card.board_id)
    {
        return Err(not_found("Label not found"));
    }
    if d.card_labels
        .iter()
        .any(|cl| cl.card_id == card_id && cl.label_id == label_id)
    {
        return Err(error(
            StatusCode::CONFLICT,
            "E_CONFLICT",
            "Label already in card",
        ));
    }
    let (id, created_at) = (d.id(), d.now());
    let cl = CardLabel {
        id,
        card_id: card_id.to_owned(),
        label_id,
        created_at,
    };
    let v = card_label_json(&cl);
    d.card_labels.push(cl);
    Ok(json!({ "item": v }))
}

pub fn remove_card_label(d: &mut Data, card_id: &str, label_id: &str) -> Answer {
    if !d.cards.iter().any(|c| c.id == card_id) {
        return Err(not_found("Card not found"));
    }
    let i = d
        .card_labels
        .iter()
        .position(|cl| cl.card_id == card_id && cl.label_id == label_id)
        .ok_or_else(|| not_found("Label not in card"))?;
    let cl = d.card_labels.remove(i);
    Ok(json!({ "item": card_label_json(&cl) }))
}

pub fn create_task(d: &mut Data, what: &str, card_id: &str, body: &[u8]) -> Answer {
    let b = object(what, body)?;
    let name = required_text(what, &b, "name")?;
    let position = optional_number(what, &b, "position")?
        .ok_or_else(|| invalid(what, "\"position\" is required"))?;
    let is_completed = optional_bool(what, &b, "isCompleted")?
        .flatten()
        .unwrap_or(false);
    if !d.cards.iter().any(|c| c.id == card_id) {
        return Err(not_found("Card not found"));
    }
    let (id, created_at) = (d.id(), d.now());
    let task = Task {
        id,
        card_id: card_id.to_owned(),
        name,
        is_completed,
        position,
        created_at,
    };
    let v = task_json(&task);
    d.tasks.push(task);
    Ok(json!({ "item": v }))
}
