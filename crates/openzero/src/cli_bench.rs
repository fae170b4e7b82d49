//! Command-line definitions of `openzero bench …` (read by [`crate::cli`]).

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Memory: embedding throughput vs Python sentence-transformers, search
    /// latency vs pgvector, import rate, peak memory
    #[command(after_help = "\
Examples:
  ./scripts/bench                       everything, with both baselines set up for you
  openzero bench memory --quick         a one-minute run without baselines
  openzero bench memory --sizes 10000,100000 --postgres postgres://postgres@127.0.0.1:54329/postgres
  openzero bench memory --python ~/.cache/openzero/refvenv/bin/python --python-model DIR --json

Search runs on synthetic memories (clustered unit vectors, generated text);
embedding and import use real text and the real model. Nothing is written to
your data: the benchmark databases live in a scratch directory.")]
    Memory(BenchMemoryArgs),

    /// Chat model: embedded decode rate and time to first token vs llama.cpp
    #[command(after_help = "\
Examples:
  ./scripts/bench-llm                   starts llama.cpp's server on the same GGUF, then runs this
  openzero bench llm                    the embedded model alone
  openzero bench llm --llamacpp http://127.0.0.1:54330/v1 --threads 2 --json

The llama.cpp server must serve the same GGUF file with the same thread
count (scripts/bench-llm does). Tokens are counted with the GGUF's own
tokenizer on both sides.")]
    Llm(BenchLlmArgs),

    /// Footprint: resident memory with the embedding model ready, vs Python
    #[command(after_help = "\
Examples:
  ./scripts/bench                       every benchmark, baselines set up for you
  openzero bench footprint              this build alone
  openzero bench footprint --python ~/.cache/openzero/refvenv/bin/python --python-model DIR --json

The model is loaded as `serve` loads it (memory.runtime decides the engine).
Goals: idle ≤ 120 MB with the embedder ready; peak while loading ≤ 1.5× idle.")]
    Footprint(BenchFootprintArgs),

    /// Mail: parse + rules + store vs Python's email parser; polling and IDLE
    #[command(after_help = "\
Examples:
  ./scripts/bench-mail                  a Dovecot with 10,000 messages and Python, set up for you
  openzero bench mail --corpus ../shared/fixtures/email --python python3
  EMAIL_IMAP_HOST=... openzero bench mail --corpus ~/Maildir --maildir ~/Maildir --json

Parsing and storing use the corpus given (cycled to --messages) and scratch
databases; with a mailbox configured (EMAIL_IMAP_*) its unchanged poll is
timed, and with --maildir (the mailbox's Maildir on this machine) the time
from delivery to the message kept and its notification queued, by IDLE.")]
    Mail(BenchMailArgs),

    /// Calendar: parse + expand a year of 1,000 events (200 series) vs Python's recurring-ical-events
    #[command(after_help = "\
Examples:
  ./scripts/bench-calendar              the reference set up for you, the public ICS corpus added
  openzero bench calendar
  openzero bench calendar --reference scripts/calendar-reference --files ../shared/fixtures/ics --json

The generated calendar is the same every run (weekly, daily, monthly and
yearly series with EXDATEs, moved and cancelled instances, all-day events,
four zones). Both sides parse and expand 2026 in Europe/Berlin; the median
of --repeat runs is shown. Target: ≤ 50 ms and faster than the reference.")]
    Calendar(BenchCalendarArgs),

    /// Boards: listing a board of 1,000 cards (target ≤ 20 ms)
    #[command(after_help = "\
Examples:
  openzero bench boards
  openzero bench boards --cards 5000 --json

Uses a scratch SQLite database (your data is not touched).")]
    Boards(BenchBoardsArgs),

    /// Backups: an encrypted backup of 100,000 memories with vectors and its restore, vs sqlite3 .backup
    #[command(after_help = "\
Examples:
  ./scripts/bench                       every benchmark, PostgreSQL started for you
  openzero bench backup                 SQLite only
  openzero bench backup --memories 10000 --postgres postgres://postgres@127.0.0.1:54329/postgres --json

The baseline is SQLite's online backup (the sqlite3 program's .backup)
compressed and encrypted the same way (zstd, age), and that file opened
back into place. Goals: backup ≤ 10 s and restore ≤ 30 s at 100,000
memories. Everything lives in a scratch directory.")]
    Backup(BenchBackupArgs),

    /// Running coach: a 10-hour FIT import and 5 years of metrics, vs Python (fitdecode)
    #[command(after_help = "\
