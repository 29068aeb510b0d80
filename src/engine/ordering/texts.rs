//! What clerk says while it takes an order in the chat, in German, English, Portuguese and
//! Spanish (English for any other language): the summary it asks the customer to confirm, its
//! buttons, and what it answers to a confirmation, a change, a cancellation, a product that
//! is not there in that number, and a choice between products. Every figure in these
//! sentences is a field of the catalog (price, stock) or the customer's own number of pieces.

use crate::channels::whatsapp::order_texts::{item_line, lang, reference};
use crate::store::{Fulfilment, Order};

use super::intent::Consent;

/// The titles of the three buttons under a summary (at most 20 characters each, WhatsApp's
/// limit for a reply button).
pub fn button_titles(language: &str) -> [(&'static str, Consent); 3] {
    let (confirm, change, cancel) = match lang(language) {
        "de" => ("Bestätigen", "Ändern", "Abbrechen"),
        "pt" => ("Confirmar", "Alterar", "Cancelar"),
        "es" => ("Confirmar", "Cambiar", "Cancelar"),
        _ => ("Confirm", "Change", "Cancel"),
    };
    [
        (confirm, Consent::Confirm),
        (change, Consent::Change),
        (cancel, Consent::Cancel),
    ]
}

/// The button titles of every language, for a customer who types one.
pub fn all_button_titles() -> Vec<(&'static str, Consent)> {
    ["de", "en", "pt", "es"]
        .into_iter()
        .flat_map(button_titles)
        .collect()
}

fn fulfilment_words(language: &str, fulfilment: Option<Fulfilment>) -> &'static str {
    match (lang(language), fulfilment) {
        (_, None) => "",
        ("de", Some(Fulfilment::Pickup)) => " zur Abholung",
        ("de", Some(Fulfilment::Delivery)) => " zur Lieferung",
        ("pt", Some(Fulfilment::Pickup)) => " para retirada",
        ("pt", Some(Fulfilment::Delivery)) => " para entrega",
        ("es", Some(Fulfilment::Pickup)) => " para recoger",
        ("es", Some(Fulfilment::Delivery)) => " para entrega",
        (_, Some(Fulfilment::Pickup)) => " for pickup",
        (_, Some(Fulfilment::Delivery)) => " for delivery",
    }
}

