//! PDF via pdf-extract: the text layer only, as Page passages. PDF text comes out as one line per
//! printed line, so lines are re-joined into paragraphs (undoing end-of-line hyphenation) before
//! chunking. pdf-extract can panic on unusual files; that is caught and reported as a damaged
//! file, never allowed to take the service down.

use super::chunk::chunk;
use super::clean::{single_line, word_count};
use super::{DocumentError, Passage, PassageKind};

const NO_TEXT: &str = "the PDF has no text layer; it may be scanned — upload a text version (for example the original document, or the PDF after text recognition)";

pub(crate) fn passages(file: &str, bytes: &[u8]) -> Result<Vec<Passage>, DocumentError> {
    let malformed = |message: String| DocumentError::malformed(file, None, message);
    if !bytes[..bytes.len().min(1024)]
        .windows(5)
        .any(|w| w == b"%PDF-")
    {
        return Err(malformed(
            "this is not a PDF file (it does not start with %PDF-); check the file or upload it with its real extension".to_string(),
        ));
    }
    let extracted = std::panic::catch_unwind(|| pdf_extract::extract_text_from_mem(bytes));
    let text = match extracted {
        Ok(Ok(text)) => text,
        Ok(Err(e)) => {
            let detail = e.to_string();
            let lower = detail.to_lowercase();
            return Err(malformed(if lower.contains("decrypt") || lower.contains("password") || lower.contains("encrypt") || lower.contains("security handler") {
                "the PDF is password-protected or encrypted; save a copy without protection and upload that".to_string()
            } else {
                format!("the PDF could not be read ({detail}); export it again from the program that made it, or upload a text version")
            }));
        }
        Err(_) => {
            return Err(malformed(
                "the PDF could not be read (it is damaged or uses features clerk does not support); export it again from the program that made it, or upload a text version".to_string(),
            ))
        }
    };

    let paragraphs = paragraphs(&text);
    if paragraphs.iter().all(|p| p.trim().is_empty()) {
        return Err(malformed(NO_TEXT.to_string()));
    }
    let title = paragraphs
        .first()
        .and_then(|p| p.lines().next())
        .map(single_line)
        .filter(|line| word_count(line) <= 12 && line.chars().count() <= 100)
        .unwrap_or_default();
    Ok(chunk(&paragraphs)
        .into_iter()
        .map(|text| Passage::new(PassageKind::Page, &title, Vec::new(), &text))
        .collect())
}

/// Blank lines (and page breaks) separate paragraphs; the lines of a paragraph are joined with
/// spaces, and a word hyphenated across a line end is joined back ("Bestel-\nlung").
fn paragraphs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.replace('\u{0C}', "\n\n").split('\n') {
        let line = line.trim();
        if line.is_empty() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            continue;
        }
        if current.is_empty() {
            current.push_str(line);
        } else if current.ends_with('-')
            && current[..current.len() - 1].ends_with(char::is_alphabetic)
        {
            // "Bestel-" + "lung" was hyphenated by the layout; "E-" + "Mail" is a real hyphen.
            if line.starts_with(char::is_lowercase) {
                current.pop();
            }
            current.push_str(line);
        } else {
            current.push(' ');
            current.push_str(line);
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_joined_into_paragraphs() {
        assert_eq!(
            paragraphs("Titel\n\nDie Bestel-\nlung kommt\nbald.\u{0C}E-\nMail hier\n"),
            ["Titel", "Die Bestellung kommt bald.", "E-Mail hier"]
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(passages("x.pdf", b"hello").is_err());
        assert!(passages("x.pdf", b"%PDF-1.4\n garbage \x00\x01 trailer").is_err());
    }
}
