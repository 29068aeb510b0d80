//! How byte-level BPE models split text before merging: the regexes llama.cpp applies for each
//! `tokenizer.ggml.pre` name (llama-vocab.cpp), in the Oniguruma syntax `tokenizers` runs. Each
//! regex splits every piece the previous one left, keeping matches and the text between them as
//! separate pieces (tokenizers' `Split` with `Isolated`), which is how llama.cpp's
//! `unicode_regex_split` treats them.

/// GPT-2's split: contractions, letters, digits, other symbols, whitespace.
const GPT2: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)";

/// Llama 3's split (contractions in any case, digits in threes, newlines apart).
const LLAMA3: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Qwen 2's split: as Llama 3's, but one digit per piece.
const QWEN2: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// GPT-4o's split (case-aware words), as written in the models' tokenizer.json.
const GPT4O: &str = r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Mistral's Tekken split, as written in the models' tokenizer.json.
const TEKKEN: &str = r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";

const BLOOM: &str = r" ?[^(\s|.,!?…。，、।۔،)]+";

/// The splitting a pre-tokenizer name stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitRegexes {
    /// Applied in order, each to the pieces the previous one produced.
    pub regexes: &'static [&'static str],
    /// A piece that is itself a vocabulary entry becomes that token without merging.
    pub ignore_merges: bool,
}

const fn plain(regexes: &'static [&'static str]) -> Option<SplitRegexes> {
    Some(SplitRegexes {
        regexes,
        ignore_merges: false,
    })
}

/// The regexes for `tokenizer.ggml.pre`; `None` when the name is unknown. A model that names
/// none gets llama.cpp's default splitting (which llama.cpp warns degrades quality).
pub fn split_regexes(pre: Option<&str>) -> Option<SplitRegexes> {
    let Some(pre) = pre else {
        return plain(DEFAULT);
    };
    match pre {
        "default" => plain(DEFAULT),
        "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "falcon-h1" | "pixtral" | "midm-2.0"
        | "lfm2" => Some(SplitRegexes {
            regexes: &[LLAMA3],
            ignore_merges: true,
        }),
        "dbrx" | "smaug-bpe" | "chatglm-bpe" | "glm4" => plain(&[LLAMA3]),
        "falcon" => plain(&[r"[\p{P}\$\+<=>\^~\|`]+", GPT2, "[0-9][0-9][0-9]"]),
        "starcoder" | "refact" | "command-r" | "smollm" | "codeshell" | "exaone" | "minerva-7b" => {
            plain(&[r"\p{N}", GPT2])
        }
        "gpt-2" | "phi-2" | "jina-es" | "jina-de" | "gigachat" | "jina-v2-es" | "jina-v2-de"
        | "a.x-4.0" | "mellum" | "mpt" | "olmo" | "jais" | "trillion" | "exaone4"
        | "granite-docling" => plain(&[GPT2]),
        "qwen2" | "deepseek-r1-qwen" | "stablelm2" | "megrez" | "hunyuan" => plain(&[QWEN2]),
        "gpt-4o" | "llama4" => plain(&[GPT4O]),
        "tekken" => Some(SplitRegexes {
            regexes: &[TEKKEN],
            ignore_merges: true,
        }),
        "poro-chat" | "bloom" | "gpt3-finnish" => plain(&[BLOOM]),
        "viking" => plain(&[BLOOM, r"\p{N}"]),
        _ => None,
    }
}

const DEFAULT: &[&str] = &[r"[\p{P}\$\+<=>\^~\|]+", GPT2, r"\p{N}+", "[0-9][0-9][0-9]"];

#[cfg(test)]
mod tests {
    use super::*;
    use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
    use tokenizers::{
        OffsetReferential, OffsetType, PreTokenizedString, PreTokenizer, SplitDelimiterBehavior,
    };

    const NAMES: &[&str] = &[
        "default",
        "llama3",
        "llama-bpe",
        "dbrx",
        "falcon",
        "smollm",
        "starcoder",
        "gpt-2",
        "qwen2",
        "gpt-4o",
        "tekken",
        "bloom",
        "viking",
    ];

    fn pieces(pre: &str, text: &str) -> Vec<String> {
        let mut s = PreTokenizedString::from(text);
        for regex in split_regexes(Some(pre)).unwrap().regexes {
            let split = Split::new(
                SplitPattern::Regex(regex.to_string()),
                SplitDelimiterBehavior::Isolated,
                false,
            )
            .unwrap();
            split.pre_tokenize(&mut s).unwrap();
        }
        s.get_splits(OffsetReferential::Original, OffsetType::Byte)
            .into_iter()
            .map(|(p, _, _)| p.to_string())
            .collect()
    }

    #[test]
    fn every_named_regex_compiles() {
        for name in NAMES {
            for regex in split_regexes(Some(name)).unwrap().regexes {
                Split::new(
                    SplitPattern::Regex(regex.to_string()),
                    SplitDelimiterBehavior::Isolated,
                    false,
                )
                .unwrap_or_else(|e| panic!("{name}: {regex}: {e}"));
            }
        }
        assert!(split_regexes(Some("no-such-pre")).is_none());
        assert_eq!(split_regexes(None), split_regexes(Some("default")));
    }

    #[test]
    fn smollm_splits_digits_and_words_like_gpt2() {
        assert_eq!(
            pieces("smollm", "I'm 12 ok  now"),
            ["I", "'m", " ", "1", "2", " ok", " ", " now"]
        );
        assert_eq!(pieces("llama3", "12345 x"), ["123", "45", " x"]);
        assert_eq!(pieces("qwen2", "12 x"), ["1", "2", " x"]);
    }
}
