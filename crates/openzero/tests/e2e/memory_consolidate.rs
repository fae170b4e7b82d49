//! `openzero memory consolidate`: near-duplicates and clusters of small
//! memories proposed, applied, hidden from search, undone exactly — with the
//! real MiniLM model, on SQLite and PostgreSQL.

use serde_json::Value;

use crate::common::{self, Oz};

fn run(oz: &Oz, model: &str, db: Option<&str>, args: &[&str]) -> String {
    let mut c = oz.cmd();
    c.env("OPENZERO__MEMORY__MODEL_DIR", model).args(args);
    if let Some(url) = db {
        c.env("DATABASE_URL", url);
    }
    let out = c.assert().success().get_output().stdout.clone();
    String::from_utf8(out).unwrap()
}

fn json(oz: &Oz, model: &str, db: Option<&str>, args: &[&str]) -> Value {
    serde_json::from_str(&run(oz, model, db, args)).unwrap()
}

/// Ids `memory search` returns for `q` among the memories of `day` (one
/// day at a time, so a ranking that folds near-duplicates into one result
/// cannot hide what this test looks for).
fn found(oz: &Oz, model: &str, db: Option<&str>, q: &str, day: &str) -> Vec<i64> {
    let hits = json(
        oz,
        model,
        db,
        &[
            "memory", "search", q, "-k", "10", "--since", day, "--until", day, "--json",
        ],
    );
    hits.as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_i64().unwrap())
        .collect()
}

