//! Indexing and retrieval through the engine: replace/delete, all-or-nothing uploads, business
//! isolation, German analysis, typo tolerance, stored product fields.

use clerk::engine::{EngineError, EngineLimits};
use clerk::index::Hit;

use crate::support::{engine, engine_with, upload};

const GERMAN_FAQ: &str = "# Häufige Fragen

## Wann habt ihr geöffnet?

Montag bis Freitag 9:30 bis 19:00 Uhr, Samstag 10:00 bis 16:00 Uhr. Sonntags geschlossen.

## Welche Größen haben eure Geschenkgutscheine?

Gutscheine gibt es ab 10 € in jeder Größe, auch als Karte.

## Habt ihr Bücher für Kinder?

Ja, unsere Kinderbuchabteilung hat über 2000 Titel für jedes Alter.

## Kann ich Bücher reservieren?

Ja, reservierte Bücher liegen fünf Werktage an der Kasse bereit.
";

const GERMAN_CATALOG: &str = "ISBN,Titel,Autor,Preis,Währung,Bestand,Kategorie
9783596294336,Der Zauberberg,Thomas Mann,\"14,90\",EUR,3,Klassiker
9783518368510,Die Blechtrommel,Günter Grass,\"16,00\",EUR,0,Roman
9783522202077,Momo,Michael Ende,\"15,00\",EUR,7,Kinderbuch
";

const ENGLISH_FAQ: &str = "# FAQ

**What are your opening hours?**

We are open Monday to Saturday from 9am to 6pm.

**Do you repair e-bikes?**

Yes, our workshop services all e-bike brands. A basic service costs £45.
";

fn titles(hits: &[Hit]) -> Vec<&str> {
    hits.iter().map(|h| h.title.as_str()).collect()
}

fn top_title(engine: &clerk::engine::Engine, business: &str, q: &str) -> String {
    engine
        .search(business, q, 5)
        .unwrap()
        .first()
        .map(|h| h.title.clone())
        .unwrap_or_default()
}

fn german_shop() -> crate::support::Scratch {
    let s = engine();
    s.engine.create_business("laden", None, None).unwrap();
    s.engine
        .ingest(
            "laden",
            &[
                upload("faq.md", GERMAN_FAQ),
                upload("katalog.csv", GERMAN_CATALOG),
            ],
        )
        .unwrap();
    s
}

#[test]
fn language_is_detected_from_the_first_upload() {
    let s = german_shop();
    assert_eq!(s.engine.business("laden").unwrap().language, "de");
}

#[test]
fn german_spellings_and_forms_find_each_other() {
    let s = german_shop();
    let e = &s.engine;
    for q in ["Groesse gutschein", "grösse gutschein", "Größe Gutscheine"] {
        assert_eq!(
            top_title(e, "laden", q),
            "Welche Größen haben eure Geschenkgutscheine?",
            "{q}"
        );
    }
    // Plural and umlaut-free spelling of "Bücher".
    assert_eq!(
        top_title(e, "laden", "buecher reservieren"),
        "Kann ich Bücher reservieren?"
    );
    assert_eq!(
        top_title(e, "laden", "Buch reservieren"),
        "Kann ich Bücher reservieren?"
    );
    // A compound in the question finds the catalog's category and, split against the index's
    // own words, the FAQ that spells it apart.
    let hits = e.search("laden", "Kinderbücher?", 2).unwrap();
    let mut top2 = titles(&hits);
    top2.sort();
    assert_eq!(top2, ["Habt ihr Bücher für Kinder?", "Momo"]);
    // A word that begins a compound in the documents finds it.
    assert_eq!(
        top_title(e, "laden", "Geschenk"),
        "Welche Größen haben eure Geschenkgutscheine?"
    );
    assert_eq!(
        top_title(e, "laden", "wann geöffnet"),
        "Wann habt ihr geöffnet?"
    );
}

#[test]
fn typos_in_unknown_words_are_tolerated() {
    let s = german_shop();
    assert_eq!(
        top_title(&s.engine, "laden", "habt ihr den Zauberbeg"),
        "Der Zauberberg"
    );
    assert_eq!(
        top_title(&s.engine, "laden", "Blechtromel"),
        "Die Blechtrommel"
    );

    s.engine.create_business("bikes", None, Some("en")).unwrap();
    s.engine
        .ingest("bikes", &[upload("faq.md", ENGLISH_FAQ)])
        .unwrap();
    assert_eq!(
        top_title(&s.engine, "bikes", "opning hours"),
        "What are your opening hours?"
    );
    assert_eq!(
        top_title(&s.engine, "bikes", "do u repiar ebikes"),
        "Do you repair e-bikes?"
    );
}

