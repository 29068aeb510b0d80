//! The fact check: every figure, time, price, date, URL, e-mail address, phone number and name in
//! a reply must be found in the sources it cites.
//!
//! A small model writes fluent text with invented details, so the check is deliberately literal:
//! it lifts the checkable spans out of the reply and looks each up in the sources' own text.
//! Numbers are compared by their digit groups ("9:00" finds "09:00", "649" finds "649.00");
//! names are capitalized words that do not start a sentence, compared case-insensitively.

mod binding;

use std::collections::HashSet;

use crate::index::Hit;

use binding::Segment;

/// A span of a reply that the sources do not support.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    pub span: String,
    pub kind: FactKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactKind {
    Number,
    Url,
    Email,
    Name,
    /// A sentence most of whose words the sources never use: a claim made up around them.
    Claim,
    /// A figure stated about another thing than its source states it about ("samstags bis
    /// 19:00" from "Mo–Fr 9–19, Sa 9–16").
    Misattached,
    /// A reply without the kind of fact the question asks for (a phone number, an e-mail
    /// address, a price) although its sources hold one.
    Unanswered,
}

/// What the sources say, prepared for look-ups.
pub struct Evidence {
    /// Every figure as the sources write it, in order of first appearance.
    figures: Vec<String>,
    numbers: HashSet<Vec<String>>,
    lowered: String,
    words: HashSet<String>,
    /// First five characters of every longer word: "returned" supports "return".
    stems: HashSet<String>,
    /// Every URL and e-mail address in the sources, normalized.
    addresses: HashSet<String>,
    /// The sources cut into what states which figure about what (see [`binding`]).
    segments: Vec<Segment>,
}

impl Evidence {
    /// What `hits` say: each one's title, headings and text.
    /// Each passage's figures stand under its title and headings, and a product's fields
    /// all belong to it.
    pub fn of_hits<'a>(hits: impl IntoIterator<Item = &'a Hit> + Clone) -> Evidence {
        let mut evidence = Evidence::lexical(hits.clone().into_iter().flat_map(|h| {
            [h.title.as_str(), h.text.as_str()]
                .into_iter()
                .chain(h.heading_path.iter().map(String::as_str))
        }));
        evidence.segments = hits
            .into_iter()
            .flat_map(binding::segments_of_hit)
            .collect();
        evidence
    }

    /// What `texts` say, each a source of its own with no title or headings.
    pub fn new<'a>(texts: impl IntoIterator<Item = &'a str> + Clone) -> Evidence {
        let mut evidence = Evidence::lexical(texts.clone());
        evidence.segments = texts
            .into_iter()
            .flat_map(|text| binding::segments_of(text, &[], false))
            .collect();
        evidence
    }

    /// Everything but the segments: the look-ups of the literal check.
    fn lexical<'a>(texts: impl IntoIterator<Item = &'a str>) -> Evidence {
        let mut evidence = Evidence {
            figures: Vec::new(),
            numbers: HashSet::new(),
            lowered: String::new(),
            words: HashSet::new(),
            stems: HashSet::new(),
            addresses: HashSet::new(),
            segments: Vec::new(),
        };
        for text in texts {
            for number in numbers(text) {
                evidence.numbers.insert(groups(&number));
                if !evidence.figures.contains(&number) {
                    evidence.figures.push(number);
                }
            }
            for address in urls(text).into_iter().chain(emails(text)) {
                evidence.addresses.insert(bare_address(&address));
            }
            let lowered = text.to_lowercase();
            for word in lowered.split(|c: char| !c.is_alphanumeric()) {
                if !word.is_empty() {
                    evidence.words.insert(word.to_string());
                    evidence.stems.insert(stem(word));
                }
            }
            evidence.lowered.push_str(&lowered);
            evidence.lowered.push('\n');
        }
        evidence
    }

    /// The figures a reply may write: the sources' own, and those in `allowed` words (a
    /// business named "Tasca 31"), each as written there.
    pub fn figures(&self, allowed: &[&str]) -> Vec<String> {
        let mut figures = self.figures.clone();
        figures.extend(allowed.iter().flat_map(|a| numbers(a)));
        figures
    }

    fn has_number(&self, number: &str) -> bool {
        let wanted = without_zero_tail(groups(number));
        self.numbers
            .iter()
            .any(|have| without_zero_tail(have.clone()) == wanted)
    }

    /// A URL or address, as normalized by [`bare_address`], that the sources hold exactly.
    fn has_address(&self, address: &str) -> bool {
        self.addresses.contains(&bare_address(address))
    }
}

