//! `openzero news …`: the feeds the owner follows and their stories.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use openzero_app::news;
use openzero_config::Loaded;

#[derive(Debug, Subcommand)]
pub enum NewsCommand {
    /// Follow a feed (RSS, Atom or JSON Feed) and fetch it once
    #[command(after_help = "\
Examples:
  openzero news add https://www.theguardian.com/world/rss
  openzero news add hnrss.org/frontpage --tag tech

A feed that does not answer is kept and tried again later (`news feeds`
shows why).")]
    Add {
        url: String,
        /// A tag (the folder in OPML exports)
        #[arg(long)]
        tag: Option<String>,
    },
    /// Stop following a feed (by number, address or title); its items go too
    #[command(
        after_help = "Examples:\n  openzero news remove 3\n  openzero news remove https://example.org/feed.xml"
    )]
    Remove { feed: String },
    /// The followed feeds, with their last fetch and any error
    #[command(after_help = "Examples:\n  openzero news feeds\n  openzero news feeds --json")]
    Feeds {
        #[arg(long)]
        json: bool,
    },
    /// Stories from the feeds, newest first; the same story from several feeds once
    #[command(after_help = "\
Examples:
  openzero news list
  openzero news list --unread --ranked
  openzero news list --json

--json prints one object per story: feed (its sources, comma-separated),
sources, title, link, published (RFC 3339 or null), summary, ids, read,
starred, score. --ranked orders by what you care about (about-me.md, active
projects, what you opened or starred) instead of by date.")]
    List {
        /// Only stories not opened yet
        #[arg(long)]
        unread: bool,
        /// Most relevant first (loads the embedding model)
        #[arg(long)]
        ranked: bool,
        /// At most this many
        #[arg(long, default_value_t = 30)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Fetch the feeds now (those waiting after a failure too, with --all)
    #[command(
        after_help = "Examples:\n  openzero news fetch\n  openzero news fetch --all --json\n\nThen the most relevant new stories get a one-line summary of their article\nby the local model (never a cloud one); without one, the feed's first\nsentence stays."
    )]
    Fetch {
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Mark stories opened (they leave --unread) or starred (stories like them rank higher)
    #[command(after_help = "Examples:\n  openzero news mark 12 14\n  openzero news mark 12 --star")]
    Mark {
        ids: Vec<i64>,
        #[arg(long)]
        star: bool,
    },
    /// Follow every feed of an OPML file (folders become tags)
    #[command(
        name = "import-opml",
        after_help = "Examples:\n  openzero news import-opml ~/Downloads/subscriptions.opml\n  openzero news fetch"
    )]
    ImportOpml { file: PathBuf },
    /// Print the followed feeds as OPML 2.0
    #[command(
        name = "export-opml",
        after_help = "Examples:\n  openzero news export-opml > feeds.opml"
    )]
    ExportOpml,
}

pub async fn run(loaded: Loaded, cmd: NewsCommand) -> Result<ExitCode> {
    let services = openzero_server::services(loaded).await?;
    let result = command(&services, cmd).await;
    services.store.close().await;
    result
}

fn report_line(r: &news::FetchReport) -> String {
    match (&r.error, r.unchanged) {
        (Some(e), _) => format!(
            "{}: failed: {e}{}",
            r.feed,
            r.waiting_until
                .map(|t| format!(" (next try {})", t.format("%Y-%m-%d %H:%M UTC")))
                .unwrap_or_default()
        ),
        (None, true) => format!("{}: unchanged", r.feed),
        (None, false) if r.waiting_until.is_some() => format!("{}: waiting", r.feed),
        (None, false) => format!("{}: {} new", r.feed, r.new),
    }
}

