//! Bad uploads: each failure is an error that names the file (and line or row), never a panic;
//! size and row limits are enforced before the work they guard.

use super::*;

#[test]
fn csv_short_row_names_its_physical_line() {
    let err = parse_err("short_row.csv", &fixture("short_row.csv"));
    let DocumentError::Malformed {
        ref file,
        line,
        ref message,
    } = err
    else {
        panic!("expected Malformed, got {err:?}");
    };
    assert_eq!(file, "short_row.csv");
    // Line 7 even though it is the 6th record: a quoted value spans lines 4 and 5.
    assert_eq!(line, Some(7));
    assert!(message.contains("3 fields"), "{message}");
    assert!(message.contains("header has 4"), "{message}");
    let shown = err.to_string();
    assert!(
        shown.starts_with("short_row.csv: line 7: this row has 3 fields"),
        "{shown}"
    );
}

#[test]
fn csv_without_name_column_lists_accepted_headers() {
    let err = parse_err("preise.csv", "Nummer;Preis\n1;2\n".as_bytes());
    assert_eq!(err.line(), Some(1));
    let shown = err.to_string();
    assert!(
        shown.starts_with("preise.csv: line 1: no name column"),
        "{shown}"
    );
    assert!(shown.contains("Nummer; Preis"), "{shown}");
    assert!(shown.contains("\"Titel\""), "{shown}");
}

#[test]
fn csv_row_without_name_names_its_line() {
    let err = parse_err("k.csv", "Name,Price\nTee,1\n,2\n".as_bytes());
    assert_eq!(err.line(), Some(3));
    assert_eq!(
        err.to_string(),
        "k.csv: line 3: the \"Name\" column is empty; fill in a name or delete the row"
    );
}

#[test]
fn invalid_json_names_the_line() {
    let err = parse_err("invalid.json", &fixture("invalid.json"));
    assert!(matches!(err, DocumentError::Malformed { .. }), "{err:?}");
    assert_eq!(err.line(), Some(3));
    let shown = err.to_string();
    assert!(
        shown.starts_with("invalid.json: line 3: invalid JSON"),
        "{shown}"
    );
    assert!(shown.contains("missing comma"), "{shown}");
}

#[test]
fn json_entry_that_is_neither_product_nor_faq() {
    let text = "[\n  {\"name\": \"Tee\"},\n  {\"colour\": \"red\", \"size\": 3}\n]";
    let err = parse_err("x.json", text.as_bytes());
    assert_eq!(err.line(), Some(3));
    let shown = err.to_string();
    assert!(shown.contains("entry 2"), "{shown}");
    assert!(shown.contains("colour, size"), "{shown}");
    assert!(shown.contains("\"question\""), "{shown}");

    let err = parse_err("x.json", b"{\"shop\": \"Greenleaf\"}");
    assert!(err.to_string().contains("keys shop"), "{err}");
}

#[test]
fn jsonl_bad_line_is_named() {
    let err = parse_err("bad_line.jsonl", &fixture("bad_line.jsonl"));
    assert_eq!(err.line(), Some(3));
    assert!(
        err.to_string()
            .starts_with("bad_line.jsonl: line 3: invalid JSON"),
        "{err}"
    );
    let err = parse_err("x.jsonl", b"{\"name\": \"a\"}\n\n[1]\n");
    assert_eq!(err.line(), Some(3));
    assert!(err.to_string().contains("a list, not an object"), "{err}");
}

#[test]
fn binary_garbage_is_an_encoding_error() {
    let err = parse_err("garbage.txt", &fixture("garbage.txt"));
    let DocumentError::Encoding { file, message } = &err else {
        panic!("expected Encoding, got {err:?}");
    };
    assert_eq!(file, "garbage.txt");
    assert!(message.contains("UTF-8"), "{message}");
    assert!(err.to_string().starts_with("garbage.txt: "));
}

#[test]
fn undecodable_text_asks_for_utf8() {
    // Bytes 0x81/0x8D are undefined in Windows-1252, so this is neither UTF-8 nor Windows-1252.
    let err = parse_err("notes.txt", b"Preis \x81\x8D fuer alles");
    assert!(matches!(err, DocumentError::Encoding { .. }), "{err:?}");
    assert!(err.to_string().contains("save it as UTF-8"), "{err}");

    // UTF-16 without a byte-order mark is refused; with one it is read.
    let utf16: Vec<u8> = "Frage: Wie?\nAntwort: So."
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let err = parse_err("faq.txt", &utf16);
    assert!(err.to_string().contains("UTF-16"), "{err}");
    let with_bom = [&[0xFF, 0xFE][..], &utf16].concat();
    let doc = parse("faq.txt", &with_bom, &Limits::default()).expect("UTF-16 with BOM");
    assert_eq!(summary(&doc), vec![(Faq, "Wie?", "So.")]);
}

