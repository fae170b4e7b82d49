//! Mail use cases: the one pipeline every source feeds (IMAP, Gmail, local
//! archives): parse → the owner's rules → a one-line summary → stored with
//! the source's watermark in one transaction → what the message owes the
//! owner (an urgent notification, a memory) delivered once.
//!
//! **Invariants:** mail text reaches a model only quoted as untrusted data
//! (`core::mail::quote_untrusted`) and only a model on this machine
//! summarises mail (never a cloud one); an urgent notification is queued
//! under the message's key, so re-delivery after a crash is harmless.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use openzero_core::llm::{ChatRequest, Locality};
use openzero_core::mail::{self as domain, Action, Rules};
use openzero_mail::import::{self, Found};
use openzero_store::mail::{MailQuery, MailRow, NewMail, NewRule, Watermark};

use crate::memory::AddMemory;
use crate::{AppError, Services};

/// The account name local imports are kept under.
pub const IMPORT_ACCOUNT: &str = "import";

/// How long the local model may take for one summary.
const SUMMARY_TIMEOUT: Duration = Duration::from_secs(60);

/// A raw message from a source.
#[derive(Debug, Clone)]
pub struct Raw {
    pub account: String,
    pub folder: String,
    pub uid: Option<i64>,
    pub bytes: Vec<u8>,
}

/// How new messages are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Mail arriving now: summarised by the local model (checked;
    /// extractive when it fails or invents), urgent mail pushed, summaries
    /// offered to memory.
    Live,
    /// Mail that was there before OpenZero looked (an archive, a mailbox's
    /// first sync): extractive summaries, nothing pushed or remembered —
    /// except messages dated at or after `live_since`, treated as live.
    Backfill {
        live_since: Option<chrono::DateTime<chrono::Utc>>,
    },
}

impl Mode {
    fn live_for(self, date: Option<chrono::DateTime<chrono::Utc>>) -> bool {
        match self {
            Mode::Live => true,
            Mode::Backfill { live_since } => match (live_since, date) {
                (Some(since), Some(d)) => d >= since,
                _ => false,
            },
        }
    }
}

/// What happened to one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The stored id (none: already kept before).
    pub id: Option<i64>,
    pub key: String,
    pub from: String,
    pub subject: String,
    pub action: Action,
    pub rule: Option<String>,
    pub problems: Vec<String>,
}

/// Mail use cases over the process's services.
#[derive(Debug, Clone)]
pub struct MailService {
    services: Arc<Services>,
}

impl MailService {
    pub fn new(services: Arc<Services>) -> Self {
        Self { services }
    }

    /// The owner's rules, compiled, with the configured default action.
    pub async fn rules(&self) -> Result<Rules, AppError> {
        let default = Action::parse(&self.services.loaded.settings.mail.default_action)
            .map_err(|e| AppError::Invalid(format!("mail.default_action: {e}")))?;
        let rules = self.services.store.mail_rules().await?;
        // A stored rule was validated when added; one that no longer
        // compiles (a regex engine change) is reported, not fatal.
        Rules::new(rules, default).map_err(|e| AppError::Invalid(format!("a mail rule: {e}")))
    }

    /// Puts a rule Z proposed in force, on the owner's word (`by` says who
    /// and where, for the log). False when there is no such proposal.
    pub async fn confirm_rule(&self, id: i64, by: &str) -> Result<Option<domain::Rule>, AppError> {
        if !self.services.store.mail_rule_confirm(id).await? {
            return Ok(None);
        }
        let rule = self
            .services
            .store
            .mail_rules()
            .await?
            .into_iter()
            .find(|r| r.id == id);
        if let Some(r) = &rule {
            tracing::info!(rule = %r.label(), by, "mail rule confirmed by the owner");
        }
        Ok(rule)
    }

