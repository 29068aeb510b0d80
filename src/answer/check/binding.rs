//! The binding check: a figure must be stated about what its source states it about.
//!
//! The literal check finds every number of a reply somewhere in the sources; that passes
//! "Ja, samstags bis 19:00" when 19:00 is Monday-to-Friday's closing time. So the sources are
//! cut into *segments* — a clause of a sentence, a catalog row, each with the label and
//! headings it stands under — and a reply's clause is bound when its figures and the things it
//! states them about ("subjects") stand together in one segment.
//!
//! A subject is a word of the reply that the sources use beside some figure, and that either
//! the question names ("samstags") or the reply names (a capitalized word that does not open
//! the sentence: "Zauberberg", "Saturday"). A reply clause may state several bindings at once
//! ("Mo–Fr 9–19 Uhr und Samstag 9–16 Uhr"), so it is bound when it can be cut into pieces,
//! each holding a figure and a subject, that are each bound:
//! - some segment holds all the piece's figures and one of its subjects, and
//! - none of its subjects is *contradicted*: used beside figures in the sources, but never
//!   beside one of the piece's.
//!
//! A list sentence's later clauses stand under its label or its first clause's head ("Our
//! shop is open" in "Our shop is open Monday to Friday 9–18, Saturday 10–14"): the words
//! they leave out are theirs too.
//!
//! The check is lenient where the text gives no structure to go by (a word the sources never
//! use beside a figure binds nothing), and strict where it does. What co-occurrence cannot
//! tell apart it lets pass: in "Montag bis Samstag 9–19 Uhr" Montag binds both figures and
//! Samstag stands beside one of them (9:00) — as a verb like "geöffnet" does in a correct
//! reply — so that range is not caught.

use std::collections::HashSet;

use crate::documents::PassageKind;
use crate::index::{sentences, Hit};

use super::{groups, names, numbers, stem, without_zero_tail, FactKind, Unsupported};

/// A stretch of a source that states its figures about its words.
#[derive(Debug, Clone, Default)]
pub(super) struct Segment {
    numbers: Vec<Vec<String>>,
    stems: HashSet<String>,
}

impl Segment {
    fn has_number(&self, number: &[String]) -> bool {
        self.numbers.iter().any(|n| n == number)
    }
}

/// A number as compared here: its digit groups, trailing zero groups dropped ("9:00" = "9").
fn normalized(number: &str) -> Vec<String> {
    without_zero_tail(groups(number))
}

/// Words of four letters or more, as their first five characters: "samstags" is "samst".
fn stems(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 4 && w.chars().all(char::is_alphabetic))
        .map(stem)
}

/// Clauses of a text: lines, then sentences, then the parts between a comma or semicolon and
/// the space after it (a decimal comma has no space).
fn clauses(sentence: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = sentence.as_bytes();
    for (i, c) in sentence.char_indices() {
        if matches!(c, ',' | ';') && bytes.get(i + 1).is_some_and(u8::is_ascii_whitespace) {
            out.push(&sentence[start..i]);
            start = i + 1;
        }
    }
    out.push(&sentence[start..]);
    out
}

/// The words before a sentence's only "label: " when no figure precedes it: they name what
/// all of the sentence's clauses are about ("Öffnungszeiten: Mo–Fr 9–19, Sa 9–16").
fn label(sentence: &str) -> Option<&str> {
    let (head, _) = sentence.split_once(": ")?;
    let only_one = sentence.matches(": ").count() == 1;
    (only_one && !head.chars().any(|c| c.is_ascii_digit())).then_some(head)
}