#[test]
fn customers_own_words_and_languages_reach_the_documents() {
    let s = german_shop();
    let e = &s.engine;
    // English and Portuguese questions to a German FAQ, through the shop glossary.
    assert_eq!(
        top_title(e, "laden", "when are you open on saturday?"),
        "Wann habt ihr geöffnet?"
    );
    assert_eq!(
        top_title(e, "laden", "horário de sábado?"),
        "Wann habt ihr geöffnet?"
    );
    assert_eq!(
        top_title(e, "laden", "can I reserve a book"),
        "Kann ich Bücher reservieren?"
    );
    // A word that is in no document still finds nothing of its own.
    assert!(e
        .search("laden", "quantum chromodynamics", 5)
        .unwrap()
        .is_empty());
}

#[test]
fn product_fields_come_back_exactly_as_uploaded() {
    let s = german_shop();
    let hits = s.engine.search("laden", "Zauberberg Preis", 3).unwrap();
    let product = hits[0].product.as_ref().expect("a product hit");
    assert_eq!(product.name.as_deref(), Some("Der Zauberberg"));
    assert_eq!(product.price.as_deref(), Some("14,90"));
    assert_eq!(product.currency.as_deref(), Some("EUR"));
    assert_eq!(product.stock.as_deref(), Some("3"));
    assert_eq!(product.sku.as_deref(), Some("9783596294336"));
    assert_eq!(product.author.as_deref(), Some("Thomas Mann"));
    assert_eq!(hits[0].document, "katalog.csv");
}

#[test]
fn reupload_replaces_and_delete_removes() {
    let s = german_shop();
    let e = &s.engine;
    let before = e.documents("laden").unwrap();
    assert_eq!(before.len(), 2);
    let faq = before.iter().find(|d| d.name == "faq.md").unwrap();
    assert_eq!(faq.passages, 4);

    let report = e
        .ingest(
            "laden",
            &[upload(
                "faq.md",
                "## Habt ihr WLAN?\n\nJa, das Passwort steht an der Kasse.\n",
            )],
        )
        .unwrap();
    assert!(report.documents[0].replaced);
    let after = e.documents("laden").unwrap();
    assert_eq!(after.len(), 2, "same name replaces, never duplicates");
    assert_eq!(
        after.iter().find(|d| d.name == "faq.md").unwrap().passages,
        1
    );
    assert!(titles(&e.search("laden", "geöffnet", 10).unwrap()).is_empty());
    assert_eq!(top_title(e, "laden", "wlan"), "Habt ihr WLAN?");

    e.delete_document("laden", "faq.md").unwrap();
    assert_eq!(e.documents("laden").unwrap().len(), 1);
    assert!(e.search("laden", "wlan", 10).unwrap().is_empty());
    assert!(matches!(
        e.delete_document("laden", "faq.md"),
        Err(EngineError::UnknownDocument { .. })
    ));
}

#[test]
fn a_bad_file_fails_the_whole_upload_and_changes_nothing() {
    let s = german_shop();
    let e = &s.engine;
    let before = e.documents("laden").unwrap();
    let broken = "Titel,Preis\nMomo,\"15,00\"\nNur ein Feld,1,2,3\n";
    let err = e
        .ingest(
            "laden",
            &[
                upload("faq.md", "## Neu?\n\nAlles neu.\n"),
                upload("neu.csv", broken),
            ],
        )
        .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("neu.csv"), "{message}");
    assert!(message.contains('3'), "names the line: {message}");
    assert_eq!(e.documents("laden").unwrap(), before);
    assert_eq!(
        top_title(e, "laden", "wann geöffnet"),
        "Wann habt ihr geöffnet?"
    );
}

#[test]
fn row_and_size_limits_are_enforced_with_clear_messages() {
    let mut limits = EngineLimits::default();
    limits.documents.max_rows = 2;
    limits.documents.max_file_bytes = 4096;
    let s = engine_with(limits);
    s.engine.create_business("laden", None, Some("de")).unwrap();
    let err = s
        .engine
        .ingest("laden", &[upload("katalog.csv", GERMAN_CATALOG)])
        .unwrap_err()
        .to_string();
    assert!(err.contains("katalog.csv") && err.contains('2'), "{err}");
    let big = "Wort ".repeat(2000);
    let err = s
        .engine
        .ingest("laden", &[upload("gross.txt", &big)])
        .unwrap_err()
        .to_string();
    assert!(err.contains("gross.txt") && err.contains("4096"), "{err}");
    assert!(s.engine.documents("laden").unwrap().is_empty());
}