    /// Proposals made since `since`, to show the owner with buttons.
    pub async fn proposals_since(
        &self,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<domain::Rule>, AppError> {
        Ok(self
            .services
            .store
            .mail_rules_proposed()
            .await?
            .into_iter()
            .filter(|(_, at)| *at >= since)
            .map(|(r, _)| r)
            .collect())
    }

    /// Adds a rule after checking its patterns.
    pub async fn add_rule(&self, r: NewRule) -> Result<domain::Rule, AppError> {
        domain::validate(&r.sender, r.subject.as_deref(), r.kind)
            .map_err(|e| AppError::Invalid(e.to_string()))?;
        Ok(self.services.store.mail_rule_add(&r).await?)
    }

    /// Parses and decides one message, and summarises it when its action
    /// asks for one (not when its key is in `known`: it will not be kept
    /// again).
    pub async fn prepare(
        &self,
        rules: &Rules,
        raw: &Raw,
        mode: Mode,
        known: &std::collections::HashSet<String>,
    ) -> (NewMail, Outcome) {
        let p = openzero_mail::parse(&raw.bytes);
        self.prepare_parsed(rules, raw, p, mode, known).await
    }

    async fn prepare_parsed(
        &self,
        rules: &Rules,
        raw: &Raw,
        p: openzero_mail::Parsed,
        mode: Mode,
        known: &std::collections::HashSet<String>,
    ) -> (NewMail, Outcome) {
        let decision = rules.decide(&p.from, &p.subject);
        let live = mode.live_for(p.date) && !known.contains(&p.key);
        let summary = match decision.action {
            Action::Archive => None,
            _ if known.contains(&p.key) => None,
            _ => Some(self.summarize(&p, live).await),
        };
        let attachments = serde_json::to_string(&p.attachments).unwrap_or_else(|_| "[]".into());
        let rule = decision.rule.as_ref().map(domain::Rule::label);
        let new = NewMail {
            account: raw.account.clone(),
            folder: raw.folder.clone(),
            uid: raw.uid,
            key: p.key.clone(),
            from: p.from.clone(),
            to: p.to.clone(),
            subject: p.subject.clone(),
            date: p.date,
            body: p.text.clone(),
            attachments,
            problems: p.problems.join("\n"),
            action: decision.action,
            rule_id: decision.rule.as_ref().map(|r| r.id),
            rule: rule.clone(),
            summary,
            pending: live && decision.action != Action::Archive,
        };
        let outcome = Outcome {
            id: None,
            key: p.key,
            from: p.from,
            subject: p.subject,
            action: decision.action,
            rule,
            problems: p.problems,
        };
        (new, outcome)
    }

    async fn summarize(&self, p: &openzero_mail::Parsed, with_model: bool) -> String {
        let fallback = || domain::extractive_summary(&p.subject, &p.text);
        if !with_model || p.text.trim().is_empty() {
            return fallback();
        }
        let model = match self.services.chat_model().await {
            Ok(m) if m.info().locality == Locality::Local => m,
            Ok(_) => return fallback(), // mail never goes to a cloud model
            Err(e) => {
                tracing::debug!(error = %e, "mail summary: no local model, extractive");
                return fallback();
            }
        };
        let req = ChatRequest {
            messages: domain::summary_prompt(&p.from, &p.subject, &p.text),
            max_tokens: 80,
            temperature: 0.0,
            tools: Vec::new(),
        };
        let source = format!("{}\n{}\n{}", p.from, p.subject, p.text);
        match tokio::time::timeout(SUMMARY_TIMEOUT, model.chat(req, None)).await {
            Ok(Ok(r)) => match domain::check_summary(&source, &r.text) {
                Ok(s) => s,
                Err(why) => {
                    tracing::info!(%why, "mail summary: the model's was refused, extractive");
                    fallback()
                }
            },
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "mail summary: the model failed, extractive");
                fallback()
            }
            Err(_) => {
                tracing::warn!("mail summary: the model took too long, extractive");
                fallback()
            }
        }
    }

    /// Keeps a batch from one source and moves its watermark, in one
    /// transaction, then delivers what the new messages owe.
    pub async fn ingest(
        &self,
        raws: &[Raw],
        mark: Option<(&str, &str, Watermark)>,
        mode: Mode,
    ) -> Result<Vec<Outcome>, AppError> {
        let rules = self.rules().await?;
        let parsed: Vec<openzero_mail::Parsed> = raws
            .iter()
            .map(|r| openzero_mail::parse(&r.bytes))
            .collect();
        let known = self.known(raws, &parsed).await?;
        let mut batch = Vec::with_capacity(raws.len());
        let mut outcomes = Vec::with_capacity(raws.len());
        for (raw, p) in raws.iter().zip(parsed) {
            let (new, outcome) = self.prepare_parsed(&rules, raw, p, mode, &known).await;
            batch.push(new);
            outcomes.push(outcome);
        }
        let ids = self.services.store.mail_ingest(&batch, mark).await?;
        assign_ids(&mut outcomes, &ids);
        if batch.iter().any(|m| m.pending) {
            self.deliver_pending().await?;
        }
        Ok(outcomes)
    }

    /// The keys of `parsed` already kept (per account).
    async fn known(
        &self,
        raws: &[Raw],
        parsed: &[openzero_mail::Parsed],
    ) -> Result<std::collections::HashSet<String>, AppError> {
        let mut by_account: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
        for (r, p) in raws.iter().zip(parsed) {
            by_account
                .entry(r.account.as_str())
                .or_default()
                .push(p.key.clone());
        }
        let mut known = std::collections::HashSet::new();
        for (account, keys) in by_account {
            known.extend(self.services.store.mail_known(account, &keys).await?);
        }
        Ok(known)
    }

    /// Delivers what stored messages still owe the owner: an urgent one is
    /// pushed on every channel (once: under its key), a summarised one is
    /// offered to semantic memory (`source = email`). Returns how many
    /// were delivered. Run after every ingest and at start-up (a crash may
    /// have left some).
    pub async fn deliver_pending(&self) -> Result<usize, AppError> {
        let mut done = 0;
        loop {
            let pending = self.services.store.mail_pending(50).await?;
            if pending.is_empty() {
                return Ok(done);
            }
            let memory = self.services.memory().await;
            for m in &pending {
                if m.action == Action::Urgent {
                    self.services
                        .notify_once(&format!("mail:{}:{}", m.account, m.key), &urgent_text(m))
                        .await?;
                }
                if let Some(summary) = &m.summary {
                    let added = memory
                        .add(AddMemory {
                            text: memory_text(&m.from, &m.subject, summary),
                            created_at: m.date,
                            source: Some("email".into()),
                            external_id: Some(format!("mail:{}:{}", m.account, m.key)),
                            metadata: Some(serde_json::json!({"mail_id": m.id}).to_string()),
                        })
                        .await;
                    if let Err(e) = added {
                        // Memory is a bonus; the mail itself is kept and
                        // listed. Leave it pending only if the store failed.
                        if matches!(e, AppError::Store(_)) {
                            return Err(e);
                        }
                        tracing::warn!(error = %e, mail = m.id, "mail summary not remembered");
                    }
                }
                self.services.store.mail_delivered(m.id).await?;
                done += 1;
            }
        }
    }

    /// Imports local archives (`.eml`, Maildir, mbox) under `paths`: rules
    /// applied, extractive summaries offered to memory in batches, nothing
    /// pushed (it is old mail).
    /// `progress` is told each message as it is handled.
    pub async fn import(
        &self,
        paths: &[PathBuf],
        progress: &(dyn Fn(&ImportLine) + Sync),
    ) -> Result<ImportReport, AppError> {
        let rules = self.rules().await?;
        // Imported keys already kept are found by the store's conflict
        // check; summaries are extractive and cheap, so no lookup first.
        let none = std::collections::HashSet::new();
        let mut report = ImportReport::default();
        let mut batch: Vec<(String, NewMail, Outcome)> = Vec::new();
        let files = paths.to_vec();
        // Reading files is blocking work: walk on a blocking thread and
        // hand messages over a small channel.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Found>(64);
        let walker = tokio::task::spawn_blocking(move || {
            for found in import::walk(&files) {
                if tx.blocking_send(found).is_err() {
                    break;
                }
            }
        });
        while let Some(found) = rx.recv().await {
            match found {
                Found::Skipped { label, reason } => {
                    let line = ImportLine {
                        label,
                        outcome: Err(reason),
                    };
                    progress(&line);
                    report.lines.push(line);
                }
                Found::Message { label, raw } => {
                    let parsed = openzero_mail::parse(&raw);
                    if !parsed.looks_like_mail() {
                        let line = ImportLine {
                            label,
                            outcome: Err("not a mail message (no mail header in it)".into()),
                        };
                        progress(&line);
                        report.lines.push(line);
                        continue;
                    }
                    let raw = Raw {
                        account: IMPORT_ACCOUNT.into(),
                        folder: "import".into(),
                        uid: None,
                        bytes: raw,
                    };
                    let (new, outcome) = self
                        .prepare_parsed(
                            &rules,
                            &raw,
                            parsed,
                            Mode::Backfill { live_since: None },
                            &none,
                        )
                        .await;
                    batch.push((label, new, outcome));
                    if batch.len() >= 200 {
                        self.flush(&mut batch, &mut report, progress).await?;
                    }
                }
            }
        }
        self.flush(&mut batch, &mut report, progress).await?;
        walker
            .await
            .map_err(|e| AppError::Invalid(format!("reading the archive stopped: {e}")))?;
        Ok(report)
    }

    async fn flush(
        &self,
        batch: &mut Vec<(String, NewMail, Outcome)>,
        report: &mut ImportReport,
        progress: &(dyn Fn(&ImportLine) + Sync),
    ) -> Result<(), AppError> {
        if batch.is_empty() {
            return Ok(());
        }
        let news: Vec<NewMail> = batch.iter().map(|(_, n, _)| n.clone()).collect();
        let ids = self.services.store.mail_ingest(&news, None).await?;
        let mut outcomes: Vec<Outcome> = batch.iter().map(|(_, _, o)| o.clone()).collect();
        assign_ids(&mut outcomes, &ids);
        // The summaries of newly kept mail go to semantic memory too (in
        // batches, never one model call per message), so "what did the
        // school write about the trip?" finds archived mail as well.
        let remember: Vec<AddMemory> = news
            .iter()
            .zip(&ids)
            .filter(|(_, id)| id.is_some())
            .filter_map(|(n, _)| {
                n.summary.as_ref().map(|s| AddMemory {
                    text: memory_text(&n.from, &n.subject, s),
                    created_at: n.date,
                    source: Some("email".into()),
                    external_id: Some(format!("mail:{}:{}", n.account, n.key)),
                    metadata: None,
                })
            })
            .collect();
        if !remember.is_empty() {
            self.services.memory().await.add_many(&remember).await?;
        }
        for ((label, _, _), outcome) in batch.drain(..).zip(outcomes) {
            let line = ImportLine {
                label,
                outcome: Ok(outcome),
            };
            progress(&line);
            report.lines.push(line);
        }
        Ok(())
    }

    /// The daily briefing's *Mail* section: urgent mail first, then the
    /// summaries of the last three days, each message in one briefing only.
    /// Returns the lines and the item keys to record on delivery.
    pub async fn briefing_lines(&self) -> Result<(Vec<String>, Vec<String>), AppError> {
        const MOST: usize = 8;
        let q = MailQuery {
            since: Some(openzero_store::now() - chrono::Duration::days(3)),
            limit: 200,
            ..Default::default()
        };
        let rows = self.services.store.mail_list(&q).await?;
        let keys: Vec<String> = rows.iter().map(|m| format!("mail:{}", m.id)).collect();
        let delivered: std::collections::HashSet<String> = self
            .services
            .store
            .delivered_items(&keys)
            .await?
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        // An imported message without a Date header is as old as anything
        // in the archive, not "received today": it stays out.
        let mut fresh: Vec<&MailRow> = rows
            .iter()
            .filter(|m| !(m.date.is_none() && m.account == IMPORT_ACCOUNT))
            .filter(|m| !delivered.contains(&format!("mail:{}", m.id)))
            .collect();
        // Urgent first; newest first within each (the listing's order).
        fresh.sort_by_key(|m| m.action != Action::Urgent);
        let mut lines: Vec<String> = fresh.iter().take(MOST).map(|m| briefing_line(m)).collect();
        if fresh.len() > MOST {
            lines.push(format!(
                "and {} more (openzero mail list, or /mail)",
                fresh.len() - MOST
            ));
        }
        // Only what the briefing shows is marked as told.
        let keys = fresh
            .iter()
            .take(MOST)
            .map(|m| format!("mail:{}", m.id))
            .collect();
        Ok((lines, keys))
    }

    /// What `/mail [words]` answers in a chat: the newest messages (or
    /// those matching the words), one line each, with their ids.
    pub async fn chat_list(&self, words: &str) -> Result<String, AppError> {
        let q = MailQuery {
            words: words.split_whitespace().map(str::to_owned).collect(),
            limit: 10,
            ..Default::default()
        };
        let rows = self.services.store.mail_list(&q).await?;
        if rows.is_empty() {
            return Ok(if words.trim().is_empty() {
                "No mail yet. Set EMAIL_IMAP_HOST (and user, password) or run `openzero mail import PATH`.".into()
            } else {
                format!("No mail matches “{}”.", words.trim())
            });
        }
        let tz = self.services.tz();
        let mut out = String::new();
        for m in &rows {
            let date = m.date.map_or_else(String::new, |d| {
                d.with_timezone(&tz).format("%d %b %H:%M ").to_string()
            });
            out.push_str(&format!("#{} {date}{}\n", m.id, briefing_line(m)));
        }
        Ok(out.trim_end().to_owned())
    }

    /// What `/rules` answers: the rules in order and the default.
    pub async fn chat_rules(&self) -> Result<String, AppError> {
        let rules = self.services.store.mail_rules().await?;
        let default = &self.services.loaded.settings.mail.default_action;
        if rules.is_empty() {
            return Ok(format!(
                "No mail rules: every message gets “{default}”. Add one with `openzero mail rules add SENDER --action urgent`."
            ));
        }
        let mut out: Vec<String> = rules.iter().map(domain::Rule::label).collect();
        out.push(format!("Otherwise: {default}."));
        Ok(out.join("\n"))
    }

    /// Mail matching `q`, newest first.
    pub async fn list(&self, q: &MailQuery) -> Result<Vec<MailRow>, AppError> {
        Ok(self.services.store.mail_list(q).await?)
    }

    /// One kept message.
    pub async fn get(&self, id: i64) -> Result<Option<MailRow>, AppError> {
        Ok(self.services.store.mail_get(id).await?)
    }
}

