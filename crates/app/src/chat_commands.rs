//! The chat commands' answers, the same on every channel: each command of
//! `openzero_core::commands::COMMANDS` (the table that also makes `/help`
//! and Telegram's menu) is answered by the handler registered here under
//! its name, and each button a reply carries by the handler registered for
//! its data's prefix. A channel parses with the table, calls [`answer`] or
//! [`press`], and renders the [`Reply`] its own way (Telegram: HTML, split
//! at paragraph boundaries, an inline keyboard).
//!
//! A capability adds a command with a row in the table, its handler in its
//! own module, and one line in [`HANDLERS`].
//!
//! **Invariants:** a handler never fails: a failure is a reply that says
//! what could not be done. An empty argument to a command whose row
//! `asks` is answered with that question, before any handler runs.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use openzero_core::commands;

use crate::memory::AddMemory;
use crate::{AppError, Services};

/// A button under a reply: its label and the data a press sends back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    pub label: String,
    pub data: String,
}

/// What a command or a button press answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    /// The text; empty when there is nothing to send (the work delivers
    /// its own message, as `/run` does).
    pub text: String,
    /// Rows of buttons under the text.
    pub buttons: Vec<Vec<Button>>,
}

impl Reply {
    pub fn text(text: impl Into<String>) -> Self {
        Reply {
            text: text.into(),
            buttons: Vec::new(),
        }
    }

    /// Nothing to send.
    pub fn none() -> Self {
        Reply::default()
    }
}

/// One command as a handler sees it.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub services: &'a Arc<Services>,
    /// The command's table name (an alias is resolved).
    pub name: &'static str,
    /// Its argument, trimmed.
    pub arg: &'a str,
    /// The channel it came from (`telegram`, `dashboard`): the source of
    /// what it stores.
    pub channel: &'a str,
    /// Who is asking, for the audit ("owner (telegram 42)").
    pub by: &'a str,
}

/// A handler's future.
pub type Answer<'a> = Pin<Box<dyn Future<Output = Reply> + Send + 'a>>;

/// A command's handler.
pub type Handler = for<'a> fn(Call<'a>) -> Answer<'a>;

/// Every command's handler, by the table name; one line per command.
/// `/think` is not here: it holds for consent, which each channel shows in
/// its own way (see `crate::think`).
pub const HANDLERS: &[(&str, Handler)] = &[
    ("help", |_| ready(Reply::text(commands::help()))),
    ("tree", |c| {
        said("I could not read your projects", async move {
            crate::projects::tree(&*c.services.store).await
        })
    }),
    ("memory", |c| Box::pin(search(c))),
    ("add", |c| Box::pin(remember(c))),
    ("project", |c| Box::pin(project(c))),
    ("mail", |c| {
        said("I could not read your mail", async move {
            crate::mail::MailService::new(c.services.clone())
                .chat_list(c.arg)
                .await
        })
    }),
    ("rules", |c| {
        said("I could not read your mail", async move {
            crate::mail::MailService::new(c.services.clone())
                .chat_rules()
                .await
        })
    }),
    ("task", |c| Box::pin(task(c))),
    ("tasks", |c| {
        said(
            "I could not reach your boards",
            crate::boards::chat_list(c.services),
        )
    }),
    ("spent", |c| {
        said(
            "I could not add it up",
            crate::finance::chat_spent(c.services, c.arg),
        )
    }),
    ("news", |c| {
        said(
            "I could not read your feeds",
            crate::news::chat_news(c.services),
        )
    }),
    ("runs", |c| {
        said(
            "I could not read your training",
            crate::training_feedback::chat_runs(c.services),
        )
    }),
    ("form", |c| {
        said(
            "I could not read your training",
            crate::training_feedback::chat_form(c.services),
        )
    }),
    ("race", |c| {
        said(
            "I could not read your training",
            crate::training_feedback::chat_race(c.services),
        )
    }),
    ("today", |c| {
        said(
            "I could not read your calendars",
            crate::calendar::chat_agenda(c.services, 1),
        )
    }),
    ("week", |c| {
        said(
            "I could not read your calendars",
            crate::calendar::chat_agenda(c.services, 7),
        )
    }),
    ("status", |c| Box::pin(status(c))),
    ("login", |c| {
        said(
            "I could not make a login link",
            crate::dashboard::chat_login(c.services),
        )
    }),
    ("daily", |c| Box::pin(briefing(c))),
    ("weekly", |c| Box::pin(briefing(c))),
    ("monthly", |c| Box::pin(briefing(c))),
    ("jobs", |c| Box::pin(jobs(c))),
    ("pause", |c| Box::pin(pause(c))),
    ("resume", |c| Box::pin(pause(c))),
    ("run", |c| Box::pin(run(c))),
];

