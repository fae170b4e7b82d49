//! The same story across feeds: items whose canonical link or normalised
//! title agree are one story. A canonical link drops the scheme, a leading
//! `www.`, the fragment, tracking parameters (`utm_*`, `fbclid`, `gclid`,
//! `mc_cid`, `mc_eid`, `ref`, `cmpid`) and a trailing slash; a normalised
//! title is its letters and digits, lower-cased, words joined by one space
//! (titles of fewer than four words are not used to join: "Update" from
//! two feeds is not one story).

/// The key two items of one story share, by link.
pub fn link_key(link: &str) -> Option<String> {
    let url = url::Url::parse(link.trim()).ok()?;
    let host = url.host_str()?.to_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host).to_owned();
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !is_tracking(k))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let path = url.path().trim_end_matches('/');
    let mut key = format!("{host}{path}");
    if !kept.is_empty() {
        let q: Vec<String> = kept.iter().map(|(k, v)| format!("{k}={v}")).collect();
        key.push('?');
        key.push_str(&q.join("&"));
    }
    Some(key)
}

fn is_tracking(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    k.starts_with("utm_")
        || matches!(
            k.as_str(),
            "fbclid"
                | "gclid"
                | "mc_cid"
                | "mc_eid"
                | "ref"
                | "cmpid"
                | "at_medium"
                | "at_campaign"
        )
}

/// The key two items of one story share, by title (`None` for short or
/// empty titles).
pub fn title_key(title: &str) -> Option<String> {
    let words: Vec<String> = title
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    (words.len() >= 4).then(|| words.join(" "))
}

/// Groups items (by index) into stories: two items are one story when
/// they share a guid, a link key or a title key (transitively). Groups come
/// in the order of their first item.
pub fn group(items: &[(&str, Option<&str>, &str)]) -> Vec<Vec<usize>> {
    let n = items.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (i, (guid, link, title)) in items.iter().enumerate() {
        let keys = [
            Some(format!("g:{guid}")).filter(|_| !guid.trim().is_empty()),
            link.and_then(link_key).map(|k| format!("l:{k}")),
            title_key(title).map(|k| format!("t:{k}")),
        ];
        for key in keys.into_iter().flatten() {
            match seen.get(&key) {
                Some(&j) => {
                    let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                    if a != b {
                        parent[a.max(b)] = a.min(b);
                    }
                }
                None => {
                    seen.insert(key, i);
                }
            }
        }
    }
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut at: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    for i in 0..n {
        let root = find(&mut parent, i);
        match at.get(&root) {
            Some(&g) => groups[g].push(i),
            None => {
                at.insert(root, groups.len());
                groups.push(vec![i]);
            }
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_lose_tracking_and_titles_their_punctuation() {
        assert_eq!(
            link_key("https://www.Example.org/news/a-story/?utm_source=rss&id=4#top"),
            Some("example.org/news/a-story?id=4".into())
        );
        assert_eq!(
            link_key("http://example.org/news/a-story"),
            link_key("https://example.org/news/a-story/")
        );
        assert_eq!(
            title_key("Storm closes the pass!"),
            title_key("storm — closes THE pass")
        );
        assert_eq!(title_key("Update"), None);
        assert_eq!(link_key("not a link"), None);
    }

    #[test]
    fn one_story_from_three_feeds_and_two_others() {
        let items = [
            (
                "a1",
                Some("https://news.example/storm?utm_medium=rss"),
                "Storm closes the mountain pass",
            ),
            (
                "b7",
                Some("https://other.example/x"),
                "Council approves the new budget",
            ),
            ("c3", None, "Storm closes the mountain pass"),
            ("d9", Some("https://www.news.example/storm/"), "Pass closed"),
            ("e1", Some("https://e.example/1"), "Update"),
            ("e2", Some("https://e.example/2"), "Update"),
        ];
        assert_eq!(group(&items), [vec![0, 2, 3], vec![1], vec![4], vec![5]]);
    }
}

/// A one-line extractive summary: the text's first sentence (not a
/// repeat of the title), at most 200 characters.
pub fn summary(text: &str, title: &str) -> String {
    let text = text.trim();
    let mut rest = text;
    if let Some(after) = rest.strip_prefix(title.trim()) {
        rest = after.trim_start_matches([' ', ':', '-', '.', '—']);
    }
    let end = rest
        .char_indices()
        .find(|(i, c)| {
            matches!(c, '.' | '!' | '?')
                && rest[i + c.len_utf8()..]
                    .chars()
                    .next()
                    .is_none_or(char::is_whitespace)
                && *i > 20
        })
        .map_or(rest.len(), |(i, c)| i + c.len_utf8());
    let sentence = rest[..end].trim();
    if sentence.chars().count() <= 200 {
        return sentence.to_owned();
    }
    let cut: String = sentence.chars().take(200).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(a, _)| a);
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod summary_tests {
    use super::summary;

    #[test]
    fn the_first_sentence_not_the_title() {
        assert_eq!(
            summary(
                "Storm closes the pass. The road reopens on Friday, says the canton. More below.",
                "Storm closes the pass"
            ),
            "The road reopens on Friday, says the canton."
        );
        assert_eq!(summary("", "x"), "");
        assert!(summary(&"word ".repeat(100), "t").chars().count() <= 201);
        assert_eq!(
            summary("Version 2.0 is out today. Details follow.", "x"),
            "Version 2.0 is out today."
        );
    }
}
