//! Cutting long replies into Telegram-sized messages (4096 characters):
//! at paragraph breaks, then line breaks, then spaces; a code block is kept
//! whole when it fits in one message.

/// Telegram's limit on a message's text, in characters (UTF-16 units to be
/// exact; we count chars, and keep a margin for characters outside the BMP).
pub const LIMIT: usize = 4096;

/// Splits `text` into pieces of at most `limit` characters.
pub fn split(text: &str, limit: usize) -> Vec<String> {
    let limit = limit.max(16);
    let mut out = Vec::new();
    let mut rest = text.trim_end();
    while rest.chars().count() > limit {
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

/// Where to cut `s` (a byte index) so the head has at most `limit` chars.
fn cut_point(s: &str, limit: usize) -> usize {
    // Byte index just after the `limit`-th char: the hard bound.
    let hard = s.char_indices().nth(limit).map_or(s.len(), |(i, _)| i);
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
            .map_or(usize::MAX, |end| s[start..start + end].chars().count());
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
    fn text_without_breaks_is_cut_hard_at_char_boundaries() {
        let text = "ü".repeat(5000);
        let parts = split(&text, LIMIT);
        assert_eq!(parts[0].chars().count(), LIMIT);
        assert_eq!(parts.concat(), text);
    }
}
