//! Which catalog entries a query means, from the catalog's own words.
//!
//! Every word of a group is looked up in the catalog (by stem, else by its nearest spelling);
//! an entry earns the word's rarity for it, weighted by where it stands (name, author,
//! category and other columns fully, the description less: "Krimi" as a category says more
//! than a description mentioning one). The entries with the most a group can earn are the
//! group's; groups are alternatives. Words the catalog does not hold say nothing about
//! which products ("Bücher" in a bookshop whose rows never say it) and are left out — except
//! after "von"/"by", where an author or brand the catalog does not have means nothing matches.

use std::collections::{BTreeSet, HashMap};

use super::query::CatalogQuery;
use crate::index::{Catalog, FieldKind, Posting, WordLookup};

/// What a word earns an entry for standing in `field`. A word some entries have as their
/// category names a kind of product ("bike" of "Road bike"): in another entry's name or brand
/// it is only a mention ("Bike Bell Brass", the brand "Harbour Bikes"), as in a description.
fn field_weight(field: FieldKind, names_a_kind: bool) -> f32 {
    match field {
        FieldKind::Category => 1.0,
        FieldKind::Name | FieldKind::Author if names_a_kind => 0.6,
        FieldKind::Name | FieldKind::Author => 1.0,
        FieldKind::Attribute => 0.9,
        FieldKind::Description => 0.6,
    }
}

/// The most an entry earns for a word standing in its `posting`'s fields.
fn posting_weight(posting: &Posting, names_a_kind: bool) -> f32 {
    posting
        .fields()
        .map(|f| field_weight(f, names_a_kind))
        .fold(0.0, f32::max)
}

/// What a misspelling keeps of a word's weight.
fn edit_weight(edits: u8) -> f32 {
    1.0 - 0.15 * f32::from(edits)
}

fn rarity(catalog: &Catalog, found: usize) -> f32 {
    (1.0 + catalog.entries().len() as f32 / found.max(1) as f32).ln()
}

/// A question word and what the catalog holds of it (a hyphenated word is its parts and the
/// joined form).
struct Looked {
    typed: String,
    lookups: Vec<WordLookup>,
}

