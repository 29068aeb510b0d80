//! Reading an order out of a customer's message: whether they want to reserve, order, buy or
//! collect something, how many, and whether they pick it up or want it delivered; and, while
//! an order waits for their confirmation, whether a short message confirms, changes or
//! cancels it.
//!
//! This is closed-class grammar of German, English, Portuguese and Spanish — the verbs of
//! ordering, first-person wishes, number words —, never words of a business's goods: which
//! product is meant is the catalog's to say (`engine::ordering`). A verb alone is no order:
//! "Kann ich online bestellen?" names no product and stays a question for the documents, and
//! "how do I reserve?" asks how.

use crate::store::Fulfilment;

/// What an order message asks for, apart from the product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OrderIntent {
    /// The number of pieces the customer named, if any.
    pub quantity: Option<u32>,
    pub fulfilment: Option<Fulfilment>,
}

/// A short answer to "shall I place it?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    Confirm,
    Change,
    Cancel,
}

/// Verbs that by themselves say the customer wants something kept or ordered for them
/// (stems, matched at a word's start).
const ORDER_VERBS: &[&str] = &[
    // de
    "reservier",
    "zurückleg",
    "zurücklegen",
    "zurueckleg",
    "bestell",
    "vorbestell",
    "vormerk",
    // en
    "reserv",
    "order",
    "preorder",
    "pre-order",
    // pt
    "encomend",
    "separar",
    "separa-",
    "separe",
    // es
    "apartar",
    "aparta",
    "aparte",
    "encarg",
    // "put one aside for me"
    "aside",
];

/// Verbs of buying or taking that are an order only with a wish in the first person ("ich
/// möchte … kaufen", "I'll take two") or a number of pieces: "kann man bei euch Gutscheine
/// kaufen?" asks whether there are any.
const TAKING_VERBS: &[&str] = &[
    "kauf", "nehm", "buy", "purchase", "take", "compr", "levar", "levo", "llevar", "llevo",
    "pedir", "pido", "peço", "peco",
];

/// Picking up: an order of what the conversation is about ("can I collect it tomorrow?").
/// Stems, and phrases of whole words.
const PICKUP_VERBS: &[&str] = &["abhol", "abzuhol", "collect", "pickup", "retirar", "recog"];
const PICKUP_PHRASES: &[&str] = &[
    "pick up",
    "pick it up",
    "pick them up",
    "passo para buscar",
    "para levar",
    "para llevar",
    "zum mitnehmen",
    "takeaway",
    "take away",
];

/// Having it brought.
const DELIVERY_VERBS: &[&str] = &[
    "liefer", "versend", "zuschick", "zusend", "schick", "bring", "deliver", "ship", "entreg",
    "enviar", "envia", "envie", "envíe", "mandar", "mandem", "mande",
];

/// Having it brought, in so many words ("per Post", "post them to me", "a domicilio").
const DELIVERY_PHRASES: &[&str] = &[
    // "send" only with what is sent or to whom: "meine Sendung", "sending" say nothing.
    "send me",
    "send it",
    "send them",
    "send us",
    "send to",
    "per post",
    "by post",
    "post it",
    "post them",
    "nach hause",
    "por correio",
    "por correo",
    "ao domicílio",
    "a domicilio",
];

/// Words that ask politely: with a number of pieces, or a wish to have it brought, a
/// message that is no question is an order ("two lighthouse helmets please").
const POLITE: &[&str] = &["bitte", "please", "pls", "plz", "favor", "sff", "porfa"];

/// First-person wishes, as whole phrases of lower-case words.
const WISHES: &[&str] = &[
    "ich möchte",
    "ich moechte",
    "möchte ich",
    "ich will",
    "ich würde",
    "ich hätte gern",
    "ich hätte gerne",
    "hätte gern",
    "hätte gerne",
    "würde gern",
    "würde gerne",
    "ich nehme",
    "ich kaufe",
    "i'd like",
    "i would like",
    "i want",
    "i'll take",
    "i will take",
    "i'll have",
    "i'd love",
    "quero",
    "queria",
    "gostaria",
    "eu vou levar",
    "vou levar",
    "quiero",
    "quisiera",
    "me gustaría",
    "me gustaria",
    "me llevo",
];

