//! clerk's own sentences around a catalog listing, in the customer's language (de, en, pt, es;
//! English otherwise). Everything else in a listing is the catalog's fields as uploaded.

pub struct ListingTexts {
    /// "Matching items:" (clerk states no count of its own: every figure in a reply is a
    /// field).
    pub found: &'static str,
    pub cheapest: &'static str,
    pub dearest: &'static str,
    /// "… and more — reply "more"."
    pub more: &'static str,
    pub nothing: &'static str,
    pub nothing_by: &'static str,
    /// After "nothing within that": the nearest there is.
    pub nearest: &'static str,
    pub none_in_stock: &'static str,
    pub all_shown: &'static str,
    pub compared: &'static str,
}

pub fn texts(language: &str) -> ListingTexts {
    match language {
        "de" => ListingTexts {
            found: "Passende Artikel:",
            cheapest: "Am günstigsten:",
            dearest: "Am teuersten:",
            more: "… und weitere – schreiben Sie „mehr“.",
            nothing: "Dazu habe ich in unserem Katalog leider nichts gefunden.",
            nothing_by: "Von dieser Autorin, diesem Autor oder dieser Marke haben wir leider nichts im Katalog.",
            nearest: "Das Nächste, was wir haben:",
            none_in_stock: "Davon ist derzeit leider nichts vorrätig.",
            all_shown: "Das waren alle passenden Artikel.",
            compared: "Im Vergleich:",
        },
        "pt" => ListingTexts {
            found: "Encontrei estes:",
            cheapest: "O mais barato:",
            dearest: "O mais caro:",
            more: "… e há mais – responda “mais”.",
            nothing: "Não encontrei nada disso no nosso catálogo.",
            nothing_by: "Não temos nada desse autor ou dessa marca no catálogo.",
            nearest: "O mais próximo que temos:",
            none_in_stock: "De momento nada disso está em estoque.",
            all_shown: "Esses foram todos.",
            compared: "Em comparação:",
        },
        "es" => ListingTexts {
            found: "Encontré estos:",
            cheapest: "El más barato:",
            dearest: "El más caro:",
            more: "… y hay más – responda «más».",
            nothing: "No he encontrado nada de eso en nuestro catálogo.",
            nothing_by: "No tenemos nada de ese autor o esa marca en el catálogo.",
            nearest: "Lo más parecido que tenemos:",
            none_in_stock: "Por ahora no hay nada de eso en stock.",
            all_shown: "Esos eran todos.",
            compared: "Comparados:",
        },
        _ => ListingTexts {
            found: "Matching items:",
            cheapest: "Cheapest:",
            dearest: "Most expensive:",
            more: "… and more – reply “more”.",
            nothing: "I found nothing like that in our catalog.",
            nothing_by: "We have nothing by that author or brand in our catalog.",
            nearest: "The nearest we have:",
            none_in_stock: "None of those is in stock right now.",
            all_shown: "That was all of them.",
            compared: "Side by side:",
        },
    }
}

/// Every sentence clerk writes around listings, in any language: these need no source.
pub fn own_words() -> Vec<&'static str> {
    ["de", "en", "pt", "es"]
        .into_iter()
        .flat_map(|l| {
            let t = texts(l);
            [
                t.found,
                t.cheapest,
                t.dearest,
                t.more,
                t.nothing,
                t.nothing_by,
                t.nearest,
                t.none_in_stock,
                t.all_shown,
                t.compared,
            ]
        })
        .collect()
}
