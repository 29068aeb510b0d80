//! Catalog questions against a real index over a small German bookshop catalog.

use super::*;
use crate::documents::{self, Limits};
use crate::index::{BusinessIndex, Language};

const KATALOG: &str = "\
Titel,Autor,Preis,Währung,Bestand,Kategorie,Beschreibung
Der Zauberberg,Thomas Mann,\"16,00\",EUR,3,Klassiker,Hans Castorp bleibt sieben Jahre in Davos.
Buddenbrooks,Thomas Mann,\"14,00\",EUR,0,Klassiker,Verfall einer Lübecker Kaufmannsfamilie.
Der Tod in Venedig,Thomas Mann,\"9,00\",EUR,2,Klassiker,Eine schmale Novelle.
Tschick,Wolfgang Herrndorf,\"12,00\",EUR,5,Jugendbuch,Zwei Jungen fahren im Lada durch den Osten.
Der Richter und sein Henker,Friedrich Dürrenmatt,\"8,00\",EUR,4,Krimi,Kommissär Bärlach ermittelt.
Das Versprechen,Friedrich Dürrenmatt,\"10,00\",EUR,0,Krimi,Ein Kommissär hält ein Versprechen.
Tannöd,Andrea Maria Schenkel,\"11,00\",EUR,2,Krimi,Ein Mord auf einem Einödhof.
Die Känguru-Chroniken,Marc-Uwe Kling,\"10,00\",EUR,6,Humor,Ein Känguru zieht bei Marc-Uwe ein.
Vegetarisch kochen,Anna Koch,\"24,00\",EUR,2,Kochbuch,Hundert Rezepte ohne Fleisch. Alle glutenfrei.
";

fn catalog() -> std::sync::Arc<Catalog> {
    catalog_of("katalog.csv", KATALOG)
}

/// A German shop's catalog from one uploaded file, through a real index.
fn catalog_of(name: &str, text: &str) -> std::sync::Arc<Catalog> {
    let index = BusinessIndex::in_memory(Language::German).unwrap();
    let doc = documents::parse(name, text.as_bytes(), &Limits::default()).unwrap();
    index
        .replace_documents(&[(doc, text.len() as u64)])
        .unwrap();
    index.catalog().unwrap()
}

fn products() -> RetrievalView {
    RetrievalView {
        product_near_top: true,
        ranked: Vec::new(),
    }
}

fn titles(catalog: &Catalog, listing: &Listing) -> Vec<String> {
    listing
        .result(catalog)
        .products
        .into_iter()
        .map(|p| p.title)
        .collect()
}

fn listed(question: &str) -> Vec<String> {
    let catalog = catalog();
    let listing = plan(question, &[], &catalog, &products()).expect(question);
    titles(&catalog, &listing)
}

#[test]
fn lists_by_author_category_and_description() {
    assert_eq!(
        listed("was habt ihr von thomas mann?"),
        ["Der Zauberberg", "Buddenbrooks", "Der Tod in Venedig"]
    );
    assert_eq!(
        listed("welche krimis habt ihr"),
        ["Der Richter und sein Henker", "Das Versprechen", "Tannöd"]
    );
    // A word only a description mentions lists nothing by itself: the product path answers
    // with the one product (and its description).
    let catalog = catalog();
    assert!(plan("habt ihr was glutenfreies?", &[], &catalog, &products()).is_none());
    // With a bound it is a catalog question, and the reply quotes why the product is listed.
    let listing = plan("was glutenfreies unter 30 €?", &[], &catalog, &products()).unwrap();
    assert_eq!(titles(&catalog, &listing), ["Vegetarisch kochen"]);
    assert!(render(&listing, &catalog, "de").contains("Alle glutenfrei."));
}

#[test]
fn filters_and_sorts_on_the_fields() {
    assert_eq!(
        listed("krimis unter 10,50 €"),
        ["Der Richter und sein Henker", "Das Versprechen"]
    );
    assert_eq!(
        listed("welche bücher von thomas mann sind vorrätig"),
        ["Der Zauberberg", "Der Tod in Venedig"]
    );
    assert_eq!(
        listed("der günstigste krimi"),
        ["Der Richter und sein Henker"]
    );
    assert_eq!(
        listed("die 2 teuersten bücher"),
        ["Vegetarisch kochen", "Der Zauberberg"]
    );
}

