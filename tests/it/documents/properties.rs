//! Generated uploads, thousands per format: whatever the bytes, `parse` returns (within its
//! budget, so a slow path shows up as a refusal, not a hang), never panics, and either yields
//! passages or an error a business owner can act on, one that names the file.
//!
//! Inputs are drawn from each format's own pieces (tags, delimiters, brackets, label lines,
//! quotes, deep openers) mixed with arbitrary text, so they reach past the first syntax check
//! into the parsers' interiors; the fuzz targets in `fuzz/` do the same without a time limit.

use clerk::documents::{parse, Limits};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Pieces each generated file is assembled from.
const HTML: &[&str] = &[
    "<html>",
    "<body>",
    "<div>",
    "</div>",
    "</x>",
    "<p>",
    "</p>",
    "<b class=a>",
    "</b>",
    "<i>",
    "<table>",
    "<tr>",
    "<td>",
    "</table>",
    "<h2>",
    "</h2>",
    "<ul>",
    "<li>",
    "<dl><dt>Wann?</dt><dd>",
    "<details><summary>Preis?</summary>",
    "<script>",
    "</script>",
    "<!--",
    "-->",
    "<title>",
    "&amp;",
    "&#x",
    "<a href='https://x.de'>",
    "</a>",
    "<br>",
    "<svg>",
    "<template>",
    "text ",
    "Öffnungszeiten ",
    "\n",
    "<",
    ">",
];
const MARKDOWN: &[&str] = &[
    "# ",
    "## Wann habt ihr offen?\n",
    "\n",
    "\n\n",
    "> ",
    "- ",
    "  - ",
    "1. ",
    "**",
    "*",
    "_",
    "`",
    "```\n",
    "[",
    "](",
    ")",
    "![",
    "|",
    "| --- |",
    "---\n",
    "+++\n",
    "Q: ",
    "A: ",
    "Frage: ",
    "<div>",
    "&amp;",
    "\\",
    "text ",
    "Preis 9,90 € ",
];
const TEXT: &[&str] = &[
    "Q: ",
    "A: ",
    "Frage: ",
    "Antwort: ",
    "\n",
    "\n\n",
    "\r\n",
    "\t",
    "word ",
    "Ende. ",
    "z. B. ",
    "…",
    "\u{0C}",
    "https://x.de ",
    "9:00–18:00 ",
];
const CSV: &[&str] = &[
    "name", "Titel", "price", "Preis", "stock", ",", ";", "\t", "\n", "\r\n", "\"", "\"\"", "9,90",
    "x", " ", "€",
];
const JSON: &[&str] = &[
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "\"name\"",
    "\"question\"",
    "\"answer\"",
    "\"price\"",
    "\"products\"",
    "\"x\"",
    "1",
    "9.90",
    "null",
    "true",
    "\"\\u00e9\"",
    "\n",
    " ",
];
const PDF: &[&str] = &[
    "%PDF-1.4\n",
    "1 0 obj",
    "<<",
    ">>",
    "/Type",
    "/Catalog",
    "/Pages",
    "/Kids",
    "[",
    "]",
    "2 0 R",
    "endobj\n",
    "stream\n",
    "endstream\n",
    "xref\n",
    "0 1\n",
    "trailer",
    "/Root",
    "startxref\n",
    "%%EOF",
    "BT /F1 12 Tf (Hallo) Tj ET",
    " ",
];

/// A file of `pieces` (or, one time in four, of any bytes at all) up to `max` pieces long.
fn file(pieces: &'static [&'static str], max: usize) -> impl Strategy<Value = Vec<u8>> {
    let assembled = proptest::collection::vec(
        prop_oneof![
            4 => proptest::sample::select(pieces).prop_map(|p| p.as_bytes().to_vec()),
            1 => "\\PC{0,12}".prop_map(String::into_bytes),
            // A run of one piece: deep nesting, long lines, many cells.
            1 => (proptest::sample::select(pieces), 1usize..400)
                .prop_map(|(p, n)| p.repeat(n).into_bytes()),
        ],
        0..max,
    )
    .prop_map(|parts| parts.concat());
    prop_oneof![
        3 => assembled,
        1 => proptest::collection::vec(any::<u8>(), 0..2048),
    ]
}

/// Parses `cases` generated files named `name` and checks each outcome.
fn holds_for(name: &'static str, pieces: &'static [&'static str], cases: u32) {
    let limits = Limits {
        max_parse_ms: 2_000,
        ..Limits::default()
    };
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&file(pieces, 120), |bytes| {
            match parse(name, &bytes, &limits) {
                Ok(doc) => {
                    prop_assert!(!doc.passages.is_empty());
                    prop_assert!(doc
                        .passages
                        .iter()
                        .all(|p| !p.text.is_empty() || !p.title.is_empty()));
                }
                Err(e) => {
                    let message = e.to_string();
                    prop_assert_eq!(e.file(), name);
                    prop_assert!(message.starts_with(name), "{}", message);
                    // Something to act on beyond the file name.
                    prop_assert!(message.len() > name.len() + 20, "{}", message);
                }
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
}

#[test]
fn generated_html_parses_or_is_refused_clearly() {
    holds_for("seite.html", HTML, 3000);
}

#[test]
fn generated_markdown_parses_or_is_refused_clearly() {
    holds_for("faq.md", MARKDOWN, 3000);
}

#[test]
fn generated_text_parses_or_is_refused_clearly() {
    holds_for("notizen.txt", TEXT, 3000);
}

#[test]
fn generated_catalogs_parse_or_are_refused_clearly() {
    holds_for("katalog.csv", CSV, 2000);
    holds_for("katalog.tsv", CSV, 1000);
}

#[test]
fn generated_json_parses_or_is_refused_clearly() {
    holds_for("produkte.json", JSON, 2000);
    holds_for("produkte.jsonl", JSON, 1000);
}

#[test]
fn generated_pdfs_parse_or_are_refused_clearly() {
    holds_for("preise.pdf", PDF, 2000);
}
