//! What clerk tells a WhatsApp customer when the business moves their order: accepted,
//! declined, ready, collected or cancelled, in the customer's language (German, English,
//! Portuguese, Spanish; English for any other), with the items as ordered (prices exactly as
//! uploaded), the business's note after them and, for an accepted order of a business that set
//! one, its PIX text to pay with. Also the new state in a few words, for the order template's
//! parameter. Pure functions of the order: the engine calls them inside the change's
//! transaction, the sender sends what they wrote.

use crate::engine::{Fulfilment, Order, OrderItem, OrderState};

/// The four languages the order sentences are written in; any other code gets English.
pub fn lang(code: &str) -> &'static str {
    match code {
        "de" => "de",
        "pt" => "pt",
        "es" => "es",
        _ => "en",
    }
}

/// How the customer may refer to the order: "#" and the first six characters of its id.
pub fn reference(order_id: &str) -> String {
    let digits = order_id.strip_prefix("ord_").unwrap_or(order_id);
    format!(
        "#{}",
        digits.chars().take(6).collect::<String>().to_uppercase()
    )
}

/// "2 × Der Zauberberg (14,90 EUR)": quantity, title and the unit price as uploaded.
pub fn item_line(item: &OrderItem) -> String {
    // A product the catalog gives no price for is ordered without one: the business names
    // it when it accepts.
    if item.price.is_empty() {
        return format!("{} × {}", item.quantity, item.title);
    }
    let currency = item
        .currency
        .as_deref()
        .map(|c| format!(" {c}"))
        .unwrap_or_default();
    format!(
        "{} × {} ({}{currency})",
        item.quantity, item.title, item.price
    )
}

fn note_label(language: &str) -> &'static str {
    match language {
        "de" => "Hinweis",
        "pt" => "Observação",
        "es" => "Nota",
        _ => "Note",
    }
}

/// The label above the business's PIX text in an accepted order's message.
fn pix_label(language: &str) -> &'static str {
    match language {
        "de" => "Zahlung per PIX (Copia e Cola):",
        "pt" => "Pagamento por PIX (copia e cola):",
        "es" => "Pago con PIX (copia y pega):",
        _ => "Payment by PIX (copy and paste):",
    }
}

/// The order's new state in a few words, for a template's parameter ("Your order {{1}} is
/// now: {{2}}"); None for the states the customer is not told of.
pub fn state_words(
    language: &str,
    state: OrderState,
    fulfilment: Option<Fulfilment>,
) -> Option<&'static str> {
    use Fulfilment::{Delivery, Pickup};
    use OrderState as S;
    Some(match (lang(language), state, fulfilment) {
        (_, S::AwaitingConfirmation | S::Placed, _) => return None,
        ("de", S::Accepted, _) => "angenommen",
        ("de", S::Declined, _) => "abgelehnt",
        ("de", S::Ready, Some(Pickup)) => "bereit zur Abholung",
        ("de", S::Ready, Some(Delivery)) => "fertig, in der Zustellung",
        ("de", S::Ready, None) => "fertig",
        ("de", S::Collected, _) => "abgeschlossen",
        ("de", S::Cancelled, _) => "storniert",
        ("pt", S::Accepted, _) => "aceito",
        ("pt", S::Declined, _) => "recusado",
        ("pt", S::Ready, Some(Pickup)) => "pronto para retirada",
        ("pt", S::Ready, Some(Delivery)) => "pronto, saiu para entrega",
        ("pt", S::Ready, None) => "pronto",
        ("pt", S::Collected, _) => "concluído",
        ("pt", S::Cancelled, _) => "cancelado",
        ("es", S::Accepted, _) => "aceptado",
        ("es", S::Declined, _) => "rechazado",
        ("es", S::Ready, Some(Pickup)) => "listo para recoger",
        ("es", S::Ready, Some(Delivery)) => "listo, sale para la entrega",
        ("es", S::Ready, None) => "listo",
        ("es", S::Collected, _) => "completado",
        ("es", S::Cancelled, _) => "cancelado",
        (_, S::Accepted, _) => "accepted",
        (_, S::Declined, _) => "declined",
        (_, S::Ready, Some(Pickup)) => "ready for pickup",
        (_, S::Ready, Some(Delivery)) => "ready, on its way to delivery",
        (_, S::Ready, None) => "ready",
        (_, S::Collected, _) => "complete",
        (_, S::Cancelled, _) => "cancelled",
    })
}

