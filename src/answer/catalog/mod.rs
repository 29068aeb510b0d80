//! Catalog questions answered from the product fields: lists ("was habt ihr von Thomas
//! Mann?"), filters ("road bikes under £1000 in stock"), sorts ("die günstigsten Krimis"),
//! comparisons ("Tidewater 500 vs 300") and "more" continuing the last list.
//!
//! Stages: the question becomes a [`query::CatalogQuery`] (the grammar of bounds, stock, sorts
//! and comparisons); [`select`] finds the entries its words mean in the business's catalog;
//! [`plan`] filters, sorts and pages them into a [`Listing`] — or declines, leaving a question
//! about one product, or one the documents' prose answers, to the rest of the pipeline;
//! [`render`] writes the reply, every figure a field as uploaded.

pub mod query;
mod select;
mod texts;

pub use texts::own_words;

use serde::{Deserialize, Serialize};

use super::language::catalog_labels;
use super::{Role, Turn};
use crate::index::{Catalog, CatalogEntry, Stock, Unit};
use query::{CatalogQuery, Order};

/// Most products one reply lists; "more" shows the next ones.
pub const PAGE: usize = 5;
/// The share of a product's name (rarity-weighted) a question must spell to be about that
/// product rather than the others its words also fit ("tidewater 500" is the Tidewater 500
/// Hybrid, not the E-500 too).
const CLEARLY_NAMED: f32 = 0.6;
/// How near another product's name must be spelt by the same words for a product not to be
/// clearly named: within this share of its name ("kraken lock" spells the Folding Lock 0.66,
/// the Cable Lock a little less). Chosen by hand and checked on the dev cases of `clerk eval
/// orders`, not searched for.
const RIVAL_MARGIN: f32 = 0.1;
/// Most products a comparison sets side by side.
const MOST_COMPARED: usize = 3;
/// Most matches an answer reports by name (the count stays exact beyond it).
const MOST_REPORTED: usize = 100;

/// What the catalog said to a question.
#[derive(Debug, Clone, PartialEq)]
pub enum Listing {
    /// Entries (indexes into the catalog) in the order shown; those in `shown_before` were
    /// listed in an earlier reply ("more").
    List {
        entries: Vec<u32>,
        shown_before: Vec<u32>,
        sort: Option<Order>,
        described: Vec<(u32, Vec<String>)>,
        /// A measure the question bounds or sorts on, shown with each item.
        measure: Option<Unit>,
    },
    Compare(Vec<u32>),
    /// Nothing matches; `nearest` is what matches without the price bound or stock filter.
    Nothing {
        why: Nothing,
        nearest: Option<u32>,
    },
    /// "More" when every match was shown already.
    AllShown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nothing {
    NoMatch,
    UnknownAuthor,
    NotInStock,
}

/// A product an answer lists, as the API reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ListedProduct {
    /// The product's name.
    pub title: String,
    /// The catalog document it stands in.
    pub document: String,
    /// Its passage's ordinal within that document.
    pub passage: u32,
}

/// The products a catalog answer found: all of them (up to 100 by name), and which the reply
/// shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CatalogResult {
    /// How many products match.
    pub matched: usize,
    /// Every product that matched, up to 100.
    pub products: Vec<ListedProduct>,
    /// The ones this reply shows (a "more" shows the next ones).
    pub shown: Vec<ListedProduct>,
}

/// What the retrieval found for the same question: a catalog question with words the
/// catalog does not know is only taken when the ranking agrees it is about products.
#[derive(Debug, Clone, Default)]
pub struct RetrievalView {
    /// A product is among the strongest few passages.
    pub product_near_top: bool,
    /// The products the ranking found, best first, as (document, passage): a list shows
    /// them first, so a question about one product among many sees it at the top.
    pub ranked: Vec<(String, u32)>,
}

/// Which products a message means, for an order: the one it names clearly, or the ones that
/// fit its words to choose from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Meant {
    One(u32),
    /// In the order named, or the catalog's.
    Several(Vec<u32>),
    Nothing,
}

