//! The fake's routes: v1's `config/routes.js` paths, the JSON each
//! controller answers, and the validation and errors it gives.

use axum::http::{HeaderMap, Method, StatusCode, header};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::cards::{
    add_card_label, create_card, create_label, create_task, remove_card, remove_card_label,
    show_card, update_card,
};
use super::{
    Board, CardLabel, Data, EMAIL, FakeCard, Label, List, PASSWORD, Project, Task, USERNAME,
};

/// v1's `Label.COLORS` (the client's list: one source).
pub use crate::model::LABEL_COLORS;

/// An error answer: a status and Planka's `{code, message}` body.
pub struct Fail(StatusCode, Value);

pub type Answer = Result<Value, Fail>;

pub fn route(
    d: &mut Data,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> (StatusCode, Value) {
    let seg: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let what = format!("{method} {path}");
    let answer = (|| -> Answer {
        if seg.first() != Some(&"api") {
            return Err(error(StatusCode::NOT_FOUND, "E_NOT_FOUND", "Not found"));
        }
        let seg = &seg[1..];
        if *method == Method::POST && seg == ["access-tokens"] {
            return login(d, &what, body);
        }
        authorize(d, headers)?;
        if *method == Method::GET && seg == ["users", "me"] {
            return Ok(json!({ "item": user_json(d) }));
        }
        for s in seg.iter().skip(1).step_by(2) {
            if !s.bytes().all(|b| b.is_ascii_digit()) || s.is_empty() {
                return Err(invalid(&what, &format!("Invalid id {s:?}")));
            }
        }
        let m = method.clone();
        match (m, seg) {
            (Method::GET, ["projects"]) => Ok(projects(d)),
            (Method::POST, ["projects"]) => create_project(d, &what, body),
            (Method::POST, ["projects", p, "boards"]) => create_board(d, &what, p, body),
            (Method::GET, ["boards", b]) => show_board(d, b),
            (Method::PATCH, ["boards", b]) => update_board(d, &what, b, body),
            (Method::POST, ["boards", b, "lists"]) => create_list(d, &what, b, body),
            (Method::PATCH, ["lists", l]) => update_list(d, &what, l, body),
            (Method::POST, ["lists", l, "cards"]) => create_card(d, &what, l, body),
            (Method::GET, ["cards", c]) => show_card(d, c),
            (Method::PATCH, ["cards", c]) => update_card(d, &what, c, body),
            (Method::DELETE, ["cards", c]) => match remove_card(d, c) {
                Some(card) => Ok(json!({ "item": card_json(&card) })),
                None => Err(not_found("Card not found")),
            },
            (Method::POST, ["boards", b, "labels"]) => create_label(d, &what, b, body),
            (Method::POST, ["cards", c, "labels"]) => add_card_label(d, &what, c, body),
            (Method::DELETE, ["cards", c, "labels", l]) => remove_card_label(d, c, l),
            (Method::POST, ["cards", c, "tasks"]) => create_task(d, &what, c, body),
            _ => Err(not_found("Not found")),
        }
    })();
    match answer {
        Ok(v) => (StatusCode::OK, v),
        Err(Fail(status, body)) => (status, body),
    }
}

/// The webhook event a successful request causes (v1's `Webhook.Events`
/// names), if any.
pub fn event_of(method: &Method, path: &str) -> Option<&'static str> {
    let seg: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    Some(match (method.as_str(), seg.get(1..)?) {
        ("POST", ["projects"]) => "projectCreate",
        ("POST", ["projects", _, "boards"]) => "boardCreate",
        ("PATCH", ["boards", _]) => "boardUpdate",
        ("POST", ["boards", _, "lists"]) => "listCreate",
        ("PATCH", ["lists", _]) => "listUpdate",
        ("POST", ["lists", _, "cards"]) => "cardCreate",
        ("PATCH", ["cards", _]) => "cardUpdate",
        ("DELETE", ["cards", _]) => "cardDelete",
        ("POST", ["boards", _, "labels"]) => "labelCreate",
        ("POST", ["cards", _, "labels"]) => "cardLabelCreate",
        ("DELETE", ["cards", _, "labels", _]) => "cardLabelDelete",
        ("POST", ["cards", _, "tasks"]) => "taskCreate",
        _ => return None,
    })
}

