//! Every public feed of the shared fixtures (`OPENZERO_FIXTURES/feeds`:
//! feedparser's, gofeed's and rust-syndication's test documents — RSS
//! 0.90–2.0, RDF, Atom 0.3/1.0, JSON Feed 1.0/1.1, broken encodings,
//! ill-formed XML, invalid JSON, empty files) goes through the parser:
//! none panics, the well-formed samples give their items in plain text,
//! and the broken ones give a short reason.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use openzero_news::{NewsError, parse};

fn fixtures() -> Option<PathBuf> {
    let dir = std::env::var_os("OPENZERO_FIXTURES").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"),
        PathBuf::from,
    );
    if dir.join("feeds").is_dir() {
        return Some(dir.join("feeds"));
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "no fixtures at {}: set OPENZERO_FIXTURES to the shared fixtures directory",
        dir.display()
    );
    eprintln!("skipped: no fixtures at {}", dir.display());
    None
}

fn feed_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .extension()
                .is_some_and(|x| x == "xml" || x == "json" || x == "rss" || x == "atom")
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_public_feed_parses_or_says_why_and_none_panics() {
    let Some(dir) = fixtures() else { return };
    let files = feed_files(&dir);
    assert!(files.len() > 150, "the corpus is there: {}", files.len());
    let (mut ok, mut bad, mut items) = (0, 0, 0);
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        match parse(&bytes, "https://feeds.example/") {
            Ok(feed) => {
                ok += 1;
                for i in &feed.items {
                    items += 1;
                    assert!(
                        !i.title.trim().is_empty(),
                        "{}: an empty title",
                        f.display()
                    );
                    assert!(
                        !i.text.contains("<script") && !i.title.contains("<script"),
                        "{}: markup left in the text: {i:?}",
                        f.display()
                    );
                    assert!(i.text.chars().count() <= 2_001);
                }
            }
            Err(NewsError::Malformed(why)) => {
                bad += 1;
                assert!(!why.is_empty() && why.len() < 400, "{}: {why}", f.display());
            }
            Err(e) => panic!("{}: {e}", f.display()),
        }
    }
    eprintln!("{ok} feeds read ({items} items), {bad} refused with a reason");
    assert!(
        ok > 130,
        "most documents are feeds this reads: {ok} of {}",
        files.len()
    );
    assert!(bad >= 3, "the broken ones are refused: {bad}");
}

fn read(dir: &Path, rel: &str) -> openzero_news::Feed {
    parse(
        &std::fs::read(dir.join(rel)).unwrap(),
        "https://feeds.example/",
    )
    .unwrap()
}

#[test]
fn the_spec_samples_give_their_items() {
    let Some(dir) = fixtures() else { return };
    // RSS 2.0's own sample: four items, one without a title.
    let f = read(&dir, "rss/rss2sample.xml");
    assert_eq!(f.title, "Liftoff News");
    assert_eq!(f.items.len(), 4);
    assert_eq!(f.items[0].title, "Star City");
    assert_eq!(
        f.items[0].link.as_deref(),
        Some("http://liftoff.msfc.nasa.gov/news/2003/news-starcity.asp")
    );
    assert!(f.items[0].text.contains("Star City") && !f.items[0].text.contains("<a"));
    assert_eq!(
        f.items[0].published.map(|p| p.to_rfc3339()),
        Some("2003-06-03T09:39:21+00:00".into())
    );
    assert!(
        f.items[1].title.starts_with("Sky watchers in Europe"),
        "{:?}",
        f.items[1]
    );
    // JSON Feed 1.1.
    let j = read(&dir, "gofeed/parser/json/version_json_11.json");
    assert_eq!(j.items[0].guid, "id");
    assert_eq!(
        j.items[0].link.as_deref(),
        Some("https://sample-json-feed.com/id")
    );
    // Atom, RDF, RSS 0.91/0.92 through the same door; an <rss> without
    // its version is read as 2.0; a bare ampersand and HTML entities are
    // read, not refused.
    for rel in [
        "gofeed/parser/universal/atom10_feed.xml",
        "gofeed/parser/universal/rdf_feed.xml",
        "rss/rss091.xml",
        "rss/rss092.xml",
        "rss/rss2_with_atom.xml",
    ] {
        let f = read(&dir, rel);
        assert!(!f.title.is_empty() || !f.items.is_empty(), "{rel}: {f:?}");
    }
    assert_eq!(
        read(&dir, "gofeed/parser/rss/issue_305_bare_ampersand.xml").title,
        "Fish & Chips & more"
    );
    assert_eq!(
        read(&dir, "feedparser/entities/hellip.xml").title,
        "testing \u{2026} entity"
    );
    // Invalid JSON and an empty document are refused.
    assert!(
        parse(
            &std::fs::read(dir.join("gofeed/parser/json/invalid/invalid.json")).unwrap(),
            "https://x/"
        )
        .is_err()
    );
    assert!(
        parse(
            &std::fs::read(dir.join("feedparser/illformed/rss_empty_document.xml")).unwrap(),
            "https://x/"
        )
        .is_err()
    );
}
