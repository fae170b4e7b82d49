//! Z's tools end to end through `openzero chat` with a model that calls
//! tools (an Ollama-shaped fake speaking `/api/chat` with `tool_calls`):
//! reads and writes run and their results go back to the model; an unknown
//! tool or bad arguments are answered with the reason, not a crash; the
//! write changes the owner's data for real.

use crate::common;

use std::sync::Arc;

use common::Oz;

/// First request: asks for four tools. Any request carrying tool results:
/// answers in words.
async fn fake_tool_model() -> (String, common::Seen) {
    common::ollama(|req| {
        if common::tool_results(req) > 0 {
            serde_json::json!({"role": "assistant", "content": "Dentist: Tuesday 9:30. Career is at 60% now."})
        } else {
            serde_json::json!({"role": "assistant", "content": "", "tool_calls": [
                {"function": {"name": "memory_search", "arguments": {"query": "dentist"}}},
                {"function": {"name": "calendar_delete", "arguments": {}}},
                {"function": {"name": "memory_add", "arguments": {}}},
                {"function": {"name": "project_update", "arguments": {"project": "career", "progress": 60}}}
            ]})
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_run_their_results_go_back_and_bad_calls_are_answered() {
    let (base, seen) = fake_tool_model().await;
    let oz = Oz::new();
    oz.ok(&["init"]);
    oz.ok(&["project", "add", "Career", "--progress", "40"]);
    oz.ok(&["memory", "add", "Dentist appointment on Tuesday at 9:30"]);
    let oz = Arc::new(oz);
    let out = common::chat_with(
        &oz,
        &base,
        &[],
        "when is the dentist? and put Career at 60%",
    )
    .await;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "Dentist: Tuesday 9:30. Career is at 60% now."
    );

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "one round of tools, then the answer");
    let offered: Vec<&str> = seen[0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        offered,
        [
            "memory_search",
            "memory_add",
            "project_tree",
            "project_update",
            "email_search",
            "email_recent",
            "email_rule_propose",
            "calendar_range",
            "calendar_free_slots",
            "task_create",
            "task_move",
            "task_list",
            "training_recent",
            "training_metrics"
        ]
    );
    let results: Vec<(String, String)> = seen[1]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| {
            (
                m["tool_name"].as_str().unwrap().to_owned(),
                m["content"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(results.len(), 4, "{results:?}");
    assert!(
        results[0]
            .1
            .contains("Dentist appointment on Tuesday at 9:30"),
        "{results:?}"
    );
    assert!(
        results[1]
            .1
            .starts_with("error: there is no tool 'calendar_delete'"),
        "{results:?}"
    );
    assert!(
        results[2].1.contains("missing required argument 'text'"),
        "{results:?}"
    );
    assert!(results[3].1.starts_with("Updated #1 Career"), "{results:?}");

    // The write happened for real.
    let list = oz
        .ok(&["project", "list", "--json"])
        .get_output()
        .stdout
        .clone();
    let projects: serde_json::Value = serde_json::from_slice(&list).unwrap();
    assert_eq!(projects[0]["progress"], 60, "{projects}");
}

/// The coach's tools read the owner's runs and form from the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_coach_tools_answer_from_the_runs() {
    let (base, seen) = common::ollama(|req| {
        if common::tool_results(req) > 0 {
            serde_json::json!({"role": "assistant", "content": "You ran 10 km yesterday."})
        } else {
            serde_json::json!({"role": "assistant", "content": "", "tool_calls": [
                {"function": {"name": "training_recent", "arguments": {"limit": 3}}},
                {"function": {"name": "training_metrics", "arguments": {}}}
            ]})
        }
    })
    .await;
    let oz = Oz::new();
    oz.ok(&["init"]);
    let file = oz.work.join("run.gpx");
    std::fs::write(&file, crate::training::recent_run(10.0, 1)).unwrap();
    oz.ok(&["training", "import", file.to_str().unwrap()]);
    let oz = Arc::new(oz);
    common::chat_with(&oz, &base, &[], "how was my running?").await;
    let seen = seen.lock().unwrap().clone();
    let results: Vec<serde_json::Value> = seen[1]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| serde_json::from_str(m["content"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(results.len(), 2, "{results:?}");
    let recent = &results[0]["activities"][0];
    assert!(
        (recent["distance_km"].as_f64().unwrap() - 10.0).abs() < 0.1,
        "{recent}"
    );
    assert_eq!(recent["source"], "file");
    assert_eq!(recent["avg_hr"], 150.0);
    let m = &results[1];
    assert!(m["fitness_ctl"].as_f64().unwrap() > 0.0, "{m}");
    assert!(
        m["fatigue_atl"].as_f64().unwrap() > m["fitness_ctl"].as_f64().unwrap(),
        "{m}"
    );
    assert_eq!(m["weeks"].as_array().unwrap().len(), 4);
}
