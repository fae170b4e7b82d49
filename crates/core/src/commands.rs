//! The chat commands, in one table: parsed by every chat channel
//! (Telegram now, the dashboard's chat later), and the source of `/help`
//! and of Telegram's command menu (`setMyCommands`). A capability adds its
//! commands with rows here.
//!
//! **Invariant:** no I/O; parsing never fails on any text.

/// One chat command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Command {
    /// What the owner types after `/`, lower case.
    pub name: &'static str,
    /// Other names for it (`/start` is `/help`, `/review` is `/weekly`).
    pub aliases: &'static [&'static str],
    /// How its argument is written in `/help` ("" when it takes none).
    pub usage: &'static str,
    /// One line for `/help` and the command menu.
    pub about: &'static str,
    /// What to answer when the command needs an argument and got none
    /// ("" when it runs without one).
    pub asks: &'static str,
}

impl Command {
    /// The same command, answering `asks` when given no argument.
    pub const fn asks(self, asks: &'static str) -> Command {
        Command { asks, ..self }
    }
}

const fn c(
    name: &'static str,
    aliases: &'static [&'static str],
    usage: &'static str,
    about: &'static str,
) -> Command {
    Command {
        name,
        aliases,
        usage,
        about,
        asks: "",
    }
}

/// Every command, in the order `/help` lists them.
pub const COMMANDS: &[Command] = &[
    c("tree", &[], "", "your project tree"),
    c("memory", &[], "<words>", "search what you told me")
        .asks("What should I look for? /memory dentist"),
    c("add", &[], "<text>", "remember something")
        .asks("What should I remember? /add Dentist on Tuesday at 9:30"),
    c(
        "think",
        &[],
        "<question>",
        "ask the deep-thinking model (you see what would leave first)",
    )
    .asks("Ask me something: /think should I take the Berlin offer?"),
    c(
        "project",
        &[],
        "add|done <name>, progress <name> <0-100>",
        "change a project",
    ),
    c(
        "mail",
        &[],
        "[words]",
        "recent mail, or mail that matches the words",
    ),
    c("rules", &[], "", "your mail rules"),
    c(
        "task",
        &[],
        "<text>",
        "add a task (board and due date from your words)",
    )
    .asks("What should I add? /task renew my passport next month"),
    c("tasks", &[], "", "your open tasks, due ones first"),
    c("news", &[], "", "the most relevant news from your feeds"),
    c(
        "spent",
        &[],
        "[category] [month]",
        "what you spent this month (or in a month), by category",
    ),
    c("runs", &[], "", "your last runs"),
    c("form", &[], "", "fitness, fatigue and form"),
    c("race", &[], "", "the countdown to your goal race"),
    c("today", &[], "", "today's calendar"),
    c("week", &[], "", "the next seven days of your calendar"),
    c("status", &[], "", "how I am"),
    c("daily", &[], "", "the morning briefing now"),
    c("weekly", &["review"], "", "the weekly review now"),
    c("monthly", &[], "", "the monthly review now"),
    c("jobs", &[], "", "scheduled jobs"),
    c("pause", &[], "NAME", "pause a job").asks("Which job? /pause daily-briefing (see /jobs)"),
    c("resume", &[], "NAME", "resume a job").asks("Which job? /resume daily-briefing (see /jobs)"),
    c("run", &[], "NAME", "run a job now").asks("Which job? /run weekly-review (see /jobs)"),
    c(
        "login",
        &[],
        "",
        "a one-time link to sign in to the dashboard",
    ),
    c("help", &["start"], "", "what I can do"),
];

/// What a message is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// Plain text, for the agent.
    Text(&'a str),
    /// A known command: its table name, the name as typed (an alias
    /// keeps its own meaning where one differs) and its argument, trimmed.
    Command {
        name: &'static str,
        typed: String,
        arg: &'a str,
    },
    /// `/something` this table does not know (the name as typed).
    Unknown(String),
}

/// Reads a message: `/name@bot args` is a command (case-insensitive,
/// Telegram's `@botname` suffix dropped), anything else is text.
pub fn parse(text: &str) -> Parsed<'_> {
    let text = text.trim();
    let Some(rest) = text.strip_prefix('/') else {
        return Parsed::Text(text);
    };
    let (name, arg) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let typed = name.split('@').next().unwrap_or(name).to_lowercase();
    match find(&typed) {
        Some(cmd) => Parsed::Command {
            name: cmd.name,
            typed,
            arg: arg.trim(),
        },
        None => Parsed::Unknown(typed),
    }
}

/// The command called `name` (or one of its aliases).
pub fn find(name: &str) -> Option<&'static Command> {
    COMMANDS
        .iter()
        .find(|c| c.name == name || c.aliases.contains(&name))
}

/// The `/help` text.
pub fn help() -> String {
    let mut out = String::from("I'm Z. Write to me in plain words, or:");
    for c in COMMANDS {
        let usage = if c.usage.is_empty() {
            String::new()
        } else {
            format!(" {}", c.usage)
        };
        out.push_str(&format!("\n/{}{usage} – {}", c.name, c.about));
    }
    out
}

/// The command menu a chat app shows: (name, description) pairs.
pub fn menu() -> Vec<(&'static str, String)> {
    COMMANDS
        .iter()
        .map(|c| {
            let mut about = c.about.to_owned();
            if let Some(first) = about.get_mut(..1) {
                first.make_ascii_uppercase();
            }
            (c.name, about)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_aliases_bot_suffixes_and_text_are_told_apart() {
        assert_eq!(parse("  hello /tree "), Parsed::Text("hello /tree"));
        assert_eq!(
            parse("/Memory@OpenZeroBot  dentist  "),
            Parsed::Command {
                name: "memory",
                typed: "memory".into(),
                arg: "dentist"
            }
        );
        assert_eq!(
            parse("/start"),
            Parsed::Command {
                name: "help",
                typed: "start".into(),
                arg: ""
            }
        );
        assert!(matches!(
            parse("/review"),
            Parsed::Command { name: "weekly", .. }
        ));
        assert_eq!(
            parse("/frobnicate now"),
            Parsed::Unknown("frobnicate".into())
        );
        assert_eq!(parse("/"), Parsed::Unknown(String::new()));
    }

    #[test]
    fn commands_that_need_an_argument_say_what_to_write() {
        for c in COMMANDS {
            if !c.asks.is_empty() {
                assert!(!c.usage.is_empty(), "/{} asks but shows no usage", c.name);
                assert!(c.asks.contains(&format!("/{}", c.name)), "{}", c.asks);
            }
        }
        assert!(find("memory").is_some_and(|c| !c.asks.is_empty()));
        assert!(find("tree").is_some_and(|c| c.asks.is_empty()));
    }

    #[test]
    fn help_and_menu_list_every_command_once() {
        let help = help();
        for c in COMMANDS {
            assert_eq!(
                help.matches(&format!("\n/{} ", c.name)).count(),
                1,
                "/{} in {help}",
                c.name
            );
            for a in c.aliases {
                assert!(find(a).is_some());
            }
        }
        let menu = menu();
        assert_eq!(menu.len(), COMMANDS.len());
        assert!(menu.iter().all(|(n, d)| !n.is_empty()
            && d.chars().next().is_some_and(char::is_uppercase)
            && d.len() <= 256));
        let mut names: Vec<&str> = COMMANDS
            .iter()
            .flat_map(|c| std::iter::once(c.name).chain(c.aliases.iter().copied()))
            .collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n, "a name is used twice");
    }
}