pub fn error(status: StatusCode, code: &str, message: &str) -> Fail {
    Fail(status, json!({ "code": code, "message": message }))
}

pub fn not_found(message: &str) -> Fail {
    error(StatusCode::NOT_FOUND, "E_NOT_FOUND", message)
}

/// Sails' validation error.
pub fn invalid(what: &str, problem: &str) -> Fail {
    Fail(
        StatusCode::BAD_REQUEST,
        json!({
            "code": "E_MISSING_OR_INVALID_PARAMS",
            "problems": [problem],
            "message": format!(
                "The server could not fulfill this request (`{what}`) due to 1 missing or invalid parameter."
            ),
        }),
    )
}

fn authorize(d: &Data, headers: &HeaderMap) -> Result<(), Fail> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match token {
        Some(t) if d.tokens.iter().any(|k| k == t) => Ok(()),
        _ => Err(error(
            StatusCode::UNAUTHORIZED,
            "E_UNAUTHORIZED",
            "Access token is missing, invalid or expired",
        )),
    }
}

pub fn ts(t: DateTime<Utc>) -> Value {
    json!(t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

pub fn opt_ts(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, ts)
}

/// The request body as a JSON object.
pub fn object(what: &str, body: &[u8]) -> Result<Map<String, Value>, Fail> {
    if body.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(invalid(what, "The body is not a JSON object")),
    }
}

/// A required, non-empty string (Sails treats `""` as missing).
pub fn required_text(what: &str, b: &Map<String, Value>, key: &str) -> Result<String, Fail> {
    match b.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(invalid(what, &format!("\"{key}\" is required"))),
    }
}

/// An optional string: absent → `None`, `null` → `Some(None)` when allowed;
/// `""` refused (`isNotEmptyString`).
pub fn optional_text(
    what: &str,
    b: &Map<String, Value>,
    key: &str,
    nullable: bool,
) -> Result<Option<Option<String>>, Fail> {
    match b.get(key) {
        None => Ok(None),
        Some(Value::Null) if nullable => Ok(Some(None)),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(Some(s.clone()))),
        Some(_) => Err(invalid(
            what,
            &format!("Invalid \"{key}\": Value was an empty string or not a string"),
        )),
    }
}

pub fn optional_number(what: &str, b: &Map<String, Value>, key: &str) -> Result<Option<f64>, Fail> {
    match b.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| invalid(what, &format!("Invalid \"{key}\": not a number"))),
    }
}

pub fn optional_date(
    what: &str,
    b: &Map<String, Value>,
    key: &str,
) -> Result<Option<Option<DateTime<Utc>>>, Fail> {
    match b.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(Some(t.with_timezone(&Utc))))
            .map_err(|_| invalid(what, &format!("Invalid \"{key}\": not an ISO 8601 date"))),
        Some(_) => Err(invalid(what, &format!("Invalid \"{key}\""))),
    }
}

pub fn optional_bool(
    what: &str,
    b: &Map<String, Value>,
    key: &str,
) -> Result<Option<Option<bool>>, Fail> {
    match b.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::Bool(x)) => Ok(Some(Some(*x))),
        Some(_) => Err(invalid(what, &format!("Invalid \"{key}\": not a boolean"))),
    }
}

pub fn optional_id(what: &str, b: &Map<String, Value>, key: &str) -> Result<Option<String>, Fail> {
    match b.get(key) {
        None => Ok(None),
        Some(Value::String(s)) if !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()) => {
            Ok(Some(s.clone()))
        }
        Some(_) => Err(invalid(what, &format!("Invalid \"{key}\": not an id"))),
    }
}

pub fn user_json(d: &Data) -> Value {
    json!({
        "id": d.user_id, "email": EMAIL, "username": USERNAME, "name": "Owner",
        "isAdmin": true, "avatarUrl": null, "createdAt": "2024-01-01T00:00:00.000Z", "updatedAt": null,
    })
}

fn project_json(p: &Project) -> Value {
    json!({
        "id": p.id, "createdAt": ts(p.created_at), "updatedAt": opt_ts(p.updated_at),
        "name": p.name, "background": null, "backgroundImage": null,
    })
}

fn board_json(b: &Board) -> Value {
    json!({
        "id": b.id, "createdAt": ts(b.created_at), "updatedAt": opt_ts(b.updated_at),
        "position": b.position, "name": b.name, "projectId": b.project_id,
    })
}

