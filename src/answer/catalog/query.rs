//! A customer's catalog question as a structured query: the words that say which products
//! ("Krimis", "road bikes", "glutenfrei"), an author or brand after "von"/"by", a price bound
//! ("unter 15,50 €", "under £500", "entre 5 e 10 euros"), in stock only, a sort ("günstigste",
//! "the 3 cheapest", "mais caro"), a comparison, or "more" continuing the last list.
//!
//! The operators are the closed-class grammar of prices, stock and comparison in German,
//! English, Portuguese and Spanish — the same for every shop; which products are meant comes
//! from the catalog's own words (see `select`).

use crate::answer::language::QUESTION_WORDS;
use crate::index::{fold, is_function_word, Unit};

/// Words standing for "a product" in a catalog question ("which *one* is cheaper", "the
/// cheapest *thing*").
const PRODUCT_PRONOUNS: &[&str] = &[
    "one",
    "ones",
    "thing",
    "things",
    "something",
    "anything",
    "stuff",
    "item",
    "items",
    "welches",
    "welcher",
    "welche",
    "sachen",
    "etwas",
    "coisa",
    "coisas",
    "algo",
    "cosa",
    "cosas",
    "qual",
    "quais",
    "cual",
    "cuales",
];

/// A word that says how a question is asked, not what about ("habt", "welche", "the").
fn is_phrasing(typed: &str) -> bool {
    is_function_word(typed)
        || QUESTION_WORDS.contains(&typed)
        || PRODUCT_PRONOUNS.contains(&fold(typed, false).as_str())
}

/// One token of a question.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// Lowercased and folded (accents dropped), and as typed (lowercased).
    Word {
        folded: String,
        typed: String,
    },
    Number(f64),
    Currency,
}

/// A price range; either end may be open, and either may leave its own figure out ("unter
/// 15 €" is below 15, "bis 15 €" up to and with it).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PriceBound {
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub min_strict: bool,
    pub max_strict: bool,
}

impl PriceBound {
    pub fn is_set(&self) -> bool {
        self.min.is_some() || self.max.is_some()
    }

    pub fn admits(&self, price: f64) -> bool {
        let above = |m: f64| {
            if self.min_strict {
                price > m
            } else {
                price >= m
            }
        };
        let below = |m: f64| {
            if self.max_strict {
                price < m
            } else {
                price <= m
            }
        };
        self.min.is_none_or(above) && self.max.is_none_or(below)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Cheapest,
    Dearest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub order: Order,
    /// What is sorted on: the price, or a measure ("die kürzeste Behandlung").
    pub by: Option<Unit>,
    /// How many the customer asked for ("die 3 günstigsten"); `None`: the one (and its ties).
    pub count: Option<usize>,
}

/// The question as a catalog query.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CatalogQuery {
    /// The words that say which products, as typed (lowercase), in groups the customer joined
    /// with "oder"/"or"/"und" ("Krimis oder Thriller"): a product must match one group.
    pub groups: Vec<Vec<String>>,
    /// Words after "von"/"by": an author or brand the products must have.
    pub by: Vec<String>,
    pub price: PriceBound,
    /// A bound on a duration, weight, length or volume ("höchstens 20 Minuten", "under 10
    /// kg"), in the unit's base (minutes, kilograms, centimetres, litres).
    pub measure: Option<(Unit, PriceBound)>,
    pub in_stock: bool,
    pub sort: Option<Sort>,
    /// "Unterschied", "vs", "compare": the products named are to be set side by side.
    pub compare: bool,
    /// The question only asks for more of the previous list.
    pub more: bool,
    /// It asks which ones, or for all or any of a kind ("welche Krimis", "any helmets",
    /// "quais pratos"): the grammar of asking for several.
    pub asks_for_several: bool,
}

impl CatalogQuery {
    /// Whether the question holds a catalog operator (a bound, stock, a sort or a comparison):
    /// the grammar alone says it is about the catalog.
    pub fn has_operator(&self) -> bool {
        self.price.is_set()
            || self.measure.is_some()
            || self.in_stock
            || self.sort.is_some()
            || self.compare
    }

    /// A bound on the price or a measure.
    pub fn bounded(&self) -> bool {
        self.price.is_set() || self.measure.is_some()
    }