Examples:
  ./scripts/bench                       every benchmark, the Python reference set up for you
  openzero bench training               OpenZero alone
  openzero bench training --python ~/.cache/openzero/training-venv/bin/python --files ../shared/fixtures/activities
  openzero bench training --hours 1 --years 1 --samples-per-run 60 --repeat 1 --json

The FIT file is generated (a run at 1 Hz with position, altitude, distance,
speed, heart rate and cadence, a lap an hour) and read by both sides; the
runs are generated too (one a day, easy, intervals, tempo, long). The
reference (scripts/bench-training-python.py) needs a Python with fitdecode.
Goals: the 10-hour import ≤ 200 ms and faster than the reference; the
metrics over 5 years ≤ 50 ms. Everything lives in a scratch directory.")]
    Training(BenchTrainingArgs),

    /// Memory retrieval: evidence recall of the dense, hybrid and full rankings
    #[command(after_help = "\
Examples:
  openzero bench recall --realmem ../shared/fixtures/memory/realmem
  openzero bench recall --realmem ../shared/fixtures/memory/realmem --people 2 --sessions 60
  openzero bench recall --no-realmem --json                  our own cases only

Each set of conversations is imported with `openzero memory import` into a
fresh data directory, and its questions (each asked when its session
starts, so later memories are not searched) go through `openzero memory
search --queries … --json` once per ranking. Printed per question type:
evidence recall@5 and @10, hit@10 and hit@1, dense / hybrid / full side by
side. RealMem is the public corpus (zhiyuan5986/RealMemBench); our own
cases add questions about periods in the owner's zone, \"when did I …\",
and facts that changed.")]
    Recall(BenchRecallArgs),
}

