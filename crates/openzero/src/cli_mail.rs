//! Command-line definitions of `openzero mail …` (read by [`crate::cli`]).

use std::path::PathBuf;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Import .eml files, Maildir folders and mbox files (read-only)
    #[command(after_help = "\
Examples:
  openzero mail import message.eml
  openzero mail import ~/Maildir ~/Downloads/takeout/All\\ mail.mbox
  openzero mail import ~/mail-archive --json > report.jsonl

Directories are walked; a Maildir's cur/ and new/ are read; an mbox is
streamed. Your rules decide each message's action and a one-line summary is
taken from its text (no model, nothing is pushed: it is old mail). Every
message gets a line in the report; malformed ones are kept as far as they
can be read and marked. Importing the same files again adds nothing.")]
    Import {
        /// Files or directories
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// One JSON line per message instead of the text report
        #[arg(long)]
        json: bool,
    },

    /// List kept mail, newest first (archived mail left out)
    #[command(after_help = "\
Examples:
  openzero mail list
  openzero mail list --urgent --since 2026-11-01
  openzero mail list --search \"school trip\" --json")]
    List {
        /// Only mail a rule made urgent
        #[arg(long)]
        urgent: bool,
        /// Only mail since this date (YYYY-MM-DD in your time zone, or RFC 3339)
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
        /// Words that must all appear (sender, subject, summary or text)
        #[arg(long, value_name = "WORDS")]
        search: Option<String>,
        /// Include archived mail
        #[arg(long)]
        all: bool,
        /// Most messages to list
        #[arg(short = 'n', long, default_value_t = 20)]
        limit: i64,
        /// Print as JSON (id, from, subject, date, summary, urgent, rule, ...)
        #[arg(long)]
        json: bool,
    },

    /// Show one message: headers, summary, rule, attachments and text
    #[command(after_help = "Examples:\n  openzero mail show 42\n  openzero mail show 42 --json")]
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },

    /// Read the configured mailboxes now (what the watcher in serve does)
    #[command(after_help = "\
Examples:
  openzero mail sync

Reads new messages from mail.imap_host (EMAIL_IMAP_HOST) with EXAMINE and
BODY.PEEK only, and from Gmail when connected (GET requests with the
gmail.readonly scope only): nothing in a mailbox changes, not even the
Seen flag.")]
    Sync,

    /// Let OpenZero read Gmail (its API) or an IMAP mailbox (OAuth 2.0): in your browser
    #[command(after_help = "\
Examples:
  GOOGLE_CLIENT_ID=1234-abc.apps.googleusercontent.com GOOGLE_CLIENT_SECRET=GOCSPX-... openzero mail connect gmail
  openzero mail connect imap            with mail.imap_oauth_auth_url, _token_url and _client_id set

imap: for providers that want OAuth 2.0 instead of an app password
(Microsoft 365, Gmail over IMAP): the refresh token goes to
DATA_DIR/imap-oauth-token.json and EMAIL_IMAP_AUTH=xoauth2 uses it.

gmail: Needs your own Google OAuth client of type \"Desktop app\" (Google Cloud
console → APIs & Services → Credentials; enable the Gmail API). Prints an
address to open; after you allow read-only access Google sends the browser
back to a listener on 127.0.0.1. On a server without a browser, open the
address on any machine and paste the address the browser ends on (it
fails to load; that is expected) into this command. The refresh token is
kept in DATA_DIR/gmail-token.json, readable by you only. Only the
gmail.readonly scope is asked for.")]
    Connect {
        /// gmail or imap
        provider: String,
    },

    /// Forget the Gmail connection (deletes the stored refresh token)
    #[command(
        after_help = "Examples:\n  openzero mail disconnect gmail\n\nAlso remove OpenZero at myaccount.google.com/permissions to revoke it at Google."
    )]
    Disconnect {
        /// gmail
        provider: String,
    },

    /// The rules that decide what happens to each message
    #[command(
        subcommand,
        after_help = "\
Examples:
  openzero mail rules list
  openzero mail rules add '*@news.*' --match glob --action archive
  openzero mail rules test message.eml
  openzero mail rules confirm 7         a rule Z proposed in chat"
    )]
    Rules(MailRulesCommand),
}

#[derive(Debug, Subcommand)]
pub enum MailRulesCommand {
    /// List the rules in the order they are tried
    #[command(
        after_help = "Examples:\n  openzero mail rules list\n  openzero mail rules list --json"
    )]
    List {
        #[arg(long)]
        json: bool,
    },

    /// Add a rule: sender pattern, optional subject pattern, action
    #[command(after_help = "\
Examples:
  openzero mail rules add school.org --action urgent --subject trip
  openzero mail rules add '*@news.*' --match glob --action archive
  openzero mail rules add '@(bank|card)\\.com>?$' --match regex --subject 'fraud|declined' --action urgent
  openzero mail rules add boss@work.org --action urgent --position 1

The sender pattern is matched against the whole From header (\"Name
<address>\") and against the bare address; all matching ignores case. The
first rule that matches decides; mail no rule matches gets
mail.default_action (summarize).")]
    Add {
        /// Sender pattern
        sender: String,
        /// Subject pattern (all subjects when not given)
        #[arg(long)]
        subject: Option<String>,
        /// urgent, summarize or archive
        #[arg(long)]
        action: String,
        /// substring, glob or regex
        #[arg(long = "match", default_value = "substring")]
        kind: String,
        /// Where it goes in the order (1: first) [default: last]
        #[arg(long)]
        position: Option<i64>,
    },

    /// Remove a rule (or drop a proposal) by id
    #[command(after_help = "Examples:\n  openzero mail rules remove 3")]
    Remove { id: i64 },

    /// Put a rule Z proposed in chat in force
    #[command(
        after_help = "Examples:\n  openzero mail rules list     proposals are listed after the rules\n  openzero mail rules confirm 7"
    )]
    Confirm { id: i64 },

    /// Show what the rules would do with a message file
    #[command(after_help = "Examples:\n  openzero mail rules test message.eml")]
    Test { file: PathBuf },
}
