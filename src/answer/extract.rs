//! Replies made of the documents' own words: an FAQ entry's answer, a product's stored fields,
//! or the sentences of a passage that best match the question.
//!
//! These are the fast, exact paths, and the fallback whenever a generated reply fails its check.
//! Nothing here rewrites a price, a stock figure or a name: fields are quoted as uploaded.

use crate::documents::{PassageKind, ProductFields};
use crate::index::Hit;

use super::expect::{holds, Expected};
use super::language::{catalog_labels, QUESTION_WORDS};

/// Longest extractive reply, in characters (a chat message, not a page).
const MAX_EXTRACT_CHARS: usize = 450;

/// What a catalog question asks about a product.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ProductIntent {
    pub price: bool,
    pub availability: bool,
    pub author: bool,
    /// Attribute columns the question names ("weight" → `weight_kg`).
    pub attributes: Vec<String>,
}

impl ProductIntent {
    pub fn any(&self) -> bool {
        self.price || self.availability || self.author || !self.attributes.is_empty()
    }
}

const PRICE_WORDS: &[&str] = &[
    "price",
    "prices",
    "cost",
    "costs",
    "much",
    "expensive",
    "cheap",
    "kostet",
    "kosten",
    "preis",
    "teuer",
    "viel",
    "prix",
    "coûte",
    "combien",
    "precio",
    "cuesta",
    "cuánto",
    "cuanto",
    "preço",
    "preco",
    "custa",
    "quanto",
    "prezzo",
    "costa",
    "prijs",
    "kost",
    "hoeveel",
];
const AVAILABILITY_WORDS: &[&str] = &[
    "stock",
    "available",
    "availability",
    "have",
    "got",
    "sell",
    "carry",
    "left",
    "vorrätig",
    "vorraetig",
    "vorratig",
    "lager",
    "da",
    "habt",
    "haben",
    "verfügbar",
    "verfugbar",
    "gibt",
    "führt",
    "fuehrt",
    "dispo",
    "disponible",
    "avez",
    "stock",
    "tienen",
    "hay",
    "disponível",
    "disponivel",
    "estoque",
    "tem",
    "têm",
    "vendem",
    "disponibile",
    "avete",
    "voorraad",
    "hebben",
];
const AUTHOR_WORDS: &[&str] = &[
    "author",
    "wrote",
    "written",
    "brand",
    "make",
    "maker",
    "manufacturer",
    "autor",
    "autorin",
    "geschrieben",
    "marke",
    "hersteller",
    "auteur",
    "marque",
    "escribió",
    "marca",
    "escreveu",
    "autore",
    "scritto",
    "schrijver",
    "merk",
];

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The words of `text` (lower case, at least `min_chars` long) that say what a question is
/// about, its phrasing ("how much", "habt ihr") left out.
pub(super) fn content_words(text: &str, min_chars: usize) -> Vec<String> {
    words(text)
        .into_iter()
        .filter(|w| w.chars().count() >= min_chars && !QUESTION_WORDS.contains(&w.as_str()))
        .collect()
}

/// Two words are the same for matching when one is a prefix of the other and they share at
/// least five characters (or are equal): "sizes"/"size", "Gewicht"/"gewichte".
pub(super) fn same_word(a: &str, b: &str) -> bool {
    let (a, b) = (singular(a), singular(b));
    if a == b {
        return true;
    }
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    short.chars().count() >= 4 && long.starts_with(short.as_ref())
}

/// An English plural's singular ("copies" → "copy", "bikes" → "bike"); other words as they are.
fn singular(word: &str) -> std::borrow::Cow<'_, str> {
    if word.chars().count() > 4 {
        if let Some(stem) = word.strip_suffix("ies") {
            return format!("{stem}y").into();
        }
        if let Some(stem) = word.strip_suffix('s').filter(|s| !s.ends_with('s')) {
            return stem.into();
        }
    }
    word.into()
}

