//! Reply buttons and list messages: the engine's [`Choices`] as the Cloud API's `interactive`
//! object, within Meta's limits (three buttons of 20 characters, ten rows of 24 with a
//! 72-character description, a 1024-character body, unique ids). A reply's text longer
//! than one body goes first as plain text parts, its last part carrying the choices.
//!
//! A product title longer than a row's title is shortened there and given whole in the
//! row's description and in the message's body, which lists every row: the customer always
//! sees the full name and price. An id or button over its limit is a typed error, never a
//! message Meta would refuse.

use serde_json::{json, Value};

use super::texts::split_reply;
use crate::engine::{Choice, Choices};

pub const MAX_BUTTONS: usize = 3;
pub const MAX_BUTTON_TITLE: usize = 20;
pub const MAX_ROWS: usize = 10;
pub const MAX_ROW_TITLE: usize = 24;
pub const MAX_ROW_DESCRIPTION: usize = 72;
pub const MAX_BODY: usize = 1024;
pub const MAX_BUTTON_ID: usize = 256;
pub const MAX_ROW_ID: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InteractiveError {
    #[error("a reply has 1 to {max} {what}; this one has {got}")]
    Count {
        what: &'static str,
        max: usize,
        got: usize,
    },
    #[error("{what} {text:?} is longer than {max} characters")]
    TooLong {
        what: &'static str,
        text: String,
        max: usize,
    },
    #[error("the id {0:?} is used twice")]
    DuplicateId(String),
}

fn chars(text: &str) -> usize {
    text.chars().count()
}

/// `text` cut to `max` characters, an ellipsis marking the cut.
fn shortened(text: &str, max: usize) -> String {
    if chars(text) <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut = cut.trim_end().to_string();
    cut.push('…');
    cut
}

fn check_len(what: &'static str, text: &str, max: usize) -> Result<(), InteractiveError> {
    if chars(text) > max || text.trim().is_empty() {
        return Err(InteractiveError::TooLong {
            what,
            text: text.to_string(),
            max,
        });
    }
    Ok(())
}

fn check_ids(choices: &[Choice], max: usize) -> Result<(), InteractiveError> {
    for (i, c) in choices.iter().enumerate() {
        check_len("the id", &c.id, max)?;
        if choices[..i].iter().any(|d| d.id == c.id) {
            return Err(InteractiveError::DuplicateId(c.id.clone()));
        }
    }
    Ok(())
}

fn check_count(what: &'static str, got: usize, max: usize) -> Result<(), InteractiveError> {
    if got == 0 || got > max {
        return Err(InteractiveError::Count { what, max, got });
    }
    Ok(())
}