    pub fn words(&self) -> impl Iterator<Item = &String> {
        self.groups.iter().flatten()
    }
}

/// Phrases that put an upper bound on the price when a number follows, leaving the number
/// out ("unter 15 €")…
const BELOW: &[&str] = &[
    "unter",
    "unterhalb",
    "weniger als",
    "billiger als",
    "gunstiger als",
    "under",
    "below",
    "less than",
    "cheaper than",
    "menos de",
    "menos que",
    "abaixo de",
    "mais barato que",
    "mais barato do que",
    "mais baratos que",
    "por menos de",
    "por debajo de",
    "mas barato que",
    "mas baratos que",
    "inferior a",
    "<",
];
/// …or keeping it ("bis 15 €").
const AT_MOST: &[&str] = &[
    "bis",
    "bis zu",
    "hochstens",
    "max",
    "maximal",
    "maximum",
    "nicht mehr als",
    "up to",
    "at most",
    "no more than",
    "max of",
    "ate",
    "no maximo",
    "hasta",
    "como maximo",
];
/// Phrases that put a lower bound on the price when a number follows, leaving it out…
const ABOVE: &[&str] = &[
    "uber",
    "mehr als",
    "teurer als",
    "over",
    "above",
    "more than",
    "mais de",
    "acima de",
    "mais caro que",
    "mas de",
    "por encima de",
    "mas caro que",
    "superior a",
    ">",
];
/// …or keeping it.
const AT_LEAST: &[&str] = &[
    "ab",
    "mindestens",
    "at least",
    "from",
    "a partir de",
    "no minimo",
    "desde",
];
/// Phrases after a number that bound it: "15 € oder weniger", "500 or more".
const OR_LESS: &[&str] = &["oder weniger", "or less", "ou menos", "o menos", "or under"];
const OR_MORE: &[&str] = &["oder mehr", "or more", "ou mais", "o mas", "or over"];
/// "zwischen 10 und 20", "between 5 and 10", "entre 5 e 10".
const BETWEEN: &[&str] = &["zwischen", "between", "entre", "von", "from", "de"];
const AND: &[&str] = &["und", "and", "e", "y", "bis", "to", "a", "-"];
/// Currency words customers write after a number.
const CURRENCY_WORDS: &[&str] = &[
    "eur", "euro", "euros", "gbp", "pound", "pounds", "quid", "pfund", "usd", "dollar", "dollars",
    "dolares", "brl", "reais", "real", "r", "chf", "franken",
];
const CHEAPEST: &[&str] = &[
    "gunstigste*",
    "billigste*",
    "preiswerteste*",
    "cheapest",
    "least expensive",
    "lowest price*",
    "lowest priced",
    "mais barat*",
    "mas barat*",
    "mas economic*",
    "menor preco",
    "menor precio",
];
const DEAREST: &[&str] = &[
    "teuerste*",
    "most expensive",
    "priciest",
    "dearest",
    "highest price*",
    "mais car*",
    "mas car*",
    "maior preco",
    "mayor precio",
];
/// Superlatives of a measure: the quickest, longest, lightest, heaviest.
const SHORTEST: &[&str] = &[
    "kurzeste*",
    "schnellste*",
    "quickest",
    "shortest",
    "fastest",
    "mais rapid*",
    "mais curt*",
    "mas rapid*",
    "mas cort*",
];
const LONGEST: &[&str] = &["langste*", "longest", "mais demorad*", "mas larg*"];
const LIGHTEST: &[&str] = &["leichteste*", "lightest", "mais leve*", "mas liger*"];
const HEAVIEST: &[&str] = &["schwerste*", "heaviest", "mais pesad*", "mas pesad*"];
const IN_STOCK: &[&str] = &[
    "vorratig*",
    "auf lager",
    "lagernd*",
    "lieferbar*",
    "verfugbar*",
    "in stock",
    "available",
    "em estoque",
    "disponive*",
    "a pronta entrega",
    "en stock",
    "disponible*",
    "en existencia",
];
const COMPARE: &[&str] = &[
    "unterschied*",
    "vergleich*",
    "vs",
    "versus",
    "difference*",
    "differ",
    "compare*",
    "comparison",
    "diferenca*",
    "compar*",
    "diferencia*",
];
/// "von"/"by" before an author or brand.
const BY: &[&str] = &["von", "by", "written by", "geschrieben von", "made by"];
/// Words that join alternatives.
const OR: &[&str] = &[
    "oder", "or", "ou", "o", "und", "and", "e", "y", "sowie", "plus",
];
/// Interrogatives and quantifiers that ask for several of a kind, and verbs asking to be
/// shown a list.
const SEVERAL: &[&str] = &[
    "welche",
    "alle",
    "irgendwelche",
    "zeig",
    "zeige",
    "zeigt",
    "liste",
    "which",
    "what",
    "whats",
    "all",
    "any",
    "show",
    "list",
    "quais",
    "que",
    "todos",
    "todas",
    "alguns",
    "algumas",
    "mostra",
    "mostre",
    "lista",
    "cuales",
    "algunos",
    "algunas",
    "muestrame",
    "muestra",
];
/// A question made of these only asks for more of the last list.
const MORE: &[&str] = &[
    "mehr",
    "weitere",
    "weiter",
    "andere",
    "nachste",
    "noch",
    "more",
    "next",
    "others",
    "other",
    "rest",
    "else",
    "going",
    "mais",
    "outros",
    "outras",
    "proximos",
    "mas",
    "otros",
    "otras",
    "siguientes",
];
/// Words around "more" that do not change it ("noch mehr bitte", "show me more").
const MORE_FILLER: &[&str] = &[
    "noch",
    "bitte",
    "zeig",
    "zeige",
    "zeigen",
    "gibt",
    "es",
    "und",
    "please",
    "show",
    "me",
    "any",
    "some",
    "and",
    "what",
    "else",
    "e",
    "y",
    "por",
    "favor",
    "me",
    "mostra",
    "mostre",
    "quero",
    "ver",
    "muestrame",
    "hay",
    "tem",
    "ha",
    "was",
    "sonst",
    "gibts",
    "got",
    "pls",
    "keep",
    "options",
    "opcoes",
    "opciones",
    "items",
    "artikel",
    "sachen",
    "coisas",
    "cosas",
    "have",
    "you",
    "do",
    "habt",
    "ihr",
    "da",
    "there",
];