fn list_json(l: &List) -> Value {
    json!({
        "id": l.id, "createdAt": ts(l.created_at), "updatedAt": opt_ts(l.updated_at),
        "position": l.position, "name": l.name, "boardId": l.board_id,
    })
}

pub fn card_json(c: &FakeCard) -> Value {
    json!({
        "id": c.id, "createdAt": ts(c.created_at), "updatedAt": opt_ts(c.updated_at),
        "position": c.position, "name": c.name, "description": c.description,
        "dueDate": opt_ts(c.due_date), "isDueDateCompleted": c.is_due_date_completed,
        "stopwatch": null, "boardId": c.board_id, "listId": c.list_id,
        "creatorUserId": "1357158568008091265", "coverAttachmentId": null, "isSubscribed": false,
    })
}

pub fn label_json(l: &Label) -> Value {
    json!({
        "id": l.id, "createdAt": ts(l.created_at), "updatedAt": null, "position": l.position,
        "name": l.name, "color": l.color, "boardId": l.board_id,
    })
}

pub fn card_label_json(cl: &CardLabel) -> Value {
    json!({
        "id": cl.id, "createdAt": ts(cl.created_at), "updatedAt": null,
        "cardId": cl.card_id, "labelId": cl.label_id,
    })
}

pub fn task_json(t: &Task) -> Value {
    json!({
        "id": t.id, "createdAt": ts(t.created_at), "updatedAt": null, "position": t.position,
        "name": t.name, "isCompleted": t.is_completed, "cardId": t.card_id,
    })
}

fn login(d: &mut Data, what: &str, body: &[u8]) -> Answer {
    let b = object(what, body)?;
    let who = required_text(what, &b, "emailOrUsername")?;
    let password = required_text(what, &b, "password")?;
    if !who.eq_ignore_ascii_case(EMAIL) && who != USERNAME {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "E_UNAUTHORIZED",
            "Invalid email or username",
        ));
    }
    if password != PASSWORD {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "E_UNAUTHORIZED",
            "Invalid password",
        ));
    }
    let token = format!("eyJhbGciOiJIUzI1NiJ9.fake.{}", d.id());
    d.tokens.push(token.clone());
    Ok(json!({ "item": token }))
}

fn projects(d: &Data) -> Value {
    let mut boards: Vec<&Board> = d.boards.iter().collect();
    boards.sort_by(|a, b| a.position.total_cmp(&b.position));
    json!({
        "items": d.projects.iter().map(project_json).collect::<Vec<_>>(),
        "included": {
            "users": [user_json(d)],
            "projectManagers": d.managers.iter().map(|(id, p)| json!({
                "id": id, "projectId": p, "userId": d.user_id,
                "createdAt": "2024-01-01T00:00:00.000Z", "updatedAt": null,
            })).collect::<Vec<_>>(),
            "boards": boards.into_iter().map(board_json).collect::<Vec<_>>(),
            "boardMemberships": d.memberships.iter().map(|(id, b)| membership_json(d, id, b)).collect::<Vec<_>>(),
        },
    })
}

fn membership_json(d: &Data, id: &str, board_id: &str) -> Value {
    json!({
        "id": id, "boardId": board_id, "userId": d.user_id, "role": "editor", "canComment": null,
        "createdAt": "2024-01-01T00:00:00.000Z", "updatedAt": null,
    })
}

fn create_project(d: &mut Data, what: &str, body: &[u8]) -> Answer {
    let b = object(what, body)?;
    let name = required_text(what, &b, "name")?;
    let (id, created_at) = (d.id(), d.now());
    let p = Project {
        id: id.clone(),
        name,
        created_at,
        updated_at: None,
    };
    let m = d.id();
    d.managers.push((m, id));
    let v = project_json(&p);
    d.projects.push(p);
    Ok(json!({ "item": v }))
}

