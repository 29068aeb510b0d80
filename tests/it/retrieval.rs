//! Retrieval quality regressions: the demo businesses' own questions and the external BEIR
//! sets in ../shared. Thresholds sit a little under what the scorer reaches today (see the
//! README), so a change that makes retrieval worse fails here.

use clerk::eval;

use crate::support::{corpus, shared};

#[test]
fn demo_businesses_find_the_passages_their_questions_need() {
    let reports =
        eval::demo::evaluate(&corpus(), None, Default::default(), &Default::default()).unwrap();
    // The two businesses today's retrieval was built on, each with a dev and a test split,
    // hold their figures; the newer businesses are measured (README), not yet held to a bar.
    let held: Vec<_> = reports
        .iter()
        .filter(|r| ["buchhandlung-lindenblatt", "harbour-bikes"].contains(&r.business.as_str()))
        .collect();
    assert_eq!(held.len(), 4);
    assert!(
        reports.len() >= 8,
        "every corpus business reports two splits"
    );
    for r in held {
        assert!(
            r.questions >= 25,
            "{}: {} questions",
            r.business,
            r.questions
        );
        assert!(
            r.hit_at_5 >= 0.95,
            "{}: hit@5 {:.3}, missed {:?}",
            r.business,
            r.hit_at_5,
            r.misses
        );
    }
}

fn ndcg(set: &str) -> f64 {
    ndcg_with(set, &Default::default())
}

fn ndcg_with(set: &str, retrieval: &eval::Retrieval) -> f64 {
    let report = eval::beir::evaluate(
        &shared().join("data/retrieval").join(set),
        None,
        Default::default(),
        retrieval,
    )
    .unwrap();
    report.ndcg_at_10
}

/// Hybrid retrieval with the real encoder, vectors in memory (every run embeds afresh).
fn hybrid() -> eval::Retrieval {
    eval::Retrieval {
        embedder: Some(crate::support::embedder()),
        ..Default::default()
    }
}

#[test]
fn hybrid_retrieval_beats_both_rankings_alone_on_stackfaq() {
    // BM25 alone 0.810, e5-small alone 0.879 (published); hybrid measured 0.878.
    let score = ndcg_with("stackfaq", &hybrid());
    assert!(score >= 0.87, "hybrid StackFAQ nDCG@10 {score:.4}");
}

#[test]
fn hybrid_retrieval_of_stackfaq_read_as_faq_entries_matches_their_questions() {
    // Measured 0.890: the question is also matched against each entry's own question.
    let report = eval::beir::evaluate_as(
        &shared().join("data/retrieval/stackfaq"),
        None,
        Default::default(),
        &hybrid(),
        clerk::documents::PassageKind::Faq,
    )
    .unwrap();
    assert!(
        report.ndcg_at_10 >= 0.875,
        "hybrid StackFAQ (FAQ) nDCG@10 {:.4}",
        report.ndcg_at_10
    );
}

#[test]
fn hybrid_retrieval_lifts_german_xquad_r() {
    // BM25 alone 0.831; hybrid measured 0.860.
    let score = ndcg_with("xquad-r-de", &hybrid());
    assert!(score >= 0.85, "hybrid XQuAD-R de nDCG@10 {score:.4}");
}

#[test]
fn hybrid_retrieval_finds_the_demo_businesses_passages_across_languages() {
    let reports = eval::demo::evaluate(&corpus(), None, Default::default(), &hybrid()).unwrap();
    assert!(
        reports.len() >= 8,
        "every corpus business reports two splits"
    );
    for r in &reports {
        // Measured (test split): 0.85–1.0 hit@5 on every business.
        assert!(
            r.hit_at_5 >= 0.75,
            "{} {}: hybrid hit@5 {:.3}, missed {:?}",
            r.business,
            r.split.as_str(),
            r.hit_at_5,
            r.misses
        );
    }
}

#[test]
fn stackfaq_beats_elasticsearch_bm25() {
    let score = ndcg("stackfaq");
    assert!(score >= 0.80, "StackFAQ nDCG@10 {score:.4}");
}

#[test]
fn xquad_r_german_beats_plain_bm25() {
    let score = ndcg("xquad-r-de");
    assert!(score >= 0.80, "XQuAD-R de nDCG@10 {score:.4}");
}

#[test]
fn scifact_beats_lucene_bm25() {
    let score = ndcg("scifact");
    assert!(score >= 0.69, "SciFact nDCG@10 {score:.4}");
}

/// The calibrated decision with the real encoder, no language model: English questions to the
/// German bookshop are answered from its FAQ and catalog, and a question about something it
/// does not do goes to a person.
#[test]
fn the_calibrated_decision_answers_across_languages_and_hands_over_the_unrelated() {
    use clerk::answer::Mode;
    use clerk::engine::History;
    let s = crate::support::engine();
    s.engine.set_embedder(crate::support::embedder()).unwrap();
    s.engine.seed_demo(&corpus()).unwrap();
    let shop = "buchhandlung-lindenblatt";
    // The FAQ entry answers with its text either way; whether that counts as an FAQ match
    // (question similarity over the calibrated bar) or an extractive reply of the entry is
    // the calibration's to say.
    for (question, modes, fact) in [
        (
            "when are you open on saturday?",
            &[Mode::Faq, Mode::Extractive][..],
            "10:00 bis 16:00",
        ),
        (
            "what does Der Zauberberg cost?",
            &[Mode::Catalog][..],
            "16,00",
        ),
    ] {
        let answer = s
            .engine
            .answer(shop, question, History::Stored(None), &mut |_| {})
            .unwrap();
        assert!(modes.contains(&answer.mode), "{question}: {answer:?}");
        assert!(answer.text.contains(fact), "{question}: {}", answer.text);
        assert_eq!(answer.language, "en");
        assert!(answer
            .evidence
            .is_some_and(|e| e.foreign && e.similarity.is_some()));
    }
    let unrelated = s
        .engine
        .answer(
            shop,
            "can you repair my car engine?",
            History::Stored(None),
            &mut |_| {},
        )
        .unwrap();
    assert_eq!(unrelated.mode, Mode::Abstained, "{unrelated:?}");
    assert!(unrelated.needs_person);
}