/// Whether the question names what the hit is about: one of its words (four letters or more,
/// or any with a digit) in the FAQ entry's question, or in the product's name or category.
pub fn names_it(question: &str, hit: &Hit) -> bool {
    let product = hit.product.as_ref();
    let mut naming = words(&hit.title);
    for field in [
        product.and_then(|p| p.name.as_deref()),
        product.and_then(|p| p.category.as_deref()),
    ]
    .into_iter()
    .flatten()
    {
        naming.extend(words(field));
    }
    // "ebooks" names "E-Books": compare against the words run together too.
    let joined: String = naming.concat();
    words(question)
        .iter()
        .filter(|w| w.chars().count() >= 4 || w.chars().any(|c| c.is_ascii_digit()))
        .filter(|w| !SELLING_VERBS.contains(&w.as_str()))
        .any(|w| naming.iter().any(|n| same_word(w, n)) || joined.contains(w.as_str()))
}

/// Verbs of "do you sell …?" questions.
const SELLING_VERBS: &[&str] = &[
    "sell",
    "carry",
    "verkauft",
    "verkaufen",
    "führt",
    "fuehrt",
    "vendem",
    "vende",
    "venden",
    "vendez",
    "vendete",
    "verkopen",
];

/// Whether `question` asks what the business sells.
pub fn asks_what_is_sold(question: &str) -> bool {
    words(question)
        .iter()
        .any(|w| SELLING_VERBS.contains(&w.as_str()))
}

/// What the question asks of `product`.
pub fn product_intent(question: &str, product: &ProductFields) -> ProductIntent {
    let asked = words(question);
    let has = |list: &[&str]| asked.iter().any(|w| list.contains(&w.as_str()));
    let attributes = product
        .attributes
        .iter()
        .filter(|(header, _)| {
            words(&header.replace('_', " "))
                .iter()
                .filter(|h| h.chars().count() >= 3 && !matches!(h.as_str(), "kg" | "cm" | "mm"))
                .any(|h| asked.iter().any(|w| same_word(w, h)))
        })
        .map(|(header, _)| header.clone())
        .collect();
    ProductIntent {
        price: has(PRICE_WORDS),
        availability: has(AVAILABILITY_WORDS),
        author: has(AUTHOR_WORDS),
        attributes,
    }
}

/// A product's answer from its stored fields, labelled in `language`: its name (and author or
/// brand), its description, its price and availability (what customers asking
/// about a product want next), the attributes the question names, and its link.
pub fn catalog_reply(
    product: &ProductFields,
    title: &str,
    intent: &ProductIntent,
    language: &str,
) -> String {
    let labels = catalog_labels(language);
    let name = product.name.as_deref().unwrap_or(title);
    let mut lines = Vec::new();
    match &product.author {
        Some(author) if !author.is_empty() => {
            lines.push(format!("{name} ({} {author})", labels.by))
        }
        _ => lines.push(name.to_string()),
    }
    // The description holds what the other columns leave out (a surcharge, a lead time,
    // "glutenfrei"), so it is always quoted.
    if let Some(description) = product.description.as_deref().filter(|d| !d.is_empty()) {
        lines.push(description.to_string());
    }
    if let Some(price) = &product.price {
        let currency = product.currency.as_deref().unwrap_or("");
        lines.push(
            format!("{}: {price} {currency}", labels.price)
                .trim_end()
                .to_string(),
        );
    }
    if let Some(stock) = &product.stock {
        let line = match stock.trim().parse::<f64>() {
            Ok(n) if n > 0.0 => format!("{}: {stock}", labels.in_stock),
            Ok(_) => labels.out_of_stock.to_string(),
            Err(_) => format!("{}: {stock}", labels.availability),
        };
        lines.push(line);
    }
    for (header, value) in &product.attributes {
        if intent.attributes.contains(header) {
            lines.push(format!("{}: {value}", header.replace('_', " ")));
        }
    }
    if let Some(url) = &product.url {
        lines.push(format!("{}: {url}", labels.more));
    }
    lines.join("\n")
}