/// Wishes that by themselves take something ("I'll have the bacalhau", "ich nehme den
/// Steppenwolf").
const TAKING_WISHES: &[&str] = &[
    "ich nehme",
    "i'll take",
    "i will take",
    "i'll have",
    "i will have",
    "vou levar",
    "me llevo",
];

/// The customer as the one ordering or the one it is for ("kann ich", "legt mir … zurück",
/// "for me", "para mim"), or a request ("bitte", "please"): "fazem bolos por encomenda?"
/// and "do I need to reserve?" ask about the business's service.
const FIRST_PERSON: &[&str] = &[
    "ich", "mir", "mich", "wir", "uns", "i", "i'd", "i'll", "i'm", "me", "my", "we", "us", "eu",
    "mim", "posso", "quero", "queria", "gostaria", "nós", "podemos", "yo", "mí", "puedo", "quiero",
    "quisiera", "podemos", "nos", "bitte", "please", "pls", "plz", "favor", "sff", "porfa",
];

/// Asking how, when or where: a question about ordering, not an order.
const MANNER_WORDS: &[&str] = &[
    "wie", "wann", "wo", "how", "when", "where", "como", "cómo", "quando", "cuándo", "cuando",
    "onde", "dónde", "donde",
];

/// Asking for a time in so many words.
const MANNER_PHRASES: &[&str] = &[
    "what time",
    "wie viel uhr",
    "wieviel uhr",
    "que horas",
    "que hora",
    "qué hora",
];

/// Number words two to twelve (one is what an order of something means anyway).
const NUMBER_WORDS: &[(&str, u32)] = &[
    ("zwei", 2),
    ("drei", 3),
    ("vier", 4),
    ("fünf", 5),
    ("sechs", 6),
    ("sieben", 7),
    ("acht", 8),
    ("neun", 9),
    ("zehn", 10),
    ("elf", 11),
    ("zwölf", 12),
    ("two", 2),
    ("three", 3),
    ("four", 4),
    ("five", 5),
    ("six", 6),
    ("seven", 7),
    ("eight", 8),
    ("nine", 9),
    ("ten", 10),
    ("eleven", 11),
    ("twelve", 12),
    ("dois", 2),
    ("duas", 2),
    ("três", 3),
    ("tres", 3),
    ("quatro", 4),
    ("cinco", 5),
    ("seis", 6),
    ("sete", 7),
    ("oito", 8),
    ("nove", 9),
    ("dez", 10),
    ("dos", 2),
    ("cuatro", 4),
    ("siete", 7),
    ("ocho", 8),
    ("nueve", 9),
    ("diez", 10),
];

/// Words after a number that make it something else than a count of pieces.
const NOT_PIECES_AFTER: &[&str] = &[
    "uhr", "h", "am", "pm", "min", "minuten", "minutes", "€", "eur", "euro", "euros", "reais",
    "r$", "$", "£", "usd", "brl", "%", "tage", "days", "dias", "días", "wochen", "weeks", "kg",
    "g", "cm", "mm", "m",
];

/// Words before a number that make it a time or a price.
const NOT_PIECES_BEFORE: &[&str] = &[
    "um", "at", "às", "as", "las", "bis", "ab", "until", "till", "from", "€", "$", "£", "r$", "nr",
    "no", "nº",
];

/// Whole short messages that answer "shall I place it?".
const CONFIRM_WORDS: &[&str] = &[
    "ja",
    "jap",
    "jo",
    "gerne",
    "gern",
    "passt",
    "klar",
    "bestätigen",
    "bestätige",
    "yes",
    "yep",
    "yeah",
    "ok",
    "okay",
    "sure",
    "confirm",
    "sim",
    "confirmar",
    "confirmo",
    "sí",
    "si",
    "vale",
];
const CHANGE_WORDS: &[&str] = &[
    "ändern",
    "aendern",
    "change",
    "edit",
    "alterar",
    "mudar",
    "cambiar",
    "modificar",
];
const CANCEL_WORDS: &[&str] = &[
    "nein",
    "abbrechen",
    "stornieren",
    "doch nicht",
    "no",
    "nope",
    "cancel",
    "não",
    "nao",
    "cancelar",
];