/// "649.00" is "649" and "9:00" is "9": trailing groups of one or two zeros after a decimal or
/// time separator say nothing more. Thousands ("50,000") keep their three-digit group.
fn without_zero_tail(mut groups: Vec<String>) -> Vec<String> {
    while groups.len() > 1
        && groups
            .last()
            .is_some_and(|g| g.len() <= 2 && g.chars().all(|c| c == '0'))
    {
        groups.pop();
    }
    groups
}

/// A URL or e-mail address without scheme, trailing slash or punctuation, lower case.
fn bare_address(span: &str) -> String {
    span.trim_end_matches(['.', ',', ')', ';', ':', '!', '?', '>', '"', '\''])
        .trim_start_matches(['(', '<', '"', '\''])
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_lowercase()
}

const STEM_CHARS: usize = 5;

/// `text` with each word the sources never write, but which the shared glossary
/// (`index::glossary`) gives as another language's word for one they do, written as the
/// sources write it: "Saturday" is "Samstag" to German sources, "Wednesdays" "Mittwoch". So a
/// reply in the customer's language is judged in the sources' words — its names found, its
/// figures bound to the day they belong to. A word matches a glossary entry exactly, or by
/// its stem where both are at least five letters long ("Wednesdays" → "wednesday").
///
/// The encoder is no substitute here, measured: e5-small puts "Wednesdays" nearer
/// "Donnerstag" (0.894) than "Mittwoch" (0.882), and "Saturday" only 0.022 nearer "Samstag"
/// than "Sonntag" — the confusions a binding check exists to catch.
pub(crate) fn in_source_words(text: &str, evidence: &Evidence) -> String {
    Translated::of(text, evidence).text
}

/// A reply in the sources' words, and where each replaced word stood, so a span of it can be
/// shown as the reply wrote it.
struct Translated {
    text: String,
    /// (start in `text`, length there, length in the reply) of each replaced word.
    replaced: Vec<(usize, usize, usize)>,
}

impl Translated {
    fn of(reply: &str, evidence: &Evidence) -> Translated {
        let mut out = Translated {
            text: String::with_capacity(reply.len()),
            replaced: Vec::new(),
        };
        let mut word = String::new();
        let flush = |word: &mut String, out: &mut Translated| {
            match source_word(word, evidence) {
                Some(found) => {
                    out.replaced.push((out.text.len(), found.len(), word.len()));
                    out.text.push_str(&found);
                }
                None => out.text.push_str(word),
            }
            word.clear();
        };
        for c in reply.chars() {
            if c.is_alphabetic() {
                word.push(c);
            } else {
                flush(&mut word, &mut out);
                out.text.push(c);
            }
        }
        flush(&mut word, &mut out);
        out
    }

    /// Where offset `at` of the translated text stands in the reply.
    fn in_reply(&self, at: usize) -> usize {
        let mut shift: isize = 0;
        for &(start, len, was) in &self.replaced {
            if at <= start {
                break;
            }
            if at < start + len {
                // Inside a replaced word: its end in the reply.
                return (start as isize + shift) as usize + was;
            }
            shift += was as isize - len as isize;
        }
        (at as isize + shift) as usize
    }