#[test]
fn businesses_never_see_each_others_passages() {
    let s = german_shop();
    let e = &s.engine;
    e.create_business("bikes", None, Some("en")).unwrap();
    e.ingest("bikes", &[upload("faq.md", ENGLISH_FAQ)]).unwrap();
    for hit in e
        .search("bikes", "Zauberberg Thomas Mann öffnungszeiten", 10)
        .unwrap()
    {
        assert_eq!(hit.document, "faq.md");
        assert!(!hit.text.contains("Zauberberg"));
    }
    assert!(e
        .search("laden", "e-bike repair service", 10)
        .unwrap()
        .is_empty());
    // Deleting in one business leaves the other's same-named document alone.
    e.delete_document("bikes", "faq.md").unwrap();
    assert_eq!(
        top_title(e, "laden", "wann geöffnet"),
        "Wann habt ihr geöffnet?"
    );
}

#[test]
fn unknown_business_and_bad_questions_are_refused() {
    let s = german_shop();
    assert!(matches!(
        s.engine.search("nobody", "hallo", 5),
        Err(EngineError::UnknownBusiness(_))
    ));
    assert!(matches!(
        s.engine.search("laden", "   ", 5),
        Err(EngineError::EmptyQuestion)
    ));
    let long = "a".repeat(5000);
    assert!(matches!(
        s.engine.search("laden", &long, 5),
        Err(EngineError::QuestionTooLong { .. })
    ));
    assert!(matches!(
        s.engine.create_business("Bad Id!", None, None),
        Err(EngineError::InvalidBusinessId(_))
    ));
}

#[test]
fn index_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let e = clerk::engine::Engine::open(dir.path(), EngineLimits::default()).unwrap();
        e.create_business("laden", None, None).unwrap();
        e.ingest("laden", &[upload("faq.md", GERMAN_FAQ)]).unwrap();
    }
    let e = clerk::engine::Engine::open(dir.path(), EngineLimits::default()).unwrap();
    assert_eq!(e.documents("laden").unwrap().len(), 1);
    assert_eq!(
        top_title(&e, "laden", "wann offen"),
        "Wann habt ihr geöffnet?"
    );
}

/// Hybrid retrieval with the real encoder: a question in another language than the
/// documents' finds its passage, vectors live with the index across restarts, and a changed
/// model embeds everything again.
#[test]
fn vectors_persist_with_the_index_and_follow_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let encoder = crate::support::embedder();
    {
        let e = clerk::engine::Engine::open(dir.path(), EngineLimits::default()).unwrap();
        assert!(e.set_embedder(encoder.clone()).unwrap().is_empty());
        e.create_business("laden", None, None).unwrap();
        e.ingest("laden", &[upload("faq.md", GERMAN_FAQ)]).unwrap();
        // English and Portuguese to a German FAQ: no word in common.
        for (question, title) in [
            ("can I put a book on hold?", "Kann ich Bücher reservieren?"),
            ("vocês têm livros infantis?", "Habt ihr Bücher für Kinder?"),
        ] {
            let hits = e.search("laden", question, 3).unwrap();
            assert_eq!(hits[0].title, title, "{question}: {:?}", titles(&hits));
            assert!(hits[0].similarity.is_some() && hits[0].question_similarity.is_some());
        }
    }
    // The same model again: the vectors were kept, nothing is embedded.
    {
        let e = clerk::engine::Engine::open(dir.path(), EngineLimits::default()).unwrap();
        let embedded = e.set_embedder(encoder.clone()).unwrap();
        assert_eq!(embedded, vec![("laden".to_string(), 0)]);
        assert_eq!(
            top_title(&e, "laden", "can I put a book on hold?"),
            "Kann ich Bücher reservieren?"
        );
    }
    // Another cut of the texts is another model: every passage (4), FAQ question (4) and
    // sentence of an answer of several sentences is embedded again, into that model's own file.
    let doc = clerk::documents::parse(
        "faq.md",
        GERMAN_FAQ.as_bytes(),
        &clerk::documents::Limits::default(),
    )
    .unwrap();
    let sentences: usize = doc
        .passages
        .iter()
        .map(|p| clerk::index::sentences(&p.text).len())
        .filter(|&n| n > 1)
        .sum();
    assert!(sentences > 0, "the FAQ has answers of several sentences");
    let path = clerk::embed::pull_encoder(&clerk::llm::fetch::default_models_dir()).unwrap();
    let other =
        std::sync::Arc::new(clerk::engine::EncoderEmbedder::load_with(&path, Some(128)).unwrap());
    let e = clerk::engine::Engine::open(dir.path(), EngineLimits::default()).unwrap();
    let embedded = e.set_embedder(other).unwrap();
    assert_eq!(embedded, vec![("laden".to_string(), 8 + sentences)]);
    let files = std::fs::read_dir(dir.path().join("indexes/laden"))
        .unwrap()
        .filter_map(|f| f.ok())
        .filter(|f| f.file_name().to_string_lossy().starts_with("vectors-"))
        .count();
    assert_eq!(files, 2);
}
