//! The documents layer against real files in tests/data/documents: what passages each format
//! yields, and that bad uploads fail with errors that name the file and line.

use std::path::PathBuf;

use clerk::documents::{
    parse, Document, DocumentError, Format, Limits, Passage, PassageKind, ProductFields,
};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/documents")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn parse_fixture(name: &str) -> Document {
    parse(name, &fixture(name), &Limits::default())
        .unwrap_or_else(|e| panic!("{name} should parse: {e}"))
}

fn parse_err(name: &str, bytes: &[u8]) -> DocumentError {
    match parse(name, bytes, &Limits::default()) {
        Ok(doc) => panic!("{name} should fail, got {:#?}", doc.passages),
        Err(e) => e,
    }
}

/// (kind, title, text) of every passage, for compact assertions.
fn summary(doc: &Document) -> Vec<(PassageKind, &str, &str)> {
    doc.passages
        .iter()
        .map(|p| (p.kind, p.title.as_str(), p.text.as_str()))
        .collect()
}

fn assert_ordinals(doc: &Document) {
    let ordinals: Vec<u32> = doc.passages.iter().map(|p| p.ordinal).collect();
    let expected: Vec<u32> = (0..doc.passages.len() as u32).collect();
    assert_eq!(ordinals, expected);
}

fn product(p: &Passage) -> &ProductFields {
    p.product
        .as_ref()
        .unwrap_or_else(|| panic!("{} has no product fields", p.title))
}

fn attrs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

use PassageKind::{Faq, Page, Product};

mod chunking;
mod errors;
mod properties;

#[test]
fn german_markdown_faq_with_question_headings() {
    let doc = parse_fixture("faq_de.md");
    assert_eq!(doc.name, "faq_de.md");
    assert_eq!(doc.format, Format::Markdown);
    assert_eq!(
        summary(&doc),
        vec![
            (
                Page,
                "Häufige Fragen",
                "Willkommen bei der Buchhandlung Seitenweise in Freiburg. Hier beantworten wir die Fragen, die uns am häufigsten gestellt werden."
            ),
            (
                Faq,
                "Wie lange dauert der Versand?",
                "Bestellungen, die bis 14 Uhr eingehen, verschicken wir am selben Tag. Innerhalb Deutschlands dauert die Zustellung 1–2 Werktage.\n\n- Standard: 1–2 Werktage\n- Express: am nächsten Werktag"
            ),
            (
                Faq,
                "Was kostet der Versand?",
                "Ab 25 € Bestellwert ist der Versand kostenlos, darunter berechnen wir 3,50 €."
            ),
            (
                Faq,
                "Kann ich Bücher vorbestellen?",
                "Ja. Rufen Sie uns an oder schreiben Sie eine E-Mail an bestellung@seitenweise.de."
            ),
            (
                Page,
                "Öffnungszeiten",
                "Montag bis Freitag 9–19 Uhr, Samstag 9–16 Uhr."
            ),
        ]
    );
    assert_eq!(doc.passages[1].heading_path, ["Häufige Fragen", "Versand"]);
    assert_eq!(
        doc.passages[3].heading_path,
        ["Häufige Fragen", "Bestellung"]
    );
    assert_eq!(
        doc.passages[4].heading_path,
        ["Häufige Fragen", "Öffnungszeiten"]
    );
    assert!(doc.passages.iter().all(|p| p.product.is_none()));
    assert_ordinals(&doc);
}

#[test]
fn english_markdown_faq_with_bold_questions() {
    let doc = parse_fixture("faq_en_bold.md");
    assert_eq!(
        summary(&doc),
        vec![
            (
                Faq,
                "Do you ship internationally?",
                "Yes, we ship to all EU countries and to Switzerland.\n\nShipping outside the EU takes 5–10 business days."
            ),
            (
                Faq,
                "Can I return an opened tin?",
                "Unfortunately not: for hygiene reasons we can only take back sealed tins."
            ),
            (
                Faq,
                "What payment methods do you accept?",
                "We accept credit cards, PayPal and bank transfer."
            ),
            (
                Page,
                "About us",
                "Greenleaf is a family business in Hamburg, founded in 1998."
            ),
        ]
    );
    assert_eq!(doc.passages[0].heading_path, ["Greenleaf Tea Shop – FAQ"]);
    assert_ordinals(&doc);
}