    /// `bad` with its span as the reply wrote it.
    fn as_written(&self, reply: &str, mut bad: Unsupported) -> Unsupported {
        if let Some(start) = self.text.find(&bad.span) {
            let (from, to) = (self.in_reply(start), self.in_reply(start + bad.span.len()));
            if let Some(span) = reply.get(from..to) {
                bad.span = span.trim().to_string();
            }
        }
        bad
    }
}

/// The sources' word for `word`, when they lack it and the glossary names one they have.
fn source_word(word: &str, evidence: &Evidence) -> Option<String> {
    let lowered = word.to_lowercase();
    if lowered.is_empty() || evidence.words.contains(&lowered) {
        return None;
    }
    let long = |w: &str| w.chars().count() >= STEM_CHARS;
    let means = |entry: &&str| {
        *entry == lowered || (long(entry) && long(&lowered) && stem(entry) == stem(&lowered))
    };
    let found = crate::index::glossary::CONCEPTS
        .iter()
        .filter(|concept| concept.iter().any(means))
        .find_map(|concept| {
            concept
                .iter()
                .find(|entry| !entry.contains(' ') && evidence.words.contains(**entry))
        })?;
    let capital = word.chars().next().is_some_and(char::is_uppercase);
    Some(if capital {
        let mut chars = found.chars();
        chars
            .next()
            .map(|first| first.to_uppercase().chain(chars).collect())
            .unwrap_or_default()
    } else {
        found.to_string()
    })
}

/// A word as the checks compare it: lower case, its first five characters ("samstags" is
/// "samst", "returned" is "retur").
fn stem(word: &str) -> String {
    word.to_lowercase().chars().take(STEM_CHARS).collect()
}
/// Phrases in which a model talks about its prompt instead of answering.
const PROMPT_TALK: &[&str] = &[
    "the source",
    "the sources",
    "source [",
    "sources:",
    "source:",
    "this question",
    "the question",
    "the passage",
    "the text says",
    "as an ai",
    "language model",
    "the answer to this",
];
/// Share of a sentence's content words that must occur in the sources.
const MIN_SUPPORTED_WORDS: f32 = 0.75;
/// Words any reply may use without a source.
const FREE_WORDS: &[&str] = &[
    "this",
    "that",
    "these",
    "those",
    "with",
    "from",
    "your",
    "have",
    "will",
    "which",
    "there",
    "their",
    "about",
    "would",
    "could",
    "should",
    "also",
    "more",
    "when",
    "what",
    "into",
    "only",
    "they",
    "them",
    "then",
    "than",
    "been",
    "were",
    "does",
    "just",
    "very",
    "some",
    "such",
    "each",
    "here",
    "over",
    "after",
    "before",
    "while",
    "where",
    "because",
    "sorry",
    "please",
    "thank",
    "thanks",
    "happy",
    "help",
    "know",
    "sure",
    "course",
    "both",
    "other",
    "available",
    "offer",
    "offers",
    "can't",
    "don't",
    "cannot",
    "unfortunately",
];

/// The sentences of a reply whose content words (four letters or more) mostly do not occur in
/// the sources: a small model's fluent invention around the facts it copied.
pub fn unsupported_claims(reply: &str, evidence: &Evidence) -> Vec<Unsupported> {
    let mut found = Vec::new();
    for sentence in reply.split_inclusive(['.', '!', '?', '\n']) {
        // Talk about the prompt ("The source says …") is the model describing its input, not a
        // reply to a customer; it is how the small model's confabulations usually begin.
        let lowered = sentence.to_lowercase();
        if PROMPT_TALK.iter().any(|p| lowered.contains(p)) {
            found.push(Unsupported {
                span: sentence.trim().to_string(),
                kind: FactKind::Claim,
            });
            continue;
        }
        let words: Vec<String> = in_source_words(sentence, evidence)
            .split(|c: char| !c.is_alphanumeric() && c != '\'')
            .map(str::to_lowercase)
            .filter(|w| w.chars().count() >= 4 && !FREE_WORDS.contains(&w.as_str()))
            .collect();
        if words.len() < 3 {
            continue;
        }
        let supported = words
            .iter()
            .filter(|w| evidence.words.contains(w.as_str()) || evidence.stems.contains(&stem(w)))
            .count();
        if (supported as f32) < MIN_SUPPORTED_WORDS * words.len() as f32 {
            found.push(Unsupported {
                span: sentence.trim().to_string(),
                kind: FactKind::Claim,
            });
        }
    }
    found
}