/// The reply for an FAQ hit: its answer as written.
pub fn faq_reply(hit: &Hit) -> String {
    let text = hit.text.trim();
    // Some formats keep the question as the passage's first line; the customer asked it already.
    match text.split_once('\n') {
        Some((first, rest)) if first.trim() == hit.title.trim() => rest.trim().to_string(),
        _ => text.to_string(),
    }
}

/// The retrieved chunks of the first hit's section (same document, title and headings), in
/// document order: what an extractive reply may quote, and so what it cites.
pub fn section_of(hits: &[Hit]) -> Vec<&Hit> {
    let Some(first) = hits.first() else {
        return Vec::new();
    };
    if first.kind != PassageKind::Page {
        return vec![first];
    }
    let mut section: Vec<&Hit> = hits
        .iter()
        .filter(|h| {
            h.document == first.document
                && h.title == first.title
                && h.heading_path == first.heading_path
        })
        .collect();
    section.sort_by_key(|h| h.ordinal);
    section
}

/// The best reply made of the sources' own words: an FAQ answer or a product's fields as they
/// are, else the passage's sentence the question is closest to (by the sentence encoder where
/// the index has vectors, else by the words they share), with neighbours as room allows. A
/// sentence holding the kind of fact asked for comes first either way.
pub fn extractive_reply(
    question: &str,
    hits: &[Hit],
    language: &str,
    expected: Option<Expected>,
) -> Option<String> {
    let hit = hits.first()?;
    match (&hit.kind, &hit.product) {
        (PassageKind::Product, Some(product)) => {
            let intent = product_intent(question, product);
            return Some(catalog_reply(product, &hit.title, &intent, language));
        }
        (PassageKind::Faq, _) => return Some(clip(&faq_reply(hit))),
        _ => {}
    }
    let asked = content_words(question, 3);
    // A section split into overlapping chunks is read whole: the sentence that answers may sit
    // in the chunk beside the one that ranked first.
    let mut sentences: Vec<&str> = Vec::new();
    // The encoder's similarity of each sentence to the question, where known.
    let mut similarity: Vec<Option<f32>> = Vec::new();
    let section = section_of(hits);
    for chunk in section {
        let of_chunk = sentences_of(&chunk.text);
        // A chunk of one sentence has only its passage vector.
        let known: Vec<Option<f32>> = if of_chunk.len() == chunk.sentence_similarities.len() {
            chunk
                .sentence_similarities
                .iter()
                .copied()
                .map(Some)
                .collect()
        } else {
            vec![chunk.similarity.filter(|_| of_chunk.len() == 1); of_chunk.len()]
        };
        for (sentence, s) in of_chunk.into_iter().zip(known) {
            match sentences.iter().position(|x| *x == sentence) {
                Some(at) => {
                    similarity[at] = match (similarity[at], s) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        (a, b) => a.or(b),
                    }
                }
                None => {
                    sentences.push(sentence);
                    similarity.push(s);
                }
            }
        }
    }
    let holds_fact = |s: &str| expected.is_some_and(|kind| holds(s, kind));
    let best = if similarity.iter().all(Option::is_some) && !similarity.is_empty() {
        (0..sentences.len()).max_by(|&a, &b| {
            let key = |i: usize| (holds_fact(sentences[i]), similarity[i].unwrap_or(0.0));
            let (ka, kb) = (key(a), key(b));
            ka.0.cmp(&kb.0).then(ka.1.total_cmp(&kb.1)).then(b.cmp(&a))
        })?
    } else {
        // A sentence holding the kind of fact asked for outweighs one that only repeats words.
        let overlap = |s: &str| {
            let in_sentence = words(s);
            let shared = asked
                .iter()
                .filter(|a| in_sentence.iter().any(|w| same_word(a, w)))
                .count();
            shared + 2 * usize::from(holds_fact(s))
        };
        (0..sentences.len()).max_by_key(|&i| (overlap(sentences[i]), usize::MAX - i))?
    };
    // The best sentence often leans on its neighbours ("… as follows:", "It costs …"): grow
    // the window forward, then backward, while it stays a chat message.
    let (mut first, mut last) = (best, best);
    let mut length = sentences[best].len();
    while let Some(next) = sentences.get(last + 1) {
        if length + next.len() + 1 > MAX_EXTRACT_CHARS {
            break;
        }
        length += next.len() + 1;
        last += 1;
    }
    while first > 0 && length + sentences[first - 1].len() < MAX_EXTRACT_CHARS {
        first -= 1;
        length += sentences[first].len() + 1;
    }
    Some(clip(&sentences[first..=last].join(" ")))
}

