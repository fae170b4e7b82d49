//! An article page's main text, for a summary: the page's `<article>` (or
//! `<main>`) when it has one, else the whole body; within it, the text of
//! its paragraphs (`<p>`) of 40 characters or more — navigation, scripts,
//! styles, forms, headers, footers and asides dropped first. Bounded.

/// Longest text returned (characters).
const MAX: usize = 6_000;

/// The index of `needle` in `hay`, ASCII case-insensitively, from `from`.
fn find_ci(hay: &str, needle: &str, from: usize) -> Option<usize> {
    let h = hay.as_bytes();
    let n = needle.as_bytes();
    if n.is_empty() || h.len() < n.len() {
        return None;
    }
    (from..=h.len() - n.len()).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// `html` without every `<tag …>…</tag>` block of these tags.
fn drop_blocks(html: &str, tags: &[&str]) -> String {
    let mut out = html.to_owned();
    for tag in tags {
        let open = format!("<{tag}");
        let close = format!("</{tag}>");
        let mut from = 0;
        while let Some(start) = find_ci(&out, &open, from) {
            // `<header` must not match `<headers…`: the next byte ends the name.
            let next = out.as_bytes().get(start + open.len()).copied();
            if !matches!(next, Some(b' ' | b'>' | b'\t' | b'\n' | b'\r' | b'/')) {
                from = start + open.len();
                continue;
            }
            let end = find_ci(&out, &close, start).map_or(out.len(), |e| e + close.len());
            out.replace_range(start..end, " ");
            from = start;
        }
    }
    out
}

/// The inside of the first `<tag …>…</tag>`, if any.
fn inside<'a>(html: &'a str, tag: &str) -> Option<&'a str> {
    let start = find_ci(html, &format!("<{tag}"), 0)?;
    let body = start + html[start..].find('>')? + 1;
    let end = find_ci(html, &format!("</{tag}>"), body).unwrap_or(html.len());
    html.get(body..end)
}

/// The page's main text (empty when it has none worth reading).
pub fn main_text(html: &str) -> String {
    let cleaned = drop_blocks(
        html,
        &[
            "script", "style", "noscript", "nav", "header", "footer", "aside", "form", "svg",
            "template",
        ],
    );
    let scope = inside(&cleaned, "article")
        .or_else(|| inside(&cleaned, "main"))
        .or_else(|| inside(&cleaned, "body"))
        .unwrap_or(&cleaned);
    let mut paragraphs = Vec::new();
    let mut from = 0;
    while let Some(p) = find_ci(scope, "<p", from) {
        let next = scope.as_bytes().get(p + 2).copied();
        from = p + 2;
        if !matches!(next, Some(b' ' | b'>' | b'\t' | b'\n' | b'\r')) {
            continue;
        }
        let Some(open_end) = scope[p..].find('>').map(|i| p + i + 1) else {
            break;
        };
        let end = find_ci(scope, "</p>", open_end)
            .or_else(|| find_ci(scope, "<p", open_end))
            .unwrap_or(scope.len());
        let text = crate::parse::plain(&scope[open_end..end]);
        if text.chars().count() >= 40 {
            paragraphs.push(text);
        }
        from = end;
    }
    let text = if paragraphs.is_empty() {
        crate::parse::plain(scope)
    } else {
        paragraphs.join("\n")
    };
    text.chars().take(MAX).collect()
}

#[cfg(test)]
mod tests {
    use super::main_text;

    #[test]
    fn the_article_not_the_menu() {
        let html = r#"<html><head><style>p{color:red}</style><script>var p = "<p>evil</p>";</script></head>
<body><nav><p>Home | Sports | Weather and everything else in the menu bar</p></nav>
<header><p>The Daily Example — news you can trust since forever and ever</p></header>
<article><h1>Pass closed</h1><p class="lead">A storm closed the Grimsel pass on Monday, the canton said in a statement.</p>
<p>Short.</p><p>The road is expected to reopen on Friday once the snow has been cleared from the upper section.</p></article>
<aside><p>Subscribe to our newsletter for more stories like this one today!</p></aside>
<footer><p>© The Daily Example, all rights reserved, no reuse without permission.</p></footer></body></html>"#;
        let t = main_text(html);
        assert!(t.starts_with("A storm closed the Grimsel pass"), "{t}");
        assert!(t.contains("reopen on Friday"));
        for junk in [
            "menu bar",
            "evil",
            "newsletter",
            "rights reserved",
            "trust since",
            "Short.",
        ] {
            assert!(!t.contains(junk), "{junk} in {t}");
        }
        assert_eq!(main_text(""), "");
        assert!(
            main_text("<p>unclosed paragraph that goes on and on without an end in sight")
                .contains("unclosed")
        );
    }
}
