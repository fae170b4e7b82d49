//! `openzero board …` and `openzero task …`.

use std::process::ExitCode;

use anyhow::{Result, bail};
use openzero_app::boards::{self, AddTask};
use openzero_config::Loaded;
use openzero_core::Project;
use openzero_store::Store;
use openzero_store::board::CardRow;

use crate::cli::{BoardCommand, TaskCommand};

fn project_id(projects: &[Project], q: &str) -> Result<i64> {
    Ok(openzero_core::resolve(projects, q)?.id)
}

fn project_name(projects: &[Project], id: Option<i64>) -> Option<String> {
    id.and_then(|id| projects.iter().find(|p| p.id == id).map(|p| p.name.clone()))
}

pub async fn board(loaded: &Loaded, cmd: BoardCommand) -> Result<ExitCode> {
    let store = openzero_app::open_store(loaded).await?;
    let result = board_in(loaded, &*store, cmd).await;
    store.close().await;
    result
}

async fn board_in(loaded: &Loaded, store: &dyn Store, cmd: BoardCommand) -> Result<ExitCode> {
    let tz = loaded.settings.general.timezone.0;
    let all = store.boards().await?;
    match cmd {
        BoardCommand::List { json } => {
            for b in &all {
                if json {
                    outln!(
                        "{}",
                        serde_json::json!({
                            "id": b.id, "name": b.name, "domain": b.domain, "archived": b.archived,
                            "lists": b.lists.iter().map(|l| serde_json::json!({
                                "id": l.id, "name": l.name, "done": l.done, "archived": l.archived,
                            })).collect::<Vec<_>>(),
                        })
                    );
                } else if !b.archived {
                    let lists: Vec<String> = b
                        .lists
                        .iter()
                        .filter(|l| !l.archived)
                        .map(|l| {
                            if l.done {
                                format!("{} ✓", l.name)
                            } else {
                                l.name.clone()
                            }
                        })
                        .collect();
                    outln!("{:<10} {}", b.name, lists.join(" → "));
                }
            }
        }
        BoardCommand::Show {
            board,
            all: with_done,
            json,
        } => {
            let b = boards::find_board(&all, &board)?;
            let cards = store
                .cards(&openzero_store::board::CardQuery {
                    board_id: Some(b.id),
                    include_done: with_done,
                    ..Default::default()
                })
                .await?;
            let projects = store.list_projects().await?;
            if json {
                for c in &cards {
                    outln!(
                        "{}",
                        boards::card_json(c, tz, project_name(&projects, c.project_id).as_deref())
                    );
                }
            } else {
                outln!("{}", b.name);
                for l in b
                    .lists
                    .iter()
                    .filter(|l| !l.archived && (with_done || !l.done))
                {
                    let here: Vec<&CardRow> = cards.iter().filter(|c| c.list_id == l.id).collect();
                    outln!("  {} ({})", l.name, here.len());
                    for c in here {
                        outln!("    {}", boards::card_line(c, tz));
                    }
                }
            }
        }
        BoardCommand::Add {
            name,
            lists,
            no_done,
        } => {
            let names: Vec<String> = lists
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            if names.is_empty() {
                bail!("a board needs at least one list (--lists \"Inbox, Done\")");
            }
            let mut seen = std::collections::HashSet::new();
            if let Some(dup) = names.iter().find(|n| !seen.insert(n.to_lowercase())) {
                bail!("the list \"{dup}\" is named twice");
            }
            if all.iter().any(|b| b.name.eq_ignore_ascii_case(name.trim())) {
                bail!("a board is already called \"{name}\"");
            }
            let n = names.len();
            let lists: Vec<(String, bool)> = names
                .into_iter()
                .enumerate()
                .map(|(i, l)| (l, !no_done && n > 1 && i == n - 1))
                .collect();
            match store.board_add(name.trim(), None, &lists).await? {
                Some(b) => outln!("Added board {} ({} lists).", b.name, b.lists.len()),
                None => bail!("a board is already called \"{name}\""),
            }
        }
        BoardCommand::Rename { board, name } => {
            let b = boards::find_board(&all, &board)?;
            if all
                .iter()
                .any(|o| o.id != b.id && o.name.eq_ignore_ascii_case(name.trim()))
            {
                bail!("a board is already called \"{name}\"");
            }
            if !store.board_rename(b.id, name.trim()).await? {
                bail!("a board is already called \"{name}\"");
            }
            outln!("Renamed {} to {}.", b.name, name.trim());
        }
        BoardCommand::Move { board, position } => {
            let b = boards::find_board(&all, &board)?;
            store.board_move(b.id, position).await?;
            let order: Vec<String> = store
                .boards()
                .await?
                .into_iter()
                .filter(|b| !b.archived)
                .map(|b| b.name)
                .collect();
            outln!("Boards: {}", order.join(", "));
        }
        BoardCommand::Archive { board, undo } => {
            let b = boards::find_board(&all, &board)?;
            store.board_archive(b.id, !undo).await?;
            outln!(
                "{} {}.",
                if undo { "Brought back" } else { "Archived" },
                b.name
            );
        }
        BoardCommand::AddList {
            board,
            list,
            position,
            done,
        } => {
            let b = boards::find_board(&all, &board)?;
            if b.lists
                .iter()
                .any(|l| l.name.eq_ignore_ascii_case(list.trim()))
            {
                bail!("{} already has a list \"{list}\"", b.name);
            }
            let Some(l) = store.list_add(b.id, list.trim(), done).await? else {
                bail!("{} already has a list \"{list}\"", b.name);
            };
            if let Some(p) = position {
                store.list_move(l.id, p).await?;
            }
            outln!("Added list {} to {}.", l.name, b.name);
        }
        BoardCommand::EditList {
            board,
            list,
            name,
            position,
            archive,
            unarchive,
        } => {
            let b = boards::find_board(&all, &board)?;
            let l = boards::find_list(b, &list)?;
            if name.is_none() && position.is_none() && !archive && !unarchive {
                bail!("nothing to change: give --name, --position, --archive or --unarchive");
            }
            if let Some(n) = &name
                && (b
                    .lists
                    .iter()
                    .any(|o| o.id != l.id && o.name.eq_ignore_ascii_case(n.trim()))
                    || !store.list_rename(l.id, n.trim()).await?)
            {
                bail!("{} already has a list \"{n}\"", b.name);
            }
            if let Some(p) = position {
                store.list_move(l.id, p).await?;
            }
            if archive || unarchive {
                store.list_archive(l.id, archive).await?;
            }
            outln!("Changed list {} of {}.", l.name, b.name);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn task(loaded: &Loaded, cmd: TaskCommand) -> Result<ExitCode> {
    let store = openzero_app::open_store(loaded).await?;
    let result = task_in(loaded, &*store, cmd).await;
    store.close().await;
    result
}

async fn task_in(loaded: &Loaded, store: &dyn Store, cmd: TaskCommand) -> Result<ExitCode> {
    let tz = loaded.settings.general.timezone.0;
    let now = openzero_app::clock::now();
    let projects = store.list_projects().await?;
    match cmd {
        TaskCommand::Add {
            title,
            board,
            list,
            due,
            project,
            labels,
            description,
            every,
        } => {
            let project_id = project
                .as_deref()
                .map(|p| project_id(&projects, p))
                .transpose()?;
            let c = boards::add(
                store,
                tz,
                now,
                &AddTask {
                    title,
                    board,
                    list,
                    due,
                    labels,
                    project_id,
                    description: description.unwrap_or_default(),
                    repeat: every,
                },
            )
            .await?;
            outln!("Added {}", boards::card_line(&c, tz));
        }
        TaskCommand::Move { id, list } => {
            let c = boards::move_to(store, tz, now, id, &list).await?;
            outln!("Moved {}", boards::card_line(&c, tz));
        }
        TaskCommand::Done { id } => {
            let c = boards::done(store, tz, now, id).await?;
            outln!("Done: {}", boards::card_line(&c, tz));
        }
        TaskCommand::Edit {
            id,
            title,
            due,
            labels,
            clear_labels,
            description,
            project,
            items,
            check,
            uncheck,
            clear_checklist,
        } => {
            let labels = if clear_labels {
                Some(vec![])
            } else if labels.is_empty() {
                None
            } else {
                Some(labels)
            };
            let project_id = match project.as_deref() {
                None => None,
                Some(p) if p.trim().eq_ignore_ascii_case("none") => Some(None),
                Some(p) => Some(Some(project_id(&projects, p)?)),
            };
            let e = boards::EditTask {
                title,
                due,
                labels,
                description,
                project_id,
                checklist: boards::ChecklistEdit {
                    add: items,
                    check,
                    uncheck,
                    clear: clear_checklist,
                },
            };
            let c = boards::edit(store, tz, now, id, e).await?;
            outln!("Changed {}", boards::card_line(&c, tz));
        }
        TaskCommand::Archive { id, undo } => {
            let c = boards::archive(store, id, !undo).await?;
            outln!(
                "{} {}",
                if undo { "Brought back" } else { "Archived" },
                boards::card_line(&c, tz)
            );
        }
        TaskCommand::List {
            board,
            due_before,
            all,
            json,
        } => {
            let before = match due_before {
                None => None,
                Some(w) => Some(openzero_core::when::parse_due(&w, now, tz)?.starts_at(tz)),
            };
            let cards = boards::list(store, board.as_deref(), before, all, tz).await?;
            if json {
                for c in &cards {
                    outln!(
                        "{}",
                        boards::card_json(c, tz, project_name(&projects, c.project_id).as_deref())
                    );
                }
            } else if cards.is_empty() {
                outln!("No tasks. Add one with `openzero task add \"TITLE\" --due tomorrow`.");
            } else {
                for c in &cards {
                    outln!("{}", boards::card_line(c, tz));
                }
            }
        }
        TaskCommand::Show { id, json } => {
            let Some(c) = store.card_get(id).await? else {
                bail!("there is no task #{id} (see `openzero task list`)");
            };
            let history = store.card_history(id).await?;
            let project = project_name(&projects, c.project_id);
            if json {
                let mut v = boards::card_json(&c, tz, project.as_deref());
                v["history"] = serde_json::json!(
                    history
                        .iter()
                        .map(|(at, what)| serde_json::json!({"at": at, "what": what}))
                        .collect::<Vec<_>>()
                );
                outln!("{v}");
            } else {
                outln!("{}", boards::card_line(&c, tz));
                if let Some(p) = project {
                    outln!("Project: {p}");
                }
                if !c.description.is_empty() {
                    outln!("{}", c.description);
                }
                for item in &c.checklist {
                    outln!("  [{}] {}", if item.done { "x" } else { " " }, item.text);
                }
                for (at, what) in history {
                    outln!(
                        "  {} {what}",
                        at.with_timezone(&tz).format("%Y-%m-%d %H:%M")
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
