//! Splitting prose into Page passages. A chunk aims at ~200 words (never above 250, except when a
//! tiny remainder is folded into the last chunk) so a passage is specific enough to retrieve yet
//! carries its context; consecutive chunks share ~40 words so a fact that straddles a boundary
//! is whole in at least one of them. Boundaries fall between paragraphs where possible, else
//! between sentences; a single sentence longer than a chunk is cut between words.

use super::clean::{word_count, word_spans};

/// Once a chunk has this many words it closes at the next paragraph boundary.
const MIN_WORDS: usize = 150;
/// Once a chunk has this many words it closes at the next sentence boundary.
const TARGET_WORDS: usize = 200;
/// A chunk never grows beyond this many words while being filled.
const MAX_WORDS: usize = 250;
/// Sentences longer than this are cut into pieces of this many words, so that the overlap plus
/// one piece still fits under `MAX_WORDS`.
const PIECE_WORDS: usize = 180;
/// The overlap is the last whole sentences of the previous chunk, at most this many words...
const OVERLAP_MAX: usize = 60;
/// ...unless that would be fewer than this many; then it is the last `OVERLAP_WORDS` words.
const OVERLAP_MIN: usize = 20;
const OVERLAP_WORDS: usize = 40;
/// A remainder shorter than this joins the previous chunk instead of standing alone.
const TAIL_WORDS: usize = 40;

/// A run of whole words inside one paragraph.
#[derive(Debug, Clone, Copy)]
struct Span {
    para: usize,
    start: usize,
    end: usize,
    words: usize,
    para_start: bool,
}

/// Chunks one section's paragraphs (in order) into passage texts, paragraphs separated by a blank
/// line.
pub(crate) fn chunk(paragraphs: &[String]) -> Vec<String> {
    let paras: Vec<&str> = paragraphs
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect();
    let total: usize = paras.iter().map(|p| word_count(p)).sum();
    if total == 0 {
        return Vec::new();
    }
    if total <= MAX_WORDS {
        return vec![paras.join("\n\n")];
    }

    let mut chunks: Vec<Vec<Span>> = Vec::new();
    let mut current: Vec<Span> = Vec::new();
    let mut words = 0;
    // Index in `current` where the units not yet in any earlier chunk begin.
    let mut fresh_from = 0;
    for unit in units(&paras) {
        let fresh = fresh_from < current.len();
        let full = words + unit.words > MAX_WORDS
            || words >= TARGET_WORDS
            || (words >= MIN_WORDS && unit.para_start);
        if fresh && full {
            let overlap = overlap(&paras, &current);
            chunks.push(std::mem::replace(&mut current, overlap));
            words = current.iter().map(|s| s.words).sum();
            fresh_from = current.len();
        }
        current.push(unit);
        words += unit.words;
    }
    let tail = &current[fresh_from.min(current.len())..];
    let tail_words: usize = tail.iter().map(|s| s.words).sum();
    match chunks.last_mut() {
        Some(last) if tail_words < TAIL_WORDS => last.extend_from_slice(tail),
        _ if !tail.is_empty() => chunks.push(current),
        _ => {}
    }
    chunks.iter().map(|spans| render(&paras, spans)).collect()
}

/// Sentences of every paragraph, over-long ones cut into pieces.
fn units(paras: &[&str]) -> Vec<Span> {
    let mut units = Vec::new();
    for (para, text) in paras.iter().enumerate() {
        for (i, sentence) in sentences(text, para, 0, text.len()).into_iter().enumerate() {
            if sentence.words <= PIECE_WORDS {
                units.push(Span {
                    para_start: i == 0,
                    ..sentence
                });
                continue;
            }
            let words = word_spans(&text[sentence.start..sentence.end]);
            for (j, piece) in words.chunks(PIECE_WORDS).enumerate() {
                if let (Some(first), Some(last)) = (piece.first(), piece.last()) {
                    units.push(Span {
                        para,
                        start: sentence.start + first.0,
                        end: sentence.start + last.1,
                        words: piece.len(),
                        para_start: i == 0 && j == 0,
                    });
                }
            }
        }
    }
    units
}

/// The trailing whole sentences of `chunk` (at most `OVERLAP_MAX` words), or its last
/// `OVERLAP_WORDS` words when sentences are too long for that.
fn overlap(paras: &[&str], chunk: &[Span]) -> Vec<Span> {
    let mut taken = Vec::new();
    let mut words = 0;
    'spans: for span in chunk.iter().rev() {
        let text = paras[span.para];
        for sentence in sentences(text, span.para, span.start, span.end)
            .iter()
            .rev()
        {
            if words + sentence.words > OVERLAP_MAX {
                break 'spans;
            }
            words += sentence.words;
            taken.push(*sentence);
        }
    }
    if words < OVERLAP_MIN {
        taken = last_words(paras, chunk, OVERLAP_WORDS);
    }
    taken.reverse();
    for span in &mut taken {
        span.para_start = false;
    }
    taken
}

/// The last `n` words of `chunk` as spans, last first.
fn last_words(paras: &[&str], chunk: &[Span], n: usize) -> Vec<Span> {
    let mut taken = Vec::new();
    let mut remaining = n;
    for span in chunk.iter().rev() {
        if remaining == 0 {
            break;
        }
        let words = word_spans(&paras[span.para][span.start..span.end]);
        let keep = words.len().min(remaining);
        if let Some(first) = words.get(words.len() - keep) {
            taken.push(Span {
                start: span.start + first.0,
                words: keep,
                ..*span
            });
        }
        remaining -= keep;
    }
    taken
}

