//! Which language the customer wrote in, and the few sentences clerk says itself in each.
//!
//! Customer questions are short ("und am Samstag?"), where statistical detection guesses; so a
//! question's own function words decide first, whatlang second, and the business's language
//! when neither is sure. Every canned sentence exists in every language the index analyzes.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::index::Language;

/// Languages clerk can speak in its own words (abstentions, catalog labels).
pub const LANGUAGES: [&str; 7] = ["en", "de", "fr", "es", "pt", "it", "nl"];

/// Short words that mark a language in a question. A word of several ("de" in es, pt and nl)
/// counts for each a share.
const MARKERS: [(&str, &str); 7] = [
    (
        "en",
        "the you your do does is are what how when where which who can have has any much many \
         open price cost much stock sell there it and of for",
    ),
    (
        "de",
        "der die das ihr habt haben ist sind was wie wann wo welche wer kann könnt koennt gibt \
         es euch ihr sie kostet preis auf lager vorrätig und am nicht noch ich mein meine bei \
         mit für fuer auch schon",
    ),
    (
        "fr",
        "le la les vous avez est sont quel quelle comment quand où combien coûte prix et pas \
         je mon ma chez avec pour aussi",
    ),
    (
        "es",
        "el la los las ustedes tienen tiene es son qué cuál cómo cuándo dónde cuánto cuesta \
         precio y no yo mi con para también hay de del por favor quiero quisiera un una",
    ),
    (
        "pt",
        "o a os as vocês voces vcs tem têm é são qual como quando onde quanto custa preço preco \
         e não nao eu meu minha com para também tambem aceitam aceita de da por favor quero \
         queria um uma",
    ),
    (
        "it",
        "il lo gli voi avete è sono che quale come quando dove quanto costa prezzo e non io \
         mio mia con per anche",
    ),
    (
        "nl",
        "de het jullie hebben heeft is zijn wat hoe wanneer waar welke hoeveel kost prijs en \
         niet ik mijn met voor ook",
    ),
];

fn markers() -> &'static HashMap<&'static str, Vec<&'static str>> {
    static MAP: OnceLock<HashMap<&'static str, Vec<&'static str>>> = OnceLock::new();
    MAP.get_or_init(|| {
        let mut map: HashMap<&str, Vec<&str>> = HashMap::new();
        for (lang, words) in MARKERS {
            for word in words.split_whitespace() {
                map.entry(word).or_default().push(lang);
            }
        }
        map
    })
}

/// The customer's language as a code from [`LANGUAGES`]; `fallback` (the documents' language)
/// when the question does not say.
pub fn detect(question: &str, fallback: &str) -> String {
    let mut votes: HashMap<&str, f32> = HashMap::new();
    for word in question
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let word = word.to_lowercase();
        if let Some(langs) = markers().get(word.as_str()) {
            // A word shared by several languages says less about each.
            for lang in langs {
                *votes.entry(lang).or_default() += 1.0 / langs.len() as f32;
            }
        }
    }
    let mut ranked: Vec<(&str, f32)> = votes.into_iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    match ranked.as_slice() {
        [(lang, best), rest @ ..] if *best >= 1.0 && rest.first().is_none_or(|r| r.1 < *best) => {
            return lang.to_string()
        }
        _ => {}
    }
    if let Some(language) = Language::detect_reliably(question) {
        return language.code().to_string();
    }
    if LANGUAGES.contains(&fallback) {
        fallback.to_string()
    } else {
        "en".to_string()
    }
}

/// How customers phrase a question, in every language: words that say what kind of question it
/// is but not what it is about. They do not count when judging whether a passage covers the
/// question ("habt ihr Kekse?" is about Kekse).
pub const QUESTION_WORDS: &[&str] = &[
    // en
    "do",
    "does",
    "did",
    "you",
    "your",
    "u",
    "ur",
    "have",
    "has",
    "got",
    "get",
    "any",
    "sell",
    "how",
    "much",
    "many",
    "what",
    "whats",
    "what's",
    "when",
    "where",
    "which",
    "who",
    "why",
    "can",
    "could",
    "i",
    "me",
    "my",
    "is",
    "are",
    "there",
    "r",
    "please",
    "pls",
    "hi",
    "hello",
    "thanks",
    "need",
    "want",
    "would",
    "like",
    "tell",
    "know",
    "about",
    "still",
    "at",
    "all",
    "cost",
    "costs",
    "price",
    "stock",
    "available",
    "buy",
    "of",
    "in",
    "on",
    "for",
    "a",
    "an",
    "the",
    "it",
    "to",
    "from",
    "with",
    "by",
    "take",
    "accept",
    "wrote",
    "written",
    "author",
    "brand",
    "anything",
    "something",
    "some",
    "shop",
    "store",
    "customers",
    "customer",
    "use",
    // de
    "habt",
    "haben",
    "hat",
    "ihr",
    "euch",
    "eure",
    "euer",
    "gibt",
    "es",
    "kostet",
    "kosten",
    "was",
    "wie",
    "viel",
    "viele",
    "wann",
    "wo",
    "welche",
    "welcher",
    "welches",
    "wer",
    "wem",
    "warum",
    "kann",
    "koennt",
    "könnt",
    "man",
    "ich",
    "mir",
    "mich",
    "mein",
    "meine",
    "bei",
    "noch",
    "auch",
    "bitte",
    "danke",
    "hallo",
    "genau",
    "da",
    "sind",
    "ist",
    "seid",
    "verkauft",
    "teuer",
    "lager",
    "vorrätig",
    "vorraetig",
    "brauch",
    "brauche",
    "suche",
    "sucht",
    "zum",
    "zur",
    "geschrieben",
    "autor",
    "nehmt",
    "akzeptiert",
    "etwas",
    "was",
    "irgendwas",
    // pt
    "vocês",
    "voces",
    "vcs",
    "você",
    "tem",
    "têm",
    "vendem",
    "quanto",
    "custa",
    "qual",
    "quais",
    "quando",
    "onde",
    "como",
    "posso",
    "eu",
    "o",
    "a",
    "os",
    "as",
    "do",
    "da",
    "de",
    "na",
    "no",
    "por",
    "favor",
    "oi",
    "olá",
    "aceitam",
    "aceita",
    "alguém",
    "alguem",
    "loja",
    "tienda",
    // es
    "ustedes",
    "tienen",
    "tiene",
    "venden",
    "cuánto",
    "cuanto",
    "cuesta",
    "cuál",
    "cuándo",
    "dónde",
    "cómo",
    "puedo",
    "hola",
    "hay",
];

