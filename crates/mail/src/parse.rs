//! One raw RFC 5322 message → what OpenZero keeps of it.
//!
//! **Invariant:** never fails and never panics: whatever can be read is
//! kept, and what could not is listed in [`Parsed::problems`] (the message
//! is then marked and reported, not dropped).

use chrono::{DateTime, TimeZone, Utc};
use mail_parser::{Address, HeaderValue, Message, MessageParser, MimeHeaders, PartType};
use sha2::{Digest, Sha256};

/// The most body text kept per message, in characters.
pub const TEXT_CHARS: usize = 100_000;

/// An attachment, listed (its bytes are not kept).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Attachment {
    pub name: String,
    pub mime: String,
    pub size: usize,
}

/// A parsed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// Stable identity: the Message-ID, or `sha256:` of the raw bytes when
    /// there is none (the same file always gets the same key).
    pub key: String,
    pub message_id: Option<String>,
    /// "Name <address>", or the address, or empty when there is no sender.
    pub from: String,
    pub to: String,
    pub subject: String,
    pub date: Option<DateTime<Utc>>,
    /// Readable text: the text part, or the HTML part turned into text.
    pub text: String,
    pub attachments: Vec<Attachment>,
    /// What was malformed ("no Date header", "part 2: bad base64", …).
    pub problems: Vec<String>,
    /// Whether any header a mail message has was found (addresses,
    /// subject, date, ids, MIME or transport headers).
    pub has_headers: bool,
}

impl Parsed {
    /// Whether this looks like a mail message at all: a header a message
    /// has was read (a stray text file in an archive has none).
    pub fn looks_like_mail(&self) -> bool {
        self.has_headers
    }
}

/// Parses `raw`.
pub fn parse(raw: &[u8]) -> Parsed {
    let parser = MessageParser::default();
    match parser.parse(raw) {
        Some(m) => from_message(&m, raw),
        None => Parsed {
            key: content_key(raw),
            message_id: None,
            from: String::new(),
            to: String::new(),
            subject: String::new(),
            date: None,
            text: clean_text(&String::from_utf8_lossy(raw), TEXT_CHARS),
            attachments: Vec::new(),
            problems: vec!["not a mail message (no headers could be read)".into()],
            has_headers: false,
        },
    }
}

fn from_message(m: &Message<'_>, raw: &[u8]) -> Parsed {
    let mut problems = Vec::new();
    let message_id = m
        .message_id()
        .map(|id| clean_line(id.trim_matches(['<', '>', ' '])))
        .filter(|id| !id.is_empty());
    let from = m.from().map(address).unwrap_or_default();
    if from.is_empty() {
        problems.push("no From header".into());
    }
    let to = m.to().map(address).unwrap_or_default();
    let subject = m.subject().map(clean_line).unwrap_or_default();
    let date = match m.date() {
        Some(d) if d.is_valid() => Utc.timestamp_opt(d.to_timestamp(), 0).single(),
        Some(_) => None,
        None => None,
    };
    if date.is_none() {
        let raw_date = m.header_raw("Date").map(str::trim);
        problems.push(match raw_date {
            Some(d) => format!("unreadable Date {:?}", clean_line(d)),
            None => "no Date header".into(),
        });
    }
    let mut text = String::new();
    for i in 0..m.text_body_count().max(1) {
        if let Some(t) = m.body_text(i) {
            if !text.is_empty() {
                text.push_str("\n\n");
            }
            text.push_str(&t);
        }
        if text.len() > TEXT_CHARS * 4 {
            break;
        }
    }
    let text = clean_text(&text, TEXT_CHARS);
    let mut attachments = Vec::new();
    for part in m.attachments() {
        let mime = part
            .content_type()
            .map(|ct| match ct.subtype() {
                Some(sub) => format!("{}/{}", ct.ctype(), sub),
                // A bare type ("text") is as good as its usual subtype.
                None if ct.ctype().eq_ignore_ascii_case("text") => "text/plain".into(),
                None => "application/octet-stream".into(),
            })
            .unwrap_or_else(|| "application/octet-stream".into())
            .to_ascii_lowercase();
        let name = match (&part.body, part.attachment_name()) {
            (_, Some(n)) => clean_line(n),
            (PartType::Message(inner), None) => {
                format!(
                    "{}.eml",
                    inner.subject().map(clean_line).unwrap_or("message".into())
                )
            }
            _ => "(unnamed)".into(),
        };
        attachments.push(Attachment {
            name,
            mime,
            size: part.len(),
        });
    }
    for (i, part) in m.parts.iter().enumerate() {
        if part.is_encoding_problem {
            problems.push(format!("part {}: content could not be decoded", i + 1));
        }
    }
    if let Some(HeaderValue::Empty) = m.header("Content-Type").cloned() {
        problems.push("empty Content-Type".into());
    }
    let has_headers = [
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "Content-Type",
        "MIME-Version",
        "Received",
        "Return-Path",
        "Sender",
    ]
    .iter()
    .any(|h| m.header(*h).is_some());
    Parsed {
        has_headers,
        key: message_id
            .as_ref()
            .map_or_else(|| content_key(raw), |id| format!("<{id}>")),
        message_id,
        from,
        to,
        subject,
        date,
        text,
        attachments,
        problems,
    }
}

