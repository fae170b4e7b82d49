//! Boards: a board's lists side by side with their cards; drag a card to
//! another list (mouse or touch; a Move button without script), add a card,
//! edit one.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use openzero_app::boards::{self, AddTask, EditTask};
use openzero_store::board::{BoardRow, CardQuery};
use serde::Deserialize;

use crate::auth::{Change, Layout, Owner, done};
use crate::{PageError, Web};

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/boards", get(first))
        .route("/boards/{id}", get(board))
        .route("/boards/{id}/cards", post(add))
        .route("/cards/{id}", get(card_page).post(edit))
        .route("/cards/{id}/move", post(move_card))
}

async fn open_boards(web: &Web) -> Result<Vec<BoardRow>, PageError> {
    Ok(web
        .services
        .store
        .boards()
        .await?
        .into_iter()
        .filter(|b| !b.archived)
        .collect())
}

async fn first(State(web): State<Web>, _owner: Owner) -> Result<Response, PageError> {
    let boards = open_boards(&web).await?;
    match boards.first() {
        Some(b) => Ok(Redirect::to(&format!("/boards/{}", b.id)).into_response()),
        None => Err(PageError(
            StatusCode::NOT_FOUND,
            "There is no open board (`openzero board list`).".into(),
        )),
    }
}

pub(crate) struct CardView {
    id: i64,
    title: String,
    due: String,
    overdue: bool,
    labels: Vec<String>,
    repeat: String,
}

pub(crate) struct Column {
    id: i64,
    name: String,
    done: bool,
    cards: Vec<CardView>,
}

#[derive(askama::Template)]
#[template(path = "board.html")]
struct BoardPage {
    layout: Layout,
    id: i64,
    name: String,
    tabs: Vec<(i64, String, bool)>,
    columns: Vec<Column>,
}

async fn board(
    State(web): State<Web>,
    Path(id): Path<i64>,
    owner: Owner,
) -> Result<Response, PageError> {
    let boards = open_boards(&web).await?;
    let b = boards.iter().find(|b| b.id == id).ok_or_else(|| {
        PageError(
            StatusCode::NOT_FOUND,
            format!("There is no open board #{id}."),
        )
    })?;
    let tz = web.services.tz();
    let now = openzero_app::clock::now();
    let cards = web
        .services
        .store
        .cards(&CardQuery {
            board_id: Some(b.id),
            include_done: true,
            ..Default::default()
        })
        .await?;
    let columns = b
        .lists
        .iter()
        .filter(|l| !l.archived)
        .map(|l| Column {
            id: l.id,
            name: l.name.clone(),
            done: l.done,
            cards: cards
                .iter()
                .filter(|c| c.list_id == l.id && !c.archived)
                .map(|c| CardView {
                    id: c.id,
                    title: c.title.clone(),
                    due: c.due.map(|d| d.label(tz)).unwrap_or_default(),
                    overdue: !l.done && c.due.is_some_and(|d| d.overdue(tz, now)),
                    labels: c.labels.clone(),
                    repeat: c.repeat.clone().unwrap_or_default(),
                })
                .collect(),
        })
        .collect();
    Ok(owner.page(&BoardPage {
        layout: owner.layout("/boards"),
        id: b.id,
        name: b.name.clone(),
        tabs: boards
            .iter()
            .map(|x| (x.id, x.name.clone(), x.id == b.id))
            .collect(),
        columns,
    }))
}

#[derive(Debug, Deserialize)]
struct AddForm {
    title: String,
    list: String,
    #[serde(default)]
    due: String,
}

fn list_id(s: &str) -> Result<i64, PageError> {
    s.trim()
        .parse()
        .map_err(|_| PageError(StatusCode::BAD_REQUEST, "Choose a list.".into()))
}

async fn add(
    State(web): State<Web>,
    Path(id): Path<i64>,
    c: Change<AddForm>,
) -> Result<Response, PageError> {
    let boards = open_boards(&web).await?;
    let list = list_id(&c.form.list)?;
    let (b, l) = boards
        .iter()
        .find(|b| b.id == id)
        .and_then(|b| b.lists.iter().find(|l| l.id == list).map(|l| (b, l)))
        .ok_or_else(|| {
            PageError(
                StatusCode::NOT_FOUND,
                "That list is not on this board.".into(),
            )
        })?;
    let due = c.form.due.trim();
    let card = boards::add(
        &*web.services.store,
        web.services.tz(),
        openzero_app::clock::now(),
        &AddTask {
            title: c.form.title.clone(),
            board: Some(b.name.clone()),
            list: Some(l.name.clone()),
            due: (!due.is_empty()).then(|| due.to_owned()),
            ..Default::default()
        },
    )
    .await?;
    c.owner
        .audit(&web, "card.add", &format!("#{} {}", card.id, card.title))
        .await;
    Ok(done(
        &format!("/boards/{id}"),
        &format!("Added {}.", card.title),
    ))
}

