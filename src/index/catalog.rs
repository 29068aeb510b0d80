//! A business's catalog in memory: every live product passage with its fields as uploaded, its
//! price and stock read as numbers, and which analyzed word stands in which field of which
//! entry. Catalog questions ("Krimis unter 10 €", "cheapest e-bike", "500 vs 300") are answered
//! from this by the answer step, so a list is complete rather than the top few a ranking gives.
//!
//! Built from the index's stored documents the first time a question needs it after a commit,
//! and cached per searcher generation; words go through the business's own analyzer (fold,
//! stop words, stem), so a question's "Krimis" meets a category "Krimi".

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use tantivy::query::TermQuery;
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{collector::DocSetCollector, Searcher, TantivyDocument, Term};

use super::query::automaton_builder;
use super::schema::Fields;
use super::vectors::{Embedder, Reading};
use super::IndexError;
use crate::documents::{PassageKind, ProductFields};

/// Where in an entry a word stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FieldKind {
    Name,
    /// Author or brand.
    Author,
    Category,
    /// Another column's value (colour, size, allergens, publisher…).
    Attribute,
    Description,
}

impl FieldKind {
    pub const ALL: [FieldKind; 5] = [
        FieldKind::Name,
        FieldKind::Author,
        FieldKind::Category,
        FieldKind::Attribute,
        FieldKind::Description,
    ];
}

/// What the stock column says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stock {
    Count(f64),
    Available,
    SoldOut,
    /// No stock column, or a value that says neither.
    Unknown,
}

impl CatalogEntry {
    /// The entry's measure in `unit` (its base unit), from the first column whose value or
    /// header names such a unit: "45 Min" under "Dauer", "12.4" under "weight_kg".
    pub fn measure(&self, unit: Unit) -> Option<f64> {
        self.measure_column(unit).map(|(_, _, m)| m)
    }

    /// The column holding the measure: (header, value as uploaded, value in the base unit).
    pub fn measure_column(&self, unit: Unit) -> Option<(&str, &str, f64)> {
        let names = |text: &str| {
            text.split(|c: char| !c.is_alphanumeric())
                .filter_map(Unit::of_word)
                .find(|(u, _)| *u == unit)
                .map(|(_, factor)| factor)
        };
        self.fields.attributes.iter().find_map(|(header, value)| {
            let unit_words: String = value.chars().filter(|c| !c.is_ascii_digit()).collect();
            let factor = names(&unit_words).or_else(|| names(header))?;
            Some((
                header.as_str(),
                value.as_str(),
                parse_number(value)? * factor,
            ))
        })
    }
}

impl Stock {
    /// Reads a stock value: a number, or a word saying in stock or sold out (en/de/pt/es).
    pub fn parse(value: Option<&str>) -> Stock {
        let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            return Stock::Unknown;
        };
        if let Some(n) = parse_number(value) {
            return Stock::Count(n);
        }
        let lower = value.to_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
        // Sold-out phrases first: "nicht vorrätig" holds "vorrätig".
        if has(&[
            "sold out",
            "out of stock",
            "unavailable",
            "ausverkauft",
            "nicht",
            "vergriffen",
            "esgotado",
            "indisponível",
            "agotado",
            "no disponible",
            "sem estoque",
            "sin stock",
        ]) || matches!(lower.as_str(), "no" | "nein" | "não" | "nao" | "false")
        {
            Stock::SoldOut
        } else if has(&[
            "in stock",
            "available",
            "vorrätig",
            "lieferbar",
            "verfügbar",
            "auf lager",
            "disponível",
            "disponivel",
            "em estoque",
            "disponible",
            "en stock",
        ]) || matches!(lower.as_str(), "yes" | "ja" | "sim" | "sí" | "si" | "true")
        {
            Stock::Available
        } else {
            Stock::Unknown
        }
    }

    /// Whether a customer can have one now (unknown counts as no: never promise what the
    /// catalog does not say).
    pub fn available(self) -> bool {
        match self {
            Stock::Count(n) => n > 0.0,
            Stock::Available => true,
            Stock::SoldOut | Stock::Unknown => false,
        }
    }
}