/// What clerk says when its documents do not hold the answer.
pub fn abstention(language: &str) -> &'static str {
    match language {
        "de" => "Das kann ich anhand unserer Informationen leider nicht beantworten. Eine Kollegin oder ein Kollege meldet sich bei Ihnen.",
        "fr" => "Je ne peux pas répondre à cela avec nos informations. Un collègue vous recontactera.",
        "es" => "No puedo responder a eso con nuestra información. Un compañero se pondrá en contacto con usted.",
        "pt" => "Não consigo responder a isso com as nossas informações. Um colega vai entrar em contato com você.",
        "it" => "Non posso rispondere a questa domanda con le nostre informazioni. Un collega la ricontatterà.",
        "nl" => "Dat kan ik met onze informatie niet beantwoorden. Een collega neemt contact met u op.",
        _ => "I can't answer that from our information; a colleague will get back to you.",
    }
}

/// Labels for a catalog answer, in the customer's language.
pub struct CatalogLabels {
    pub price: &'static str,
    pub in_stock: &'static str,
    pub out_of_stock: &'static str,
    pub availability: &'static str,
    pub by: &'static str,
    pub more: &'static str,
}

/// Every word clerk itself writes into catalog replies, in any language: these need no source.
pub fn own_words() -> Vec<&'static str> {
    let mut words: Vec<&'static str> = LANGUAGES
        .iter()
        .flat_map(|l| {
            let labels = catalog_labels(l);
            [
                labels.price,
                labels.in_stock,
                labels.out_of_stock,
                labels.availability,
                labels.by,
                labels.more,
            ]
        })
        .collect();
    words.extend(super::catalog::own_words());
    words
}

pub fn catalog_labels(language: &str) -> CatalogLabels {
    let (price, in_stock, out_of_stock, availability, by, more) = match language {
        "de" => (
            "Preis",
            "Vorrätig",
            "Derzeit nicht vorrätig",
            "Verfügbarkeit",
            "von",
            "Mehr",
        ),
        "fr" => (
            "Prix",
            "En stock",
            "Actuellement en rupture de stock",
            "Disponibilité",
            "de",
            "Plus",
        ),
        "es" => (
            "Precio",
            "En stock",
            "Agotado por ahora",
            "Disponibilidad",
            "de",
            "Más",
        ),
        "pt" => (
            "Preço",
            "Em estoque",
            "Esgotado no momento",
            "Disponibilidade",
            "de",
            "Mais",
        ),
        "it" => (
            "Prezzo",
            "Disponibile",
            "Al momento esaurito",
            "Disponibilità",
            "di",
            "Altro",
        ),
        "nl" => (
            "Prijs",
            "Op voorraad",
            "Momenteel niet op voorraad",
            "Beschikbaarheid",
            "van",
            "Meer",
        ),
        _ => (
            "Price",
            "In stock",
            "Currently out of stock",
            "Availability",
            "by",
            "More",
        ),
    };
    CatalogLabels {
        price,
        in_stock,
        out_of_stock,
        availability,
        by,
        more,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_questions_are_told_apart_by_their_function_words() {
        assert_eq!(detect("und am Samstag?", "en"), "de");
        assert_eq!(detect("habt ihr den zauberberg da?", "en"), "de");
        assert_eq!(detect("when are you open on saturday?", "de"), "en");
        assert_eq!(detect("vocês aceitam PIX?", "en"), "pt");
        assert_eq!(detect("Zauberberg?", "de"), "de");
        assert_eq!(detect("Tidewater 500", "en"), "en");
    }

    #[test]
    fn every_language_has_its_own_sentences() {
        for lang in LANGUAGES {
            assert!(!abstention(lang).is_empty());
            assert!(!catalog_labels(lang).price.is_empty());
        }
        assert_ne!(abstention("de"), abstention("en"));
    }
}
