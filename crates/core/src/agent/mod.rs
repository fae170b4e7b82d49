//! Z, the agent: what it says to a model and in what order it works. This
//! module does no I/O: the conversation is a state machine that takes
//! events (the owner spoke, context arrived, the model answered) and returns
//! effects (gather context, ask the model, reply, record the turns), which
//! adapters carry out.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::memory::Memory;
use crate::tools::{ToolCall, ToolResult};

mod conversation;
mod summary;

pub use conversation::{Conversation, Effect, Event, MAX_TOOL_STEPS};
pub use summary::{
    MIN_FOLD, SUMMARY_CHARS, clip_front, fallback_summary, plan_fold, summary_prompt,
};

/// Who said something in a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    /// A tool's result, answering the assistant's tool call.
    Tool,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }
}

/// One message to or from a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
    /// Tools the assistant asked for in this message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For a `Tool` message: the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// For a `Tool` message: the tool's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<String>,
}

impl ChatMessage {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
            tool_name: None,
        }
    }

    /// The assistant asking for tools (with any text it wrote alongside).
    pub fn tool_request(content: impl Into<String>, calls: Vec<ToolCall>) -> Self {
        Self {
            tool_calls: calls,
            ..Self::new(Role::Assistant, content)
        }
    }

    /// A tool's result.
    pub fn tool_result(r: &ToolResult) -> Self {
        Self {
            tool_call_id: Some(r.id.clone()),
            tool_name: Some(r.name.clone()),
            ..Self::new(Role::Tool, r.content.clone())
        }
    }
}

/// A stored turn of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    pub role: Role,
    pub content: String,
    pub at: DateTime<Utc>,
}

/// Z's default persona, written to `persona.md` in the data directory at
/// `init` so the owner can edit it.
pub const DEFAULT_PERSONA: &str = "\
You are Z, the private assistant of one person, the owner. You run on their own \
server and everything you know about them stays there. You are sharp, warm and \
direct, with no filler and no flattery. You keep answers short unless asked for \
depth, and you turn a problem into the next concrete step the owner can take \
today. You answer from what the owner tells you (their notes, their projects, \
the date and time) and from general knowledge, and you say plainly when you do \
not know. You never invent facts about the owner. You never send, post, pay, \
book or reply to anyone for the owner: you draft, the owner decides.";

/// What the model is given besides the conversation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    /// Memories found for the owner's message, best first.
    pub memories: Vec<Memory>,
    /// The project tree, rendered compactly.
    pub projects: String,
    /// `about-me.md` from the data directory.
    pub about_me: Option<String>,
    /// Stored preferences (key, value).
    pub preferences: Vec<(String, String)>,
    /// Recent turns of this channel, oldest first (those after the
    /// running summary).
    pub history: Vec<Turn>,
    /// The running summary of this channel's older turns.
    pub summary: Option<String>,
}

/// Limits on what goes into one prompt, in characters (about 4 per token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Characters of memories, project tree, about-me and preferences.
    pub context_chars: usize,
    /// Characters of earlier turns.
    pub history_chars: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            context_chars: 3_000,
            history_chars: 1_500,
        }
    }
}

/// Cuts `s` to at most `max` bytes at a character boundary, marking the cut.
fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max.saturating_sub(3);
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// The system message: the persona and the owner's local date, time and zone.
pub fn system_prompt(persona: &str, now: DateTime<Tz>) -> String {
    format!(
        "{}\n\nNow: {} ({}, UTC{}).",
        persona.trim(),
        now.format("%A %-d %B %Y, %H:%M"),
        now.timezone().name(),
        now.format("%:z"),
    )
}