async fn command(services: &openzero_app::Services, cmd: NewsCommand) -> Result<ExitCode> {
    match cmd {
        NewsCommand::Add { url, tag } => {
            let (feed, report) = news::add(services, &url, tag.as_deref()).await?;
            match &report.error {
                None => outln!(
                    "Following #{} {} — {} items",
                    feed.id,
                    feed.name(),
                    report.new
                ),
                Some(e) => outln!(
                    "Following #{} {} — the first fetch failed ({e}); it will be tried again",
                    feed.id,
                    feed.url
                ),
            }
        }
        NewsCommand::Remove { feed } => {
            let f = news::remove(services, &feed).await?;
            outln!("No longer following {}", f.name());
        }
        NewsCommand::Feeds { json } => {
            let feeds = services.store.news_feeds().await?;
            if json {
                for f in &feeds {
                    outln!("{}", serde_json::to_string(f)?);
                }
            } else if feeds.is_empty() {
                outln!(
                    "No feeds yet: `openzero news add URL` or `openzero news import-opml FILE`."
                );
            }
            if !json {
                let tz = services.tz();
                for f in &feeds {
                    let when = f.fetched_at.map_or_else(
                        || "never fetched".to_owned(),
                        |t| format!("fetched {}", t.with_timezone(&tz).format("%a %d %b %H:%M")),
                    );
                    let tag = f
                        .tag
                        .as_deref()
                        .map(|t| format!(" [{t}]"))
                        .unwrap_or_default();
                    let title = if f.title.is_empty() {
                        "(no title yet)"
                    } else {
                        &f.title
                    };
                    outln!("#{:<3} {title}{tag} — {} · {when}", f.id, f.url);
                    if let Some(e) = &f.last_error {
                        outln!("     failing ({} in a row): {e}", f.failures);
                    }
                }
            }
        }
        NewsCommand::List {
            unread,
            ranked,
            limit,
            json,
        } => {
            let mut stories = news::stories(services, None, unread, limit).await?;
            if ranked {
                stories = news::ranked(services, stories, openzero_app::clock::now()).await;
            }
            let tz = services.tz();
            for s in &stories {
                if json {
                    let v = serde_json::json!({
                        "feed": s.sources.join(", "),
                        "sources": s.sources,
                        "title": s.title,
                        "link": s.link,
                        "published": s.published.map(|p| p.with_timezone(&tz).to_rfc3339()),
                        "summary": s.summary,
                        "ids": s.ids,
                        "read": s.read,
                        "starred": s.starred,
                        "score": s.score,
                    });
                    outln!("{v}");
                } else {
                    let when = s
                        .published
                        .map(|p| p.with_timezone(&tz).format("%d %b %H:%M").to_string())
                        .unwrap_or_else(|| "       —    ".into());
                    outln!(
                        "#{:<4} {when}  {}{}",
                        s.ids[0],
                        news::line(s),
                        if s.starred { " ★" } else { "" }
                    );
                }
            }
            if stories.is_empty() && !json {
                outln!("No stories{}.", if unread { " unread" } else { "" });
            }
        }
        NewsCommand::Fetch { all, json } => {
            let reports = news::fetch(services, all).await?;
            if reports.is_empty() && !json {
                outln!("No feeds yet: `openzero news add URL`.");
            }
            for r in &reports {
                if json {
                    outln!("{}", serde_json::to_string(r)?);
                } else {
                    outln!("{}", report_line(r));
                }
            }
            if !reports.is_empty() {
                let n = news::summarize_top(services, news::SUMMARIES_PER_RUN).await?;
                if n > 0 && !json {
                    outln!("{n} articles summarised by the local model");
                }
            }
        }
        NewsCommand::Mark { ids, star } => {
            services.store.news_mark(&ids, !star, star).await?;
            outln!(
                "Marked {} {}",
                ids.len(),
                if star { "starred" } else { "read" }
            );
        }
        NewsCommand::ImportOpml { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let (added, had) = news::import_opml(services, &text).await?;
            outln!(
                "Following {added} new feeds ({had} followed already). Fetch them with `openzero news fetch`."
            );
        }
        NewsCommand::ExportOpml => {
            outln!("{}", news::export_opml(services).await?);
        }
    }
    Ok(ExitCode::SUCCESS)
}
