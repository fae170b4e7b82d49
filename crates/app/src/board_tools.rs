//! Boards' agent tools: `task_create` and `task_move` (writes, logged by
//! the registry and refused once a turn holds untrusted text) and
//! `task_list` (read). "Remind me to renew my passport next month"
//! becomes a card on the right board with its due date.

use async_trait::async_trait;
use chrono_tz::Tz;
use openzero_core::tools::{Tier, ToolSpec};
use serde_json::{Value, json};

use crate::boards::{self, AddTask};
use crate::tools::{Registry, Tool, ToolEnv};

/// Adds the boards' tools to `r`; due dates are read in `tz`.
pub fn add(r: &mut Registry, tz: Tz) {
    r.add(Box::new(TaskCreate(tz)));
    r.add(Box::new(TaskMove(tz)));
    r.add(Box::new(TaskList(tz)));
}

fn text<'a>(args: &'a Value, key: &str) -> Option<&'a str> {
    args.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

struct TaskCreate(Tz);

#[async_trait]
impl Tool for TaskCreate {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "task_create".into(),
            description: "Add a task to the owner's boards (Career, Health, Family, Finance, Creative). The board is guessed from the title unless given; the due date is read in the owner's time zone (tomorrow, friday, next month, 2026-12-03 14:00).".into(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "title": {"type": "string", "description": "What to do, without the date"},
                    "due": {"type": "string", "description": "When it is due, as the owner said it"},
                    "board": {"type": "string", "description": "Career, Health, Family, Finance or Creative"},
                    "every": {"type": "string", "description": "For a repeating task: daily, weekdays, weekly, every monday, monthly, every 1st, yearly"}
                },
                "required": ["title"]
            }),
            tier: Tier::Write,
        }
    }

    async fn call(&self, env: ToolEnv<'_>, args: &Value) -> Result<String, String> {
        let tz = self.0;
        let title = text(args, "title").ok_or("title is required")?;
        let now = crate::clock::now();
        let c = match text(args, "due") {
            None if text(args, "board").is_none() && text(args, "every").is_none() => {
                // The due date may still be in the title ("… next month").
                boards::add_from_text(env.store, tz, now, title).await
            }
            due => {
                boards::add(
                    env.store,
                    tz,
                    now,
                    &AddTask {
                        title: title.to_string(),
                        board: text(args, "board").map(str::to_string),
                        due: due.map(str::to_string),
                        repeat: text(args, "every").map(str::to_string),
                        ..AddTask::default()
                    },
                )
                .await
            }
        }
        .map_err(|e| e.to_string())?;
        Ok(format!("Added {}", boards::card_line(&c, tz)))
    }
}

struct TaskMove(Tz);

#[async_trait]
impl Tool for TaskMove {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "task_move".into(),
            description: "Move one of the owner's tasks to another list of its board (or BOARD/LIST), or to its done list with list = \"done\".".into(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "id": {"type": "integer", "description": "The task's number"},
                    "list": {"type": "string", "description": "A list name, BOARD/LIST, or done"}
                },
                "required": ["id", "list"]
            }),
            tier: Tier::Write,
        }
    }

    async fn call(&self, env: ToolEnv<'_>, args: &Value) -> Result<String, String> {
        let id = args
            .get("id")
            .and_then(Value::as_i64)
            .ok_or("id is required")?;
        let list = text(args, "list").ok_or("list is required")?;
        let now = crate::clock::now();
        let c = if list.eq_ignore_ascii_case("done") {
            boards::done(env.store, self.0, now, id).await
        } else {
            boards::move_to(env.store, self.0, now, id, list).await
        }
        .map_err(|e| e.to_string())?;
        Ok(format!("Moved {}", boards::card_line(&c, self.0)))
    }
}

struct TaskList(Tz);

#[async_trait]
impl Tool for TaskList {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "task_list".into(),
            description:
                "The owner's open tasks, of one board or all, with their due dates. Read-only."
                    .into(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "board": {"type": "string", "description": "Only this board"},
                    "due_before": {"type": "string", "description": "Only tasks due before this (today, friday, 2026-12-03)"}
                }
            }),
            tier: Tier::Read,
        }
    }

    async fn call(&self, env: ToolEnv<'_>, args: &Value) -> Result<String, String> {
        let tz = self.0;
        let before = match text(args, "due_before") {
            None => None,
            Some(w) => Some(
                openzero_core::when::parse_due(w, crate::clock::now(), tz)
                    .map_err(|e| e.to_string())?
                    .starts_at(tz),
            ),
        };
        let cards = boards::list(env.store, text(args, "board"), before, false, tz)
            .await
            .map_err(|e| e.to_string())?;
        if cards.is_empty() {
            return Ok("No open tasks match.".into());
        }
        Ok(cards
            .iter()
            .take(50)
            .map(|c| boards::card_line(c, tz))
            .collect::<Vec<_>>()
            .join("\n"))
    }
}