fn tokens(question: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let chars: Vec<char> = question.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || (matches!(chars[i], ',' | '.')
                        && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())))
            {
                i += 1;
            }
            // A time of day ("18:30") is no amount.
            if chars.get(i) == Some(&':') && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()) {
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                let typed: String = chars[start..i].iter().collect();
                out.push(Token::Word {
                    folded: typed.clone(),
                    typed,
                });
                continue;
            }
            let text: String = chars[start..i].iter().collect();
            // A number glued to letters is part of a name ("29er", "700x35c").
            if i < chars.len() && chars[i].is_alphabetic() {
                while i < chars.len() && chars[i].is_alphanumeric() {
                    i += 1;
                }
                let typed: String = chars[start..i].iter().collect::<String>().to_lowercase();
                out.push(Token::Word {
                    folded: fold(&typed, false),
                    typed,
                });
                continue;
            }
            match crate::index::catalog::parse_number(&text) {
                Some(n) => out.push(Token::Number(n)),
                None => out.push(Token::Word {
                    folded: text.clone(),
                    typed: text,
                }),
            }
        } else if c.is_alphanumeric() {
            let start = i;
            // A hyphen inside a word keeps it one ("E-Bike", "Step-Through").
            while i < chars.len()
                && (chars[i].is_alphanumeric()
                    || (chars[i] == '-' && chars.get(i + 1).is_some_and(|d| d.is_alphanumeric())))
            {
                i += 1;
            }
            let typed: String = chars[start..i].iter().collect::<String>().to_lowercase();
            out.push(Token::Word {
                folded: fold(&typed, false),
                typed,
            });
        } else {
            if matches!(c, '€' | '£' | '$') {
                out.push(Token::Currency);
            } else if matches!(c, '<' | '>' | '-') {
                out.push(Token::Word {
                    folded: c.to_string(),
                    typed: c.to_string(),
                });
            }
            i += 1;
        }
    }
    out
}

fn folded(token: &Token) -> Option<&str> {
    match token {
        Token::Word { folded, .. } => Some(folded),
        _ => None,
    }
}

