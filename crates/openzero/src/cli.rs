//! Command-line definitions. Every command has examples in its `--help`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use crate::cli_bench::{
    BenchBackupArgs, BenchBoardsArgs, BenchCalendarArgs, BenchCommand, BenchFootprintArgs,
    BenchLlmArgs, BenchMailArgs, BenchMemoryArgs,
};
pub use crate::cli_boards::{BoardCommand, TaskCommand};
pub use crate::cli_calendar::CalendarCommand;
pub use crate::cli_mail::{MailCommand, MailRulesCommand};
use openzero_core::{Domain, Priority, Progress, Status};

const EXAMPLES: &str = "\
Examples:
  openzero init                         create the data directory and openzero.toml
  openzero serve                        run Z (HTTP on 127.0.0.1:8000)
  openzero project add Career --priority 1 --domain career
  openzero project add \"Job Applications\" --parent Career --status paused
  openzero tree                         show the project tree
  openzero memory add \"Dentist on Tuesday at 9:30\"
  openzero memory search \"when is the dentist\"
  openzero chat \"what are my projects?\"  talk to Z (offline, embedded model)
  openzero think \"plan my week\"        ask a cloud model, after you approve what leaves
  openzero disclosures                  everything that ever left for a cloud model
  openzero doctor                       check configuration and components
  openzero --data-dir /srv/openzero config show

Environment:
  OPENZERO_DATA_DIR, OPENZERO_CONFIG, OPENZERO__SECTION__KEY, and the original
  deployment's names (DATABASE_URL, USER_TIMEZONE, TELEGRAM_BOT_TOKEN, ...).
  A .env file in the working directory is read too; see .env.example.";

/// Z, your private assistant: one binary, your data on your machine.
#[derive(Debug, Parser)]
#[command(name = "openzero", version, after_help = EXAMPLES, propagate_version = true)]
pub struct Cli {
    /// Data directory [default: ~/.local/share/openzero; env: OPENZERO_DATA_DIR]
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Configuration file [default: DATA_DIR/openzero.toml; env: OPENZERO_CONFIG]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Log level: trace, debug, info, warn, error [default: info for serve, warn otherwise]
    #[arg(long, global = true, value_name = "LEVEL")]
    pub log_level: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the data directory, a commented openzero.toml and the database
    #[command(after_help = "\
Examples:
  openzero init
  openzero init --data-dir /srv/openzero

An existing openzero.toml is never overwritten.")]
    Init,

    /// Run the service: the dashboard and GET /health over HTTP, Telegram, the jobs, until Ctrl-C or SIGTERM
    #[command(after_help = "\
Examples:
  openzero serve
  openzero serve --bind 127.0.0.1:9000
  DATABASE_URL=postgres://oz:PASSWORD@127.0.0.1/openzero openzero serve
  openzero serve --clock 2026-11-30T07:29:50+01:00   # watch Monday's briefing go out")]
    Serve {
        /// Address to listen on, IP:PORT [default: 127.0.0.1:8000; port 0 picks a free one]
        #[arg(long, value_name = "ADDR")]
        bind: Option<String>,
        /// Run the schedule as if it were this time now (RFC 3339), going on
        /// at real speed: to try a schedule. Records keep the real time.
        #[arg(long, value_name = "TIME")]
        clock: Option<chrono::DateTime<chrono::FixedOffset>>,
    },

    /// Check the configuration and every configured component
    #[command(after_help = "\
Examples:
  openzero doctor
  openzero doctor --json
  openzero doctor --security

Exits with status 1 when something configured is broken.")]
    Doctor {
        /// Print the checks as JSON
        #[arg(long)]
        json: bool,
        /// Check what matters for security instead: listening address,
        /// permissions, where secrets come from, the Telegram owner, the
        /// dashboard password
        #[arg(long)]
        security: bool,
    },