/// The spans of `reply` that `evidence` does not hold; empty when the reply is supported.
/// `allowed` are words that may appear without a source (the business's own name).
pub fn unsupported(reply: &str, evidence: &Evidence, allowed: &[&str]) -> Vec<Unsupported> {
    let mut found = Vec::new();
    let mut rest = reply.to_string();
    for (kind, spans) in [
        (FactKind::Url, urls(reply)),
        (FactKind::Email, emails(reply)),
    ] {
        for span in spans {
            let trimmed = span.trim_end_matches(['.', ',', ')', ';', ':', '!', '?']);
            if !evidence.has_address(trimmed) {
                found.push(Unsupported {
                    span: trimmed.to_string(),
                    kind,
                });
            }
            // Numbers and names inside a URL or address were judged with it.
            rest = rest.replace(&span, " ");
        }
    }
    for number in numbers(&rest) {
        if !evidence.has_number(&number) {
            found.push(Unsupported {
                span: number,
                kind: FactKind::Number,
            });
        }
    }
    let allowed: HashSet<String> = allowed
        .iter()
        .flat_map(|a| a.split(|c: char| !c.is_alphanumeric()))
        .map(str::to_lowercase)
        .collect();
    for name in names(&in_source_words(&rest, evidence)) {
        let lowered = name.to_lowercase();
        if !evidence.words.contains(&lowered) && !allowed.contains(&lowered) {
            found.push(Unsupported {
                span: name,
                kind: FactKind::Name,
            });
        }
    }
    found
}

/// The first clause of `reply` that states a figure about another thing than its source
/// does, judged on the subjects the question (`asked`) or the reply itself names; `allowed`
/// words (the business's name) are never such subjects.
pub fn misattached(
    reply: &str,
    evidence: &Evidence,
    asked: &[String],
    allowed: &[&str],
) -> Option<Unsupported> {
    // The question's words stay as typed: made the sources' words, a generic one ("offen" →
    // "geöffnet") would become a subject and a verb beside one day's hours would bind them.
    let translated = Translated::of(reply, evidence);
    binding::misattached(&translated.text, &evidence.segments, asked, allowed)
        .map(|bad| translated.as_written(reply, bad))
}

/// Digit runs with their inner separators: "16,00", "9:30", "+44 1632 960123", "2024-05-01".
fn numbers(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        let mut end = i;
        while end < chars.len() {
            let c = chars[end];
            // Ranges and dates ("9-17", "01/05") are checked part by part.
            let joins =
                matches!(c, '.' | ',' | ':') || (c == ' ' && phone_like(&chars, start, end));
            let joined = joins && chars.get(end + 1).is_some_and(|n| n.is_ascii_digit());
            if c.is_ascii_digit() || joined {
                end += 1;
            } else {
                break;
            }
        }
        out.push(chars[start..end].iter().collect());
        i = end;
    }
    out
}

/// Spaces join digit groups only inside what looks like a phone number (begun with + or 0 and
/// already long), so "5 bikes 10 helmets" stays two numbers.
fn phone_like(chars: &[char], start: usize, end: usize) -> bool {
    let plus = start > 0 && chars[start - 1] == '+';
    let digits = chars[start..end]
        .iter()
        .filter(|c| c.is_ascii_digit())
        .count();
    (plus || chars[start] == '0') && digits >= 2
}

