//! Every message of the public corpora parses without a panic; the ones
//! whose content is known come out right; broken ones are marked.

use std::path::PathBuf;

use openzero_mail::import::{Found, walk};
use openzero_mail::parse;

/// `OPENZERO_FIXTURES`, or `../shared/fixtures` beside the repository.
/// `None` (skip) only outside CI.
fn fixtures() -> Option<PathBuf> {
    let dir = std::env::var_os("OPENZERO_FIXTURES").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"),
        PathBuf::from,
    );
    if dir.join("email").is_dir() {
        return Some(dir.join("email"));
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "no fixtures at {}: set OPENZERO_FIXTURES to the shared fixtures directory",
        dir.display()
    );
    eprintln!("skipped: no fixtures at {}", dir.display());
    None
}

fn read(dir: &std::path::Path, rel: &str) -> Vec<u8> {
    std::fs::read(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn every_corpus_message_parses_and_most_have_sender_and_subject() {
    let Some(dir) = fixtures() else { return };
    let mut messages = 0;
    let mut with_sender = 0;
    let mut marked = 0;
    for found in walk(&[dir]) {
        let Found::Message { label, raw } = found else {
            continue;
        };
        let p = parse(&raw);
        if !p.looks_like_mail() {
            continue;
        }
        messages += 1;
        if !p.from.is_empty() && !p.subject.is_empty() {
            with_sender += 1;
        }
        if !p.problems.is_empty() {
            marked += 1;
        }
        assert!(!p.key.is_empty(), "{label}: no key");
        assert!(
            !p.subject.contains(['\r', '\n', '\u{1b}']),
            "{label}: control characters in the subject {:?}",
            p.subject
        );
        for a in &p.attachments {
            assert!(!a.name.is_empty() && a.mime.contains('/'), "{label}: {a:?}");
        }
    }
    assert!(messages >= 130, "only {messages} messages read");
    assert!(
        with_sender * 10 >= messages * 6,
        "{with_sender} of {messages} with sender and subject"
    );
    assert!(marked > 10, "the corpus' broken messages were not marked");
}

#[test]
fn encoded_words_in_several_charsets_are_decoded() {
    let Some(dir) = fixtures() else { return };
    // RFC 2047 words in ISO-8859-1, ISO-8859-2 and US-ASCII, folded over
    // three lines, in one subject; names with Latin-1 letters.
    let p = parse(&read(&dir, "james-mime4j/mimetools-testmsgs/intl.msg"));
    assert_eq!(p.from, "Keith Moore <moore@cs.utk.edu>");
    assert_eq!(p.to, "Keld Jørn Simonsen <keld@dkuug.dk>");
    assert_eq!(
        p.subject,
        "If you can read this you understand the example... so, cool!"
    );
    let p = parse(&read(&dir, "enmime/mail/qp-utf8-header.raw"));
    assert!(p.subject.starts_with("MIME UTF8 Test ¢"), "{:?}", p.subject);
}

#[test]
fn html_only_mail_becomes_readable_text() {
    let Some(dir) = fixtures() else { return };
    let p = parse(&read(&dir, "enmime/mail/html-only-inline.raw"));
    assert!(!p.text.trim().is_empty());
    assert!(
        !p.text.contains("<html") && !p.text.contains("<div") && !p.text.contains("<p>"),
        "{:?}",
        p.text
    );
}

#[test]
fn broken_mime_is_kept_as_far_as_it_reads_and_marked() {
    let Some(dir) = fixtures() else { return };
    let p = parse(&read(
        &dir,
        "enmime/low-quality/malformed-base64-attach.raw",
    ));
    assert!(!p.from.is_empty(), "headers kept");
    assert!(
        p.problems
            .iter()
            .any(|x| x.contains("could not be decoded")),
        "{:?}",
        p.problems
    );
    // No Date header: reported; no Message-ID: a key from the content,
    // the same every time.
    let raw = read(&dir, "rustpython/test_email_data/msg_21.txt");
    let p = parse(&raw);
    assert!(
        p.problems.iter().any(|x| x == "no Date header"),
        "{:?}",
        p.problems
    );
    assert!(p.key.starts_with("sha256:"));
    assert_eq!(p.key, parse(&raw).key);
    // A file that is no mail at all is recognised as such.
    assert!(!parse(&read(&dir, "enmime/mail/erroneous.raw")).looks_like_mail());
}

#[test]
fn truncated_and_garbled_copies_of_every_message_never_panic() {
    let Some(dir) = fixtures() else { return };
    for found in walk(&[dir]) {
        let Found::Message { raw, .. } = found else {
            continue;
        };
        // Cut anywhere (a download that stopped), and with bytes flipped.
        for cut in [raw.len() / 3, raw.len() / 2, raw.len().saturating_sub(7)] {
            let _ = parse(&raw[..cut]);
        }
        let garbled: Vec<u8> = raw
            .iter()
            .enumerate()
            .map(|(i, b)| if i % 17 == 0 { b ^ 0x80 } else { *b })
            .collect();
        let _ = parse(&garbled);
    }
}