/// The message as lower-case words (letters, digits and the signs that stand for units).
fn words(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let mut out = Vec::new();
    let mut word = String::new();
    for c in lower.chars() {
        if c.is_alphanumeric() || c == '\'' || c == '-' {
            word.push(c);
        } else {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            if matches!(c, '€' | '$' | '£' | '%' | ':') {
                out.push(c.to_string());
            }
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    // "2x" and "x2" are two pieces.
    out.into_iter()
        .flat_map(|w| {
            match w
                .strip_suffix('x')
                .or_else(|| w.strip_prefix('x'))
                .filter(|d| is_digits(d))
            {
                Some(digits) => vec![digits.to_string()],
                None => vec![w],
            }
        })
        .map(|w| w.trim_matches(|c| c == '\'' || c == '-').to_string())
        .filter(|w| !w.is_empty())
        .collect()
}

fn is_digits(word: &str) -> bool {
    !word.is_empty() && word.chars().all(|c| c.is_ascii_digit())
}

fn has_stem(words: &[String], stems: &[&str]) -> bool {
    words.iter().any(|w| {
        stems
            .iter()
            .any(|s| w.starts_with(s) && w.chars().count() >= s.chars().count())
    })
}

/// Whether the lower-cased text holds `phrase` as whole words.
fn has_phrase(words: &[String], phrase: &str) -> bool {
    phrase_at(words, phrase).next().is_some()
}

/// Where `phrase` stands in `words`: the range of each occurrence.
fn phrase_at<'a>(
    words: &'a [String],
    phrase: &str,
) -> impl Iterator<Item = std::ops::Range<usize>> + 'a {
    let parts: Vec<String> = phrase.split(' ').map(str::to_string).collect();
    let len = parts.len();
    words
        .windows(len)
        .enumerate()
        .filter(move |(_, w)| w == &parts.as_slice())
        .map(move |(start, _)| start..start + len)
}

/// The number of pieces the message names: a number word, or digits that are not a time, a
/// price, a measure or part of a product's name (`name_words`, lower case).
pub fn quantity(text: &str, name_words: &[String]) -> Option<u32> {
    quantity_at(&words(text), name_words).map(|(_, n)| n)
}

/// The quantity and the index of the word that says it.
fn quantity_at(words: &[String], name_words: &[String]) -> Option<(usize, u32)> {
    for (i, word) in words.iter().enumerate() {
        if name_words.contains(word) {
            continue;
        }
        if let Some((_, n)) = NUMBER_WORDS.iter().find(|(w, _)| w == word) {
            return Some((i, *n));
        }
        if !is_digits(word) {
            continue;
        }
        let after = words.get(i + 1).map(String::as_str);
        let before = i.checked_sub(1).map(|b| words[b].as_str());
        if after.is_some_and(|a| a == ":" || NOT_PIECES_AFTER.contains(&a))
            || before.is_some_and(|b| b == ":" || NOT_PIECES_BEFORE.contains(&b))
        {
            continue;
        }
        match word.parse::<u32>() {
            Ok(n) if (1..=super::MAX_QUANTITY).contains(&n) => return Some((i, n)),
            _ => continue,
        }
    }
    None
}