#[derive(Debug, Deserialize)]
struct MoveForm {
    list: String,
}

async fn move_card(
    State(web): State<Web>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    c: Change<MoveForm>,
) -> Result<Response, PageError> {
    let moved = boards::move_to_list(
        &*web.services.store,
        web.services.tz(),
        openzero_app::clock::now(),
        id,
        list_id(&c.form.list)?,
    )
    .await?;
    c.owner
        .audit(
            &web,
            "card.move",
            &format!(
                "#{} {} → {}/{}",
                moved.id, moved.title, moved.board, moved.list
            ),
        )
        .await;
    // The page's script moved the card already: a plain answer is enough.
    if headers.contains_key("x-csrf-token") {
        return Ok((StatusCode::OK, format!("moved to {}", moved.list)).into_response());
    }
    Ok(done(
        &format!("/boards/{}", moved.board_id),
        &format!("Moved {} to {}.", moved.title, moved.list),
    ))
}

#[derive(askama::Template)]
#[template(path = "card.html")]
struct CardPage {
    layout: Layout,
    id: i64,
    board_id: i64,
    board: String,
    list: String,
    title: String,
    due: String,
    labels: String,
    description: String,
    /// The lists of its board: (id, name, the card's own).
    lists: Vec<(i64, String, bool)>,
    history: Vec<(String, String)>,
}

async fn card_page(
    State(web): State<Web>,
    Path(id): Path<i64>,
    owner: Owner,
) -> Result<Response, PageError> {
    let store = &web.services.store;
    let c = store
        .card_get(id)
        .await?
        .ok_or_else(|| PageError(StatusCode::NOT_FOUND, format!("There is no task #{id}.")))?;
    let tz = web.services.tz();
    let history = store
        .card_history(id)
        .await?
        .into_iter()
        .map(|(at, what)| (super::local(tz, at), what))
        .collect();
    let lists = store
        .boards()
        .await?
        .into_iter()
        .find(|b| b.id == c.board_id)
        .map(|b| {
            b.lists
                .into_iter()
                .filter(|l| !l.archived)
                .map(|l| (l.id, l.name, l.id == c.list_id))
                .collect()
        })
        .unwrap_or_default();
    Ok(owner.page(&CardPage {
        layout: owner.layout("/boards"),
        id: c.id,
        board_id: c.board_id,
        board: c.board.clone(),
        list: c.list.clone(),
        title: c.title.clone(),
        due: c.due.map(|d| d.label(tz)).unwrap_or_default(),
        labels: c.labels.join(", "),
        description: c.description.clone(),
        lists,
        history,
    }))
}

#[derive(Debug, Deserialize)]
struct EditForm {
    title: String,
    #[serde(default)]
    due: String,
    #[serde(default)]
    labels: String,
    #[serde(default)]
    description: String,
}

async fn edit(
    State(web): State<Web>,
    Path(id): Path<i64>,
    c: Change<EditForm>,
) -> Result<Response, PageError> {
    let store = &web.services.store;
    let tz = web.services.tz();
    let before = store
        .card_get(id)
        .await?
        .ok_or_else(|| PageError(StatusCode::NOT_FOUND, format!("There is no task #{id}.")))?;
    let f = &c.form;
    let due = f.due.trim();
    // The due date as shown is left alone; anything else is read anew ("" clears it).
    let due = if due == before.due.map(|d| d.label(tz)).unwrap_or_default() {
        None
    } else if due.is_empty() {
        Some("none".to_owned())
    } else {
        Some(due.to_owned())
    };
    let labels: Vec<String> = f
        .labels
        .split(',')
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    let card = boards::edit(
        &**store,
        tz,
        openzero_app::clock::now(),
        id,
        EditTask {
            title: Some(f.title.clone()),
            due,
            labels: Some(labels),
            description: Some(f.description.clone()),
            ..Default::default()
        },
    )
    .await?;
    c.owner
        .audit(&web, "card.edit", &format!("#{} {}", card.id, card.title))
        .await;
    Ok(done(
        &format!("/boards/{}", card.board_id),
        &format!("Saved {}.", card.title),
    ))
}