/// A button press as a handler sees it.
#[derive(Debug, Clone, Copy)]
pub struct Press<'a> {
    pub services: &'a Arc<Services>,
    /// The button's data, whole.
    pub data: &'a str,
    pub by: &'a str,
}

/// What a press answers: a short note shown where the button was tapped,
/// and a reply (possibly none).
pub type Pressed<'a> = Pin<Box<dyn Future<Output = (String, Reply)> + Send + 'a>>;

/// A button's handler.
pub type PressHandler = for<'a> fn(Press<'a>) -> Pressed<'a>;

/// Every button's handler, by the prefix of its data (up to the first
/// `:`); one line per kind of button.
pub const BUTTONS: &[(&str, PressHandler)] = &[
    ("taskmv", |p| Box::pin(move_task(p))),
    ("ruleadd", |p| Box::pin(mail_rule(p, true))),
    ("ruledrop", |p| Box::pin(mail_rule(p, false))),
];

/// The answer to command `name` (a table name) with `arg`: its row's
/// question when it needs an argument and has none, else its handler's
/// reply. `None` when no handler is registered (the channel answers it
/// itself, or says it is not available there).
pub async fn answer(
    services: &Arc<Services>,
    name: &str,
    arg: &str,
    channel: &str,
    by: &str,
) -> Option<Reply> {
    let row = commands::find(name)?;
    let handler = HANDLERS
        .iter()
        .find(|(n, _)| *n == row.name)
        .map(|(_, h)| *h)?;
    let arg = arg.trim();
    if arg.is_empty() && !row.asks.is_empty() {
        return Some(Reply::text(row.asks));
    }
    Some(
        handler(Call {
            services,
            name: row.name,
            arg,
            channel,
            by,
        })
        .await,
    )
}

/// The answer to a button press, `None` when no handler knows its data.
pub async fn press(services: &Arc<Services>, data: &str, by: &str) -> Option<(String, Reply)> {
    let prefix = data.split(':').next().unwrap_or(data);
    let handler = BUTTONS
        .iter()
        .find(|(p, _)| *p == prefix)
        .map(|(_, h)| *h)?;
    Some(handler(Press { services, data, by }).await)
}

fn ready<'a>(reply: Reply) -> Answer<'a> {
    Box::pin(std::future::ready(reply))
}

/// The text a use case answers, or "`fail`: why".
fn said<'a>(
    fail: &'static str,
    work: impl Future<Output = Result<String, AppError>> + Send + 'a,
) -> Answer<'a> {
    Box::pin(async move {
        match work.await {
            Ok(text) => Reply::text(text),
            Err(e) => Reply::text(format!("{fail}: {e}")),
        }
    })
}

async fn search(c: Call<'_>) -> Reply {
    let memory = c.services.memory().await;
    let filters = openzero_core::memory::Filters::default();
    match memory.search(c.arg, 5, &filters).await {
        Ok(found) if found.hits.is_empty() => Reply::text("Nothing I remember matches."),
        Ok(found) => {
            let tz = c.services.tz();
            let lines: Vec<String> = found
                .hits
                .iter()
                .map(|h| {
                    format!(
                        "#{} ({}) {}",
                        h.id,
                        h.created_at.with_timezone(&tz).format("%Y-%m-%d"),
                        h.text
                    )
                })
                .collect();
            Reply::text(lines.join("\n"))
        }
        Err(e) => Reply::text(format!("Search failed: {e}")),
    }
}