/// What a list sentence's later clauses leave out: the words of its first clause before the
/// key its first figure stands beside ("Our shop is open" in "Our shop is open Monday to
/// Friday 9–18, Saturday 10–14"). The key is the run of capitalized words (with short words
/// between them: "Monday to Friday") right before the figure.
fn head(first_clause: &str) -> &str {
    let before = first_clause
        .find(|c: char| c.is_ascii_digit())
        .map_or(first_clause, |i| &first_clause[..i]);
    let mut words: Vec<(usize, &str)> = Vec::new();
    let mut start = None;
    for (i, c) in before.char_indices().chain([(before.len(), ' ')]) {
        match (c.is_alphabetic(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                words.push((s, &before[s..i]));
                start = None;
            }
            _ => {}
        }
    }
    let capital = |w: &str| w.chars().next().is_some_and(char::is_uppercase);
    // One short word may join two capitalized ones ("Monday to Friday"); a second ends the
    // key ("Unser Laden ist Montag bis Freitag": the key is the days).
    let mut key_start = words.len();
    let mut joined = false;
    while key_start > 0 {
        let (_, word) = words[key_start - 1];
        let joins = !joined
            && word.chars().count() <= 3
            && key_start >= 2
            && capital(words[key_start - 2].1)
            && key_start < words.len();
        if capital(word) || joins {
            joined |= joins;
            key_start -= 1;
        } else {
            break;
        }
    }
    match words.get(key_start) {
        Some(&(start, _)) => &before[..start],
        None => before,
    }
}

/// The segments of one source text, each also standing under `scope` (its title, headings).
pub(super) fn segments_of(text: &str, scope: &[&str], whole: bool) -> Vec<Segment> {
    let scoped: Vec<String> = scope.iter().flat_map(|s| stems(s)).collect();
    let segment = |part: &str, label: Option<&str>| Segment {
        numbers: numbers(part).iter().map(|n| normalized(n)).collect(),
        stems: stems(part)
            .chain(label.into_iter().flat_map(stems))
            .chain(scoped.iter().cloned())
            .collect(),
    };
    if whole {
        // A catalog row's fields all belong to its product.
        return vec![segment(text, None)];
    }
    sentences(text)
        .into_iter()
        .flat_map(|sentence| {
            let clauses = clauses(sentence);
            // A label, else a list's head, is what every clause of the sentence is about.
            let shared = label(sentence).or_else(|| (clauses.len() > 1).then(|| head(clauses[0])));
            clauses.into_iter().map(move |clause| (clause, shared))
        })
        .map(|(clause, shared)| segment(clause, shared))
        .collect()
}

/// The segments of retrieved passages: a product is one segment, prose is cut into clauses
/// under its title and headings.
pub(super) fn segments_of_hit(hit: &Hit) -> Vec<Segment> {
    let mut scope: Vec<&str> = vec![hit.title.as_str()];
    scope.extend(hit.heading_path.iter().map(String::as_str));
    segments_of(&hit.text, &scope, hit.kind == PassageKind::Product)
}

/// One item of a reply clause, in order.
#[derive(Debug, Clone, PartialEq)]
enum Item {
    Figure(Vec<String>),
    Subject(String),
}

/// A reply clause's figures and subjects in the order they stand.
fn items(clause: &str, subjects: &dyn Fn(&str) -> bool) -> Vec<Item> {
    let mut out = Vec::new();
    let mut rest = clause;
    // Walk numbers and words in order: numbers() and the word split both go left to right.
    let figures = numbers(clause);
    let mut figures = figures.iter().peekable();
    while !rest.is_empty() {
        let next_figure = figures.peek().and_then(|f| rest.find(f.as_str()));
        // A word ends at a digit too, so "E5" leaves its "5" to be the figure it is.
        let word_end = rest
            .find(|c: char| !c.is_alphabetic())
            .unwrap_or(rest.len());
        if next_figure == Some(0) {
            let figure = figures.next().expect("peeked");
            out.push(Item::Figure(normalized(figure)));
            rest = &rest[figure.len()..];
        } else if word_end > 0 {
            let word = &rest[..word_end];
            if subjects(word) {
                out.push(Item::Subject(stem(word)));
            }
            rest = &rest[word_end..];
        } else {
            let skip = rest.chars().next().map_or(1, char::len_utf8);
            rest = &rest[skip..];
        }
    }
    out
}