/// Words of an order that say nothing of which product: pieces, days, politeness.
const ORDER_FILLER: &[&str] = &[
    "stück",
    "stk",
    "exemplar",
    "exemplare",
    "mal",
    "piece",
    "pieces",
    "copy",
    "copies",
    "unidade",
    "unidades",
    "unidad",
    "peça",
    "peças",
    "bitte",
    "please",
    "pls",
    "favor",
    "morgen",
    "übermorgen",
    "heute",
    "tomorrow",
    "today",
    "amanhã",
    "hoje",
    "mañana",
    "hoy",
    "lassen",
    "gern",
    "gerne",
    "können",
    "könnt",
    "könnten",
    "could",
    "would",
    "can",
    "posso",
    "podem",
    "pode",
    "puedo",
    "pueden",
    "puede",
    "like",
    "want",
    "love",
    "für",
    "mich",
    "mir",
    "uns",
    "for",
    "me",
    "us",
    "mim",
    "para",
    "nós",
    "nos",
    "eu",
    "ich",
    "i",
    "i'd",
    "i'll",
    "yo",
];

/// Words that point back at what the conversation showed ("zwei davon", "one of those"):
/// they name no product themselves.
const REFERENCES: &[&str] = &[
    "davon", "das", "es", "ihn", "sie", "die", "den", "dieses", "diesen", "diese", "eins", "einen",
    "eines", "welches", "it", "them", "those", "these", "that", "this", "one", "ones", "isso",
    "esse", "essa", "esses", "essas", "dele", "dela", "deles", "delas", "um", "uma", "lo", "la",
    "los", "las", "eso", "ese", "esa", "esos", "esas", "uno",
];

/// The message without its ordering grammar (verbs, wishes, the number of pieces, filler),
/// for the catalog to read which product it names: "Ich möchte zwei Faust bestellen" →
/// "Faust".
pub fn product_words(text: &str) -> String {
    product_words_but(text, true)
}

/// [`product_words`], keeping the digits a quantity may be ("Tidewater 500").
pub fn product_words_with_digits(text: &str) -> String {
    product_words_but(text, false)
}