/// What Z knows that bears on this message, in the owner's voice. It goes
/// into the owner's message rather than the system prompt: small local
/// models follow context there and ignore it in the system prompt.
pub fn context_block(ctx: &Context, now: DateTime<Tz>, budget: Budget) -> String {
    let mut out = String::new();
    let mut left = budget.context_chars;
    let mut section = |title: &str, body: &str, out: &mut String| {
        if body.trim().is_empty() || left < 40 {
            return;
        }
        let text = clip(body.trim(), left);
        left = left.saturating_sub(text.len());
        out.push_str(&format!("{title}\n{text}\n\n"));
    };
    if let Some(a) = &ctx.about_me {
        section("About me:", a, &mut out);
    }
    if let Some(sm) = &ctx.summary {
        section("Earlier in our conversation:", sm, &mut out);
    }
    if !ctx.memories.is_empty() {
        let lines: Vec<String> = ctx
            .memories
            .iter()
            .map(|m| {
                format!(
                    "- ({}) {}",
                    m.created_at
                        .with_timezone(&now.timezone())
                        .format("%Y-%m-%d"),
                    m.text.trim()
                )
            })
            .collect();
        section("Notes I gave you:", &lines.join("\n"), &mut out);
    }
    if !ctx.projects.trim().is_empty() {
        section("Here is the list of my projects:", &ctx.projects, &mut out);
    }
    if !ctx.preferences.is_empty() {
        let lines: Vec<String> = ctx
            .preferences
            .iter()
            .map(|(k, v)| format!("- {k}: {v}"))
            .collect();
        section("My preferences:", &lines.join("\n"), &mut out);
    }
    out
}

/// The messages for one model call: system prompt, as many recent turns as
/// the budget allows (newest kept), then the owner's message preceded by
/// the context.
pub fn messages(
    persona: &str,
    now: DateTime<Tz>,
    ctx: &Context,
    budget: Budget,
    user: &str,
) -> Vec<ChatMessage> {
    let mut out = vec![ChatMessage::new(Role::System, system_prompt(persona, now))];
    let mut left = budget.history_chars;
    let mut kept: Vec<&Turn> = Vec::new();
    for t in ctx.history.iter().rev() {
        if t.role == Role::System || t.content.len() > left {
            break;
        }
        left -= t.content.len();
        kept.push(t);
    }
    // A conversation handed to a model starts with the owner speaking.
    while kept.last().is_some_and(|t| t.role != Role::User) {
        kept.pop();
    }
    out.extend(
        kept.into_iter()
            .rev()
            .map(|t| ChatMessage::new(t.role, t.content.clone())),
    );
    out.push(ChatMessage::new(
        Role::User,
        format!("{}{user}", context_block(ctx, now, budget)),
    ));
    out
}