/// The sentence for `state`, with `{ref}` and `{items}` still to fill; None for the states
/// the customer is not told of here (the chat that takes the order says those itself).
fn sentence(
    language: &str,
    state: OrderState,
    fulfilment: Option<Fulfilment>,
) -> Option<&'static str> {
    use Fulfilment::{Delivery, Pickup};
    use OrderState as S;
    Some(match (language, state, fulfilment) {
        (_, S::AwaitingConfirmation | S::Placed, _) => return None,
        ("de", S::Accepted, _) => "Ihre Bestellung {ref} wurde angenommen: {items}. Wir melden uns, sobald sie bereitliegt.",
        ("de", S::Declined, _) => "Leider können wir Ihre Bestellung {ref} nicht annehmen: {items}.",
        ("de", S::Ready, Some(Pickup)) => "Ihre Bestellung {ref} liegt zur Abholung bereit: {items}.",
        ("de", S::Ready, Some(Delivery)) => "Ihre Bestellung {ref} ist fertig und geht in die Zustellung: {items}.",
        ("de", S::Ready, None) => "Ihre Bestellung {ref} ist fertig: {items}.",
        ("de", S::Collected, _) => "Vielen Dank! Ihre Bestellung {ref} ist abgeschlossen.",
        ("de", S::Cancelled, _) => "Ihre Bestellung {ref} wurde storniert: {items}.",
        ("pt", S::Accepted, _) => "Seu pedido {ref} foi aceito: {items}. Avisaremos quando estiver pronto.",
        ("pt", S::Declined, _) => "Infelizmente não podemos aceitar seu pedido {ref}: {items}.",
        ("pt", S::Ready, Some(Pickup)) => "Seu pedido {ref} está pronto para retirada: {items}.",
        ("pt", S::Ready, Some(Delivery)) => "Seu pedido {ref} está pronto e vai sair para entrega: {items}.",
        ("pt", S::Ready, None) => "Seu pedido {ref} está pronto: {items}.",
        ("pt", S::Collected, _) => "Obrigado! Seu pedido {ref} foi concluído.",
        ("pt", S::Cancelled, _) => "Seu pedido {ref} foi cancelado: {items}.",
        ("es", S::Accepted, _) => "Su pedido {ref} ha sido aceptado: {items}. Le avisaremos cuando esté listo.",
        ("es", S::Declined, _) => "Lo sentimos, no podemos aceptar su pedido {ref}: {items}.",
        ("es", S::Ready, Some(Pickup)) => "Su pedido {ref} está listo para recoger: {items}.",
        ("es", S::Ready, Some(Delivery)) => "Su pedido {ref} está listo y sale para la entrega: {items}.",
        ("es", S::Ready, None) => "Su pedido {ref} está listo: {items}.",
        ("es", S::Collected, _) => "¡Gracias! Su pedido {ref} se ha completado.",
        ("es", S::Cancelled, _) => "Su pedido {ref} ha sido cancelado: {items}.",
        (_, S::Accepted, _) => "Your order {ref} has been accepted: {items}. We will let you know when it is ready.",
        (_, S::Declined, _) => "Sorry, we cannot accept your order {ref}: {items}.",
        (_, S::Ready, Some(Pickup)) => "Your order {ref} is ready for pickup: {items}.",
        (_, S::Ready, Some(Delivery)) => "Your order {ref} is ready and on its way to delivery: {items}.",
        (_, S::Ready, None) => "Your order {ref} is ready: {items}.",
        (_, S::Collected, _) => "Thank you! Your order {ref} is complete.",
        (_, S::Cancelled, _) => "Your order {ref} has been cancelled: {items}.",
    })
}

