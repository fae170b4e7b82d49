//! The running summary: which older turns to fold when they no longer fit
//! the prompt, the prompt that asks a local model to fold them, and the
//! fallback that keeps each turn's first words when no model can.

use super::*;

/// Fewest turns worth folding into the running summary at once.
pub const MIN_FOLD: usize = 4;
/// Longest running summary, in characters.
pub const SUMMARY_CHARS: usize = 800;

/// Which older turns to fold into the running summary: everything before
/// the newest turns that fit the history budget, once there are at least
/// [`MIN_FOLD`] of them. `turns` are (id, turn), oldest first; returns the
/// id of the last turn folded and the turns to fold.
pub fn plan_fold(turns: &[(i64, Turn)], budget: Budget) -> Option<(i64, Vec<Turn>)> {
    let mut left = budget.history_chars;
    let mut keep = 0;
    for (_, t) in turns.iter().rev() {
        if t.content.len() > left {
            break;
        }
        left -= t.content.len();
        keep += 1;
    }
    let fold = turns.len() - keep;
    if fold < MIN_FOLD {
        return None;
    }
    let upto = turns[fold - 1].0;
    Some((upto, turns[..fold].iter().map(|(_, t)| t.clone()).collect()))
}

/// Asks a model to fold `turns` into the running summary.
pub fn summary_prompt(previous: Option<&str>, turns: &[Turn]) -> Vec<ChatMessage> {
    let mut text = String::new();
    if let Some(p) = previous {
        text.push_str(&format!("Summary so far:\n{}\n\n", p.trim()));
    }
    text.push_str("New part of the conversation:\n");
    for t in turns {
        let who = if t.role == Role::User { "Owner" } else { "Z" };
        text.push_str(&format!("{who}: {}\n", t.content.trim()));
    }
    vec![
        ChatMessage::new(
            Role::System,
            "You keep a running summary of a conversation between the owner and their assistant Z. \
             Write the updated summary: short sentences, facts, decisions and open questions, \
             names and dates exact, nothing invented. At most 120 words.",
        ),
        ChatMessage::new(Role::User, text),
    ]
}

/// A summary made without a model (when it fails or answers nothing): the
/// previous summary and the first words of each folded turn, so nothing is
/// silently dropped.
pub fn fallback_summary(previous: Option<&str>, turns: &[Turn]) -> String {
    let mut out = previous.map(|p| p.trim().to_owned()).unwrap_or_default();
    for t in turns {
        let who = if t.role == Role::User { "You" } else { "Z" };
        let first: String = t
            .content
            .split_whitespace()
            .take(14)
            .collect::<Vec<_>>()
            .join(" ");
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!("- {who}: {first}"));
    }
    clip_front(&out, SUMMARY_CHARS)
}

/// Keeps the last `max` bytes of `s` (the newest part of a summary), at a
/// line boundary when there is one.
pub fn clip_front(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut start = s.len() - max;
    while start < s.len() && !s.is_char_boundary(start) {
        start += 1;
    }
    let tail = &s[start..];
    match tail.find('\n') {
        Some(i) if i + 1 < tail.len() => format!("...\n{}", &tail[i + 1..]),
        _ => format!("...{tail}"),
    }
}