/// The products `words` (a message without its ordering grammar: "den Zauberberg", "ein
/// Fahrradschloss", "the cheapest lock") mean: a product clearly named by its name; else
/// those named, or those the words describe (a kind, a brand) when every word is understood,
/// narrowed by the question's bounds, stock and sort ("the cheapest" is the one).
pub fn meant(words: &str, catalog: &Catalog) -> Meant {
    if catalog.is_empty() {
        return Meant::Nothing;
    }
    let query = query::parse(words);
    let (named, rivals) = select::named_with_rivals(catalog, &query);
    let best = named.iter().map(|(_, s)| *s).fold(0.0f32, f32::max);
    // Clearly named: spelt well, better than the others named, and by words that name no
    // other product nearly as well ("a kraken lock" is any of four Kraken locks).
    let rivalled = |share: f32, rivals: &[(u32, f32)]| -> Vec<u32> {
        rivals
            .iter()
            .filter(|(_, r)| *r >= share - RIVAL_MARGIN)
            .map(|(e, _)| *e)
            .collect()
    };
    let mut clearly: Vec<u32> = Vec::new();
    for ((entry, share), rivals) in named.iter().zip(&rivals) {
        if *share >= CLEARLY_NAMED && *share >= best * 0.999 {
            let near = rivalled(*share, rivals);
            if !near.is_empty() {
                return Meant::Several([*entry].into_iter().chain(near).collect());
            }
            clearly.push(*entry);
        }
    }
    if let [one] = clearly.as_slice() {
        return Meant::One(*one);
    }
    let selection = select::select(catalog, &query);
    let candidates = if named.len() >= 2 {
        named.iter().map(|(e, _)| *e).collect()
    } else {
        match &selection.entries {
            // The shop's word for all its goods ("ein Buch") picks none of them.
            Some(entries)
                if selection.unmatched.is_empty()
                    && selection.generic.is_empty()
                    && !selection.by_unknown =>
            {
                entries.clone()
            }
            // One name only partly spelt ("ein Buch" of "Buch der Lieder") names nothing.
            _ => Vec::new(),
        }
    };
    let narrowed = if query.sort.is_some() || query.bounded() || query.in_stock {
        match filter_and_sort(catalog, &query, candidates, &selection) {
            Listing::List { entries, .. } => entries,
            _ => Vec::new(),
        }
    } else {
        candidates
    };
    match narrowed.as_slice() {
        [] => Meant::Nothing,
        // One product found by a word of its name alone, its name not clearly spelt ("ein
        // Buch" and "Buch der Lieder"), is no product meant; one of a kind or brand is.
        [_] if !selection.faceted && named.len() < 2 && !query.has_operator() => Meant::Nothing,
        [one] => Meant::One(*one),
        _ => Meant::Several(narrowed),
    }
}

/// The products a reply of ours names by their names (what "zwei davon" or "it" points
/// back at): one, several, or none. Its prices and stock words are no bounds or filters.
pub fn named_in(reply: &str, catalog: &Catalog) -> Meant {
    // Every word as one group: a reply's "(von Franz Kafka)" or "oder" are no grammar.
    let words = reply
        .split(|c: char| !(c.is_alphanumeric() || c == '-'))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let query = CatalogQuery {
        groups: vec![words],
        ..CatalogQuery::default()
    };
    // Our replies quote titles as uploaded: a product counts only where its whole title
    // stands in the reply ("Kafka am Strand" is not named by "von Franz Kafka").
    let named: Vec<u32> = select::named(catalog, &query)
        .into_iter()
        .map(|(e, _)| e)
        .filter(|e| reply.contains(catalog.entries()[*e as usize].title.as_str()))
        .collect();
    match named.as_slice() {
        [] => Meant::Nothing,
        [one] => Meant::One(*one),
        _ => Meant::Several(named),
    }
}