/// A number's digit groups without leading zeros: "09:00" → ["9", "0"].
/// A number's digit groups, the first without leading zeros: "09:00" → ["9", "00"],
/// "2.05" → ["2", "05"] (so it is not "2.5").
fn groups(number: &str) -> Vec<String> {
    number
        .split(|c: char| !c.is_ascii_digit())
        .filter(|g| !g.is_empty())
        .enumerate()
        .map(|(i, g)| {
            if i > 0 {
                return g.to_string();
            }
            let trimmed = g.trim_start_matches('0');
            if trimmed.is_empty() { "0" } else { trimmed }.to_string()
        })
        .collect()
}

fn urls(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| w.trim_start_matches(['(', '<', '"', '\'']))
        .filter(|w| w.starts_with("http://") || w.starts_with("https://") || w.starts_with("www."))
        .map(|w| w.trim_end_matches(['>', '"', '\'']).to_string())
        .collect()
}

fn emails(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '<' | '>' | ',' | ';'))
        .filter(|w| {
            let w = w.trim_end_matches('.');
            w.split_once('@')
                .is_some_and(|(user, host)| !user.is_empty() && host.contains('.'))
        })
        .map(|w| w.trim_end_matches('.').to_string())
        .collect()
}

/// Words sentences open with that name nothing (several languages).
const OPENERS: &[&str] = &[
    "a",
    "an",
    "the",
    "yes",
    "no",
    "we",
    "our",
    "you",
    "your",
    "it",
    "its",
    "this",
    "that",
    "these",
    "those",
    "there",
    "they",
    "he",
    "she",
    "his",
    "her",
    "please",
    "sorry",
    "thanks",
    "thank",
    "hi",
    "hello",
    "sure",
    "unfortunately",
    "in",
    "on",
    "at",
    "for",
    "from",
    "with",
    "and",
    "but",
    "or",
    "if",
    "when",
    "all",
    "every",
    "each",
    "some",
    "most",
    "any",
    "to",
    "as",
    "by",
    "of",
    "after",
    "before",
    "during",
    "until",
    "only",
    "also",
    "just",
    "ja",
    "nein",
    "wir",
    "unser",
    "unsere",
    "sie",
    "ihr",
    "ihre",
    "der",
    "die",
    "das",
    "ein",
    "eine",
    "es",
    "leider",
    "bitte",
    "danke",
    "im",
    "am",
    "an",
    "bei",
    "mit",
    "von",
    "für",
    "und",
    "aber",
    "wenn",
    "sim",
    "não",
    "nós",
    "nosso",
    "nossa",
    "o",
    "os",
    "as",
    "um",
    "uma",
    "sí",
    "el",
    "la",
    "los",
    "las",
    "nosotros",
    "le",
    "les",
    "nous",
    "oui",
    "non",
    "see",
    "more",
    "details",
    "note",
    "here",
    "great",
    "good",
    "call",
    "write",
    "visit",
    "book",
    "bring",
    "just",
    "mehr",
];

/// Capitalized words that do not begin a sentence, a line or a list item, and are not "I".
/// An apostrophe ends a word ("Harbour's" → "Harbour"); what follows it is lower case.
fn names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut sentence_start = true;
    let mut word = String::new();
    for c in text.chars().chain([' ']) {
        if c.is_alphanumeric() {
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            let capital = word.chars().next().is_some_and(char::is_uppercase);
            // A sentence's first word is capitalized anyway; it is a name to check unless it is
            // one of the words sentences commonly open with.
            let opener = sentence_start && OPENERS.contains(&word.to_lowercase().as_str());
            if capital && !opener && !matches!(word.as_str(), "I" | "OK") {
                out.push(std::mem::take(&mut word));
            }
            word.clear();
            sentence_start = false;
        }
        // Only a new sentence or line starts one: after ":", "–" or "(" a capital is a name
        // ("Mon–Sun" must be in the sources). Bullets at a line's start keep it a start.
        if matches!(c, '.' | '!' | '?' | '\n') {
            sentence_start = true;
        }
    }
    out
}

#[cfg(test)]
mod tests;