    /// Show the effective configuration
    #[command(
        subcommand,
        after_help = "\
Examples:
  openzero config show
  openzero config show --json
  openzero config paths"
    )]
    Config(ConfigCommand),

    /// Manage projects
    #[command(
        subcommand,
        after_help = "\
Examples:
  openzero project add Career --priority 1 --domain career
  openzero project update Career --progress 60
  openzero project list --json"
    )]
    Project(ProjectCommand),

    /// Remember, search and forget (local semantic memory)
    #[command(
        subcommand,
        after_help = "\
Examples:
  openzero memory add \"Dentist on Tuesday at 9:30\"
  openzero memory search \"when is the dentist\" --json
  openzero memory import notes.jsonl"
    )]
    Memory(MemoryCommand),

    /// Mail, read-only: import archives, list, show, sync, and the rules
    #[command(
        subcommand,
        after_help = "\
Examples:
  openzero mail import ~/Mail/archive.mbox
  openzero mail list --urgent --json
  openzero mail rules add school.example --subject trip --action urgent
  EMAIL_IMAP_HOST=imap.example.org EMAIL_IMAP_USER=me EMAIL_IMAP_PASSWORD=... openzero mail sync
  openzero mail connect gmail"
    )]
    Mail(MailCommand),

    /// Calendars, read-only: ICS files and subscriptions, CalDAV, Google Calendar; the agenda
    #[command(
        subcommand,
        after_help = "\
Examples:
  openzero calendar import holidays.ics
  openzero calendar add-url https://club.example/fixtures.ics
  openzero calendar add-caldav https://cloud.example.org/remote.php/dav/ --user me
  openzero calendar agenda --days 7 --json"
    )]
    Calendar(CalendarCommand),

    /// Boards by life domain and their lists (Career, Health, Family, Finance, Creative)
    #[command(
        subcommand,
        after_help = "\
Examples:
  openzero board list
  openzero board show Career
  openzero board add Garden --lists \"Ideas, Planting, Harvested\""
    )]
    Board(BoardCommand),

    /// Tasks on the boards: add, move, done, edit, list, show
    #[command(
        subcommand,
        after_help = "\
Examples:
  openzero task add \"Renew passport\" --due \"next month\"
  openzero task list --due-before friday --json
  openzero task move 12 \"In Progress\"
  openzero task done 12"
    )]
    Task(TaskCommand),

    /// Money, kept locally: import statements, categories, budgets, the month's report
    #[command(
        subcommand,
        after_help = "\
Examples:
  openzero finance import ~/Downloads/statement.csv
  openzero finance budget set Groceries 450
  openzero finance report --month \"last month\""
    )]
    Finance(crate::finance_cmd::FinanceCommand),

    /// News feeds: follow, fetch, the stories once each, OPML in and out
    #[command(
        subcommand,
        after_help = "\
Examples:
  openzero news add https://www.theguardian.com/world/rss --tag world
  openzero news import-opml subscriptions.opml
  openzero news fetch
  openzero news list --unread --ranked"
    )]
    News(crate::news_cmd::NewsCommand),

    /// Two-way sync of the boards with a Planka server (optional): status, sync
    #[command(
        subcommand,
        after_help = "\
Examples:
  openzero planka status
  openzero planka sync --json"
    )]
    Planka(crate::planka_cmd::PlankaCommand),

    /// Strava, read-only: connect, webhook subscription, history harvest
    #[command(
        subcommand,
        after_help = "\
Examples:
  openzero strava connect
  openzero strava status
  openzero strava harvest
  openzero strava subscribe https://z.example.org/webhooks/strava"
    )]
    Strava(crate::strava_cmd::StravaCommand),

    /// Who may open the web dashboard: password, one-time links, signed-in browsers
    #[command(
        subcommand,
        after_help = "\
Examples:
  openzero dashboard set-password
  openzero dashboard link
  openzero dashboard sessions --json
  openzero dashboard revoke 3