fn items(order: &Order) -> String {
    order
        .items
        .iter()
        .map(|i| format!("• {}", item_line(i)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The summary of an order awaiting confirmation; `limited` names the products whose number
/// was cut to the stock the catalog gives, `left_out` those of a list not in stock at all
/// (each with its stock as uploaded).
pub fn summary(
    order: &Order,
    limited: &[(String, String)],
    left_out: &[(String, String)],
) -> String {
    let language = lang(&order.language);
    let how = fulfilment_words(language, order.fulfilment);
    let mut text = match language {
        "de" => format!("Ihre Bestellung{how}:\n{}", items(order)),
        "pt" => format!("Seu pedido{how}:\n{}", items(order)),
        "es" => format!("Su pedido{how}:\n{}", items(order)),
        _ => format!("Your order{how}:\n{}", items(order)),
    };
    for (title, stock) in limited {
        text.push_str(&match language {
            "de" => format!("\n\nVon {title} sind laut Katalog nur {stock} vorrätig."),
            "pt" => format!("\n\nDe {title} há apenas {stock} em estoque, segundo o catálogo."),
            "es" => format!("\n\nDe {title} solo hay {stock} en stock, según el catálogo."),
            _ => format!("\n\nThe catalog has only {stock} of {title} in stock."),
        });
    }
    for (title, stock) in left_out {
        text.push_str("\n\n");
        text.push_str(&sold_out(language, title, stock));
    }
    for item in order.items.iter().filter(|i| i.price.is_empty()) {
        let title = &item.title;
        text.push_str(&match language {
            "de" => format!("\n\nFür {title} nennt der Katalog keinen Preis; wir nennen ihn Ihnen, wenn wir die Bestellung annehmen."),
            "pt" => format!("\n\nO catálogo não indica preço para {title}; informamos quando aceitarmos o pedido."),
            "es" => format!("\n\nEl catálogo no indica precio para {title}; se lo diremos al aceptar el pedido."),
            _ => format!("\n\nThe catalog gives no price for {title}; we will tell you when we accept the order."),
        });
    }
    text.push_str(match language {
        "de" => "\n\nSoll ich die Bestellung so aufgeben?",
        "pt" => "\n\nPosso fazer o pedido assim?",
        "es" => "\n\n¿Hago el pedido así?",
        _ => "\n\nShall I place the order like this?",
    });
    text
}

/// The customer confirmed: the order is placed, and the business will answer.
pub fn placed(order: &Order) -> String {
    let r = reference(&order.id);
    match lang(&order.language) {
        "de" => format!(
            "Danke! Ihre Bestellung {r} ist aufgegeben. Wir bestätigen sie Ihnen hier im Chat."
        ),
        "pt" => format!("Obrigado! Seu pedido {r} foi feito. Vamos confirmá-lo aqui no chat."),
        "es" => format!("¡Gracias! Su pedido {r} está hecho. Se lo confirmaremos aquí en el chat."),
        _ => format!("Thank you! Your order {r} is placed. We will confirm it here in the chat."),
    }
}

/// A confirmation of an order that is past confirming (a second tap on the button).
pub fn already(order: &Order) -> String {
    let r = reference(&order.id);
    match lang(&order.language) {
        "de" => format!(
            "Ihre Bestellung {r} ist bereits aufgegeben ({}).",
            order.state
        ),
        "pt" => format!("Seu pedido {r} já foi feito ({}).", order.state),
        "es" => format!("Su pedido {r} ya está hecho ({}).", order.state),
        _ => format!("Your order {r} is already placed ({}).", order.state),
    }
}

pub fn cancelled(language: &str) -> &'static str {
    match lang(language) {
        "de" => "In Ordnung, ich habe die Bestellung verworfen.",
        "pt" => "Tudo bem, descartei o pedido.",
        "es" => "De acuerdo, he descartado el pedido.",
        _ => "All right, I have dropped the order.",
    }
}

pub fn what_to_change(language: &str) -> &'static str {
    match lang(language) {
        "de" => {
            "Was soll ich ändern? Schreiben Sie mir die gewünschte Anzahl oder ein anderes Produkt."
        }
        "pt" => "O que devo alterar? Escreva a quantidade que deseja ou outro produto.",
        "es" => "¿Qué cambio? Escríbame la cantidad que desea u otro producto.",
        _ => "What should I change? Write the number you want, or another product.",
    }
}

/// Nothing of `title` to be had (stock as uploaded).
pub fn sold_out(language: &str, title: &str, stock: &str) -> String {
    match lang(language) {
        "de" => format!("{title} ist laut Katalog nicht vorrätig (Bestand: {stock}), deshalb kann ich es nicht bestellen."),
        "pt" => format!("{title} não está em estoque segundo o catálogo (estoque: {stock}), por isso não posso pedir."),
        "es" => format!("{title} no está en stock según el catálogo (stock: {stock}), así que no puedo pedirlo."),
        _ => format!("{title} is not in stock according to the catalog (stock: {stock}), so I cannot order it."),
    }
}

/// Several products fit: the customer picks one from the list.
pub fn which_one(language: &str) -> &'static str {
    match lang(language) {
        "de" => "Welches Produkt meinen Sie?",
        "pt" => "Qual produto você quer?",
        "es" => "¿Qué producto desea?",
        _ => "Which product do you mean?",
    }
}

/// The list's button (at most 20 characters).
pub fn choose(language: &str) -> &'static str {
    match lang(language) {
        "de" => "Auswählen",
        "pt" => "Escolher",
        "es" => "Elegir",
        _ => "Choose",
    }
}

/// A choice that no longer fits the catalog or the order (an old button).
pub fn stale(language: &str) -> &'static str {
    match lang(language) {
        "de" => {
            "Das kann ich nicht mehr zuordnen. Schreiben Sie mir bitte, was Sie bestellen möchten."
        }
        "pt" => "Não consigo mais associar isso. Escreva o que deseja pedir, por favor.",
        "es" => "Ya no puedo asociar eso. Escríbame qué desea pedir, por favor.",
        _ => "I cannot match that any more. Please write what you would like to order.",
    }
}

/// A cart whose products the catalog has none of in stock.
pub fn nothing_available(language: &str) -> &'static str {
    match lang(language) {
        "de" => "Keines dieser Produkte ist laut Katalog vorrätig, deshalb kann ich die Bestellung nicht aufnehmen.",
        "pt" => "Nenhum desses produtos está em estoque segundo o catálogo, por isso não posso fazer o pedido.",
        "es" => "Ninguno de estos productos está en stock según el catálogo, así que no puedo hacer el pedido.",
        _ => "None of these products is in stock according to the catalog, so I cannot take the order.",
    }
}
