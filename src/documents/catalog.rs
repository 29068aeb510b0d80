//! CSV and TSV catalogs: one Product passage per row. The header row is required and names the
//! fields (see `product`); the delimiter of a .csv is sniffed from the header line because German
//! Excel writes `;`. Line numbers in errors are physical lines with the header as line 1, so the
//! owner can find the row in a text editor or spreadsheet.

use csv::{ReaderBuilder, StringRecord};

use super::product::Schema;
use super::{Budget, DocumentError, Format, Limits, Passage};

pub(crate) fn passages(
    file: &str,
    text: &str,
    format: Format,
    limits: &Limits,
    budget: &Budget,
) -> Result<Vec<Passage>, DocumentError> {
    let delimiter = if format == Format::Tsv {
        b'\t'
    } else {
        sniff_delimiter(text)
    };
    let mut reader = ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());

    let mut record = StringRecord::new();
    let read = |reader: &mut csv::Reader<&[u8]>, record: &mut StringRecord| {
        reader.read_record(record).map_err(|e| {
            let line = e.position().map(|p| p.line() as usize);
            DocumentError::malformed(
                file,
                line,
                format!(
                    "the file could not be read as {}: {e}",
                    format.as_str().to_uppercase()
                ),
            )
        })
    };

    // The header is the first row that is not entirely empty.
    let headers = loop {
        if !read(&mut reader, &mut record)? {
            return Err(DocumentError::Empty {
                file: file.to_string(),
            });
        }
        if record.iter().any(|f| !f.trim().is_empty()) {
            break record
                .iter()
                .map(|h| h.trim().to_string())
                .collect::<Vec<_>>();
        }
    };
    let header_line = line_of(&record);
    let schema = Schema::new(&headers);
    let Some(name_label) = schema.name_label().map(str::to_string) else {
        return Err(DocumentError::malformed(
            file,
            Some(header_line),
            format!(
                "no name column in the header ({}); name one column \"name\", \"title\", \"product\", \"Produkt\", \"Titel\", \"Bezeichnung\", \"Artikel\" or \"nome\"",
                shown_headers(&headers, delimiter)
            ),
        ));
    };

    let mut passages = Vec::new();
    let mut rows = 0usize;
    let mut records = 0usize;
    while read(&mut reader, &mut record)? {
        records += 1;
        budget.check_every(file, records, 1024)?;
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        rows += 1;
        if rows > limits.max_rows {
            continue; // keep counting so the error can say how many rows there are
        }
        let line = line_of(&record);
        let extra_filled = record
            .iter()
            .skip(headers.len())
            .any(|f| !f.trim().is_empty());
        if record.len() < headers.len() || extra_filled {
            return Err(DocumentError::malformed(
                file,
                Some(line),
                format!(
                    "this row has {} fields but the header has {} ({}); check for a missing or extra {} or for a value with {} that is not in double quotes",
                    record.len(),
                    headers.len(),
                    shown_headers(&headers, delimiter),
                    delimiter_name(delimiter),
                    delimiter_name(delimiter),
                ),
            ));
        }
        let values: Vec<&str> = record.iter().collect();
        match schema.product(&values) {
            Some(passage) => passages.push(passage),
            None => {
                return Err(DocumentError::malformed(
                    file,
                    Some(line),
                    format!(
                        "the \"{name_label}\" column is empty; fill in a name or delete the row"
                    ),
                ))
            }
        }
    }
    if rows > limits.max_rows {
        return Err(DocumentError::TooManyRows {
            file: file.to_string(),
            rows,
            limit: limits.max_rows,
        });
    }
    Ok(passages)
}

fn line_of(record: &StringRecord) -> usize {
    record.position().map_or(0, |p| p.line() as usize)
}

/// The most frequent of `,` `;` and tab outside quotes in the first non-empty line; `,` on a tie.
fn sniff_delimiter(text: &str) -> u8 {
    let header = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
    let mut quoted = false;
    for byte in header.bytes() {
        if byte == b'"' {
            quoted = !quoted;
        } else if !quoted {
            for (delimiter, count) in &mut counts {
                if byte == *delimiter {
                    *count += 1;
                }
            }
        }
    }
    counts
        .iter()
        .fold(
            (b',', 0),
            |best, &(d, n)| if n > best.1 { (d, n) } else { best },
        )
        .0
}

fn delimiter_name(delimiter: u8) -> &'static str {
    match delimiter {
        b';' => "semicolon",
        b'\t' => "tab",
        _ => "comma",
    }
}

fn shown_headers(headers: &[String], delimiter: u8) -> String {
    let separator = if delimiter == b'\t' { " | " } else { "; " };
    let shown: Vec<&str> = headers.iter().take(12).map(String::as_str).collect();
    let more = if headers.len() > 12 { ", …" } else { "" };
    format!("{}{more}", shown.join(separator))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_delimiters() {
        assert_eq!(sniff_delimiter("Titel;Preis;Bestand\n1,2;3"), b';');
        assert_eq!(sniff_delimiter("\n\"a;b\",c,d\n"), b',');
        assert_eq!(sniff_delimiter("a\tb\tc"), b'\t');
        assert_eq!(sniff_delimiter("name"), b',');
    }

    #[test]
    fn rows_render_and_errors_name_lines() {
        let limits = Limits::default();
        let budget = limits.budget(Default::default());
        let text = "Titel;Preis\n\nMomo;9,90\n;;\n\"Die \"\"unendliche\"\" Geschichte\";12\n";
        let got = passages("k.csv", text, Format::Csv, &limits, &budget).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].title, "Die \"unendliche\" Geschichte");

        let err = passages(
            "k.csv",
            "Titel;Preis\nMomo;9,90\nOops\n",
            Format::Csv,
            &limits,
            &budget,
        )
        .unwrap_err();
        assert_eq!(err.line(), Some(3));
        let err = passages(
            "k.csv",
            "Titel;Preis\nMomo;9,90;\n;1\n",
            Format::Csv,
            &limits,
            &budget,
        )
        .unwrap_err();
        assert_eq!(err.line(), Some(3), "{err}");
        assert!(
            err.to_string().contains("\"Titel\" column is empty"),
            "{err}"
        );
    }
}
