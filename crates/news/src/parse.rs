//! One feed's bytes to plain items.

use chrono::{DateTime, Utc};

use crate::NewsError;

/// Longest text kept per item (characters).
const MAX_TEXT: usize = 2_000;
/// Longest title kept (characters).
const MAX_TITLE: usize = 300;

/// A feed as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    /// Its title (may be empty).
    pub title: String,
    /// Its web site, if it names one.
    pub site: Option<String>,
    pub items: Vec<Item>,
}

/// One item, in plain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The feed's id for it (guid, Atom id, JSON id; else a hash of its
    /// link and title, as `feed-rs` makes one).
    pub guid: String,
    pub title: String,
    /// Its web page, absolute when the feed gave a base.
    pub link: Option<String>,
    /// Plain text: the content, else the summary (bounded).
    pub text: String,
    /// When published (else updated), if the feed says.
    pub published: Option<DateTime<Utc>>,
}

/// Reads a feed; `url` resolves relative links.
pub fn parse(bytes: &[u8], url: &str) -> Result<Feed, NewsError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(NewsError::Malformed("the document is empty".into()));
    }
    let ready = crate::prepare::prepare(bytes);
    // The parser has panicked on odd input before (an encoding switch deep
    // in quick-xml): a panic there is a malformed feed, not a dead process.
    // The parser is made and dropped inside, so no state outlives a panic.
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let parser = feed_rs::parser::Builder::new().base_uri(Some(url)).build();
        parser.parse(ready.as_slice())
    }))
    .map_err(|_| NewsError::Malformed("the parser gave up on this document".into()))?;
    let feed = parsed.map_err(|e| NewsError::Malformed(short(&e.to_string())))?;
    let site = feed
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .map(|l| l.href.clone());
    let items = feed
        .entries
        .into_iter()
        .filter_map(|e| {
            let link = e
                .links
                .iter()
                .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
                .or_else(|| e.links.first())
                .map(|l| l.href.trim().to_owned())
                .filter(|h| !h.is_empty());
            let body = e
                .content
                .and_then(|c| c.body)
                .filter(|b| !b.trim().is_empty())
                .or_else(|| e.summary.as_ref().map(|s| s.content.clone()))
                .unwrap_or_default();
            let text = bounded(&plain(&body), MAX_TEXT);
            let title = e
                .title
                .map(|t| bounded(&plain(&t.content), MAX_TITLE))
                .filter(|t| !t.is_empty());
            if title.is_none() && text.is_empty() && link.is_none() {
                return None;
            }
            let title = title
                .or_else(|| first_words(&text))
                .or_else(|| link.clone())
                .unwrap_or_else(|| "(untitled)".into());
            Some(Item {
                guid: e.id,
                title,
                link,
                text,
                published: e.published.or(e.updated),
            })
        })
        .collect();
    Ok(Feed {
        title: feed
            .title
            .map(|t| bounded(&plain(&t.content), MAX_TITLE))
            .unwrap_or_default(),
        site,
        items,
    })
}

/// HTML (or text) to one line of plain text: tags dropped, entities
/// resolved, whitespace folded.
pub(crate) fn plain(html: &str) -> String {
    let text = if html.contains('<') || html.contains('&') {
        mail_parser::decoders::html::html_to_text(html)
    } else {
        html.to_owned()
    };
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most `max` characters, cut at a word with an ellipsis.
fn bounded(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let cut: String = s.chars().take(max).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(a, _)| a);
    format!("{}…", cut.trim_end())
}

/// The first dozen words, as a title for an item without one.
fn first_words(text: &str) -> Option<String> {
    let words: Vec<&str> = text.split_whitespace().take(12).collect();
    (!words.is_empty()).then(|| bounded(&words.join(" "), 100))
}

fn short(s: &str) -> String {
    bounded(s.lines().next().unwrap_or_default(), 200)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_becomes_one_plain_line_and_long_text_is_cut() {
        assert_eq!(
            plain("<p>Hello <b>world</b> &amp; co</p>\n<p>next</p>"),
            "Hello world & co next"
        );
        let long = "word ".repeat(1000);
        let b = bounded(&long, 50);
        assert!(b.chars().count() <= 51 && b.ends_with('…'));
    }

    #[test]
    fn an_item_without_a_title_is_named_by_its_words() {
        let rss = br#"<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
            <item><description>&lt;p&gt;A storm closes the pass tonight&lt;/p&gt;</description><guid>g1</guid></item>
            <item></item></channel></rss>"#;
        let f = parse(rss, "https://example.org/feed").expect("parses");
        assert_eq!(f.items.len(), 1, "an empty item is dropped");
        assert_eq!(f.items[0].title, "A storm closes the pass tonight");
        assert_eq!(f.items[0].guid, "g1");
    }

    #[test]
    fn nothing_is_not_a_feed() {
        assert!(matches!(
            parse(b"  \n", "https://x.org/"),
            Err(NewsError::Malformed(_))
        ));
        assert!(matches!(
            parse(b"<html><body>hi</body></html>", "https://x.org/"),
            Err(NewsError::Malformed(_))
        ));
    }
}