/// The text a list's rows add to the message's body: each row's whole title and
/// description, so nothing shortened in a row is lost.
fn listed(rows: &[Choice]) -> String {
    rows.iter()
        .map(|r| match &r.description {
            Some(d) => format!("• {} ({d})", r.title),
            None => format!("• {}", r.title),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The reply `text` with `choices` as the parts to send: plain texts, then the interactive
/// object (as JSON) whose body is the last part of the text.
pub fn parts(text: &str, choices: &Choices) -> Result<(Vec<String>, Value), InteractiveError> {
    let full = match choices {
        Choices::Buttons(_) => text.to_string(),
        Choices::List { rows, .. } => format!("{text}\n{}", listed(rows)),
    };
    let mut texts = split_reply(&full, MAX_BODY);
    let body = texts.pop().unwrap_or_default();
    let interactive = match choices {
        Choices::Buttons(buttons) => {
            check_count("buttons", buttons.len(), MAX_BUTTONS)?;
            check_ids(buttons, MAX_BUTTON_ID)?;
            for b in buttons {
                check_len("the button title", &b.title, MAX_BUTTON_TITLE)?;
            }
            json!({
                "type": "button",
                "body": {"text": body},
                "action": {"buttons": buttons.iter().map(|b| json!({
                    "type": "reply", "reply": {"id": b.id, "title": b.title}
                })).collect::<Vec<_>>()},
            })
        }
        Choices::List { button, rows } => {
            check_count("list rows", rows.len(), MAX_ROWS)?;
            check_ids(rows, MAX_ROW_ID)?;
            check_len("the list button", button, MAX_BUTTON_TITLE)?;
            let rows: Vec<Value> = rows
                .iter()
                .map(|r| {
                    let fits = chars(&r.title) <= MAX_ROW_TITLE;
                    let description = match (&r.description, fits) {
                        (d, true) => d.clone(),
                        (Some(d), false) => Some(format!("{} · {d}", r.title)),
                        (None, false) => Some(r.title.clone()),
                    };
                    let mut row = json!({"id": r.id, "title": shortened(&r.title, MAX_ROW_TITLE)});
                    if let Some(d) = description {
                        row["description"] = json!(shortened(&d, MAX_ROW_DESCRIPTION));
                    }
                    row
                })
                .collect();
            json!({
                "type": "list",
                "body": {"text": body},
                "action": {"button": button, "sections": [{"title": shortened(button, 24), "rows": rows}]},
            })
        }
    };
    Ok((texts, interactive))
}

/// The choices of an interactive object as (id, title), for the simulator and tests.
pub fn choices_of(interactive: &Value) -> Vec<(String, String)> {
    let buttons = interactive["action"]["buttons"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| &b["reply"]);
    let rows = interactive["action"]["sections"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["rows"].as_array().into_iter().flatten());
    buttons
        .chain(rows)
        .filter_map(|c| {
            Some((
                c["id"].as_str()?.to_string(),
                c["title"].as_str()?.to_string(),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice(id: &str, title: &str, description: Option<&str>) -> Choice {
        Choice {
            id: id.into(),
            title: title.into(),
            description: description.map(str::to_string),
        }
    }

    #[test]
    fn buttons_are_meta_reply_buttons() {
        let (texts, v) = parts(
            "Soll ich?",
            &Choices::Buttons(vec![
                choice("order:1:confirm", "Bestätigen", None),
                choice("order:1:cancel", "Abbrechen", None),
            ]),
        )
        .unwrap();
        assert!(texts.is_empty());
        assert_eq!(v["type"], "button");
        assert_eq!(v["body"]["text"], "Soll ich?");
        assert_eq!(v["action"]["buttons"][1]["reply"]["id"], "order:1:cancel");
        assert_eq!(
            choices_of(&v),
            vec![
                ("order:1:confirm".to_string(), "Bestätigen".to_string()),
                ("order:1:cancel".to_string(), "Abbrechen".to_string())
            ]
        );
    }

    #[test]
    fn limits_are_errors_not_cut_messages() {
        let four = (0..4).map(|i| choice(&i.to_string(), "x", None)).collect();
        assert!(matches!(
            parts("?", &Choices::Buttons(four)),
            Err(InteractiveError::Count { got: 4, .. })
        ));
        assert!(matches!(
            parts(
                "?",
                &Choices::Buttons(vec![choice("a", "a title of more than twenty", None)])
            ),
            Err(InteractiveError::TooLong { .. })
        ));
        assert!(matches!(
            parts(
                "?",
                &Choices::Buttons(vec![choice("a", "x", None), choice("a", "y", None)])
            ),
            Err(InteractiveError::DuplicateId(_))
        ));
        let eleven = (0..11).map(|i| choice(&i.to_string(), "x", None)).collect();
        assert!(parts(
            "?",
            &Choices::List {
                button: "Choose".into(),
                rows: eleven
            }
        )
        .is_err());
    }

    /// A long product name is shortened in its row and given whole in the description and
    /// in the body.
    #[test]
    fn long_titles_stay_whole_in_the_body() {
        let title = "Faust. Der Tragödie erster Teil";
        let (texts, v) = parts(
            "Welches Produkt meinen Sie?",
            &Choices::List {
                button: "Auswählen".into(),
                rows: vec![
                    choice("pick:1", title, Some("4,00 EUR")),
                    choice("pick:2", "Faust II", Some("6,00 EUR")),
                ],
            },
        )
        .unwrap();
        assert!(texts.is_empty());
        let row = &v["action"]["sections"][0]["rows"][0];
        assert_eq!(
            row["title"].as_str().unwrap().chars().count(),
            MAX_ROW_TITLE
        );
        assert!(row["title"].as_str().unwrap().ends_with('…'));
        assert_eq!(row["description"], format!("{title} · 4,00 EUR"));
        let body = v["body"]["text"].as_str().unwrap();
        assert!(body.contains(&format!("• {title} (4,00 EUR)")), "{body}");
        assert_eq!(v["action"]["sections"][0]["rows"][1]["title"], "Faust II");
    }

    #[test]
    fn a_long_text_goes_first_as_plain_parts() {
        let long = "Ein Satz. ".repeat(200);
        let (texts, v) = parts(
            &long,
            &Choices::Buttons(vec![choice("order:1:confirm", "OK", None)]),
        )
        .unwrap();
        assert!(!texts.is_empty());
        assert!(v["body"]["text"].as_str().unwrap().chars().count() <= MAX_BODY);
    }
}