/// Plans the answer to `question` from the catalog, or `None` when it is no catalog
/// question (or one about a single product, which the product path answers). `history` is
/// the conversation before it, most recent last.
pub fn plan(
    question: &str,
    history: &[Turn],
    catalog: &Catalog,
    retrieval: &RetrievalView,
) -> Option<Listing> {
    if catalog.is_empty() {
        return None;
    }
    let query = query::parse(question);
    if query.more {
        return continue_listing(history, catalog);
    }
    // Products named side by side ("Bacalhau ou dourada, qual é mais barato?", "Pebble 16 or
    // Pebble 20?") are compared, as when the question says so.
    let named = select::named(catalog, &query);
    let side_by_side = query.groups.len() >= 2 && query.sort.is_none_or(|s| s.count.is_none());
    if (query.compare || side_by_side) && named.len() >= 2 {
        return Some(Listing::Compare(
            named.iter().map(|(e, _)| *e).take(MOST_COMPARED).collect(),
        ));
    }
    let selection = select::select(catalog, &query);
    tracing::debug!(?query, ?selection, ?retrieval, "catalog question");
    // Every word of the question understood: it is in the catalog, or it is the shop's word
    // for its goods. A word the catalog knows nothing of ("handys", "cheque", "vorher") means
    // the question may be about something else, and the ranking must agree it is a product.
    // A word that only resembles the catalog's values as a whole ("cadeira" at a restaurant,
    // "books" at a German bookshop) counts as understood only where the ranking, too, finds
    // products.
    let understood = selection.unmatched.is_empty()
        && (selection.generic.len() == selection.columns.len() || retrieval.product_near_top);
    // A name after "von"/"by" that no author has ("von Stephen King") in a question with
    // nothing else the catalog does not know; "pay by cheque" or "Versand von Büchern nach
    // Österreich" are no questions about an author.
    if selection.by_unknown && understood && query.by.len() <= 3 {
        // "Habt ihr was von Stephen King?"
        return Some(Listing::Nothing {
            why: Nothing::UnknownAuthor,
            nearest: None,
        });
    }
    let operator = query.has_operator();
    let grammar_holds = operator && (understood || retrieval.product_near_top);
    let entries = match &selection.entries {
        Some(entries) if !selection.by_unknown => entries.clone(),
        Some(_) => return None,
        // "Die günstigsten Bücher", "anything under £20?": the whole catalog, sorted or
        // bounded (stock alone is no list: "is it in stock?" is about something named).
        None if grammar_holds && understood && (query.sort.is_some() || query.bounded()) => {
            (0..catalog.entries().len() as u32).collect()
        }
        None if !(query.sort.is_some() || query.bounded()) => return None,
        // "E-Scooter unter 500": something the catalog does not have, within a bound.
        None if grammar_holds => {
            return Some(Listing::Nothing {
                why: Nothing::NoMatch,
                nearest: None,
            })
        }
        None => return None,
    };
    // One product named ("was kostet der Zauberberg", "tidewater 500 in stock?") and nothing
    // to sort or bound: the product path says all about it.
    let one_named = match named.as_slice() {
        [(entry, share)] => {
            entries.contains(entry) && (entries.len() == 1 || *share >= CLEARLY_NAMED)
        }
        _ => false,
    };
    if one_named && query.sort.is_none() && !query.bounded() {
        return None;
    }
    // Without a catalog operator, the words alone make a list only when each is understood
    // and some describe what the products are (their category, brand, a column, a name),
    // not words merely mentioned in descriptions.
    // (One entry so found is the product path's: it answers about one product best; so is a
    // question naming one by its name, or a series by the words of its names.)
    // Asking for several ("welche Krimis", "any helmets?"), for an author's or brand's, or
    // naming alternatives: a question
    // naming a kind without either ("habt ihr den neuen Krimi von …") is more often about one
    // product, which the product path answers (measured: without this, the answer eval's
    // single-product questions lost facts to lists).
    let listed_by_words = selection.faceted
        && understood
        && entries.len() >= 2
        && (query.asks_for_several || query.groups.len() >= 2 || !query.by.is_empty());
    if entries.is_empty() || !(grammar_holds || listed_by_words) {
        return None;
    }
    let mut listing = filter_and_sort(catalog, &query, entries, &selection);
    // Products the question names come first ("Harry Potter und der Feuerkelch" among the
    // Harry Potter books), then those the ranking found, best first, the rest in upload
    // order.
    if let Listing::List {
        entries,
        sort: None,
        ..
    } = &mut listing
    {
        if query.sort.is_none() {
            let rank = |e: &u32| {
                let entry = &catalog.entries()[*e as usize];
                let named_at = named.iter().position(|(n, _)| n == e);
                let ranked_at = retrieval
                    .ranked
                    .iter()
                    .position(|(d, o)| *d == entry.document && *o == entry.ordinal);
                (
                    named_at.unwrap_or(usize::MAX),
                    ranked_at.unwrap_or(usize::MAX),
                )
            };
            entries.sort_by_key(rank);
        }
    }
    Some(listing)
}