/// A number as a price or a count is written: "16,00", "649.00", "1.299,00", "1,299.00",
/// "€ 4,50", "ab 30"; the first number in the value.
pub fn parse_number(value: &str) -> Option<f64> {
    let start = value.find(|c: char| c.is_ascii_digit())?;
    let digits: String = value[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | ',' | '\'' | ' '))
        .filter(|c| *c != ' ' && *c != '\'')
        .collect();
    let digits = digits.trim_end_matches(['.', ',']);
    // The last separator followed by one or two digits is the decimal one; the others group
    // thousands. Three digits after a lone separator group thousands ("1.299" is 1299) unless
    // it is a point after a short number ("2.500" in an English catalog is still 2500).
    let last = digits.rfind(['.', ',']);
    let (whole, fraction) = match last {
        Some(i) if digits.len() - i - 1 <= 2 => (&digits[..i], &digits[i + 1..]),
        _ => (digits, ""),
    };
    let whole: String = whole.chars().filter(char::is_ascii_digit).collect();
    let number = if fraction.is_empty() {
        whole
    } else {
        format!("{whole}.{fraction}")
    };
    number.parse().ok()
}

/// A quantity a column can measure besides the price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    Minutes,
    Kilograms,
    Centimetres,
    Litres,
}

impl Unit {
    /// The unit a word names, and what one of it is in the base unit ("Stunden" is 60
    /// minutes, "g" a thousandth of a kilogram), in en/de/pt/es spellings.
    pub fn of_word(word: &str) -> Option<(Unit, f64)> {
        Some(match word.to_lowercase().as_str() {
            "min" | "mins" | "minute" | "minuten" | "minutes" | "minuto" | "minutos" => {
                (Unit::Minutes, 1.0)
            }
            "h" | "std" | "stunde" | "stunden" | "hour" | "hours" | "hora" | "horas" => {
                (Unit::Minutes, 60.0)
            }
            "kg" | "kilo" | "kilos" | "kilogramm" | "kilogram" | "kilograms" | "quilos" => {
                (Unit::Kilograms, 1.0)
            }
            "g" | "gramm" | "gram" | "grams" | "gramas" | "gramos" => (Unit::Kilograms, 0.001),
            "cm" => (Unit::Centimetres, 1.0),
            "mm" => (Unit::Centimetres, 0.1),
            "m" | "meter" | "metre" | "metres" | "meters" | "metros" => (Unit::Centimetres, 100.0),
            "l" | "liter" | "litre" | "litres" | "liters" | "litro" | "litros" => {
                (Unit::Litres, 1.0)
            }
            "ml" => (Unit::Litres, 0.001),
            _ => return None,
        })
    }
}

/// One product as the catalog holds it.
#[derive(Debug, Clone)]
pub struct CatalogEntry {
    pub document: String,
    pub ordinal: u32,
    pub title: String,
    pub fields: ProductFields,
    pub price: Option<f64>,
    pub stock: Stock,
}

/// A word of the catalog: which entry holds it, in which fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Posting {
    pub entry: u32,
    fields: u8,
}

impl Posting {
    fn new(entry: u32, field: FieldKind) -> Posting {
        Posting {
            entry,
            fields: 1 << field as u8,
        }
    }

    pub fn has(&self, field: FieldKind) -> bool {
        self.fields & (1 << field as u8) != 0
    }

    /// The fields holding the word.
    pub fn fields(&self) -> impl Iterator<Item = FieldKind> + '_ {
        FieldKind::ALL.into_iter().filter(|f| self.has(*f))
    }
}

/// A question word looked up in the catalog.
#[derive(Debug, Clone, Default)]
pub struct WordLookup {
    /// Entries holding the word (or, when it is not in the catalog, its nearest spellings),
    /// each entry once with every field holding it.
    pub postings: Vec<Posting>,
    /// Edits between the word as typed and the catalog's spelling (0: found as is).
    pub edits: u8,
}

/// A value of a category or another short column ("Krimi", "Helmet", "ovo" of "peixe, ovo,
/// glúten"), the entries that have it, and its vector: a question's word the catalog does not
/// spell ("Werkzeug", "egg", "drinks") can still mean it.
#[derive(Debug, Clone)]
pub struct Facet {
    pub value: String,
    pub field: FieldKind,
    pub entries: Vec<u32>,
    vector: Vec<f32>,
}

/// At most this many facet values are embedded: a catalog with more distinct short values
/// is matched on its words alone beyond them.
const MOST_FACETS: usize = 2000;

