//! The order conversation over the demo businesses' real catalogs and index (no encoder, no
//! model): which product an order means, alone, after a list, by a sort, with a number in
//! its name.

use super::*;
use crate::engine::{Engine, EngineLimits};

fn demo() -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), EngineLimits::default()).unwrap();
    engine
        .seed_demo(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus"))
        .unwrap();
    (dir, engine)
}

const SHOP: &str = "buchhandlung-lindenblatt";

fn turn(role: Role, text: &str) -> Turn {
    Turn {
        role,
        text: text.into(),
    }
}

fn read(engine: &Engine, text: &str, history: &[Turn]) -> Option<(Vec<String>, Option<u32>)> {
    read_at(engine, SHOP, text, history)
}

fn read_at(
    engine: &Engine,
    business: &str,
    text: &str,
    history: &[Turn],
) -> Option<(Vec<String>, Option<u32>)> {
    let catalog = engine.catalog(business).unwrap().unwrap();
    let message = OrderMessage {
        customer: OrderCustomer::Api,
        conversation: "c_test",
        text,
        choice: None,
        key: "k",
        history,
        language: "de",
    };
    let (meant, intent) = engine.read_order(&message, &catalog)?;
    let titles = match meant {
        Meant::One(e) => vec![catalog.entries()[e as usize].title.clone()],
        Meant::Several(es) => es
            .iter()
            .map(|e| catalog.entries()[*e as usize].title.clone())
            .collect(),
        Meant::Nothing => Vec::new(),
    };
    Some((titles, intent.quantity))
}

#[test]
fn an_order_means_the_product_named_or_the_ones_just_listed() {
    let (_dir, engine) = demo();
    assert_eq!(
        read(&engine, "Ich möchte zwei Buddenbrooks reservieren", &[]),
        Some((vec!["Buddenbrooks".to_string()], Some(2)))
    );
    let listed = turn(
        Role::Assistant,
        "Passende Artikel:\n• Der Process (von Franz Kafka) — Preis: 9,90 EUR · Vorrätig: 3\n\
         • Die Verwandlung (von Franz Kafka) — Preis: 4,00 EUR · Vorrätig: 15\n\
         • Das Schloss (von Franz Kafka) — Preis: 12,00 EUR · Derzeit nicht vorrätig\n\n\
         Quelle: Der Process; Die Verwandlung; Das Schloss",
    );
    let history = [turn(Role::Customer, "Habt ihr was von Kafka?"), listed];
    assert_eq!(
        read(&engine, "Ich möchte zwei davon reservieren", &history),
        Some((
            vec![
                "Der Process".to_string(),
                "Die Verwandlung".to_string(),
                "Das Schloss".to_string()
            ],
            Some(2)
        ))
    );
    // Asking how names no product; "ein Buch" is the shop's word for all of them.
    assert_eq!(read(&engine, "Wie kann ich bestellen?", &[]), None);
    assert_eq!(read(&engine, "Ich möchte ein Buch bestellen", &[]), None);
}

/// A sort or a bound in an order picks among the products of a kind; a number in a name is
/// no quantity.
#[test]
fn sorts_bounds_and_numbers_in_names() {
    let (_dir, engine) = demo();
    let bikes = "harbour-bikes";
    let one = |t: &str| Some((vec![t.to_string()], None));
    assert_eq!(
        read_at(&engine, bikes, "I want to reserve the tidewater 500", &[]),
        one("Tidewater 500 Hybrid")
    );
    assert_eq!(
        read_at(
            &engine,
            bikes,
            "I'd like to buy two of the cheapest lock",
            &[]
        ),
        Some((vec!["Kraken Cable Lock".to_string()], Some(2)))
    );
    assert_eq!(
        read_at(&engine, bikes, "I'd like to order 2 Tidewater 300", &[]),
        Some((vec!["Tidewater 300 Hybrid".to_string()], Some(2)))
    );
    let helmets = read_at(&engine, bikes, "can I order a helmet?", &[]).unwrap();
    assert!(helmets.0.len() >= 3, "{helmets:?}");
}

/// Spanish and Portuguese orders are read as such ("de" is Dutch too, but not only).
#[test]
fn orders_are_answered_in_their_language() {
    use crate::answer::language::detect;
    assert_eq!(
        detect(
            "Quero encomendar duas doses de bacalhau à brás para levar",
            "de"
        ),
        "pt"
    );
    assert_eq!(
        detect("quiero pedir tres pasteles de nata, por favor", "pt"),
        "es"
    );
}

