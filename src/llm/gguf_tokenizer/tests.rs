//! Tokenizers built from small hand-made metadata: what each part of `tokenizer.ggml.*` does.
//! The real model's ids are checked against llama.cpp in tests/it/tokenizer.rs.

use std::collections::HashMap;

use candle_core::quantized::gguf_file::Value;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;

use super::*;

fn strings(items: &[String]) -> Value {
    Value::Array(items.iter().map(|s| Value::String(s.clone())).collect())
}

/// A byte-level vocabulary: the 256 byte characters, a few merges, and special tokens.
fn gpt2_metadata(pre: Option<&str>) -> (HashMap<String, Value>, Vec<String>) {
    let mut tokens = vec![
        "<|endoftext|>".to_string(),
        "<|im_start|>".to_string(),
        "<|im_end|>".to_string(),
    ];
    let mut alphabet: Vec<char> = ByteLevel::alphabet().into_iter().collect();
    alphabet.sort_unstable();
    tokens.extend(alphabet.iter().map(|c| c.to_string()));
    let merges = ["h e", "l l", "he ll", "hell o", "Ġ w", "Ġw o"];
    for m in merges {
        tokens.push(m.replace(' ', ""));
    }
    let mut types = vec![TYPE_CONTROL; 3];
    types.resize(tokens.len(), TYPE_NORMAL);
    let mut md = HashMap::new();
    md.insert("tokenizer.ggml.model".into(), Value::String("gpt2".into()));
    if let Some(pre) = pre {
        md.insert("tokenizer.ggml.pre".into(), Value::String(pre.into()));
    }
    md.insert("tokenizer.ggml.tokens".into(), strings(&tokens));
    md.insert(
        "tokenizer.ggml.token_type".into(),
        Value::Array(types.into_iter().map(Value::I32).collect()),
    );
    md.insert(
        "tokenizer.ggml.merges".into(),
        strings(&merges.map(String::from)),
    );
    md.insert("tokenizer.ggml.bos_token_id".into(), Value::U32(1));
    md.insert("tokenizer.ggml.eos_token_id".into(), Value::U32(2));
    (md, tokens)
}

fn id_of(tokens: &[String], text: &str) -> u32 {
    tokens.iter().position(|t| t == text).unwrap() as u32
}

#[test]
fn byte_level_bpe_merges_and_parses_specials() {
    let (md, tokens) = gpt2_metadata(Some("smollm"));
    let tok = GgufTokenizer::from_gguf_metadata(&md, None).unwrap();
    let hello = id_of(&tokens, "hello");
    let wo = id_of(&tokens, "Ġwo");
    assert_eq!(tok.encode("hello").unwrap(), [hello]);
    assert_eq!(
        tok.encode("<|im_start|>hello<|im_end|>").unwrap(),
        [1, hello, 2]
    );
    let ids = tok.encode("hello wo").unwrap();
    assert_eq!(ids, [hello, wo]);
    assert_eq!(tok.decode(&ids, false).unwrap(), "hello wo");
    assert_eq!(
        tok.decode(&[1, hello, 2], true).unwrap(),
        "hello",
        "special tokens are skipped on request"
    );
    // Literal encoding leaves the control token as characters.
    let literal = tok.encode_literal("<|im_end|>").unwrap();
    assert!(literal.len() > 1 && !literal.contains(&2));
    assert_eq!(tok.decode(&literal, false).unwrap(), "<|im_end|>");

    let text = "Grüße 😀 12\t\n";
    assert_eq!(tok.decode(&tok.encode(text).unwrap(), false).unwrap(), text);
    assert_eq!(tok.special().bos, Some(1));
    assert_eq!(tok.eog_ids(), [0, 2], "eos plus <|endoftext|>");
    assert!(tok.is_eog(0) && !tok.is_eog(1));
    assert_eq!(tok.source(), &TokenizerSource::Gguf);
}