fn filter_and_sort(
    catalog: &Catalog,
    query: &CatalogQuery,
    entries: Vec<u32>,
    selection: &select::Selection,
) -> Listing {
    let entry = |i: u32| &catalog.entries()[i as usize];
    let mut kept: Vec<u32> = entries
        .iter()
        .copied()
        .filter(|&i| !query.price.is_set() || entry(i).price.is_some_and(|p| query.price.admits(p)))
        .filter(|&i| match query.measure {
            Some((unit, bound)) => entry(i).measure(unit).is_some_and(|m| bound.admits(m)),
            None => true,
        })
        .collect();
    let before_stock = kept.clone();
    if query.in_stock {
        kept.retain(|&i| entry(i).stock.available());
    }
    if kept.is_empty() {
        let why = if query.in_stock && !before_stock.is_empty() {
            Nothing::NotInStock
        } else {
            Nothing::NoMatch
        };
        // Nothing under the bound: the cheapest of what was asked about is the nearest.
        let nearest = entries
            .iter()
            .copied()
            .filter(|&i| entry(i).price.is_some() && query.price.is_set())
            .filter(|&i| !query.in_stock || entry(i).stock.available())
            .min_by(|&a, &b| {
                let distance = |i: u32| {
                    let p = entry(i).price.unwrap_or(f64::MAX);
                    match (query.price.min, query.price.max) {
                        (_, Some(max)) if p > max => p - max,
                        (Some(min), _) if p < min => min - p,
                        _ => 0.0,
                    }
                };
                distance(a).total_cmp(&distance(b))
            });
        return Listing::Nothing { why, nearest };
    }
    let mut sort = None;
    if let Some(s) = query.sort {
        // Sorted on the price, or on the measure asked for ("die kürzeste Behandlung").
        let key = |i: u32| match s.by {
            Some(unit) => entry(i).measure(unit),
            None => entry(i).price,
        };
        kept.retain(|&i| key(i).is_some());
        let value = |i: u32| key(i).unwrap_or(0.0);
        kept.sort_by(|&a, &b| match s.order {
            Order::Cheapest => value(a).total_cmp(&value(b)),
            Order::Dearest => value(b).total_cmp(&value(a)),
        });
        let take = match s.count {
            Some(n) => n,
            // The one asked for, and any that cost the same.
            None => kept
                .iter()
                .take_while(|&&i| kept.first().is_some_and(|&f| value(i) == value(f)))
                .count(),
        };
        kept.truncate(take.max(1));
        sort = (s.count.is_none() && s.by.is_none()).then_some(s.order);
    }
    let described = kept
        .iter()
        .filter_map(|i| selection.described.get(i).map(|w| (*i, w.clone())))
        .collect();
    Listing::List {
        entries: kept,
        shown_before: Vec::new(),
        sort,
        described,
        measure: query
            .sort
            .and_then(|s| s.by)
            .or(query.measure.map(|(unit, _)| unit)),
    }
}

