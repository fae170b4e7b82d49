//! `openzero mail …`: import archives, list, show, sync, rules.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use openzero_app::Services;
use openzero_app::mail::{ImportLine, MailService, Mode, Raw};
use openzero_config::Loaded;
use openzero_core::mail::{Action, MatchKind};
use openzero_store::mail::{MailQuery, MailRow, NewRule};

use crate::cli::{MailCommand, MailRulesCommand};

pub async fn run(loaded: Loaded, cmd: MailCommand) -> Result<ExitCode> {
    let services = openzero_server::services(loaded).await?;
    let result = command(&services, cmd).await;
    services.store.close().await;
    result
}

async fn command(services: &Arc<Services>, cmd: MailCommand) -> Result<ExitCode> {
    let mail = MailService::new(services.clone());
    let tz = services.tz();
    match cmd {
        MailCommand::Import { paths, json } => {
            let bar = (!json).then(|| {
                let b = indicatif::ProgressBar::new_spinner();
                b.set_message("importing mail");
                b
            });
            let print = |l: &ImportLine| {
                if json {
                    outln!("{}", import_json(l));
                } else if let Some(b) = &bar {
                    b.inc(1);
                    if let Some(line) = import_text(l) {
                        b.suspend(|| outln!("{line}"));
                    }
                }
            };
            let report = mail.import(&paths, &print).await?;
            if let Some(b) = &bar {
                b.finish_and_clear();
            }
            let (new, known, problems, skipped) = report.counts();
            if !json {
                outln!(
                    "Imported {new} new message{} ({known} already kept, {problems} with problems, {skipped} file{} skipped).",
                    if new == 1 { "" } else { "s" },
                    if skipped == 1 { "" } else { "s" },
                );
                if new > 0 {
                    outln!("See them with `openzero mail list`.");
                }
            }
        }
        MailCommand::List {
            urgent,
            since,
            search,
            all,
            limit,
            json,
        } => {
            let since = since
                .map(|s| crate::memory_cmd::parse_time(&s, tz, false, "--since"))
                .transpose()?;
            let q = MailQuery {
                urgent_only: urgent,
                since,
                words: search
                    .as_deref()
                    .map(|s| s.split_whitespace().map(str::to_owned).collect())
                    .unwrap_or_default(),
                include_archived: all,
                limit: limit.max(1),
            };
            let rows = mail.list(&q).await?;
            if json {
                let items: Vec<_> = rows.iter().map(|m| row_json(m, tz, false)).collect();
                outln!("{}", serde_json::to_string_pretty(&items)?);
            } else if rows.is_empty() {
                outln!(
                    "No mail kept yet{}. Import an archive with `openzero mail import PATH` or set EMAIL_IMAP_HOST.",
                    if q == (MailQuery {
                        limit: q.limit,
                        ..Default::default()
                    }) {
                        ""
                    } else {
                        " that matches"
                    }
                );
            } else {
                for m in &rows {
                    let date = m
                        .date
                        .map(|d| d.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string())
                        .unwrap_or_else(|| "(no date)       ".into());
                    let mark = match m.action {
                        Action::Urgent => "!",
                        Action::Archive => "a",
                        Action::Summarize => " ",
                    };
                    outln!("{:>5} {mark} {date}  {}", m.id, short(&m.from, 30));
                    outln!("        {}", short(&m.subject, 70));
                    if let Some(s) = &m.summary {
                        outln!("        {}", short(s, 100));
                    }
                }
            }
        }
        MailCommand::Show { id, json } => {
            let Some(m) = mail.get(id).await? else {
                bail!("no mail #{id}: see `openzero mail list`");
            };
            if json {
                outln!("{}", serde_json::to_string_pretty(&row_json(&m, tz, true))?);
            } else {
                outln!("#{}  {} / {}", m.id, m.account, m.folder);
                outln!("From:    {}", m.from);
                outln!("To:      {}", m.to);
                outln!("Subject: {}", m.subject);
                outln!(
                    "Date:    {}",
                    m.date.map_or_else(
                        || "(none)".into(),
                        |d| d.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string()
                    )
                );
                outln!(
                    "Action:  {}{}",
                    m.action,
                    m.rule
                        .as_deref()
                        .map_or_else(|| " (default)".to_owned(), |r| format!(" (rule {r})"))
                );
                if let Some(s) = &m.summary {
                    outln!("Summary: {s}");
                }
                let attachments: Vec<openzero_mail::Attachment> =
                    serde_json::from_str(&m.attachments).unwrap_or_default();
                for a in &attachments {
                    outln!("Attached: {} ({}, {} bytes)", a.name, a.mime, a.size);
                }
                for p in m.problems.lines() {
                    outln!("Problem: {p}");
                }
                outln!();
                outln!("{}", m.body);
            }
        }
        MailCommand::Sync => {
            let imap = !openzero_app::mail_sync::imap_accounts(&services.loaded).is_empty();
            let gmail = openzero_app::mail_gmail::gmail_client(&services.loaded);
            if !imap && gmail.is_none() {
                bail!(
                    "no mailbox configured: set EMAIL_IMAP_HOST, EMAIL_IMAP_USER and EMAIL_IMAP_PASSWORD, or run `openzero mail connect gmail`"
                );
            }
            let mut failed = Vec::new();
            if imap {
                let (reports, errors) = openzero_app::mail_sync::sync_once(services).await?;
                for report in reports {
                    outln!("{report}");
                }
                failed.extend(errors);
            }
            if let Some(g) = gmail {
                let synced = match g {
                    Ok((g, _)) => openzero_app::mail_gmail::sync(services, &g)
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e),
                };
                match synced {
                    Ok(report) => outln!("{report}"),
                    Err(e) => failed.push(format!("gmail: {e}")),
                }
            }
            if !failed.is_empty() {
                bail!("{}", failed.join("\n"));
            }
        }
        MailCommand::Connect { provider } => {
            let imap = provider.eq_ignore_ascii_case("imap");
            if !imap && !provider.eq_ignore_ascii_case("gmail") {
                bail!(
                    "'{provider}' cannot be connected: gmail (its API), or imap (OAuth 2.0 for EMAIL_IMAP_AUTH=xoauth2)"
                );
            }
            let pasted = crate::commands::pasted_line();
            let say = |s: &str| outln!("{s}");
            if imap {
                openzero_app::mail_sync::connect_imap(&services.loaded, &say, pasted).await?;
                outln!(
                    "Connected IMAP by OAuth 2.0 (token in {}). With EMAIL_IMAP_AUTH=xoauth2, `openzero mail sync` reads it now.",
                    services
                        .loaded
                        .data_dir
                        .join(openzero_app::mail_sync::IMAP_TOKEN_FILE)
                        .display()
                );
            } else {
                let email =
                    openzero_app::mail_gmail::connect(&services.loaded, &say, pasted).await?;
                outln!(
                    "Connected {email} (read-only). `openzero serve` reads it every mail.poll_secs; `openzero mail sync` reads it now."
                );
            }
        }
        MailCommand::Disconnect { provider } => {
            if !provider.eq_ignore_ascii_case("gmail") {
                bail!("'{provider}' is not connected: only gmail can be");
            }
            let path = services
                .loaded
                .data_dir
                .join(openzero_app::mail_gmail::TOKEN_FILE);
            match std::fs::remove_file(&path) {
                Ok(()) => outln!(
                    "Forgot the Gmail connection. Also remove OpenZero at myaccount.google.com/permissions to revoke it at Google."
                ),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    outln!("Gmail was not connected.")
                }
                Err(e) => bail!("cannot delete {}: {e}", path.display()),
            }
        }
        MailCommand::Rules(cmd) => rules(&mail, services, cmd).await?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn rules(mail: &MailService, services: &Services, cmd: MailRulesCommand) -> Result<()> {
    match cmd {
        MailRulesCommand::List { json } => {
            let rules = services.store.mail_rules().await?;
            if json {
                let items: Vec<_> = rules
                    .iter()
                    .map(|r| {
                        serde_json::json!({
                            "id": r.id, "position": r.position, "sender": r.sender,
                            "subject": r.subject, "match": r.kind.as_str(), "action": r.action.as_str(),
                        })
                    })
                    .collect();
                outln!("{}", serde_json::to_string_pretty(&items)?);
            } else if rules.is_empty() {
                outln!(
                    "No rules: every message gets the default action ({}). Add one with `openzero mail rules add SENDER --action urgent`.",
                    services.loaded.settings.mail.default_action
                );
            } else {
                for r in &rules {
                    outln!("{}", r.label());
                }
                outln!(
                    "Otherwise: {}.",
                    services.loaded.settings.mail.default_action
                );
            }
            if !json {
                for (r, _) in services.store.mail_rules_proposed().await? {
                    outln!(
                        "Proposed by Z, not in force: {} (`openzero mail rules confirm {}`)",
                        r.label(),
                        r.id
                    );
                }
            }
        }
        MailRulesCommand::Add {
            sender,
            subject,
            action,
            kind,
            position,
        } => {
            let rule = mail
                .add_rule(NewRule {
                    sender,
                    subject,
                    kind: MatchKind::parse(&kind)?,
                    action: Action::parse(&action)?,
                    position,
                })
                .await?;
            outln!("Added rule {}", rule.label());
        }
        MailRulesCommand::Confirm { id } => {
            match mail.confirm_rule(id, "owner (terminal)").await? {
                Some(r) => outln!("Added rule {}", r.label()),
                None => bail!("no proposal #{id}: see `openzero mail rules list`"),
            }
        }
        MailRulesCommand::Remove { id } => {
            if services.store.mail_rule_remove(id).await? {
                outln!("Removed rule #{id}.");
            } else {
                bail!("no rule #{id}: see `openzero mail rules list`");
            }
        }
        MailRulesCommand::Test { file } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let rules = mail.rules().await?;
            let raw = Raw {
                account: "test".into(),
                folder: "test".into(),
                uid: None,
                bytes,
            };
            let live = Mode::Backfill { live_since: None };
            let (new, outcome) = mail.prepare(&rules, &raw, live, &Default::default()).await;
            outln!("From:    {}", new.from);
            outln!("Subject: {}", new.subject);
            match &outcome.rule {
                Some(r) => outln!("Action:  {} (rule {r})", new.action),
                None => outln!("Action:  {} (no rule matched: the default)", new.action),
            }
            if let Some(s) = &new.summary {
                outln!("Summary: {s}");
            }
            for p in &outcome.problems {
                outln!("Problem: {p}");
            }
        }
    }
    Ok(())
}

