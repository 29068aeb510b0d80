//! What kind of fact a question asks for ("whats your phone number" wants digits), so the
//! passage that holds one wins over a passage that only talks about it ("you'll find our phone
//! number on our About page").

use super::extract::same_word;

/// A kind of fact a reply must carry to answer the question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    Phone,
    Email,
    Price,
    Time,
    Address,
}

const CUES: &[(Expected, &[&str])] = &[
    (
        Expected::Phone,
        &[
            "phone",
            "telephone",
            "call",
            "telefon",
            "telefonnummer",
            "nummer",
            "anrufen",
            "telefone",
            "teléfono",
            "telefono",
        ],
    ),
    (
        Expected::Email,
        &["email", "e-mail", "mail", "mailadresse", "correo"],
    ),
    (
        Expected::Price,
        &[
            "much", "cost", "costs", "price", "fee", "deposit", "charge", "kostet", "kosten",
            "preis", "gebühr", "quanto", "custa", "preço", "cuánto", "cuesta", "precio",
        ],
    ),
    (
        Expected::Time,
        &[
            "when", "time", "late", "until", "hours", "wann", "uhrzeit", "uhr", "bis", "quando",
            "horário", "cuándo", "horario",
        ],
    ),
    (
        Expected::Address,
        &[
            "where",
            "located",
            "address",
            "adresse",
            "anschrift",
            "wo",
            "onde",
            "endereço",
            "dónde",
            "dirección",
        ],
    ),
];

/// The fact kind `question` asks for, if its words say.
pub fn expected(question: &str) -> Option<Expected> {
    let lowered = question.to_lowercase();
    let words: Vec<&str> = lowered
        .split(|c: char| !c.is_alphanumeric() && c != '-')
        .filter(|w| !w.is_empty())
        .collect();
    CUES.iter()
        .find(|(_, cues)| words.iter().any(|w| cues.contains(w)))
        .map(|(kind, _)| *kind)
}

/// Whether `text` holds a fact of `kind`.
pub fn holds(text: &str, kind: Expected) -> bool {
    let lowered = text.to_lowercase();
    match kind {
        Expected::Phone => digit_run(text, &[' ', '-', '/', '(', ')']) >= 7,
        Expected::Email => text.split_whitespace().any(|w| {
            w.split_once('@')
                .is_some_and(|(u, h)| !u.is_empty() && h.contains('.'))
        }),
        Expected::Price => {
            text.contains(['€', '£', '$'])
                || ["eur", "gbp", "usd", "r$", "brl"].iter().any(|c| {
                    lowered
                        .split(|ch: char| !ch.is_alphanumeric() && ch != '$')
                        .any(|w| w == *c)
                })
        }
        Expected::Time => has_time(&lowered),
        Expected::Address => {
            [
                "straße", "strasse", "str.", "road", "street", "lane", "quay", "square", "platz",
                "weg", "gasse", "allee", "rua", "avenida", "calle", "postcode", "plz",
            ]
            .iter()
            .any(|w| lowered.contains(w))
                && text.chars().any(|c| c.is_ascii_digit())
        }
    }
}

/// How many of the question's content words `asked` stand, in one sentence of `text`, beside
/// a fact of `kind` (the best sentence counts): "We take a deposit of £100 for bikes" scores 2
/// for "hire bike deposit?", a list of day rates beside "A deposit is taken" scores less.
pub fn nearness(text: &str, kind: Expected, asked: &[String]) -> usize {
    text.split_inclusive(['.', '!', '?', '\n'])
        .filter(|sentence| holds(sentence, kind))
        .map(|sentence| mentioned(sentence, asked))
        .max()
        .unwrap_or(0)
}

/// How many of `asked` `text` uses (a longer form counts: "opened" for "open").
pub fn mentioned(text: &str, asked: &[String]) -> usize {
    let lowered = text.to_lowercase();
    let mut used: Vec<String> = Vec::new();
    for token in lowered
        .split(|c: char| !c.is_alphanumeric() && c != '-')
        .filter(|w| !w.is_empty())
    {
        // "e-bikes" is also "ebikes", as customers write it.
        used.extend(
            token
                .split('-')
                .filter(|p| !p.is_empty())
                .map(str::to_string),
        );
        if token.contains('-') {
            used.push(token.replace('-', ""));
        }
    }
    asked
        .iter()
        .filter(|a| used.iter().any(|w| same_word(a, w)))
        .count()
}

/// Whether `text` uses one of `asked`.
pub fn mentions(text: &str, asked: &[String]) -> bool {
    mentioned(text, asked) > 0
}

/// The longest run of digits joined only by `joins`.
fn digit_run(text: &str, joins: &[char]) -> usize {
    let (mut best, mut current) = (0, 0);
    for c in text.chars() {
        if c.is_ascii_digit() {
            current += 1;
            best = best.max(current);
        } else if !joins.contains(&c) {
            current = 0;
        }
    }
    best
}

/// "9:30", "18.00 uhr", "10am", "5:30pm".
fn has_time(lowered: &str) -> bool {
    let chars: Vec<char> = lowered.chars().collect();
    for i in 0..chars.len() {
        if !chars[i].is_ascii_digit() {
            continue;
        }
        let rest: String = chars[i..].iter().take(8).collect();
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 || digits > 2 {
            continue;
        }
        let after = &rest[digits..];
        if (after.starts_with(':') || after.starts_with('.'))
            && after[1..]
                .chars()
                .take(2)
                .filter(char::is_ascii_digit)
                .count()
                == 2
        {
            return true;
        }
        let trimmed = after.trim_start();
        if trimmed.starts_with("am") || trimmed.starts_with("pm") || trimmed.starts_with("uhr") {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_say_what_they_want() {
        assert_eq!(expected("whats your phone number"), Some(Expected::Phone));
        assert_eq!(expected("email address?"), Some(Expected::Email));
        assert_eq!(
            expected("how late can i bring the hire bike back"),
            Some(Expected::Time)
        );
        assert_eq!(
            expected("wo seid ihr genau? adresse bitte"),
            Some(Expected::Address)
        );
        assert_eq!(expected("do you sell wetsuits"), None);
    }

    #[test]
    fn passages_holding_the_fact_are_told_from_those_that_mention_it() {
        assert!(holds("Call us on 01632 960 418.", Expected::Phone));
        assert!(!holds(
            "You'll find our phone number on our About page.",
            Expected::Phone
        ));
        assert!(holds(
            "Write to hello@harbourbikes.example",
            Expected::Email
        ));
        assert!(holds("Returned by 5:30pm", Expected::Time));
        assert!(holds("Mo–Fr 9.00 bis 19.00 Uhr", Expected::Time));
        assert!(!holds("We open early", Expected::Time));
        assert!(holds(
            "Harbour Bikes, 3 Quay Road, Porthwenna",
            Expected::Address
        ));
        assert!(holds("Preis: 16,00 EUR", Expected::Price));
        let deposit = ["deposit".to_string()];
        assert_eq!(
            nearness("We take a deposit of £100.", Expected::Price, &deposit),
            1
        );
        assert_eq!(
            nearness(
                "Hire: £25 per day. A deposit is taken.",
                Expected::Price,
                &deposit
            ),
            0
        );
    }
}