#[derive(Debug, Args)]
pub struct BenchRecallArgs {
    /// The RealMem folder (*_dialogues_256k.json) [default: OPENZERO_FIXTURES/memory/realmem, or ../shared/fixtures/memory/realmem]
    #[arg(long, value_name = "DIR")]
    pub realmem: Option<PathBuf>,
    /// Our own cases only
    #[arg(long, conflicts_with = "realmem")]
    pub no_realmem: bool,
    /// Leave out our own cases
    #[arg(long)]
    pub no_own: bool,
    /// RealMem people (files) to use, in name order (0: all ten)
    #[arg(long, default_value_t = 0)]
    pub people: usize,
    /// Sessions kept per person, from the start (0: all)
    #[arg(long, default_value_t = 0)]
    pub sessions: usize,
    /// Keep the imported data here and reuse it when the memories are the same [default: a temporary directory]
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// Print the figures as JSON instead of a Markdown table
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BenchTrainingArgs {
    /// Hours of the generated FIT activity (one record a second)
    #[arg(long, default_value_t = 10)]
    pub hours: u32,
    /// Years of daily runs for the metrics
    #[arg(long, default_value_t = 5)]
    pub years: u32,
    /// Samples each stored run keeps (3,600: an hour at 1 Hz, as an import keeps them)
    #[arg(long, default_value_t = 3600)]
    pub samples_per_run: usize,
    /// Timed runs per side (the median is shown)
    #[arg(long, default_value_t = 7)]
    pub repeat: usize,
    /// Python with fitdecode installed, for the reference
    #[arg(long, value_name = "PYTHON")]
    pub python: Option<PathBuf>,
    /// Real-world FIT files or directories to time as well
    #[arg(long, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// Print the figures as JSON instead of a Markdown table
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BenchBackupArgs {
    /// Memories (with 384-dimension vectors) in the scratch store
    #[arg(long, default_value_t = 100_000)]
    pub memories: usize,
    /// A PostgreSQL URL allowed to create databases, to time that backend too
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
    /// Print the figures as JSON instead of a Markdown table
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BenchBoardsArgs {
    /// Cards on the board
    #[arg(long, default_value_t = 1000)]
    pub cards: usize,
    /// Timed listings (the median is shown)
    #[arg(long, default_value_t = 20)]
    pub repeat: usize,
    /// Print the figures as JSON instead of a Markdown table
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BenchCalendarArgs {
    /// Real-world .ics files or directories to time as well
    #[arg(long, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// The reference: scripts/calendar-reference (Python icalendar + recurring-ical-events)
    #[arg(long, value_name = "SCRIPT")]
    pub reference: Option<PathBuf>,
    /// Timed runs per side
    #[arg(long, default_value_t = 5)]
    pub repeat: usize,
    /// Print the figures as JSON instead of a Markdown table
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BenchMailArgs {
    /// Files or directories of real-world mail (.eml, Maildir, mbox)
    #[arg(long, required = true, num_args = 1..)]
    pub corpus: Vec<PathBuf>,
    /// Messages processed per side
    #[arg(long, default_value_t = 5000)]
    pub messages: usize,
    /// Python 3 for the baseline (the standard library's email parser)
    #[arg(long, value_name = "PYTHON")]
    pub python: Option<PathBuf>,
    /// Timed polls of the configured mailbox
    #[arg(long, default_value_t = 20)]
    pub polls: usize,
    /// The configured mailbox's Maildir, to time IDLE delivery
    #[arg(long, value_name = "DIR")]
    pub maildir: Option<PathBuf>,
    /// Print the figures as JSON instead of a Markdown table
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BenchFootprintArgs {
    /// Python with sentence-transformers installed, for the baseline
    #[arg(long, value_name = "PYTHON", requires = "python_model")]
    pub python: Option<PathBuf>,
    /// The sentence-transformers model directory (with modules.json) for --python
    #[arg(long, value_name = "DIR")]
    pub python_model: Option<PathBuf>,
    /// Print the figures as JSON instead of a Markdown table
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BenchLlmArgs {
    /// The llama.cpp server (OpenAI-compatible URL) serving the same GGUF
    #[arg(long, value_name = "URL")]
    pub llamacpp: Option<String>,
    /// Threads for the embedded model [default: llm.threads, or every core]
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Tokens generated per run
    #[arg(long, value_name = "N", default_value_t = 128)]
    pub tokens: usize,
    /// Timed runs per side
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub runs: usize,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BenchMemoryArgs {
    /// Small sizes for a quick check (1,000 memories, 50 queries, 500 imported)
    #[arg(long)]
    pub quick: bool,
    /// Memory counts for the search benchmark, comma-separated
    #[arg(long, value_delimiter = ',', value_name = "N,N")]
    pub sizes: Option<Vec<usize>>,
    /// Queries timed per search configuration
    #[arg(long, value_name = "N")]
    pub queries: Option<usize>,
    /// Memories imported for the import rate (0 skips it)
    #[arg(long, value_name = "N")]
    pub import: Option<usize>,
    /// Python with sentence-transformers installed, for the embedding baseline
    #[arg(long, value_name = "PYTHON", requires = "python_model")]
    pub python: Option<PathBuf>,
    /// The sentence-transformers model directory (with modules.json) for --python
    #[arg(long, value_name = "DIR")]
    pub python_model: Option<PathBuf>,
    /// Admin URL of a PostgreSQL server with pgvector, for the search baseline
    /// (a scratch database is created and dropped)
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
    /// Print the figures as JSON instead of a Markdown table
    #[arg(long)]
    pub json: bool,
}
