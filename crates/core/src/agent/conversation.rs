//! The conversation as a state machine: events in (the owner spoke,
//! context arrived, the model answered, tools ran), effects out (gather
//! context, ask the model, run tools, record, reply). No I/O.

use super::*;

/// Tool rounds one message may take before the model must answer.
pub const MAX_TOOL_STEPS: usize = 4;

/// Something that happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The owner said something.
    OwnerSaid { text: String, now: DateTime<Tz> },
    /// The context asked for by [`Effect::GatherContext`].
    ContextReady(Context),
    /// The model's whole answer, and the tools it asked for (if any).
    ModelAnswered {
        text: String,
        tool_calls: Vec<ToolCall>,
    },
    /// The model could not answer.
    ModelFailed { error: String },
    /// The results of [`Effect::RunTools`], one per call.
    ToolsDone { results: Vec<ToolResult> },
}

/// Something to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Find memories for `query`, render the project tree, read about-me,
    /// preferences and this channel's recent turns.
    GatherContext { query: String },
    /// Send these messages to the chat model, offering the tools when
    /// `tools` is set (and the model supports them).
    AskModel {
        messages: Vec<ChatMessage>,
        tools: bool,
    },
    /// Run these tool calls (checking each against its schema and tier).
    RunTools { calls: Vec<ToolCall> },
    /// Show this to the owner.
    Reply { text: String },
    /// Store these turns in the channel's history.
    Record { turns: Vec<Turn> },
}

#[derive(Debug, Clone, PartialEq)]
enum State {
    Idle,
    Gathering {
        text: String,
        now: DateTime<Tz>,
    },
    Asking {
        text: String,
        now: DateTime<Tz>,
        messages: Vec<ChatMessage>,
        steps: usize,
    },
    RunningTools {
        text: String,
        now: DateTime<Tz>,
        messages: Vec<ChatMessage>,
        steps: usize,
    },
}

/// One conversation's state machine.
#[derive(Debug, Clone)]
pub struct Conversation {
    persona: String,
    budget: Budget,
    state: State,
}

/// Told to the model when its tool rounds are used up.
pub(crate) const LAST_ROUND: &str =
    "You have used all your tool calls for this message. Answer now with what you found.";

impl Conversation {
    pub fn new(persona: impl Into<String>, budget: Budget) -> Self {
        Self {
            persona: persona.into(),
            budget,
            state: State::Idle,
        }
    }

    /// True when no message is being handled.
    pub fn is_idle(&self) -> bool {
        self.state == State::Idle
    }

    /// Advances on `event`. Events that make no sense now (an answer
    /// nobody asked for, a second message while one is handled) change
    /// nothing and produce no effect.
    pub fn handle(&mut self, event: Event) -> Vec<Effect> {
        match (std::mem::replace(&mut self.state, State::Idle), event) {
            (State::Idle, Event::OwnerSaid { text, now }) => {
                let text = text.trim().to_owned();
                if text.is_empty() {
                    return vec![Effect::Reply {
                        text: "Say something and I'll answer.".into(),
                    }];
                }
                self.state = State::Gathering {
                    text: text.clone(),
                    now,
                };
                vec![Effect::GatherContext { query: text }]
            }
            (State::Gathering { text, now }, Event::ContextReady(ctx)) => {
                let messages = messages(&self.persona, now, &ctx, self.budget, &text);
                self.state = State::Asking {
                    text,
                    now,
                    messages: messages.clone(),
                    steps: 0,
                };
                vec![Effect::AskModel {
                    messages,
                    tools: true,
                }]
            }
            (
                State::Asking {
                    text,
                    now,
                    mut messages,
                    steps,
                },
                Event::ModelAnswered {
                    text: answer,
                    tool_calls,
                },
            ) if !tool_calls.is_empty() && steps <= MAX_TOOL_STEPS => {
                if steps == MAX_TOOL_STEPS {
                    // Out of rounds: one last question, without tools.
                    messages.push(ChatMessage::new(Role::User, LAST_ROUND));
                    self.state = State::Asking {
                        text,
                        now,
                        messages: messages.clone(),
                        steps: steps + 1,
                    };
                    return vec![Effect::AskModel {
                        messages,
                        tools: false,
                    }];
                }
                messages.push(ChatMessage::tool_request(answer, tool_calls.clone()));
                self.state = State::RunningTools {
                    text,
                    now,
                    messages,
                    steps,
                };
                vec![Effect::RunTools { calls: tool_calls }]
            }
            (
                State::RunningTools {
                    text,
                    now,
                    mut messages,
                    steps,
                },
                Event::ToolsDone { results },
            ) => {
                messages.extend(results.iter().map(ChatMessage::tool_result));
                self.state = State::Asking {
                    text,
                    now,
                    messages: messages.clone(),
                    steps: steps + 1,
                };
                vec![Effect::AskModel {
                    messages,
                    tools: true,
                }]
            }
            (State::Asking { text, now, .. }, Event::ModelAnswered { text: answer, .. }) => {
                let answer = answer.trim().to_owned();
                let answer = if answer.is_empty() {
                    "(The model gave an empty answer. Try asking again, or another way.)".to_owned()
                } else {
                    answer
                };
                let at = now.with_timezone(&Utc);
                vec![
                    Effect::Record {
                        turns: vec![
                            Turn {
                                role: Role::User,
                                content: text,
                                at,
                            },
                            Turn {
                                role: Role::Assistant,
                                content: answer.clone(),
                                at,
                            },
                        ],
                    },
                    Effect::Reply { text: answer },
                ]
            }
            (State::Asking { text, now, .. }, Event::ModelFailed { error }) => {
                // The owner's words are kept even though nobody answered.
                vec![
                    Effect::Record {
                        turns: vec![Turn {
                            role: Role::User,
                            content: text,
                            at: now.with_timezone(&Utc),
                        }],
                    },
                    Effect::Reply {
                        text: format!("I could not answer: {error}"),
                    },
                ]
            }
            (state, _) => {
                self.state = state;
                Vec::new()
            }
        }
    }
}