/// "More": the last list question before it, without the products the replies since have
/// listed (found by name in them).
fn continue_listing(history: &[Turn], catalog: &Catalog) -> Option<Listing> {
    for k in (0..history.len()).rev() {
        let turn = &history[k];
        if turn.role != Role::Customer || query::parse(&turn.text).more {
            continue;
        }
        let everything = RetrievalView {
            product_near_top: true,
            ranked: Vec::new(),
        };
        let Listing::List {
            entries,
            sort,
            described,
            measure,
            ..
        } = plan(&turn.text, &history[..k], catalog, &everything)?
        else {
            return None;
        };
        let replies: Vec<&str> = history[k + 1..]
            .iter()
            .filter(|t| t.role == Role::Assistant)
            .map(|t| t.text.as_str())
            .collect();
        let shown_before: Vec<u32> = entries
            .iter()
            .copied()
            .filter(|&e| {
                let entry = &catalog.entries()[e as usize];
                let name = entry.fields.name.as_deref().unwrap_or(&entry.title);
                replies.iter().any(|r| r.contains(&format!("• {name}")))
            })
            .collect();
        if shown_before.len() >= entries.len() {
            return Some(Listing::AllShown);
        }
        return Some(Listing::List {
            entries,
            shown_before,
            sort,
            described,
            measure,
        });
    }
    None
}

impl Listing {
    /// The entries the reply shows.
    pub fn shown(&self) -> Vec<u32> {
        match self {
            Listing::List {
                entries,
                shown_before,
                ..
            } => entries
                .iter()
                .filter(|e| !shown_before.contains(e))
                .take(PAGE)
                .copied()
                .collect(),
            Listing::Compare(entries) => entries.clone(),
            Listing::Nothing { nearest, .. } => nearest.iter().copied().collect(),
            Listing::AllShown => Vec::new(),
        }
    }

    /// What the answer reports: every match (the nearest alternative is no match).
    pub fn result(&self, catalog: &Catalog) -> CatalogResult {
        let product = |&i: &u32| {
            let e = &catalog.entries()[i as usize];
            ListedProduct {
                title: e.title.clone(),
                document: e.document.clone(),
                passage: e.ordinal,
            }
        };
        let all: Vec<u32> = match self {
            Listing::List { entries, .. } | Listing::Compare(entries) => entries.clone(),
            Listing::Nothing { .. } | Listing::AllShown => Vec::new(),
        };
        let shown = match self {
            Listing::Nothing { .. } => Vec::new(),
            _ => self.shown(),
        };
        CatalogResult {
            matched: all.len(),
            products: all.iter().take(MOST_REPORTED).map(product).collect(),
            shown: shown.iter().map(product).collect(),
        }
    }
}

/// The reply's text, in `language`.
pub fn render(listing: &Listing, catalog: &Catalog, language: &str) -> String {
    let t = texts::texts(language);
    let entry = |i: u32| &catalog.entries()[i as usize];
    let mut lines: Vec<String> = Vec::new();
    match listing {
        Listing::List {
            entries,
            shown_before,
            sort,
            described,
            measure,
        } => {
            lines.push(match sort {
                Some(Order::Cheapest) => t.cheapest.to_string(),
                Some(Order::Dearest) => t.dearest.to_string(),
                None => t.found.to_string(),
            });
            let shown = listing.shown();
            for &i in &shown {
                let quoted = described
                    .iter()
                    .find(|(e, _)| *e == i)
                    .map(|(_, w)| w.as_slice())
                    .unwrap_or_default();
                lines.push(item_line(catalog, entry(i), language, quoted, *measure));
            }
            if entries.len() > shown_before.len() + shown.len() {
                lines.push(t.more.to_string());
            }
        }
        Listing::Compare(entries) => {
            lines.push(t.compared.to_string());
            for &i in entries {
                lines.push(String::new());
                lines.extend(compare_lines(entry(i), language));
            }
        }
        Listing::Nothing { why, nearest } => {
            lines.push(
                match why {
                    Nothing::NoMatch => t.nothing,
                    Nothing::UnknownAuthor => t.nothing_by,
                    Nothing::NotInStock => t.none_in_stock,
                }
                .to_string(),
            );
            if let Some(i) = nearest {
                lines.push(t.nearest.to_string());
                lines.push(item_line(catalog, entry(*i), language, &[], None));
            }
        }
        Listing::AllShown => lines.push(t.all_shown.to_string()),
    }
    lines.join("\n")
}