/// Several products with their own numbers in one message are one order of several lines;
/// a joining word inside a name ("Der Richter und sein Henker") joins nothing.
#[test]
fn a_list_of_products_is_one_order_of_several_lines() {
    let (_dir, engine) = demo();
    let lines = |business: &str, text: &str| {
        let catalog = engine.catalog(business).unwrap().unwrap();
        read_lines(text, &catalog).map(|lines| {
            lines
                .into_iter()
                .map(|(e, q)| (catalog.entries()[e as usize].title.clone(), q))
                .collect::<Vec<_>>()
        })
    };
    assert_eq!(
        lines(SHOP, "2 zauberberg und 1 buddenbrooks bitte reservieren"),
        Some(vec![
            ("Der Zauberberg".to_string(), 2),
            ("Buddenbrooks".to_string(), 1)
        ])
    );
    assert_eq!(
        lines(
            "tasca-da-graca",
            "quiero pedir dos raciones de pastéis de bacalhau y una dourada grelhada para llevar"
        ),
        Some(vec![
            ("Pastéis de bacalhau".to_string(), 2),
            ("Dourada grelhada".to_string(), 1)
        ])
    );
    assert_eq!(
        lines(SHOP, "ich möchte der richter und sein henker bestellen"),
        None
    );
    // One product is no list.
    assert_eq!(lines(SHOP, "zwei Buddenbrooks bitte"), None);
}

/// Words that name several products about equally well name none of them clearly: the
/// customer picks ("a kraken lock"); a name spelt wholly wins over one whose other words are
/// too common to count ("das kleine Gespenst", not also "Das kleine Ich bin ich").
#[test]
fn a_product_is_clearly_named_only_when_no_other_is_nearly_as_well() {
    let (_dir, engine) = demo();
    let locks = read_at(&engine, "harbour-bikes", "I want to buy a kraken lock", &[]).unwrap();
    assert!(locks.0.len() >= 2, "{locks:?}");
    assert!(locks.0.iter().all(|t| t.starts_with("Kraken")), "{locks:?}");
    assert_eq!(
        read(&engine, "kann ich das kleine gespenst bestellen?", &[]),
        Some((vec!["Das kleine Gespenst".to_string()], None))
    );
    assert_eq!(
        read_at(
            &engine,
            "harbour-bikes",
            "I'd like to order a Tidewater E-500 Hybrid",
            &[]
        ),
        Some((vec!["Tidewater E-500 Hybrid".to_string()], None))
    );
}

fn order_text(engine: &Engine, business: &str, text: &str, key: &str) -> OrderReply {
    let message = OrderMessage {
        customer: OrderCustomer::Api,
        conversation: key,
        text,
        choice: None,
        key,
        history: &[],
        language: "de",
    };
    engine.order_turn(business, &message).unwrap().unwrap()
}

/// A product the catalog gives no price for is ordered without one, and the summary says the
/// business will name it; a sold-out product in a list is left out of the order, and the
/// summary says so.
#[test]
fn a_product_without_a_price_is_ordered_and_a_sold_out_one_left_out_saying_so() {
    let (_dir, engine) = demo();
    engine
        .create_business("hofladen", None, Some("de"))
        .unwrap();
    let csv = "Name,Preis,Bestand,Kategorie\nBauernbrot,,5,Brot\nDinkelbrot,\"4,20\",0,Brot\n";
    engine
        .ingest(
            "hofladen",
            &[crate::engine::Upload {
                name: "sortiment.csv".into(),
                bytes: csv.as_bytes().to_vec(),
            }],
        )
        .unwrap();
    let reply = order_text(
        &engine,
        "hofladen",
        "Ich möchte zwei Bauernbrot bestellen",
        "k1",
    );
    assert_eq!(reply.step, OrderStep::Summarized, "{}", reply.text);
    assert!(reply.text.contains("2 × Bauernbrot\n"), "{}", reply.text);
    assert!(
        reply.text.contains("nennt der Katalog keinen Preis"),
        "{}",
        reply.text
    );
    assert_eq!(reply.order.unwrap().items[0].price, "");

    let reply = order_text(
        &engine,
        SHOP,
        "2 zauberberg und 1 das kleine gespenst bitte reservieren",
        "k2",
    );
    let order = reply.order.expect("an order of what is in stock");
    assert_eq!(order.items.len(), 1, "{}", reply.text);
    assert_eq!(order.items[0].title, "Der Zauberberg");
    assert!(
        reply
            .text
            .contains("Das kleine Gespenst ist laut Katalog nicht vorrätig"),
        "{}",
        reply.text
    );
}