pub struct Catalog {
    entries: Vec<CatalogEntry>,
    postings: HashMap<String, Vec<Posting>>,
    /// Every word as written in the catalog (folded, not stemmed) and its stem.
    spellings: Vec<(String, String)>,
    analyzer: TextAnalyzer,
    surface_analyzer: TextAnalyzer,
    embedder: Option<Arc<dyn Embedder>>,
    /// Embedded the first time a question needs them.
    facets: OnceLock<Result<Vec<Facet>, String>>,
    /// The words of the other columns' headers, folded ("dauer", "verlag", "colour").
    headers: Vec<String>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("entries", &self.entries.len())
            .field("words", &self.postings.len())
            .finish()
    }
}

impl Catalog {
    /// Every live product passage of `searcher`'s index.
    pub(super) fn read(
        searcher: &Searcher,
        fields: &Fields,
        analyzer: TextAnalyzer,
        surface_analyzer: TextAnalyzer,
        embedder: Option<Arc<dyn Embedder>>,
    ) -> Result<Catalog, IndexError> {
        let query = TermQuery::new(
            Term::from_field_text(fields.kind, PassageKind::Product.as_str()),
            IndexRecordOption::Basic,
        );
        let mut addresses: Vec<_> = searcher
            .search(&query, &DocSetCollector)?
            .into_iter()
            .collect();
        addresses.sort();
        let mut entries = Vec::with_capacity(addresses.len());
        for address in addresses {
            let doc: TantivyDocument = searcher.doc(address)?;
            let text = |field| {
                doc.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            let Some(product) = serde_json::from_str::<ProductFields>(&text(fields.product)).ok()
            else {
                continue;
            };
            entries.push(CatalogEntry {
                document: text(fields.document),
                ordinal: doc
                    .get_first(fields.ordinal)
                    .and_then(|v| v.as_u64())
                    .unwrap_or_default() as u32,
                title: text(fields.title),
                price: product.price.as_deref().and_then(parse_number),
                stock: Stock::parse(product.stock.as_deref()),
                fields: product,
            });
        }
        // Upload order: by document, then by position in it.
        entries.sort_by(|a, b| (&a.document, a.ordinal).cmp(&(&b.document, b.ordinal)));
        let mut catalog = Catalog::new(entries, analyzer, surface_analyzer);
        catalog.embedder = embedder;
        Ok(catalog)
    }

    pub(super) fn new(
        entries: Vec<CatalogEntry>,
        analyzer: TextAnalyzer,
        surface_analyzer: TextAnalyzer,
    ) -> Catalog {
        let mut catalog = Catalog {
            entries: Vec::new(),
            postings: HashMap::new(),
            spellings: Vec::new(),
            analyzer,
            surface_analyzer,
            embedder: None,
            facets: OnceLock::new(),
            headers: Vec::new(),
        };
        let mut spellings: HashMap<String, String> = HashMap::new();
        for (i, entry) in entries.iter().enumerate() {
            let f = &entry.fields;
            let mut texts: Vec<(FieldKind, &str)> = vec![(FieldKind::Name, entry.title.as_str())];
            texts.extend(f.author.as_deref().map(|a| (FieldKind::Author, a)));
            texts.extend(f.category.as_deref().map(|c| (FieldKind::Category, c)));
            texts.extend(
                f.attributes
                    .iter()
                    .map(|(_, v)| (FieldKind::Attribute, v.as_str())),
            );
            texts.extend(
                f.description
                    .as_deref()
                    .map(|d| (FieldKind::Description, d)),
            );
            let mut found: HashMap<String, Posting> = HashMap::new();
            for (field, text) in texts {
                for (surface, stem) in catalog.words(text) {
                    spellings.entry(surface).or_insert_with(|| stem.clone());
                    let posting = Posting::new(i as u32, field);
                    found
                        .entry(stem)
                        .and_modify(|p| p.fields |= posting.fields)
                        .or_insert(posting);
                }
            }
            for (stem, posting) in found {
                catalog.postings.entry(stem).or_default().push(posting);
            }
        }
        let mut headers: Vec<String> = entries
            .iter()
            .flat_map(|e| &e.fields.attributes)
            .flat_map(|(header, _)| catalog.words(header))
            .map(|(surface, _)| surface)
            .filter(|w| w.chars().count() >= 3)
            .collect();
        headers.sort();
        headers.dedup();
        catalog.headers = headers;
        for postings in catalog.postings.values_mut() {
            postings.sort_by_key(|p| p.entry);
        }
        catalog.spellings = spellings.into_iter().collect();
        catalog.spellings.sort();
        catalog.entries = entries;
        catalog
    }

    /// The facet values nearest in meaning to `word` (read as a query), nearest first, with
    /// their cosine similarity; empty without an encoder.
    pub fn nearest_facets(&self, word: &str) -> Result<Vec<(&Facet, f32)>, IndexError> {
        let Some(embedder) = &self.embedder else {
            return Ok(Vec::new());
        };
        let facets = self
            .facets
            .get_or_init(|| self.embed_facets(embedder.as_ref()))
            .as_ref()
            .map_err(|e| IndexError::Embedding(e.clone()))?;
        if facets.is_empty() {
            return Ok(Vec::new());
        }
        let query = embedder
            .embed(Reading::Query, &[word])
            .map_err(IndexError::Embedding)?
            .pop()
            .unwrap_or_default();
        let mut near: Vec<(&Facet, f32)> = facets
            .iter()
            .map(|f| (f, f.vector.iter().zip(&query).map(|(a, b)| a * b).sum()))
            .collect();
        near.sort_by(|a, b| b.1.total_cmp(&a.1));
        Ok(near)
    }

    /// Categories and the short values of other columns, split at commas ("peixe, ovo,
    /// glúten"); values with digits (sizes, durations, codes) are left to the words.
    fn embed_facets(&self, embedder: &dyn Embedder) -> Result<Vec<Facet>, String> {
        let mut values: BTreeMap<String, (String, FieldKind, Vec<u32>)> = BTreeMap::new();
        for (i, e) in self.entries.iter().enumerate() {
            let mut add = |value: &str, field: FieldKind| {
                let value = value.trim();
                let short = value.split_whitespace().count() <= 3 && value.chars().count() <= 40;
                if value.is_empty() || !short || value.chars().any(|c| c.is_ascii_digit()) {
                    return;
                }
                let slot = values
                    .entry(value.to_lowercase())
                    .or_insert_with(|| (value.to_string(), field, Vec::new()));
                if slot.2.last() != Some(&(i as u32)) {
                    slot.2.push(i as u32);
                }
            };
            if let Some(category) = e.fields.category.as_deref() {
                add(category, FieldKind::Category);
            }
            for (_, value) in &e.fields.attributes {
                for piece in value.split([',', ';', '/']) {
                    add(piece, FieldKind::Attribute);
                }
            }
        }
        let values: Vec<(String, FieldKind, Vec<u32>)> =
            values.into_values().take(MOST_FACETS).collect();
        let texts: Vec<&str> = values.iter().map(|(v, _, _)| v.as_str()).collect();
        let vectors = embedder.embed(Reading::Passage, &texts)?;
        Ok(values
            .into_iter()
            .zip(vectors)
            .map(|((value, field, entries), vector)| Facet {
                value,
                field,
                entries,
                vector,
            })
            .collect())
    }

    pub fn entries(&self) -> &[CatalogEntry] {
        &self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `word` (folded, as typed) names a column ("Dauer" for "dauert", "colour"),
    /// within one edit for words of four letters or more.
    pub fn names_a_column(&self, word: &str) -> bool {
        let allowed = if word.chars().count() >= 4 { 1 } else { 0 };
        if allowed == 0 {
            return self.headers.iter().any(|h| h == word);
        }
        let dfa = automaton_builder(allowed).build_dfa(word);
        self.headers
            .iter()
            .any(|h| matches!(dfa.eval(h), levenshtein_automata::Distance::Exact(_)))
    }

    /// Whether the catalog spells `text` as one word ("dlock" of "D-Lock").
    pub fn has_word(&self, text: &str) -> bool {
        self.words(text)
            .first()
            .is_some_and(|(_, stem)| self.postings.contains_key(stem))
    }

    /// The words of `text` as the catalog keys them: (folded spelling, stem), stop words and
    /// lone letters dropped. A hyphenated word also stands joined ("E-Bike" is "bike" and
    /// "ebike").
    pub fn words(&self, text: &str) -> Vec<(String, String)> {
        let mut surface = self.surface_analyzer.clone();
        let mut full = self.analyzer.clone();
        let mut stem_of = |word: &str| {
            let mut stream = full.token_stream(word);
            stream.next().map(|t| t.text.clone())
        };
        let mut out = Vec::new();
        {
            let mut stream = surface.token_stream(text);
            while let Some(token) = stream.next() {
                // A lone letter ("E" of "E-Bike", "d" of "d lock") stands only joined.
                let letter =
                    token.text.chars().count() == 1 && token.text.chars().all(char::is_alphabetic);
                if letter {
                    continue;
                }
                if let Some(stem) = stem_of(&token.text) {
                    out.push((token.text.clone(), stem));
                }
            }
        }
        for joined in text
            .split(|c: char| !(c.is_alphanumeric() || c == '-'))
            .filter(|w| w.contains('-'))
            .map(|w| w.replace('-', ""))
            .filter(|w| w.chars().count() >= 3)
        {
            let mut stream = surface.token_stream(&joined);
            if let Some(token) = stream.next() {
                if let Some(stem) = stem_of(&token.text) {
                    out.push((token.text.clone(), stem));
                }
            }
        }
        out
    }

    /// Entries holding a compound whose last part is `stem`: "Haarschnitte" is what
    /// "Damenhaarschnitt" and "Herrenhaarschnitt" are (the head of a German compound comes
    /// last).
    fn compounds_ending(&self, stem: &str) -> Vec<Posting> {
        if stem.chars().count() < 5 {
            return Vec::new();
        }
        self.postings_of(
            self.postings
                .keys()
                .filter(|key| key.len() > stem.len() && key.ends_with(stem))
                .map(String::as_str),
        )
    }

    /// The postings of several stems merged: each entry once, with every field holding any.
    fn postings_of<'a>(&self, stems: impl IntoIterator<Item = &'a str>) -> Vec<Posting> {
        let mut found: HashMap<u32, Posting> = HashMap::new();
        for stem in stems {
            for p in self.postings.get(stem).into_iter().flatten() {
                found
                    .entry(p.entry)
                    .and_modify(|f| f.fields |= p.fields)
                    .or_insert(*p);
            }
        }
        let mut postings: Vec<Posting> = found.into_values().collect();
        postings.sort_by_key(|p| p.entry);
        postings
    }

    /// The entries holding a word (folded spelling and stem as [`words`](Self::words) gives
    /// them): by its stem, else by the nearest spellings within one edit (two for words of
    /// eight letters or more; words of three letters or fewer must be exact), else as the last
    /// part of compounds.
    pub fn lookup(&self, surface: &str, stem: &str) -> WordLookup {
        if let Some(postings) = self.postings.get(stem) {
            return WordLookup {
                postings: postings.clone(),
                edits: 0,
            };
        }
        let allowed: u8 = match surface.chars().count() {
            0..=3 => {
                return WordLookup {
                    postings: self.compounds_ending(stem),
                    edits: 0,
                }
            }
            4..=7 => 1,
            _ => 2,
        };
        let dfa = automaton_builder(allowed).build_dfa(surface);
        let mut nearest: Option<u8> = None;
        let mut stems: Vec<&str> = Vec::new();
        for (spelling, spelling_stem) in &self.spellings {
            if let levenshtein_automata::Distance::Exact(d) = dfa.eval(spelling) {
                match nearest {
                    Some(n) if d > n => continue,
                    Some(n) if d == n => stems.push(spelling_stem),
                    _ => {
                        nearest = Some(d);
                        stems = vec![spelling_stem];
                    }
                }
            }
        }
        let postings = self.postings_of(stems);
        if postings.is_empty() {
            return WordLookup {
                postings: self.compounds_ending(stem),
                edits: 0,
            };
        }
        WordLookup {
            postings,
            edits: nearest.unwrap_or(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_catalogs_write_them() {
        for (text, number) in [
            ("16,00", 16.0),
            ("649.00", 649.0),
            ("1.299,00", 1299.0),
            ("1,299.00", 1299.0),
            ("€ 4,50", 4.5),
            ("2199", 2199.0),
            ("ab 30 EUR", 30.0),
            ("12.4", 12.4),
            ("2.500", 2500.0),
        ] {
            assert_eq!(parse_number(text), Some(number), "{text}");
        }
        assert_eq!(parse_number("auf Anfrage"), None);
    }

    #[test]
    fn stock_values() {
        assert_eq!(Stock::parse(Some("3")), Stock::Count(3.0));
        assert!(!Stock::parse(Some("0")).available());
        assert_eq!(Stock::parse(Some("nicht vorrätig")), Stock::SoldOut);
        assert_eq!(Stock::parse(Some("Sold out")), Stock::SoldOut);
        assert_eq!(Stock::parse(Some("em estoque")), Stock::Available);
        assert_eq!(Stock::parse(Some("ask us")), Stock::Unknown);
        assert!(!Stock::parse(None).available());
    }
}