/// The sentences of a text as the index embeds them, or the whole text where it is one.
fn sentences_of(text: &str) -> Vec<&str> {
    let sentences = crate::index::sentences(text);
    if sentences.is_empty() && !text.trim().is_empty() {
        return vec![text.trim()];
    }
    sentences
}

/// Shortens to a sentence or word boundary under the limit, marking the cut with "…".
fn clip(text: &str) -> String {
    if text.chars().count() <= MAX_EXTRACT_CHARS * 2 {
        return text.to_string();
    }
    let cut: String = text.chars().take(MAX_EXTRACT_CHARS * 2).collect();
    let end = cut
        .rfind(['.', '!', '?', '\n'])
        .map(|i| i + 1)
        .or_else(|| cut.rfind(' '))
        .unwrap_or(cut.len());
    format!("{} …", cut[..end].trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bike() -> ProductFields {
        ProductFields {
            name: Some("Tidewater 500 Hybrid".into()),
            price: Some("649.00".into()),
            currency: Some("GBP".into()),
            stock: Some("6".into()),
            author: Some("Tidewater".into()),
            description: Some("Mudguards fitted for £25 extra.".into()),
            attributes: vec![
                ("frame_size".into(), "S, M, L, XL".into()),
                ("weight_kg".into(), "12.4".into()),
            ],
            ..ProductFields::default()
        }
    }

    #[test]
    fn catalog_replies_quote_the_asked_fields_exactly() {
        let price = product_intent("how much is the tidewater 500", &bike());
        assert!(price.price && !price.availability);
        let reply = catalog_reply(&bike(), "", &price, "en");
        assert!(reply.contains("649.00 GBP"), "{reply}");
        assert!(reply.contains("In stock: 6"), "{reply}");
        assert!(!reply.contains("S, M, L, XL"), "{reply}");
        // The description goes with every catalog reply: the details sit there.
        assert!(reply.contains("Mudguards fitted for £25 extra."), "{reply}");

        let size = product_intent("what sizes does the tidewater 500 come in", &bike());
        assert_eq!(size.attributes, vec!["frame_size".to_string()]);
        assert!(catalog_reply(&bike(), "", &size, "en").contains("S, M, L, XL"));

        let weight = product_intent("whats the weight of the tidewater", &bike());
        assert!(catalog_reply(&bike(), "", &weight, "en").contains("12.4"));

        let stock = product_intent("habt ihr das da?", &bike());
        let reply = catalog_reply(&bike(), "", &stock, "de");
        assert!(reply.contains("Vorrätig: 6"), "{reply}");
    }

    #[test]
    fn extractive_replies_take_the_matching_sentences() {
        let hit = Hit {
            document: "about.md".into(),
            ordinal: 0,
            kind: PassageKind::Page,
            title: "About".into(),
            heading_path: vec![],
            text: "We are a family shop. Parking is free behind the shop on Quay Street. \
                   We love bikes."
                .into(),
            score: 1.0,
            product: None,
            coverage: None,
            similarity: None,
            sentence_similarity: None,
            sentence_similarities: Vec::new(),
            question_similarity: None,
        };
        let reply = extractive_reply("where can I park?", &[hit], "en", None).unwrap();
        assert!(reply.contains("Parking is free behind the shop"), "{reply}");
    }
}
