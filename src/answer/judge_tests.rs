//! The pipeline with a judge: a real index with vectors from a bag-of-words stand-in for the
//! encoder, and a scripted judge that accepts only passages holding a given phrase. What is
//! tested is the deciding around the judge — who is asked, in which order, and what its word
//! (or its failure) does to the reply.

use std::sync::{Arc, Mutex};

use super::tests::{index_of, scripted_model, Bytes};
use super::*;
use crate::index::{Embedder, Reading};
use crate::llm::engine::{EventStream, Generator, Prompt, Request, TokenCodec};
use crate::llm::generate::TokenDecoder;

const FAQ: &str =
    "# FAQ\n\n## Do you repair bikes?\nYes, our workshop repairs every make of bike. \
A basic service costs £45.\n\n## Can I bring my dog?\nWell-behaved dogs are welcome in the shop.\n";
const PAGE: &str = "# About us\n\nWe are a family shop on the harbour. Our mechanics have fixed \
bikes since 2009. Hire bikes come with a helmet and a lock.\n";

/// Words hashed into a small unit vector: texts sharing words are similar.
struct BagOfWords;

impl Embedder for BagOfWords {
    fn model_id(&self) -> &str {
        "bag-of-words-test"
    }
    fn dim(&self) -> usize {
        64
    }
    fn embed(&self, _kind: Reading, texts: &[&str]) -> Result<Vec<Vec<f32>>, String> {
        Ok(texts
            .iter()
            .map(|t| {
                let mut v = vec![0.05f32; 64];
                for w in t
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| w.len() > 2)
                {
                    let h = w
                        .to_lowercase()
                        .bytes()
                        .fold(7u32, |h, b| h.wrapping_mul(31) ^ b as u32);
                    v[(h % 64) as usize] += 1.0;
                }
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.iter().map(|x| x / norm).collect()
            })
            .collect())
    }
}

/// "yes" and "no" are one token each; every other byte is its own token.
struct Words;

impl TokenDecoder for Words {
    fn decode(&self, ids: &[u32]) -> Result<String, LlmError> {
        Bytes.decode(ids)
    }
}

impl TokenCodec for Words {
    fn encode(&self, text: &str) -> Result<Vec<u32>, LlmError> {
        Ok(match text {
            "yes" => vec![1],
            "no" => vec![2],
            _ => text.bytes().map(u32::from).collect(),
        })
    }
}

/// Says yes to a prompt whose passage holds `accept`; fails when `fail` is set.
struct ScriptedJudge {
    accept: &'static str,
    fail: bool,
    asked: Mutex<Vec<String>>,
}

impl Generator for ScriptedJudge {
    fn submit(&self, _request: Request) -> Result<EventStream, LlmError> {
        Err(LlmError::Unsupported("generating".into()))
    }

    fn score(&self, prompt: Prompt, groups: &[Vec<u32>]) -> Result<Vec<f32>, LlmError> {
        if self.fail {
            return Err(LlmError::Busy(8));
        }
        assert_eq!(groups, [vec![1], vec![2]]);
        let Prompt::Tokens(tokens) = prompt else {
            panic!("the judge sends tokens")
        };
        let text = Words.decode(&tokens)?;
        let passage = text
            .split("Passage:\n")
            .nth(1)
            .and_then(|rest| rest.split("\n\nCustomer's question").next())
            .unwrap_or_default()
            .to_string();
        let yes = passage.contains(self.accept);
        self.asked.lock().unwrap().push(passage);
        Ok(if yes {
            vec![-0.1, -3.0]
        } else {
            vec![-3.0, -0.1]
        })
    }
}

fn judge(accept: &'static str, fail: bool) -> (Arc<Judge>, Arc<ScriptedJudge>) {
    let scripted = Arc::new(ScriptedJudge {
        accept,
        fail,
        asked: Mutex::new(Vec::new()),
    });
    let model = scripted_model("scripted judge", scripted.clone(), Arc::new(Words));
    (Arc::new(Judge::new(Arc::new(model)).unwrap()), scripted)
}

fn ask(judge: Option<Arc<Judge>>, question: &str) -> Answer {
    let index = index_of(
        &[("faq.md", FAQ), ("about.md", PAGE)],
        Some(Arc::new(BagOfWords)),
    );
    let mut search =
        |q: &str, limit: usize| index.search_with_evidence(q, limit, language::QUESTION_WORDS);
    let business = BusinessContext {
        name: "Harbour Bikes",
        language: "en",
        catalog: None,
    };
    // Every passage is worth asking about: the scripted judge alone decides.
    let settings = AnswerSettings {
        judge: JudgeSettings {
            floor: 0.0,
            ..JudgeSettings::default()
        },
        ..AnswerSettings::default()
    };
    Answerer::new(None, settings)
        .with_judge(judge)
        .answer(question, &[], &business, &mut search, &mut |_| {})
        .unwrap()
}

#[test]
fn the_first_passage_the_judge_accepts_answers() {
    let (judge, scripted) = judge("helmet", false);
    let answer = ask(Some(judge), "do your bikes come with a helmet?");
    assert_ne!(answer.mode, Mode::Abstained, "{answer:?}");
    assert_eq!(answer.sources[0].document, "about.md", "{answer:?}");
    assert!(answer.text.contains("helmet"), "{}", answer.text);
    let asked = scripted.asked.lock().unwrap();
    assert!(asked.last().unwrap().contains("helmet"), "{asked:?}");
    assert!(answer.evidence.and_then(|e| e.judgement).unwrap() > 0.0);
    assert!(answer.timings.judge_ms >= 0.0);
}

#[test]
fn a_question_no_passage_answers_is_handed_over_though_words_match() {
    // "bikes" and "repair" match the FAQ entry; the judge says it does not answer.
    let (judge, scripted) = judge("kayak", false);
    let answer = ask(Some(judge), "do you repair kayaks or bikes on sundays?");
    assert_eq!(answer.mode, Mode::Abstained, "{answer:?}");
    assert!(answer.needs_person);
    let asked = scripted.asked.lock().unwrap().len();
    assert!(
        (1..=JudgeSettings::default().candidates).contains(&asked),
        "{asked} judgements"
    );
}

#[test]
fn a_failing_judge_leaves_the_decision_to_the_calibration() {
    let question = "do you repair bikes?";
    let (judge, _) = judge("never", true);
    let with_failing = ask(Some(judge), question);
    let without = ask(None, question);
    assert_eq!(with_failing.mode, without.mode);
    assert_eq!(with_failing.text, without.text);
    assert_eq!(with_failing.evidence.and_then(|e| e.judgement), None);
}
