//! Text analysis: how passages and questions become index terms, per business language.
//!
//! Every text field of a business's index is analyzed by one analyzer chosen from the business's
//! language: split on non-alphanumerics, lowercase, fold (German: ß → ss, umlauts and their
//! two-letter spellings ae/oe/ue → plain vowels, so "Groesse", "Grösse" and "Größe" meet; other
//! languages: accents dropped), drop stop words, stem (Snowball). Questions go through the same
//! analyzer, so a query term and an index term match exactly when their folded stems do.

use serde::{Deserialize, Serialize};
use tantivy::tokenizer::{
    Language as StemLanguage, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter,
    TextAnalyzer, Token, TokenFilter, TokenStream, Tokenizer,
};

/// The name every text field of the schema uses; bound per index to the business's analyzer.
pub const ANALYZER: &str = "clerk";

/// A business's retrieval language. Anything without a stemmer here still matches on folded,
/// lowercased plain terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    English,
    German,
    French,
    Spanish,
    Portuguese,
    Italian,
    Dutch,
    /// No stemming, no stop words: lowercase and fold only.
    Plain,
}

impl Language {
    pub const ALL: [Language; 8] = [
        Language::English,
        Language::German,
        Language::French,
        Language::Spanish,
        Language::Portuguese,
        Language::Italian,
        Language::Dutch,
        Language::Plain,
    ];

    /// ISO 639-1 code ("plain" for [`Language::Plain`]).
    pub fn code(self) -> &'static str {
        match self {
            Language::English => "en",
            Language::German => "de",
            Language::French => "fr",
            Language::Spanish => "es",
            Language::Portuguese => "pt",
            Language::Italian => "it",
            Language::Dutch => "nl",
            Language::Plain => "plain",
        }
    }

    pub fn from_code(code: &str) -> Option<Language> {
        let code = code.trim().to_ascii_lowercase();
        Language::ALL
            .into_iter()
            .find(|l| l.code() == code || format!("{l:?}").eq_ignore_ascii_case(&code))
    }

    /// Guesses the language of a sample of text; falls back to [`Language::Plain`] when unsure.
    pub fn detect(sample: &str) -> Language {
        Self::detect_with(sample, false).unwrap_or(Language::Plain)
    }

    /// The language of `sample` when the detector is confident of it (short questions often
    /// leave it unsure).
    pub fn detect_reliably(sample: &str) -> Option<Language> {
        Self::detect_with(sample, true)
    }

    fn detect_with(sample: &str, reliable_only: bool) -> Option<Language> {
        // Only languages with an analyzer compete, so short text is not lost to a near relative.
        let detector = whatlang::Detector::with_allowlist(vec![
            whatlang::Lang::Eng,
            whatlang::Lang::Deu,
            whatlang::Lang::Fra,
            whatlang::Lang::Spa,
            whatlang::Lang::Por,
            whatlang::Lang::Ita,
            whatlang::Lang::Nld,
        ]);
        let info = detector
            .detect(sample)
            .filter(|i| !reliable_only || i.is_reliable())?;
        Some(match info.lang() {
            whatlang::Lang::Eng => Language::English,
            whatlang::Lang::Deu => Language::German,
            whatlang::Lang::Fra => Language::French,
            whatlang::Lang::Spa => Language::Spanish,
            whatlang::Lang::Por => Language::Portuguese,
            whatlang::Lang::Ita => Language::Italian,
            whatlang::Lang::Nld => Language::Dutch,
            _ => return None,
        })
    }

    fn stemmer(self) -> Option<StemLanguage> {
        Some(match self {
            Language::English => StemLanguage::English,
            Language::German => StemLanguage::German,
            Language::French => StemLanguage::French,
            Language::Spanish => StemLanguage::Spanish,
            Language::Portuguese => StemLanguage::Portuguese,
            Language::Italian => StemLanguage::Italian,
            Language::Dutch => StemLanguage::Dutch,
            Language::Plain => return None,
        })
    }

    fn stop_words(self) -> Option<StopWordFilter> {
        let words: &[&str] = match self {
            Language::English => ENGLISH_STOP_WORDS,
            Language::German => GERMAN_STOP_WORDS,
            _ => return None,
        };
        // The list is folded like the tokens it meets, so "für" and "fuer" are both dropped.
        Some(StopWordFilter::remove(
            words.iter().map(|w| fold(w, self == Language::German)),
        ))
    }

    /// The analyzer for this language's text fields and questions.
    pub fn analyzer(self) -> TextAnalyzer {
        self.build_analyzer(true)
    }

    /// The same analysis without stemming: the words as typed, for typo correction.
    pub fn surface_analyzer(self) -> TextAnalyzer {
        self.build_analyzer(false)
    }

    fn build_analyzer(self, stem: bool) -> TextAnalyzer {
        let base = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(48))
            .filter(Fold {
                german: self == Language::German,
            })
            .dynamic();
        let base = match self.stop_words() {
            Some(stop) => base.filter_dynamic(stop),
            None => base,
        };
        match self.stemmer().filter(|_| stem) {
            Some(lang) => base.filter_dynamic(Stemmer::new(lang)).build(),
            None => base.build(),
        }
    }
}