#[test]
fn plain_text_label_pairs_in_german_and_english() {
    let doc = parse_fixture("qa.txt");
    assert_eq!(doc.format, Format::Text);
    assert_eq!(
        summary(&doc),
        vec![
            (
                Page,
                "",
                "Fragen und Antworten – Fahrradladen Speiche\nAdresse: Hauptstraße 5, 79098 Freiburg"
            ),
            (
                Faq,
                "Reparieren Sie auch E-Bikes?",
                "Ja, wir reparieren E-Bikes aller gängigen Marken.\nFür Motoren von Bosch sind wir zertifizierte Werkstatt."
            ),
            (
                Faq,
                "Brauche ich einen Termin?",
                "Für Inspektionen ja, kleine Reparaturen erledigen wir sofort."
            ),
            (
                Faq,
                "Do you rent bikes?",
                "Yes, city bikes cost 15 EUR per day."
            ),
        ]
    );
    assert_ordinals(&doc);
}

#[test]
fn german_csv_catalog_with_semicolons_and_decimal_commas() {
    let doc = parse_fixture("katalog.csv");
    assert_eq!(doc.format, Format::Csv);
    let titles: Vec<&str> = doc.passages.iter().map(|p| p.title.as_str()).collect();
    assert_eq!(titles, ["Der Zauberberg", "Die Blechtrommel", "Momo"]);
    assert!(doc.passages.iter().all(|p| p.kind == Product));

    let zauberberg = &doc.passages[0];
    assert_eq!(
        zauberberg.text,
        "Der Zauberberg\nAutor: Thomas Mann\nPreis: 14,90 EUR\nBestand: 3\nISBN: 9783596294336\nKategorie: Klassiker\nVerlag: Fischer\nBeschreibung: Hans Castorp besucht seinen Vetter im Sanatorium in Davos und bleibt sieben Jahre."
    );
    assert_eq!(
        product(zauberberg),
        &ProductFields {
            name: Some("Der Zauberberg".into()),
            description: Some(
                "Hans Castorp besucht seinen Vetter im Sanatorium in Davos und bleibt sieben Jahre."
                    .into()
            ),
            price: Some("14,90".into()),
            currency: Some("EUR".into()),
            stock: Some("3".into()),
            sku: Some("9783596294336".into()),
            category: Some("Klassiker".into()),
            url: None,
            author: Some("Thomas Mann".into()),
            attributes: attrs(&[("Verlag", "Fischer")]),
        }
    );

    // A quoted value keeps its semicolon; stock 0 is a value, not a missing one.
    let blechtrommel = product(&doc.passages[1]);
    assert_eq!(
        blechtrommel.description.as_deref(),
        Some("Oskar Matzerath erzählt; mit drei Jahren hört er auf zu wachsen.")
    );
    assert_eq!(blechtrommel.stock.as_deref(), Some("0"));

    // An empty trailing value is left out rather than rendered as "Beschreibung: ".
    let momo = &doc.passages[2];
    assert_eq!(product(momo).description, None);
    assert!(!momo.text.contains("Beschreibung"), "{}", momo.text);
    assert_ordinals(&doc);
}

#[test]
fn windows_1252_catalog_is_decoded() {
    let bytes = fixture("katalog_cp1252.csv");
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "the fixture must not be UTF-8"
    );
    let doc = parse_fixture("katalog_cp1252.csv");
    assert_eq!(doc.passages.len(), 2);
    let regal = &doc.passages[0];
    assert_eq!(regal.title, "Bücherregal „Eiche“");
    assert_eq!(
        product(regal),
        &ProductFields {
            name: Some("Bücherregal „Eiche“".into()),
            price: Some("249,00 €".into()),
            stock: Some("2".into()),
            category: Some("Möbel".into()),
            attributes: attrs(&[("Größe", "180 × 80 cm")]),
            ..ProductFields::default()
        }
    );
    assert_eq!(
        regal.text,
        "Bücherregal „Eiche“\nPreis: 249,00 €\nLagerbestand: 2\nKategorie: Möbel\nGröße: 180 × 80 cm"
    );
    assert_eq!(
        product(&doc.passages[1]).category.as_deref(),
        Some("Bücher & Zubehör")
    );
    assert!(doc.passages.iter().all(|p| !p.text.contains('\u{FFFD}')));
}

