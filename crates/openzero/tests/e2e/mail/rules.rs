//! Rules Z proposes in chat apply only after the owner confirms them.

use super::stdout;
use crate::common::{self, Oz};
use crate::telegram::{OWNER, TOKEN, button, message as update, push, sent_to, start_fake};

use std::time::{Duration, Instant};

/// A local model that proposes one rule, then answers.
async fn proposing_model() -> String {
    common::ollama(|req| {
        if common::tool_results(req) > 0 {
            serde_json::json!({"role": "assistant", "content": "I proposed it; tap Add rule to apply it."})
        } else {
            serde_json::json!({"role": "assistant", "content": "", "tool_calls": [
                {"function": {"name": "email_rule_propose",
                              "arguments": {"sender": "school.example", "subject": "trip", "action": "urgent"}}}]})
        }
    })
    .await
    .0
}

fn rules_json(oz: &Oz) -> Vec<serde_json::Value> {
    serde_json::from_str(&stdout(&oz.ok(&["mail", "rules", "list", "--json"]))).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_z_proposes_applies_only_after_the_owner_taps_add() {
    let (api_url, api) = start_fake().await;
    let model = proposing_model().await;
    let oz = Oz::new();
    oz.ok(&["init"]);
    push(&api, vec![update(1, OWNER, "make school trip mail urgent")]);
    let owner = OWNER.to_string();
    let served = common::serve(
        &oz,
        &[],
        [
            ("TELEGRAM_BOT_TOKEN", TOKEN),
            ("TELEGRAM_ALLOWED_USER_ID", owner.as_str()),
            ("OPENZERO__TELEGRAM__API_BASE_URL", api_url.as_str()),
            ("LLM_PROVIDER", "ollama"),
            ("OLLAMA_BASE_URL", model.as_str()),
            ("OPENZERO__LLM__MODEL", "m"),
        ],
    );
    let wait = |n: usize| {
        let start = Instant::now();
        while sent_to(&api, OWNER).len() < n {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{}",
                served.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait(2);
    let proposal = sent_to(&api, OWNER)
        .into_iter()
        .find(|t| t.starts_with("Add this mail rule?"))
        .unwrap_or_else(|| panic!("{:?}", sent_to(&api, OWNER)));
    assert!(
        proposal.contains("school.example") && proposal.contains("urgent"),
        "{proposal}"
    );
    // Not in force yet.
    assert!(rules_json(&oz).is_empty());
    let calls = api.lock().unwrap().calls.clone();
    let with_buttons = calls
        .iter()
        .find(|(m, p)| {
            m == "sendmessage"
                && p["text"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("Add this mail rule?")
        })
        .unwrap();
    let data = with_buttons.1["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(data.starts_with("ruleadd:"), "{data}");
    push(&api, vec![button(2, 666, &data), button(3, OWNER, &data)]);
    wait(3);
    assert!(
        sent_to(&api, OWNER)
            .iter()
            .any(|t| t.starts_with("Added rule"))
    );
    served.stop();
    let rules = rules_json(&oz);
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!(rules[0]["sender"], "school.example");
    assert_eq!(rules[0]["action"], "urgent");
    // A second tap adds nothing.
    assert!(stdout(&oz.fails(&["mail", "rules", "confirm", &data["ruleadd:".len()..]])).is_empty());
}