/// Splits `text[start..end]` into sentences: after `.`, `!`, `?` or `…` when the next word starts
/// like a sentence and the dot does not end an abbreviation or ordinal; also at line breaks, which
/// inside a paragraph separate list items or table rows.
fn sentences(text: &str, para: usize, start: usize, end: usize) -> Vec<Span> {
    let slice = &text[start..end];
    let words = word_spans(slice);
    let mut out = Vec::new();
    let mut first = 0;
    for i in 0..words.len() {
        let (ws, we) = words[i];
        let boundary = match words.get(i + 1) {
            None => true,
            Some(&(next_start, next_end)) => {
                slice[we..next_start].contains('\n')
                    || (ends_sentence(&slice[ws..we])
                        && starts_sentence(&slice[next_start..next_end]))
            }
        };
        if boundary {
            out.push(Span {
                para,
                start: start + words[first].0,
                end: start + we,
                words: i + 1 - first,
                para_start: false,
            });
            first = i + 1;
        }
    }
    out
}

fn ends_sentence(word: &str) -> bool {
    let word = word.trim_end_matches(['"', '\'', '”', '’', '»', '«', ')', ']', '*']);
    if word.ends_with(['!', '?', '…']) {
        return true;
    }
    let Some(base) = word.strip_suffix('.') else {
        return false;
    };
    let lower = base.to_lowercase();
    let abbreviation = base.chars().count() <= 1
        || base.contains('.')
        || base.chars().all(|c| c.is_ascii_digit())
        || ABBREVIATIONS.contains(&lower.as_str());
    !abbreviation
}

fn starts_sentence(word: &str) -> bool {
    word.trim_start_matches(['"', '\'', '„', '“', '‘', '«', '»', '(', '¿', '¡', '*'])
        .chars()
        .next()
        .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit())
}

/// Abbreviations that end with a dot but rarely end a sentence (German, English, Portuguese).
#[rustfmt::skip]
const ABBREVIATIONS: &[&str] = &[
    "bzw", "ca", "inkl", "exkl", "zzgl", "evtl", "ggf", "usw", "vgl", "nr", "str", "tel", "dr",
    "prof", "mr", "mrs", "ms", "st", "vs", "etc", "no", "sr", "sra", "ref", "art", "abs", "max",
    "min", "mind", "jan", "feb", "mär", "apr", "aug", "sep", "sept", "okt", "oct", "nov", "dez",
    "dec",
];

fn render(paras: &[&str], spans: &[Span]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while let Some(first) = spans.get(i) {
        let mut end = first.end;
        i += 1;
        while let Some(next) = spans.get(i).filter(|s| s.para == first.para) {
            end = next.end;
            i += 1;
        }
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str(&paras[first.para][first.start..end]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(words: usize, sentence_len: usize) -> String {
        (0..words)
            .map(|i| {
                if i % sentence_len == 0 {
                    format!("Wort{i}")
                } else if i % sentence_len == sentence_len - 1 {
                    format!("w{i}.")
                } else {
                    format!("w{i}")
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn short_sections_are_one_chunk() {
        let paras = vec!["Eins zwei.".to_string(), "Drei.".to_string()];
        assert_eq!(chunk(&paras), vec!["Eins zwei.\n\nDrei."]);
        assert!(chunk(&[" ".to_string()]).is_empty());
    }

    #[test]
    fn long_text_chunks_within_bounds_with_overlap() {
        let chunks = chunk(&[text(996, 12)]);
        assert!(chunks.len() >= 4, "{}", chunks.len());
        for c in &chunks {
            let n = word_count(c);
            assert!((100..=290).contains(&n), "{n}");
        }
        for pair in chunks.windows(2) {
            let first_word = pair[1].split_whitespace().next().unwrap();
            assert!(pair[0].contains(first_word));
            // Chunks start at a sentence start.
            assert!(first_word.starts_with("Wort"), "{first_word}");
        }
        let last = chunks.last().unwrap();
        assert!(last.ends_with("w995."));
    }

    #[test]
    fn a_sentence_without_end_is_cut_between_words() {
        let words: Vec<String> = (0..700).map(|i| format!("w{i}")).collect();
        let chunks = chunk(&[words.join(" ")]);
        for c in &chunks {
            assert!(word_count(c) <= 290);
            assert!(c.split_whitespace().all(|w| w.starts_with('w')));
        }
        let joined: Vec<&str> = chunks.iter().flat_map(|c| c.split_whitespace()).collect();
        assert!(joined.contains(&"w699"));
        assert!(joined.contains(&"w0"));
    }

    #[test]
    fn abbreviations_do_not_end_sentences() {
        let s = "Wir liefern z.B. am 3. Mai. Danach ca. Zwei Wochen. Ende!";
        let got: Vec<&str> = sentences(s, 0, 0, s.len())
            .iter()
            .map(|sp| &s[sp.start..sp.end])
            .collect();
        assert_eq!(
            got,
            [
                "Wir liefern z.B. am 3. Mai.",
                "Danach ca. Zwei Wochen.",
                "Ende!"
            ]
        );
    }
}