fn create_board(d: &mut Data, what: &str, project_id: &str, body: &[u8]) -> Answer {
    let b = object(what, body)?;
    let name = required_text(what, &b, "name")?;
    let position = optional_number(what, &b, "position")?
        .ok_or_else(|| invalid(what, "\"position\" is required"))?;
    if !d.projects.iter().any(|p| p.id == project_id) {
        return Err(not_found("Project not found"));
    }
    let (id, created_at) = (d.id(), d.now());
    let board = Board {
        id: id.clone(),
        project_id: project_id.to_owned(),
        name,
        position,
        created_at,
        updated_at: None,
    };
    let m = d.id();
    d.memberships.push((m.clone(), id.clone()));
    let v = board_json(&board);
    d.boards.push(board);
    Ok(json!({ "item": v, "included": { "boardMemberships": [membership_json(d, &m, &id)] } }))
}

fn show_board(d: &Data, id: &str) -> Answer {
    let board = d
        .boards
        .iter()
        .find(|b| b.id == id)
        .ok_or_else(|| not_found("Board not found"))?;
    let project = d.projects.iter().find(|p| p.id == board.project_id);
    let mut lists: Vec<&List> = d.lists.iter().filter(|l| l.board_id == id).collect();
    lists.sort_by(|a, b| a.position.total_cmp(&b.position));
    let mut cards: Vec<&FakeCard> = d.cards.iter().filter(|c| c.board_id == id).collect();
    cards.sort_by(|a, b| a.position.total_cmp(&b.position));
    let card_ids: Vec<&str> = cards.iter().map(|c| c.id.as_str()).collect();
    Ok(json!({
        "item": board_json(board),
        "included": {
            "users": [user_json(d)],
            "boardMemberships": d.memberships.iter().filter(|(_, b)| b == id)
                .map(|(m, b)| membership_json(d, m, b)).collect::<Vec<_>>(),
            "labels": d.labels.iter().filter(|l| l.board_id == id).map(label_json).collect::<Vec<_>>(),
            "lists": lists.into_iter().map(list_json).collect::<Vec<_>>(),
            "cards": cards.iter().map(|c| card_json(c)).collect::<Vec<_>>(),
            "cardMemberships": [],
            "cardLabels": d.card_labels.iter().filter(|cl| card_ids.contains(&cl.card_id.as_str()))
                .map(card_label_json).collect::<Vec<_>>(),
            "tasks": d.tasks.iter().filter(|t| card_ids.contains(&t.card_id.as_str()))
                .map(task_json).collect::<Vec<_>>(),
            "attachments": [],
            "projects": project.map(project_json).into_iter().collect::<Vec<_>>(),
        },
    }))
}

fn create_list(d: &mut Data, what: &str, board_id: &str, body: &[u8]) -> Answer {
    let b = object(what, body)?;
    let name = required_text(what, &b, "name")?;
    let position = optional_number(what, &b, "position")?
        .ok_or_else(|| invalid(what, "\"position\" is required"))?;
    if !d.boards.iter().any(|x| x.id == board_id) {
        return Err(not_found("Board not found"));
    }
    let (id, created_at) = (d.id(), d.now());
    let list = List {
        id,
        board_id: board_id.to_owned(),
        name,
        position,
        created_at,
        updated_at: None,
    };
    let v = list_json(&list);
    d.lists.push(list);
    Ok(json!({ "item": v }))
}

fn update_list(d: &mut Data, what: &str, id: &str, body: &[u8]) -> Answer {
    let b = object(what, body)?;
    let name = optional_text(what, &b, "name", false)?.flatten();
    let position = optional_number(what, &b, "position")?;
    let now = d.now();
    let list = d
        .lists
        .iter_mut()
        .find(|l| l.id == id)
        .ok_or_else(|| not_found("List not found"))?;
    if name.is_some() || position.is_some() {
        if let Some(n) = name {
            list.name = n;
        }
        if let Some(p) = position {
            list.position = p;
        }
        list.updated_at = Some(now);
    }
    Ok(json!({ "item": list_json(list) }))
}

fn update_board(d: &mut Data, what: &str, id: &str, body: &[u8]) -> Answer {
    let b = object(what, body)?;
    let name = optional_text(what, &b, "name", false)?.flatten();
    let position = optional_number(what, &b, "position")?;
    let now = d.now();
    let board = d
        .boards
        .iter_mut()
        .find(|x| x.id == id)
        .ok_or_else(|| not_found("Board not found"))?;
    if name.is_some() || position.is_some() {
        if let Some(n) = name {
            board.name = n;
        }
        if let Some(p) = position {
            board.position = p;
        }
        board.updated_at = Some(now);
    }
    Ok(json!({ "item": board_json(board) }))
}