fn assign_ids(outcomes: &mut [Outcome], ids: &[Option<i64>]) {
    for (o, id) in outcomes.iter_mut().zip(ids) {
        o.id = *id;
    }
}

/// The text of an urgent notification: sender, subject, the summary and
/// the rule that made it urgent.
pub fn urgent_text(m: &MailRow) -> String {
    let mut t = format!("📧 Urgent mail from {}\n{}", m.from, m.subject);
    if let Some(s) = &m.summary {
        t.push_str(&format!("\n{s}"));
    }
    match &m.rule {
        Some(r) => t.push_str(&format!("\n(rule {r})")),
        None => t.push_str("\n(default action: urgent)"),
    }
    t
}

/// How a message is remembered.
fn memory_text(from: &str, subject: &str, summary: &str) -> String {
    format!("Email from {from}: {subject} — {summary}")
}

/// Who sent it, in a few words: the display name, else the address.
pub fn sender_name(from: &str) -> &str {
    let name = from
        .split('<')
        .next()
        .unwrap_or("")
        .trim()
        .trim_matches('"');
    if name.is_empty() {
        domain::address(from).unwrap_or(from)
    } else {
        name
    }
}

/// A message in one line: sender, subject and summary.
pub fn briefing_line(m: &MailRow) -> String {
    let sender = match sender_name(&m.from) {
        "" => "(unknown sender)",
        s => s,
    };
    let subject = if m.subject.is_empty() {
        "(no subject)"
    } else {
        &m.subject
    };
    let mut line = format!("{sender}: {subject}");
    if let Some(s) = m.summary.as_deref().filter(|s| *s != m.subject) {
        line.push_str(&format!(" — {s}"));
    }
    let line = domain::shorten(&line, 220);
    if m.action == Action::Urgent {
        format!("Urgent: {line}")
    } else {
        line
    }
}

