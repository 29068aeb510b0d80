//! Catalog entries: which column (or JSON key) holds which product field, in English, German,
//! Portuguese and Spanish spellings, and how an entry is rendered as passage text. Values are
//! kept exactly as uploaded (trimmed only) and labels are the uploaded header text, so a German
//! catalog reads "Preis: 14,90 EUR" and the answer step can quote it verbatim.

use super::clean::single_line;
use super::{Passage, PassageKind, ProductFields};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Name,
    Description,
    Price,
    Currency,
    Stock,
    Sku,
    Category,
    Url,
    Author,
}

#[rustfmt::skip]
const NAMES: &[&str] = &[
    "name", "title", "product", "produkt", "titel", "bezeichnung", "artikel", "nome", "nombre",
    "titulo", "título", "producto", "produto", "productname", "produktname", "artikelname",
    "artikelbezeichnung", "produktbezeichnung", "item", "itemname", "buchtitel", "booktitle",
];
#[rustfmt::skip]
const DESCRIPTIONS: &[&str] = &[
    "description", "beschreibung", "details", "descrição", "descricao", "descripción",
    "descripcion", "produktbeschreibung", "kurzbeschreibung", "summary", "zusammenfassung",
];
#[rustfmt::skip]
const CURRENCIES: &[&str] = &[
    "currency", "währung", "waehrung", "moeda", "moneda", "devise",
];
#[rustfmt::skip]
const STOCKS: &[&str] = &[
    "stock", "availability", "available", "quantity", "qty", "inventory", "bestand",
    "lagerbestand", "verfügbarkeit", "verfuegbarkeit", "verfügbar", "verfuegbar", "menge",
    "anzahl", "estoque", "existencias", "disponibilidad", "disponibilidade", "lager", "instock",
    "stockquantity", "onhand",
];
#[rustfmt::skip]
const SKUS: &[&str] = &[
    "sku", "isbn", "id", "ean", "gtin", "upc", "artikelnummer", "artnr", "artikelnr", "itemnumber",
    "itemno", "productid", "produktid", "bestellnummer", "code", "codigo", "código", "referenz",
    "ref",
];
#[rustfmt::skip]
const CATEGORIES: &[&str] = &[
    "category", "kategorie", "genre", "rubrik", "categoria", "categoría", "warengruppe",
    "produktgruppe", "productcategory",
];
#[rustfmt::skip]
const URLS: &[&str] = &[
    "url", "link", "website", "webseite", "produktlink", "producturl", "productlink", "weblink",
];
#[rustfmt::skip]
const AUTHORS: &[&str] = &[
    "author", "autor", "autorin", "autoren", "authors", "brand", "marke", "hersteller",
    "manufacturer", "marca", "verfasser", "fabricante",
];

/// The field a header names, if any. Case, spacing and punctuation are ignored ("Art.-Nr.",
/// "item number", "Price (EUR)").
pub(crate) fn classify(header: &str) -> Option<Field> {
    let key: String = header
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    let is = |list: &[&str]| list.contains(&key.as_str());
    let field = if is(NAMES) {
        Field::Name
    } else if is(DESCRIPTIONS) {
        Field::Description
    } else if is(CURRENCIES) {
        Field::Currency
    } else if is(STOCKS) {
        Field::Stock
    } else if is(SKUS) {
        Field::Sku
    } else if is(CATEGORIES) {
        Field::Category
    } else if is(URLS) {
        Field::Url
    } else if is(AUTHORS) {
        Field::Author
    } else if is_price(&key) {
        Field::Price
    } else {
        return None;
    };
    Some(field)
}

/// Prices come with many qualifiers ("Preis inkl. MwSt.", "price_eur", "Verkaufspreis").
fn is_price(key: &str) -> bool {
    ["price", "preis", "preço", "preco", "precio", "prix"]
        .iter()
        .any(|p| key.starts_with(p))
        || key.ends_with("price")
        || key.ends_with("preis")
}

/// The columns of a catalog (or the keys of one JSON object) and the field each holds. The first
/// column recognized as a field gets it; later ones with the same meaning become attributes.
#[derive(Debug, Clone)]
pub(crate) struct Schema {
    labels: Vec<String>,
    fields: Vec<Option<Field>>,
}

