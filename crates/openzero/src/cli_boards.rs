//! Command-line definitions of `openzero board …` and `openzero task …`
//! (read by [`crate::cli`]).

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum BoardCommand {
    /// The boards and their lists, in order
    #[command(after_help = "Examples:\n  openzero board list\n  openzero board list --json")]
    List {
        /// One JSON object per board: name, domain, archived, lists (name, done, archived)
        #[arg(long)]
        json: bool,
    },
    /// A board with its open tasks list by list
    #[command(
        after_help = "Examples:\n  openzero board show Career\n  openzero board show career --all --json"
    )]
    Show {
        board: String,
        /// Include tasks in done lists
        #[arg(long)]
        all: bool,
        /// One JSON object per task
        #[arg(long)]
        json: bool,
    },
    /// Add a board with its lists (the last one counts as done unless --no-done)
    #[command(
        after_help = "Examples:\n  openzero board add Garden --lists \"Ideas, Planting, Harvested\"\n  openzero board add Reading --lists \"To read, Reading\" --no-done"
    )]
    Add {
        name: String,
        /// Lists in order, comma-separated
        #[arg(long, default_value = "Inbox, In Progress, Done")]
        lists: String,
        /// No list counts as done
        #[arg(long)]
        no_done: bool,
    },
    /// Rename a board
    #[command(after_help = "Examples:\n  openzero board rename Creative Music")]
    Rename { board: String, name: String },
    /// Archive a board (its tasks leave the lists; --undo brings it back)
    #[command(
        after_help = "Examples:\n  openzero board archive Garden\n  openzero board archive Garden --undo"
    )]
    Archive {
        board: String,
        #[arg(long)]
        undo: bool,
    },
    /// Put a board at a place among the boards (1 = first)
    #[command(
        name = "move",
        after_help = "Examples:\n  openzero board move Health 1\n  openzero board move Creative 99   (last)"
    )]
    Move { board: String, position: i64 },
    /// Add a list to a board, at the end or at --position
    #[command(
        name = "add-list",
        after_help = "Examples:\n  openzero board add-list Career Waiting --position 3\n  openzero board add-list Health Dropped --done"
    )]
    AddList {
        board: String,
        list: String,
        /// 1-based place among the board's lists
        #[arg(long)]
        position: Option<i64>,
        /// Tasks moved here count as done
        #[arg(long)]
        done: bool,
    },
    /// Rename, move or archive a list
    #[command(
        name = "edit-list",
        after_help = "Examples:\n  openzero board edit-list Career Blocked --name Waiting\n  openzero board edit-list Career Waiting --position 2\n  openzero board edit-list Career Waiting --archive"
    )]
    EditList {
        board: String,
        list: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        position: Option<i64>,
        /// Archive it: its tasks leave the listings until it comes back
        #[arg(long, conflicts_with = "unarchive")]
        archive: bool,
        /// Bring an archived list back
        #[arg(long)]
        unarchive: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Add a task (board guessed from its words unless given; first open list)
    #[command(after_help = "\
Examples:
  openzero task add \"Update CV\" --board Career --due \"next friday\"
  openzero task add \"Pay the car insurance\" --due 2026-12-03 --label admin
  openzero task add \"Dentist\" --due \"tomorrow 9:30\" --project Health
  openzero task add \"Pay rent\" --due 2026-12-01 --every \"monthly on the 1st\"

Due dates are read in your time zone: today, tomorrow, friday, next friday,
in 3 days, next month, 2026-12-03, 2026-12-03 14:00, dec 3 … A task with
--every is followed by its next one when it is done.")]
    Add {
        title: String,
        #[arg(long)]
        board: Option<String>,
        #[arg(long)]
        list: Option<String>,
        #[arg(long, value_name = "WHEN")]
        due: Option<String>,
        /// A project of the tree (name or #id)
        #[arg(long)]
        project: Option<String>,
        #[arg(long = "label", value_name = "LABEL")]
        labels: Vec<String>,
        #[arg(long)]
        description: Option<String>,
        /// Repeat: daily, weekdays, weekly, every monday, monthly, every 1st, yearly
        #[arg(long, value_name = "RULE")]
        every: Option<String>,
    },
    /// Move a task to a list of its board, or to BOARD/LIST
    #[command(
        name = "move",
        after_help = "Examples:\n  openzero task move 12 \"In Progress\"\n  openzero task move 12 Family/Inbox"
    )]
    Move { id: i64, list: String },
    /// Move a task to its board's done list
    #[command(after_help = "Examples:\n  openzero task done 12")]
    Done { id: i64 },
    /// Archive a task (it leaves the lists and, when synced, Planka; --undo brings it back)
    #[command(
        after_help = "Examples:\n  openzero task archive 12\n  openzero task archive 12 --undo"
    )]
    Archive {
        id: i64,
        #[arg(long)]
        undo: bool,
    },
    /// Change a task's title, due date (none clears it), labels, description, project or checklist
    #[command(
        after_help = "Examples:\n  openzero task edit 12 --due \"monday 10:00\"\n  openzero task edit 12 --title \"Update CV (EN)\" --label jobs --label urgent\n  openzero task edit 12 --due none --project none\n  openzero task edit 12 --item \"Photos\" --item \"Form\"\n  openzero task edit 12 --check 1\n\nChecklist items are numbered from 1 as `task show` lists them."
    )]
    Edit {
        id: i64,
        #[arg(long)]
        title: Option<String>,
        #[arg(long, value_name = "WHEN")]
        due: Option<String>,
        /// Replaces the labels (give none with --clear-labels)
        #[arg(long = "label", value_name = "LABEL")]
        labels: Vec<String>,
        #[arg(long)]
        clear_labels: bool,
        #[arg(long)]
        description: Option<String>,
        /// A project (name or #id), or none
        #[arg(long)]
        project: Option<String>,
        /// Add a checklist item (repeatable)
        #[arg(long = "item", value_name = "TEXT")]
        items: Vec<String>,
        /// Tick checklist item N (repeatable)
        #[arg(long = "check", value_name = "N")]
        check: Vec<usize>,
        /// Untick checklist item N (repeatable)
        #[arg(long = "uncheck", value_name = "N")]
        uncheck: Vec<usize>,
        /// Remove every checklist item
        #[arg(long)]
        clear_checklist: bool,
    },
    /// Open tasks, by board and list (due dates in your time zone)
    #[command(
        after_help = "Examples:\n  openzero task list\n  openzero task list --board Career --json\n  openzero task list --due-before \"next monday\""
    )]
    List {
        #[arg(long)]
        board: Option<String>,
        /// Only tasks due before this (today, friday, 2026-12-03 …)
        #[arg(long, value_name = "WHEN")]
        due_before: Option<String>,
        /// Include tasks in done lists
        #[arg(long)]
        all: bool,
        /// One JSON object per task: id, title, board, list, due, project, labels, …
        #[arg(long)]
        json: bool,
    },
    /// One task with its history of moves
    #[command(after_help = "Examples:\n  openzero task show 12\n  openzero task show 12 --json")]
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
}