fn product_words_but(text: &str, drop_quantity: bool) -> String {
    let words = words(text);
    let quantity = quantity_at(&words, &[])
        .filter(|(i, _)| drop_quantity || !is_digits(&words[*i]))
        .map(|(i, _)| i);
    let wish_words: Vec<&str> = WISHES.iter().flat_map(|w| w.split(' ')).collect();
    let grammar = |w: &String| {
        let stems = [ORDER_VERBS, TAKING_VERBS, PICKUP_VERBS, DELIVERY_VERBS];
        stems
            .iter()
            .any(|list| list.iter().any(|s| w.starts_with(s)))
            || wish_words.contains(&w.as_str())
            || ORDER_FILLER.contains(&w.as_str())
            || REFERENCES.contains(&w.as_str())
            || PICKUP_PHRASES.iter().any(|p| p.split(' ').any(|x| x == w))
            || POLITE.contains(&w.as_str())
            || FETCH_FORMS.contains(&w.as_str())
            || w == "ab"
            || NUMBER_WORDS.iter().any(|(n, _)| n == w)
    };
    let brought = phrase_spans(&words, DELIVERY_PHRASES);
    words
        .iter()
        .enumerate()
        .filter(|(i, w)| Some(*i) != quantity && !brought.contains(i) && !grammar(w))
        .map(|(_, w)| w.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether the message wants something ordered, reserved or picked up, and how many; None
/// for a message that does not (a question about ordering included).
pub fn intent(text: &str, name_words: &[String]) -> Option<OrderIntent> {
    let words = words(text);
    if words.iter().any(|w| MANNER_WORDS.contains(&w.as_str()))
        || MANNER_PHRASES.iter().any(|p| has_phrase(&words, p))
    {
        return None;
    }
    let quantity = quantity(text, name_words);
    let counted = quantity.is_some();
    let wish = WISHES.iter().any(|w| has_phrase(&words, w));
    let polite = words.iter().any(|w| POLITE.contains(&w.as_str()));
    let asks = text.contains('?');
    let pickup_said = PICKUP_PHRASES.iter().any(|p| has_phrase(&words, p));
    // Someone asking about the business's service ("fazem bolos por encomenda?", "is there
    // a charge for takeaway packaging") names no one it is for; a number of pieces that is
    // no question needs no "I" ("2 bitoques e 1 caldo verde para levar").
    let for_someone =
        wish || words.iter().any(|w| FIRST_PERSON.contains(&w.as_str())) || (!asks && counted);
    if !for_someone {
        return None;
    }
    let ordering = has_stem(&words, ORDER_VERBS);
    let taking = (has_stem(&words, TAKING_VERBS) && (wish || counted))
        || TAKING_WISHES.iter().any(|w| has_phrase(&words, w));
    let pickup = has_stem(&words, PICKUP_VERBS) || pickup_said || fetches(&words);
    let delivery =
        has_stem(&words, DELIVERY_VERBS) || DELIVERY_PHRASES.iter().any(|p| has_phrase(&words, p));
    // A wish or a polite request for so many pieces is an order without a verb ("quisiera
    // dos arroz doce", "two lighthouse helmets please"); asking whether they can be brought
    // is one with a number or a wish ("zwei Handschuhe bitte, können Sie die schicken?").
    // A number that counts the results of a catalog question ("die 2 billigsten
    // Kinderbücher bitte", "welche 3 Krimis") is no number of pieces.
    let listing = {
        let query = crate::answer::catalog::query::parse(text);
        query.has_operator() || query.asks_for_several || query.more
    };
    let wanted = !listing && ((wish && counted) || (polite && counted && !asks));
    let brought = delivery && (wish || counted || (polite && !asks));
    if !(ordering || taking || pickup || brought || wanted) {
        return None;
    }
    let fulfilment = if delivery {
        Some(Fulfilment::Delivery)
    } else if pickup {
        Some(Fulfilment::Pickup)
    } else {
        None
    };
    Some(OrderIntent {
        quantity,
        fulfilment,
    })
}

/// Words that join the items of a list: "2 Zauberberg und 1 Buddenbrooks", "a cable lock
/// and two rear lights", "2 bitoques e 1 caldo verde", "pastéis y una dourada".
const JOINERS: &[&str] = &["und", "sowie", "and", "plus", "e", "y"];

/// The message cut where it lists several items — at commas, semicolons, "+", "&", line
/// breaks and joining words —, each part as its lower-case words. A joining word inside a
/// product's name ("Der Richter und sein Henker") is no cut: `in_a_name` says whether the
/// words around it, "richter und sein", stand in one.
pub fn parts(text: &str, in_a_name: impl Fn(&str) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    for chunk in text.split([',', ';', '+', '&', '\n']) {
        let words = words(chunk);
        let mut part: Vec<&str> = Vec::new();
        for (i, word) in words.iter().enumerate() {
            let joins = JOINERS.contains(&word.as_str())
                && i > 0
                && i + 1 < words.len()
                && !in_a_name(&format!("{} {word} {}", words[i - 1], words[i + 1]));
            if joins {
                out.push(part.join(" "));
                part.clear();
            } else {
                part.push(word);
            }
        }
        out.push(part.join(" "));
    }
    out.retain(|p| !p.is_empty());
    out
}

/// The positions of the words that make up any of `phrases` where they stand.
fn phrase_spans(words: &[String], phrases: &[&str]) -> Vec<usize> {
    phrases
        .iter()
        .flat_map(|phrase| phrase_at(words, phrase))
        .flatten()
        .collect()
}

/// The forms of "holen" that, with "ab" after them, are German's separable "abholen".
const FETCH_FORMS: &[&str] = &["hole", "holen", "holt", "hol"];

/// German's separable "abholen" ("ich hole ihn morgen ab"): a form of "holen" with "ab"
/// after it.
fn fetches(words: &[String]) -> bool {
    words
        .iter()
        .position(|w| FETCH_FORMS.contains(&w.as_str()))
        .is_some_and(|at| words[at + 1..].iter().any(|w| w == "ab"))
}

/// A short message (at most four words) that confirms, changes or cancels the order waiting
/// for confirmation; `titles` are the buttons' titles the customer may have typed.
pub fn consent(text: &str, titles: &[(&str, Consent)]) -> Option<Consent> {
    let words = words(text);
    if words.is_empty() || words.len() > 4 {
        return None;
    }
    let whole = words.join(" ");
    if let Some((_, c)) = titles.iter().find(|(t, _)| t.to_lowercase() == whole) {
        return Some(*c);
    }
    let any = |list: &[&str]| {
        list.iter()
            .any(|w| words.first().is_some_and(|f| f == w) || has_phrase(&words, w))
    };
    // "nein, doch nicht" before "ja": a refusal outweighs politeness.
    if any(CANCEL_WORDS) {
        Some(Consent::Cancel)
    } else if any(CHANGE_WORDS) {
        Some(Consent::Change)
    } else if any(CONFIRM_WORDS) {
        Some(Consent::Confirm)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    /// Order messages in the four languages, with what they ask for.
    #[test]
    fn orders_are_read_in_four_languages() {
        use Fulfilment::{Delivery, Pickup};
        let cases: &[(&str, Option<u32>, Option<Fulfilment>)] = &[
            ("Kann ich den Zauberberg reservieren?", None, None),
            ("Könnt ihr mir Buddenbrooks zurücklegen?", None, None),
            ("Ich möchte zwei Faust bestellen", Some(2), None),
            (
                "Ich würde gern 3 Stück kaufen und morgen abholen",
                Some(3),
                Some(Pickup),
            ),
            ("I'd like to buy two helmets", Some(2), None),
            ("can I collect it tomorrow?", None, Some(Pickup)),
            ("Please reserve the Tidewater for me", None, None),
            ("I'll take 2x the bell", Some(2), None),
            ("Quero encomendar duas tortas", Some(2), None),
            ("Vocês podem separar um para mim?", None, None),
            ("Quiero reservar dos entradas", Some(2), None),
            ("Me llevo tres", Some(3), None),
            (
                "Quero encomendar duas doses de bacalhau à brás para levar",
                Some(2),
                Some(Pickup),
            ),
            (
                "quiero pedir tres pasteles de nata, por favor",
                Some(3),
                None,
            ),
            ("Ich möchte das Buch liefern lassen", None, Some(Delivery)),
            // Without a verb of ordering: a polite number of pieces, a wish for some.
            ("two lighthouse mips helmets please", Some(2), None),
            ("quisiera dos arroz doce, por favor", Some(2), None),
            (
                "2 bitoques e 1 caldo verde para levar",
                Some(2),
                Some(Pickup),
            ),
            (
                "salt shield lube x6 pls, post them to me",
                Some(6),
                Some(Delivery),
            ),
            (
                "Bitte schicken Sie mir die Verwandlung, drei Stück",
                Some(3),
                Some(Delivery),
            ),
            (
                "super, reservier mir einen, ich hole ihn ab",
                None,
                Some(Pickup),
            ),
            ("I'll have the bacalhau please", None, None),
        ];
        for (text, quantity, fulfilment) in cases {
            let got = intent(text, &[]).unwrap_or_else(|| panic!("{text:?} is an order"));
            assert_eq!(got.quantity, *quantity, "{text:?}");
            assert_eq!(got.fulfilment, *fulfilment, "{text:?}");
        }
    }

    /// Questions about ordering, buying or times are no orders.
    #[test]
    fn questions_about_ordering_are_no_orders() {
        for text in [
            "Wie kann ich bestellen?",
            "How do I reserve a table?",
            "Wann habt ihr samstags offen?",
            "Kann man bei euch Gutscheine kaufen?",
            "Do you sell e-bikes?",
            "Habt ihr den Zauberberg da?",
            "Como faço uma encomenda?",
            "¿Dónde puedo recoger?",
            "what does the Tidewater 500 cost?",
            "Vocês aceitam PIX?",
            "Macht ihr Torten auf Bestellung?",
            "Muss man für den Kurs reservieren?",
            "If I order a book today, when does it arrive?",
            "do you deliver to Porto?",
            // A number asked about, or a request to bring that asks whether it can be done.
            "2 helmets in stock?",
            "liefert ihr bitte auch nach Österreich?",
            "Do you have 3 copies of Faust?",
            "Meine Sendung ist nicht angekommen, bitte helfen",
        ] {
            assert_eq!(intent(text, &[]), None, "{text:?}");
        }
    }

    /// None of the demo businesses' eval questions (answers and catalog, both splits) is an
    /// order: they ask about products and the shop, and a WhatsApp customer asking them must
    /// get an answer, not a summary to confirm.
    #[test]
    fn the_eval_questions_are_no_orders() {
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
        let mut read = 0;
        for business in std::fs::read_dir(&corpus).unwrap() {
            for file in ["eval.json", "catalog-eval.json"] {
                let path = business.as_ref().unwrap().path().join(file);
                let Ok(text) = std::fs::read_to_string(&path) else {
                    continue;
                };
                let eval: serde_json::Value = serde_json::from_str(&text).unwrap();
                for q in eval["questions"].as_array().unwrap() {
                    let question = q["question"].as_str().unwrap();
                    read += 1;
                    assert_eq!(
                        intent(question, &[]),
                        None,
                        "{}: {question:?}",
                        path.display()
                    );
                }
            }
        }
        assert!(read > 400, "{read} questions");
    }

    #[test]
    fn a_list_is_cut_at_commas_and_joining_words_but_not_inside_names() {
        let in_name = |w: &str| w == "richter und sein";
        assert_eq!(
            parts("2 Zauberberg und 1 Buddenbrooks, bitte", in_name),
            vec!["2 zauberberg", "1 buddenbrooks", "bitte"]
        );
        assert_eq!(
            parts("der richter und sein henker", in_name),
            vec!["der richter und sein henker"]
        );
        assert_eq!(
            parts("a lock + two lights", in_name),
            vec!["a lock", "two lights"]
        );
    }

    #[test]
    fn times_prices_measures_and_names_are_no_quantities() {
        assert_eq!(quantity("kann ich um 10 Uhr abholen", &[]), None);
        assert_eq!(quantity("morgen ab 14:30", &[]), None);
        assert_eq!(quantity("one under 20 €", &[]), None);
        assert_eq!(quantity("the tidewater 500 please", &names(&["500"])), None);
        assert_eq!(
            quantity("2 tidewater 500 please", &names(&["500"])),
            Some(2)
        );
        assert_eq!(quantity("drei", &[]), Some(3));
        assert_eq!(quantity("4", &[]), Some(4));
    }

    #[test]
    fn the_product_words_are_what_is_left() {
        assert_eq!(product_words("Ich möchte zwei Faust bestellen"), "faust");
        assert_eq!(
            product_words("Kann ich den Zauberberg für morgen reservieren?"),
            "kann zauberberg"
        );
        assert_eq!(
            product_words("I'd like to buy 2 Tidewater 500 please"),
            "to tidewater 500"
        );
        assert_eq!(product_words("quero encomendar duas tortas"), "tortas");
    }

    #[test]
    fn short_answers_confirm_change_or_cancel() {
        let titles = [
            ("Bestätigen", Consent::Confirm),
            ("Ändern", Consent::Change),
            ("Abbrechen", Consent::Cancel),
        ];
        assert_eq!(consent("Bestätigen", &titles), Some(Consent::Confirm));
        assert_eq!(consent("ja gerne!", &titles), Some(Consent::Confirm));
        assert_eq!(consent("nein, doch nicht", &titles), Some(Consent::Cancel));
        assert_eq!(consent("sim", &titles), Some(Consent::Confirm));
        assert_eq!(consent("cancelar", &titles), Some(Consent::Cancel));
        assert_eq!(consent("ändern", &titles), Some(Consent::Change));
        assert_eq!(
            consent("ja, und habt ihr auch den Stechlin da?", &titles),
            None
        );
        assert_eq!(consent("wann habt ihr offen", &titles), None);
    }
}
