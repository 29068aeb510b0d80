//! The answer pipeline: from a customer's question (and the conversation so far) to a reply that
//! cites the business's documents and states nothing they do not hold.
//!
//! 1. **Retrieve** the best passages; a short follow-up ("and how much is it?") is searched
//!    together with the customer's previous question.
//! 2. **Decide**: abstain when the best passage covers too little of the question (the
//!    thresholds are calibrated on the demo eval sets, see ARCHITECTURE.md); answer a product
//!    question from the product's stored fields (`catalog`); answer a question that closely
//!    matches an FAQ entry with its answer (`faq`); otherwise let the model write the reply from
//!    numbered sources (`generated`) when it writes the customer's language, else quote the
//!    best sentences (`extractive`).
//! 3. **Check** every generated sentence against the sources before it is shown; one
//!    unsupported figure, address or name and the reply falls back to the extractive answer.
//!
//! The pipeline is synchronous and CPU-bound; callers run it off the async runtime.

pub mod catalog;
mod check;
pub mod decision;
mod expect;
mod extract;
mod generated;
pub mod judge;
#[cfg(test)]
mod judge_tests;
pub mod language;
pub mod ordered;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

pub use check::{misattached, unsupported, unsupported_claims, Evidence, FactKind, Unsupported};
pub use decision::{Calibration, JudgeSettings, PassageEvidence};
pub use judge::Judge;

use crate::documents::PassageKind;
use crate::index::{Catalog, Hit, IndexError};
use crate::llm::{ChatModel, LlmError};
use expect::Expected;
use generated::{build_prompt, generate_checked, Asked, Fence, PromptSettings};

#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Llm(#[from] LlmError),
}

/// Which path produced a reply: a matching FAQ entry, catalog fields, the model (fact-checked),
/// sentences taken from the sources, or no answer (a person should reply).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Faq,
    Catalog,
    Generated,
    Extractive,
    Abstained,
    /// The order conversation answered: an order summarized, placed, changed or cancelled.
    Order,
}

impl Mode {
    pub const ALL: [Mode; 6] = [
        Mode::Faq,
        Mode::Catalog,
        Mode::Generated,
        Mode::Extractive,
        Mode::Abstained,
        Mode::Order,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Faq => "faq",
            Mode::Catalog => "catalog",
            Mode::Generated => "generated",
            Mode::Extractive => "extractive",
            Mode::Abstained => "abstained",
            Mode::Order => "order",
        }
    }
}

/// A passage a reply rests on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Source {
    /// The document's name.
    pub document: String,
    /// The passage's ordinal within its document (`document#passage` names it).
    pub passage: u32,
    pub title: String,
    pub snippet: String,
    pub score: f32,
}

/// Milliseconds spent per stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Timings {
    pub retrieve_ms: f64,
    /// The judge reading the strongest passages (0 without one).
    #[serde(default)]
    pub judge_ms: f64,
    pub generate_ms: f64,
    pub total_ms: f64,
}

/// How the model did on a generated reply (also when it was rejected).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GenerationStats {
    pub prompt_tokens: usize,
    /// Tokens generated.
    pub tokens: usize,
    pub tokens_per_second: f64,
    pub sources_used: usize,
    /// Whether the last source in the prompt was shortened to fit the budget.
    pub source_shortened: bool,
    /// The span that failed the fact check, when the reply was replaced by an extractive one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected: Option<String>,
}

/// A reply to a customer's question, with where it came from and how it was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Answer {
    /// The reply to send the customer.
    pub text: String,
    /// The passages the reply rests on.
    pub sources: Vec<Source>,
    pub mode: Mode,
    /// The customer's language (ISO 639-1).
    pub language: String,
    pub timings: Timings,
    /// The model that was asked, when one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The conversation should go to a person (the documents did not hold the answer).
    pub needs_person: bool,
    /// The conversation the exchange was stored in (absent where the caller keeps the
    /// conversation, as the OpenAI endpoint does).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation: Option<GenerationStats>,
    /// What the decision rested on: the evidence of the passage the reply (or the hand-over)
    /// was decided on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<PassageEvidence>,
    /// For a list, filter, sort or comparison answered from the catalog: every product that
    /// matched (up to 100 by name; `matched` stays exact) and which of them the reply shows
    /// ("more" shows the next ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<catalog::CatalogResult>,
    /// With mode `order`: what happened to the order and what the customer can pick next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<ordered::OrderPart>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Customer,
    Assistant,
    /// Someone of the business, writing in the conversation themselves (`POST …/reply`).
    Person,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    pub role: Role,
    pub text: String,
}

