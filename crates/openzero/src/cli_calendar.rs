//! Command-line definitions of `openzero calendar …` (read by [`crate::cli`]).

use std::path::PathBuf;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum CalendarCommand {
    /// Show the events of a span of days, in your time zone (default: today)
    #[command(after_help = "\
Examples:
  openzero calendar agenda
  openzero calendar agenda --from 2026-12-01 --to 2026-12-07
  openzero calendar agenda --days 7 --json

Recurring events are expanded in USER_TIMEZONE (exceptions, moved and
cancelled instances, all-day and daylight-saving days included). --json
prints one object per occurrence: uid, summary, start, end (RFC 3339 with
your offset, or YYYY-MM-DD for all-day events, end exclusive), all_day,
location, calendar, status, busy. Cancelled instances are left out unless
--all is given.")]
    Agenda {
        /// First day (YYYY-MM-DD; default today)
        #[arg(long, value_name = "DATE")]
        from: Option<String>,
        /// Last day, included (YYYY-MM-DD; default: the first day)
        #[arg(long, value_name = "DATE", conflicts_with = "days")]
        to: Option<String>,
        /// Number of days from the first one
        #[arg(long, value_name = "N")]
        days: Option<u32>,
        /// Include cancelled instances (marked)
        #[arg(long)]
        all: bool,
        /// One JSON object per occurrence
        #[arg(long)]
        json: bool,
    },

    /// List calendar sources and their calendars, with the last sync
    #[command(after_help = "Examples:\n  openzero calendar list\n  openzero calendar list --json")]
    List {
        #[arg(long)]
        json: bool,
    },

    /// Import a local .ics file as a calendar (again: replaces the last import)
    #[command(after_help = "\
Examples:
  openzero calendar import ~/Downloads/holidays.ics
  openzero calendar import school.ics --name School")]
    Import {
        file: PathBuf,
        /// The calendar's name (default: the file's own name, or its file name)
        #[arg(long)]
        name: Option<String>,
    },

    /// Subscribe to an ICS address (http, https or webcal), refreshed every 15 minutes
    #[command(
        name = "add-url",
        after_help = "\
Examples:
  openzero calendar add-url https://club.example/fixtures.ics --name Club
  openzero calendar add-url webcal://p01-calendars.icloud.com/published/2/abc...

Fetched once now (a wrong address fails here), then refreshed by the
calendar-sync job with a conditional GET (ETag / Last-Modified), so an
unchanged feed costs one 304. Secret tokens in the address are never shown."
    )]
    AddUrl {
        url: String,
        /// The calendar's name (default: the feed's own name, or its host)
        #[arg(long)]
        name: Option<String>,
    },

    /// Add a CalDAV account (Nextcloud, Fastmail, iCloud, Radicale...), read-only
    #[command(
        name = "add-caldav",
        after_help = "\
Examples:
  openzero calendar add-caldav https://cloud.example.org/remote.php/dav/ --user me
  CALDAV_PASSWORD=app-password openzero calendar add-caldav https://caldav.fastmail.com/ --user me@fastmail.com --name Fastmail
  openzero calendar add-caldav https://caldav.icloud.com/ --user me@icloud.com --password-file ~/.icloud-app-password

Your calendars are found from the address (current-user-principal, then
calendar-home-set) and synced now; afterwards by sync-token, so only what
changed is read. Only PROPFIND and REPORT are sent: nothing on the server
changes. The password (an app password where the provider offers one) is
read from CALDAV_PASSWORD, --password-file, or asked for, and kept in
DATA_DIR/calendar-secrets.json, readable by you only."
    )]
    AddCaldav {
        url: String,
        #[arg(long)]
        user: String,
        /// A file holding the password
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
        /// The account's name (default: the server's host name)
        #[arg(long)]
        name: Option<String>,
    },

    /// Follow a Google account's calendars (the Calendar API, read-only), in your browser
    #[command(after_help = "\
Examples:
  GOOGLE_CLIENT_ID=1234-abc.apps.googleusercontent.com GOOGLE_CLIENT_SECRET=GOCSPX-... openzero calendar connect google
  openzero calendar connect google --name Work --refresh-token-file token.txt

Uses your own Google OAuth client (type \"Desktop app\", the Google Calendar
API enabled), the same one Gmail uses. Only the calendar.readonly scope is
asked for; every calendar of the account is synced by sync token (a full
resync when Google asks for one) and only GET requests are sent. The
refresh token is kept in DATA_DIR/calendar-secrets.json (mode 0600). On a
server without a browser, paste the address the browser ends on, or give a
refresh token granted elsewhere with --refresh-token-file.")]
    Connect {
        /// google
        provider: String,
        /// The source's name (default: Google)
        #[arg(long, default_value = "Google")]
        name: String,
        /// A refresh token (calendar.readonly) granted elsewhere
        #[arg(long, value_name = "FILE")]
        refresh_token_file: Option<PathBuf>,
    },

    /// Remind you before events of a calendar (off by default), through Telegram
    #[command(after_help = "\
Examples:
  openzero calendar remind Work 15        15 minutes before each timed event in Work
  openzero calendar remind \"Home server\" 10   every calendar of that source
  openzero calendar remind Work off

`serve` checks every 30 seconds; each event is reminded once (a moved
event again at its new time). All-day and cancelled events are not.")]
    Remind {
        /// A calendar, or a source (all its calendars)
        name: String,
        /// Minutes before the start, or off
        minutes: String,
    },

    /// Remove a calendar source and everything it brought
    #[command(after_help = "Examples:\n  openzero calendar remove Club")]
    Remove { name: String },

    /// Sync every calendar source now (what the calendar-sync job does)
    #[command(
        after_help = "Examples:\n  openzero calendar sync\n  openzero calendar sync --source Fastmail"
    )]
    Sync {
        /// Only this source
        #[arg(long)]
        source: Option<String>,
    },
}
