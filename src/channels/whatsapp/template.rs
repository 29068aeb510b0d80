//! Template messages: what clerk sends in place of an order's notification when the customer's
//! last message is older than Meta's 24-hour customer-service window, the only kind of message
//! Meta lets a business send then. The business names a template it had approved for order
//! updates (`OrderTemplate`: its name and the languages it was approved in); this module checks
//! that setting, picks the language, and builds the Cloud API's `template` object with the
//! body's three text parameters: `{{1}}` the order's reference, `{{2}}` the new state in the
//! template's language, `{{3}}` the business's note on one line, or "–".
//!
//! Meta refuses a text parameter holding a line break or a tab, or more than four spaces in a
//! row, and a body longer than 1024 characters with its parameters. The note is laid on one
//! line here (its lines joined by a space, runs of spaces made one); what still breaks a rule
//! (a note too long for the parameter) is a typed error, never a message Meta would refuse.
//! The business's PIX text is not a parameter: a template's parameters are fixed when Meta
//! approves it, and a payment code must arrive whole, so it goes only in the plain text.

use serde_json::{json, Value};

use super::order_texts;
use crate::engine::Order;
use crate::store::OrderTemplate;

/// Longest template name Meta accepts.
pub const MAX_NAME: usize = 512;
/// Most languages one template setting may list.
pub const MAX_LANGUAGES: usize = 20;
/// Longest note `{{3}}` carries. The body, Meta's approved text with the parameters, may have
/// 1024 characters; the reference and the state take under 50, so this leaves the approved
/// text over 500.
pub const MAX_NOTE_PARAMETER: usize = 400;
/// Longest reference or state parameter (clerk's own words; checked all the same).
const MAX_OWN_PARAMETER: usize = 60;
/// What `{{3}}` says when the business wrote no note (Meta refuses an empty parameter).
pub const NO_NOTE: &str = "–";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error(
        "the template name {0:?} is not one WhatsApp Manager gives: 1-{MAX_NAME} lower-case \
         letters, digits and underscores"
    )]
    Name(String),
    #[error("give 1-{MAX_LANGUAGES} language codes the template was approved in; {0} were given")]
    LanguageCount(usize),
    #[error(
        "{0:?} is not a template language code as WhatsApp Manager writes them (de, en_US, pt_BR)"
    )]
    Language(String),
    #[error("the template language {0:?} is listed twice")]
    RepeatedLanguage(String),
    #[error("template parameter {{{{{index}}}}} is empty; Meta refuses an empty parameter")]
    EmptyParameter { index: usize },
    #[error(
        "template parameter {{{{{index}}}}} holds a line break or a tab, which Meta refuses in \
         a parameter"
    )]
    LineBreak { index: usize },
    #[error(
        "template parameter {{{{{index}}}}} holds more than 4 spaces in a row, which Meta \
         refuses in a parameter"
    )]
    Spaces { index: usize },
    #[error(
        "template parameter {{{{{index}}}}} is {chars} characters long; at most {max} fit the \
         order template (with an order template configured, a note is at most {max} characters)"
    )]
    TooLong {
        index: usize,
        chars: usize,
        max: usize,
    },
}

/// The setting as it is stored: the name and codes trimmed, each checked against the shapes
/// WhatsApp Manager gives (a name of lower-case letters, digits and `_`; a code `ll` or
/// `ll_CC`, optionally with a third letter).
pub fn check_setting(template: OrderTemplate) -> Result<OrderTemplate, TemplateError> {
    let name = template.name.trim().to_string();
    let name_ok = !name.is_empty()
        && name.chars().count() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !name_ok {
        return Err(TemplateError::Name(name));
    }
    if template.languages.is_empty() || template.languages.len() > MAX_LANGUAGES {
        return Err(TemplateError::LanguageCount(template.languages.len()));
    }
    let mut languages: Vec<String> = Vec::new();
    for code in &template.languages {
        let code = code.trim().to_string();
        if !is_language_code(&code) {
            return Err(TemplateError::Language(code));
        }
        if languages.contains(&code) {
            return Err(TemplateError::RepeatedLanguage(code));
        }
        languages.push(code);
    }
    Ok(OrderTemplate { name, languages })
}