#[test]
fn pre_tokenizer_names_are_checked() {
    let (md, _) = gpt2_metadata(Some("no-such-pre"));
    let err = GgufTokenizer::from_gguf_metadata(&md, None).unwrap_err();
    assert!(err.to_string().contains("no-such-pre"), "{err}");
    // No name at all: llama.cpp's default splitting.
    let (md, _) = gpt2_metadata(None);
    assert!(GgufTokenizer::from_gguf_metadata(&md, None).is_ok());

    let (mut md, _) = gpt2_metadata(Some("smollm"));
    md.insert("tokenizer.ggml.model".into(), Value::String("bert".into()));
    let err = GgufTokenizer::from_gguf_metadata(&md, None).unwrap_err();
    assert!(err.to_string().contains("bert"), "{err}");
}

#[test]
fn sentencepiece_bpe_prefixes_space_and_falls_back_to_bytes() {
    let mut tokens: Vec<String> = vec!["<unk>".into(), "<s>".into(), "</s>".into()];
    let mut types = vec![TYPE_UNKNOWN, TYPE_CONTROL, TYPE_CONTROL];
    let mut scores = vec![0.0f32; 3];
    for b in 0..=255u8 {
        tokens.push(format!("<0x{b:02X}>"));
        types.push(6);
        scores.push(0.0);
    }
    // Higher score merges first.
    for (piece, score) in [
        ("▁", -1.0),
        ("h", -2.0),
        ("e", -2.0),
        ("l", -2.0),
        ("o", -2.0),
        ("he", -3.0),
        ("ll", -3.0),
        ("hell", -4.0),
        ("hello", -5.0),
        ("▁hello", -6.0),
    ] {
        tokens.push(piece.into());
        types.push(TYPE_NORMAL);
        scores.push(score);
    }
    let mut md = HashMap::new();
    md.insert("tokenizer.ggml.model".into(), Value::String("llama".into()));
    md.insert("tokenizer.ggml.tokens".into(), strings(&tokens));
    md.insert(
        "tokenizer.ggml.token_type".into(),
        Value::Array(types.into_iter().map(Value::I32).collect()),
    );
    md.insert(
        "tokenizer.ggml.scores".into(),
        Value::Array(scores.into_iter().map(Value::F32).collect()),
    );
    md.insert("tokenizer.ggml.unknown_token_id".into(), Value::U32(0));
    md.insert("tokenizer.ggml.bos_token_id".into(), Value::U32(1));
    md.insert("tokenizer.ggml.eos_token_id".into(), Value::U32(2));
    let tok = GgufTokenizer::from_gguf_metadata(&md, None).unwrap();

    let hello = id_of(&tokens, "▁hello");
    assert_eq!(tok.encode("hello").unwrap(), [hello]);
    // A space is prefixed again after a special token, as llama.cpp does.
    assert_eq!(tok.encode("hello</s>hello").unwrap(), [hello, 2, hello]);
    let ids = tok.encode("hé").unwrap();
    let byte = |b: u8| id_of(&tokens, &format!("<0x{b:02X}>"));
    assert_eq!(
        ids,
        [
            id_of(&tokens, "▁"),
            id_of(&tokens, "h"),
            byte(0xC3),
            byte(0xA9)
        ]
    );
    assert_eq!(tok.decode(&ids, false).unwrap(), "hé");
    assert!(
        tok.special().add_bos,
        "llama vocabularies add BOS by default"
    );
}

#[test]
fn tokenizer_json_beside_the_model_wins() {
    let (md, tokens) = gpt2_metadata(Some("smollm"));
    let built = GgufTokenizer::from_gguf_metadata(&md, None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.gguf");
    let json = dir.path().join("m.tokenizer.json");
    built.inner().save(&json, false).unwrap();
    let tok = GgufTokenizer::from_gguf_metadata(&md, Some(&model)).unwrap();
    assert_eq!(tok.source(), &TokenizerSource::TokenizerJson(json));
    assert_eq!(tok.encode("hello").unwrap(), [id_of(&tokens, "hello")]);
}