fn journey(oz: &Oz, model: &str, db: Option<&str>) {
    let add = |text: &str, at: &str| {
        let m = json(
            oz,
            model,
            db,
            &["memory", "add", text, "--at", at, "--json"],
        );
        m["id"].as_i64().unwrap()
    };
    let old = add("My sister Anna moves to Lisbon in June.", "2026-03-01");
    let new = add("My sister Anna is moving to Lisbon in June.", "2026-03-05");
    let bike = add(
        "The bike needs new brake pads before the race.",
        "2026-03-02",
    );
    let parking = [
        add("Parking at the office: level 2", "2026-03-03"),
        add("Parking at the office: level 3 on Fridays", "2026-03-04"),
        add("Parking at the office: visitor spot 14", "2026-03-06"),
    ];
    let anna = |day| found(oz, model, db, "sister Anna Lisbon", day);
    let office = |day| found(oz, model, db, "parking at the office", day);
    assert_eq!(
        (anna("2026-03-01"), anna("2026-03-05")),
        (vec![old], vec![new])
    );

    // Stats before: what consolidate would propose, nothing marked yet.
    let st = json(oz, model, db, &["memory", "stats", "--json"]);
    assert_eq!(st["duplicates"]["groups"], 1, "{st}");
    assert_eq!(st["duplicates"]["memories"], 2);
    assert_eq!(st["clusters"], 1);
    assert_eq!(st["unreviewed"], 6);
    assert_eq!(st["oldest_unreviewed"][0]["id"], old, "oldest first");

    // Listing proposes, changes nothing, and marks the bike looked at.
    let plan = json(oz, model, db, &["memory", "consolidate", "--json"]);
    let proposals = plan["proposals"].as_array().unwrap();
    assert_eq!(proposals.len(), 2, "{plan}");
    let dup = proposals
        .iter()
        .find(|p| p["kind"] == "duplicates")
        .unwrap();
    let cluster = proposals.iter().find(|p| p["kind"] == "cluster").unwrap();
    assert_eq!(dup["keep"], new, "the newest is kept");
    let members = |p: &Value| -> Vec<i64> {
        p["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(members(dup), [old, new]);
    assert_eq!(members(cluster), parking);
    assert_eq!(anna("2026-03-01"), [old], "listing changes nothing");
    let st = json(oz, model, db, &["memory", "stats", "--json"]);
    assert_eq!(st["unreviewed"], 5, "the bike was looked at: {st}");
    assert!(
        !st["oldest_unreviewed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == bike)
    );
    let text = run(oz, model, db, &["memory", "consolidate"]);
    assert!(
        text.contains(dup["id"].as_str().unwrap()) && text.contains("keep #"),
        "{text}"
    );

    // Apply the duplicates: search shows one of them.
    let dup_id = dup["id"].as_str().unwrap();
    let applied = json(
        oz,
        model,
        db,
        &["memory", "consolidate", "--apply", dup_id, "--json"],
    );
    let dup_merge = applied[0]["merge"]["id"].as_i64().unwrap();
    assert_eq!(
        (anna("2026-03-01"), anna("2026-03-05")),
        (vec![], vec![new])
    );
    let words = found(oz, model, db, "moves", "2026-03-01");
    assert!(words.is_empty(), "words too: {words:?}");

    // Apply the rest (the cluster): one summary stands for the three.
    let out = run(oz, model, db, &["memory", "consolidate", "--apply"]);
    assert!(out.contains("summarised as #"), "{out}");
    assert!(
        out.contains("texts joined") || out.contains("summarised by the local model"),
        "says how the summary was written: {out}"
    );
    let merges = json(
        oz,
        model,
        db,
        &["memory", "consolidate", "--merges", "--json"],
    );
    let summary = &merges[0];
    assert_eq!(summary["kind"], "summary");
    let summary_id = summary["into_id"].as_i64().unwrap();
    let cluster_merge = summary["id"].as_i64().unwrap();
    // The summary carries the newest member's time.
    assert_eq!(office("2026-03-06"), [summary_id]);
    assert!(office("2026-03-03").is_empty() && office("2026-03-04").is_empty());
    let st = json(oz, model, db, &["memory", "stats", "--json"]);
    assert_eq!(st["merged"], 4);
    assert_eq!(st["total"], 7);
    assert_eq!(st["duplicates"]["groups"], 0);

    // Undo both: everything is back as it was, the summary is gone.
    let text = run(
        oz,
        model,
        db,
        &["memory", "consolidate", "--undo", &dup_merge.to_string()],
    );
    assert!(text.contains(&format!("#{old} are back")), "{text}");
    run(
        oz,
        model,
        db,
        &[
            "memory",
            "consolidate",
            "--undo",
            &cluster_merge.to_string(),
        ],
    );
    assert_eq!(
        (anna("2026-03-01"), anna("2026-03-05")),
        (vec![old], vec![new])
    );
    assert_eq!(
        (
            office("2026-03-03"),
            office("2026-03-04"),
            office("2026-03-06")
        ),
        (vec![parking[0]], vec![parking[1]], vec![parking[2]])
    );
    let st = json(oz, model, db, &["memory", "stats", "--json"]);
    assert_eq!(
        (st["total"].as_i64(), st["merged"].as_i64()),
        (Some(6), Some(0))
    );
    // The owner undid them: kept apart, not proposed again.
    let plan = json(oz, model, db, &["memory", "consolidate", "--json"]);
    assert!(plan["proposals"].as_array().unwrap().is_empty(), "{plan}");
    oz.cmd()
        .env("OPENZERO__MEMORY__MODEL_DIR", model)
        .args(["memory", "consolidate", "--undo", "999"])
        .envs(db.map(|u| ("DATABASE_URL", u)))
        .assert()
        .code(1);
}

#[test]
fn consolidate_merges_hides_and_undoes_on_sqlite() {
    let Some(model) = common::minilm() else {
        return;
    };
    journey(&Oz::new(), &model, None);
}

#[tokio::test]
async fn consolidate_merges_hides_and_undoes_on_postgres() {
    let Some(model) = common::minilm() else {
        return;
    };
    let Some(url) = openzero_store_postgres::testing::fresh_database_url().await else {
        return;
    };
    journey(&Oz::new(), &model, Some(&url));
}