fn name_with_author(e: &CatalogEntry, language: &str) -> String {
    let name = e.fields.name.as_deref().unwrap_or(&e.title);
    match e.fields.author.as_deref().filter(|a| !a.is_empty()) {
        // A brand already in the name ("Tidewater 500 Hybrid") is not repeated.
        Some(author) if !name.contains(author) => {
            format!("{name} ({} {author})", catalog_labels(language).by)
        }
        _ => name.to_string(),
    }
}

fn price_text(e: &CatalogEntry) -> Option<String> {
    let price = e.fields.price.as_deref()?;
    Some(match e.fields.currency.as_deref() {
        Some(currency) if !price.contains(currency) => format!("{price} {currency}"),
        _ => price.to_string(),
    })
}

fn stock_text(e: &CatalogEntry, language: &str) -> Option<String> {
    let labels = catalog_labels(language);
    let raw = e.fields.stock.as_deref()?.trim();
    Some(match e.stock {
        Stock::Count(n) if n > 0.0 => format!("{}: {raw}", labels.in_stock),
        Stock::Count(_) | Stock::SoldOut => labels.out_of_stock.to_string(),
        Stock::Available => format!("{}: {raw}", labels.availability),
        Stock::Unknown => format!("{}: {raw}", labels.availability),
    })
}

/// "• Name (von Autor) — Preis: 16,00 EUR · Vorrätig: 3", and the description's sentences
/// holding a word the customer asked for.
fn item_line(
    catalog: &Catalog,
    e: &CatalogEntry,
    language: &str,
    quoted: &[String],
    measure: Option<Unit>,
) -> String {
    let labels = catalog_labels(language);
    let mut parts = Vec::new();
    if let Some(price) = price_text(e) {
        parts.push(format!("{}: {price}", labels.price));
    }
    if let Some((header, value, _)) = measure.and_then(|u| e.measure_column(u)) {
        parts.push(format!("{}: {value}", header.replace('_', " ")));
    }
    parts.extend(stock_text(e, language));
    let mut line = format!("• {}", name_with_author(e, language));
    if !parts.is_empty() {
        line.push_str(" — ");
        line.push_str(&parts.join(" · "));
    }
    if let Some(description) = e
        .fields
        .description
        .as_deref()
        .filter(|_| !quoted.is_empty())
    {
        // Matched as the catalog matches words: by stem ("glutenfreies" finds "glutenfrei").
        let stems: Vec<String> = quoted
            .iter()
            .flat_map(|w| catalog.words(w))
            .map(|(_, stem)| stem)
            .collect();
        let sentences: Vec<&str> = crate::index::sentences(description)
            .into_iter()
            .filter(|s| {
                catalog
                    .words(s)
                    .iter()
                    .any(|(_, stem)| stems.contains(stem))
            })
            .collect();
        if !sentences.is_empty() {
            line.push_str("\n  ");
            line.push_str(&sentences.join(" "));
        }
    }
    line
}

/// A product field by field: name, price, stock, every other column, the description.
fn compare_lines(e: &CatalogEntry, language: &str) -> Vec<String> {
    let labels = catalog_labels(language);
    let mut lines = vec![format!("*{}*", name_with_author(e, language))];
    if let Some(price) = price_text(e) {
        lines.push(format!("{}: {price}", labels.price));
    }
    lines.extend(stock_text(e, language));
    if let Some(category) = e.fields.category.as_deref() {
        lines.push(category.to_string());
    }
    for (header, value) in &e.fields.attributes {
        lines.push(format!("{}: {value}", header.replace('_', " ")));
    }
    if let Some(description) = e.fields.description.as_deref() {
        lines.push(description.to_string());
    }
    lines
}

#[cfg(test)]
mod tests;