async fn remember(c: Call<'_>) -> Reply {
    let added = c
        .services
        .memory()
        .await
        .add(AddMemory {
            text: c.arg.to_owned(),
            created_at: None,
            source: Some(c.channel.to_owned()),
            external_id: None,
            metadata: None,
        })
        .await;
    match added {
        Ok(a) if a.new => Reply::text(format!("Remembered #{}.", a.memory.id)),
        Ok(a) => Reply::text(format!("I already had that (#{}).", a.memory.id)),
        Err(e) => Reply::text(format!("I could not remember that: {e}")),
    }
}

const PROJECT_USAGE: &str =
    "Usage: /project add <name> · /project done <name> · /project progress <name> <0-100>";

async fn project(c: Call<'_>) -> Reply {
    use crate::projects::{AddProject, UpdateProject};
    let store = &*c.services.store;
    let (verb, rest) = c.arg.split_once(char::is_whitespace).unwrap_or((c.arg, ""));
    let rest = rest.trim();
    let line = |p: openzero_core::Project| {
        format!(
            "#{} {}: {}, {}% done",
            p.id,
            p.name,
            p.status,
            p.progress.get()
        )
    };
    let result = match verb {
        "add" if !rest.is_empty() => {
            let new = AddProject {
                name: rest.to_owned(),
                ..AddProject::default()
            };
            crate::projects::add(store, new)
                .await
                .map(|p| format!("Added {}", line(p)))
        }
        "done" if !rest.is_empty() => {
            let change = UpdateProject {
                status: Some(openzero_core::Status::Completed),
                progress: openzero_core::Progress::try_from(100).ok(),
                ..UpdateProject::default()
            };
            crate::projects::update(store, rest, change)
                .await
                .map(|p| format!("Done: {}", line(p)))
        }
        "progress" => {
            let (name, pct) = rest.rsplit_once(char::is_whitespace).unwrap_or((rest, ""));
            let progress = pct
                .trim_end_matches('%')
                .parse::<i64>()
                .ok()
                .and_then(|n| openzero_core::Progress::try_from(n).ok());
            let Some(progress) = progress else {
                return Reply::text("Usage: /project progress <name> <0-100>");
            };
            let change = UpdateProject {
                progress: Some(progress),
                ..UpdateProject::default()
            };
            crate::projects::update(store, name.trim(), change)
                .await
                .map(|p| format!("Updated {}", line(p)))
        }
        _ => return Reply::text(PROJECT_USAGE),
    };
    match result {
        Ok(text) => Reply::text(text),
        Err(e) => Reply::text(e.to_string()),
    }
}

/// `/task`: the task added, with a button per list it can move to, two a
/// row.
async fn task(c: Call<'_>) -> Reply {
    match crate::boards::chat_add_with_buttons(c.services, c.arg).await {
        Ok((text, buttons)) => Reply {
            text,
            buttons: buttons
                .chunks(2)
                .map(|row| {
                    row.iter()
                        .map(|(label, data)| Button {
                            label: label.clone(),
                            data: data.clone(),
                        })
                        .collect()
                })
                .collect(),
        },
        Err(e) => Reply::text(format!("I could not add it: {e}")),
    }
}

async fn status(c: Call<'_>) -> Reply {
    let parts = c.services.health().await;
    let lines: Vec<String> = parts
        .iter()
        .map(|(name, c)| format!("{name}: {:?} – {}", c.status, c.detail).to_lowercase())
        .collect();
    Reply::text(lines.join("\n"))
}

async fn briefing(c: Call<'_>) -> Reply {
    use openzero_core::briefing::Kind;
    let kind = Kind::parse(c.name).unwrap_or(Kind::Daily);
    let briefings = crate::briefings::Briefings::new(c.services.clone());
    match briefings.compose(kind, true).await {
        Ok(b) => {
            if let Err(e) = briefings.record(kind, &b).await {
                tracing::warn!(error = %e, "briefing not stored");
            }
            Reply::text(b.text)
        }
        Err(e) => Reply::text(format!("I could not put the briefing together: {e}")),
    }
}

