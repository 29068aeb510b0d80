//! Catalog questions through `Engine::answer` with the real sentence encoder and a tea shop
//! written for this test (not one of the demo businesses, whose catalog questions are the
//! eval's): lists, bounds, stock, sorts, comparisons, "mehr" in a stored conversation, an
//! unknown brand, and prose questions left to the rest of the pipeline.

use clerk::answer::{Answer, Mode};
use clerk::engine::History;

use crate::support::{embedder, engine, upload};

const KATALOG: &str = "\
Name;Marke;Preis;Währung;Bestand;Kategorie;Beschreibung
Sencha Classic;Teehaus Kranich;6,50;EUR;12;Grüntee;Japanischer Grüntee, frisch und grasig.
Gunpowder;Teehaus Kranich;4,20;EUR;0;Grüntee;Gerollte Blätter aus China, kräftig.
Matcha Ceremony;Teehaus Kranich;18,90;EUR;3;Grüntee;Pulvertee für die Teezeremonie.
Genmaicha;Teehaus Kranich;5,80;EUR;7;Grüntee;Grüntee mit geröstetem Reis.
Jasmin Perlen;Blütenblatt;9,40;EUR;4;Grüntee;Von Hand gerollt, mit Jasminblüten beduftet.
Assam Breakfast;Blütenblatt;5,20;EUR;9;Schwarztee;Malzig und kräftig, gut mit Milch.
Darjeeling First Flush;Blütenblatt;11,50;EUR;2;Schwarztee;Blumig und hell, Ernte im Frühjahr.
Earl Grey;Blütenblatt;4,90;EUR;0;Schwarztee;Schwarztee mit Bergamotte.
Pfefferminze;Kräutergarten;3,20;EUR;20;Kräutertee;Deutsche Pfefferminze, koffeinfrei.
Kamille;Kräutergarten;2,90;EUR;15;Kräutertee;Ganze Blüten, koffeinfrei.
Rooibos Vanille;Kräutergarten;4,60;EUR;8;Kräutertee;Aus Südafrika, koffeinfrei und süßlich.
Teekanne Gusseisen;Kranich Werkstatt;39,00;EUR;2;Zubehör;Gusseiserne Kanne, 0,8 Liter.
";

const FAQ: &str = "# Fragen\n\n## Wann habt ihr offen?\nMontag bis Freitag 10–18 Uhr, Samstag 10–14 Uhr.\n\n## Versendet ihr auch?\nJa, ab 30 € versandkostenfrei innerhalb Deutschlands.\n";

/// Every product the answer found, in name order (a list shows the ones the ranking found
/// first).
fn titles(answer: &Answer) -> Vec<String> {
    let mut titles: Vec<String> = answer
        .catalog
        .as_ref()
        .map(|c| c.products.iter().map(|p| p.title.clone()).collect())
        .unwrap_or_default();
    titles.sort();
    titles
}

fn shown(answer: &Answer) -> Vec<String> {
    answer
        .catalog
        .as_ref()
        .map(|c| c.shown.iter().map(|p| p.title.clone()).collect())
        .unwrap_or_default()
}

#[test]
fn catalog_questions_are_answered_from_the_fields() {
    let scratch = engine();
    let e = &scratch.engine;
    e.set_embedder(embedder()).unwrap();
    e.create_business("teeladen", Some("Teeladen Kranich"), None)
        .unwrap();
    e.ingest(
        "teeladen",
        &[upload("katalog.csv", KATALOG), upload("faq.md", FAQ)],
    )
    .unwrap();
    let ask = |q: &str| {
        e.answer("teeladen", q, History::Given(&[]), &mut |_| {})
            .unwrap()
    };

    // A kind, by its category; then within a bound (strict "unter") and in stock.
    let green = ask("welche grüntees habt ihr?");
    assert_eq!(green.mode, Mode::Catalog, "{}", green.text);
    assert_eq!(
        titles(&green),
        [
            "Genmaicha",
            "Gunpowder",
            "Jasmin Perlen",
            "Matcha Ceremony",
            "Sencha Classic"
        ]
    );
    let herbal = ask("kräutertee unter 4,60 €?");
    assert_eq!(
        titles(&herbal),
        ["Kamille", "Pfefferminze"],
        "{}",
        herbal.text
    );
    let black = ask("welche schwarztees sind vorrätig?");
    assert_eq!(
        titles(&black),
        ["Assam Breakfast", "Darjeeling First Flush"],
        "{}",
        black.text
    );
    // Every listed item carries its price and stock exactly as uploaded.
    assert!(black.text.contains("5,20 EUR") && black.text.contains("11,50 EUR"));
    assert!(black.text.contains("Vorrätig: 9") && black.text.contains("Vorrätig: 2"));

    // The cheapest of a kind; a comparison of two named teas, field by field.
    let cheapest = ask("was ist der günstigste schwarztee?");
    assert_eq!(titles(&cheapest), ["Earl Grey"], "{}", cheapest.text);
    let compared = ask("sencha oder genmaicha, was ist der unterschied?");
    assert_eq!(titles(&compared), ["Genmaicha", "Sencha Classic"]);
    assert!(compared.text.contains("Grüntee mit geröstetem Reis."));

    // A brand the shop does not carry is said so, not answered with another's teas.
    let unknown = ask("habt ihr was von twinings?");
    assert!(titles(&unknown).is_empty(), "{}", unknown.text);
    assert_eq!(unknown.mode, Mode::Catalog, "{}", unknown.text);

    // Prose questions and a single named product stay with the pipeline.
    let hours = ask("wann habt ihr offen?");
    assert!(
        hours.catalog.is_none() && hours.text.contains("10–18"),
        "{}",
        hours.text
    );
    let one = ask("was kostet der matcha?");
    assert!(
        one.catalog.is_none() && one.text.contains("18,90"),
        "{}",
        one.text
    );
}

#[test]
fn more_pages_a_list_in_a_stored_conversation() {
    let scratch = engine();
    let e = &scratch.engine;
    e.set_embedder(embedder()).unwrap();
    e.create_business("teeladen", Some("Teeladen Kranich"), None)
        .unwrap();
    e.ingest("teeladen", &[upload("katalog.csv", KATALOG)])
        .unwrap();
    let first = e
        .answer(
            "teeladen",
            "alle tees unter 10 euro bitte",
            History::Stored(None),
            &mut |_| {},
        )
        .unwrap();
    assert_eq!(titles(&first).len(), 9, "{}", first.text);
    assert_eq!(shown(&first).len(), 5);
    let conversation = first.conversation_id.clone().unwrap();
    let more = e
        .answer(
            "teeladen",
            "mehr",
            History::Stored(Some(&conversation)),
            &mut |_| {},
        )
        .unwrap();
    let next = shown(&more);
    assert_eq!(next.len(), 4, "{}", more.text);
    assert!(next.iter().all(|t| !shown(&first).contains(t)));
    let again = e
        .answer(
            "teeladen",
            "noch mehr",
            History::Stored(Some(&conversation)),
            &mut |_| {},
        )
        .unwrap();
    assert!(shown(&again).is_empty(), "{}", again.text);
}
