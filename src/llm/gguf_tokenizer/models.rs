//! The two vocabulary models a GGUF can carry, as `tokenizers` pipelines: byte-level BPE
//! (`gpt2`) and SentencePiece-style BPE with byte fallback (`llama`).

use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence as DecoderSequence;
use tokenizers::decoders::strip::Strip;
use tokenizers::models::bpe::{Merges, Vocab, BPE};
use tokenizers::normalizers::{Prepend, Replace, Sequence as NormalizerSequence};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence as PreTokenizerSequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{
    DecoderWrapper, NormalizerWrapper, PreTokenizerWrapper, SplitDelimiterBehavior, Tokenizer,
};

use super::metadata::Metadata;
use super::pre_tokenizer::split_regexes;
use super::{SpecialTokens, TYPE_NORMAL, TYPE_USER_DEFINED};
use crate::llm::LlmError;

/// SentencePiece's stand-in for a space.
const SPM_SPACE: &str = "\u{2581}";

/// Byte-level BPE (GPT-2 style): the pre-tokenizer's regexes split the text, each piece's bytes
/// are mapped to printable characters, and the merges apply.
pub(super) fn byte_level_bpe(md: &Metadata, tokens: &[String]) -> Result<Tokenizer, LlmError> {
    let pre = md.str("tokenizer.ggml.pre")?;
    let split = split_regexes(pre).ok_or_else(|| {
        LlmError::Tokenize(format!(
            "pre-tokenizer {:?} (tokenizer.ggml.pre) is not supported; put the model's \
             tokenizer.json beside the GGUF file",
            pre.unwrap_or_default()
        ))
    })?;
    if pre.is_none() {
        tracing::warn!("the model names no pre-tokenizer; using llama.cpp's default splitting");
    }
    let vocab = vocab_of(tokens);
    let merge_lines = md.str_array("tokenizer.ggml.merges")?.unwrap_or_default();
    let mut merges: Merges = Vec::with_capacity(merge_lines.len());
    let mut skipped = 0usize;
    for line in &merge_lines {
        // llama.cpp splits at the first space after the first character.
        let cut = line
            .char_indices()
            .skip(1)
            .find(|&(_, c)| c == ' ')
            .map(|(i, _)| i);
        let Some(cut) = cut else {
            return Err(md.invalid("tokenizer.ggml.merges", &format!("no space in {line:?}")));
        };
        let (left, right) = (&line[..cut], &line[cut + 1..]);
        // tokenizers refuses merges outside the vocabulary; llama.cpp never produces them as
        // final tokens either, so they are dropped.
        if vocab.contains_key(left)
            && vocab.contains_key(right)
            && vocab.contains_key(&format!("{left}{right}"))
        {
            merges.push((left.to_string(), right.to_string()));
        } else {
            skipped += 1;
        }
    }
    if skipped > 0 {
        tracing::debug!(
            skipped,
            "merges naming tokens outside the vocabulary were dropped"
        );
    }
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .ignore_merges(split.ignore_merges)
        .build()
        .map_err(|e| LlmError::Tokenize(format!("building the BPE model failed: {e}")))?;

    let mut steps = Vec::with_capacity(split.regexes.len() + 1);
    for regex in split.regexes {
        let split = Split::new(
            SplitPattern::Regex(regex.to_string()),
            SplitDelimiterBehavior::Isolated,
            false,
        )
        .map_err(|e| LlmError::Tokenize(format!("bad split regex {regex:?}: {e}")))?;
        steps.push(PreTokenizerWrapper::Split(split));
    }
    steps.push(PreTokenizerWrapper::ByteLevel(ByteLevel::new(
        false, false, false,
    )));
    let mut tokenizer = Tokenizer::new(bpe);
    tokenizer.with_pre_tokenizer(Some(PreTokenizerWrapper::Sequence(
        PreTokenizerSequence::new(steps),
    )));
    tokenizer.with_decoder(Some(DecoderWrapper::ByteLevel(ByteLevel::default())));
    Ok(tokenizer)
}