/// Lowercases and folds one token. German folding also maps ß and the ae/oe/ue spellings of
/// umlauts, except after a vowel (so "Frauen" and "neue" keep their "ue") or a "q".
pub fn fold(token: &str, german: bool) -> String {
    let mut out = String::with_capacity(token.len());
    let mut prev: Option<char> = None;
    for c in token.chars().flat_map(char::to_lowercase) {
        if german && c == 'e' {
            if let Some(p @ ('a' | 'o' | 'u')) = prev {
                let before = out[..out.len() - 1].chars().next_back();
                let after_vowel = matches!(before, Some('a' | 'e' | 'i' | 'o' | 'u' | 'q'));
                if !after_vowel {
                    // "ae"/"oe"/"ue" spell an umlaut: the vowel already written stands for it.
                    prev = Some(p);
                    continue;
                }
            }
        }
        match c {
            'ß' => out.push_str("ss"),
            'æ' => out.push_str("ae"),
            'œ' => out.push_str("oe"),
            _ => out.push(strip_accent(c)),
        }
        prev = out.chars().next_back();
    }
    out
}

fn strip_accent(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' => 'a',
        'ç' | 'ć' | 'č' => 'c',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' | 'ě' => 'e',
        'ì' | 'í' | 'î' | 'ï' | 'ī' => 'i',
        'ñ' | 'ń' | 'ň' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' => 'o',
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' => 'u',
        'ý' | 'ÿ' => 'y',
        'š' | 'ś' => 's',
        'ž' | 'ź' | 'ż' => 'z',
        'ł' => 'l',
        'ř' => 'r',
        'đ' | 'ď' => 'd',
        'ť' => 't',
        _ => c,
    }
}

/// Lowercase + fold as a tantivy token filter.
#[derive(Clone)]
struct Fold {
    german: bool,
}

impl TokenFilter for Fold {
    type Tokenizer<T: Tokenizer> = FoldTokenizer<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> FoldTokenizer<T> {
        FoldTokenizer {
            inner: tokenizer,
            german: self.german,
        }
    }
}

#[derive(Clone)]
pub struct FoldTokenizer<T> {
    inner: T,
    german: bool,
}

impl<T: Tokenizer> Tokenizer for FoldTokenizer<T> {
    type TokenStream<'a> = FoldStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        FoldStream {
            tail: self.inner.token_stream(text),
            german: self.german,
        }
    }
}

pub struct FoldStream<T> {
    tail: T,
    german: bool,
}

impl<T: TokenStream> TokenStream for FoldStream<T> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let token = self.tail.token_mut();
        let needs_work = !token.text.is_ascii()
            || (self.german && token.text.contains(['e', 'E']))
            || token.text.bytes().any(|b| b.is_ascii_uppercase());
        if needs_work {
            token.text = fold(&token.text, self.german);
        }
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

