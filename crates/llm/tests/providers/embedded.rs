//! The embedded provider with the real SmolLM2-135M-Instruct GGUF: it
//! answers offline, streams, uses what the system prompt tells it, and
//! reports bad files and over-long prompts instead of panicking.

use std::path::PathBuf;
use std::sync::OnceLock;

use openzero_core::agent::{ChatMessage, Role};
use openzero_llm::embedded::EmbeddedModel;
use openzero_llm::{ChatModel, ChatRequest, Finish, LlmError, Locality};

/// The GGUF file scripts/test prepared; required in CI.
fn model_path() -> Option<PathBuf> {
    match std::env::var("OPENZERO_TEST_CHAT_MODEL") {
        Ok(p) => Some(PathBuf::from(p)),
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "OPENZERO_TEST_CHAT_MODEL must be set in CI (scripts/test sets it)"
            );
            eprintln!("skipped: OPENZERO_TEST_CHAT_MODEL not set");
            None
        }
    }
}

fn model() -> Option<&'static EmbeddedModel> {
    static MODEL: OnceLock<EmbeddedModel> = OnceLock::new();
    let path = model_path()?;
    Some(MODEL.get_or_init(|| EmbeddedModel::load(&path, 2).unwrap()))
}

fn ask(system: &str, user: &str, max_tokens: usize) -> ChatRequest {
    ChatRequest {
        messages: vec![
            ChatMessage::new(Role::System, system),
            ChatMessage::new(Role::User, user),
        ],
        max_tokens,
        temperature: 0.0,
        tools: Vec::new(),
    }
}

#[tokio::test]
async fn answers_offline_and_knows_it_is_local() {
    let Some(m) = model() else { return };
    assert_eq!(m.info().locality, Locality::Local);
    assert_eq!(m.architecture(), "llama");
    let r = m
        .chat(
            ask(
                "You are a helpful assistant.",
                "What is the capital of France?",
                24,
            ),
            None,
        )
        .await
        .unwrap();
    assert!(r.text.contains("Paris"), "{r:?}");
    assert!(r.completion_tokens > 0 && r.prompt_tokens > 10);
}

#[tokio::test]
async fn uses_the_context_it_is_given() {
    let Some(m) = model() else { return };
    let user = "Here is the list of my projects:\n- Marathon training (active, 40% done)\n\nUsing only this list, what are my projects?";
    let r = m
        .chat(ask("You are Z, the owner's assistant.", user, 40), None)
        .await
        .unwrap();
    assert!(r.text.to_lowercase().contains("marathon"), "{r:?}");
}

#[tokio::test]
async fn streamed_pieces_add_up_to_the_answer() {
    let Some(m) = model() else { return };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let r = m
        .chat(
            ask(
                "You are a helpful assistant.",
                "Count from one to five.",
                30,
            ),
            Some(tx),
        )
        .await
        .unwrap();
    let mut streamed = String::new();
    let mut pieces = 0;
    while let Ok(p) = rx.try_recv() {
        streamed.push_str(&p);
        pieces += 1;
    }
    assert_eq!(streamed, r.text);
    assert!(pieces > 3, "streamed in pieces, not at the end: {pieces}");
    let capped = m
        .chat(
            ask("You are a helpful assistant.", "Write a long story.", 5),
            None,
        )
        .await
        .unwrap();
    assert_eq!(capped.finish, Finish::Length);
    assert_eq!(capped.completion_tokens, 5);
}

#[tokio::test]
async fn a_prompt_longer_than_the_context_is_a_clear_error() {
    let Some(m) = model() else { return };
    let huge = "word ".repeat(6000);
    let err = m.chat(ask("system", &huge, 10), None).await.unwrap_err();
    assert!(matches!(err, LlmError::TooLong { .. }), "{err:?}");
    assert!(err.to_string().contains("too long"), "{err}");
}

#[test]
fn the_models_own_chat_template_is_used() {
    let Some(m) = model() else { return };
    let p = m
        .render(&[
            ChatMessage::new(Role::System, "S"),
            ChatMessage::new(Role::User, "U"),
        ])
        .unwrap();
    assert_eq!(
        p,
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n"
    );
}

#[test]
fn missing_and_corrupt_files_say_how_to_get_a_model() {
    let dir = tempfile::tempdir().unwrap();
    let missing = EmbeddedModel::load(&dir.path().join("none.gguf"), 1).unwrap_err();
    assert!(matches!(missing, LlmError::Missing { .. }), "{missing:?}");
    assert!(missing.to_string().contains("fetch-models"), "{missing}");
    let junk = dir.path().join("junk.gguf");
    std::fs::write(&junk, b"GGUF but not really a model").unwrap();
    let bad = EmbeddedModel::load(&junk, 1).unwrap_err();
    assert!(matches!(bad, LlmError::Invalid { .. }), "{bad:?}");
    assert!(bad.to_string().contains("not a usable GGUF"), "{bad}");
}
