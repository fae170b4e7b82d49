//! `openzero bench memory` runs end to end and prints each figure beside
//! its baseline (pgvector here; the Python baseline needs torch and is run
//! by scripts/bench, not by the test suite).

use crate::common;

use common::Oz;

#[tokio::test]
async fn bench_memory_prints_figures_beside_pgvector() {
    let Ok(model) = std::env::var("OPENZERO_TEST_MINILM_DIR") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "OPENZERO_TEST_MINILM_DIR must be set in CI"
        );
        eprintln!("skipped: OPENZERO_TEST_MINILM_DIR not set");
        return;
    };
    let Ok(admin) = std::env::var(openzero_store_postgres::testing::ENV) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "the PostgreSQL server must run in CI"
        );
        eprintln!("skipped: no PostgreSQL test server");
        return;
    };
    let oz = Oz::new();
    let out = oz
        .cmd()
        .env("OPENZERO__MEMORY__MODEL_DIR", &model)
        .args([
            "bench",
            "memory",
            "--quick",
            "--sizes",
            "300",
            "--queries",
            "20",
            "--import",
            "40",
            "--postgres",
            &admin,
            "--json",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let figures = report["figures"].as_array().unwrap();
    let find = |m: &str| {
        figures
            .iter()
            .find(|f| f["measure"] == m)
            .unwrap_or_else(|| panic!("no figure '{m}' in {figures:?}"))
    };
    for m in ["short sentences, batch 1", "128-token paragraphs, batch 32"] {
        assert!(find(m)["openzero"].as_f64().unwrap() > 0.0);
    }
    for m in ["dense, 300, p50", "dense, 300, p99", "hybrid, 300, p99"] {
        let f = find(m);
        assert!(f["openzero"].as_f64().unwrap() > 0.0, "{f}");
        assert!(
            f["baseline"].as_f64().unwrap() > 0.0,
            "pgvector measured: {f}"
        );
        assert_eq!(f["baseline_name"], "pgvector (exact)");
    }
    let imported = find("import 40 memories (SQLite, embedded)");
    assert!(imported["openzero"].as_f64().unwrap() > 0.0);
    let notes: Vec<&str> = report["notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n.as_str())
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.contains("in-process dense recall@10 vs brute force: 1.000")),
        "exact recall: {notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.contains("pgvector dense recall@10 vs brute force: 1.000")),
        "{notes:?}"
    );
    assert!(notes.iter().any(|n| n.starts_with("peak RSS")), "{notes:?}");
    // With ONNX Runtime beside the model (scripts/test puts it there), it
    // is the engine, in int8 (the default), and f32 and candle are
    // measured beside it.
    if std::env::var_os("OPENZERO_TEST_ONNXRUNTIME").is_some() {
        assert!(
            notes.contains(&"embedding engine: onnxruntime int8"),
            "{notes:?}"
        );
        for other in [
            "short sentences, batch 32 (candle)",
            "short sentences, batch 32 (onnxruntime f32)",
        ] {
            assert!(find(other)["openzero"].as_f64().unwrap() > 0.0, "{other}");
        }
    }
}

