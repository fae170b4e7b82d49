//! Memory search that finds what the owner meant: questions asked at a
//! given moment in the owner's zone (Berlin), "when did I …" about dated
//! notes, periods ("last weekend"), facts that changed — through the real
//! CLI and model — and `openzero bench recall` on our cases and on the
//! public RealMem corpus.

use crate::common;

use common::Oz;

fn model_cmd(oz: &Oz, model: &str) -> assert_cmd::Command {
    let mut c = oz.cmd();
    c.env("OPENZERO__MEMORY__MODEL_DIR", model)
        .env("OPENZERO__GENERAL__TIMEZONE", "Europe/Berlin")
        .timeout(std::time::Duration::from_secs(600));
    c
}

/// Imports one JSON line per memory through `memory import`.
fn import(oz: &Oz, model: &str, lines: impl Iterator<Item = serde_json::Value>) {
    let file = oz.work.join("memories.jsonl");
    let lines: Vec<String> = lines.map(|l| l.to_string()).collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    model_cmd(oz, model)
        .args(["memory", "import", file.to_str().unwrap()])
        .assert()
        .success();
}

/// Asks each (id, question, asked at) and returns id → external ids in rank order.
fn ask(
    oz: &Oz,
    model: &str,
    ranking: &str,
    questions: &[(&str, &str, &str)],
) -> std::collections::HashMap<String, Vec<String>> {
    let file = oz.work.join(format!("q-{ranking}.jsonl"));
    let lines: Vec<String> = questions
        .iter()
        .map(|(id, q, at)| serde_json::json!({"id": id, "query": q, "at": at}).to_string())
        .collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    let mut search = model_cmd(oz, model);
    search.args([
        "memory",
        "search",
        "--queries",
        file.to_str().unwrap(),
        "-k",
        "5",
        "--json",
        "--ranking",
        ranking,
    ]);
    common::json_lines(&mut search)
        .into_iter()
        .map(|v| {
            let ids = v["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["external_id"].as_str().unwrap_or("").to_owned())
                .collect();
            (v["id"].as_str().unwrap().to_owned(), ids)
        })
        .collect()
}

#[test]
fn when_did_i_questions_get_the_dated_note_first_in_the_owners_zone() {
    let Some(model) = common::minilm() else {
        return;
    };
    let oz = Oz::new();
    // Times are the owner's (Berlin, CEST in May: UTC+2).
    let notes = [
        (
            "mia-1",
            "2026-02-03T19:10:00+01:00",
            "Talked to my sister Mia about the move to Leipzig; she can lend us boxes.",
        ),
        (
            "mia-2",
            "2026-03-15T20:30:00+01:00",
            "My sister Mia called, we went over the moving van booking for Leipzig.",
        ),
        (
            "mia-3",
            "2026-04-20T18:05:00+02:00",
            "Phone call with my sister Mia about the Leipzig move date: 30 May it is.",
        ),
        (
            "mia-4",
            "2026-05-20T18:00:00+02:00",
            "My sister Mia and I talked about the move again: the van is confirmed.",
        ),
        (
            "fri",
            "2026-05-08T23:30:00+02:00",
            "Late evening: finished the quarterly report draft at home.",
        ),
        (
            "sat",
            "2026-05-09T10:15:00+02:00",
            "Hiked the Malerweg in Saxon Switzerland with Jonas, 18 km.",
        ),
        (
            "sun",
            "2026-05-10T11:30:00+02:00",
            "Brunch at Café Kranz with Lea, then a lazy afternoon in the park.",
        ),
        (
            "mon",
            "2026-05-11T00:30:00+02:00",
            "Could not sleep, watched a documentary about octopuses on the weekend channel.",
        ),
        (
            "bike-1",
            "2026-03-02T20:00:00+01:00",
            "Decided on the bike: I'll buy the Canyon Grizl gravel bike.",
        ),
        (
            "bike-2",
            "2026-04-10T19:30:00+02:00",
            "Changed my mind about the bike: ordering the Cube Nuroad instead.",
        ),
        (
            "run",
            "2026-04-11T08:00:00+02:00",
            "Ran 12 km by the river, calm and easy.",
        ),
        (
            "tax",
            "2026-04-12T09:00:00+02:00",
            "Sent the tax return to the accountant.",
        ),
    ];
    import(
        &oz,
        &model,
        notes.iter().map(|(id, at, text)| {
            serde_json::json!({"id": id, "created_at": at, "text": text, "source": "telegram"})
        }),
    );

    let questions = [
        // Asked on 1 May: the 20 May note does not exist yet.
        (
            "sister",
            "When did I last talk to my sister about the move?",
            "2026-05-01T09:00:00+02:00",
        ),
        // Asked on Wednesday 13 May: Saturday and Sunday, not Friday night,
        // not 00:30 on Monday (still Sunday in UTC).
        (
            "weekend",
            "What did I do last weekend?",
            "2026-05-13T08:00:00+02:00",
        ),
        (
            "bike",
            "Which bike did I decide to buy?",
            "2026-05-13T08:00:00+02:00",
        ),
    ];
    let full = ask(&oz, &model, "full", &questions);
    assert_eq!(full["sister"][0], "mia-3", "{full:?}");
    assert!(
        !full["sister"].contains(&"mia-4".to_owned()),
        "a later note leaked into the past: {full:?}"
    );
    let weekend: Vec<&str> = full["weekend"][..2].iter().map(String::as_str).collect();
    assert!(
        weekend.contains(&"sat") && weekend.contains(&"sun"),
        "{full:?}"
    );
    assert_eq!(
        full["bike"][0], "bike-2",
        "the newer decision comes first: {full:?}"
    );
    assert!(
        full["bike"].contains(&"bike-1".to_owned()),
        "the older one is kept: {full:?}"
    );

    // The plain hybrid ranking, for comparison, does not know the weekend
    // from the other days: this is what the full ranking adds.
    let hybrid = ask(&oz, &model, "hybrid", &questions);
    let plain: Vec<&str> = hybrid["weekend"][..2].iter().map(String::as_str).collect();
    assert!(
        !(plain.contains(&"sat") && plain.contains(&"sun")),
        "{hybrid:?}"
    );
}

#[test]
fn in_an_imported_chat_the_owners_words_come_before_the_assistants_reply() {
    let Some(model) = common::minilm() else {
        return;
    };
    let oz = Oz::new();
    // A chat export: turns a minute apart, who said each in the metadata.
    let turns = [
        (
            "c1:0",
            "2026-03-02T20:00:00Z",
            "User",
            "I think I'll sell my road bike and get a gravel bike for the forest trails.",
        ),
        (
            "c1:1",
            "2026-03-02T20:01:00Z",
            "Assistant",
            "Good choice. Before you buy the gravel bike, decide which frame size, \
             tyres and gearing you want; which bike fits depends on them.",
        ),
        (
            "c2:0",
            "2026-03-20T18:00:00Z",
            "User",
            "Booked the train to Munich for the conference.",
        ),
        (
            "c2:1",
            "2026-03-20T18:01:00Z",
            "Assistant",
            "Have a good trip to Munich and enjoy the conference.",
        ),
    ];
    import(
        &oz,
        &model,
        turns.iter().map(|(id, at, who, text)| {
            serde_json::json!({"id": id, "created_at": at, "text": text, "source": "chat",
                "metadata": {"speaker": who}})
        }),
    );
    let q = [(
        "bike",
        "What did I decide to buy, which bike?",
        "2026-04-01T09:00:00Z",
    )];
    let dense = ask(&oz, &model, "dense", &q);
    assert_eq!(
        dense["bike"][0], "c1:1",
        "by meaning alone the reply, with more of the question's words, comes first: {dense:?}"
    );
    let full = ask(&oz, &model, "full", &q);
    assert_eq!(full["bike"][..2], ["c1:0", "c1:1"], "{full:?}");
}

#[test]
fn bench_recall_compares_the_rankings_on_our_cases_and_on_realmem() {
    let Some(model) = common::minilm() else {
        return;
    };
    let oz = Oz::new();
    let Some(fixtures) = common::fixtures("memory") else {
        return;
    };
    let realmem = fixtures.join("realmem");
    let out = model_cmd(&oz, &model)
        .args([
            "bench",
            "recall",
            "--realmem",
            realmem.to_str().unwrap(),
            "--people",
            "1",
            "--sessions",
            "45",
            "--json",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let eval: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let by = &eval["by_kind"];
    let score =
        |kind: &str, ranking: &str, measure: &str| by[kind][ranking][measure].as_f64().unwrap();
    // RealMem's questions were read, their evidence found in the store.
    let realmem_questions: u64 = [
        "Dynamic Incremental",
        "Dynamic Updating",
        "Implicit Preference",
    ]
    .iter()
    .filter_map(|k| by[*k]["full"]["questions"].as_u64())
    .sum();
    assert!(realmem_questions >= 10, "{eval}");
    assert!(
        score("Dynamic Incremental", "dense", "recall_at_10") > 0.1,
        "{eval}"
    );
    // Our cases: the full ranking puts the dated note, the newer fact and
    // the named period first where the plain rankings do not.
    for kind in ["When did (own)", "Changed facts (own)", "Temporal (own)"] {
        assert!(
            score(kind, "full", "hit_at_1") > score(kind, "hybrid", "hit_at_1"),
            "{kind}: {eval}"
        );
    }
    assert!(
        score("all", "full", "recall_at_10") >= score("all", "hybrid", "recall_at_10"),
        "{eval}"
    );
    // The Markdown table shows the three rankings side by side.
    model_cmd(&oz, &model)
        .args(["bench", "recall", "--no-realmem"])
        .assert()
        .success()
        .stdout(predicates::str::contains("dense / hybrid / full"));
}