/// The length of the first phrase of `phrases` that the tokens at `at` spell ("foo*": any word
/// beginning "foo"), if any.
fn phrase_at(tokens: &[Token], at: usize, phrases: &[&str]) -> Option<usize> {
    phrases
        .iter()
        .filter_map(|phrase| {
            let words: Vec<&str> = phrase.split(' ').collect();
            let matches = words.iter().enumerate().all(|(k, w)| {
                tokens
                    .get(at + k)
                    .and_then(folded)
                    .is_some_and(|t| match w.strip_suffix('*') {
                        Some(prefix) => t.starts_with(prefix),
                        None => t == *w,
                    })
            });
            matches.then_some(words.len())
        })
        .max()
}

/// The number at `at`, with a currency sign or word before or after it: (value, tokens used
/// from `at`).
fn amount_at(tokens: &[Token], at: usize) -> Option<(f64, usize)> {
    let mut i = at;
    if matches!(tokens.get(i), Some(Token::Currency)) {
        i += 1;
    }
    let Some(Token::Number(n)) = tokens.get(i) else {
        return None;
    };
    i += 1;
    loop {
        match tokens.get(i) {
            Some(Token::Currency) => i += 1,
            Some(Token::Word { folded, .. }) if CURRENCY_WORDS.contains(&folded.as_str()) => i += 1,
            _ => break,
        }
    }
    Some((*n, i - at))
}

/// What a bound's number is of, by the word after it.
enum Target {
    Price,
    /// A duration, weight, length or volume, and the factor to its base unit.
    Measure(Unit, f64),
    /// A time of day, a number of days, people or years: no catalog bound.
    Other,
}

fn target_at(tokens: &[Token], at: usize) -> Target {
    let Some(word) = tokens.get(at).and_then(folded) else {
        return Target::Price;
    };
    if let Some((unit, factor)) = Unit::of_word(word) {
        return Target::Measure(unit, factor);
    }
    let other = matches!(
        word,
        "uhr"
            | "am"
            | "pm"
            | "tage"
            | "tagen"
            | "days"
            | "dias"
            | "wochen"
            | "weeks"
            | "semanas"
            | "jahre"
            | "jahren"
            | "years"
            | "anos"
            | "km"
            | "personen"
            | "people"
            | "pessoas"
            | "personas"
            | "leute"
    );
    if other {
        Target::Other
    } else {
        Target::Price
    }
}

/// The bound to set for a number followed by the token at `after`, if any.
fn bound_for<'q>(
    query: &'q mut CatalogQuery,
    tokens: &[Token],
    after: usize,
) -> Option<(&'q mut PriceBound, f64)> {
    match target_at(tokens, after) {
        Target::Price => Some((&mut query.price, 1.0)),
        Target::Measure(unit, factor) => {
            let measure = query.measure.get_or_insert((unit, PriceBound::default()));
            if measure.0 != unit {
                return None;
            }
            Some((&mut measure.1, factor))
        }
        Target::Other => None,
    }
}