/// What a streaming caller sees while a reply is made.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// The model starts writing a reply (seconds on a CPU, where a FAQ or catalog reply takes
    /// milliseconds): a channel can show the customer that an answer is being typed.
    Drafting,
    /// More reply text that has passed the check.
    Text(String),
    /// The text streamed so far is withdrawn; the final answer replaces it.
    Reset,
}

/// The knobs of the pipeline; the defaults are the calibrated ones.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AnswerSettings {
    /// Abstain when the best passage covers less than this share of the question.
    pub abstain_below: f32,
    /// Answer with an FAQ entry's text when it covers at least this share.
    pub faq_above: f32,
    /// Most passages put in a prompt.
    pub max_sources: usize,
    /// Most prompt tokens (sources are dropped, lowest-ranked first, to fit).
    pub prompt_budget: usize,
    pub max_reply_tokens: usize,
    /// Passages retrieved for deciding.
    pub retrieve: usize,
    /// How evidence is weighed when the index has vectors.
    pub calibration: Calibration,
    /// With vectors: answer with an FAQ entry's text when the question is at least this
    /// similar to the entry's own question.
    pub faq_similarity: f32,
    /// With vectors and a judge: which passages it reads and what it must say.
    pub judge: JudgeSettings,
    /// Generated replies copy every figure from their sources while they are decoded.
    pub copy_figures: bool,
}

impl Default for AnswerSettings {
    fn default() -> Self {
        AnswerSettings {
            abstain_below: 0.46,
            faq_above: 0.6,
            max_sources: 2,
            prompt_budget: 512,
            max_reply_tokens: 64,
            retrieve: 5,
            calibration: Calibration::HYBRID,
            faq_similarity: decision::FAQ_SIMILARITY,
            judge: JudgeSettings::default(),
            copy_figures: true,
        }
    }
}

/// Retrieval with evidence for a query: `(query, limit)` → hits, best first.
pub type Search<'a> = dyn FnMut(&str, usize) -> Result<Vec<Hit>, IndexError> + 'a;

/// The business an answer is for.
pub struct BusinessContext<'a> {
    pub name: &'a str,
    /// The documents' language (ISO 639-1, or "plain").
    pub language: &'a str,
    /// Its products, for questions about several of them at once.
    pub catalog: Option<&'a Catalog>,
}

pub struct Answerer {
    model: Option<Arc<ChatModel>>,
    judge: Option<Arc<Judge>>,
    settings: AnswerSettings,
}

/// What the judge said about the strongest passages.
enum Judgement {
    /// No judge, no vectors, or the judge failed: the calibration alone decides.
    NotAsked,
    /// The first passage (in confidence order) the judge says answers.
    Answers(usize),
    /// None of the passages asked about answers.
    NoneAnswers,
}

/// The words of a question that say what it is about (its phrasing left out).
fn content_words(question: &str) -> Vec<String> {
    // Short words are mostly function words of some language ("auf", "und", "les").
    extract::content_words(question, 4)
}

fn source(hit: &Hit) -> Source {
    let snippet: String = hit.text.chars().take(240).collect();
    Source {
        document: hit.document.clone(),
        passage: hit.ordinal,
        title: hit.title.clone(),
        snippet,
        score: hit.score,
    }
}

/// Share of the abstention threshold a passage needs to be preferred for holding the kind of
/// fact the question asks for.
const PROMOTE_COVERAGE: f32 = 0.6;

/// Words that make a question lean on the one before it ("is *it* in stock?").
const REFERRING_WORDS: &[&str] = &[
    "it", "its", "that", "this", "those", "they", "them", "ihn", "dafür", "davon", "isso", "esse",
    "essa", "eso", "ça",
];
/// Words that continue the previous question when they open one ("and on Saturday?").
const CONTINUING_WORDS: &[&str] = &["and", "also", "und", "auch", "e", "y", "et", "en", "ook"];

/// Whether `question` leans on the conversation before it: very short, opened by "and", or
/// referring back to something named before.
fn is_follow_up(question: &str) -> bool {
    let words: Vec<String> = question
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    words.len() <= 3
        || words
            .first()
            .is_some_and(|w| CONTINUING_WORDS.contains(&w.as_str()))
        || words.iter().any(|w| REFERRING_WORDS.contains(&w.as_str()))
}

impl Answerer {
    pub fn new(model: Option<Arc<ChatModel>>, settings: AnswerSettings) -> Answerer {
        Answerer {
            model,
            judge: None,
            settings,
        }
    }

    /// Lets `judge` read the strongest passages before deciding (with vectors only).
    pub fn with_judge(mut self, judge: Option<Arc<Judge>>) -> Answerer {
        self.judge = judge;
        self
    }