#[test]
fn bench_llm_prints_decode_and_first_token_beside_llamacpp() {
    let (Ok(model), Ok(server)) = (
        std::env::var("OPENZERO_TEST_CHAT_MODEL"),
        std::env::var("OPENZERO_TEST_LLAMACPP_URL"),
    ) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "the chat model and the llama.cpp server must be set up in CI"
        );
        eprintln!("skipped: OPENZERO_TEST_CHAT_MODEL / OPENZERO_TEST_LLAMACPP_URL not set");
        return;
    };
    let oz = Oz::new();
    let out = oz
        .cmd()
        .env("OPENZERO__LLM__MODEL", &model)
        .timeout(std::time::Duration::from_secs(300))
        .args([
            "bench",
            "llm",
            "--tokens",
            "12",
            "--runs",
            "1",
            "--threads",
            "2",
            "--llamacpp",
            &server,
            "--json",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let figures = report["figures"].as_array().unwrap();
    for (measure, unit) in [
        ("decode, 12 tokens", "tokens/s"),
        ("time to first token", "ms"),
    ] {
        let f = figures
            .iter()
            .find(|f| f["measure"] == measure)
            .unwrap_or_else(|| panic!("no '{measure}' in {figures:?}"));
        assert_eq!(f["unit"], unit);
        assert!(f["openzero"].as_f64().unwrap() > 0.0, "{f}");
        assert!(
            f["baseline"].as_f64().unwrap() > 0.0,
            "baseline measured: {f}"
        );
    }
}

#[test]
fn bench_footprint_loads_the_embedder_and_reports_resident_memory() {
    let Ok(model) = std::env::var("OPENZERO_TEST_MINILM_DIR") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "OPENZERO_TEST_MINILM_DIR must be set in CI"
        );
        return;
    };
    let oz = Oz::new();
    let out = oz
        .cmd()
        .env("OPENZERO__MEMORY__MODEL_DIR", &model)
        .args(["bench", "footprint", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let figures = report["figures"].as_array().unwrap();
    let mb = |i: usize| figures[i]["openzero"].as_f64().unwrap();
    // The model's weights alone are about 90 MB: a figure below that
    // means the embedder was not loaded.
    assert!(mb(0) > 90.0 && mb(1) >= mb(0), "{report}");
    let notes = report["notes"].to_string();
    assert!(notes.contains("goals: idle"), "{notes}");
    // Without a model the benchmark says why instead of measuring nothing.
    oz.cmd()
        .env("OPENZERO__MEMORY__MODEL_DIR", "/nonexistent")
        .args(["bench", "footprint"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("embedding model is missing"));
}

#[test]
fn bench_calendar_prints_a_year_of_1000_events_beside_the_reference() {
    let oz = Oz::new();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/calendar-reference"
    );
    let out = oz
        .cmd()
        // The reference needs PATH (bash, python3) and the shared cache
        // where its pinned venv is built.
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env(
            "OPENZERO_CACHE",
            std::env::var_os("OPENZERO_CACHE").unwrap_or_else(|| {
                std::path::Path::new(&std::env::var_os("HOME").unwrap_or_default())
                    .join(".cache/openzero")
                    .into_os_string()
            }),
        )
        .args([
            "bench",
            "calendar",
            "--repeat",
            "1",
            "--json",
            "--reference",
            script,
        ])
        .timeout(std::time::Duration::from_secs(300))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let f = &v["figures"][0];
    assert!(
        f["measure"]
            .as_str()
            .unwrap()
            .contains("1,000 events, 200 recurring"),
        "{v}"
    );
    assert!(f["openzero"].as_f64().unwrap() > 0.0, "{v}");
    let notes: Vec<&str> = v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    // Both sides expand the same calendar to the same number of occurrences.
    let ours = notes
        .iter()
        .find(|n| n.contains("occurrences in Europe/Berlin"))
        .unwrap();
    let count = ours.split(": ").nth(1).unwrap().split(' ').next().unwrap();
    if f["baseline"].is_null() {
        assert!(
            std::env::var_os("CI").is_none(),
            "no reference measured: {notes:?}"
        );
        return;
    }
    assert!(
        notes
            .iter()
            .any(|n| n.contains(&format!("the reference found {count} occurrences"))),
        "{notes:?}"
    );
}

#[test]
fn bench_boards_lists_a_board_of_1000_cards() {
    let oz = Oz::new();
    let out = oz
        .cmd()
        .args(["bench", "boards", "--repeat", "3", "--json"])
        .timeout(std::time::Duration::from_secs(300))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let f = &v["figures"][0];
    assert!(
        f["measure"]
            .as_str()
            .unwrap()
            .contains("board of 1000 cards"),
        "{v}"
    );
    assert!(f["openzero"].as_f64().unwrap() > 0.0, "{v}");
}

#[test]
fn bench_training_times_a_fit_import_and_the_metrics() {
    let oz = Oz::new();
    let out = oz
        .cmd()
        // python3 without fitdecode: the FIT reference is not measured
        // (a note says why), the metrics reference needs only Python.
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .args([
            "bench",
            "training",
            "--hours",
            "1",
            "--years",
            "1",
            "--samples-per-run",
            "60",
            "--repeat",
            "1",
            "--python",
            "python3",
            "--json",
        ])
        .timeout(std::time::Duration::from_secs(300))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let figures = v["figures"].as_array().unwrap();
    let find = |m: &str| {
        figures
            .iter()
            .find(|f| f["measure"].as_str().unwrap().contains(m))
            .unwrap_or_else(|| panic!("no figure '{m}' in {figures:?}"))
    };
    for m in [
        "3600 records",
        "`training import` into SQLite",
        "`training metrics` + `training goal`",
    ] {
        assert!(find(m)["openzero"].as_f64().unwrap() > 0.0, "{v}");
    }
    assert_eq!(find("parse + figures")["goal"], 200.0);
    assert_eq!(find("in memory")["goal"], 50.0);
    let notes: Vec<&str> = v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    // The generated file reads back whole: an hour at 1 Hz, one lap.
    assert!(
        notes
            .iter()
            .any(|n| n.contains("OpenZero read 3600 samples and 1 laps")),
        "{notes:?}"
    );
    // Python computes the same form, volume and race-day projection.
    let same: Vec<_> = notes
        .iter()
        .filter(|n| n.contains("the reference's CTL"))
        .collect();
    assert_eq!(same.len(), 2, "{notes:?}");
    assert!(
        same.iter().all(|n| n.ends_with("the same figures")),
        "{notes:?}"
    );
}