/// `de`, `fil`, `en_US`, `pt_BR`: two or three lower-case letters, then maybe `_` and two
/// upper-case letters.
fn is_language_code(code: &str) -> bool {
    let (language, region) = match code.split_once('_') {
        Some((language, region)) => (language, Some(region)),
        None => (code, None),
    };
    (2..=3).contains(&language.len())
        && language.chars().all(|c| c.is_ascii_lowercase())
        && region.is_none_or(|r| r.len() == 2 && r.chars().all(|c| c.is_ascii_uppercase()))
}

/// The approved language to send to a customer writing `customer` (an order's language code):
/// the same code, else one of the same language (`pt` and `pt_BR`), else the first listed.
pub fn language_for<'t>(template: &'t OrderTemplate, customer: &str) -> &'t str {
    let primary = |code: &str| {
        code.split(['_', '-'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    let languages = &template.languages;
    languages
        .iter()
        .find(|l| {
            l.replace('-', "_")
                .eq_ignore_ascii_case(&customer.replace('-', "_"))
        })
        .or_else(|| languages.iter().find(|l| primary(l) == primary(customer)))
        .or(languages.first())
        .map_or("en", String::as_str)
}

/// `text` on one line: its lines trimmed and joined by a space, every run of whitespace one
/// space, so that it keeps to Meta's rules for a parameter.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Meta's rules for text parameter `{{index}}`: not empty, no line break or tab, at most four
/// spaces in a row, at most `max` characters.
pub fn check_parameter(index: usize, text: &str, max: usize) -> Result<(), TemplateError> {
    if text.trim().is_empty() {
        return Err(TemplateError::EmptyParameter { index });
    }
    if text.contains(['\n', '\r', '\t']) {
        return Err(TemplateError::LineBreak { index });
    }
    if text.contains("     ") {
        return Err(TemplateError::Spaces { index });
    }
    let chars = text.chars().count();
    if chars > max {
        return Err(TemplateError::TooLong { index, chars, max });
    }
    Ok(())
}

/// The business's note as parameter `{{3}}`: on one line, or [`NO_NOTE`]; a note too long
/// for it is [`TemplateError::TooLong`].
pub fn note_parameter(note: Option<&str>) -> Result<String, TemplateError> {
    let text = note
        .map(one_line)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| NO_NOTE.to_string());
    check_parameter(3, &text, MAX_NOTE_PARAMETER)?;
    Ok(text)
}

/// The Cloud API's `template` object telling the customer of `order`'s current state, with
/// the business's `note` to this change; None for the states the customer is not told of.
pub fn order_update(
    template: &OrderTemplate,
    order: &Order,
    note: Option<&str>,
) -> Result<Option<Value>, TemplateError> {
    let language = language_for(template, &order.language);
    // The state is written in the template's language, which is the customer's where the
    // template was approved in it.
    let words_language = language.split('_').next().unwrap_or(language);
    let Some(state) = order_texts::state_words(words_language, order.state, order.fulfilment)
    else {
        return Ok(None);
    };
    let parameters = [
        order_texts::reference(&order.id),
        state.to_string(),
        note_parameter(note)?,
    ];
    for (i, text) in parameters.iter().enumerate().take(2) {
        check_parameter(i + 1, text, MAX_OWN_PARAMETER)?;
    }
    Ok(Some(json!({
        "name": template.name,
        "language": {"code": language},
        "components": [{
            "type": "body",
            "parameters": parameters
                .iter()
                .map(|text| json!({"type": "text", "text": text}))
                .collect::<Vec<_>>(),
        }],
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Fulfilment, OrderCustomer, OrderState};

    fn template(languages: &[&str]) -> OrderTemplate {
        OrderTemplate {
            name: "order_update".into(),
            languages: languages.iter().map(|l| l.to_string()).collect(),
        }
    }

    fn order(language: &str, state: OrderState) -> Order {
        Order {
            id: "ord_a1b2c3d4e5f6".into(),
            business_id: "shop".into(),
            state,
            customer: OrderCustomer::Api,
            conversation_id: "c_1".into(),
            items: Vec::new(),
            fulfilment: Some(Fulfilment::Pickup),
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
    fn the_customers_language_where_approved_else_the_first() {
        // (approved languages, the customer's, the one sent)
        let cases = [
            (&["de", "en"][..], "en", "en"),
            (&["de", "en"], "de", "de"),
            (&["de", "en"], "fr", "de"),
            (&["en_US", "pt_BR"], "pt", "pt_BR"),
            (&["en_US", "pt_BR"], "pt-br", "pt_BR"),
            (&["pt_PT", "pt_BR"], "pt_BR", "pt_BR"),
            (&["es"], "de", "es"),
        ];
        for (languages, customer, expected) in cases {
            assert_eq!(
                language_for(&template(languages), customer),
                expected,
                "{languages:?} {customer}"
            );
        }
    }

    #[test]
    fn the_setting_takes_only_the_shapes_meta_gives() {
        let ok = check_setting(OrderTemplate {
            name: " order_update_2 ".into(),
            languages: vec![" de".into(), "pt_BR".into(), "fil".into()],
        })
        .unwrap();
        assert_eq!(
            ok,
            template(&["de", "pt_BR", "fil"]).with_name("order_update_2")
        );
        let refused = [
            (
                template(&["de"]).with_name("Order Update"),
                "not one WhatsApp",
            ),
            (template(&["de"]).with_name(""), "not one WhatsApp"),
            (template(&[]), "1-20 language codes"),
            (template(&["deutsch"]), "not a template language code"),
            (template(&["pt-BR"]), "not a template language code"),
            (template(&["de", "en", "de"]), "listed twice"),
        ];
        for (setting, expected) in refused {
            let error = check_setting(setting.clone()).unwrap_err().to_string();
            assert!(error.contains(expected), "{setting:?}: {error}");
        }
    }

    impl OrderTemplate {
        fn with_name(mut self, name: &str) -> OrderTemplate {
            self.name = name.into();
            self
        }
    }

    #[test]
    fn parameters_keep_metas_rules() {
        // (parameter text, max, the error's words or None for a parameter Meta takes)
        let cases = [
            ("Bitte an der Kasse zahlen.", 400, None),
            ("a    b", 400, None),
            ("a     b", 400, Some("more than 4 spaces")),
            ("a\nb", 400, Some("line break")),
            ("a\tb", 400, Some("line break")),
            ("   ", 400, Some("empty")),
            ("abcdef", 5, Some("6 characters long; at most 5")),
        ];
        for (text, max, expected) in cases {
            let got = check_parameter(3, text, max);
            match expected {
                None => assert_eq!(got, Ok(()), "{text:?}"),
                Some(words) => {
                    let error = got.unwrap_err().to_string();
                    assert!(error.contains(words), "{text:?}: {error}");
                    assert!(error.contains("{{3}}"), "{error}");
                }
            }
        }
        assert_eq!(
            note_parameter(Some(" Abholung ab 10 Uhr.\n\n\tBitte bar   zahlen.      ")).unwrap(),
            "Abholung ab 10 Uhr. Bitte bar zahlen."
        );
        assert_eq!(note_parameter(None).unwrap(), NO_NOTE);
        assert_eq!(note_parameter(Some(" \n ")).unwrap(), NO_NOTE);
        let long = "x".repeat(MAX_NOTE_PARAMETER + 1);
        assert!(matches!(
            note_parameter(Some(&long)),
            Err(TemplateError::TooLong { index: 3, .. })
        ));
    }

    #[test]
    fn an_order_update_names_reference_state_and_note() {
        let sent = order_update(
            &template(&["de", "en"]),
            &order("de", OrderState::Ready),
            Some("Im Laden\nan der Kasse"),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            sent,
            json!({"name": "order_update", "language": {"code": "de"}, "components": [{
            "type": "body", "parameters": [
                {"type": "text", "text": "#A1B2C3"},
                {"type": "text", "text": "bereit zur Abholung"},
                {"type": "text", "text": "Im Laden an der Kasse"},
            ]}]})
        );
        // The state in the template's language when the customer's was not approved.
        let sent = order_update(
            &template(&["pt_BR"]),
            &order("de", OrderState::Accepted),
            None,
        )
        .unwrap()
        .unwrap();
        assert_eq!(sent["language"]["code"], "pt_BR");
        assert_eq!(sent["components"][0]["parameters"][1]["text"], "aceito");
        assert_eq!(sent["components"][0]["parameters"][2]["text"], NO_NOTE);
        // Every told state of every language fits the parameters.
        for language in ["de", "en", "pt", "es", "fr"] {
            for state in OrderState::ALL {
                let got = order_update(&template(&[language]), &order(language, state), None);
                assert!(got.is_ok(), "{language} {state}: {got:?}");
            }
        }
        assert_eq!(
            order_update(&template(&["de"]), &order("de", OrderState::Placed), None),
            Ok(None)
        );
    }
}