fn look_up(catalog: &Catalog, typed: &str) -> Looked {
    let lookups = catalog
        .words(typed)
        .into_iter()
        .map(|(surface, stem)| catalog.lookup(&surface, &stem))
        .filter(|l| !l.postings.is_empty())
        .collect();
    Looked {
        typed: typed.to_string(),
        lookups,
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    /// The entries meant, in catalog order; `None` when no word of the query is in the
    /// catalog (then the query says nothing about which products).
    pub entries: Option<Vec<u32>>,
    /// An author or brand was named that no entry has.
    pub by_unknown: bool,
    /// Every group's entries were chosen by a word in their category, author or brand, or
    /// another column (not only in names or descriptions): the words name a kind of product.
    pub faceted: bool,
    /// The question's words (as typed) found only in descriptions, per entry: what a reply
    /// quotes so the customer sees why it is listed.
    pub described: HashMap<u32, Vec<String>>,
    /// The question's words that neither the catalog's words nor its facet values hold.
    pub unmatched: Vec<String>,
    /// The question's words for what the shop sells in general ("Bücher", "dishes").
    pub generic: Vec<String>,
    /// The question's words naming a column ("Dauer", "colour").
    pub columns: Vec<String>,
}

/// How similar (cosine, multilingual-e5-small) a word the catalog does not spell must be to
/// a category or short column value to mean it ("Pumpen" → "Pump", "egg" → "ovo"), and by how
/// much more than to any other value: a word near several values alike ("books" to every
/// "…buch", "algum" to anything) means none of them. Fitted on the dev questions of `clerk
/// eval catalog` (`--split dev`): of the unspelt words there, 7 of the 8 above both mean
/// what a shop assistant would take them for.
pub const FACET_SIMILARITY: f32 = 0.84;
pub const FACET_MARGIN: f32 = 0.03;

/// What a word the catalog's own words do not settle means to it, by the facet values.
enum Meaning {
    /// One value, clearly nearer than any other: the entries having it.
    Value(Vec<(u32, FieldKind)>),
    /// Near the catalog's values but none in particular ("books" in a bookshop, "pratos" on a
    /// menu): it says what the shop sells, not which.
    Generic,
    /// Near none of them.
    Unrelated,
}

fn meaning(catalog: &Catalog, word: &str) -> Meaning {
    let near = match catalog.nearest_facets(word) {
        Ok(near) => near,
        Err(e) => {
            tracing::warn!(error = %e, "facet values could not be embedded; matching on words");
            return Meaning::Unrelated;
        }
    };
    let Some((facet, best)) = near.first() else {
        // Without an encoder (or facet values) there is no telling: the word is taken for
        // the shop's word for its goods rather than refuse the question.
        return Meaning::Generic;
    };
    let runner_up = near.get(1).map_or(0.0, |(_, s)| *s);
    if *best < FACET_SIMILARITY {
        Meaning::Unrelated
    } else if best - runner_up < FACET_MARGIN {
        Meaning::Generic
    } else {
        Meaning::Value(facet.entries.iter().map(|&e| (e, facet.field)).collect())
    }
}

/// The group's words with neighbours the catalog writes as one word joined ("d lock" is
/// "dlock" of "D-Lock", "e bike" "ebike").
fn joined(catalog: &Catalog, group: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < group.len() {
        if let Some(next) = group.get(i + 1) {
            let both = format!("{}{next}", group[i]);
            if catalog.has_word(&both) {
                out.push(both);
                i += 2;
                continue;
            }
        }
        out.push(group[i].clone());
        i += 1;
    }
    out
}

/// The entries `query` means.
pub fn select(catalog: &Catalog, query: &CatalogQuery) -> Selection {
    let mut selection = Selection::default();
    let mut chosen: Option<BTreeSet<u32>> = None;
    let mut faceted = true;
    for group in &query.groups {
        if let Some((entries, group_faceted)) = select_group(catalog, group, &mut selection) {
            faceted &= group_faceted;
            chosen.get_or_insert_with(BTreeSet::new).extend(entries);
        }
    }
    if !query.by.is_empty() {
        let mut by: Option<BTreeSet<u32>> = None;
        for word in &query.by {
            let looked = look_up(catalog, word);
            let authors: BTreeSet<u32> = looked
                .lookups
                .iter()
                .flat_map(|l| &l.postings)
                .filter(|p| p.has(FieldKind::Author))
                .map(|p| p.entry)
                .collect();
            // Every word of the name must be an author's: "Stephen King" is not Marc-Uwe
            // Kling for being one letter from "King".
            by = Some(match by {
                None => authors,
                Some(b) => b.intersection(&authors).copied().collect(),
            });
        }
        match by.filter(|b| !b.is_empty()) {
            None => {
                selection.by_unknown = true;
                selection.entries = Some(Vec::new());
                return selection;
            }
            Some(by) => {
                chosen = Some(match chosen {
                    None => by,
                    // Words beside an author narrow within the author's entries only where
                    // they do ("Romane von Thomas Mann"); a word none of them has is phrasing.
                    Some(c) => {
                        let both: BTreeSet<u32> = c.intersection(&by).copied().collect();
                        if both.is_empty() {
                            by
                        } else {
                            both
                        }
                    }
                });
                faceted = true;
            }
        }
    }
    selection.faceted = faceted && chosen.is_some();
    selection.entries = chosen.map(|c| c.into_iter().collect());
    selection
}

/// What one word of a group says about each entry.
#[derive(Default)]
struct WordSets {
    /// Entries the word describes as what they are: its category, author or brand, another
    /// column, or a name the group's words name.
    strong: BTreeSet<u32>,
    /// Entries that only mention it (a description, a name the group does not name).
    weak: BTreeSet<u32>,
    /// What each entry earns for it (rarity times field weight).
    score: HashMap<u32, f32>,
    /// It describes some entry by a column of kinds (category, author or brand, another
    /// column), not only by a name.
    by_column: bool,
}

/// A group's entries: those every word that describes some entry describes or mentions,
/// narrowed by each merely mentioned word where that leaves any ("vegetarisches Kochbuch":
/// the cookbooks, then those mentioning vegetarian). Where no word describes an entry, the
/// entries mentioning the most (rarity-weighted). `None` when no word is in the catalog.
fn select_group(
    catalog: &Catalog,
    group: &[String],
    selection: &mut Selection,
) -> Option<(BTreeSet<u32>, bool)> {
    let looked: Vec<Looked> = joined(catalog, group)
        .iter()
        .map(|w| look_up(catalog, w))
        .collect();
    let mut words: Vec<WordSets> = Vec::new();
    for l in &looked {
        if l.lookups.is_empty() {
            // A column's name ("wie lange dauert", "welche Farben") says what is asked about
            // the products, not which.
            let folded = crate::index::fold(&l.typed, false);
            if catalog.names_a_column(&folded) {
                selection.generic.push(l.typed.clone());
                selection.columns.push(l.typed.clone());
                continue;
            }
            match meaning(catalog, &l.typed) {
                Meaning::Value(meant) => {
                    let mut sets = WordSets {
                        by_column: true,
                        ..WordSets::default()
                    };
                    let weight = rarity(catalog, meant.len());
                    for (entry, field) in meant {
                        sets.strong.insert(entry);
                        *sets.score.entry(entry).or_default() += weight * field_weight(field, true);
                    }
                    words.push(sets);
                }
                Meaning::Generic => selection.generic.push(l.typed.clone()),
                Meaning::Unrelated => selection.unmatched.push(l.typed.clone()),
            }
            continue;
        }
        // A word found only in names and descriptions may still be the shop's word for what
        // it sells ("Buch" of "Buch der Lieder" in "euer günstigstes Buch"): then it names none.
        let only_mentioned = l
            .lookups
            .iter()
            .flat_map(|k| &k.postings)
            .all(|p| !(p.has(FieldKind::Category) || p.has(FieldKind::Author)));
        let generic = only_mentioned && matches!(meaning(catalog, &l.typed), Meaning::Generic);
        // Each part of a hyphenated word narrows like a word of its own ("e-bikes": the
        // bikes that are e-bikes).
        for lookup in &l.lookups {
            let mut sets = WordSets::default();
            let weight = rarity(catalog, lookup.postings.len()) * edit_weight(lookup.edits);
            let names_a_kind = lookup.postings.iter().any(|p| p.has(FieldKind::Category));
            for p in &lookup.postings {
                *sets.score.entry(p.entry).or_default() += weight * posting_weight(p, names_a_kind);
                let describes = p.has(FieldKind::Category)
                    || (!generic && p.has(FieldKind::Attribute))
                    || (!names_a_kind
                        && !generic
                        && (p.has(FieldKind::Author) || p.has(FieldKind::Name)));
                if describes {
                    sets.strong.insert(p.entry);
                    // A word in several names names a family ("Harry Potter", "Brautfrisur"),
                    // as a column of kinds does.
                    let family = lookup.postings.len() >= 2;
                    sets.by_column |=
                        !p.has(FieldKind::Name) || p.has(FieldKind::Category) || family;
                } else {
                    sets.weak.insert(p.entry);
                }
                if p.fields().all(|f| f == FieldKind::Description) {
                    let quoted = selection.described.entry(p.entry).or_default();
                    if !quoted.contains(&l.typed) {
                        quoted.push(l.typed.clone());
                    }
                }
            }
            words.push(sets);
        }
    }
    if words.is_empty() {
        return None;
    }
    let describing: Vec<&WordSets> = words.iter().filter(|w| !w.strong.is_empty()).collect();
    if !describing.is_empty() {
        let mut entries: Option<BTreeSet<u32>> = None;
        for w in &describing {
            let any: BTreeSet<u32> = w.strong.union(&w.weak).copied().collect();
            entries = Some(match entries {
                None => w.strong.clone(),
                Some(e) => e.intersection(&any).copied().collect(),
            });
        }
        let mut entries = entries.unwrap_or_default();
        if !entries.is_empty() {
            for w in words.iter().filter(|w| w.strong.is_empty()) {
                let narrowed: BTreeSet<u32> = entries.intersection(&w.weak).copied().collect();
                if !narrowed.is_empty() {
                    entries = narrowed;
                }
            }
            return Some((entries, describing.iter().any(|w| w.by_column)));
        }
    }
    // No word describes an entry, or those that do describe none in common: the entries
    // earning the most.
    let mut total: HashMap<u32, f32> = HashMap::new();
    for w in &words {
        for (entry, score) in &w.score {
            *total.entry(*entry).or_default() += score;
        }
    }
    let best = total.values().copied().fold(0.0f32, f32::max);
    let entries = total
        .into_iter()
        .filter(|(_, s)| *s >= best * 0.999)
        .map(|(e, _)| e)
        .collect();
    Some((entries, false))
}

/// The entries a named one's words name nearly as well, with their shares.
pub type Rivals = Vec<(u32, f32)>;

/// How much of what a named entry earns from the question's words another must earn to
/// rival it: the same words, not fewer of them ("e-500" earns the E-500 more than the 500).
const RIVAL_EARNS: f32 = 0.9;

/// The share of its name (rarity-weighted) a question must spell for an entry to count as
/// named by it.
const NAMED_SHARE: f32 = 0.4;

/// The entries the question names by their names ("Buddenbrooks", "Tidewater 500"), with the
/// share of each one's name the question spells, in the order named; each adds a word of the question the ones before did not
/// use ("tidewater 500 vs 300" is the 500 and the 300, not also the E-500).
pub fn named(catalog: &Catalog, query: &CatalogQuery) -> Vec<(u32, f32)> {
    named_with_rivals(catalog, query).0
}

/// [`named`], and for each entry it returns the best share of another entry the same words
/// name as well — every word the first one was named by stands in its name too ("kraken
/// lock" names the Kraken Folding Lock, and the Cable Lock nearly as well; "tidewater 500"
/// the Tidewater 500 Hybrid, and the E-500 far less).
pub fn named_with_rivals(
    catalog: &Catalog,
    query: &CatalogQuery,
) -> (Vec<(u32, f32)>, Vec<Rivals>) {
    let mut hits: HashMap<u32, (f32, BTreeSet<usize>)> = HashMap::new();
    let words: Vec<String> = query
        .groups
        .iter()
        .flat_map(|g| joined(catalog, g))
        .collect();
    for (w, word) in words.iter().enumerate() {
        for lookup in look_up(catalog, word).lookups {
            let weight = rarity(catalog, lookup.postings.len()) * edit_weight(lookup.edits);
            for p in lookup.postings.iter().filter(|p| p.has(FieldKind::Name)) {
                let hit = hits.entry(p.entry).or_default();
                hit.0 += weight;
                hit.1.insert(w);
            }
        }
    }
    let mut candidates: Vec<(f32, u32, BTreeSet<usize>, f32)> = hits
        .into_iter()
        .map(|(entry, (earned, words))| {
            let title = &catalog.entries()[entry as usize].title;
            let total: f32 = catalog
                .words(title)
                .iter()
                .map(|(surface, stem)| {
                    rarity(catalog, catalog.lookup(surface, stem).postings.len().max(1))
                })
                .sum();
            (earned / total.max(f32::EPSILON), entry, words, earned)
        })
        .filter(|(share, _, _, _)| *share >= NAMED_SHARE)
        .collect();
    // The best spelt first; of names spelt alike, the one that explains more of the
    // question's words ("kleine gespenst" is Das kleine Gespenst, not also Das kleine Ich bin
    // ich, whose other words are too common to count), then the one earning more of them
    // ("e-500" spells the E-500 wholly, the 500 only in part).
    candidates.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then(b.2.len().cmp(&a.2.len()))
            .then(b.3.total_cmp(&a.3))
            .then(a.1.cmp(&b.1))
    });
    let mut covered: BTreeSet<usize> = BTreeSet::new();
    type Named = (usize, u32, f32, BTreeSet<usize>, f32, Vec<(u32, f32)>);
    let mut out: Vec<Named> = Vec::new();
    for (share, entry, words, earned) in candidates {
        if words.iter().any(|w| !covered.contains(w)) {
            let first = words.iter().next().copied().unwrap_or(usize::MAX);
            covered.extend(words.iter().copied());
            out.push((first, entry, share, words, earned, Vec::new()));
        } else if let Some(rivalled) = out
            .iter_mut()
            .find(|o| o.3.is_subset(&words) && earned >= o.4 * RIVAL_EARNS)
        {
            rivalled.5.push((entry, share));
        }
    }
    // In the order the customer named them.
    out.sort_by_key(|o| (o.0, o.1));
    out.into_iter()
        .map(|(_, entry, share, _, _, rivals)| ((entry, share), rivals))
        .unzip()
}
