//! `openzero bench mail`: parse + rules + store throughput beside Python's
//! standard `email` parser on the same files; with a mailbox configured,
//! the cost of polling it unchanged and, given its Maildir, the time from
//! delivery to the message kept and its notification queued (IDLE).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use openzero_config::Loaded;
use openzero_mail::imap::Mailbox;
use openzero_mail::import::{Found, walk};
use openzero_store::Store;

use crate::bench::{Report, fig, machine};
use crate::mail::{MailService, Mode, Raw};
use crate::{AppError, Services};

/// What to measure.
#[derive(Debug, Clone)]
pub struct Options {
    /// Files or directories of real-world mail.
    pub corpus: Vec<PathBuf>,
    /// Messages processed per side (the corpus is cycled).
    pub messages: usize,
    /// Python 3 for the baseline (none: not measured).
    pub python: Option<PathBuf>,
    /// Timed polls of the configured mailbox.
    pub polls: usize,
    /// The configured mailbox's Maildir `new/` parent, to deliver into for
    /// the IDLE latency (a local Dovecot).
    pub maildir: Option<PathBuf>,
    /// Scratch directory for the benchmark databases.
    pub work_dir: PathBuf,
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i.min(v.len() - 1)]
}

/// Runs the mail benchmarks over `loaded`'s settings (rules and the
/// mailbox come from there; nothing is written to the owner's data).
pub async fn mail(
    loaded: &Loaded,
    opts: &Options,
    say: &(dyn Fn(&str) + Sync),
) -> Result<Report, AppError> {
    let mut report = Report {
        figures: Vec::new(),
        notes: vec![machine()],
    };
    let mut files = Vec::new();
    let corpus: Vec<Vec<u8>> = walk(&opts.corpus)
        .filter_map(|f| match f {
            Found::Message { raw, label } if openzero_mail::parse(&raw).looks_like_mail() => {
                files.push(label);
                Some(raw)
            }
            _ => None,
        })
        .collect();
    if corpus.is_empty() {
        return Err(AppError::Invalid(
            "no mail in the corpus: give --corpus with .eml/Maildir/mbox files".into(),
        ));
    }
    let n = opts.messages.max(corpus.len());
    let bytes: usize = corpus.iter().map(Vec::len).sum();
    report.notes.push(format!(
        "corpus: {} messages ({} KB), cycled to {n} per side",
        corpus.len(),
        bytes / 1000
    ));

    // Parse alone.
    say("parsing");
    let started = Instant::now();
    let mut chars = 0usize;
    for i in 0..n {
        chars += openzero_mail::parse(&corpus[i % corpus.len()]).text.len();
    }
    let parse_rate = n as f64 / started.elapsed().as_secs_f64();
    std::hint::black_box(chars);

    // Parse + rules + store, in batches as a sync keeps them, each pass
    // into a fresh database (so no message is skipped as already kept).
    say("parse + rules + store");
    let mut stored = 0usize;
    let mut elapsed = Duration::ZERO;
    let mut pass = 0;
    while stored < n {
        let dir = opts.work_dir.join(format!("mail-bench-{pass}"));
        std::fs::create_dir_all(&dir).map_err(|e| AppError::Invalid(e.to_string()))?;
        let store: Arc<dyn Store> =
            Arc::new(openzero_store_sqlite::SqliteStore::open(&dir.join("bench.db")).await?);
        let services = Arc::new(Services::new(loaded.clone(), store.clone(), Vec::new()));
        let mail = MailService::new(services);
        let take = (n - stored).min(corpus.len());
        let raws: Vec<Raw> = corpus[..take]
            .iter()
            .map(|b| Raw {
                account: "bench".into(),
                folder: "INBOX".into(),
                uid: None,
                bytes: b.clone(),
            })
            .collect();
        let started = Instant::now();
        for chunk in raws.chunks(50) {
            mail.ingest(chunk, None, Mode::Backfill { live_since: None })
                .await?;
        }
        elapsed += started.elapsed();
        stored += take;
        store.close().await;
        pass += 1;
    }
    let pipeline_rate = stored as f64 / elapsed.as_secs_f64();

    let python = match &opts.python {
        Some(py) => {
            say("Python email parser");
            match python_rate(py, &files, n, &opts.work_dir) {
                Ok(r) => Some(r),
                Err(e) => {
                    report
                        .notes
                        .push(format!("Python baseline not measured: {e}"));
                    None
                }
            }
        }
        None => {
            report
                .notes
                .push("Python baseline not measured (give --python)".into());
            None
        }
    };
    let mut f = fig("mail", "parse", "msg/s", parse_rate, true);
    f.baseline = python;
    f.baseline_name = "Python email, parse".into();
    report.figures.push(f);
    let mut f = fig(
        "mail",
        "parse + rules + store (SQLite, extractive summary)",
        "msg/s",
        pipeline_rate,
        true,
    );
    f.baseline = python;
    f.baseline_name = "Python email, parse alone".into();
    report.figures.push(f);

    // The configured mailbox.
    match crate::mail_sync::imap_config(loaded) {
        None => report
            .notes
            .push("no mailbox configured (EMAIL_IMAP_*): poll and IDLE not measured".into()),
        Some(Err(e)) => report.notes.push(format!("mailbox: {e}")),
        Some(Ok(cfg)) => {
            let store: Arc<dyn Store> = Arc::new(
                openzero_store_sqlite::SqliteStore::open(&opts.work_dir.join("imap.db")).await?,
            );
            let services = Arc::new(Services::new(loaded.clone(), store.clone(), Vec::new()));
            let mail = MailService::new(services.clone());
            let account = crate::mail_sync::account_name(&cfg);
            say("first sync of the mailbox");
            let mut mb = Mailbox::connect(&cfg)
                .await
                .map_err(|e| AppError::Invalid(e.to_string()))?;
            let started = Instant::now();
            let first =
                crate::mail_sync::sync_folder(&services, &mail, &account, "INBOX", &mut mb).await?;
            let exists = mb
                .examine("INBOX")
                .await
                .map_err(|e| AppError::Invalid(e.to_string()))?
                .exists;
            report.notes.push(format!(
                "mailbox INBOX: {exists} messages; first sync read {} in {:.1} s",
                first.new,
                started.elapsed().as_secs_f64()
            ));
            say("polling the unchanged mailbox");
            let mut times = Vec::new();
            for _ in 0..opts.polls.max(1) {
                let t = Instant::now();
                crate::mail_sync::sync_folder(&services, &mail, &account, "INBOX", &mut mb).await?;
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            let p50 = percentile(&mut times, 0.5);
            let p99 = percentile(&mut times, 0.99);
            report.figures.push(fig(
                "mail",
                &format!("poll of an unchanged {exists}-message mailbox, p50"),
                "ms",
                p50,
                false,
            ));
            report.figures.push(fig(
                "mail",
                &format!("poll of an unchanged {exists}-message mailbox, p99"),
                "ms",
                p99,
                false,
            ));
            if let Some(maildir) = &opts.maildir {
                say("IDLE: delivery to kept and queued");
                let secs = idle_latency(&services, &mail, &account, mb, maildir).await?;
                report.figures.push(fig(
                    "mail",
                    "new mail → kept and notification queued (IDLE)",
                    "s",
                    secs,
                    false,
                ));
            } else {
                mb.logout().await;
                report
                    .notes
                    .push("IDLE latency not measured (give --maildir of the mailbox)".into());
            }
            store.close().await;
        }
    }
    Ok(report)
}

/// Delivers one message into `maildir/new` while in IDLE and times it
/// until kept with its push queued.
async fn idle_latency(
    services: &Services,
    mail: &MailService,
    account: &str,
    mut mb: Mailbox,
    maildir: &Path,
) -> Result<f64, AppError> {
    let err = |e: openzero_mail::imap::ImapError| AppError::Invalid(e.to_string());
    mb.examine("INBOX").await.map_err(err)?;
    let id = format!("bench-{}", std::process::id());
    let bytes = format!(
        "From: Bench <bench@bench.example>\r\nSubject: IDLE bench\r\nDate: {}\r\nMessage-ID: <{id}@bench.example>\r\n\r\nTimed.\r\n",
        chrono::Utc::now().to_rfc2822()
    );
    let (tmp, new) = (maildir.join("tmp").join(&id), maildir.join("new").join(&id));
    let deliver = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let started = Instant::now();
        std::fs::write(&tmp, &bytes)?;
        std::fs::rename(&tmp, &new)?;
        Ok::<_, std::io::Error>(started)
    };
    let (idled, delivered) = tokio::join!(mb.idle(Duration::from_secs(30)), deliver);
    let started = delivered.map_err(|e| AppError::Invalid(format!("delivering: {e}")))?;
    let (mut mb, _) = idled.map_err(err)?;
    let r = crate::mail_sync::sync_folder(services, mail, account, "INBOX", &mut mb).await?;
    let secs = started.elapsed().as_secs_f64();
    mb.logout().await;
    if r.new != 1 {
        return Err(AppError::Invalid(format!(
            "IDLE bench: expected the one delivered message, read {}",
            r.new
        )));
    }
    Ok(secs)
}