async fn jobs(c: Call<'_>) -> Reply {
    match crate::jobs::list(&c.services.loaded, &*c.services.store).await {
        Ok(all) => {
            let lines: Vec<String> = all
                .iter()
                .map(|j| {
                    format!(
                        "{}{} – next {} – last {}",
                        j.name,
                        if j.paused { " (paused)" } else { "" },
                        j.next.as_deref().unwrap_or("never"),
                        j.last_outcome.as_deref().unwrap_or("never run")
                    )
                })
                .collect();
            Reply::text(format!(
                "{}\n\n/pause NAME · /resume NAME · /run NAME",
                lines.join("\n")
            ))
        }
        Err(e) => Reply::text(format!("I could not read the jobs: {e}")),
    }
}

/// `/pause` and `/resume`.
async fn pause(c: Call<'_>) -> Reply {
    let pausing = c.name == "pause";
    match crate::jobs::set_paused(&c.services.loaded, &*c.services.store, c.arg, pausing).await {
        Ok(job) if pausing => Reply::text(format!("Paused {job}.")),
        Ok(job) => Reply::text(format!("Resumed {job}.")),
        Err(e) => Reply::text(e.to_string()),
    }
}

async fn run(c: Call<'_>) -> Reply {
    let job = match crate::jobs::find(&c.services.loaded, c.arg) {
        Ok(job) => job,
        Err(e) => return Reply::text(e.to_string()),
    };
    let runner = crate::jobs::Runner::new(c.services.clone());
    match runner.run(&job, crate::clock::now()).await {
        // Delivered through the outbox by the job itself.
        Ok(Some(_)) => Reply::none(),
        Ok(None) => Reply::text(format!("{} is already running.", job.name)),
        Err(e) => Reply::text(format!("{} failed: {e}", job.name)),
    }
}

async fn move_task(p: Press<'_>) -> (String, Reply) {
    let tz = p.services.tz();
    match crate::boards::move_by_button(&*p.services.store, p.data, tz).await {
        Ok(text) => ("Moved.".into(), Reply::text(text)),
        Err(e) => ("Not moved.".into(), Reply::text(format!("Not moved: {e}"))),
    }
}

/// A tap on a mail rule proposal's Add or Drop.
async fn mail_rule(p: Press<'_>, add: bool) -> (String, Reply) {
    let Some(Ok(id)) = p.data.split_once(':').map(|(_, id)| id.parse::<i64>()) else {
        return ("That button is not mine.".into(), Reply::none());
    };
    let mail = crate::mail::MailService::new(p.services.clone());
    if add {
        return match mail.confirm_rule(id, p.by).await {
            Ok(Some(r)) => (
                "Added.".into(),
                Reply::text(format!("Added rule {}", r.label())),
            ),
            Ok(None) => ("That proposal is gone.".into(), Reply::none()),
            Err(e) => (
                "It failed.".into(),
                Reply::text(format!("The rule was not added: {e}")),
            ),
        };
    }
    let store = &*p.services.store;
    match store.mail_rules_proposed().await {
        Ok(p) if p.iter().any(|(r, _)| r.id == id) => match store.mail_rule_remove(id).await {
            Ok(_) => (
                "Dropped.".into(),
                Reply::text("Dropped: no rule was added."),
            ),
            Err(e) => ("It failed.".into(), Reply::text(e.to_string())),
        },
        Ok(_) => ("That proposal is gone.".into(), Reply::none()),
        Err(e) => ("It failed.".into(), Reply::text(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_of_the_table_has_one_handler_or_is_left_to_the_channel() {
        // /think holds for consent, shown by each channel its own way.
        let channel_owned = ["think"];
        for c in commands::COMMANDS {
            let n = HANDLERS.iter().filter(|(n, _)| *n == c.name).count();
            if channel_owned.contains(&c.name) {
                assert_eq!(n, 0, "/{} is the channel's", c.name);
            } else {
                assert_eq!(n, 1, "/{} needs exactly one handler", c.name);
            }
        }
        for (n, _) in HANDLERS {
            assert!(
                commands::COMMANDS.iter().any(|c| c.name == *n),
                "handler for /{n} has no row in the table"
            );
        }
        let mut prefixes: Vec<&str> = BUTTONS.iter().map(|(p, _)| *p).collect();
        prefixes.sort_unstable();
        prefixes.dedup();
        assert_eq!(
            prefixes.len(),
            BUTTONS.len(),
            "a button prefix is used twice"
        );
    }
}
