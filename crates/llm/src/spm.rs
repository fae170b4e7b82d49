//! SentencePiece ("llama"-type) tokenizers read from GGUF metadata, as
//! Gemma uses. candle builds only GPT-2 style BPE from GGUF, so this builds
//! the equivalent Hugging Face tokenizer: a BPE whose merges come from the
//! vocabulary scores (a merged piece with a higher score merges first, as
//! llama.cpp's SentencePiece tokenizer does), spaces as `▁`, unknown
//! characters as byte tokens (`<0x41>`), control and user-defined tokens
//! matched whole.

use candle_core::quantized::gguf_file;
use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence as DecoderSequence;
use tokenizers::decoders::strip::Strip;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::normalizers::{Prepend, Replace};
use tokenizers::{AddedToken, DecoderWrapper, NormalizerWrapper, Tokenizer};

/// GGUF token types (llama.cpp's `llama_token_type`).
const NORMAL: i32 = 1;
const CONTROL: i32 = 3;
const USER_DEFINED: i32 = 4;

fn list<'a>(ct: &'a gguf_file::Content, key: &str) -> Result<&'a Vec<gguf_file::Value>, String> {
    ct.metadata
        .get(key)
        .ok_or_else(|| format!("no {key}"))?
        .to_vec()
        .map_err(|e| format!("{key}: {e}"))
}

/// Builds the tokenizer of a GGUF whose `tokenizer.ggml.model` is `llama`.
pub fn from_gguf(ct: &gguf_file::Content) -> Result<Tokenizer, String> {
    let t0 = std::time::Instant::now();
    let tokens: Vec<String> = list(ct, "tokenizer.ggml.tokens")?
        .iter()
        .map(|v| v.to_string().cloned().map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let scores: Vec<f32> = list(ct, "tokenizer.ggml.scores")?
        .iter()
        .map(|v| v.to_f32().map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let types: Vec<i32> = match list(ct, "tokenizer.ggml.token_type") {
        Ok(v) => v
            .iter()
            .map(|v| v.to_i32().map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?,
        Err(_) => vec![NORMAL; tokens.len()],
    };
    if scores.len() != tokens.len() || types.len() != tokens.len() {
        return Err("tokens, scores and token types differ in length".into());
    }
    let unk = ct
        .metadata
        .get("tokenizer.ggml.unknown_token_id")
        .and_then(|v| v.to_u32().ok())
        .and_then(|id| tokens.get(id as usize).cloned())
        .unwrap_or_else(|| "<unk>".into());
    let add_prefix = ct
        .metadata
        .get("tokenizer.ggml.add_space_prefix")
        .and_then(|v| v.to_bool().ok())
        .unwrap_or(true);

    let vocab: Vocab = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), i as u32))
        .collect();
    // Every way a normal piece splits into two pieces of the vocabulary,
    // ranked by the score of the piece they make (highest first), then by
    // the ids of the halves.
    let mut merges: Vec<(f32, u32, u32, &str, &str)> = Vec::new();
    for (id, piece) in tokens.iter().enumerate() {
        if types[id] != NORMAL || piece.chars().nth(1).is_none() {
            continue;
        }
        for (i, _) in piece.char_indices().skip(1) {
            let (l, r) = piece.split_at(i);
            if let (Some(&a), Some(&b)) = (vocab.get(l), vocab.get(r)) {
                merges.push((scores[id], a, b, l, r));
            }
        }
    }
    merges.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
    let merges: Vec<(String, String)> = merges
        .into_iter()
        .map(|(_, _, _, l, r)| (l.to_owned(), r.to_owned()))
        .collect();

    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .unk_token(unk)
        .fuse_unk(true)
        .byte_fallback(true)
        .build()
        .map_err(|e| format!("BPE: {e}"))?;
    let mut tok = Tokenizer::new(bpe);
    let space = Replace::new(" ", "▁").map_err(|e| format!("normalizer: {e}"))?;
    let normalizer: NormalizerWrapper = if add_prefix {
        tokenizers::normalizers::Sequence::new(vec![Prepend::new("▁".into()).into(), space.into()])
            .into()
    } else {
        space.into()
    };
    tok.with_normalizer(Some(normalizer))
        .map_err(|e| format!("normalizer: {e}"))?;
    let mut decoders: Vec<DecoderWrapper> = vec![
        Replace::new("▁", " ")
            .map_err(|e| format!("decoder: {e}"))?
            .into(),
        ByteFallback::default().into(),
        Fuse::default().into(),
    ];
    if add_prefix {
        decoders.push(Strip::new(' ', 1, 0).into());
    }
    tok.with_decoder(Some(DecoderSequence::new(decoders)));
    let added = |kind: i32| -> Vec<AddedToken> {
        tokens
            .iter()
            .zip(&types)
            .filter(|(_, t)| **t == kind)
            .map(|(s, _)| AddedToken::from(s.clone(), kind == CONTROL))
            .collect()
    };
    tok.add_special_tokens(added(CONTROL))
        .map_err(|e| format!("special tokens: {e}"))?;
    tok.add_tokens(added(USER_DEFINED))
        .map_err(|e| format!("added tokens: {e}"))?;
    tracing::debug!(
        ms = t0.elapsed().as_millis() as u64,
        "SentencePiece tokenizer built from GGUF"
    );
    Ok(tok)
}
