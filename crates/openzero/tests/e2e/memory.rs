//! `openzero memory` end to end with the real MiniLM model, on SQLite and
//! PostgreSQL, and what happens when the model is missing.

use crate::common;

use common::Oz;
use predicates::prelude::*;

fn with_model(oz: &Oz, model: &str, db: Option<&str>, args: &[&str]) -> assert_cmd::assert::Assert {
    let mut c = oz.cmd();
    c.env("OPENZERO__MEMORY__MODEL_DIR", model).args(args);
    if let Some(url) = db {
        c.env("DATABASE_URL", url);
    }
    c.assert()
}

fn search_json(oz: &Oz, model: &str, db: Option<&str>, args: &[&str]) -> Vec<serde_json::Value> {
    let mut a = vec!["memory", "search"];
    a.extend_from_slice(args);
    a.push("--json");
    let out = with_model(oz, model, db, &a)
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice::<serde_json::Value>(&out)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn journey(oz: &Oz, model: &str, db: Option<&str>) {
    let add = |args: &[&str]| {
        let mut a = vec!["memory", "add"];
        a.extend_from_slice(args);
        with_model(oz, model, db, &a).success()
    };
    add(&["Dentist appointment on Tuesday at 9:30", "--id", "dent-1"])
        .stdout(predicate::str::contains("Remembered #1"));
    add(&["Anna's birthday is on 12 May", "--source", "family"]);
    add(&[
        "Ran 10k in 52:10, legs felt heavy",
        "--source",
        "strava",
        "--at",
        "2026-03-29",
    ]);
    add(&[
        "The tax return for the freelance work is due next week",
        "--source",
        "email",
    ]);
    add(&["Dentist appointment on Tuesday at 9:30", "--id", "dent-1"])
        .stdout(predicate::str::contains("Already remembered as #1"));

    // By meaning: no word in common with the memory.
    let hits = search_json(oz, model, db, &["when do I see the doctor for my teeth"]);
    assert_eq!(
        hits[0]["text"], "Dentist appointment on Tuesday at 9:30",
        "{hits:?}"
    );
    assert_eq!(hits[0]["external_id"], "dent-1");
    assert_eq!(hits[0]["source"], "cli");
    assert!(hits[0]["score"].as_f64().unwrap() > 0.0);
    assert!(hits[0]["created_at"].as_str().unwrap().contains('T'));
    // By words, and nothing for the unrelated.
    let hits = search_json(oz, model, db, &["freelance"]);
    assert_eq!(hits[0]["source"], "email");
    assert!(search_json(oz, model, db, &["quantum chromodynamics lecture"]).is_empty());
    // Filters: source and a date in the owner's time zone.
    let hits = search_json(oz, model, db, &["my run", "--source", "strava"]);
    assert_eq!(hits.len(), 1);
    let hits = search_json(oz, model, db, &["my run", "--until", "2026-03-28"]);
    assert!(hits.iter().all(|h| h["source"] != "strava"), "{hits:?}");
    let hits = search_json(
        oz,
        model,
        db,
        &["my run", "--since", "2026-03-29", "--until", "2026-03-29"],
    );
    assert_eq!(hits.len(), 1, "{hits:?}");

    with_model(oz, model, db, &["memory", "stats", "--json"])
        .success()
        .stdout(predicate::str::contains("\"total\": 4"))
        .stdout(predicate::str::contains("\"backlog\": 0"));

    with_model(oz, model, db, &["memory", "forget", "1"])
        .success()
        .stdout(predicate::str::contains("Forgot #1"));
    let hits = search_json(oz, model, db, &["dentist appointment teeth"]);
    assert!(
        hits.iter().all(|h| h["id"] != 1),
        "forgotten memory came back: {hits:?}"
    );
    with_model(oz, model, db, &["memory", "forget", "1"])
        .code(1)
        .stderr(predicate::str::contains("memory #1 does not exist"));
}

#[test]
fn remember_search_by_meaning_and_forget_on_sqlite() {
    let Some(model) = common::minilm() else {
        return;
    };
    journey(&Oz::new(), &model, None);
}

#[tokio::test]
async fn remember_search_by_meaning_and_forget_on_postgres() {
    let Some(model) = common::minilm() else {
        return;
    };
    let Some(url) = openzero_store_postgres::testing::fresh_database_url().await else {
        return;
    };
    journey(&Oz::new(), &model, Some(&url));
}

#[test]
fn both_engines_give_the_same_vectors_so_memories_stay_searchable_across_them() {
    let Some(model) = common::minilm() else {
        return;
    };
    if std::env::var_os("OPENZERO_TEST_ONNXRUNTIME").is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "ONNX Runtime must be tested in CI"
        );
        return;
    }
    let oz = Oz::new();
    // "onnxruntime" in f32 (exact), "int8" on ONNX Runtime, or "candle".
    let on = |engine: &str, args: &[&str]| {
        let mut c = oz.cmd();
        let (runtime, precision) = match engine {
            "int8" => ("onnxruntime", "int8"),
            other => (other, "f32"),
        };
        c.env("OPENZERO__MEMORY__MODEL_DIR", &model)
            .env("OPENZERO__MEMORY__RUNTIME", runtime)
            .env("OPENZERO__MEMORY__PRECISION", precision)
            .args(args);
        c.assert().success().get_output().stdout.clone()
    };
    // Stored by ONNX Runtime...
    for text in [
        "Dentist appointment on Tuesday at 9:30",
        "Anna's birthday is on 12 May",
        "The long run on Sunday is 18 km",
    ] {
        on("onnxruntime", &["memory", "add", text]);
    }
    // ...found the same way by either engine's query vector.
    let search = |engine: &str| -> Vec<(String, f64)> {
        let out = on(
            engine,
            &["memory", "search", "when do I see the dentist", "--json"],
        );
        serde_json::from_slice::<Vec<serde_json::Value>>(&out)
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["text"].as_str().unwrap().to_owned(),
                    r["score"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    let (ort, candle) = (search("onnxruntime"), search("candle"));
    assert_eq!(ort[0].0, "Dentist appointment on Tuesday at 9:30");
    let texts = |r: &[(String, f64)]| r.iter().map(|(t, _)| t.clone()).collect::<Vec<_>>();
    assert_eq!(texts(&ort), texts(&candle));
    for ((_, a), (_, b)) in ort.iter().zip(&candle) {
        assert!((a - b).abs() < 1e-3, "scores differ: {ort:?} vs {candle:?}");
    }
    // int8 (the default) finds the f32 vectors in the same order, its
    // scores a little off.
    let int8 = search("int8");
    assert_eq!(texts(&int8), texts(&ort));
    for ((_, a), (_, b)) in ort.iter().zip(&int8) {
        assert!((a - b).abs() < 0.03, "scores differ: {ort:?} vs {int8:?}");
    }
}

#[test]
fn missing_model_keeps_the_text_and_says_so_then_reindex_catches_up() {
    let Some(model) = common::minilm() else {
        return;
    };
    let oz = Oz::new();
    let nowhere = oz.home.join("no-model");
    let nowhere = nowhere.to_str().unwrap();
    with_model(
        &oz,
        nowhere,
        None,
        &["memory", "add", "The spare key is under the blue flowerpot"],
    )
    .success()
    .stdout(predicate::str::contains("Remembered #1"))
    .stderr(predicate::str::contains("stored without a vector"))
    .stderr(predicate::str::contains("scripts/fetch-models"));
    with_model(&oz, nowhere, None, &["memory", "stats"])
        .success()
        .stdout(predicate::str::contains("backlog:   1"));
    with_model(&oz, nowhere, None, &["memory", "search", "flowerpot"])
        .success()
        .stdout(predicate::str::contains("spare key"))
        .stderr(predicate::str::contains("searched by words only"));
    with_model(&oz, nowhere, None, &["memory", "reindex"])
        .code(1)
        .stderr(predicate::str::contains("cannot reindex"));

    with_model(&oz, &model, None, &["memory", "reindex"])
        .success()
        .stdout(predicate::str::contains("Embedded 1 memories"));
    with_model(&oz, &model, None, &["memory", "stats"])
        .success()
        .stdout(predicate::str::contains("backlog:   0"));
    let hits = search_json(&oz, &model, None, &["where did I hide the house key"]);
    assert_eq!(hits[0]["id"], 1, "found by meaning after reindex: {hits:?}");
}

#[test]
fn import_reports_bad_lines_is_idempotent_and_export_round_trips() {
    let Some(model) = common::minilm() else {
        return;
    };
    let oz = Oz::new();
    let file = oz.work.join("in.jsonl");
    std::fs::write(
        &file,
        concat!(
            "{\"text\": \"Bought running shoes, size 44\", \"source\": \"shopping\", \"id\": \"s-1\"}\n",
            "{\"text\": \"Mother's phone number changed\", \"created_at\": \"2026-02-01T10:00:00Z\", \"metadata\": {\"who\": \"mum\"}}\n",
            "this is not json\n",
            "\n",
            "{\"txt\": \"wrong field\"}\n",
            "{\"text\": \"   \"}\n",
            "{\"text\": \"Book the summer holiday in August\"}\n",
        ),
    )
    .unwrap();
    let f = file.to_str().unwrap();
    with_model(&oz, &model, None, &["memory", "import", f])
        .success()
        .stdout(predicate::str::contains(
            "Imported 3 new memories (0 already present, 3 lines skipped)",
        ))
        .stderr(predicate::str::contains("line 3: skipped"))
        .stderr(predicate::str::contains("line 5: skipped"))
        .stderr(predicate::str::contains("line 6: skipped"));
    with_model(&oz, &model, None, &["memory", "import", f])
        .success()
        .stdout(predicate::str::contains(
            "Imported 0 new memories (3 already present",
        ));

    let out = oz.work.join("out.jsonl");
    with_model(
        &oz,
        &model,
        None,
        &["memory", "export", out.to_str().unwrap()],
    )
    .success();
    let exported = std::fs::read_to_string(&out).unwrap();
    assert_eq!(exported.lines().count(), 3);
    assert!(
        exported.contains("\"id\":\"s-1\"") && exported.contains("\"who\":\"mum\""),
        "{exported}"
    );

    // Into a second data directory, through the same import.
    let other = Oz::new();
    with_model(
        &other,
        &model,
        None,
        &["memory", "import", out.to_str().unwrap()],
    )
    .success()
    .stdout(predicate::str::contains("Imported 3 new memories"));
    let again = other.work.join("again.jsonl");
    with_model(
        &other,
        &model,
        None,
        &["memory", "export", again.to_str().unwrap()],
    )
    .success();
    assert_eq!(std::fs::read_to_string(&again).unwrap(), exported);
    let hits = search_json(&other, &model, None, &["sneakers"]);
    assert_eq!(hits[0]["external_id"], "s-1", "{hits:?}");
}

#[test]
fn batch_search_answers_one_json_line_per_query_in_order() {
    let Some(model) = common::minilm() else {
        return;
    };
    let oz = Oz::new();
    let mems = oz.work.join("m.jsonl");
    std::fs::write(
        &mems,
        concat!(
            "{\"text\": \"Dentist appointment on Tuesday at 9:30\", \"id\": \"dent\"}\n",
            "{\"text\": \"Ran 10k in 52:10, legs felt heavy\", \"id\": \"run\"}\n",
            "{\"text\": \"The tax return for the freelance work is due next week\", \"id\": \"tax\"}\n",
        ),
    )
    .unwrap();
    with_model(
        &oz,
        &model,
        None,
        &["memory", "import", mems.to_str().unwrap()],
    )
    .success();
    let queries = oz.work.join("q.jsonl");
    std::fs::write(
        &queries,
        concat!(
            "{\"id\": \"q1\", \"query\": \"when do I see the doctor for my teeth\"}\n",
            "not json\n",
            "{\"id\": 2, \"query\": \"how was my jog\"}\n",
            "\n",
            "{\"id\": \"q3\", \"query\": \"paying taxes\"}\n",
        ),
    )
    .unwrap();
    let out = with_model(
        &oz,
        &model,
        None,
        &[
            "memory",
            "search",
            "--queries",
            queries.to_str().unwrap(),
            "-k",
            "2",
            "--json",
        ],
    )
    .success()
    .stderr(predicate::str::contains("line 2: skipped"))
    .get_output()
    .stdout
    .clone();
    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    let expect = [("q1", "dent"), ("2", "run"), ("q3", "tax")];
    for (line, (qid, top)) in lines.iter().zip(expect) {
        let id = match &line["id"] {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        assert_eq!(id, qid);
        let results = line["results"].as_array().unwrap();
        assert!(!results.is_empty() && results.len() <= 2, "{line}");
        assert_eq!(results[0]["external_id"], top, "{line}");
        for f in ["id", "score", "text", "created_at"] {
            assert!(!results[0][f].is_null(), "{f} missing in {line}");
        }
    }
}