/// Whether `word` (lowercase) is a function word of English, German, Portuguese, Spanish or
/// French: an article, pronoun, preposition or auxiliary, whatever the business's language
/// (customers write to a German shop in English too).
pub fn is_function_word(word: &str) -> bool {
    use std::sync::OnceLock;
    use tantivy::tokenizer::LowerCaser;
    static FILTERS: OnceLock<Vec<TextAnalyzer>> = OnceLock::new();
    let filters = FILTERS.get_or_init(|| {
        [
            StemLanguage::English,
            StemLanguage::German,
            StemLanguage::Portuguese,
            StemLanguage::Spanish,
            StemLanguage::French,
        ]
        .into_iter()
        .filter_map(StopWordFilter::new)
        .map(|stop| {
            TextAnalyzer::builder(SimpleTokenizer::default())
                .filter(LowerCaser)
                .filter(stop)
                .build()
        })
        .collect()
    });
    let lower = word.to_lowercase();
    if ENGLISH_STOP_WORDS.contains(&lower.as_str()) || GERMAN_STOP_WORDS.contains(&lower.as_str()) {
        return true;
    }
    filters.iter().any(|analyzer| {
        let mut analyzer = analyzer.clone();
        let mut stream = analyzer.token_stream(&lower);
        stream.next().is_none()
    })
}

/// Lucene's English stop words: articles, auxiliaries and prepositions only.
const ENGLISH_STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with", "i", "me", "my", "you", "your", "we", "our", "us",
    "he", "she", "his", "her", "its", "do", "does", "did", "can", "could", "would", "should",
    "how", "what", "which", "who", "whom", "why", "when", "where", "have", "has", "had", "been",
    "being", "am", "were", "so", "than", "too", "very", "just", "about", "from", "any", "some",
    "all", "there's", "get",
];

/// German function words. Question words (wann, wie, wo, was) stay: they tell FAQ entries apart.
const GERMAN_STOP_WORDS: &[&str] = &[
    "aber", "alle", "als", "also", "am", "an", "auch", "auf", "aus", "bei", "bin", "bis", "bist",
    "da", "das", "dass", "dein", "dem", "den", "der", "des", "die", "dies", "diese", "dieser",
    "dieses", "doch", "dort", "du", "durch", "ein", "eine", "einem", "einen", "einer", "eines",
    "er", "es", "euch", "euer", "eure", "für", "hat", "hatte", "ich", "ihm", "ihn", "ihr", "ihre",
    "im", "in", "ist", "ja", "jede", "jeder", "mein", "meine", "mich", "mir", "mit", "nach",
    "noch", "nur", "ob", "oder", "sich", "sie", "sind", "so", "über", "um", "und", "uns", "unser",
    "unsere", "vom", "von", "vor", "war", "waren", "wir", "zu", "zum", "zur",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(lang: Language, text: &str) -> Vec<String> {
        let mut analyzer = lang.analyzer();
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        while let Some(token) = stream.next() {
            out.push(token.text.clone());
        }
        out
    }

    #[test]
    fn german_spellings_of_one_word_meet() {
        let expected = terms(Language::German, "Größe");
        assert_eq!(terms(Language::German, "Grösse"), expected);
        assert_eq!(terms(Language::German, "Groesse"), expected);
        assert_eq!(terms(Language::German, "GROESSE"), expected);
    }

    #[test]
    fn german_plurals_share_a_stem() {
        assert_eq!(
            terms(Language::German, "Bücher"),
            terms(Language::German, "Buch")
        );
        assert_eq!(
            terms(Language::German, "Buecher"),
            terms(Language::German, "Buch")
        );
        assert_eq!(
            terms(Language::German, "Frauen"),
            terms(Language::German, "Frau")
        );
    }

    #[test]
    fn german_stop_words_dropped_in_both_spellings() {
        assert_eq!(terms(Language::German, "für"), Vec::<String>::new());
        assert_eq!(terms(Language::German, "fuer"), Vec::<String>::new());
        assert_eq!(terms(Language::German, "wann"), vec!["wann"]);
    }

    #[test]
    fn english_stems_and_folds() {
        assert_eq!(
            terms(Language::English, "Opening the Café"),
            vec!["open", "cafe"]
        );
    }

    #[test]
    fn plain_keeps_terms() {
        assert_eq!(
            terms(Language::Plain, "Aceitam PIX?"),
            vec!["aceitam", "pix"]
        );
    }

    #[test]
    fn detects_german_and_english() {
        assert_eq!(
            Language::detect(
                "Wann habt ihr am Samstag geöffnet? Wir haben von 10 bis 16 Uhr offen."
            ),
            Language::German
        );
        assert_eq!(
            Language::detect("When are you open on Saturday? We open from ten until four."),
            Language::English
        );
    }
}