fn short(s: &str, max: usize) -> String {
    openzero_core::mail::shorten(s, max)
}

fn row_json(m: &MailRow, tz: chrono_tz::Tz, full: bool) -> serde_json::Value {
    let mut v = serde_json::json!({
        "id": m.id,
        "account": m.account,
        "folder": m.folder,
        "from": m.from,
        "to": m.to,
        "subject": m.subject,
        "date": m.date.map(|d| d.with_timezone(&tz).to_rfc3339()),
        "summary": m.summary,
        "urgent": m.action == Action::Urgent,
        "action": m.action.as_str(),
        "rule": m.rule,
        "attachments": serde_json::from_str::<serde_json::Value>(&m.attachments).unwrap_or_default(),
        "problems": m.problems.lines().collect::<Vec<_>>(),
    });
    if full && let Some(o) = v.as_object_mut() {
        o.insert("text".into(), m.body.clone().into());
    }
    v
}

fn import_text(l: &ImportLine) -> Option<String> {
    match &l.outcome {
        Err(reason) => Some(format!("skipped {}: {reason}", l.label)),
        Ok(o) if !o.problems.is_empty() => Some(format!(
            "{} {}: {}",
            if o.id.is_some() { "kept" } else { "known" },
            l.label,
            o.problems.join("; ")
        )),
        Ok(_) => None,
    }
}

fn import_json(l: &ImportLine) -> serde_json::Value {
    match &l.outcome {
        Err(reason) => serde_json::json!({"file": l.label, "status": "skipped", "error": reason}),
        Ok(o) => serde_json::json!({
            "file": l.label,
            "status": if o.id.is_some() { "imported" } else { "already kept" },
            "id": o.id,
            "key": o.key,
            "from": o.from,
            "subject": o.subject,
            "action": o.action.as_str(),
            "rule": o.rule,
            "problems": o.problems,
        }),
    }
}