/// One line of an import report.
#[derive(Debug, Clone)]
pub struct ImportLine {
    pub label: String,
    /// What was kept, or why the file was skipped.
    pub outcome: Result<Outcome, String>,
}

/// What an import did, message by message.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    pub lines: Vec<ImportLine>,
}

impl ImportReport {
    /// (new, already kept, with problems, skipped)
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let mut c = (0, 0, 0, 0);
        for l in &self.lines {
            match &l.outcome {
                Ok(o) => {
                    if o.id.is_some() {
                        c.0 += 1;
                    } else {
                        c.1 += 1;
                    }
                    if !o.problems.is_empty() {
                        c.2 += 1;
                    }
                }
                Err(_) => c.3 += 1,
            }
        }
        c
    }
}

/// The morning briefing's *Mail* (what is worth knowing, each mail told
/// once).
pub async fn briefing_part(
    services: &Arc<Services>,
    kind: openzero_core::briefing::Kind,
    _now: chrono::DateTime<chrono_tz::Tz>,
) -> Result<crate::briefings::Part, AppError> {
    use openzero_core::briefing::{Kind, Place, Section};
    if kind != Kind::Daily {
        return Ok(crate::briefings::Part::default());
    }
    let (lines, items) = MailService::new(services.clone()).briefing_lines().await?;
    Ok(crate::briefings::Part {
        sections: vec![Section::new("Mail", lines, Place::Lead, 20)],
        items,
    })
}
