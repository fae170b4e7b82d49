//! The live log of this process, for the dashboard's Logs page: a tracing
//! layer (installed by `serve`) keeps the last lines and hands new ones to
//! whoever listens.
//!
//! **Invariants:** never blocks the code that logs (a full or absent
//! listener drops nothing from the other outputs and waits on nothing); the
//! lines are what the log already says, so they hold no secret the log
//! would not.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::broadcast;
use tracing::field::{Field, Visit};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;

/// Lines kept for a page opened later.
pub const KEEP: usize = 500;

/// One log line.
#[derive(Debug, Clone, Serialize)]
pub struct LogLine {
    /// Increasing per process: a page asks for the lines after the last it has.
    pub seq: u64,
    pub at: DateTime<Utc>,
    /// `ERROR`, `WARN`, `INFO`, `DEBUG` or `TRACE`.
    pub level: &'static str,
    pub target: String,
    /// The message, then the fields as `key=value`.
    pub text: String,
}

impl LogLine {
    /// 0 (error) to 4 (trace).
    pub fn severity(&self) -> u8 {
        severity(self.level)
    }
}

/// 0 (error) to 4 (trace); unknown words are `info`.
pub fn severity(level: &str) -> u8 {
    match level.to_ascii_uppercase().as_str() {
        "ERROR" => 0,
        "WARN" => 1,
        "DEBUG" => 3,
        "TRACE" => 4,
        _ => 2,
    }
}

/// Where the lines go.
#[derive(Debug)]
pub struct Hub {
    tx: broadcast::Sender<LogLine>,
    recent: Mutex<(u64, VecDeque<LogLine>)>,
}

/// The process's hub.
pub fn hub() -> &'static Hub {
    static HUB: OnceLock<Hub> = OnceLock::new();
    HUB.get_or_init(|| Hub {
        tx: broadcast::channel(1024).0,
        recent: Mutex::new((0, VecDeque::with_capacity(KEEP))),
    })
}

impl Hub {
    fn push(&self, level: &'static str, target: &str, text: String) {
        let Ok(mut recent) = self.recent.lock() else {
            return;
        };
        recent.0 += 1;
        let line = LogLine {
            seq: recent.0,
            at: Utc::now(),
            level,
            target: target.to_owned(),
            text,
        };
        if recent.1.len() == KEEP {
            recent.1.pop_front();
        }
        recent.1.push_back(line.clone());
        // Sent under the lock, so a listener's backlog and stream meet
        // without a gap or a repeat. No listener is fine.
        let _ = self.tx.send(line);
    }

    /// The kept lines after `after`, and a receiver for the lines after them.
    pub fn subscribe(&self, after: u64) -> (Vec<LogLine>, broadcast::Receiver<LogLine>) {
        match self.recent.lock() {
            Ok(recent) => (
                recent.1.iter().filter(|l| l.seq > after).cloned().collect(),
                self.tx.subscribe(),
            ),
            Err(_) => (Vec::new(), self.tx.subscribe()),
        }
    }
}

/// The layer `serve` adds to its subscriber.
#[derive(Debug, Clone, Copy, Default)]
pub struct LiveLayer;

struct Text(String);

impl Visit for Text {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.insert_str(0, value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0.insert_str(0, &format!("{value:?}"));
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for LiveLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut text = Text(String::new());
        event.record(&mut text);
        hub().push(meta.level().as_str(), meta.target(), text.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::prelude::*;

    #[test]
    fn events_become_lines_kept_and_streamed_in_order() {
        let (before, mut rx) = hub().subscribe(u64::MAX);
        assert!(before.is_empty());
        let subscriber = tracing_subscriber::registry().with(LiveLayer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(job = "daily-briefing", "job finished");
            tracing::warn!("disk <almost> full");
        });
        let a = rx.try_recv().unwrap();
        let b = rx.try_recv().unwrap();
        assert_eq!(
            (a.level, a.text.as_str()),
            ("INFO", "job finished job=daily-briefing")
        );
        assert_eq!((b.level, b.severity()), ("WARN", 1));
        assert_eq!(b.seq, a.seq + 1);
        let (kept, _) = hub().subscribe(a.seq);
        assert!(kept.iter().any(|l| l.text == "disk <almost> full"));
        assert!(kept.iter().all(|l| l.seq > a.seq));
    }
}