/// Reads `question` as a catalog query.
pub fn parse(question: &str) -> CatalogQuery {
    let tokens = tokens(question);
    let mut used = vec![false; tokens.len()];
    let mut query = CatalogQuery::default();
    let mark = |used: &mut Vec<bool>, from: usize, len: usize| {
        for u in used.iter_mut().skip(from).take(len) {
            *u = true;
        }
    };
    // Price bounds first: "mais barato que 8" is a bound, not a sort.
    let mut i = 0;
    while i < tokens.len() {
        if let Some(len) = phrase_at(&tokens, i, BETWEEN) {
            if let Some((low, a)) = amount_at(&tokens, i + len) {
                let j = i + len + a;
                if let Some(and) = phrase_at(&tokens, j, AND) {
                    if let Some((high, b)) = amount_at(&tokens, j + and) {
                        if let Some((bound, factor)) = bound_for(&mut query, &tokens, j + and + b) {
                            bound.min = Some(low.min(high) * factor);
                            bound.max = Some(low.max(high) * factor);
                            let unit = usize::from(
                                tokens
                                    .get(j + and + b)
                                    .and_then(folded)
                                    .is_some_and(|w| Unit::of_word(w).is_some()),
                            );
                            mark(&mut used, i, len + a + and + b + unit);
                            i = j + and + b;
                            continue;
                        }
                    }
                }
            }
        }
        for (phrases, upper, strict) in [
            (BELOW, true, true),
            (AT_MOST, true, false),
            (ABOVE, false, true),
            (AT_LEAST, false, false),
        ] {
            if used[i] {
                break;
            }
            if let Some(len) = phrase_at(&tokens, i, phrases) {
                if let Some((n, a)) = amount_at(&tokens, i + len) {
                    if let Some((bound, factor)) = bound_for(&mut query, &tokens, i + len + a) {
                        if upper {
                            bound.max = Some(n * factor);
                            bound.max_strict = strict;
                        } else {
                            bound.min = Some(n * factor);
                            bound.min_strict = strict;
                        }
                        let unit = usize::from(
                            tokens
                                .get(i + len + a)
                                .and_then(folded)
                                .is_some_and(|w| Unit::of_word(w).is_some()),
                        );
                        mark(&mut used, i, len + a + unit);
                    }
                }
            }
        }
        if !used[i] {
            if let Some((n, a)) = amount_at(&tokens, i) {
                for (phrases, upper) in [(OR_LESS, true), (OR_MORE, false)] {
                    if let Some(len) = phrase_at(&tokens, i + a, phrases) {
                        if upper {
                            query.price.max = Some(n);
                        } else {
                            query.price.min = Some(n);
                        }
                        mark(&mut used, i, a + len);
                    }
                }
            }
        }
        i += 1;
    }
    // Sorts, with the count asked for ("die 3 günstigsten", "top 5 cheapest").
    for i in 0..tokens.len() {
        if used[i] {
            continue;
        }
        for (phrases, order, by) in [
            (CHEAPEST, Order::Cheapest, None),
            (DEAREST, Order::Dearest, None),
            (SHORTEST, Order::Cheapest, Some(Unit::Minutes)),
            (LONGEST, Order::Dearest, Some(Unit::Minutes)),
            (LIGHTEST, Order::Cheapest, Some(Unit::Kilograms)),
            (HEAVIEST, Order::Dearest, Some(Unit::Kilograms)),
        ] {
            if let Some(len) = phrase_at(&tokens, i, phrases) {
                let count = [i.checked_sub(1), i.checked_sub(2), Some(i + len)]
                    .into_iter()
                    .flatten()
                    .find_map(|k| match tokens.get(k) {
                        Some(Token::Number(n)) if !used[k] && *n >= 1.0 && *n <= 20.0 => {
                            used[k] = true;
                            Some(*n as usize)
                        }
                        _ => None,
                    });
                query.sort = Some(Sort { order, by, count });
                mark(&mut used, i, len);
            }
        }
    }
    for i in 0..tokens.len() {
        if used[i] {
            continue;
        }
        if let Some(len) = phrase_at(&tokens, i, IN_STOCK) {
            query.in_stock = true;
            mark(&mut used, i, len);
        } else if let Some(len) = phrase_at(&tokens, i, COMPARE) {
            query.compare = true;
            mark(&mut used, i, len);
        }
    }
    // "von Thomas Mann": the words up to the next operator or the end.
    let by_at = (0..tokens.len()).find_map(|i| {
        let len = phrase_at(&tokens, i, BY).filter(|_| !used[i])?;
        matches!(tokens.get(i + len), Some(Token::Word { .. })).then_some((i, len))
    });
    let by_end = by_at.map_or(tokens.len(), |(i, _)| i);
    if let Some((i, len)) = by_at {
        for k in i + len..tokens.len() {
            if used[k] {
                break;
            }
            if let Token::Word { typed, .. } = &tokens[k] {
                if !is_phrasing(typed) && !OR.contains(&typed.as_str()) {
                    query.by.push(typed.clone());
                }
            }
            used[k] = true;
        }
        mark(&mut used, i, len);
    }
    // The rest: the words that say which products, in groups joined by "oder"/"or".
    query.asks_for_several = tokens
        .iter()
        .filter_map(folded)
        .any(|w| SEVERAL.contains(&w));
    let mut group: Vec<String> = Vec::new();
    let mut all_more = true;
    let mut any_more = false;
    for (k, token) in tokens.iter().enumerate() {
        if used[k] && k < by_end {
            continue;
        }
        if k >= by_end && by_at.is_some() {
            break;
        }
        match token {
            Token::Word { folded, typed } => {
                if MORE.contains(&folded.as_str()) {
                    any_more = true;
                    continue;
                }
                if !MORE_FILLER.contains(&folded.as_str()) {
                    all_more = false;
                }
                if OR.contains(&folded.as_str()) {
                    if !group.is_empty() {
                        query.groups.push(std::mem::take(&mut group));
                    }
                    continue;
                }
                if !is_phrasing(typed) {
                    group.push(typed.clone());
                }
            }
            Token::Number(n) => {
                all_more = false;
                // A number left over is part of a name ("Tidewater 500", "Pebble 16").
                if n.fract() == 0.0 {
                    group.push(format!("{}", *n as i64));
                }
            }
            Token::Currency => {}
        }
    }
    if !group.is_empty() {
        query.groups.push(group);
    }
    query.more = any_more && all_more && !query.has_operator() && query.by.is_empty();
    if query.more {
        query.groups.clear();
    }
    query
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(q: &CatalogQuery) -> Vec<&str> {
        q.words().map(String::as_str).collect()
    }

    #[test]
    fn price_bounds_in_four_languages() {
        for (question, min, max) in [
            ("krimis unter 15,50 €", None, Some(15.5)),
            ("road bikes under £2000", None, Some(2000.0)),
            ("pratos mais baratos que 8 euros", None, Some(8.0)),
            ("algo hasta 10 euros", None, Some(10.0)),
            ("books between 5 and 10 euros", Some(5.0), Some(10.0)),
            ("anything over 1000", Some(1000.0), None),
            ("bikes 500 quid or less", None, Some(500.0)),
        ] {
            let q = parse(question);
            assert_eq!((q.price.min, q.price.max), (min, max), "{question}");
        }
        let under = parse("unter 15 €").price;
        assert!(!under.admits(15.0) && under.admits(14.99));
        let up_to = parse("bis 15 €").price;
        assert!(up_to.admits(15.0) && !up_to.admits(15.01));
        // A time is not a price, and a number in a name stays a word.
        assert!(!parse("habt ihr bis 18 uhr offen").price.is_set());
        assert!(!parse("habt ihr samstags bis 18:30 offen").price.is_set());
        assert!(!parse("tische für über 8 personen?").price.is_set());
        let q = parse("was dauert höchstens 1,5 stunden?");
        assert!(!q.price.is_set());
        let (unit, bound) = q.measure.unwrap();
        assert_eq!((unit, bound.max), (Unit::Minutes, Some(90.0)));
        assert_eq!(
            parse("lightest e-bike?").sort.unwrap().by,
            Some(Unit::Kilograms)
        );
        assert_eq!(
            words(&parse("tidewater 500 hybrid")),
            ["tidewater", "500", "hybrid"]
        );
    }

    #[test]
    fn sorts_stock_comparisons_and_authors() {
        let q = parse("die 3 günstigsten Krimis, die vorrätig sind");
        assert_eq!(
            q.sort,
            Some(Sort {
                order: Order::Cheapest,
                by: None,
                count: Some(3)
            })
        );
        assert!(q.in_stock);
        assert_eq!(words(&q), ["krimis"]);
        let q = parse("what's your most expensive e-bike?");
        assert_eq!(q.sort.map(|s| s.order), Some(Order::Dearest));
        let q = parse("was ist der unterschied zwischen buddenbrooks und dem zauberberg");
        assert!(q.compare);
        assert_eq!(q.groups, [vec!["buddenbrooks"], vec!["zauberberg"]]);
        let q = parse("was habt ihr von thomas mann?");
        assert_eq!(q.by, ["thomas", "mann"]);
        assert!(q.words().next().is_none());
        let q = parse("krimis oder thriller");
        assert_eq!(q.groups.len(), 2);
    }

    #[test]
    fn more_continues_only_when_nothing_else_is_asked() {
        for more in [
            "mehr",
            "noch mehr bitte",
            "more",
            "show me more",
            "mais",
            "und weiter?",
        ] {
            assert!(parse(more).more, "{more}");
        }
        assert!(!parse("more helmets").more);
        assert!(!parse("mehr als 10 euro").more);
    }
}