/// SentencePiece-style BPE as llama.cpp runs it: spaces become `▁` (with one prepended to each
/// stretch of text when `add_space_prefix`), pieces merge by the score of the merged token, and
/// characters outside the vocabulary fall back to `<0xNN>` byte tokens.
pub(super) fn sentencepiece_bpe(
    md: &Metadata,
    tokens: &[String],
    types: Option<&[i32]>,
    special: &SpecialTokens,
) -> Result<Tokenizer, LlmError> {
    let scores = md.f32_array("tokenizer.ggml.scores")?.ok_or_else(|| {
        LlmError::Tokenize(
            "a \"llama\" tokenizer needs tokenizer.ggml.scores; put the model's tokenizer.json \
             beside the GGUF file"
                .to_string(),
        )
    })?;
    if scores.len() != tokens.len() {
        return Err(md.invalid("tokenizer.ggml.scores", "length differs from tokens"));
    }
    let add_space_prefix = md.bool("tokenizer.ggml.add_space_prefix")?.unwrap_or(true);
    let vocab = vocab_of(tokens);

    // Every split of a token into two vocabulary entries is a merge, ranked by the merged
    // token's score (best first); ties keep token order, then the parts' ids.
    let mut merges: Vec<(f32, u32, u32, &str, &str)> = Vec::new();
    for (id, token) in tokens.iter().enumerate() {
        if types.is_some_and(|t| t[id] != TYPE_NORMAL && t[id] != TYPE_USER_DEFINED) {
            continue;
        }
        let mut local = Vec::new();
        for (cut, _) in token.char_indices().skip(1) {
            let (left, right) = token.split_at(cut);
            if let (Some(&l), Some(&r)) = (vocab.get(left), vocab.get(right)) {
                local.push((scores[id], l, r, left, right));
            }
        }
        local.sort_by_key(|&(_, l, r, _, _)| (l, r));
        merges.extend(local);
    }
    merges.sort_by(|a, b| b.0.total_cmp(&a.0));
    let merges: Merges = merges
        .into_iter()
        .map(|(_, _, _, l, r)| (l.to_string(), r.to_string()))
        .collect();

    let mut builder = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .byte_fallback(true)
        .fuse_unk(true);
    if let Some(unk) = special.unk.and_then(|id| tokens.get(id as usize)) {
        builder = builder.unk_token(unk.clone());
    }
    let bpe = builder
        .build()
        .map_err(|e| LlmError::Tokenize(format!("building the BPE model failed: {e}")))?;

    let replace_space = Replace::new(" ", SPM_SPACE)
        .map_err(|e| LlmError::Tokenize(format!("space replacement: {e}")))?;
    let mut normalizers = Vec::new();
    if add_space_prefix {
        normalizers.push(NormalizerWrapper::Prepend(Prepend::new(
            SPM_SPACE.to_string(),
        )));
    }
    normalizers.push(NormalizerWrapper::Replace(replace_space));

    let mut decoders = vec![
        DecoderWrapper::Replace(
            Replace::new(SPM_SPACE, " ")
                .map_err(|e| LlmError::Tokenize(format!("space replacement: {e}")))?,
        ),
        DecoderWrapper::ByteFallback(ByteFallback::new()),
        DecoderWrapper::Fuse(Fuse::new()),
    ];
    if add_space_prefix {
        decoders.push(DecoderWrapper::Strip(Strip::new(' ', 1, 0)));
    }

    let mut tokenizer = Tokenizer::new(bpe);
    tokenizer.with_normalizer(Some(NormalizerWrapper::Sequence(NormalizerSequence::new(
        normalizers,
    ))));
    tokenizer.with_decoder(Some(DecoderWrapper::Sequence(DecoderSequence::new(
        decoders,
    ))));
    Ok(tokenizer)
}

/// Text → id with the last of duplicate entries winning, as in llama.cpp's map.
fn vocab_of(tokens: &[String]) -> Vocab {
    let mut vocab = Vocab::with_capacity(tokens.len());
    for (id, token) in tokens.iter().enumerate() {
        vocab.insert(token.clone(), id as u32);
    }
    vocab
}