/// Whether one piece (figures with subjects) is stated as some segment states it.
fn piece_bound(piece: &[Item], segments: &[Segment]) -> bool {
    let figures: Vec<&Vec<String>> = piece
        .iter()
        .filter_map(|i| match i {
            Item::Figure(f) => Some(f),
            Item::Subject(_) => None,
        })
        .collect();
    let subjects: Vec<&String> = piece
        .iter()
        .filter_map(|i| match i {
            Item::Subject(s) => Some(s),
            Item::Figure(_) => None,
        })
        .collect();
    let together = segments.iter().any(|s| {
        figures.iter().all(|f| s.has_number(f)) && subjects.iter().any(|w| s.stems.contains(*w))
    });
    let contradicted = subjects.iter().any(|w| {
        let beside: Vec<&Segment> = segments
            .iter()
            .filter(|s| s.stems.contains(*w) && !s.numbers.is_empty())
            .collect();
        !beside.is_empty()
            && !beside
                .iter()
                .any(|s| figures.iter().any(|f| s.has_number(f)))
    });
    together && !contradicted
}

/// Whether `items[start..]` can be cut into bound pieces, each with a figure and a subject.
fn cuttable(items: &[Item], segments: &[Segment], memo: &mut [Option<bool>], start: usize) -> bool {
    if start == items.len() {
        return true;
    }
    if let Some(known) = memo[start] {
        return known;
    }
    let mut found = false;
    for end in start + 1..=items.len() {
        let piece = &items[start..end];
        let has = |figure: bool| piece.iter().any(|i| matches!(i, Item::Figure(_)) == figure);
        if has(true) && has(false) && piece_bound(piece, segments) && {
            cuttable(items, segments, memo, end)
        } {
            found = true;
            break;
        }
    }
    memo[start] = Some(found);
    found
}

/// A reply that states figures without naming any of the things the question asks about that
/// the sources give figures for: "Sonntag?" answered with the weekday hours.
fn off_question(
    reply: &str,
    beside_figures: &HashSet<&String>,
    asked: &HashSet<String>,
    allowed: &HashSet<String>,
) -> Option<Unsupported> {
    let wanted: Vec<&String> = asked
        .iter()
        .filter(|a| beside_figures.contains(a) && !allowed.contains(*a))
        .collect();
    if wanted.is_empty() || numbers(reply).is_empty() {
        return None;
    }
    let said: HashSet<String> = stems(reply).collect();
    (!wanted.iter().any(|w| said.contains(*w))).then(|| Unsupported {
        span: reply.trim().to_string(),
        kind: FactKind::Misattached,
    })
}

/// The first clause of `reply` whose figures are stated about another thing than the sources
/// state them about, or the whole reply when its figures are about none of the things asked
/// about that the sources give figures for. `asked` are the question's content words;
/// `allowed` words (the business's name) are never subjects.
pub(super) fn misattached(
    reply: &str,
    segments: &[Segment],
    asked: &[String],
    allowed: &[&str],
) -> Option<Unsupported> {
    let beside_figures: HashSet<&String> = segments
        .iter()
        .filter(|s| !s.numbers.is_empty())
        .flat_map(|s| s.stems.iter())
        .collect();
    let asked: HashSet<String> = asked.iter().map(|w| stem(w)).collect();
    let allowed: HashSet<String> = allowed.iter().flat_map(|a| stems(a)).collect();
    if let Some(off) = off_question(reply, &beside_figures, &asked, &allowed) {
        return Some(off);
    }
    for sentence in sentences(reply) {
        let named: HashSet<String> = names(sentence).iter().map(|n| stem(n)).collect();
        for clause in clauses(sentence) {
            let is_subject = |word: &str| {
                let s = stem(word);
                word.chars().count() >= 4
                    && beside_figures.contains(&s)
                    && !allowed.contains(&s)
                    && (asked.contains(&s) || named.contains(&s))
            };
            let items = items(clause, &is_subject);
            let figures = items.iter().any(|i| matches!(i, Item::Figure(_)));
            let subjects = items.iter().any(|i| matches!(i, Item::Subject(_)));
            if !(figures && subjects) {
                continue;
            }
            let mut memo = vec![None; items.len()];
            if !cuttable(&items, segments, &mut memo, 0) {
                return Some(Unsupported {
                    span: clause.trim().to_string(),
                    kind: FactKind::Misattached,
                });
            }
        }
    }
    None
}