#[test]
fn compares_named_products_field_by_field() {
    let catalog = catalog();
    let listing = plan(
        "was ist der unterschied zwischen buddenbrooks und dem zauberberg",
        &[],
        &catalog,
        &products(),
    )
    .unwrap();
    assert_eq!(
        titles(&catalog, &listing),
        ["Buddenbrooks", "Der Zauberberg"]
    );
    let text = render(&listing, &catalog, "de");
    assert!(
        text.contains("14,00 EUR") && text.contains("16,00 EUR"),
        "{text}"
    );
    assert!(text.contains("Derzeit nicht vorrätig"), "{text}");
}

#[test]
fn nothing_by_an_unknown_author_and_nothing_under_a_bound() {
    let catalog = catalog();
    let listing = plan(
        "habt ihr bücher von stephen king",
        &[],
        &catalog,
        &products(),
    )
    .unwrap();
    assert!(matches!(
        listing,
        Listing::Nothing {
            why: Nothing::UnknownAuthor,
            ..
        }
    ));
    let listing = plan("krimis unter 5 euro", &[], &catalog, &products()).unwrap();
    let text = render(&listing, &catalog, "de");
    assert!(text.contains("Der Richter und sein Henker"), "{text}");
    assert!(text.starts_with("Dazu habe ich"), "{text}");
}

#[test]
fn one_named_product_is_left_to_the_product_path() {
    let catalog = catalog();
    assert!(plan("habt ihr den zauberberg da?", &[], &catalog, &products()).is_none());
    // Prose questions the ranking does not see as about products stay with the pipeline.
    let prose = RetrievalView::default();
    assert!(plan("wann habt ihr offen?", &[], &catalog, &prose).is_none());
}

#[test]
fn more_continues_the_last_list() {
    let catalog = catalog();
    let turn = |role, text: &str| crate::answer::Turn {
        role,
        text: text.to_string(),
    };
    let first = "alle bücher unter 30 euro";
    let listing = plan(first, &[], &catalog, &products()).unwrap();
    assert_eq!(listing.shown().len(), PAGE);
    let reply = render(&listing, &catalog, "de");
    assert!(reply.contains("und weitere"), "{reply}");
    let mut history = vec![
        turn(crate::answer::Role::Customer, first),
        turn(crate::answer::Role::Assistant, &reply),
    ];
    let more = plan("mehr", &history, &catalog, &products()).unwrap();
    let shown: Vec<u32> = more.shown();
    assert_eq!(shown.len(), 4);
    assert!(shown.iter().all(|i| !listing.shown().contains(i)));
    history.push(turn(crate::answer::Role::Customer, "mehr"));
    history.push(turn(
        crate::answer::Role::Assistant,
        &render(&more, &catalog, "de"),
    ));
    let again = plan("noch mehr", &history, &catalog, &products()).unwrap();
    assert_eq!(again, Listing::AllShown);
}

const PREISLISTE: &str = "\
Bezeichnung;Preis;Währung;Dauer;Kategorie
Herrenhaarschnitt;34,00;EUR;30 Min;Schneiden
Damenhaarschnitt lang;62,00;EUR;60 Min;Schneiden
Pony schneiden;9,00;EUR;10 Min;Schneiden
Balayage;145,00;EUR;3 Std;Farbe
";

#[test]
fn durations_are_bounds_and_sort_keys_too() {
    let catalog = catalog_of("preisliste.csv", PREISLISTE);
    let listed = |question: &str| {
        let listing = plan(question, &[], &catalog, &products()).expect(question);
        (titles(&catalog, &listing), render(&listing, &catalog, "de"))
    };
    let (titles, text) = listed("was dauert höchstens 30 minuten?");
    assert_eq!(titles, ["Herrenhaarschnitt", "Pony schneiden"]);
    // Each item shows the duration as uploaded.
    assert!(text.contains("Dauer: 30 Min"), "{text}");
    // "3 Std" is 180 minutes: the longest.
    let (titles, _) = listed("welche behandlung dauert am längsten");
    assert_eq!(titles, ["Balayage"]);
}