impl Schema {
    pub(crate) fn new(headers: &[String]) -> Schema {
        let mut fields: Vec<Option<Field>> = Vec::with_capacity(headers.len());
        for header in headers {
            let field = classify(header).filter(|f| !fields.contains(&Some(*f)));
            fields.push(field);
        }
        let labels = headers
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let h = single_line(h);
                if h.is_empty() {
                    format!("column {}", i + 1)
                } else {
                    h
                }
            })
            .collect();
        Schema { labels, fields }
    }

    /// The label of the name column, when there is one.
    pub(crate) fn name_label(&self) -> Option<&str> {
        let i = self.fields.iter().position(|f| *f == Some(Field::Name))?;
        self.labels.get(i).map(String::as_str)
    }

    /// One entry as a Product passage; `None` when its name is empty. Missing trailing values
    /// count as empty.
    pub(crate) fn product<S: AsRef<str>>(&self, values: &[S]) -> Option<Passage> {
        let mut fields = ProductFields::default();
        let mut labelled: Vec<(Field, &str, String)> = Vec::new();
        for (i, label) in self.labels.iter().enumerate() {
            let value = values.get(i).map_or("", |v| v.as_ref().trim());
            if value.is_empty() {
                continue;
            }
            let value = value.to_string();
            match self.fields[i] {
                Some(field) => {
                    *slot(&mut fields, field) = Some(value.clone());
                    labelled.push((field, label, value));
                }
                None => fields.attributes.push((label.clone(), value)),
            }
        }
        let name = fields.name.clone()?;
        let text = render(&name, &fields, &labelled);
        let mut passage = Passage::new(PassageKind::Product, &name, Vec::new(), &text);
        passage.product = Some(fields);
        Some(passage)
    }
}

fn slot(fields: &mut ProductFields, field: Field) -> &mut Option<String> {
    match field {
        Field::Name => &mut fields.name,
        Field::Description => &mut fields.description,
        Field::Price => &mut fields.price,
        Field::Currency => &mut fields.currency,
        Field::Stock => &mut fields.stock,
        Field::Sku => &mut fields.sku,
        Field::Category => &mut fields.category,
        Field::Url => &mut fields.url,
        Field::Author => &mut fields.author,
    }
}

/// "Name", then "Label: value" lines: author, price (with its currency), stock, SKU, category,
/// other attributes, URL, and the description last because it is the longest.
fn render(name: &str, fields: &ProductFields, labelled: &[(Field, &str, String)]) -> String {
    let mut lines = vec![name.to_string()];
    let line = |field: Field| {
        labelled
            .iter()
            .find(|(f, _, _)| *f == field)
            .map(|(_, label, value)| (label.to_string(), value.clone()))
    };
    let mut push = |entry: Option<(String, String)>| {
        if let Some((label, value)) = entry {
            lines.push(format!("{label}: {value}"));
        }
    };
    push(line(Field::Author));
    match (line(Field::Price), &fields.currency) {
        (Some((label, price)), Some(currency)) if !price.contains(currency.as_str()) => {
            push(Some((label, format!("{price} {currency}"))));
        }
        (Some(price), _) => push(Some(price)),
        (None, _) => push(line(Field::Currency)),
    }
    push(line(Field::Stock));
    push(line(Field::Sku));
    push(line(Field::Category));
    for (label, value) in &fields.attributes {
        push(Some((label.clone(), value.clone())));
    }
    push(line(Field::Url));
    push(line(Field::Description));
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_in_several_languages() {
        for (header, field) in [
            ("Titel", Field::Name),
            (" NAME ", Field::Name),
            ("Art.-Nr.", Field::Sku),
            ("Item Number", Field::Sku),
            ("Preis inkl. MwSt.", Field::Price),
            ("price_eur", Field::Price),
            ("Verkaufspreis", Field::Price),
            ("Währung", Field::Currency),
            ("Lagerbestand", Field::Stock),
            ("Verfügbarkeit", Field::Stock),
            ("Descrição", Field::Description),
            ("Autorin", Field::Author),
            ("Kategorie", Field::Category),
            ("Produktlink", Field::Url),
        ] {
            assert_eq!(classify(header), Some(field), "{header}");
        }
        assert_eq!(classify("Verlag"), None);
        assert_eq!(classify("Seiten"), None);
    }

    #[test]
    fn first_column_wins_and_rendering_uses_labels() {
        let headers: Vec<String> = [
            "Titel", "ISBN", "EAN", "Preis", "Währung", "Verlag", "Notiz",
        ]
        .map(String::from)
        .to_vec();
        let schema = Schema::new(&headers);
        assert_eq!(schema.name_label(), Some("Titel"));
        let p = schema
            .product(&["Momo", " 978 ", "400", "9,90", "EUR", "Thienemann", ""])
            .unwrap();
        let fields = p.product.unwrap();
        assert_eq!(fields.sku.as_deref(), Some("978"));
        assert_eq!(fields.price.as_deref(), Some("9,90"));
        assert_eq!(
            fields.attributes,
            [
                ("EAN".to_string(), "400".to_string()),
                ("Verlag".to_string(), "Thienemann".to_string())
            ]
        );
        assert_eq!(
            p.text,
            "Momo\nPreis: 9,90 EUR\nISBN: 978\nEAN: 400\nVerlag: Thienemann"
        );
        assert!(schema.product(&["", "1"]).is_none());
    }
}
