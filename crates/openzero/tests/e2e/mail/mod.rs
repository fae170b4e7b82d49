//! Mail end to end: `imap` against a real Dovecot
//! (`scripts/dovecot-test-server`) — sync over TLS and STARTTLS, rules,
//! incremental by UID, a renumbered folder, proof that nothing in the
//! mailbox changed (files and flags byte-identical, no mailbox-changing
//! command in Dovecot's protocol log), urgent mail pushed by IDLE through
//! the fake Telegram once, a wrong password reported once; `archive` —
//! `mail import` of the public corpus, the briefing's Mail section, /mail
//! and /rules; `untrusted` — mail that gives instructions, and the
//! benchmark.

mod archive;
mod imap;
mod rules;
mod untrusted;
mod xoauth2;

use crate::common::{self, Oz};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The test Dovecot, or `None` (skip) outside CI when it is not running.
pub(super) struct Dovecot {
    port: String,
    pub(super) tls_port: String,
    pub(super) dir: PathBuf,
    pub(super) ca: String,
}

pub(super) fn dovecot() -> Option<Dovecot> {
    let var = |k: &str| std::env::var(k).ok();
    let Some(dir) = var("OPENZERO_TEST_IMAP_DIR") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "OPENZERO_TEST_IMAP_DIR is not set: the Dovecot tests must run in CI (use scripts/test)"
        );
        eprintln!("skipped: no test Dovecot (scripts/test starts one)");
        return None;
    };
    Some(Dovecot {
        port: var("OPENZERO_TEST_IMAP_PORT").unwrap(),
        tls_port: var("OPENZERO_TEST_IMAP_TLS_PORT").unwrap(),
        dir: PathBuf::from(dir),
        ca: var("OPENZERO_TEST_IMAP_CA").unwrap(),
    })
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/dovecot-test-server")
}

impl Dovecot {
    /// A fresh mailbox user for one test.
    pub(super) fn user(&self) -> String {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "u{}x{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let ok = std::process::Command::new("bash")
            .arg(script())
            .args(["adduser", &name, "pw-of-the-test"])
            .env("OZ_IMAP_DIR", &self.dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "adduser {name}");
        name
    }

    pub(super) fn maildir(&self, user: &str) -> PathBuf {
        self.dir.join("mail").join(user).join("Maildir")
    }

    /// Delivers a message the way an MTA does: written in tmp/, moved to new/.
    pub(super) fn deliver(&self, user: &str, name: &str, bytes: &[u8]) {
        let md = self.maildir(user);
        let tmp = md.join("tmp").join(name);
        std::fs::write(&tmp, bytes).unwrap();
        std::fs::rename(&tmp, md.join("new").join(name)).unwrap();
    }

    /// Every message file (its place, name with flags, and bytes).
    pub(super) fn snapshot(&self, user: &str) -> BTreeMap<PathBuf, Vec<u8>> {
        let md = self.maildir(user);
        let mut out = BTreeMap::new();
        for sub in ["new", "cur"] {
            for (p, b) in common::read_dir_bytes(&md.join(sub)) {
                out.insert(p.strip_prefix(&md).unwrap().to_owned(), b);
            }
        }
        out
    }

    /// Everything clients sent to Dovecot for `user` (after login).
    pub(super) fn protocol_log(&self, user: &str) -> String {
        let dir = self.dir.join("mail").join(user).join("dovecot.rawlog");
        let mut out = String::new();
        for (p, b) in common::read_dir_bytes(&dir) {
            if p.extension().is_some_and(|e| e == "in") {
                out.push_str(&String::from_utf8_lossy(&b));
            }
        }
        out
    }

    pub(super) fn env(&self, user: &str, tls: bool) -> Vec<(String, String)> {
        vec![
            ("EMAIL_IMAP_HOST".into(), "localhost".into()),
            (
                "EMAIL_IMAP_PORT".into(),
                if tls { &self.tls_port } else { &self.port }.clone(),
            ),
            (
                "EMAIL_IMAP_SECURITY".into(),
                if tls { "tls" } else { "starttls" }.into(),
            ),
            ("EMAIL_IMAP_USER".into(), user.into()),
            ("EMAIL_IMAP_PASSWORD".into(), "pw-of-the-test".into()),
            ("OPENZERO__MAIL__IMAP_CA_FILE".into(), self.ca.clone()),
        ]
    }
}

pub(super) fn message(id: &str, from: &str, subject: &str, body: &str) -> Vec<u8> {
    let date = chrono::Utc::now().to_rfc2822();
    format!(
        "From: {from}\r\nTo: owner@home.example\r\nSubject: {subject}\r\nDate: {date}\r\n\
         Message-ID: <{id}@test.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

pub(super) fn fixtures() -> Option<PathBuf> {
    let dir = std::env::var_os("OPENZERO_FIXTURES").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"),
        PathBuf::from,
    );
    if dir.join("email").is_dir() {
        return Some(dir.join("email"));
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "no fixtures at {}: set OPENZERO_FIXTURES",
        dir.display()
    );
    None
}

pub(super) fn stdout(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stdout).into_owned()
}

pub(super) fn list_json(
    oz: &Oz,
    envs: &[(String, String)],
    extra: &[&str],
) -> Vec<serde_json::Value> {
    let mut args = vec!["mail", "list", "--json", "-n", "100"];
    args.extend_from_slice(extra);
    let out = oz
        .cmd()
        .envs(envs.iter().cloned())
        .args(&args)
        .assert()
        .success();
    serde_json::from_str(&stdout(&out)).unwrap()
}