    /// Asks the judge about the passages in confidence order, from the strongest, until one
    /// answers: at most `JudgeSettings::candidates`, none below its confidence floor.
    fn judge(&self, query: &str, hits: &[Hit], evidence: &mut [PassageEvidence]) -> Judgement {
        let Some(judge) = &self.judge else {
            return Judgement::NotAsked;
        };
        let settings = self.settings.judge;
        for i in 0..hits.len().min(settings.candidates) {
            if evidence[i].confidence < settings.floor {
                break;
            }
            match judge.judge(query, &hits[i]) {
                Ok(log_odds) => {
                    evidence[i].judgement = Some(log_odds);
                    if log_odds >= settings.threshold {
                        return Judgement::Answers(i);
                    }
                }
                Err(e) => {
                    // A busy or failed judge leaves the decision to the calibration.
                    tracing::warn!(error = %e, "the judge failed; the calibration decides alone");
                    return Judgement::NotAsked;
                }
            }
        }
        Judgement::NoneAnswers
    }

    pub fn settings(&self) -> &AnswerSettings {
        &self.settings
    }

    pub fn model(&self) -> Option<&Arc<ChatModel>> {
        self.model.as_ref()
    }

    /// Answers `question` for `business`; `search` retrieves passages with evidence from the
    /// business's index, `on_event` receives checked reply text as it is made.
    pub fn answer(
        &self,
        question: &str,
        history: &[Turn],
        business: &BusinessContext,
        search: &mut Search<'_>,
        on_event: &mut dyn FnMut(StreamEvent),
    ) -> Result<Answer, AnswerError> {
        let started = Instant::now();
        let previous = history
            .iter()
            .rev()
            .find(|t| t.role == Role::Customer)
            .map(|t| t.text.as_str());
        let query = match previous {
            Some(previous) if is_follow_up(question) => format!("{previous} {question}"),
            _ => question.to_string(),
        };
        let mut hits = search(&query, self.settings.retrieve)?;
        // Calibrated only where every passage has its similarities (not while an index is still
        // being embedded): the weighing falls back to coverage otherwise, and so must the bar.
        let dense = !hits.is_empty() && hits.iter().all(|h| h.similarity.is_some());
        // The customer's language, known before deciding: a question in another language
        // than the documents' shares few words with them by nature.
        let language = language::detect(question, business.language);
        let foreign = language != business.language;
        let mut evidence = decision::weigh(&hits, foreign, &self.settings.calibration);
        // The decision rests on the passage with the strongest evidence: with vectors the
        // calibrated confidence, else the coverage; among passages about as strong, the
        // retrieval's order stands.
        let threshold = if dense {
            self.settings.calibration.threshold
        } else {
            self.settings.abstain_below
        };
        let mut order: Vec<usize> = (0..hits.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse((evidence[i].confidence * 20.0).round() as u32));
        reorder(&mut hits, &mut evidence, &order);
        let retrieve_ms = ms(started);
        // A follow-up ("and is it in stock?") is read with the question before it, as it was
        // searched; "more" alone continues a list.
        let catalog_question = if catalog::query::parse(question).more {
            question
        } else {
            query.as_str()
        };
        if let Some(answer) = catalog_answer(catalog_question, history, business, &hits, &language)
        {
            let mut answer = answer;
            answer.timings.retrieve_ms = retrieve_ms;
            answer.timings.total_ms = ms(started);
            return Ok(answer);
        }
        let judge_started = Instant::now();
        let judgement = if dense {
            self.judge(&query, &hits, &mut evidence)
        } else {
            Judgement::NotAsked
        };
        let judge_ms = ms(judge_started);
        if let Judgement::Answers(i) = judgement {
            promote(&mut hits, &mut evidence, i);
        }
        // Whether the documents answer at all is judged on the strongest passage (the one the
        // judge chose, where it was asked); the passage promoted below for holding the
        // asked-for fact then gives the reply.
        let decided_on = evidence.first().copied();
        let calibrated = matches!(judgement, Judgement::NotAsked);
        // (Without a judge's word, the rules below pick among the calibrated passages.)
        // A question that wants a phone number, a price or a time is answered by a passage
        // that holds one, among those that cover the question well enough to answer at all.
        let expected = expect::expected(question);
        let asked = content_words(question);
        if let Some(kind) = expected.filter(|_| calibrated) {
            // The passage holding the fact may name less of the question ("Find us: … Email:
            // hello@…" for "email address?"), so it needs only part of the usual strength.
            let candidate = |i: usize| evidence[i].confidence >= threshold * PROMOTE_COVERAGE;
            // Best the passage with the fact beside most of what was asked about (a product:
            // its name says what it is, its fields are the facts), else any holding one.
            let nearness = |h: &Hit| match h.kind {
                PassageKind::Product if expect::holds(&h.text, kind) => {
                    expect::mentioned(&h.title, &asked)
                }
                PassageKind::Product => 0,
                _ => expect::nearness(&h.text, kind, &asked),
            };
            let nearest = hits
                .iter()
                .enumerate()
                .filter(|(i, _)| candidate(*i))
                .map(|(i, h)| (nearness(h), i))
                .filter(|&(score, _)| score > 0)
                .max_by_key(|&(score, i)| (score, std::cmp::Reverse(i)))
                .map(|(_, i)| i);
            let anywhere = |h: &Hit| expect::holds(&format!("{} {}", h.title, h.text), kind);
            let chosen = nearest.or_else(|| {
                hits.iter()
                    .enumerate()
                    .position(|(i, h)| candidate(i) && anywhere(h))
            });
            if let Some(i) = chosen {
                promote(&mut hits, &mut evidence, i);
            }
        }
        let mut strength = match judgement {
            Judgement::NotAsked => decided_on.map_or(0.0, |e| e.confidence),
            Judgement::Answers(_) => f32::INFINITY,
            Judgement::NoneAnswers => 0.0,
        };
        if tracing::enabled!(tracing::Level::DEBUG) {
            for hit in hits.iter().take(3) {
                tracing::debug!(
                    question,
                    query,
                    title = hit.title,
                    kind = ?hit.kind,
                    score = hit.score,
                    coverage = hit.coverage.unwrap_or(0.0),
                    "retrieved"
                );
            }
        }
        let mut answer = Answer {
            text: String::new(),
            sources: Vec::new(),
            mode: Mode::Abstained,
            language: language.clone(),
            timings: Timings {
                retrieve_ms,
                judge_ms,
                ..Timings::default()
            },
            model: None,
            needs_person: false,
            conversation_id: None,
            generation: None,
            evidence: None,
            catalog: None,
            order: None,
        };
        // "Do you sell X?" is answered by an FAQ entry that asks about X or a product that is
        // an X (its name or category says so), not by a page or an answer that happens to
        // mention X ("Kopenhagen mit dem Fahrrad" is no answer to "verkauft ihr Fahrräder?").
        if calibrated && extract::asks_what_is_sold(question) {
            let sells = |h: &Hit| match h.kind {
                PassageKind::Faq | PassageKind::Product => extract::names_it(question, h),
                PassageKind::Page => false,
            };
            match hits
                .iter()
                .enumerate()
                .position(|(i, h)| sells(h) && evidence[i].confidence >= threshold)
            {
                Some(i) => promote(&mut hits, &mut evidence, i),
                None => strength = 0.0,
            }
        }
        answer.evidence = decided_on;
        let top_coverage = hits.first().and_then(|h| h.coverage).unwrap_or(0.0);
        let Some(top) = hits.first().filter(|_| strength >= threshold) else {
            answer.text = language::abstention(&language).to_string();
            answer.needs_person = true;
            answer.timings.total_ms = ms(started);
            return Ok(answer);
        };
        if let (PassageKind::Product, Some(product)) = (top.kind, &top.product) {
            let intent = extract::product_intent(&query, product);
            if intent.any() {
                answer.text = extract::catalog_reply(product, &top.title, &intent, &language);
                answer.mode = Mode::Catalog;
                answer.sources = vec![source(top)];
                answer.timings.total_ms = ms(started);
                return Ok(answer);
            }
        }
        let faq_match = match top.question_similarity {
            Some(similarity) => similarity >= self.settings.faq_similarity,
            None => top_coverage >= self.settings.faq_above,
        };
        if top.kind == PassageKind::Faq && faq_match {
            answer.text = extract::faq_reply(top);
            answer.mode = Mode::Faq;
            answer.sources = vec![source(top)];
            answer.timings.total_ms = ms(started);
            return Ok(answer);
        }
        let model = self.model.as_ref().filter(|m| m.writes(&language));
        if let Some(model) = model {
            let generate_started = Instant::now();
            let settings = PromptSettings {
                business: business.name,
                max_sources: self.settings.max_sources,
                prompt_budget: self.settings.prompt_budget,
                max_reply_tokens: self.settings.max_reply_tokens,
                language: &language,
            };
            // A prompt that cannot fit even with one shortened source is no reason to fail the
            // customer: the documents' own words still answer.
            let built = match build_prompt(model, &settings, question, &hits) {
                Ok(built) => Some(built),
                Err(LlmError::ContextFull { needed, capacity }) => {
                    tracing::warn!(
                        needed,
                        capacity,
                        "the prompt does not fit; answering extractively"
                    );
                    None
                }
                Err(e) => return Err(e.into()),
            };
            if let Some((prompt, used, shortened)) = built {
                let used_hits = &hits[..used];
                let evidence = Evidence::of_hits(used_hits);
                let mut streamed = false;
                let mut forward = |e: StreamEvent| {
                    streamed |= matches!(e, StreamEvent::Text(_));
                    on_event(e)
                };
                let generation = generate_checked(
                    model,
                    prompt,
                    self.settings.max_reply_tokens,
                    &evidence,
                    &Asked {
                        content: &asked,
                        wanted: expected.filter(|&kind| {
                            // "When"/"where" ask for years, durations and directions as
                            // often as for a clock time or a street address: too coarse
                            // a kind to withdraw a draft for.
                            matches!(kind, Expected::Phone | Expected::Email | Expected::Price)
                                && used_hits.iter().any(|h| expect::holds(&h.text, kind))
                        }),
                        allowed: &[business.name],
                    },
                    &Fence {
                        sources: used,
                        copy_figures: self.settings.copy_figures,
                    },
                    &mut forward,
                )?;
                answer.model = Some(model.name.clone());
                answer.timings.generate_ms = ms(generate_started);
                answer.generation = Some(GenerationStats {
                    prompt_tokens: generation.prompt_tokens,
                    tokens: generation.tokens,
                    tokens_per_second: generation.tokens_per_second,
                    sources_used: used,
                    source_shortened: shortened,
                    rejected: generation.rejected.as_ref().map(|r| r.span.clone()),
                });
                if generation.rejected.is_none() && !generation.text.is_empty() {
                    answer.text = generation.text;
                    answer.mode = Mode::Generated;
                    answer.sources = used_hits.iter().map(source).collect();
                    answer.timings.total_ms = ms(started);
                    return Ok(answer);
                }
                if streamed {
                    on_event(StreamEvent::Reset);
                }
            }
        }
        answer.text =
            extract::extractive_reply(&query, &hits, &language, expected).unwrap_or_default();
        answer.mode = Mode::Extractive;
        answer.sources = extract::section_of(&hits).into_iter().map(source).collect();
        answer.timings.total_ms = ms(started);
        Ok(answer)
    }
}