/// Python's `email` parser (policy default: headers decoded, the body
/// located and decoded — the same work as ours) on the same files.
/// `files` are the labels of the messages ours read (`path#N` is a
/// message in an mbox: Python reads those files' messages with `mailbox`).
fn python_rate(py: &Path, files: &[String], n: usize, work: &Path) -> Result<f64, String> {
    let list = work.join("mail-bench-files.txt");
    std::fs::write(&list, files.join("\n")).map_err(|e| e.to_string())?;
    let script = r#"
import mailbox, sys, time
from email import policy
from email.parser import BytesParser
labels = [l for l in open(sys.argv[1]).read().splitlines() if l]
n = int(sys.argv[2])
raws, mboxes = [], set()
for label in labels:
    if '#' in label:
        path = label.rsplit('#', 1)[0]
        if path not in mboxes:
            mboxes.add(path)
            raws.extend(m.as_bytes() for m in mailbox.mbox(path))
    else:
        with open(label, 'rb') as fh:
            raws.append(fh.read())
parser = BytesParser(policy=policy.default)
def work(b):
    try:
        m = parser.parsebytes(b)
        m['from']; m['subject']; m['date']; m['message-id']
        body = m.get_body(('plain', 'html'))
        if body is not None:
            body.get_content()
        for a in m.iter_attachments():
            a.get_filename()
    except Exception:
        pass
t = time.perf_counter()
for i in range(n):
    work(raws[i % len(raws)])
print(n / (time.perf_counter() - t))
"#;
    let out = std::process::Command::new(py)
        .args(["-c", script])
        .arg(&list)
        .arg(n.to_string())
        .output()
        .map_err(|e| format!("{}: {e}", py.display()))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
    }
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse::<f64>()
        .map_err(|e| e.to_string())
}
