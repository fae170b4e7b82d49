//! Cutting long replies into Telegram-sized messages (4096 UTF-16 code
//! units): at paragraph breaks, then line breaks, then spaces; a code block
//! is kept whole when it fits in one message.

/// Telegram's limit on a message's text, in UTF-16 code units (an emoji
/// outside the BMP counts two).
pub const LIMIT: usize = 4096;

/// Length of `s` as Telegram counts it: UTF-16 code units.
pub fn units(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// The longest prefix of `s` of at most `limit` UTF-16 units, never cutting
/// a character.
pub fn truncate(s: &str, limit: usize) -> &str {
    &s[..hard_cut(s, limit)]
}

/// Byte index just after the longest prefix of at most `limit` units.
fn hard_cut(s: &str, limit: usize) -> usize {
    let mut used = 0;
    for (i, c) in s.char_indices() {
        used += c.len_utf16();
        if used > limit {
            return i;
        }
    }
    s.len()
}

/// Splits `text` into pieces of at most `limit` UTF-16 units.
pub fn split(text: &str, limit: usize) -> Vec<String> {
    let limit = limit.max(16);
    let mut out = Vec::new();
    let mut rest = text.trim_end();
    while units(rest) > limit {
        let cut = cut_point(rest, limit);
        let (head, tail) = rest.split_at(cut);
        let head = head.trim_end();
        if !head.is_empty() {
            out.push(head.to_owned());
        }
        rest = tail.trim_start_matches('\n');
    }
    if !rest.trim().is_empty() || out.is_empty() {
        out.push(rest.to_owned());
    }
    out
}

/// Where to cut `s` (a byte index) so the head has at most `limit` units.
fn cut_point(s: &str, limit: usize) -> usize {
    let hard = hard_cut(s, limit);
    let head = &s[..hard];
    // A code block that starts in the head and does not close there: cut
    // before it, if that leaves something and the block fits a message.
    let mut fence = None;
    let mut open = false;
    for (i, _) in head.match_indices("```") {
        if !open {
            fence = Some(i);
        }
        open = !open;
    }
    if open
        && let Some(start) = fence
        && start > 0
    {
        let block_len = s[start..]
            .find("```")
            .and_then(|first| {
                s[start + first + 3..]
                    .find("```")
                    .map(|e| first + 3 + e + 3)
            })
            .map_or(usize::MAX, |end| units(&s[start..start + end]));
        if block_len <= limit {
            return start;
        }
    }
    for sep in ["\n\n", "\n", " "] {
        if let Some(i) = head.rfind(sep)
            && i > hard / 3
        {
            return i + sep.len();
        }
    }
    hard
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_one_message() {
        assert_eq!(split("Hello", LIMIT), ["Hello"]);
        assert_eq!(split("", LIMIT), [""]);
    }

    #[test]
    fn long_text_is_cut_at_line_breaks_within_the_limit() {
        let para = "A line of about forty characters here.\n".repeat(160); // ~6,240 chars
        let parts = split(&para, LIMIT);
        assert_eq!(parts.len(), 2);
        for p in &parts {
            assert!(p.chars().count() <= LIMIT);
            assert!(
                p.ends_with("here."),
                "cut mid-line: {:?}",
                &p[p.len() - 20..]
            );
        }
        assert_eq!(parts.join("\n").replace('\n', ""), para.replace('\n', ""));
    }

    #[test]
    fn a_code_block_stays_whole_when_it_fits() {
        let text = format!(
            "{}\n```\n{}```\nafter",
            "intro line\n".repeat(300),
            "let x = 1;\n".repeat(100)
        );
        let parts = split(&text, LIMIT);
        let with_code: Vec<&String> = parts.iter().filter(|p| p.contains("```")).collect();
        assert_eq!(with_code.len(), 1, "the block was split: {parts:?}");
        assert_eq!(with_code[0].matches("```").count(), 2);
    }

    #[test]
    fn emoji_count_as_telegram_counts_them() {
        // 3,000 emoji are 6,000 UTF-16 units: two messages, though only
        // 3,000 characters.
        let text = "😀".repeat(3000);
        let parts = split(&text, LIMIT);
        assert_eq!(
            parts.len(),
            2,
            "one message of 6,000 units would be refused"
        );
        for p in &parts {
            assert!(units(p) <= LIMIT, "{} units", units(p));
        }
        assert_eq!(parts.concat(), text);
        // Mixed with words, cut at spaces.
        let words = "🎉 party ".repeat(1000);
        for p in split(&words, LIMIT) {
            assert!(units(&p) <= LIMIT);
            assert!(
                p.ends_with("party"),
                "cut mid-word: {:?}",
                &p[p.len() - 12..]
            );
        }
        assert_eq!(truncate("a😀b", 2), "a");
        assert_eq!(truncate("a😀b", 3), "a😀");
    }

    #[test]
    fn text_without_breaks_is_cut_hard_at_char_boundaries() {
        let text = "ü".repeat(5000);
        let parts = split(&text, LIMIT);
        assert_eq!(parts[0].chars().count(), LIMIT);
        assert_eq!(parts.concat(), text);
    }
}

/// The Markdown models write (`**bold**`, `*italic*`, `_italic_`, `` `code` ``,
/// fenced code blocks, `[text](https://…)`) as Telegram HTML, with `<`, `>`
/// and `&` escaped everywhere else. Unclosed markers stay as they are.
pub fn to_html(md: &str) -> String {
    let mut out = String::with_capacity(md.len() + 16);
    let mut rest = md;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("```")
            && let Some(end) = after.find("```")
        {
            let block = &after[..end];
            // Drop a language tag on the opening line.
            let body = match block.split_once('\n') {
                Some((first, body)) if !first.contains(' ') => body,
                _ => block,
            };
            out.push_str("<pre>");
            out.push_str(&escape(body.trim_end_matches('\n')));
            out.push_str("</pre>");
            rest = &after[end + 3..];
            continue;
        }
        if let Some(after) = rest.strip_prefix('`')
            && let Some(end) = after.find(['`', '\n'])
            && after[end..].starts_with('`')
            && end > 0
        {
            out.push_str("<code>");
            out.push_str(&escape(&after[..end]));
            out.push_str("</code>");
            rest = &after[end + 1..];
            continue;
        }
        if let Some(after) = rest.strip_prefix("**")
            && let Some(end) = after.find("**")
            && end > 0
            && !after[..end].contains('\n')
        {
            out.push_str("<b>");
            out.push_str(&to_html(&after[..end]));
            out.push_str("</b>");
            rest = &after[end + 2..];
            continue;
        }
        if let Some(marker) = rest.chars().next().filter(|c| *c == '*' || *c == '_') {
            let after = &rest[1..];
            let word_start = after.chars().next().is_some_and(|c| !c.is_whitespace());
            if word_start
                && let Some(end) = after.find(marker)
                && end > 0
                && !after[..end].contains('\n')
                && !after[..end].ends_with(' ')
                // snake_case words are not italics
                && !(marker == '_' && after[end + 1..].chars().next().is_some_and(char::is_alphanumeric))
            {
                out.push_str("<i>");
                out.push_str(&to_html(&after[..end]));
                out.push_str("</i>");
                rest = &after[end + 1..];
                continue;
            }
        }
        if let Some(after) = rest.strip_prefix('[')
            && let Some(close) = after.find("](")
            && !after[..close].contains('\n')
            && let Some(end) = after[close + 2..].find(')')
        {
            let url = &after[close + 2..close + 2 + end];
            if url.starts_with("https://") || url.starts_with("http://") {
                out.push_str(&format!(
                    "<a href=\"{}\">{}</a>",
                    escape(url).replace('"', "&quot;"),
                    escape(&after[..close])
                ));
                rest = &after[close + 2 + end + 1..];
                continue;
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push_str(&escape(&c.to_string()));
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Escapes text for Telegram HTML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod html_tests {
    use super::*;

    #[test]
    fn markdown_becomes_telegram_html() {
        assert_eq!(
            to_html("**Career** is *active*, see `tree` & [docs](https://example.org/a?b=1&c=2)"),
            "<b>Career</b> is <i>active</i>, see <code>tree</code> &amp; <a href=\"https://example.org/a?b=1&amp;c=2\">docs</a>"
        );
        assert_eq!(
            to_html("```rust\nif a < b { x }\n```\nafter"),
            "<pre>if a &lt; b { x }</pre>\nafter"
        );
    }

    #[test]
    fn what_is_not_markup_is_escaped_and_left_alone() {
        assert_eq!(to_html("2 * 3 < 7 and a_b_c"), "2 * 3 &lt; 7 and a_b_c");
        assert_eq!(to_html("unclosed **bold"), "unclosed **bold");
        assert_eq!(to_html("<script>"), "&lt;script&gt;");
        assert_eq!(
            to_html("[not a link](javascript:x)"),
            "[not a link](javascript:x)"
        );
        assert_eq!(to_html("emoji 🏃 and ü"), "emoji 🏃 and ü");
    }
}
