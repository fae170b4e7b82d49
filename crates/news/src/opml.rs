//! Subscription lists in OPML (1.0 and 2.0), as feed readers import and
//! export them. A feed's tag is the folder (outer outline) it sits in.

use crate::NewsError;

/// One subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub url: String,
    pub title: String,
    pub tag: Option<String>,
}

/// Every feed in an OPML document, folders read as tags (the innermost).
pub fn read(text: &str) -> Result<Vec<Subscription>, NewsError> {
    let doc = opml::OPML::from_str(text).map_err(|e| NewsError::Opml(e.to_string()))?;
    let mut out = Vec::new();
    walk(&doc.body.outlines, None, &mut out);
    Ok(out)
}

fn walk(outlines: &[opml::Outline], tag: Option<&str>, out: &mut Vec<Subscription>) {
    for o in outlines {
        let name = o
            .title
            .as_deref()
            .filter(|t| !t.trim().is_empty())
            .unwrap_or(&o.text)
            .trim();
        match o
            .xml_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
        {
            Some(url) => out.push(Subscription {
                url: url.to_owned(),
                title: name.to_owned(),
                tag: tag.map(str::to_owned),
            }),
            None => {
                let inner = Some(name).filter(|n| !n.is_empty()).or(tag);
                walk(&o.outlines, inner, out);
            }
        }
    }
}

/// An OPML 2.0 document of these subscriptions, grouped by tag.
pub fn write(subs: &[Subscription]) -> Result<String, NewsError> {
    let mut doc = opml::OPML {
        head: Some(opml::Head {
            title: Some("OpenZero news feeds".into()),
            ..opml::Head::default()
        }),
        ..opml::OPML::default()
    };
    let feed = |s: &Subscription| opml::Outline {
        text: s.title.clone(),
        title: Some(s.title.clone()),
        r#type: Some("rss".into()),
        xml_url: Some(s.url.clone()),
        ..opml::Outline::default()
    };
    // Folders in the order their first feed comes.
    let mut tags: Vec<&str> = Vec::new();
    for t in subs.iter().filter_map(|s| s.tag.as_deref()) {
        if !tags.contains(&t) {
            tags.push(t);
        }
    }
    for s in subs.iter().filter(|s| s.tag.is_none()) {
        doc.body.outlines.push(feed(s));
    }
    for tag in tags {
        doc.body.outlines.push(opml::Outline {
            text: tag.to_owned(),
            title: Some(tag.to_owned()),
            outlines: subs
                .iter()
                .filter(|s| s.tag.as_deref() == Some(tag))
                .map(feed)
                .collect(),
            ..opml::Outline::default()
        });
    }
    doc.to_string().map_err(|e| NewsError::Opml(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_become_tags_and_a_list_round_trips() {
        let text = r#"<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0"><head><title>Mine</title></head><body>
  <outline text="Loose" type="rss" xmlUrl="https://a.example/feed.xml"/>
  <outline text="Tech"><outline text="B" title="B blog" type="rss" xmlUrl=" https://b.example/atom "/>
    <outline text="Deep"><outline text="C" xmlUrl="https://c.example/rss"/></outline></outline>
  <outline text="Empty folder"/>
</body></opml>"#;
        let subs = read(text).expect("reads");
        assert_eq!(
            subs,
            [
                Subscription {
                    url: "https://a.example/feed.xml".into(),
                    title: "Loose".into(),
                    tag: None
                },
                Subscription {
                    url: "https://b.example/atom".into(),
                    title: "B blog".into(),
                    tag: Some("Tech".into())
                },
                Subscription {
                    url: "https://c.example/rss".into(),
                    title: "C".into(),
                    tag: Some("Deep".into())
                },
            ]
        );
        let again = read(&write(&subs).expect("writes")).expect("reads back");
        assert_eq!(again, subs);
        assert!(read("<html>no</html>").is_err());
    }
}
