//! The qwen2 family: a tiny random-weight Qwen2 GGUF (scripts/make-test-qwen2;
//! no small real one is on PyPI) continues a prompt exactly as llama.cpp
//! does on the same file, step for step, and our tokenizer reads the prompt
//! as llama.cpp did.

use std::path::PathBuf;

use openzero_llm::embedded::EmbeddedModel;

/// The GGUF and llama.cpp's answer, prepared by scripts/test; required in CI.
fn model_path() -> Option<PathBuf> {
    match std::env::var("OPENZERO_TEST_QWEN2_MODEL") {
        Ok(p) => Some(PathBuf::from(p)),
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "OPENZERO_TEST_QWEN2_MODEL must be set in CI (scripts/test sets it)"
            );
            eprintln!("skipped: OPENZERO_TEST_QWEN2_MODEL not set");
            None
        }
    }
}

fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

#[test]
fn a_qwen2_model_continues_exactly_as_llama_cpp_does() {
    let Some(path) = model_path() else { return };
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path.with_extension("json")).unwrap())
            .unwrap();
    let m = EmbeddedModel::load(&path, 2).unwrap();
    assert_eq!(m.architecture(), "qwen2");
    let prompt_ids = ids(&reference["prompt_ids"]);
    assert_eq!(
        m.token_ids(reference["prompt"].as_str().unwrap()).unwrap(),
        prompt_ids,
        "the prompt tokenizes as in llama.cpp"
    );
    let want = ids(&reference["greedy"]);
    // Compare up to the first step where llama.cpp's top two logits are too
    // close for two correct implementations to agree on (none in practice).
    let reliable = reference["margins"]
        .as_array()
        .unwrap()
        .iter()
        .take_while(|m| m.as_f64().unwrap() > 1e-3)
        .count();
    assert!(
        reliable >= 8,
        "the reference is too close to call: {reference}"
    );
    let got = m.greedy(&prompt_ids, reliable).unwrap();
    assert_eq!(got, want[..reliable], "diverged from llama.cpp");
}