The dashboard is served by `openzero serve` at server.bind
(http://127.0.0.1:8000 by default)."
    )]
    Dashboard(crate::dashboard_cmd::DashboardCommand),

    /// Run as a system service: write the hardened systemd unit
    #[command(
        subcommand,
        after_help = "\
Examples:
  sudo openzero service install --user openzero
  openzero service install --print"
    )]
    Service(crate::service_cmd::ServiceCommand),

    /// Encrypted backups: create, list, verify, restore (either backend onto either), drill
    #[command(
        subcommand,
        after_help = "\
Examples:
  openzero backup create
  openzero backup list
  openzero backup verify FILE
  openzero backup restore FILE --database-url postgres://oz@db/openzero"
    )]
    Backup(crate::backup_cmd::BackupCommand),

    /// Training: import activity files (GPX, TCX, FIT), their load, form and the goal race
    #[command(
        subcommand,
        after_help = "\
Examples:
  openzero training import ~/Downloads/*.fit
  openzero training list --json
  openzero training metrics
  openzero training goal \"Half marathon\" 2027-03-14 1:45:00"
    )]
    Training(crate::training_cmd::TrainingCommand),

    /// Talk to Z: one message, or a conversation when no message is given
    #[command(after_help = "\
Examples:
  openzero chat \"what are my projects?\"
  openzero chat                         a conversation; an empty line or Ctrl-D ends it
  echo \"what did I plan for Tuesday?\" | openzero chat -

Z answers with the embedded model on this machine (no network): your
projects, the memories that match your message, about-me.md and the time in
your zone go into the prompt. The conversation is kept (channel: terminal).
When LLM_PROVIDER is a cloud service (openai, groq, openrouter, gemini), each
message is shown first and sent only after you answer `y`, as with `think`.")]
    Chat {
        /// The message; `-` reads it from standard input
        message: Option<String>,
    },

    /// Ask the deep-thinking model (DEEP_THINK_PROVIDER), showing first what would leave
    #[command(after_help = "\
Examples:
  openzero think \"should I take the Berlin job offer?\"
  DEEP_THINK_PROVIDER=openai DEEP_THINK_MODEL=gpt-4o openzero think \"plan my week\"

Z picks on this machine what the question needs (memories, projects,
about-me paragraphs the local models rate relevant), replaces e-mail
addresses, phone numbers, IBANs and street addresses with placeholders, and
shows you every item, the provider and the model. Only after you answer `y`
is exactly that sent; the disclosure is logged (`openzero disclosures`).
Answer `n` to cancel. With no answer (no terminal), the request stays
pending for llm.consent_hours (default 24): `openzero thoughts grant ID`.
A local deep-think provider (embedded, ollama, llamacpp) needs no approval.")]
    Think {
        /// The question
        question: String,
    },

    /// Requests waiting for your approval, and what became of earlier ones
    #[command(
        subcommand,
        after_help = "\
Examples:
  openzero thoughts list
  openzero thoughts grant 3
  openzero thoughts cancel 3"
    )]
    Thoughts(ThoughtsCommand),

    /// Everything that was sent to a cloud model: when, where, how much, what
    #[command(after_help = "\
Examples:
  openzero disclosures
  openzero disclosures --json -n 100

Each line: time, provider and model, size, the SHA-256 of the exact bytes
sent, who approved, the items it carried and how it ended.")]
    Disclosures {
        /// How many, newest first
        #[arg(short = 'n', long, default_value_t = 20)]
        limit: i64,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },

    /// Scheduled jobs: the morning briefing and the weekly and monthly reviews
    #[command(
        subcommand,
        after_help = "\
Examples:
  openzero jobs list
  openzero jobs run daily-briefing
  openzero jobs pause weekly-review"
    )]
    Jobs(JobsCommand),

    /// Compose a briefing now, or show the last one delivered
    #[command(after_help = "\
Examples:
  openzero briefing daily --dry-run     print today's briefing, deliver nothing
  openzero briefing weekly              compose, store and send (Telegram) the weekly review
  openzero briefing last

The structured briefing (projects needing attention, recently done, top
priorities; the weekly and monthly reviews by project and life domain) is
phrased by the local model when it answers in time; otherwise the plain
version goes out.")]
    Briefing {
        /// daily, weekly, monthly or last
        which: String,
        /// Print without storing or sending, and without the model
        #[arg(long)]
        dry_run: bool,
    },

    /// Measure speed against baselines (embedding, search, import)
    #[command(
        subcommand,
        after_help = "\
Examples:
  ./scripts/bench
  openzero bench memory --quick
  openzero bench mail --corpus ../shared/fixtures/email --python python3"
    )]
    Bench(BenchCommand),

    /// Print the project tree
    #[command(after_help = "\
Examples:
  openzero tree

Output:
  [ACTIVE] Career [40%]
    [PAUSED] Job Applications [20%]")]
    Tree,
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Every job: schedule, next run in your time zone, paused, last outcome
    #[command(after_help = "Examples:\n  openzero jobs list\n  openzero jobs list --json")]
    List {
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Pause a job (kept across restarts)
    #[command(after_help = "Examples:\n  openzero jobs pause daily-briefing")]
    Pause { name: String },
    /// Resume a paused job
    #[command(after_help = "Examples:\n  openzero jobs resume daily-briefing")]
    Resume { name: String },
    /// Run a job now (it is recorded like a scheduled run)
    #[command(after_help = "Examples:\n  openzero jobs run weekly-review")]
    Run { name: String },
    /// A job's recent runs, newest first: slot, start, end, outcome, error
    #[command(
        after_help = "Examples:\n  openzero jobs history daily-briefing\n  openzero jobs history weekly-review -n 5 --json"
    )]
    History {
        name: String,
        /// How many runs
        #[arg(short = 'n', long, default_value_t = 20)]
        limit: i64,
        /// Print as JSON, one run per line
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ThoughtsCommand {
    /// List thoughts, newest first
    #[command(after_help = "Examples:\n  openzero thoughts list\n  openzero thoughts list --json")]
    List {
        /// How many
        #[arg(short = 'n', long, default_value_t = 20)]
        limit: i64,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Show exactly what a thought would send
    #[command(after_help = "Examples:\n  openzero thoughts show 3")]
    Show { id: i64 },
    /// Approve a pending thought: send it and print the answer
    #[command(after_help = "Examples:\n  openzero thoughts grant 3")]
    Grant { id: i64 },
    /// Cancel a pending thought; nothing is sent
    #[command(after_help = "Examples:\n  openzero thoughts cancel 3")]
    Cancel { id: i64 },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration with secrets masked, and where each value came from
    #[command(after_help = "\
Examples:
  openzero config show
  openzero config show --json
  USER_TIMEZONE=Europe/Berlin openzero config show")]
    Show {
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Print the paths in use (data directory, config file, database)
    #[command(after_help = "Examples:\n  openzero config paths")]
    Paths,
}

#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Add a project
    #[command(after_help = "\
Examples:
  openzero project add Career --priority 1 --domain career --progress 40
  openzero project add \"Job Applications\" --parent Career --status paused
  openzero project add Marathon --parent 3 --description \"sub-4 in April\"")]
    Add(AddArgs),

    /// Change a project (by id or name)
    #[command(after_help = "\
Examples:
  openzero project update \"Job Applications\" --progress 60
  openzero project update 4 --status completed
  openzero project update Marathon --parent Health
  openzero project update Marathon --top-level")]
    Update(UpdateArgs),

    /// Remove a project; its children move up to its parent
    #[command(after_help = "\
Examples:
  openzero project remove \"Old idea\"
  openzero project remove 7")]
    Remove {
        /// Project id or name
        project: String,
    },

    /// List projects, in tree order
    #[command(after_help = "\
Examples:
  openzero project list
  openzero project list --json | jq '.[] | select(.status == \"active\") | .name'")]
    List {
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// Name of the project
    pub name: String,
    /// Parent project (id or name)
    #[arg(long, value_name = "NAME|ID")]
    pub parent: Option<String>,
    /// active, paused, completed (or done), archived [default: active]
    #[arg(long)]
    pub status: Option<Status>,
    /// 1 (highest) to 5 [default: 3]
    #[arg(long)]
    pub priority: Option<Priority>,
    /// career, health, family, finance, creative, general [default: the parent's, else general]
    #[arg(long)]
    pub domain: Option<Domain>,
    /// 0 to 100 [default: 0]
    #[arg(long)]
    pub progress: Option<Progress>,
    /// A line about what it is
    #[arg(long)]
    pub description: Option<String>,
    /// Print the created project as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Project id or name
    pub project: String,
    /// New name
    #[arg(long)]
    pub name: Option<String>,
    /// New parent project (id or name)
    #[arg(long, value_name = "NAME|ID", conflicts_with = "top_level")]
    pub parent: Option<String>,
    /// Move to the top level
    #[arg(long)]
    pub top_level: bool,
    /// active, paused, completed (or done), archived
    #[arg(long)]
    pub status: Option<Status>,
    /// 1 (highest) to 5
    #[arg(long)]
    pub priority: Option<Priority>,
    /// career, health, family, finance, creative, general
    #[arg(long)]
    pub domain: Option<Domain>,
    /// 0 to 100
    #[arg(long)]
    pub progress: Option<Progress>,
    /// New description ("" clears it)
    #[arg(long)]
    pub description: Option<String>,
    /// Print the updated project as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum MemoryCommand {
    /// Remember a text (embedded locally; stored even if the model is missing)
    #[command(after_help = "\
Examples:
  openzero memory add \"Dentist on Tuesday at 9:30\"
  openzero memory add \"Anna's birthday is 12 May\" --source family --id anna-bday
  openzero memory add \"Ran 10k in 52:10\" --at 2026-03-29T08:00:00+02:00")]
    Add {
        /// The text to remember
        text: String,
        /// When it happened: RFC 3339 or YYYY-MM-DD (your time zone) [default: now]
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        /// Where it came from: chat, telegram, email, import, ... [default: cli]
        #[arg(long)]
        source: Option<String>,
        /// Your own id for it, returned by search
        #[arg(long = "id", value_name = "EXTERNAL_ID")]
        external_id: Option<String>,
        /// JSON object kept with it
        #[arg(long, value_name = "JSON")]
        metadata: Option<String>,
        /// Print the stored memory as JSON
        #[arg(long)]
        json: bool,
    },

    /// Find memories by meaning and by words
    #[command(after_help = "\
Examples:
  openzero memory search \"when is the dentist\"
  openzero memory search taxes -k 10 --since 2026-01-01 --source email
  openzero memory search \"running goals\" --json
  openzero memory search --queries eval.jsonl -k 10 --json

With --queries, each input line is {\"id\": ..., \"query\": \"...\", \"at\"?: RFC 3339}
(at: when the question is asked; later memories are not searched and \"last
week\" counts back from it) and each output
line is {\"id\": ..., \"results\": [{\"id\", \"external_id\", \"score\", \"text\",
\"created_at\", \"source\"}, ...]} in rank order. Malformed lines are reported
on stderr with their number and skipped.")]
    Search {
        /// What to look for
        #[arg(required_unless_present = "queries")]
        query: Option<String>,
        /// Batch mode: a JSONL file of queries (- for standard input)
        #[arg(long, value_name = "FILE", conflicts_with = "query")]
        queries: Option<PathBuf>,
        /// How many results
        #[arg(short, default_value_t = 5)]
        k: usize,
        /// Only memories from this time on: RFC 3339 or YYYY-MM-DD (your time zone)
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// Only memories up to this time: RFC 3339 or YYYY-MM-DD (that whole day)
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
        /// Only memories from this source
        #[arg(long)]
        source: Option<String>,
        /// full (context, time, newer facts, duplicates), hybrid (meaning and words fused) or dense (meaning only)
        #[arg(long, default_value = "full", value_name = "RANKING")]
        ranking: String,
        /// Print results as JSON
        #[arg(long)]
        json: bool,
    },

    /// Forget a memory: its text, vector and index entry are deleted
    #[command(after_help = "Examples:\n  openzero memory forget 42")]
    Forget {
        /// Memory id (as shown by search)
        id: i64,
    },

    /// Counts: total, embedded, waiting, by source, hidden by merges, near-duplicates, oldest unreviewed
    #[command(after_help = "\
Examples:
  openzero memory stats
  openzero memory stats --json

Near-duplicate groups and clusters are what `openzero memory consolidate`
would propose now; unreviewed memories are those it has not looked at yet
(or whose proposal waits for you), oldest first.")]
    Stats {
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },

    /// Import memories from JSONL: {"text", "created_at"?, "source"?, "id"?, "metadata"?} per line
    #[command(after_help = "\
Examples:
  openzero memory import notes.jsonl
  openzero memory export | openzero --data-dir /srv/other memory import -

Malformed lines are reported with their number and skipped; importing the
same file again adds nothing.")]
    Import {
        /// JSONL file, or - for standard input
        file: PathBuf,
    },

    /// Export every memory as JSONL (re-importable)
    #[command(
        after_help = "Examples:\n  openzero memory export > memories.jsonl\n  openzero memory export backup.jsonl"
    )]
    Export {
        /// Output file [default: standard output]
        file: Option<PathBuf>,
    },

    /// Propose merging near-duplicates and summarising clusters of small memories; apply or undo
    #[command(after_help = "\
Examples:
  openzero memory consolidate                  # list the proposals, change nothing
  openzero memory consolidate --apply d3f9a21  # apply one proposal
  openzero memory consolidate --apply          # apply every proposal listed
  openzero memory consolidate --merges         # the merges in place, newest first
  openzero memory consolidate --undo 4         # undo merge #4 exactly
  openzero memory consolidate --json

Near-duplicates (cosine of their vectors >= 0.95) are merged into the newest of
them; clusters of 3 to 8 short memories on one subject (every pair >= 0.75) are
summarised into one new memory (source `consolidate`) by the local chat model
when one is configured and its summary keeps every number and adds no name,
else by joining their texts; the output says which. The originals are kept,
hidden from search while merged, and come back exactly with --undo. Forgetting
the memory a merge stands behind undoes that merge. The weekly job
(schedule.memory_consolidate) only tells you how many proposals there are.")]
    Consolidate {
        /// Apply every proposal, or only the one named (its id as listed)
        #[arg(long, value_name = "ID", num_args = 0..=1, default_missing_value = "all")]
        apply: Option<String>,
        /// Undo merge MERGE (its number, from --apply or --merges)
        #[arg(long, value_name = "MERGE", conflicts_with = "apply")]
        undo: Option<i64>,
        /// List the merges in place, newest first
        #[arg(long, conflicts_with_all = ["apply", "undo"])]
        merges: bool,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },

    /// Embed memories stored without a vector, or with another model's
    #[command(after_help = "Examples:\n  openzero memory reindex")]
    Reindex,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every command and command group, down the whole tree, shows
    /// examples in its `--help`.
    #[test]
    fn every_command_has_examples_in_its_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let help = cmd
                .get_after_help()
                .map(ToString::to_string)
                .unwrap_or_default();
            if !help.contains("Examples:") {
                missing.push(path.to_owned());
            }
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&super::Cli::command(), "openzero", &mut missing);
        assert!(missing.is_empty(), "no examples in --help of: {missing:?}");
    }
}
