//! PDF via pdf-extract: the text layer only, as Page passages. PDF text comes out as one line per
//! printed line, so lines are re-joined into paragraphs (undoing end-of-line hyphenation) before
//! chunking. The document is opened with lopdf (through pdf-extract) first, so that a file whose
//! page tree cannot be read is called damaged rather than "scanned"; extraction writes through
//! an output device that checks the upload's budget, so a huge or hostile file stops on time.
//! pdf-extract can panic on unusual files; that is caught and reported as a damaged file,
//! never allowed to take the service down.

use pdf_extract::{MediaBox, OutputDev, OutputError, PlainTextOutput, Transform};

use super::chunk::chunk;
use super::clean::{single_line, word_count};
use super::{Budget, DocumentError, Passage, PassageKind};

const NO_TEXT: &str = "the PDF has no text layer; it may be scanned — upload a text version (for example the original document, or the PDF after text recognition)";
const EXPORT_AGAIN: &str =
    "export it again from the program that made it, or upload a text version";

pub(crate) fn passages(
    file: &str,
    bytes: &[u8],
    budget: &Budget,
) -> Result<Vec<Passage>, DocumentError> {
    let malformed = |message: String| DocumentError::malformed(file, None, message);
    if !bytes[..bytes.len().min(1024)]
        .windows(5)
        .any(|w| w == b"%PDF-")
    {
        return Err(malformed(
            "this is not a PDF file (it does not start with %PDF-); check the file or upload it with its real extension".to_string(),
        ));
    }
    let extracted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        extract(file, bytes, budget)
    }));
    let text = match extracted {
        Ok(text) => text?,
        Err(_) => {
            return Err(malformed(format!(
                "the PDF could not be read (it is damaged or uses features clerk does not support); {EXPORT_AGAIN}"
            )))
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

/// The text layer, or why there is none to read.
fn extract(file: &str, bytes: &[u8], budget: &Budget) -> Result<String, DocumentError> {
    let malformed = |message: String| DocumentError::malformed(file, None, message);
    let refused = |e: &dyn std::fmt::Display| {
        let detail = e.to_string();
        let lower = detail.to_lowercase();
        malformed(
            if ["decrypt", "password", "encrypt", "security handler"]
                .iter()
                .any(|w| lower.contains(w))
            {
                "the PDF is password-protected or encrypted; save a copy without protection and upload that".to_string()
            } else {
                format!("the PDF could not be read ({detail}); {EXPORT_AGAIN}")
            },
        )
    };
    let mut doc = pdf_extract::Document::load_mem(bytes).map_err(|e| refused(&e))?;
    if doc.is_encrypted() {
        doc.decrypt("").map_err(|e| refused(&e))?;
    }
    budget.check(file)?;
    // A readable PDF has a catalog and at least one page; without them there is nothing a
    // scanner could have made either, so the file is damaged (or hostile), not scanned.
    if let Err(e) = doc.catalog() {
        return Err(malformed(format!(
            "the PDF is damaged: its catalog cannot be read ({e}); {EXPORT_AGAIN}"
        )));
    }
    if doc.get_pages().is_empty() {
        return Err(malformed(format!(
            "the PDF is damaged: it has no page that can be read; {EXPORT_AGAIN}"
        )));
    }
    let mut text = String::new();
    let mut out = Budgeted {
        inner: PlainTextOutput::new(&mut text),
        file,
        budget,
        calls: 0,
        stopped: None,
    };
    let result = pdf_extract::output_doc(&doc, &mut out);
    if let Some(stopped) = out.stopped {
        return Err(stopped);
    }
    result.map_err(|e| refused(&e))?;
    Ok(text)
}

/// pdf-extract's plain-text output, stopped (by an error it cannot ignore) once the budget
/// is spent.
struct Budgeted<'a, W: pdf_extract::ConvertToFmt> {
    inner: PlainTextOutput<W>,
    file: &'a str,
    budget: &'a Budget,
    calls: usize,
    stopped: Option<DocumentError>,
}

impl<W: pdf_extract::ConvertToFmt> Budgeted<'_, W> {
    fn tick(&mut self) -> Result<(), OutputError> {
        self.calls += 1;
        match self.budget.check_every(self.file, self.calls, 256) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.stopped = Some(e);
                Err(OutputError::FormatError(std::fmt::Error))
            }
        }
    }
}

impl<W: pdf_extract::ConvertToFmt> OutputDev for Budgeted<'_, W> {
    fn begin_page(
        &mut self,
        page_num: u32,
        media_box: &MediaBox,
        art_box: Option<(f64, f64, f64, f64)>,
    ) -> Result<(), OutputError> {
        self.tick()?;
        self.inner.begin_page(page_num, media_box, art_box)
    }

    fn end_page(&mut self) -> Result<(), OutputError> {
        self.inner.end_page()
    }

    fn output_character(
        &mut self,
        trm: &Transform,
        width: f64,
        spacing: f64,
        font_size: f64,
        char: &str,
    ) -> Result<(), OutputError> {
        self.tick()?;
        self.inner
            .output_character(trm, width, spacing, font_size, char)
    }

    fn begin_word(&mut self) -> Result<(), OutputError> {
        self.inner.begin_word()
    }

    fn end_word(&mut self) -> Result<(), OutputError> {
        self.inner.end_word()
    }

    fn end_line(&mut self) -> Result<(), OutputError> {
        self.inner.end_line()
    }
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
        let budget = Budget::new(std::time::Duration::from_secs(60));
        assert!(passages("x.pdf", b"hello", &budget).is_err());
        assert!(passages("x.pdf", b"%PDF-1.4\n garbage \x00\x01 trailer", &budget).is_err());
    }
}
