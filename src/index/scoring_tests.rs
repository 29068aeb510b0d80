//! Tests of the scorer: pruned and exhaustive runs agree where they must, and proximity gaps.

use super::*;
use crate::documents::{Document, Format, Passage, PassageKind};
use crate::index::{BusinessIndex, Language, MANIFEST_KIND};

/// Pruning may leave a passage's score short only where the passage cannot reach the
/// shortlist: on SciFact's abstracts and questions, every passage whose exhaustive score
/// reaches the exhaustive `shortlist`-th best is kept by the pruned run, with the very same
/// score.
#[test]
fn pruning_keeps_every_passage_that_reaches_the_shortlist() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/retrieval/scifact");
    let lines = |name: &str| -> Vec<serde_json::Value> {
        std::fs::read_to_string(dir.join(name))
            .unwrap_or_else(|e| panic!("{name}: {e} (the tests read ../shared)"))
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    };
    let passages = lines("corpus.jsonl")
        .iter()
        .enumerate()
        .map(|(i, d)| Passage {
            ordinal: i as u32,
            kind: PassageKind::Page,
            title: d["title"].as_str().unwrap_or_default().to_string(),
            heading_path: Vec::new(),
            text: d["text"].as_str().unwrap_or_default().to_string(),
            product: None,
        })
        .collect();
    let index = BusinessIndex::in_memory(Language::English).unwrap();
    let document = Document {
        name: "corpus.jsonl".into(),
        format: Format::Jsonl,
        passages,
    };
    index.replace_documents(&[(document, 0)]).unwrap();
    let searcher = index.reader.searcher();
    let manifests = searcher
        .doc_freq(&Term::from_field_text(index.fields.kind, MANIFEST_KIND))
        .unwrap();
    let scorer = Scorer {
        searcher: &searcher,
        fields: index.fields.text(),
        params: index.params,
        passages: searcher.num_docs() - manifests,
        language: index.language,
    };
    let shortlist = 30;
    let mut pruned_somewhere = 0;
    for q in lines("queries.test.jsonl").iter().take(60) {
        let (mut surface, mut full) = (index.surface_analyzer.clone(), index.analyzer.clone());
        let question = q["text"].as_str().unwrap();
        let terms = scorer
            .question_terms(&mut surface, &mut full, question)
            .unwrap();
        let idfs: Vec<f32> = terms
            .iter()
            .map(|t| scorer.idf(scorer.doc_freq(&t.text).unwrap()))
            .collect();
        let pruned = scorer.raw_scores(&terms, &idfs, shortlist).unwrap();
        let exhaustive = scorer.raw_scores(&terms, &idfs, usize::MAX).unwrap();
        for ((p_scores, p_matched), (e_scores, e_matched)) in pruned.iter().zip(&exhaustive) {
            if e_matched.len() <= shortlist {
                continue;
            }
            let mut best: Vec<f32> = e_matched.iter().map(|&d| e_scores[d as usize]).collect();
            best.sort_unstable_by(|a, b| b.total_cmp(a));
            let cut = best[shortlist - 1];
            if p_matched.len() < e_matched.len() {
                pruned_somewhere += 1;
            }
            for &doc in e_matched {
                let score = e_scores[doc as usize];
                if score >= cut {
                    assert!(p_matched.contains(&doc), "{question}: passage {doc} pruned");
                    assert_eq!(p_scores[doc as usize], score, "{question}: passage {doc}");
                }
            }
        }
    }
    assert!(
        pruned_somewhere >= 20,
        "pruning ran on {pruned_somewhere} questions only"
    );
}

#[test]
fn gap_is_smallest_forward_distance_within_window() {
    assert_eq!(closest_gap(&[1, 10], &[2, 30]), Some(1));
    assert_eq!(closest_gap(&[1], &[9]), None);
    assert_eq!(closest_gap(&[5], &[3]), None);
    assert_eq!(closest_gap(&[3, 7], &[5, 9]), Some(2));
}