#[test]
fn unsupported_extension_lists_accepted_ones() {
    let err = parse_err("brief.docx", &fixture("brief.docx"));
    assert_eq!(
        err,
        DocumentError::UnsupportedFormat {
            file: "brief.docx".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "brief.docx: this file type is not supported; upload one of .md .markdown .txt .csv .tsv .json .jsonl .html .htm .pdf"
    );
    assert!(matches!(
        parse_err("README", b"text"),
        DocumentError::UnsupportedFormat { .. }
    ));
}

#[test]
fn names_must_be_bare_file_names() {
    for name in [
        "",
        "../faq.md",
        "docs/faq.md",
        "docs\\faq.md",
        "..",
        "faq\u{7}.md",
        &format!("{}.md", "a".repeat(200)),
    ] {
        let err = parse_err(name, b"# Hi\n\nText");
        assert!(
            matches!(err, DocumentError::InvalidName { .. }),
            "{name:?}: {err:?}"
        );
        assert!(err.to_string().contains("invalid file name"), "{err}");
    }
    assert!(parse("Preisliste (2024).md", b"Text", &Limits::default()).is_ok());
}

#[test]
fn size_limit_is_checked_before_decoding() {
    let limits = Limits {
        max_file_bytes: 100,
        max_rows: 10,
        ..Limits::default()
    };
    // Binary content: a size check after decoding would report an encoding error instead.
    let err = parse("big.txt", &[0u8; 101], &limits).unwrap_err();
    assert_eq!(
        err,
        DocumentError::TooLarge {
            file: "big.txt".into(),
            size: 101,
            limit: 100
        }
    );
    assert_eq!(
        err.to_string(),
        "big.txt: the file is 101 bytes, more than the limit of 100 bytes; split it into smaller files"
    );
    assert!(parse("ok.txt", &[b'a'; 100], &limits).is_ok());
}

#[test]
fn row_limit_is_enforced_for_catalogs() {
    let limits = Limits {
        max_file_bytes: 1 << 20,
        max_rows: 2,
        ..Limits::default()
    };
    let err = parse("katalog.csv", &fixture("katalog.csv"), &limits).unwrap_err();
    assert_eq!(
        err,
        DocumentError::TooManyRows {
            file: "katalog.csv".into(),
            rows: 3,
            limit: 2
        }
    );
    assert_eq!(
        err.to_string(),
        "katalog.csv: 3 rows, more than the limit of 2; split the catalog into several files"
    );
    assert!(matches!(
        parse("entries.jsonl", &fixture("entries.jsonl"), &limits),
        Err(DocumentError::TooManyRows { rows: 3, .. })
    ));
    let array = br#"[{"name": "a"}, {"name": "b"}, {"name": "c"}]"#;
    assert!(matches!(
        parse("p.json", array, &limits),
        Err(DocumentError::TooManyRows { rows: 3, .. })
    ));
    assert!(parse("catalog.tsv", &fixture("catalog.tsv"), &limits).is_ok());
}

#[test]
fn empty_documents_are_errors() {
    for (name, bytes) in [
        ("empty.md", &b""[..]),
        ("blank.txt", b"  \n\n \t"),
        ("header_only.csv", b"name;price\n"),
        ("list.json", b"[]"),
        ("scripts.html", b"<script>x()</script><style>p{}</style>"),
    ] {
        let err = parse_err(name, bytes);
        assert_eq!(
            err,
            DocumentError::Empty {
                file: name.to_string()
            }
        );
        assert!(err
            .to_string()
            .starts_with(&format!("{name}: no text found")));
    }
}

#[test]
fn error_messages_always_name_the_file() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("short_row.csv", fixture("short_row.csv")),
        ("invalid.json", fixture("invalid.json")),
        ("bad_line.jsonl", fixture("bad_line.jsonl")),
        ("garbage.txt", fixture("garbage.txt")),
        ("brief.docx", fixture("brief.docx")),
        ("leer.md", Vec::new()),
    ];
    for (name, bytes) in cases {
        let err = parse_err(name, &bytes);
        assert_eq!(err.file(), name);
        assert!(err.to_string().starts_with(&format!("{name}: ")), "{err}");
    }
}

#[test]
fn arbitrary_bytes_never_panic() {
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let samples: Vec<&[u8]> = vec![
        b"\"unterminated;quote\nname\n",
        b"name\n\"a\"\"",
        b"{\"faq\": [1, null, {}]}",
        b"<<<>>><!-- <dl><dt>?</dt>",
        b"**?**\n\nQ:\nA:\n# ?\n## ?",
        b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>",
    ];
    for (i, ext) in ["md", "txt", "csv", "tsv", "json", "jsonl", "html", "pdf"]
        .iter()
        .enumerate()
    {
        let name = format!("fuzz{i}.{ext}");
        for sample in &samples {
            let _ = parse(&name, sample, &Limits::default());
        }
        for len in [1usize, 7, 64, 500] {
            let bytes: Vec<u8> = (0..len).map(|_| (next() % 256) as u8).collect();
            let _ = parse(&name, &bytes, &Limits::default());
            let ascii: Vec<u8> = (0..len)
                .map(|_| b"<>\"{}[],;:\n #*?-QA"[(next() % 18) as usize])
                .collect();
            let _ = parse(&name, &ascii, &Limits::default());
        }
    }
}