/// The project tree as a plain list a small model reads well:
/// `- Marathon training (active, 40% done)`, children indented.
pub fn project_list(projects: &[crate::Project]) -> String {
    crate::tree::ordered(projects)
        .into_iter()
        .map(|(p, depth)| {
            format!(
                "{}- {} ({}, {}% done)",
                "  ".repeat(depth),
                p.name,
                p.status,
                p.progress.get()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::conversation::LAST_ROUND;
    use super::*;
    use crate::memory::Source;

    fn berlin(h: u32) -> DateTime<Tz> {
        chrono_tz::Europe::Berlin
            .with_ymd_and_hms(2026, 11, 23, h, 15, 0)
            .single()
            .expect("valid time")
    }

    fn memory(text: &str) -> Memory {
        Memory {
            id: 1,
            text: text.into(),
            created_at: Utc
                .with_ymd_and_hms(2026, 11, 20, 8, 0, 0)
                .single()
                .expect("time"),
            source: Source::new("chat").expect("source"),
            external_id: None,
            metadata: None,
            model: None,
        }
    }

    #[test]
    fn a_message_gathers_context_then_asks_then_replies_and_records() {
        let mut c = Conversation::new("You are Z.", Budget::default());
        let fx = c.handle(Event::OwnerSaid {
            text: "  what are my projects? ".into(),
            now: berlin(9),
        });
        assert_eq!(
            fx,
            [Effect::GatherContext {
                query: "what are my projects?".into()
            }]
        );
        let ctx = Context {
            projects: "[ACTIVE] Career [40%]".into(),
            memories: vec![memory("Dentist on Tuesday at 9:30")],
            ..Context::default()
        };
        let fx = c.handle(Event::ContextReady(ctx));
        let [
            Effect::AskModel {
                messages,
                tools: true,
            },
        ] = fx.as_slice()
        else {
            panic!("expected one model call, got {fx:?}");
        };
        let system = &messages[0].content;
        assert!(system.starts_with("You are Z."));
        assert!(
            system.contains("Monday 23 November 2026, 09:15 (Europe/Berlin, UTC+01:00)"),
            "local time and zone: {system}"
        );
        let last = messages.last().expect("a user message");
        assert_eq!(last.role, Role::User);
        assert!(last.content.contains("[ACTIVE] Career [40%]"), "{last:?}");
        assert!(
            last.content.contains("(2026-11-20) Dentist on Tuesday"),
            "{last:?}"
        );
        assert!(last.content.ends_with("what are my projects?"), "{last:?}");
        let fx = c.handle(Event::ModelAnswered {
            text: "Career is your one active project.".into(),
            tool_calls: Vec::new(),
        });
        assert!(matches!(&fx[0], Effect::Record { turns } if turns.len() == 2));
        assert_eq!(
            fx[1],
            Effect::Reply {
                text: "Career is your one active project.".into()
            }
        );
        assert!(c.is_idle());
    }

    #[test]
    fn a_failed_model_keeps_the_owners_words_and_says_why() {
        let mut c = Conversation::new("Z", Budget::default());
        c.handle(Event::OwnerSaid {
            text: "hello".into(),
            now: berlin(9),
        });
        c.handle(Event::ContextReady(Context::default()));
        let fx = c.handle(Event::ModelFailed {
            error: "the model file is missing".into(),
        });
        assert!(
            matches!(&fx[0], Effect::Record { turns } if turns.len() == 1 && turns[0].content == "hello")
        );
        assert!(matches!(&fx[1], Effect::Reply { text } if text.contains("model file is missing")));
        assert!(c.is_idle());
    }

    #[test]
    fn out_of_order_events_change_nothing() {
        let mut c = Conversation::new("Z", Budget::default());
        assert!(
            c.handle(Event::ModelAnswered {
                text: "unasked".into(),
                tool_calls: Vec::new(),
            })
            .is_empty()
        );
        c.handle(Event::OwnerSaid {
            text: "one".into(),
            now: berlin(9),
        });
        assert!(
            c.handle(Event::OwnerSaid {
                text: "two".into(),
                now: berlin(9),
            })
            .is_empty(),
            "a second message waits for the first"
        );
        assert!(!c.is_idle());
        assert_eq!(
            c.handle(Event::OwnerSaid {
                text: "   ".into(),
                now: berlin(9)
            }),
            []
        );
    }

    #[test]
    fn empty_answers_are_never_shown_as_blank() {
        let mut c = Conversation::new("Z", Budget::default());
        c.handle(Event::OwnerSaid {
            text: "hi".into(),
            now: berlin(9),
        });
        c.handle(Event::ContextReady(Context::default()));
        let fx = c.handle(Event::ModelAnswered {
            text: "  ".into(),
            tool_calls: Vec::new(),
        });
        assert!(matches!(&fx[1], Effect::Reply { text } if text.contains("empty answer")));
    }

    #[test]
    fn history_keeps_the_newest_turns_within_budget_starting_with_the_owner() {
        let at = Utc
            .with_ymd_and_hms(2026, 11, 23, 8, 0, 0)
            .single()
            .expect("time");
        let turn = |role, s: &str| Turn {
            role,
            content: s.into(),
            at,
        };
        let ctx = Context {
            history: vec![
                turn(Role::User, &"old question ".repeat(40)),
                turn(Role::Assistant, "old answer"),
                turn(Role::User, "recent question"),
                turn(Role::Assistant, "recent answer"),
            ],
            ..Context::default()
        };
        let budget = Budget {
            context_chars: 1000,
            history_chars: 100,
        };
        let m = messages("Z", berlin(9), &ctx, budget, "now");
        let texts: Vec<&str> = m.iter().skip(1).map(|m| m.content.as_str()).collect();
        // (no context given, so the last message is the owner's words alone)
        assert_eq!(texts, ["recent question", "recent answer", "now"]);
    }

    #[test]
    fn context_is_clipped_to_its_budget() {
        let ctx = Context {
            memories: (0..100)
                .map(|i| memory(&format!("memory number {i} with some words")))
                .collect(),
            ..Context::default()
        };
        let budget = Budget {
            context_chars: 500,
            history_chars: 0,
        };
        let s = context_block(&ctx, berlin(9), budget);
        assert!(s.len() < 600, "{} chars", s.len());
        assert!(s.contains("memory number 0 "), "best memories kept first");
        assert!(!s.contains("memory number 99 "));
    }

    fn call(id: &str, name: &str) -> ToolCall {
        ToolCall {
            id: id.into(),
            name: name.into(),
            arguments: serde_json::json!({"query": "dentist"}),
        }
    }

    fn asked(c: &mut Conversation) {
        c.handle(Event::OwnerSaid {
            text: "when is the dentist?".into(),
            now: berlin(9),
        });
        c.handle(Event::ContextReady(Context::default()));
    }

    #[test]
    fn tool_calls_run_and_their_results_go_back_to_the_model() {
        let mut c = Conversation::new("Z", Budget::default());
        asked(&mut c);
        let fx = c.handle(Event::ModelAnswered {
            text: String::new(),
            tool_calls: vec![call("c1", "memory_search")],
        });
        assert_eq!(
            fx,
            [Effect::RunTools {
                calls: vec![call("c1", "memory_search")]
            }]
        );
        let result = ToolResult::ok(&call("c1", "memory_search"), "Dentist on Tuesday at 9:30");
        let fx = c.handle(Event::ToolsDone {
            results: vec![result],
        });
        let [
            Effect::AskModel {
                messages,
                tools: true,
            },
        ] = fx.as_slice()
        else {
            panic!("expected the model again, got {fx:?}");
        };
        let n = messages.len();
        assert_eq!(messages[n - 2].role, Role::Assistant);
        assert_eq!(messages[n - 2].tool_calls.len(), 1);
        assert_eq!(messages[n - 1].role, Role::Tool);
        assert_eq!(messages[n - 1].tool_call_id.as_deref(), Some("c1"));
        assert_eq!(messages[n - 1].content, "Dentist on Tuesday at 9:30");
        let fx = c.handle(Event::ModelAnswered {
            text: "Tuesday at 9:30.".into(),
            tool_calls: Vec::new(),
        });
        assert_eq!(
            fx[1],
            Effect::Reply {
                text: "Tuesday at 9:30.".into()
            }
        );
        // Only the owner's words and the answer are kept, not the tool rounds.
        assert!(matches!(&fx[0], Effect::Record { turns } if turns.len() == 2));
        assert!(c.is_idle());
    }

    #[test]
    fn a_model_that_keeps_calling_tools_is_stopped_and_must_answer() {
        let mut c = Conversation::new("Z", Budget::default());
        asked(&mut c);
        for step in 0..MAX_TOOL_STEPS {
            let fx = c.handle(Event::ModelAnswered {
                text: String::new(),
                tool_calls: vec![call(&format!("c{step}"), "memory_search")],
            });
            assert!(matches!(fx.as_slice(), [Effect::RunTools { .. }]), "{fx:?}");
            let fx = c.handle(Event::ToolsDone {
                results: vec![ToolResult::ok(
                    &call(&format!("c{step}"), "memory_search"),
                    "nothing",
                )],
            });
            assert!(matches!(
                fx.as_slice(),
                [Effect::AskModel { tools: true, .. }]
            ));
        }
        // Past the limit: asked once more, without tools.
        let fx = c.handle(Event::ModelAnswered {
            text: String::new(),
            tool_calls: vec![call("again", "memory_search")],
        });
        let [
            Effect::AskModel {
                messages,
                tools: false,
            },
        ] = fx.as_slice()
        else {
            panic!("expected a last question without tools, got {fx:?}");
        };
        assert_eq!(
            messages.last().map(|m| m.content.as_str()),
            Some(LAST_ROUND)
        );
        // Even if it asks for tools again, what it wrote is the answer.
        let fx = c.handle(Event::ModelAnswered {
            text: "I could not find it.".into(),
            tool_calls: vec![call("more", "memory_search")],
        });
        assert_eq!(
            fx[1],
            Effect::Reply {
                text: "I could not find it.".into()
            }
        );
        assert!(c.is_idle());
    }

    #[test]
    fn tool_results_out_of_turn_change_nothing() {
        let mut c = Conversation::new("Z", Budget::default());
        assert!(c.handle(Event::ToolsDone { results: vec![] }).is_empty());
        asked(&mut c);
        assert!(c.handle(Event::ToolsDone { results: vec![] }).is_empty());
        assert!(!c.is_idle(), "still waiting for the model");
    }

    fn turns(n: usize, len: usize) -> Vec<(i64, Turn)> {
        (0..n)
            .map(|i| {
                (
                    i as i64 + 10,
                    Turn {
                        role: if i % 2 == 0 {
                            Role::User
                        } else {
                            Role::Assistant
                        },
                        content: format!("{i:02} {}", "x".repeat(len.saturating_sub(3))),
                        at: Utc
                            .with_ymd_and_hms(2026, 11, 23, 9, 0, 0)
                            .single()
                            .expect("t"),
                    },
                )
            })
            .collect()
    }

    #[test]
    fn old_turns_beyond_the_budget_are_folded_never_dropped() {
        let budget = Budget {
            context_chars: 3000,
            history_chars: 300,
        };
        // 10 turns of 100 chars: 3 fit, 7 are folded.
        let all = turns(10, 100);
        let (upto, fold) = plan_fold(&all, budget).expect("a fold");
        assert_eq!(fold.len(), 7);
        assert_eq!(upto, 16, "the id of the last folded turn");
        assert!(fold[0].content.starts_with("00"));
        // Too few to be worth a fold.
        assert_eq!(plan_fold(&turns(5, 100), budget), None);
        assert_eq!(plan_fold(&[], budget), None);
    }

    #[test]
    fn the_fallback_summary_keeps_every_turn_and_stays_bounded() {
        let fold: Vec<Turn> = turns(4, 40).into_iter().map(|(_, t)| t).collect();
        let s = fallback_summary(Some("- You: planned the marathon"), &fold);
        assert!(s.starts_with("- You: planned the marathon"), "{s}");
        for i in 0..4 {
            assert!(s.contains(&format!("{i:02} ")), "turn {i} missing: {s}");
        }
        let long: Vec<Turn> = turns(200, 100).into_iter().map(|(_, t)| t).collect();
        let s = fallback_summary(None, &long);
        assert!(s.len() <= SUMMARY_CHARS + 4, "{}", s.len());
        assert!(s.contains("199 "), "the newest part is kept: {s}");
    }

    #[test]
    fn the_summary_goes_into_the_prompt() {
        let ctx = Context {
            summary: Some("You asked about the Berlin offer; Z suggested a pro/con list.".into()),
            ..Context::default()
        };
        let m = messages("Z", berlin(9), &ctx, Budget::default(), "and now?");
        let last = &m.last().expect("user").content;
        assert!(
            last.contains("Earlier in our conversation:\nYou asked about the Berlin offer"),
            "{last}"
        );
        let p = summary_prompt(
            Some("old"),
            &[Turn {
                role: Role::User,
                content: "I took the job".into(),
                at: Utc
                    .with_ymd_and_hms(2026, 11, 23, 9, 0, 0)
                    .single()
                    .expect("t"),
            }],
        );
        assert!(
            p[1].content.contains("Summary so far:\nold")
                && p[1].content.contains("Owner: I took the job")
        );
    }
}