/// A list, filter, sort or comparison answered from the catalog's fields, when the question
/// is one (see `catalog::plan`).
fn catalog_answer(
    question: &str,
    history: &[Turn],
    business: &BusinessContext,
    hits: &[Hit],
    language: &str,
) -> Option<Answer> {
    let catalog = business.catalog?;
    let retrieval = catalog::RetrievalView {
        product_near_top: hits.iter().take(3).any(|h| h.kind == PassageKind::Product),
        ranked: hits
            .iter()
            .filter(|h| h.kind == PassageKind::Product)
            .map(|h| (h.document.clone(), h.ordinal))
            .collect(),
    };
    let listing = catalog::plan(question, history, catalog, &retrieval)?;
    let text = catalog::render(&listing, catalog, language);
    let sources = listing
        .shown()
        .into_iter()
        .map(|i| {
            let e = &catalog.entries()[i as usize];
            Source {
                document: e.document.clone(),
                passage: e.ordinal,
                title: e.title.clone(),
                snippet: e.fields.name.clone().unwrap_or_else(|| e.title.clone()),
                score: 1.0,
            }
        })
        .collect();
    Some(Answer {
        text,
        sources,
        mode: Mode::Catalog,
        language: language.to_string(),
        timings: Timings::default(),
        model: None,
        needs_person: false,
        conversation_id: None,
        generation: None,
        evidence: None,
        catalog: Some(listing.result(catalog)),
        order: None,
    })
}

/// Puts hits (and their evidence) in the order `order` gives by index.
fn reorder(hits: &mut Vec<Hit>, evidence: &mut Vec<PassageEvidence>, order: &[usize]) {
    let mut taken: Vec<Option<(Hit, PassageEvidence)>> =
        hits.drain(..).zip(evidence.drain(..)).map(Some).collect();
    for &i in order {
        if let Some((hit, e)) = taken[i].take() {
            hits.push(hit);
            evidence.push(e);
        }
    }
}

/// Moves hit `i` (and its evidence) to the front.
fn promote(hits: &mut Vec<Hit>, evidence: &mut Vec<PassageEvidence>, i: usize) {
    let hit = hits.remove(i);
    hits.insert(0, hit);
    let e = evidence.remove(i);
    evidence.insert(0, e);
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}
