//! Whitespace rules shared by every format: runs of spaces collapse, lines are trimmed, paragraph
//! breaks survive as one blank line, and invisible characters that only confuse search go.

/// Characters that carry no text: zero-width space, a BOM inside the text, soft hyphen.
fn invisible(c: char) -> bool {
    matches!(c, '\u{200B}' | '\u{FEFF}' | '\u{00AD}')
}

/// Collapses horizontal whitespace, trims every line, keeps at most one blank line in a row and
/// trims the whole.
pub(crate) fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_pending = false;
    for line in text.split('\n') {
        let line = single_line(line);
        if line.is_empty() {
            blank_pending = !out.is_empty();
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_pending { "\n\n" } else { "\n" });
        }
        blank_pending = false;
        out.push_str(&line);
    }
    out
}

/// All whitespace, newlines included, collapsed to single spaces; trimmed.
pub(crate) fn single_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        let word: String = word.chars().filter(|&c| !invisible(c)).collect();
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&word);
    }
    out
}

pub(crate) fn word_count(text: &str) -> usize {
    text.split_whitespace().count()
}

/// Byte ranges of the whitespace-separated words of `text`.
pub(crate) fn word_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                spans.push((s, i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push((s, text.len()));
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_keeps_paragraphs_and_lines() {
        assert_eq!(
            normalize("  a \t b\u{A0}c \n\n\n\n d\ne\u{AD}f  \n  "),
            "a b c\n\nd\nef"
        );
        assert_eq!(normalize("\n\n"), "");
    }

    #[test]
    fn single_line_collapses_newlines() {
        assert_eq!(
            single_line(" Wie\n lange  dauert?\u{200B} "),
            "Wie lange dauert?"
        );
    }

    #[test]
    fn word_spans_find_words() {
        let s = " ab  cd\ne ";
        let words: Vec<&str> = word_spans(s).iter().map(|&(a, b)| &s[a..b]).collect();
        assert_eq!(words, ["ab", "cd", "e"]);
    }
}