/// The stable key of a message without a Message-ID.
pub fn content_key(raw: &[u8]) -> String {
    let digest = Sha256::digest(raw);
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

fn address(a: &Address<'_>) -> String {
    a.iter()
        .map(|addr| {
            let name = addr.name().map(clean_line).filter(|n| !n.is_empty());
            let mail = addr.address().map(clean_line).filter(|m| !m.is_empty());
            match (name, mail) {
                (Some(n), Some(m)) if n != m => format!("{n} <{m}>"),
                (_, Some(m)) => m,
                (Some(n), None) => n,
                (None, None) => String::new(),
            }
        })
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

/// One line, no control characters (a header cannot move a terminal's
/// cursor or forge a line in a listing).
fn clean_line(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Body text with control characters (but newlines and tabs) removed,
/// runs of blank lines folded, and cut to `max` characters.
fn clean_text(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max));
    let mut blank = 0;
    for line in s.lines() {
        let line: String = line
            .chars()
            .filter(|c| *c == '\t' || !c.is_control())
            .collect();
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
        if out.len() > max * 4 {
            break;
        }
    }
    let trimmed = out.trim();
    if trimmed.chars().count() > max {
        trimmed.chars().take(max).collect()
    } else {
        trimmed.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_words_html_only_and_attachments() {
        let raw = b"From: =?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>\r\n\
To: =?utf-8?B?w4Nub8O2?= <a@b.c>\r\n\
Subject: =?iso-2022-jp?B?GyRCJUYlOSVIGyhC?=\r\n\
Date: Tue, 2 Dec 2025 09:15:00 +0100\r\n\
Message-ID: <abc@host>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=XX\r\n\
\r\n\
--XX\r\n\
Content-Type: text/html; charset=windows-1252\r\n\
\r\n\
<html><body><p>Caf\xe9 <b>tomorrow</b> at 9</p><script>x()</script></body></html>\r\n\
--XX\r\n\
Content-Type: application/pdf; name=\"report.pdf\"\r\n\
Content-Disposition: attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
SGVsbG8=\r\n\
--XX--\r\n";
        let p = parse(raw);
        assert_eq!(p.from, "André Pirard <PIRARD@vm1.ulg.ac.be>");
        assert_eq!(p.subject, "テスト");
        assert_eq!(p.key, "<abc@host>");
        assert_eq!(
            p.date.map(|d| d.to_rfc3339()),
            Some("2025-12-02T08:15:00+00:00".into())
        );
        assert!(p.text.contains("Café tomorrow at 9"), "{:?}", p.text);
        assert!(!p.text.contains("<b>"), "{:?}", p.text);
        assert_eq!(
            p.attachments,
            vec![Attachment {
                name: "résumé.pdf".into(),
                mime: "application/pdf".into(),
                size: 5
            }]
        );
        assert!(p.problems.is_empty(), "{:?}", p.problems);
    }

    #[test]
    fn missing_headers_are_reported_and_identity_comes_from_content() {
        let raw = b"Subject: hello\n\nbody \x1b[31mred\n";
        let p = parse(raw);
        assert!(p.key.starts_with("sha256:"));
        assert_eq!(p.key, parse(raw).key, "stable");
        assert_ne!(p.key, parse(b"Subject: hello\n\nother\n").key);
        assert!(p.problems.iter().any(|x| x.contains("no From")));
        assert!(p.problems.iter().any(|x| x.contains("no Date")));
        assert_eq!(p.text, "body [31mred", "escape character removed");
        let junk = parse(b"");
        assert!(!junk.problems.is_empty());
    }
}