/// The message for the order's current state in its customer's language, the business's
/// note (of this change) appended and, when the order was just accepted, the business's PIX
/// text on a line of its own (so it can be copied whole); None where the customer is not told.
pub fn order_notice(order: &Order, note: Option<&str>, pix: Option<&str>) -> Option<String> {
    let language = lang(&order.language);
    let template = sentence(language, order.state, order.fulfilment)?;
    let items: Vec<String> = order.items.iter().map(item_line).collect();
    let mut text = template
        .replace("{ref}", &reference(&order.id))
        .replace("{items}", &items.join(", "));
    if let Some(note) = note.map(str::trim).filter(|n| !n.is_empty()) {
        text.push_str(&format!("\n\n{}: {note}", note_label(language)));
    }
    if let Some(pix) = pix.filter(|_| order.state == OrderState::Accepted) {
        text.push_str(&format!("\n\n{}\n{}", pix_label(language), pix.trim()));
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{OrderCustomer, OrderItem};

    fn order(language: &str, state: OrderState, fulfilment: Option<Fulfilment>) -> Order {
        Order {
            id: "ord_a1b2c3d4e5f6".into(),
            business_id: "shop".into(),
            state,
            customer: OrderCustomer::Api,
            conversation_id: "c_1".into(),
            items: vec![
                OrderItem {
                    title: "Der Zauberberg".into(),
                    sku: None,
                    quantity: 2,
                    price: "14,90".into(),
                    currency: Some("EUR".into()),
                },
                OrderItem {
                    title: "Momo".into(),
                    sku: None,
                    quantity: 1,
                    price: "12,00 €".into(),
                    currency: None,
                },
            ],
            fulfilment,
            customer_note: None,
            business_note: None,
            language: language.into(),
            idempotency_key: "k".into(),
            created_at: 0,
            updated_at: 0,
            history: None,
        }
    }

    #[test]
    fn each_business_change_is_told_in_the_customers_language() {
        use OrderState as S;
        let cases = [
            ("de", S::Accepted, None, "Ihre Bestellung #A1B2C3 wurde angenommen: 2 × Der Zauberberg (14,90 EUR), 1 × Momo (12,00 €)."),
            ("de", S::Ready, Some(Fulfilment::Pickup), "liegt zur Abholung bereit"),
            ("de", S::Declined, None, "Leider können wir"),
            ("en", S::Ready, Some(Fulfilment::Delivery), "on its way to delivery"),
            ("en", S::Collected, None, "Your order #A1B2C3 is complete."),
            ("pt", S::Accepted, None, "Seu pedido #A1B2C3 foi aceito: 2 × Der Zauberberg (14,90 EUR)"),
            ("pt", S::Cancelled, None, "foi cancelado"),
            ("es", S::Ready, Some(Fulfilment::Pickup), "listo para recoger"),
            ("es", S::Declined, None, "no podemos aceptar su pedido #A1B2C3"),
            // A language without order sentences gets English.
            ("fr", S::Cancelled, None, "Your order #A1B2C3 has been cancelled"),
        ];
        for (language, state, fulfilment, expected) in cases {
            let text = order_notice(&order(language, state, fulfilment), None, None).unwrap();
            assert!(text.contains(expected), "{language} {state}: {text}");
        }
        for state in [S::AwaitingConfirmation, S::Placed] {
            assert_eq!(
                order_notice(&order("de", state, None), Some("x"), Some("pix")),
                None
            );
        }
    }

    #[test]
    fn an_item_without_a_price_is_listed_without_one() {
        let mut o = order("de", OrderState::Accepted, None);
        o.items[1].price = String::new();
        let text = order_notice(&o, None, None).unwrap();
        assert!(
            text.contains("2 × Der Zauberberg (14,90 EUR), 1 × Momo."),
            "{text}"
        );
    }

    #[test]
    fn the_business_note_follows_under_its_label() {
        let o = order("es", OrderState::Accepted, None);
        let text = order_notice(&o, Some("  Pague en la tienda. "), None).unwrap();
        assert!(text.ends_with("\n\nNota: Pague en la tienda."), "{text}");
        assert!(!order_notice(&o, Some("   "), None)
            .unwrap()
            .contains("Nota"));
    }

    #[test]
    fn the_pix_text_follows_an_acceptance_only() {
        use OrderState as S;
        let pix = "00020126360014BR.GOV.BCB.PIX0114+5511999999999520400005303986";
        // (language, state, the label the PIX text follows, or None for no PIX text)
        let cases = [
            ("pt", S::Accepted, Some("Pagamento por PIX (copia e cola):")),
            ("de", S::Accepted, Some("Zahlung per PIX (Copia e Cola):")),
            ("en", S::Accepted, Some("Payment by PIX (copy and paste):")),
            ("es", S::Accepted, Some("Pago con PIX (copia y pega):")),
            ("pt", S::Declined, None),
            ("pt", S::Ready, None),
            ("pt", S::Cancelled, None),
            ("pt", S::Collected, None),
        ];
        for (language, state, label) in cases {
            let o = order(language, state, Some(Fulfilment::Pickup));
            let text = order_notice(&o, Some("Obrigado"), Some(pix)).unwrap();
            match label {
                Some(label) => assert!(
                    text.ends_with(&format!("\n\n{label}\n{pix}")),
                    "{language} {state}: {text}"
                ),
                None => assert!(!text.contains(pix), "{language} {state}: {text}"),
            }
        }
    }

    #[test]
    fn every_told_state_has_its_words_in_every_language() {
        use OrderState as S;
        for language in ["de", "en", "pt", "es", "fr"] {
            for state in OrderState::ALL {
                for fulfilment in [None, Some(Fulfilment::Pickup), Some(Fulfilment::Delivery)] {
                    let words = state_words(language, state, fulfilment);
                    let told = order_notice(&order(language, state, fulfilment), None, None);
                    assert_eq!(words.is_some(), told.is_some(), "{language} {state}");
                }
            }
        }
        assert_eq!(state_words("pt", S::Accepted, None), Some("aceito"));
        assert_eq!(state_words("fr", S::Cancelled, None), Some("cancelled"));
    }
}