#[test]
fn tsv_catalog() {
    let doc = parse_fixture("catalog.tsv");
    assert_eq!(doc.format, Format::Tsv);
    assert_eq!(
        summary(&doc),
        vec![
            (
                Product,
                "Sencha Fukuyu",
                "Sencha Fukuyu\nbrand: Greenleaf\nprice: 8.50 EUR\nstock: 24\nsku: TEA-001\nweight: 100 g"
            ),
            (
                Product,
                "Earl Grey Imperial",
                "Earl Grey Imperial\nbrand: Greenleaf\nprice: 6.90 EUR\nstock: 0\nsku: TEA-002\nweight: 100 g"
            ),
        ]
    );
    let sencha = product(&doc.passages[0]);
    assert_eq!(sencha.sku.as_deref(), Some("TEA-001"));
    assert_eq!(sencha.author.as_deref(), Some("Greenleaf"));
    assert_eq!(sencha.attributes, attrs(&[("weight", "100 g")]));
}

#[test]
fn json_array_of_products_keeps_values_as_written() {
    let doc = parse_fixture("products.json");
    assert_eq!(doc.format, Format::Json);
    assert_eq!(doc.passages.len(), 2);
    let sencha = &doc.passages[0];
    assert_eq!(
        product(sencha),
        &ProductFields {
            name: Some("Sencha Fukuyu".into()),
            price: Some("8.50".into()),
            currency: Some("EUR".into()),
            stock: Some("24".into()),
            category: Some("Grüntee".into()),
            attributes: attrs(&[
                ("organic", "true"),
                ("origin", r#"{"country":"Japan","region":"Shizuoka"}"#)
            ]),
            ..ProductFields::default()
        }
    );
    let rooibos = &doc.passages[1];
    assert_eq!(
        rooibos.text,
        "Rooibos Vanille\nPreis: 5,90\nBestand: 0\nBeschreibung: Koffeinfrei."
    );
    assert_eq!(product(rooibos).attributes, attrs(&[]));
}

#[test]
fn json_faq_object() {
    let doc = parse_fixture("faq.json");
    assert_eq!(
        summary(&doc),
        vec![
            (
                Faq,
                "How should I store tea?",
                "Airtight, dark and away from strong smells."
            ),
            (
                Faq,
                "Wie lange ist Tee haltbar?",
                "Mindestens zwei Jahre, wenn er trocken gelagert wird."
            ),
        ]
    );
    assert_eq!(doc.passages[0].heading_path, ["Tea"]);
    assert!(doc.passages[1].heading_path.is_empty());
}

#[test]
fn jsonl_mixes_faq_and_products() {
    let doc = parse_fixture("entries.jsonl");
    assert_eq!(doc.format, Format::Jsonl);
    assert_eq!(
        summary(&doc),
        vec![
            (Faq, "Do you have gift cards?", "Yes, from 10 EUR."),
            (
                Product,
                "Matcha Uji",
                "Matcha Uji\nprice: 24.00 EUR\nstock: 5"
            ),
            (
                Faq,
                "Vocês entregam em Portugal?",
                "Sim, em 3 a 5 dias úteis."
            ),
        ]
    );
    assert_ordinals(&doc);
}

#[test]
fn html_page_visible_text_headings_and_faq() {
    let doc = parse_fixture("page.html");
    assert_eq!(doc.format, Format::Html);
    assert_eq!(
        summary(&doc),
        vec![
            (
                Page,
                "Café Morgenrot – Über uns",
                "Seit 2009 rösten wir unseren Kaffee selbst."
            ),
            (
                Page,
                "Über uns",
                "Das Café Morgenrot liegt mitten in der Altstadt von Bamberg. Wir backen jeden Morgen frisch & regional."
            ),
            (
                Page,
                "Öffnungszeiten",
                "- Mo–Fr: 8–18 Uhr\n- Sa–So: 9–17 Uhr"
            ),
            (
                Faq,
                "Kann ich einen Tisch reservieren?",
                "Ja, telefonisch unter 0951 123456 (+49951123456).\n\nFür Gruppen ab 8 Personen bitten wir um Reservierung."
            ),
            (Faq, "Gibt es vegane Kuchen?", "Ja, täglich mindestens zwei."),
            (Faq, "Haben Sie WLAN?", "Ja, kostenlos."),
            (
                Faq,
                "Kann ich mit Karte zahlen?",
                "Ja, mit EC- und Kreditkarte."
            ),
            // The footer is its own region: it does not run on as part of the answer above.
            (
                Page,
                "Häufige Fragen",
                "Café Morgenrot · Grüner Markt 3 · 96047 Bamberg"
            ),
        ]
    );
    assert_eq!(doc.passages[2].heading_path, ["Über uns", "Öffnungszeiten"]);
    assert_eq!(doc.passages[3].heading_path, ["Über uns"]);
    assert_eq!(doc.passages[4].heading_path, ["Über uns", "Häufige Fragen"]);
    for passage in &doc.passages {
        for marker in [
            "MARKER",
            "color",
            "trackingId",
            "window",
            "document.write",
            "Start",
        ] {
            assert!(
                !passage.text.contains(marker) && !passage.title.contains(marker),
                "{marker:?} leaked into {passage:#?}"
            );
        }
    }
    assert_ordinals(&doc);
}

#[test]
fn pdf_text_layer_is_read() {
    let doc = parse_fixture("flyer.pdf");
    assert_eq!(doc.format, Format::Pdf);
    assert_eq!(doc.passages.len(), 1);
    let page = &doc.passages[0];
    assert_eq!(page.kind, Page);
    assert_eq!(page.title, "Preisliste Frühjahr");
    assert!(
        page.text.starts_with("Preisliste Frühjahr"),
        "{:?}",
        page.text
    );
    assert!(
        page.text
            .contains("Alle Preise inklusive Mehrwertsteuer. Versand ab 25 Euro kostenlos."),
        "{:?}",
        page.text
    );
    assert!(
        page.text
            .contains("Lieferzeit innerhalb Deutschlands: zwei Werktage."),
        "{:?}",
        page.text
    );
}

#[test]
fn pdf_failures_are_reported_not_panics() {
    let err = parse_err("scan.pdf", b"GIF89a not a pdf at all");
    assert!(matches!(err, DocumentError::Malformed { line: None, .. }));
    assert!(err.to_string().starts_with("scan.pdf: "), "{err}");
    assert!(err.to_string().contains("not a PDF"), "{err}");

    // A truncated copy of a real PDF.
    let pdf = fixture("flyer.pdf");
    let err = parse_err("cut.pdf", &pdf[..pdf.len() / 2]);
    assert!(matches!(err, DocumentError::Malformed { .. }), "{err:?}");
    assert!(err.to_string().starts_with("cut.pdf: "), "{err}");

    // A valid PDF whose page draws no text: what a scan without OCR looks like. Every text
    // operator is blanked out byte for byte so the xref offsets stay right.
    let mut blank = pdf.clone();
    let mut i = 0;
    while i < blank.len() {
        if blank[i] == b'(' {
            while i < blank.len() && !blank[i..].starts_with(b"Tj") {
                blank[i] = b' ';
                i += 1;
            }
            let end = (i + 2).min(blank.len());
            blank[i..end].fill(b' ');
        }
        i += 1;
    }
    let err = parse_err("scan.pdf", &blank);
    assert!(err.to_string().contains("no text layer"), "{err}");
}
